"""The centre's storage: one small interface, a SQLite and a PostgreSQL implementation.

Both run the same SQL (written with ``?`` placeholders, translated for psycopg), so the contract
tests exercise the same statements against both. Rows come back as plain dicts.

Status events carry a per-kiosk sequence number taken from the kiosk's row under a row lock in
the same transaction as the event, so a kiosk reading its feed never sees event N+1 committed
before event N (a global serial would allow that under concurrent PostgreSQL writers, and a
kiosk that advanced its cursor past a late-committing event would miss it for ever).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS kiosks (
    kiosk_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    added_at {real} NOT NULL,
    last_seq BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS packets (
    packet_id TEXT PRIMARY KEY,
    kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
    sha256 TEXT NOT NULL,
    body {blob} NOT NULL,
    received_at {real} NOT NULL,
    registration_id TEXT NOT NULL,
    nik TEXT NOT NULL,
    village TEXT NOT NULL DEFAULT '',
    simulated INTEGER NOT NULL DEFAULT 0,
    record TEXT NOT NULL,
    status TEXT NOT NULL,
    status_detail TEXT
);
CREATE INDEX IF NOT EXISTS packets_nik ON packets(nik);
CREATE INDEX IF NOT EXISTS packets_status ON packets(status);
CREATE TABLE IF NOT EXISTS status_events (
    kiosk_id TEXT NOT NULL REFERENCES kiosks(kiosk_id),
    seq BIGINT NOT NULL,
    packet_id TEXT NOT NULL REFERENCES packets(packet_id),
    status TEXT NOT NULL,
    detail TEXT,
    at {real} NOT NULL,
    PRIMARY KEY (kiosk_id, seq)
);
CREATE TABLE IF NOT EXISTS villages (
    village TEXT PRIMARY KEY,
    eligible INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS enrolment_codes (
    code_hash TEXT PRIMARY KEY,
    kiosk_id TEXT NOT NULL,
    created_at {real} NOT NULL,
    expires_at {real} NOT NULL,
    used_at {real},
    used_key TEXT
);
CREATE INDEX IF NOT EXISTS enrolment_codes_kiosk ON enrolment_codes(kiosk_id);
CREATE TABLE IF NOT EXISTS register_failures (
    kiosk_id TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until {real}
);
"""

STATUSES = ("received", "PRR", "DUPLICATE", "ADJUDICATE", "FAILED")

# --- one-time enrolment codes (`central kiosk invite`, POST /kiosks/<id>/register) -------------
KIOSK_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
# No 0/O, 1/I/L: read aloud over a phone or copied from paper, nothing can be mistaken for another.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_GROUPS, CODE_GROUP_LEN = 4, 4  # 16 of 31 symbols: 79 bits, far beyond 5 guesses per 15 minutes
MAX_CODE_FAILURES = 5
LOCK_SECONDS = 15 * 60
DEFAULT_INVITE_TTL_HOURS = 72.0


def valid_kiosk_id(kiosk_id: str) -> bool:
    """The id travels in URL paths and signed request lines: only characters that need no quoting."""
    return isinstance(kiosk_id, str) and KIOSK_ID_RE.fullmatch(kiosk_id) is not None


def new_enrolment_code() -> str:
    """A random code such as ``7KQM-3XWD-PR9T-HB4N``."""
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUPS * CODE_GROUP_LEN))
    return "-".join(chars[i:i + CODE_GROUP_LEN] for i in range(0, len(chars), CODE_GROUP_LEN))


def normalize_code(code: str) -> str:
    """What was typed, without spaces and dashes, in capitals."""
    return re.sub(r"[\s-]+", "", str(code)).upper()


def code_hash(kiosk_id: str, code: str) -> str:
    """Only this is stored: the code itself is shown once and never kept, logged or returned."""
    return hashlib.sha256(f"ektp-enrolment-v1\n{kiosk_id}\n{normalize_code(code)}".encode("utf-8")).hexdigest()


_PACKET_COLS = ("packet_id, kiosk_id, sha256, received_at, registration_id, nik, village, simulated, "
                "record, status, status_detail")


