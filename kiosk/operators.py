"""Operators, their PINs and their sessions.

PINs are stored as argon2id hashes. Repeated wrong PINs lock the account for a while (a
kiosk in a village hall is within reach of anyone); a session idle for longer than the
configured time ends, so a kiosk left alone is not left logged in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

import argon2

from kiosk import audit
from kiosk.errors import AuthError, Conflict, Forbidden, InvalidInput
from kiosk.store import Store, now

ROLES = ("operator", "supervisor", "technician")
DEMO_ID, DEMO_PIN = "demo", "123456"
_ID_RE = re.compile(r"^[A-Za-z0-9._-]{2,32}$")
_PIN_RE = re.compile(r"^[0-9]{6,12}$")
_hasher = argon2.PasswordHasher()


@dataclass(frozen=True)
class Operator:
    id: str
    role: str
    demo: bool = False

    def can(self, role: str) -> bool:
        """Supervisors may do what operators do; technicians only technical work."""
        if role == "operator":
            return self.role in ("operator", "supervisor")
        return self.role == role


@dataclass(frozen=True)
class Policy:
    lockout_attempts: int = 5
    lockout_seconds: int = 300
    idle_logout_seconds: int = 600


def _token_hash(token: str) -> str:
    # Only the hash is stored: a copied database does not hand out live sessions.
    return hashlib.sha256(token.encode()).hexdigest()


def _wrong_pin() -> AuthError:
    return AuthError("wrong_pin", "ID petugas atau PIN salah.", "Wrong operator id or PIN.")


class Operators:
    def __init__(self, store: Store, policy: Policy = Policy(), *, allow_demo: bool = False):
        self.store = store
        self.policy = policy
        self.allow_demo = allow_demo

    def add(self, operator_id: str, role: str, pin: str, *, actor: str = "cli", demo: bool = False) -> Operator:
        if not _ID_RE.match(operator_id or ""):
            raise InvalidInput("bad_operator_id",
                               "ID petugas 2-32 huruf, angka, titik, garis bawah atau tanda hubung.",
                               "An operator id is 2-32 letters, digits, dots, underscores or dashes.")
        if role not in ROLES:
            raise InvalidInput("bad_role", f"Peran harus salah satu dari: {', '.join(ROLES)}.",
                               f"Role must be one of: {', '.join(ROLES)}.")
        if not _PIN_RE.match(pin or ""):
            raise InvalidInput("bad_pin", "PIN harus 6 sampai 12 angka.", "A PIN is 6 to 12 digits.")
        with self.store.transaction() as conn:
            if conn.execute("SELECT 1 FROM operators WHERE id = ?", (operator_id,)).fetchone():
                raise Conflict("operator_exists", f"Petugas {operator_id} sudah ada.",
                               f"Operator {operator_id} already exists.")
            conn.execute("INSERT INTO operators(id, role, pin_hash, demo, created_at) VALUES (?, ?, ?, ?, ?)",
                         (operator_id, role, _hasher.hash(pin), int(demo), now()))
            audit.record(conn, actor, "operator.add", operator_id, role=role)
        return Operator(operator_id, role, demo)

    def ensure_demo(self) -> None:
        """The training supervisor of simulated mode (DESIGN §4); refused at login on real hardware."""
        if not self.store.one("SELECT 1 FROM operators WHERE id = ?", (DEMO_ID,)):
            self.add(DEMO_ID, "supervisor", DEMO_PIN, actor="system", demo=True)

    def get(self, operator_id: str) -> Operator | None:
        row = self.store.one("SELECT id, role, demo FROM operators WHERE id = ? AND disabled = 0", (operator_id,))
        return Operator(row["id"], row["role"], bool(row["demo"])) if row else None

    def verify_pin(self, operator_id: str, pin: str) -> Operator:
        """Check a PIN, counting failures; raises AuthError (wrong PIN or locked out)."""
        t = now()
        row = self.store.one("SELECT * FROM operators WHERE id = ?", (str(operator_id),))
        if row is None or row["disabled"] or (row["demo"] and not self.allow_demo):
            raise _wrong_pin()
        if row["locked_until"] > t:
            wait = int(row["locked_until"] - t) + 1
            raise AuthError("locked_out",
                            f"Terlalu banyak PIN salah. Akun dikunci; coba lagi dalam {wait} detik atau hubungi supervisor.",
                            f"Too many wrong PINs. The account is locked; try again in {wait} s or ask a supervisor.",
                            retry_after=wait)
        try:
            _hasher.verify(row["pin_hash"], str(pin))
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            with self.store.transaction() as conn:
                failed = row["failed_attempts"] + 1
                locked = t + self.policy.lockout_seconds if failed >= self.policy.lockout_attempts else 0
                conn.execute("UPDATE operators SET failed_attempts = ?, locked_until = ? WHERE id = ?",
                             (0 if locked else failed, locked, operator_id))
                audit.record(conn, operator_id, "auth.fail", operator_id, locked=bool(locked))
            if locked:
                raise AuthError("locked_out",
                                f"Terlalu banyak PIN salah. Akun dikunci {self.policy.lockout_seconds // 60} menit.",
                                f"Too many wrong PINs. The account is locked for {self.policy.lockout_seconds // 60} minutes.",
                                retry_after=self.policy.lockout_seconds)
            raise _wrong_pin() from None
        if row["failed_attempts"]:
            with self.store.transaction() as conn:
                conn.execute("UPDATE operators SET failed_attempts = 0 WHERE id = ?", (operator_id,))
        return Operator(row["id"], row["role"], bool(row["demo"]))

    def login(self, operator_id: str, pin: str) -> tuple[str, Operator]:
        op = self.verify_pin(operator_id, pin)
        token = secrets.token_urlsafe(32)
        t = now()
        with self.store.transaction() as conn:
            conn.execute("INSERT INTO sessions(token_hash, operator_id, created_at, last_seen) VALUES (?, ?, ?, ?)",
                         (_token_hash(token), op.id, t, t))
            audit.record(conn, op.id, "auth.login", op.id)
        return token, op

    def session(self, token: str | None, *, touch: bool = True) -> Operator:
        """The operator behind a token; touching it keeps it alive. Raises AuthError if none.

        Polls that are not the operator's own doing (status bar, camera preview) pass
        ``touch=False`` so that a screen left alone still logs out when idle.
        """
        if not token:
            raise AuthError("unauthenticated", "Silakan masuk dahulu.", "Please log in first.")
        t = now()
        row = self.store.one("SELECT s.operator_id, s.last_seen, o.role, o.demo, o.disabled FROM sessions s "
                             "JOIN operators o ON o.id = s.operator_id WHERE s.token_hash = ?", (_token_hash(token),))
        if row is None or row["disabled"]:
            raise AuthError("unauthenticated", "Silakan masuk dahulu.", "Please log in first.")
        if t - row["last_seen"] > self.policy.idle_logout_seconds:
            self.logout(token, reason="idle")
            raise AuthError("session_expired", "Sesi berakhir karena tidak ada aktivitas. Silakan masuk lagi.",
                            "The session ended after inactivity. Please log in again.")
        # Touch at most every few seconds: a write per request would wear the SD card.
        if touch and t - row["last_seen"] > 5:
            with self.store.transaction() as conn:
                conn.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (t, _token_hash(token)))
        return Operator(row["operator_id"], row["role"], bool(row["demo"]))

    def logout(self, token: str | None, *, reason: str = "user") -> None:
        if not token:
            return
        with self.store.transaction() as conn:
            row = conn.execute("SELECT operator_id FROM sessions WHERE token_hash = ?", (_token_hash(token),)).fetchone()
            conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))
            if row:
                audit.record(conn, row["operator_id"], "auth.logout", row["operator_id"], reason=reason)

    def require(self, operator: Operator, role: str) -> None:
        if not operator.can(role):
            raise Forbidden("forbidden", f"Hanya {role} yang boleh melakukan ini.", f"Only a {role} may do this.")
