"""Finger templates of a draft, the duplicate ("data ganda") check at commit, and the supervisor's queue.

Templates are extracted once, when a finger capture is accepted, and kept in the finger part's
``meta`` (base64 of the ISO/IEC 19794-2 record), so a commit does not re-extract ten images
(~0.1-0.3 s each on a Pi). The packet builder copies only ``quality`` and ``dpi`` from that meta,
so templates never leave in a packet by accident.

A commit whose 1:N search finds suspects is still saved (refusing it would lose the resident's
visit; the centre decides for good), flagged in table ``duplicate_reviews`` and audited. A
supervisor then records a decision there: ``same_person`` or ``different_person``, with a reason.
This module knows nothing of HTTP.
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3

from kiosk import audit
from kiosk.errors import Conflict, InvalidInput, NotFound
from kiosk.store import Store, now

log = logging.getLogger(__name__)

DECISIONS = {
    "same_person": ("orang yang sama (data ganda)", "the same person (duplicate record)"),
    "different_person": ("orang yang berbeda", "a different person"),
}


# --- templates kept in a finger part's meta --------------------------------------------------
def template_meta(png: bytes | None = None, *, gray=None, position: int, template=None) -> dict:
    """``{"template": base64 ISO record, "minutiae": n}`` of an accepted image (``template`` when the
    quality gate already extracted it); {} if extraction fails.

    A failed extraction is not fatal here: commit extracts again from the stored PNG, which is
    slower but keeps the capture (the quality gate already accepted it)."""
    from kiosk.biometrics.iso19794 import encode
    from kiosk.biometrics.minutiae import ALGORITHM, extract, extract_png
    try:
        if template is not None:
            t = template
        else:
            t = extract(gray, position=position) if gray is not None else extract_png(png, position=position)
        return {"template": base64.b64encode(encode(t)).decode("ascii"), "minutiae": len(t), "algorithm": ALGORITHM}
    except Exception as exc:  # noqa: BLE001 - see the docstring; the log says why, never whose
        log.warning("template extraction failed for finger %d: %s", position, type(exc).__name__)
        return {}


def template_of(meta: dict, png: bytes | None, position: int):
    """The finger's Template: from its meta when kept and of the current algorithm, else from the PNG."""
    from kiosk.biometrics.iso19794 import decode
    from kiosk.biometrics.minutiae import ALGORITHM, extract_png
    if meta.get("template") and meta.get("algorithm") == ALGORITHM:
        try:
            return decode(base64.b64decode(meta["template"]))
        except Exception:  # noqa: BLE001 - a damaged blob: re-extract from the lossless image
            log.warning("stored template of finger %d unreadable; re-extracting", position)
    if png is None:
        return None
    return extract_png(bytes(png), position=position)


def draft_records(conn: sqlite3.Connection, enrollment_id: str) -> dict[int, tuple[bytes, object]]:
    """``{position: (ISO 19794-2 record, its Template)}`` of every captured finger of a draft, as the
    gallery keeps them: the record extracted at capture when it is of the current algorithm, else
    one extracted again from the lossless PNG (read only then: it is ~20 KB a finger)."""
    from kiosk.biometrics.gallery import encode_templates
    from kiosk.biometrics.iso19794 import decode
    from kiosk.biometrics.minutiae import ALGORITHM
    out = {}
    for p in conn.execute("SELECT position, meta FROM enrollment_parts WHERE enrollment_id = ? "
                          "AND kind = 'finger' AND data IS NOT NULL ORDER BY position", (enrollment_id,)):
        pos, meta = int(p["position"]), json.loads(p["meta"])
        if meta.get("template") and meta.get("algorithm") == ALGORITHM:
            try:
                rec = base64.b64decode(meta["template"])
                t = decode(rec)
                if t.position == pos:
                    out[pos] = (rec, t)
                    continue
            except Exception:  # noqa: BLE001 - a damaged blob: re-extract from the lossless image
                log.warning("stored template of finger %d unreadable; re-extracting", pos)
        png = conn.execute("SELECT data FROM enrollment_parts WHERE enrollment_id = ? AND kind = 'finger' "
                           "AND position = ?", (enrollment_id, pos)).fetchone()["data"]
        t = template_of({}, png, pos)
        if t is not None:
            rec = encode_templates({pos: t})[0][1]
            out[pos] = (rec, decode(rec))
    return out


def gallery_rows(records: dict[int, tuple[bytes, object]], probe: dict) -> list[tuple[int, bytes, object]]:
    """What the gallery keeps of a committed person: ``[(position, ISO record, prefilter vector)]``,
    the vector already quantised as the gallery stores it."""
    from kiosk.biometrics.gallery import prefilter_vector, quantised
    return [(pos, rec, quantised(prefilter_vector(probe[pos]))) for pos, (rec, _) in sorted(records.items())]


# --- the duplicate check -----------------------------------------------------------------------
def probe(templates: dict) -> dict:
    """``{position: matcher.Prepared}`` of ``{position: Template or ISO record}``: what the search
    compares, kept for the gallery afterwards."""
    from kiosk.biometrics import matcher
    return {int(pos): matcher._prepared(t) for pos, t in templates.items()}


