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


def sealed_v1(rec: dict, signing_key, central_public_key, packet_id: str) -> bytes:
    """A packet as kiosks before sealed-v2 made it (record as JSON with base64 parts, all of it
    signed): the centre must keep opening those still queued on kiosks in the field."""
    import datetime as dt
    import os
    import struct

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    ephemeral = X25519PrivateKey.generate()
    key = packet._derive(ephemeral.exchange(central_public_key), 1)
    nonce = os.urandom(12)
    epk = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    header = packet.canonical({"packet_id": packet_id, "kiosk_id": rec["kiosk_id"],
                               "created_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "alg": packet.ALG, "epk": base64.b64encode(epk).decode(),
                               "nonce": base64.b64encode(nonce).decode()})
    body = packet.canonical(rec)
    signature = signing_key.sign(header + body)
    inner = struct.pack(">H", len(signature)) + signature + body
    ciphertext = AESGCM(key).encrypt(nonce, inner, packet.MAGIC + b"\x01" + header)
    return packet.MAGIC + b"\x01" + struct.pack(">I", len(header)) + header + ciphertext


def sealed(rec: dict, signing_key, central_public_key, packet_id: str | None = None) -> tuple[str, bytes]:
    packet_id = packet_id or str(uuid.uuid4())
    return packet_id, packet.seal(rec, signing_key, central_public_key, packet_id=packet_id)
