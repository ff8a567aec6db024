"""The record a committed enrollment sends to the centre, and how it is packed.

A record is self-describing: a format name and version, the biodata, each biometric part
with its SHA-256 in a manifest, exceptions, corrections, operator and kiosk ids and times.
``pack`` turns it into bytes and names the format; sealing (signature by the kiosk's key,
encryption to the centre's key, docs/central-protocol.md) is the further format ``pack``
produces when given a sealer, without changing what a record contains.

Why sign inside the encryption: the centre must know which kiosk vouched for the record, and
nobody on the way may learn who was recorded. Why an ephemeral X25519 key per packet: the kiosk
keeps nothing that can decrypt its own queue, so a stolen kiosk leaks no resident's data.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import os
import sqlite3
import struct
from typing import Callable

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kiosk.errors import KioskError

RECORD_FORMAT = "ektp-record"
RECORD_VERSION = 1
PLAIN_FORMAT = "record-json-v1"
SEALED_FORMAT = "sealed-v1"
MAGIC = b"EKTP"
SEALED_VERSION = 1
ALG = "X25519-HKDF-SHA256-AES256GCM+Ed25519"
HKDF_INFO = b"ektp-sealed-v1"
MAX_HEADER = 4096  # a real header is ~250 bytes; a huge length is damage, not a header


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


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def pack(rec: dict, sealer: Callable[[dict], bytes] | None = None) -> tuple[bytes, str]:
    """Bytes for the outbox and their format: sealed when a sealer is given, plain otherwise."""
    if sealer is not None:
        return sealer(rec), SEALED_FORMAT
    return canonical(rec), PLAIN_FORMAT


def unpack(payload: bytes, payload_format: str) -> dict:
    if payload_format == SEALED_FORMAT:
        raise ValueError("a sealed packet can be opened only at the centre, with the centre's private key")
    if payload_format != PLAIN_FORMAT:
        raise ValueError(f"unknown payload format {payload_format!r}")
    rec = json.loads(payload)
    for p in rec["parts"]:
        if hashlib.sha256(base64.b64decode(p["data"])).hexdigest() != p["sha256"]:
            raise ValueError(f"part {p['kind']}:{p['position']} does not match its hash")
    return rec


# --- sealed packets (docs/central-protocol.md) ----------------------------------------------
class PacketError(KioskError, ValueError):
    """A sealed packet that cannot be accepted; ``code`` is the protocol's error code."""

    code_: str = "bad_packet"
    text_id: str = "Paket rusak atau bukan paket e-KTP."
    text_en: str = "The packet is damaged or not an e-KTP packet."

    def __init__(self, detail_en: str = "", detail_id: str = "", /, **details):
        super().__init__(self.code_, f"{self.text_id} {detail_id or detail_en}".strip(),
                         f"{self.text_en} {detail_en}".strip(), **details)


class BadPacket(PacketError):
    code_ = "bad_packet"


class DecryptFailed(PacketError):
    code_ = "decrypt_failed"
    text_id = "Paket tidak bisa dibuka: rusak di jalan, diubah, atau tidak ditujukan ke pusat ini."
    text_en = "The packet could not be decrypted: damaged in transit, altered, or not meant for this centre."


class UnknownKiosk(PacketError):
    code_ = "unknown_kiosk"
    text_id = "Kios pengirim belum terdaftar di pusat (central kiosk add)."
    text_en = "The sending kiosk is not registered at the centre (central kiosk add)."


class BadSignature(PacketError):
    code_ = "bad_signature"
    text_id = "Tanda tangan paket tidak cocok dengan kunci kios yang terdaftar."
    text_en = "The packet's signature does not match the registered kiosk key."


class BadHash(PacketError):
    code_ = "bad_hash"
    text_id = "Isi paket tidak cocok dengan daftar hash-nya (manifest)."
    text_en = "The packet's contents do not match its manifest of hashes."