class Store:
    """Methods every backend offers; subclasses supply connections and dialect."""

    dialect = "?"
    _real, _blob = "REAL", "BLOB"

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    # --- plumbing (per backend) ---------------------------------------------------------------
    def _connect(self):
        raise NotImplementedError

    @contextlib.contextmanager
    def _tx(self, write: bool) -> Iterator["_Cursor"]:
        raise NotImplementedError

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(Exception):
                    conn.close()
            self._all.clear()
        self._local = threading.local()

    def migrate(self) -> None:
        with self._tx(write=True) as cur:
            for statement in SCHEMA.format(real=self._real, blob=self._blob).split(";"):
                if statement.strip():
                    cur.execute(statement)

    # --- kiosks ---------------------------------------------------------------------------------
    def add_kiosk(self, kiosk_id: str, public_key_pem: str) -> bool:
        """Register (or re-key) a kiosk; True when it was new."""
        with self._tx(write=True) as cur:
            known = cur.one("SELECT kiosk_id FROM kiosks WHERE kiosk_id = ?", (kiosk_id,))
            if known:
                cur.execute("UPDATE kiosks SET public_key = ? WHERE kiosk_id = ?", (public_key_pem, kiosk_id))
            else:
                cur.execute("INSERT INTO kiosks(kiosk_id, public_key, added_at) VALUES (?, ?, ?)",
                            (kiosk_id, public_key_pem, time.time()))
            return known is None

    def kiosk_key(self, kiosk_id: str) -> str | None:
        with self._tx(write=False) as cur:
            row = cur.one("SELECT public_key FROM kiosks WHERE kiosk_id = ?", (kiosk_id,))
        return row["public_key"] if row else None

    def kiosks(self) -> list[dict]:
        with self._tx(write=False) as cur:
            return cur.all("SELECT k.kiosk_id, k.added_at, COUNT(p.packet_id) AS packets FROM kiosks k "
                           "LEFT JOIN packets p ON p.kiosk_id = k.kiosk_id GROUP BY k.kiosk_id, k.added_at "
                           "ORDER BY k.kiosk_id")

    # --- enrolment codes -----------------------------------------------------------------------------
    def invite_kiosk(self, kiosk_id: str, *, ttl_hours: float = DEFAULT_INVITE_TTL_HOURS,
                     expires_at: float | None = None, now: float | None = None) -> tuple[str, float]:
        """A new one-time code for ``kiosk_id``; returns (code, expires_at). Only its hash is stored.

        A new invitation replaces the kiosk's unused codes and lifts a lock left by wrong codes
        (the technician who issues it is talking to the person at the kiosk).
        """
        if not valid_kiosk_id(kiosk_id):
            raise ValueError("a kiosk id is 1-64 letters, digits, '.', '_' or '-'")
        now = time.time() if now is None else now
        expires_at = now + float(ttl_hours) * 3600.0 if expires_at is None else float(expires_at)
        code = new_enrolment_code()
        with self._tx(write=True) as cur:
            self._lock_name(cur, f"register:{kiosk_id}")
            cur.execute("DELETE FROM enrolment_codes WHERE kiosk_id = ? AND used_at IS NULL", (kiosk_id,))
            cur.execute("INSERT INTO enrolment_codes(code_hash, kiosk_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                        (code_hash(kiosk_id, code), kiosk_id, now, expires_at))
            cur.execute("DELETE FROM register_failures WHERE kiosk_id = ?", (kiosk_id,))
        return code, expires_at

    def register_kiosk(self, kiosk_id: str, code: str, public_key_pem: str, *, now: float | None = None,
                       max_failures: int = MAX_CODE_FAILURES, lock_seconds: float = LOCK_SECONDS) -> dict:
        """Register ``public_key_pem`` for ``kiosk_id`` with a one-time code, in one transaction.

        ``public_key_pem`` must already be checked and in canonical form (``keys.public_pem``).
        Returns ``{"outcome": ...}``:
          ``registered`` (code consumed, key stored; ``new`` says if the kiosk was unknown before),
          ``already`` (the code was used for this very key, which is still the kiosk's: a retry),
          ``bad_code`` (unknown, wrong, expired or used: which is not said; counted), or
          ``locked`` (too many wrong codes; ``retry_after`` seconds). Nothing changes but the count.
        """
        now = time.time() if now is None else now
        with self._tx(write=True) as cur:
            self._lock_name(cur, f"register:{kiosk_id}")
            row = cur.one("SELECT kiosk_id, expires_at, used_at, used_key FROM enrolment_codes WHERE code_hash = ?",
                          (code_hash(kiosk_id, code),))
            if row is not None and row["kiosk_id"] != kiosk_id:  # a hash collision across ids: never
                row = None
            current = cur.one("SELECT public_key FROM kiosks WHERE kiosk_id = ?", (kiosk_id,))
            current_key = current["public_key"] if current else None
            # A kiosk whose answer was lost retries with the same code and key: it must not be stuck,
            # and confirming a code that can no longer be used gives a guesser nothing.
            if row is not None and row["used_at"] is not None and row["used_key"] == public_key_pem \
                    and current_key == public_key_pem:
                return {"outcome": "already", "registered_at": row["used_at"]}
            fails = cur.one("SELECT failures, locked_until FROM register_failures WHERE kiosk_id = ?", (kiosk_id,))
            if fails and fails["locked_until"] and fails["locked_until"] > now:
                return {"outcome": "locked", "retry_after": max(1, int(fails["locked_until"] - now + 0.999))}
            if row is None or row["used_at"] is not None or row["expires_at"] <= now:
                failures = (fails["failures"] if fails and not fails["locked_until"] else 0) + 1
                locked_until = now + lock_seconds if failures >= max_failures else None
                cur.execute("DELETE FROM register_failures WHERE kiosk_id = ?", (kiosk_id,))
                cur.execute("INSERT INTO register_failures(kiosk_id, failures, locked_until) VALUES (?, ?, ?)",
                            (kiosk_id, failures, locked_until))
                return {"outcome": "bad_code", "failures": failures, "locked": locked_until is not None}
            cur.execute("UPDATE enrolment_codes SET used_at = ?, used_key = ? WHERE code_hash = ?",
                        (now, public_key_pem, code_hash(kiosk_id, code)))
            cur.execute("DELETE FROM register_failures WHERE kiosk_id = ?", (kiosk_id,))
            if current is None:
                cur.execute("INSERT INTO kiosks(kiosk_id, public_key, added_at) VALUES (?, ?, ?)",
                            (kiosk_id, public_key_pem, now))
            else:
                cur.execute("UPDATE kiosks SET public_key = ? WHERE kiosk_id = ?", (public_key_pem, kiosk_id))
            return {"outcome": "registered", "registered_at": now, "new": current is None,
                    "rekeyed": current_key is not None and current_key != public_key_pem}

    def enrolment_codes(self, kiosk_id: str | None = None) -> list[dict]:
        """The stored rows (hashes, never codes), for `central kiosk list` and tests."""
        where, args = ("WHERE kiosk_id = ?", (kiosk_id,)) if kiosk_id else ("", ())
        with self._tx(write=False) as cur:
            return cur.all(f"SELECT code_hash, kiosk_id, created_at, expires_at, used_at FROM enrolment_codes {where} "
                           "ORDER BY created_at", args)

    # --- packets --------------------------------------------------------------------------------
    def get_packet(self, packet_id: str, *, body: bool = False) -> dict | None:
        cols = _PACKET_COLS + (", body" if body else "")
        with self._tx(write=False) as cur:
            row = cur.one(f"SELECT {cols} FROM packets WHERE packet_id = ?", (packet_id,))
        return _packet(row)

    def insert_packet(self, *, packet_id: str, kiosk_id: str, sha256: str, body: bytes, registration_id: str,
                      nik: str, village: str, simulated: bool, record: dict) -> tuple[bool, dict]:
        """Store a verified packet once. Returns (inserted, row); a second insert of the id returns the first row."""
        with self._tx(write=True) as cur:
            existing = cur.one(f"SELECT {_PACKET_COLS} FROM packets WHERE packet_id = ?", (packet_id,))
            if existing:
                return False, _packet(existing)
            t = time.time()
            cur.execute(f"INSERT INTO packets({_PACKET_COLS}, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (packet_id, kiosk_id, sha256, t, registration_id, nik, village, int(simulated),
                         json.dumps(record, sort_keys=True), "received", None, bytes(body)))
            self._event(cur, kiosk_id, packet_id, "received", None, t)
            return True, _packet(cur.one(f"SELECT {_PACKET_COLS} FROM packets WHERE packet_id = ?", (packet_id,)))

    def packets(self, *, status: str | None = None, limit: int = 1000) -> list[dict]:
        where, args = ("WHERE status = ?", (status,)) if status else ("", ())
        with self._tx(write=False) as cur:
            rows = cur.all(f"SELECT {_PACKET_COLS} FROM packets {where} ORDER BY received_at, packet_id LIMIT ?",
                           (*args, limit))
        return [_packet(r) for r in rows]

    def decide(self, packet_id: str, decide: Callable[[dict, list[dict]], tuple[str, dict | None]]) -> dict:
        """Assign a status to a ``received`` packet from the packets already held with the same NIK.

        ``decide(packet, others)`` runs inside one write transaction that holds a per-NIK lock, so two
        packets of one resident arriving together cannot both become PRR.
        """
        with self._tx(write=True) as cur:
            self._lock_nik(cur, packet_id)
            row = _packet(cur.one(f"SELECT {_PACKET_COLS} FROM packets WHERE packet_id = ?", (packet_id,)))
            if row is None or row["status"] != "received":
                return row
            others = [_packet(r) for r in cur.all(
                f"SELECT {_PACKET_COLS} FROM packets WHERE nik = ? AND packet_id != ? AND status != 'received' "
                "ORDER BY received_at", (row["nik"], packet_id))]
            status, detail = decide(row, others)
            if status not in STATUSES:
                raise ValueError(f"unknown status {status!r}")
            cur.execute("UPDATE packets SET status = ?, status_detail = ? WHERE packet_id = ?",
                        (status, json.dumps(detail) if detail else None, packet_id))
            self._event(cur, row["kiosk_id"], packet_id, status, detail, time.time())
            row.update(status=status, status_detail=detail)
            return row

    def set_status(self, packet_id: str, status: str, detail: dict | None = None) -> None:
        """A decision made later, e.g. by a person adjudicating."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self._tx(write=True) as cur:
            row = cur.one("SELECT kiosk_id FROM packets WHERE packet_id = ?", (packet_id,))
            if row is None:
                raise KeyError(packet_id)
            cur.execute("UPDATE packets SET status = ?, status_detail = ? WHERE packet_id = ?",
                        (status, json.dumps(detail) if detail else None, packet_id))
            self._event(cur, row["kiosk_id"], packet_id, status, detail, time.time())

    def _lock_nik(self, cur, packet_id: str) -> None:
        """SQLite's write transaction already excludes every other writer."""

    def _lock_name(self, cur, name: str) -> None:
        """Serialise the transactions that name ``name``; SQLite's write transaction already does."""

    def _event(self, cur, kiosk_id: str, packet_id: str, status: str, detail: dict | None, at: float) -> None:
        # The UPDATE takes the kiosk row's lock until commit: sequence numbers commit in order.
        cur.execute("UPDATE kiosks SET last_seq = last_seq + 1 WHERE kiosk_id = ?", (kiosk_id,))
        seq = cur.one("SELECT last_seq FROM kiosks WHERE kiosk_id = ?", (kiosk_id,))["last_seq"]
        cur.execute("INSERT INTO status_events(kiosk_id, seq, packet_id, status, detail, at) VALUES (?, ?, ?, ?, ?, ?)",
                    (kiosk_id, seq, packet_id, status, json.dumps(detail) if detail else None, at))

    # --- feeds and views ----------------------------------------------------------------------------
    def status_changes(self, kiosk_id: str, since: int, limit: int = 500) -> tuple[list[dict], int]:
        with self._tx(write=False) as cur:
            rows = cur.all("SELECT e.seq, e.packet_id, p.registration_id, e.status, e.detail, e.at "
                           "FROM status_events e JOIN packets p ON p.packet_id = e.packet_id "
                           "WHERE e.kiosk_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?", (kiosk_id, since, limit))
        changes = [{"seq": r["seq"], "packet_id": r["packet_id"], "registration_id": r["registration_id"],
                    "status": r["status"], "at": r["at"], **(json.loads(r["detail"]) if r["detail"] else {})}
                   for r in rows]
        return changes, (rows[-1]["seq"] if rows else since)

    def set_eligible(self, village: str, eligible: int) -> None:
        with self._tx(write=True) as cur:
            cur.execute("DELETE FROM villages WHERE village = ?", (village,))
            cur.execute("INSERT INTO villages(village, eligible) VALUES (?, ?)", (village, int(eligible)))

    def progress(self) -> list[dict]:
        """Per village: residents recorded (distinct NIK, training records apart) vs eligible."""
        with self._tx(write=False) as cur:
            counted = cur.all(
                "SELECT village, COUNT(DISTINCT nik) AS recorded, "
                "COUNT(DISTINCT CASE WHEN status = 'PRR' THEN nik END) AS prr, "
                "COUNT(*) AS packets FROM packets WHERE simulated = 0 AND status != 'FAILED' GROUP BY village")
            training = {r["village"]: r["n"] for r in cur.all(
                "SELECT village, COUNT(*) AS n FROM packets WHERE simulated != 0 GROUP BY village")}
            eligible = {r["village"]: r["eligible"] for r in cur.all("SELECT village, eligible FROM villages")}
        out = {}
        for r in counted:
            out[r["village"]] = {"village": r["village"], "recorded": r["recorded"], "prr": r["prr"],
                                 "packets": r["packets"]}
        for village in set(eligible) | set(training):
            out.setdefault(village, {"village": village, "recorded": 0, "prr": 0, "packets": 0})
        for v in out.values():
            e = eligible.get(v["village"])
            v["eligible"] = e
            v["percent"] = round(100.0 * v["recorded"] / e, 1) if e else None
            v["training_records"] = training.get(v["village"], 0)
        return sorted(out.values(), key=lambda v: v["village"])


