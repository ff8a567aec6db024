"""The enrollment workflow: NIK → biodata check → photo → signature → ten fingers → review → commit.

Every completed step is written to the database the moment it completes (the draft), so a
power cut or crash loses at most the step in hand and the operator resumes where it stopped.
Commit is one transaction: the enrollment, its outbox entry and an audit entry together.
This module knows nothing of HTTP: it raises typed errors and returns plain dicts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import sqlite3
import threading
import uuid
from dataclasses import dataclass

import numpy as np

from kiosk import audit, biodata, duplicates, outbox, packet, residents
from kiosk.errors import Conflict, DeviceUnavailable, InvalidInput, NotFound
from kiosk.messages import Message
from kiosk.nik import parse_nik
from kiosk.operators import Operator, Operators
from kiosk.store import Store, now

log = logging.getLogger(__name__)

FINGERS = tuple(range(1, 11))  # ISO/IEC 19794-2 positions: 1-5 right thumb..little, 6-10 left
FINGER_NAMES = {
    1: ("ibu jari kanan", "right thumb"), 2: ("jari telunjuk kanan", "right index finger"),
    3: ("jari tengah kanan", "right middle finger"), 4: ("jari manis kanan", "right ring finger"),
    5: ("jari kelingking kanan", "right little finger"), 6: ("ibu jari kiri", "left thumb"),
    7: ("jari telunjuk kiri", "left index finger"), 8: ("jari tengah kiri", "left middle finger"),
    9: ("jari manis kiri", "left ring finger"), 10: ("jari kelingking kiri", "left little finger"),
}
EXCEPTION_REASONS = {
    "amputated": ("jari tidak ada", "finger missing"),
    "injured": ("jari terluka", "finger injured"),
    "bandaged": ("jari diperban", "finger bandaged"),
    "unreadable": ("sidik jari tidak terbaca", "fingerprint unreadable"),
}
STEPS = ("biodata", "photo", "signature", "fingers", "verify", "review")
# The index fingers are re-captured and matched 1:1 against their first capture before review
# (DESIGN §1 "perekaman"): they are the ones written to the chip, so a swapped finger must show now.
VERIFY_POSITIONS = (2, 7)


@dataclass(frozen=True)
class Thresholds:
    photo_min_quality: int = 50
    finger_min_quality: int = 40
    finger_retries: int = 3
    finger_timeout_seconds: float = 10.0


def _not_found(enrollment_id: str) -> NotFound:
    return NotFound("enrollment_not_found", "Data perekaman tidak ditemukan.", "Enrollment not found.",
                    id=enrollment_id)


def _png(gray: np.ndarray) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _jpeg(rgb: np.ndarray) -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=92)
    return buf.getvalue()


class Enrollments:
    # () -> bool, set by the composition root: False while the battery is low (kiosk.power). A plain
    # callable keeps this module free of the power policy.
    power_gate = None
    # The 1:N gallery (kiosk.biometrics.gallery.Gallery) of committed records, set and rebuilt from
    # the database by the composition root; None: no duplicate search (e.g. a bare test service).
    gallery = None

    def __init__(self, store: Store, operators: Operators, *, kiosk_id: str, camera=None, fingerprint=None,
                 thresholds: Thresholds = Thresholds(), simulated: bool = False, sealer=None):
        self.store = store
        # (record, packet_id) -> sealed bytes; None keeps the plain format (no keys: training only).
        self.sealer = sealer
        self.operators = operators
        self.kiosk_id = kiosk_id
        self.camera = camera
        self.fingerprint = fingerprint
        self.thresholds = thresholds
        self.simulated = simulated
        self._capture_lock = threading.Lock()  # one sensor, one capture at a time
        # Commits one at a time, from the "already recorded" check and the 1:N search to the
        # gallery update: two operators saving the same person at once would otherwise each search
        # a gallery without the other and both pass. A wait of one search (~0.1 s) at most.
        self._commit_lock = threading.Lock()

    # --- reading ---------------------------------------------------------------------------
    def _row(self, enrollment_id: str, conn: sqlite3.Connection | None = None) -> sqlite3.Row:
        q = "SELECT * FROM enrollments WHERE id = ?"
        row = (conn.execute(q, (str(enrollment_id),)).fetchone() if conn else self.store.one(q, (str(enrollment_id),)))
        if row is None:
            raise _not_found(enrollment_id)
        return row

    def _parts(self, enrollment_id: str, conn: sqlite3.Connection | None = None) -> list[sqlite3.Row]:
        q = "SELECT kind, position, meta, attempts, updated_at, length(data) AS size FROM enrollment_parts WHERE enrollment_id = ?"
        return conn.execute(q, (enrollment_id,)).fetchall() if conn else self.store.query(q, (enrollment_id,))

    @staticmethod
    def _missing(row: sqlite3.Row, parts: list[sqlite3.Row]) -> list[str]:
        have = {(p["kind"], p["position"]) for p in parts}
        metas = {(p["kind"], p["position"]): json.loads(p["meta"]) for p in parts}
        missing = []
        if row["step"] == "biodata":
            missing.append("biodata")
        if ("photo", 0) not in have:
            missing.append("photo")
        if ("signature", 0) not in have:
            missing.append("signature")
        for pos in FINGERS:
            if ("finger", pos) not in have and ("exception", pos) not in have:
                missing.append(f"finger:{pos}")
        # An exception counts only once a supervisor approved it.
        for pos in FINGERS:
            if ("exception", pos) in have and not metas[("exception", pos)].get("approved_by"):
                missing.append(f"approval:{pos}")
        # Only an index finger that was captured is verified; one that is an exception has nothing
        # to verify against.
        captured = {p["position"] for p in parts if p["kind"] == "finger" and p["size"]}
        for pos in VERIFY_POSITIONS:
            if pos in captured and not (metas[("finger", pos)].get("verify") or {}).get("matched"):
                missing.append(f"verify:{pos}")
        return missing

    @classmethod
    def _require_complete(cls, row: sqlite3.Row, parts: list[sqlite3.Row]) -> None:
        missing = cls._missing(row, parts)
        if missing:
            raise Conflict("incomplete", "Perekaman belum lengkap: " + ", ".join(missing),
                           "The enrollment is incomplete: " + ", ".join(missing), missing=missing)

    @staticmethod
    def _next_step(missing: list[str]) -> str:
        for step in STEPS[:-1]:
            prefixes = {"fingers": ("finger:", "approval:"), "verify": ("verify:",)}.get(step, ())
            if step in missing or any(m.startswith(prefixes) for m in missing if prefixes):
                return step
        return "review"

    def get(self, enrollment_id: str) -> dict:
        row = self._row(enrollment_id)
        parts = self._parts(row["id"])
        return self._describe(row, parts)

    def _describe(self, row: sqlite3.Row, parts: list[sqlite3.Row]) -> dict:
        missing = self._missing(row, parts) if row["state"] == "draft" else []
        fingers = {}
        for pos in FINGERS:
            fingers[str(pos)] = {"position": pos, "name_id": FINGER_NAMES[pos][0], "name_en": FINGER_NAMES[pos][1],
                                 "state": "missing", "quality": None, "attempts": 0, "exception": None,
                                 "exception_approved_by": None, "exception_pending": False, "verify": None}
        out = {"id": row["id"], "nik": row["nik"], "state": row["state"], "step": row["step"],
               "missing": missing, "biodata": json.loads(row["biodata"]),
               "corrections": json.loads(row["corrections"]), "village": row["village"],
               "operator": row["operator_id"], "simulated": bool(row["simulated"]),
               "registration_id": row["registration_id"], "status": row["status"],
               "created_at": row["created_at"], "updated_at": row["updated_at"], "committed_at": row["committed_at"],
               "photo": None, "signature": None, "fingers": fingers,
               "already_recorded": self._committed_elsewhere(row["nik"], row["id"]) is not None}
        for p in parts:
            meta = json.loads(p["meta"])
            if p["kind"] == "photo":
                out["photo"] = {"quality": meta.get("quality"), "updated_at": p["updated_at"]}
            elif p["kind"] == "signature":
                out["signature"] = {"updated_at": p["updated_at"]}
            elif p["kind"] == "finger":
                f = fingers[str(p["position"])]
                f.update(state="captured" if p["size"] else "rejected", quality=meta.get("quality"),
                         attempts=p["attempts"])
                if p["size"] and p["position"] in VERIFY_POSITIONS:
                    f["verify"] = meta.get("verify") or {"matched": False, "score": None, "attempts": 0}
            elif p["kind"] == "exception":
                f = fingers[str(p["position"])]
                f.update(state="exception", exception=meta.get("reason"),
                         exception_approved_by=meta.get("approved_by"), exception_pending=not meta.get("approved_by"))
        return out

    def drafts(self) -> list[dict]:
        rows = self.store.query("SELECT id, nik, step, operator_id, updated_at, biodata FROM enrollments "
                                "WHERE state = 'draft' ORDER BY updated_at DESC")
        return [{"id": r["id"], "nik": r["nik"], "step": r["step"], "operator": r["operator_id"],
                 "updated_at": r["updated_at"], "name": json.loads(r["biodata"]).get("name", "")} for r in rows]

    def part_data(self, enrollment_id: str, kind: str, position: int = 0) -> bytes:
        self._row(enrollment_id)
        row = self.store.one("SELECT data FROM enrollment_parts WHERE enrollment_id = ? AND kind = ? AND position = ?",
                             (enrollment_id, kind, position))
        if row is None or row["data"] is None:
            raise NotFound("part_not_found", "Belum ada data untuk langkah ini.", "Nothing captured for this step yet.")
        return row["data"]

    def _committed_elsewhere(self, nik: str, enrollment_id: str | None = None) -> str | None:
        row = self.store.one("SELECT registration_id FROM enrollments WHERE nik = ? AND state = 'committed' AND id != ?",
                             (nik, enrollment_id or ""))
        return row["registration_id"] if row else None

    # --- writing -------------------------------------------------------------------------
    def _draft(self, conn: sqlite3.Connection, enrollment_id: str) -> sqlite3.Row:
        row = self._row(enrollment_id, conn)
        if row["state"] != "draft":
            raise Conflict("not_a_draft",
                           "Perekaman ini sudah disimpan atau dibatalkan; tidak bisa diubah lagi.",
                           "This enrollment was already saved or abandoned; it cannot be changed.",
                           state=row["state"], registration_id=row["registration_id"])
        return row

    def _touch(self, conn: sqlite3.Connection, enrollment_id: str) -> None:
        row = self._row(enrollment_id, conn)
        step = self._next_step(self._missing(row, self._parts(enrollment_id, conn)))
        if row["step"] == "biodata":
            step = "biodata"
        conn.execute("UPDATE enrollments SET step = ?, updated_at = ? WHERE id = ?", (step, now(), enrollment_id))

    @staticmethod
    def _refuse_second_draft(draft) -> None:
        if draft:
            raise Conflict("draft_exists", "Sudah ada draf perekaman untuk NIK ini. Lanjutkan draf itu.",
                           "A draft enrollment already exists for this NIK. Resume it.", id=draft["id"])

    def create(self, operator: Operator, nik: str, given: dict | None = None, *, village: str = "") -> dict:
        self.operators.require(operator, "operator")
        if self.power_gate is not None and not self.power_gate():
            raise Conflict("power_low",
                           "Baterai lemah: selesaikan perekaman yang sedang berjalan; perekaman baru ditunda sampai "
                           "listrik kembali.",
                           "Battery low: finish the recording in hand; new recordings wait until mains power "
                           "returns.")
        info = parse_nik(str(nik or ""))
        if not info.valid:
            raise InvalidInput("invalid_nik", " ".join(e.id for e in info.errors), " ".join(e.en for e in info.errors),
                               problems=[{"code": e.code, "message_id": e.id, "message_en": e.en} for e in info.errors])
        given = {k: v for k, v in (given or {}).items() if k != "nik" and v not in (None, "")}
        # An open draft is offered before anything else: typing a whole biodata form only to be told
        # a draft exists would waste the operator's time.
        self._refuse_second_draft(self.store.one("SELECT id FROM enrollments WHERE nik = ? AND state = 'draft'",
                                                 (info.nik,)))
        registered = residents.lookup(self.store, info.nik)
        if registered is None and not given:
            raise InvalidInput("not_in_register",
                               "NIK ini tidak ada di daftar penduduk yang diimpor. Isi biodata lengkap dari dokumen.",
                               "This NIK is not in the imported register. Enter the full biodata from the documents.")
        merged = dict(registered or {}, **given, nik=info.nik)
        data, problems = biodata.normalise(merged)
        if problems:
            raise biodata.invalid(problems)
        corrections = []
        if registered:
            corrections = [{"field": k, "from": registered[k], "to": data[k]} for k in biodata.FIELDS
                           if registered[k] != data[k]]
        if corrections:
            raise InvalidInput("corrections_need_reason",
                               "Biodata berbeda dari daftar penduduk: buat perekaman dulu, lalu koreksi pada langkah "
                               "periksa biodata dengan alasannya.",
                               "The biodata differs from the register: create the enrollment first, then correct it "
                               "at the biodata step with a reason.",
                               fields=[c["field"] for c in corrections])
        enrollment_id = str(uuid.uuid4())
        t = now()
        with self.store.transaction() as conn:
            # Checked again inside the write transaction: two tabs may race past the first check.
            self._refuse_second_draft(conn.execute("SELECT id FROM enrollments WHERE nik = ? AND state = 'draft'",
                                                   (info.nik,)).fetchone())
            conn.execute("INSERT INTO enrollments(id, nik, state, step, operator_id, village, biodata, simulated, "
                         "created_at, updated_at) VALUES (?, ?, 'draft', 'biodata', ?, ?, ?, ?, ?, ?)",
                         (enrollment_id, info.nik, operator.id, village, json.dumps(data), int(self.simulated), t, t))
            audit.record(conn, operator.id, "enrollment.create", enrollment_id,
                         source="register" if registered else "entered")
        log.info("enrollment %s created by %s", enrollment_id, operator.id)
        result = self.get(enrollment_id)
        result["warnings"] = [w.as_dict() for w in info.warnings] if hasattr(info, "warnings") else []
        return result

    def confirm_biodata(self, operator: Operator, enrollment_id: str, changes: dict | None = None,
                        reason: str = "", document: str = "") -> dict:
        """The biodata check: confirm as is, or correct with a reason (and a document for locked fields)."""
        self.operators.require(operator, "operator")
        changes = {biodata.canonical_key(k): v for k, v in (changes or {}).items()}
        unknown = [k for k in changes if k not in biodata.FIELDS]
        if unknown:
            raise InvalidInput("unknown_field", "Kolom tidak dikenal: " + ", ".join(unknown),
                               "Unknown fields: " + ", ".join(unknown))
        with self.store.transaction() as conn:
            row = self._draft(conn, enrollment_id)
            current = json.loads(row["biodata"])
            data, problems = biodata.normalise(dict(current, **changes))
            if problems:
                raise biodata.invalid(problems)
            changed = [k for k in biodata.FIELDS if data[k] != current[k]]
            if changed and len(reason.strip()) < 5:
                raise InvalidInput("reason_required", "Koreksi biodata memerlukan alasan (minimal 5 huruf).",
                                   "A biodata correction needs a reason (5 characters at least).", fields=changed)
            locked = [k for k in changed if k in biodata.LOCKED]
            if locked and len(document.strip()) < 3:
                raise InvalidInput("document_required",
                                   "NIK, tempat/tanggal lahir dan golongan darah hanya boleh dikoreksi dengan dokumen "
                                   "pendukung (tulis jenis dan nomor dokumen).",
                                   "NIK, place/date of birth and blood type can be corrected only with a supporting "
                                   "document (enter its type and number).", fields=locked)
            if "nik" in changed:
                raise InvalidInput("nik_locked", "NIK tidak bisa diubah pada perekaman ini; batalkan dan mulai lagi.",
                                   "The NIK of an enrollment cannot change; abandon it and start again.")
            corrections = json.loads(row["corrections"])
            corrections += [{"field": k, "from": current[k], "to": data[k], "reason": reason.strip(),
                             "document": document.strip(), "by": operator.id, "at": now()} for k in changed]
            conn.execute("UPDATE enrollments SET biodata = ?, corrections = ?, step = 'photo' WHERE id = ?",
                         (json.dumps(data), json.dumps(corrections), enrollment_id))
            self._touch(conn, enrollment_id)
            audit.record(conn, operator.id, "enrollment.biodata", enrollment_id, corrected=changed)
        return self.get(enrollment_id)

    def _save_part(self, conn, enrollment_id, kind, position, data, meta, *, attempts_from_previous=False):
        prev = conn.execute("SELECT attempts FROM enrollment_parts WHERE enrollment_id = ? AND kind = ? AND position = ?",
                            (enrollment_id, kind, position)).fetchone()
        attempts = (prev["attempts"] + 1) if (prev and attempts_from_previous) else 1
        if data is not None:
            # Hashed once, when captured: the packet's manifest carries this hash, so a part damaged
            # on the kiosk's storage after capture is refused by the centre instead of vouched for.
            meta = dict(meta, sha256=hashlib.sha256(data).hexdigest())
        conn.execute("INSERT OR REPLACE INTO enrollment_parts(enrollment_id, kind, position, data, meta, attempts, updated_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", (enrollment_id, kind, position, data, json.dumps(meta), attempts, now()))
        return attempts

    def capture_photo(self, operator: Operator, enrollment_id: str) -> dict:
        from kiosk.biometrics.photo import assess_photo, crop_portrait
        self.operators.require(operator, "operator")
        with self.store.transaction() as conn:
            self._draft(conn, enrollment_id)
        if self.camera is None:
            raise DeviceUnavailable("camera_unavailable", "Kamera tidak tersedia. Hubungi teknisi.",
                                    "The camera is not available. Ask a technician.")
        from drivers.base import DeviceError
        try:
            frame = self.camera.capture()
        except DeviceError as exc:
            raise DeviceUnavailable(exc.code, exc.message_id, exc.message_en) from exc
        q = assess_photo(frame, min_quality=self.thresholds.photo_min_quality)
        if q.accepted:
            portrait = _jpeg(crop_portrait(frame, q.face_box))
            with self.store.transaction() as conn:
                self._draft(conn, enrollment_id)
                self._save_part(conn, enrollment_id, "photo", 0, portrait, {"quality": q.quality})
                self._touch(conn, enrollment_id)
                audit.record(conn, operator.id, "enrollment.photo", enrollment_id, quality=q.quality)
        return q.as_dict()

    def set_signature(self, operator: Operator, enrollment_id: str, png: bytes) -> dict:
        from kiosk.biometrics.signature import check_signature
        self.operators.require(operator, "operator")
        with self.store.transaction() as conn:
            self._draft(conn, enrollment_id)
        check = check_signature(png)
        if check.accepted:
            with self.store.transaction() as conn:
                self._draft(conn, enrollment_id)
                self._save_part(conn, enrollment_id, "signature", 0, check.png, {})
                self._touch(conn, enrollment_id)
                audit.record(conn, operator.id, "enrollment.signature", enrollment_id)
        return check.as_dict()

    @staticmethod
    def _position(position) -> int:
        try:
            pos = int(position)
        except (TypeError, ValueError):
            pos = 0
        if pos not in FINGERS:
            raise InvalidInput("bad_finger_position", "Posisi jari harus 1 sampai 10.",
                               "A finger position is 1 to 10.")
        return pos

    def capture_finger(self, operator: Operator, enrollment_id: str, position, *,
                       timeout: float | None = None, cancel: threading.Event | None = None) -> dict:
        from kiosk.biometrics.finger_quality import gate
        self.operators.require(operator, "operator")
        pos = self._position(position)
        with self.store.transaction() as conn:
            self._draft(conn, enrollment_id)
            prev = conn.execute("SELECT attempts FROM enrollment_parts WHERE enrollment_id = ? AND kind = 'finger' "
                                "AND position = ?", (enrollment_id, pos)).fetchone()
        image = self._sensor_image(pos, timeout, cancel)
        last_try = (prev["attempts"] if prev else 0) + 1 >= self.thresholds.finger_retries
        q, found = gate(image.pixels, position=pos, min_quality=self.thresholds.finger_min_quality, last_try=last_try)
        # The template is extracted now, outside the transaction, so the commit does not
        # re-extract all ten; a re-capture replaces the part and so drops an earlier verification.
        template = duplicates.template_meta(gray=image.pixels, position=pos, template=found) if q.accepted else {}
        with self.store.transaction() as conn:
            self._draft(conn, enrollment_id)
            prev = conn.execute("SELECT data, attempts FROM enrollment_parts WHERE enrollment_id = ? AND kind = 'finger' "
                                "AND position = ?", (enrollment_id, pos)).fetchone()
            if q.accepted:
                attempts = self._save_part(conn, enrollment_id, "finger", pos, _png(image.pixels),
                                           {"quality": q.quality, "nfiq": q.nfiq, "low_quality": q.low_quality,
                                            "dpi": image.dpi, **template},
                                           attempts_from_previous=True)
                conn.execute("DELETE FROM enrollment_parts WHERE enrollment_id = ? AND kind = 'exception' AND position = ?",
                             (enrollment_id, pos))
            elif prev is not None and prev["data"] is not None:
                # A worse retake must not throw away a good capture already in the draft.
                attempts = prev["attempts"] + 1
                conn.execute("UPDATE enrollment_parts SET attempts = ? WHERE enrollment_id = ? AND kind = 'finger' "
                             "AND position = ?", (attempts, enrollment_id, pos))
            else:
                attempts = self._save_part(conn, enrollment_id, "finger", pos, None,
                                           {"quality": q.quality}, attempts_from_previous=True)
            self._touch(conn, enrollment_id)
            audit.record(conn, operator.id, "enrollment.finger", enrollment_id, position=pos,
                         accepted=q.accepted, quality=q.quality, nfiq=q.nfiq)
        out = q.as_dict()
        out.update(position=pos, attempts=attempts,
                   exception_allowed=attempts >= self.thresholds.finger_retries)
        return out

    def finger_exception(self, operator: Operator, enrollment_id: str, position, reason: str) -> dict:
        self.operators.require(operator, "operator")
        pos = self._position(position)
        if reason not in EXCEPTION_REASONS:
            raise InvalidInput("bad_exception_reason",
                               "Alasan harus salah satu: " + ", ".join(f"{k} ({v[0]})" for k, v in EXCEPTION_REASONS.items()),
                               "The reason must be one of: " + ", ".join(f"{k} ({v[1]})" for k, v in EXCEPTION_REASONS.items()))
        with self.store.transaction() as conn:
            self._draft(conn, enrollment_id)
            conn.execute("DELETE FROM enrollment_parts WHERE enrollment_id = ? AND kind = 'finger' AND position = ?",
                         (enrollment_id, pos))
            # Pending until a supervisor approves it (approve_exception): until then it counts as
            # missing ("approval:N"), so an operator alone cannot skip a finger.
            self._save_part(conn, enrollment_id, "exception", pos, None,
                            {"reason": reason, "by": operator.id, "approved_by": None})
            self._touch(conn, enrollment_id)
            audit.record(conn, operator.id, "enrollment.finger_exception", enrollment_id, position=pos, reason=reason)
        return {"position": pos, "exception": reason, "state": "exception", "pending": True, "approved_by": None}

    def approve_exception(self, operator: Operator, enrollment_id: str, position, *, supervisor: str | None = None,
                          pin: str | None = None) -> dict:
        """A supervisor approves a finger exception: the logged-in one, or one who types id + PIN
        on the operator's screen (a wrong PIN counts towards the supervisor's lock-out)."""
        self.operators.require(operator, "operator")
        pos = self._position(position)
        if supervisor:
            approver = self.operators.verify_pin(str(supervisor), str(pin or ""))
        else:
            approver = operator
        if not approver.can("supervisor"):
            from kiosk.errors import Forbidden
            raise Forbidden("supervisor_required",
                            "Pengecualian jari harus disetujui supervisor: masukkan ID dan PIN supervisor.",
                            "A finger exception must be approved by a supervisor: enter a supervisor's id and PIN.")
        with self.store.transaction() as conn:
            self._draft(conn, enrollment_id)
            row = conn.execute("SELECT meta FROM enrollment_parts WHERE enrollment_id = ? AND kind = 'exception' "
                               "AND position = ?", (enrollment_id, pos)).fetchone()
            if row is None:
                raise Conflict("no_exception", "Jari ini tidak dicatat sebagai pengecualian.",
                               "This finger is not recorded as an exception.", position=pos)
            meta = json.loads(row["meta"])
            meta.update(approved_by=approver.id, approved_at=now())
            conn.execute("UPDATE enrollment_parts SET meta = ?, updated_at = ? WHERE enrollment_id = ? "
                         "AND kind = 'exception' AND position = ?", (json.dumps(meta), now(), enrollment_id, pos))
            self._touch(conn, enrollment_id)
            audit.record(conn, approver.id, "enrollment.finger_exception_approved", enrollment_id, position=pos,
                         reason=meta.get("reason"), operator=operator.id)
        return {"position": pos, "exception": meta.get("reason"), "state": "exception", "pending": False,
                "approved_by": approver.id}

    def verify_finger(self, operator: Operator, enrollment_id: str, position, *,
                      timeout: float | None = None, cancel: threading.Event | None = None) -> dict:
        """Re-capture an index finger and match it 1:1 against its first capture (DESIGN §4).

        The result is kept in the finger part's meta; a later re-capture of the finger replaces the
        part and so asks for a new verification. A match, once made, is not undone by a worse try."""
        from kiosk.biometrics.finger_quality import assess_finger
        from kiosk.biometrics.matcher import VERIFY_THRESHOLD, verify
        from kiosk.biometrics.minutiae import extract
        self.operators.require(operator, "operator")
        pos = self._position(position)
        if pos not in VERIFY_POSITIONS:
            raise InvalidInput("not_an_index_finger", "Verifikasi hanya untuk jari telunjuk: posisi 2 atau 7.",
                               "Only the index fingers are verified: position 2 or 7.", position=pos)
        with self.store.transaction() as conn:
            self._draft(conn, enrollment_id)
            first = conn.execute("SELECT data, meta FROM enrollment_parts WHERE enrollment_id = ? AND kind = 'finger' "
                                 "AND position = ?", (enrollment_id, pos)).fetchone()
        if first is None or first["data"] is None:
            raise Conflict("finger_not_captured", "Rekam dulu jari ini pada langkah sidik jari, lalu verifikasi.",
                           "Capture this finger at the fingerprints step first, then verify it.", position=pos)
        reference = duplicates.template_of(json.loads(first["meta"]), first["data"], pos)
        image = self._sensor_image(pos, timeout, cancel)
        q = assess_finger(image.pixels, min_quality=self.thresholds.finger_min_quality)
        score, matched = 0.0, False
        if q.accepted and reference is not None:
            score, matched = verify(reference, extract(image.pixels, position=pos))
        score, matched = round(float(score), 2), bool(matched)
        with self.store.transaction() as conn:
            self._draft(conn, enrollment_id)
            row = conn.execute("SELECT data, meta FROM enrollment_parts WHERE enrollment_id = ? AND kind = 'finger' "
                               "AND position = ?", (enrollment_id, pos)).fetchone()
            if row is None or row["data"] != first["data"]:
                raise Conflict("finger_changed", "Jari ini direkam ulang selama verifikasi; verifikasi lagi.",
                               "This finger was captured again during the verification; verify again.", position=pos)
            meta = json.loads(row["meta"])
            before = meta.get("verify") or {}
            attempts = int(before.get("attempts", 0)) + 1
            if before.get("matched") and not matched:
                meta["verify"] = dict(before, attempts=attempts)
            else:
                meta["verify"] = {"matched": matched, "score": score, "attempts": attempts, "by": operator.id,
                                  "at": now()}
            conn.execute("UPDATE enrollment_parts SET meta = ? WHERE enrollment_id = ? AND kind = 'finger' "
                         "AND position = ?", (json.dumps(meta), enrollment_id, pos))
            self._touch(conn, enrollment_id)
            audit.record(conn, operator.id, "enrollment.finger_verify", enrollment_id, position=pos,
                         matched=matched, score=score)
        return {"position": pos, "matched": matched, "score": score, "threshold": VERIFY_THRESHOLD,
                "attempts": attempts, "quality": q.quality, "reasons": q.as_dict().get("reasons", []),
                "verified": bool(meta["verify"].get("matched")),
                # After as many failed tries as a capture gets, the first capture is the likelier culprit.
                "recapture_suggested": not meta["verify"].get("matched") and attempts >= self.thresholds.finger_retries}

    def _sensor_image(self, pos: int, timeout: float | None, cancel: threading.Event | None):
        """One image from the sensor (one capture at a time); typed errors for the UI."""
        from drivers.base import DeviceError
        from drivers.fingerprint import NoFinger
        if self.fingerprint is None:
            raise DeviceUnavailable("fingerprint_unavailable", "Pemindai sidik jari tidak tersedia. Hubungi teknisi.",
                                    "The fingerprint scanner is not available. Ask a technician.")
        timeout = self.thresholds.finger_timeout_seconds if timeout is None else timeout
        if not self._capture_lock.acquire(timeout=timeout):
            raise Conflict("scanner_busy", "Pemindai sedang dipakai. Tunggu sebentar.",
                           "The scanner is busy. Wait a moment.")
        from drivers.fingerprint import CaptureCancelled, ImagingFailed, TooFewFeatures
        try:
            return self.fingerprint.capture(timeout, position=pos, cancel=cancel)
        except NoFinger:
            raise
        except (ImagingFailed, TooFewFeatures, CaptureCancelled) as exc:
            # The scanner works; this impression didn't (finger lifted, smudged, too dry): retake it.
            raise InvalidInput(exc.code, exc.message_id, exc.message_en, retake=True) from exc
        except DeviceError as exc:
            raise DeviceUnavailable(exc.code, exc.message_id, exc.message_en) from exc
        finally:
            self._capture_lock.release()

    def abandon(self, operator: Operator, enrollment_id: str, reason: str = "") -> dict:
        self.operators.require(operator, "operator")
        with self.store.transaction() as conn:
            self._draft(conn, enrollment_id)
            conn.execute("UPDATE enrollments SET state = 'abandoned', updated_at = ? WHERE id = ?", (now(), enrollment_id))
            # Biometrics of an abandoned draft have no purpose left: drop them now.
            conn.execute("DELETE FROM enrollment_parts WHERE enrollment_id = ?", (enrollment_id,))
            audit.record(conn, operator.id, "enrollment.abandon", enrollment_id, reason=reason[:200])
        return self.get(enrollment_id)

    def commit(self, operator: Operator, enrollment_id: str, override: dict | None = None) -> dict:
        """Save the record for good: enrollment, outbox entry and audit entry in one transaction."""
        self.operators.require(operator, "operator")
        row = self._row(enrollment_id)
        # Before asking for a supervisor or searching: an incomplete record cannot be saved anyway.
        # Every change of a part recomputes the draft's step, which is "review" only when nothing
        # is missing; so only a draft at another step has its parts read here (the transaction
        # checks them all again).
        if row["state"] == "draft" and row["step"] != "review":
            self._require_complete(row, self._parts(enrollment_id))
        with self._commit_lock:
            return self._commit(operator, enrollment_id, override)

    def _commit(self, operator: Operator, enrollment_id: str, override: dict | None) -> dict:
        from kiosk.biometrics.gallery import save_templates
        approved_by = None
        row = self._row(enrollment_id)  # again: another commit may have saved it while we waited
        previous = self._committed_elsewhere(row["nik"], enrollment_id)
        if previous and row["state"] == "draft":
            override = override or {}
            reason = str(override.get("reason", "")).strip()
            if not override.get("supervisor") or len(reason) < 5:
                raise Conflict("already_recorded",
                               f"NIK ini sudah direkam di kios ini ({previous}). Perlu persetujuan supervisor dengan alasan.",
                               f"This NIK was already recorded at this kiosk ({previous}). A supervisor must approve, "
                               "with a reason.", registration_id=previous)
            sup = self.operators.verify_pin(str(override["supervisor"]), str(override.get("pin", "")))
            self.operators.require(sup, "supervisor")
            approved_by = {"supervisor": sup.id, "reason": reason[:500], "previous": previous}
        # The 1:N search runs before the write transaction (it takes ~0.1 s and must not hold the
        # database's write lock). The templates were extracted at capture time; the probe is
        # prepared once from their ISO records (as the gallery's rebuild at start prepares them)
        # and serves both the search and the gallery.
        records = duplicates.draft_records(self.store.conn, enrollment_id)
        probe = duplicates.probe({pos: t for pos, (_, t) in records.items()})
        found = duplicates.suspects(self.store.conn, self.gallery, enrollment_id, row["nik"], probe)
        gallery_rows = duplicates.gallery_rows(records, probe)
        template_rows = [(pos, rec, int(t.quality)) for pos, (rec, t) in sorted(records.items())]
        t = now()
        with self.store.transaction() as conn:
            row = self._draft(conn, enrollment_id)
            # One read of the parts, blobs included, serves the completeness check and the record.
            parts = conn.execute(packet.PARTS_SQL, (enrollment_id,)).fetchall()
            self._require_complete(row, parts)
            day = dt.datetime.fromtimestamp(t).strftime("%Y%m%d")
            seq = self.store.next_counter(conn, f"registration:{day}")
            registration_id = f"{self.kiosk_id}-{day}-{seq:04d}"
            override_json = json.dumps(approved_by) if approved_by else None
            conn.execute("UPDATE enrollments SET state = 'committed', step = 'done', registration_id = ?, "
                         "status = 'captured', override = ?, committed_at = ?, updated_at = ? WHERE id = ?",
                         (registration_id, override_json, t, t, enrollment_id))
            committed = dict(row, registration_id=registration_id, override=override_json, committed_at=t)
            record = packet.collect(conn, enrollment_id, kiosk_id=self.kiosk_id, enrollment=committed, parts=parts)
            packet_id = str(uuid.uuid4())
            seal = self.sealer
            payload, fmt = packet.pack(record, sealer=(lambda r: seal(r, packet_id)) if seal else None)
            packet_id = outbox.enqueue(conn, enrollment_id=enrollment_id, registration_id=registration_id,
                                       payload=payload, payload_format=fmt, packet_id=packet_id)
            audit.record(conn, operator.id, "enrollment.commit", enrollment_id, registration_id=registration_id,
                         packet_id=packet_id, override=approved_by, duplicate_suspects=len(found))
            # The gallery's rows are written with the record: a restart rebuilds exactly what was saved.
            save_templates(conn, enrollment_id, row["nik"], template_rows, at=t)
            if found:
                duplicates.flag(conn, operator.id, enrollment_id, found, at=t)
        if self.gallery is not None and gallery_rows:
            self.gallery.add_prepared(enrollment_id, row["nik"], gallery_rows)
        log.info("enrollment %s committed as %s%s", enrollment_id, registration_id,
                 f" with {len(found)} possible duplicate(s) for supervisor review" if found else "")
        return {"id": enrollment_id, "registration_id": registration_id, "status": "captured",
                "packet_id": packet_id, "duplicate_suspects": found, "flagged": bool(found),
                "receipt": receipt_text(registration_id, self.kiosk_id, t)}


def receipt_text(registration_id: str, kiosk_id: str, at: float) -> str:
    """What the QR code on the receipt says: enough to ask about the record, nothing personal."""
    return f"EKTP-REG:{registration_id};KIOSK:{kiosk_id};T:{int(at)}"


def finger_name(position: int, lang: str = "id") -> str:
    id_, en = FINGER_NAMES[position]
    return en if lang == "en" else id_


__all__ = ["Enrollments", "Thresholds", "FINGERS", "FINGER_NAMES", "EXCEPTION_REASONS", "Message"]