def _derive(shared: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(shared)


def _aad(header_bytes: bytes) -> bytes:
    return MAGIC + bytes([SEALED_VERSION]) + header_bytes


def seal(rec: dict, signing_key: Ed25519PrivateKey, central_public_key: X25519PublicKey, *,
         packet_id: str, created_at: str | None = None) -> bytes:
    """Sign the record with the kiosk's key and encrypt it to the centre's public key."""
    ephemeral = X25519PrivateKey.generate()
    key = _derive(ephemeral.exchange(central_public_key))
    nonce = os.urandom(12)
    epk = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    header = canonical({
        "packet_id": str(packet_id), "kiosk_id": str(rec["kiosk_id"]),
        "created_at": created_at or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "alg": ALG, "epk": base64.b64encode(epk).decode("ascii"), "nonce": base64.b64encode(nonce).decode("ascii")})
    body = canonical(rec)
    signature = signing_key.sign(header + body)
    inner = struct.pack(">H", len(signature)) + signature + body
    ciphertext = AESGCM(key).encrypt(nonce, inner, _aad(header))
    return MAGIC + bytes([SEALED_VERSION]) + struct.pack(">I", len(header)) + header + ciphertext


def sealer(signing_key: Ed25519PrivateKey, central_public_key: X25519PublicKey) -> Callable[[dict, str], bytes]:
    """What the kiosk's commit calls: ``(record, packet_id) -> sealed bytes``."""
    def _seal(rec: dict, packet_id: str) -> bytes:
        return seal(rec, signing_key, central_public_key, packet_id=packet_id)
    return _seal


def _b64(header: dict, field: str, size: int) -> bytes:
    value = header.get(field)
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise BadPacket(f"Header field {field!r} is not {size} bytes of base64.",
                        f"Kolom header {field!r} bukan {size} byte base64.")
    return raw


def read_header(blob: bytes) -> tuple[dict, bytes, bytes]:
    """(header, header bytes, ciphertext) after checking the framing; nothing is decrypted."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise BadPacket("The packet is not bytes.", "Paket bukan data biner.")
    blob = bytes(blob)
    if len(blob) < 9:
        raise BadPacket("Truncated before the header.", "Terpotong sebelum header.")
    if blob[:4] != MAGIC:
        raise BadPacket("Wrong magic bytes.", "Penanda awal paket salah.")
    if blob[4] != SEALED_VERSION:
        raise BadPacket(f"Unsupported version {blob[4]}.", f"Versi {blob[4]} tidak didukung.")
    (header_len,) = struct.unpack(">I", blob[5:9])
    if header_len > MAX_HEADER or 9 + header_len > len(blob):
        raise BadPacket("Truncated or impossible header length.", "Panjang header tidak mungkin atau terpotong.")
    header_bytes = blob[9:9 + header_len]
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except ValueError:
        raise BadPacket("The header is not JSON.", "Header bukan JSON.") from None
    if not isinstance(header, dict):
        raise BadPacket("The header is not a JSON object.", "Header bukan objek JSON.")
    for field in ("packet_id", "kiosk_id", "created_at", "alg"):
        if not isinstance(header.get(field), str) or not header[field]:
            raise BadPacket(f"Header field {field!r} is missing.", f"Kolom header {field!r} tidak ada.")
    if header["alg"] != ALG:
        raise BadPacket(f"Unsupported algorithm {header['alg']!r}.", f"Algoritme {header['alg']!r} tidak didukung.")
    ciphertext = blob[9 + header_len:]
    if len(ciphertext) < 16 + 2:
        raise BadPacket("Truncated: the ciphertext is missing.", "Terpotong: isi terenkripsi tidak ada.")
    return header, header_bytes, ciphertext


def verify_manifest(rec: dict) -> None:
    """Every part's bytes match its hash, and the manifest names exactly those hashes."""
    try:
        manifest = rec["manifest"]
        if hashlib.sha256(json.dumps(rec["biodata"], sort_keys=True).encode()).hexdigest() != manifest["biodata"]:
            raise BadHash("Biodata does not match its hash.", "Biodata tidak cocok dengan hash-nya.")
        seen = {}
        for p in rec["parts"]:
            name = f"{p['kind']}:{p['position']}"
            digest = hashlib.sha256(base64.b64decode(p["data"], validate=True)).hexdigest()
            if digest != p["sha256"] or manifest["parts"].get(name) != digest:
                raise BadHash(f"Part {name} does not match its hash.", f"Bagian {name} tidak cocok dengan hash-nya.",
                              part=name)
            seen[name] = digest
        if set(seen) != set(manifest["parts"]):
            raise BadHash("The manifest names parts that are not in the packet.",
                          "Manifest menyebut bagian yang tidak ada di paket.")
    except PacketError:
        raise
    except (KeyError, TypeError, AttributeError, binascii.Error, ValueError):
        raise BadHash("The record has no usable manifest.", "Rekaman tidak punya manifest yang bisa dipakai.") from None


def open_sealed(blob: bytes, central_private_key: X25519PrivateKey,
                kiosk_public_key: Callable[[str], Ed25519PublicKey | None]) -> tuple[dict, dict]:
    """Decrypt, check the signature of the kiosk named in the header, check the manifest.

    Returns (header, record). Raises a :class:`PacketError` subclass for each kind of failure.
    """
    header, header_bytes, ciphertext = read_header(blob)
    epk = _b64(header, "epk", 32)
    nonce = _b64(header, "nonce", 12)
    if not isinstance(central_private_key, X25519PrivateKey):
        raise DecryptFailed("This key cannot decrypt packets (not the centre's X25519 private key).",
                            "Kunci ini tidak bisa membuka paket (bukan kunci rahasia X25519 pusat).")
    try:
        key = _derive(central_private_key.exchange(X25519PublicKey.from_public_bytes(epk)))
        inner = AESGCM(key).decrypt(nonce, ciphertext, _aad(header_bytes))
    except (InvalidTag, ValueError):
        raise DecryptFailed() from None
    public = kiosk_public_key(header["kiosk_id"])
    if public is None:
        raise UnknownKiosk(kiosk_id=header["kiosk_id"])
    if len(inner) < 2:
        raise BadPacket("The inner packet is truncated.", "Isi paket terpotong.")
    (sig_len,) = struct.unpack(">H", inner[:2])
    signature, body = inner[2:2 + sig_len], inner[2 + sig_len:]
    try:
        public.verify(signature, header_bytes + body)
    except InvalidSignature:
        raise BadSignature(kiosk_id=header["kiosk_id"]) from None
    try:
        rec = json.loads(body.decode("utf-8"))
    except ValueError:
        raise BadPacket("The record is not JSON.", "Rekaman bukan JSON.") from None
    if not isinstance(rec, dict) or rec.get("format") != RECORD_FORMAT:
        raise BadPacket("The body is not an e-KTP record.", "Isi paket bukan rekaman e-KTP.")
    if rec.get("kiosk_id") != header["kiosk_id"]:
        raise BadPacket("The record names another kiosk than its header.",
                        "Rekaman menyebut kios lain dari header-nya.")
    verify_manifest(rec)
    return header, rec