def _packet(row: dict | None) -> dict | None:
    if row is None:
        return None
    row = dict(row)
    row["simulated"] = bool(row["simulated"])
    if isinstance(row.get("record"), str):
        row["record"] = json.loads(row["record"])
    if isinstance(row.get("status_detail"), str):
        row["status_detail"] = json.loads(row["status_detail"])
    if "body" in row and row["body"] is not None:
        row["body"] = bytes(row["body"])
    return row


class _Cursor:
    """The three calls the SQL above needs, over a DB-API cursor; translates placeholders."""

    def __init__(self, cursor, placeholder: str):
        self._c = cursor
        self._ph = placeholder

    def _sql(self, sql: str) -> str:
        return sql if self._ph == "?" else sql.replace("?", self._ph)

    def execute(self, sql: str, args: tuple = ()) -> None:
        self._c.execute(self._sql(sql), args)

    def one(self, sql: str, args: tuple = ()) -> dict | None:
        self._c.execute(self._sql(sql), args)
        row = self._c.fetchone()
        return None if row is None else self._dict(row)

    def all(self, sql: str, args: tuple = ()) -> list[dict]:
        self._c.execute(self._sql(sql), args)
        return [self._dict(r) for r in self._c.fetchall()]

    def _dict(self, row) -> dict:
        if isinstance(row, dict):
            return row
        if isinstance(row, sqlite3.Row):
            return dict(row)
        return {d[0]: v for d, v in zip(self._c.description, row)}


