"""The record a committed enrollment sends to the centre, and how it is packed.

A record is self-describing: a format name and version, the biodata, each biometric part
with its SHA-256 in a manifest, exceptions, corrections, operator and kiosk ids and times.
``pack`` turns it into bytes and names the format; sealing (signature by the kiosk's key,
encryption to the centre's key) is a further format that ``pack`` will produce once the
kiosk holds the centre's public key, without changing what a record contains.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3

RECORD_FORMAT = "ektp-record"
RECORD_VERSION = 1
PLAIN_FORMAT = "record-json-v1"


def _part(kind: str, position: int, data: bytes, media_type: str, **meta) -> dict:
    return {"kind": kind, "position": position, "media_type": media_type,
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
            "data": base64.b64encode(data).decode("ascii"), **meta}


def record(conn: sqlite3.Connection, enrollment_id: str, *, kiosk_id: str) -> dict:
    e = conn.execute("SELECT * FROM enrollments WHERE id = ?", (enrollment_id,)).fetchone()
    parts, exceptions = [], []
    for p in conn.execute("SELECT kind, position, data, meta FROM enrollment_parts WHERE enrollment_id = ? "
                          "ORDER BY kind, position", (enrollment_id,)):
        meta = json.loads(p["meta"])
        if p["kind"] == "exception":
            exceptions.append({"position": p["position"], "reason": meta["reason"], "by": meta.get("by")})
        elif p["data"] is not None:
            media = "image/jpeg" if p["kind"] == "photo" else "image/png"
            parts.append(_part(p["kind"], p["position"], p["data"], media,
                               **{k: v for k, v in meta.items() if k in ("quality", "dpi")}))
    biodata = json.loads(e["biodata"])
    manifest = {"biodata": hashlib.sha256(json.dumps(biodata, sort_keys=True).encode()).hexdigest(),
                "parts": {f"{p['kind']}:{p['position']}": p["sha256"] for p in parts}}
    return {"format": RECORD_FORMAT, "version": RECORD_VERSION, "enrollment_id": e["id"],
            "registration_id": e["registration_id"], "kiosk_id": kiosk_id, "operator_id": e["operator_id"],
            "simulated": bool(e["simulated"]), "village": e["village"], "created_at": e["created_at"],
            "committed_at": e["committed_at"], "biodata": biodata, "corrections": json.loads(e["corrections"]),
            "override": json.loads(e["override"]) if e["override"] else None,
            "exceptions": exceptions, "parts": parts, "manifest": manifest}


def pack(rec: dict) -> tuple[bytes, str]:
    return json.dumps(rec, sort_keys=True, separators=(",", ":")).encode("utf-8"), PLAIN_FORMAT


def unpack(payload: bytes, payload_format: str) -> dict:
    if payload_format != PLAIN_FORMAT:
        raise ValueError(f"unknown payload format {payload_format!r}")
    rec = json.loads(payload)
    for p in rec["parts"]:
        if hashlib.sha256(base64.b64decode(p["data"])).hexdigest() != p["sha256"]:
            raise ValueError(f"part {p['kind']}:{p['position']} does not match its hash")
    return rec
