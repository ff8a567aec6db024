"""Records and sealed packets for the packet and centre tests, built the way kiosk.packet.record() builds them.

A real commit takes a second of simulated captures; these tests need many records, so the shape is
reproduced here from the same fields, and one test in test_packet.py seals a record from a real commit.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid

from conftest import BIODATA, VALID_NIK

from kiosk import packet


def part(kind: str, position: int, data: bytes) -> dict:
    return {"kind": kind, "position": position, "media_type": "image/jpeg" if kind == "photo" else "image/png",
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
            "data": base64.b64encode(data).decode("ascii")}


def make_record(kiosk_id: str = "KIOSK-A", *, nik: str = VALID_NIK, simulated: bool = False,
                village: str = "Gunung Tabur", **biodata_changes) -> dict:
    biodata = dict(BIODATA, nik=nik, sex="F", **biodata_changes)
    parts = [part("photo", 0, b"\xff\xd8photo-" + nik.encode()), part("signature", 0, b"\x89PNGsig")]
    parts += [part("finger", pos, f"finger-{nik}-{pos}".encode()) for pos in range(1, 11)]
    manifest = {"biodata": hashlib.sha256(json.dumps(biodata, sort_keys=True).encode()).hexdigest(),
                "parts": {f"{p['kind']}:{p['position']}": p["sha256"] for p in parts}}
    t = time.time()
    return {"format": packet.RECORD_FORMAT, "version": packet.RECORD_VERSION, "enrollment_id": str(uuid.uuid4()),
            "registration_id": f"{kiosk_id}-20261123-{uuid.uuid4().hex[:4]}", "kiosk_id": kiosk_id,
            "operator_id": "op1", "simulated": simulated, "village": village, "created_at": t,
            "committed_at": t, "biodata": biodata, "corrections": [], "override": None, "exceptions": [],
            "parts": parts, "manifest": manifest}


def sealed(rec: dict, signing_key, central_public_key, packet_id: str | None = None) -> tuple[str, bytes]:
    packet_id = packet_id or str(uuid.uuid4())
    return packet_id, packet.seal(rec, signing_key, central_public_key, packet_id=packet_id)