class SqliteStore(Store):
    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.url = f"sqlite:///{self.path}"
        self.migrate()

    def _connect(self):
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a receipt promises the packet is on disk
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @contextlib.contextmanager
    def _tx(self, write: bool):
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield _Cursor(conn.cursor(), "?")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


class PostgresStore(Store):
    _real, _blob = "DOUBLE PRECISION", "BYTEA"

    def __init__(self, url: str):
        super().__init__()
        import psycopg  # only a fleet centre needs it: `pip install ektp-kiosk[postgres]`
        self._psycopg = psycopg
        self.url = url
        self.migrate()

    def migrate(self) -> None:
        with self._tx(write=True) as cur:
            # Two centres starting together must not race each other's CREATE TABLE.
            cur.execute("SELECT pg_advisory_xact_lock(736401)")
            for statement in SCHEMA.format(real=self._real, blob=self._blob).split(";"):
                if statement.strip():
                    cur.execute(statement)

    def _connect(self):
        return self._psycopg.connect(self.url, autocommit=True)

    @contextlib.contextmanager
    def _tx(self, write: bool):
        conn = self._conn()
        if conn.closed or conn.broken:
            with self._lock:
                self._all = [c for c in self._all if c is not conn]
            self._local.conn = None
            conn = self._conn()
        with conn.transaction():
            with conn.cursor() as cur:
                yield _Cursor(cur, "%s")

    def _lock_nik(self, cur, packet_id: str) -> None:
        # Serialise decisions per resident, not per centre: other NIKs proceed in parallel.
        row = cur.one("SELECT nik FROM packets WHERE packet_id = ?", (packet_id,))
        if row:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (row["nik"],))

    def _lock_name(self, cur, name: str) -> None:
        # Two registrations of one kiosk at once (a retry racing the first try) run one after the other.
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (name,))


def open_store(url: str) -> Store:
    """``postgresql://...`` → PostgresStore; ``sqlite:///path`` or a plain path → SqliteStore."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    if url.startswith("sqlite:///"):
        return SqliteStore(url[len("sqlite:///"):])  # sqlite:////abs/path keeps its leading slash
    if "://" in url:
        raise ValueError(f"unsupported database URL {url.split('://')[0]}://… (use sqlite:/// or postgresql://)")
    return SqliteStore(url)