def suspects(conn: sqlite3.Connection, gallery, enrollment_id: str, nik: str, templates: dict) -> list[dict]:
    """The commit's ``duplicate_suspects``: other NIKs whose fingers match these, best first.

    A match with a record of the *same* NIK is a re-recording (already approved by a supervisor
    at commit), not "data ganda" — one person under two NIKs — so it is left out."""
    if not templates or gallery is None:
        return []
    out = []
    for s in gallery.search(templates, exclude=enrollment_id):
        if s.nik == nik:
            continue
        row = conn.execute("SELECT registration_id FROM enrollments WHERE id = ?", (s.person_id,)).fetchone()
        d = s.as_dict()
        out.append({"nik": s.nik, "score": d["score"], "fingers": d["fingers"],
                    "registration_id": row["registration_id"] if row else None, "enrollment_id": s.person_id})
    return out


def flag(conn: sqlite3.Connection, actor: str, enrollment_id: str, found: list[dict], *, at: float) -> None:
    """Put a just-committed record on the supervisor's queue (inside the commit's transaction)."""
    conn.execute("INSERT OR REPLACE INTO duplicate_reviews(enrollment_id, suspects, flagged_at) VALUES (?, ?, ?)",
                 (enrollment_id, json.dumps(found), at))
    # The audit holds ids and scores only, never the other person's NIK.
    audit.record(conn, actor, "enrollment.duplicate_suspected", enrollment_id,
                 suspects=[{"registration_id": s["registration_id"], "score": s["score"]} for s in found])


def mask_nik(nik: str) -> str:
    """Region code and serial only: enough to tell suspects apart, not to identify anyone."""
    nik = str(nik or "")
    return nik[:6] + "•" * max(0, len(nik) - 10) + nik[-4:] if len(nik) > 10 else "•" * len(nik)


# --- the supervisor's review queue -------------------------------------------------------------
class Reviews:
    def __init__(self, store: Store, operators):
        self.store = store
        self.operators = operators

    @staticmethod
    def _item(r: sqlite3.Row, *, full: bool) -> dict:
        found = json.loads(r["suspects"])
        if not full:
            found = [dict(s, nik=mask_nik(s["nik"])) for s in found]
        bio = json.loads(r["biodata"]) if r["biodata"] else {}
        return {"enrollment_id": r["enrollment_id"], "registration_id": r["registration_id"],
                "nik": r["nik"] if full else mask_nik(r["nik"]), "name": bio.get("name", "") if full else "",
                "flagged_at": r["flagged_at"], "suspects": found,
                "decision": r["decision"], "reason": r["reason"] if full else None,
                "decided_by": r["decided_by"], "decided_at": r["decided_at"]}

    _SELECT = ("SELECT d.*, e.registration_id, e.nik, e.biodata FROM duplicate_reviews d "
               "JOIN enrollments e ON e.id = d.enrollment_id ")

    def queue(self, supervisor, *, decided: bool = False, limit: int = 100) -> list[dict]:
        """Flagged records, oldest first; ``decided`` lists the decided ones instead (newest first)."""
        self.operators.require(supervisor, "supervisor")
        where = ("WHERE d.decided_at IS NOT NULL ORDER BY d.decided_at DESC" if decided
                 else "WHERE d.decided_at IS NULL ORDER BY d.flagged_at")
        rows = self.store.query(self._SELECT + where + " LIMIT ?", (int(limit),))
        return [self._item(r, full=True) for r in rows]

    def of(self, enrollment_id: str, *, full: bool = False) -> dict | None:
        """The flag of one record, or None; NIKs masked unless ``full`` (a supervisor looking)."""
        r = self.store.one(self._SELECT + "WHERE d.enrollment_id = ?", (str(enrollment_id),))
        return self._item(r, full=full) if r else None

    def open_count(self) -> int:
        return self.store.one("SELECT COUNT(*) AS n FROM duplicate_reviews WHERE decided_at IS NULL")["n"]

    def decide(self, supervisor, enrollment_id: str, decision: str, reason: str) -> dict:
        self.operators.require(supervisor, "supervisor")
        if decision not in DECISIONS:
            raise InvalidInput("bad_decision",
                               "Keputusan harus salah satu: " + ", ".join(f"{k} ({v[0]})" for k, v in DECISIONS.items()),
                               "The decision must be one of: " + ", ".join(f"{k} ({v[1]})" for k, v in DECISIONS.items()))
        reason = " ".join(str(reason or "").split())
        if len(reason) < 5:
            raise InvalidInput("reason_required", "Keputusan perlu alasan (minimal 5 huruf).",
                               "A decision needs a reason (5 characters at least).")
        t = now()
        with self.store.transaction() as conn:
            row = conn.execute("SELECT decision FROM duplicate_reviews WHERE enrollment_id = ?",
                               (str(enrollment_id),)).fetchone()
            if row is None:
                raise NotFound("review_not_found", "Data ini tidak ada di antrean pemeriksaan supervisor.",
                               "This record is not in the supervisor's review queue.", id=str(enrollment_id))
            if row["decision"] is not None:
                raise Conflict("already_decided", "Data ini sudah diputuskan oleh supervisor.",
                               "A supervisor has already decided on this record.", decision=row["decision"])
            conn.execute("UPDATE duplicate_reviews SET decision = ?, reason = ?, decided_by = ?, decided_at = ? "
                         "WHERE enrollment_id = ?", (decision, reason[:500], supervisor.id, t, str(enrollment_id)))
            audit.record(conn, supervisor.id, "review.decision", str(enrollment_id), decision=decision,
                         reason=reason[:500])
        log.info("duplicate review of %s decided by %s", enrollment_id, supervisor.id)
        return self.of(enrollment_id, full=True)


__all__ = ["DECISIONS", "Reviews", "template_meta", "template_of", "draft_records",
           "gallery_rows", "probe", "suspects", "flag",
           "mask_nik"]
