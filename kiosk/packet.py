"""The record a committed enrollment sends to the centre, and how it is packed.

A record is self-describing: a format name and version, the biodata, each biometric part
with its SHA-256 in a manifest, exceptions, corrections, operator and kiosk ids and times.
``pack`` turns it into bytes and names the format; sealing (signature by the kiosk's key,
encryption to the centre's key, docs/central-protocol.md) is the further format ``pack``
produces when given a sealer, without changing what a record contains.

A part's SHA-256 is the one taken when it was captured (kept in its meta), so damage to the
stored bytes between capture and commit shows at the centre as a hash mismatch.

In memory a record is a :class:`Record`: its description (everything but the parts' bytes,
each part named with its size and SHA-256) and the parts' bytes beside it. ``sealed-v2`` keeps
them apart on the wire too: the signature covers the header and the description, whose hashes
bind every byte of the parts, and the parts follow raw. So sealing a ~290 KiB record signs
~2 KiB instead of hashing it all twice, and nothing is base64-encoded (``sealed-v1``, JSON with
base64 parts, cost the commit transaction ~2 ms; the centre still opens it).

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
from typing import Callable, NamedTuple

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
SEALED_FORMAT = "sealed-v2"
SEALED_FORMATS = ("sealed-v1", "sealed-v2")  # what may leave the kiosk; the centre opens both
MAGIC = b"EKTP"
SEALED_VERSION = 2
ALG = "X25519-HKDF-SHA256-AES256GCM+Ed25519"
HKDF_INFO = {1: b"ektp-sealed-v1", 2: b"ektp-sealed-v2"}
MAX_DESCRIPTION = 1 << 20  # a real description is ~3 KiB
MAX_HEADER = 4096  # a real header is ~250 bytes; a huge length is damage, not a header


class Record(NamedTuple):
    """A record: its description (parts without their bytes) and the parts' bytes, in order."""

    meta: dict
    blobs: list

    def as_dict(self) -> dict:
        """The JSON shape (``record-json-v1``, ``sealed-v1``): each part's bytes in base64 under ``data``."""
        parts = [dict(p, data=base64.b64encode(b).decode("ascii")) for p, b in zip(self.meta["parts"], self.blobs)]
        return dict(self.meta, parts=parts)

    @classmethod
    def of(cls, rec: "Record | dict") -> "Record":
        if isinstance(rec, Record):
            return rec
        parts = [{k: v for k, v in p.items() if k != "data"} for p in rec["parts"]]
        return cls(dict(rec, parts=parts), [base64.b64decode(p["data"]) for p in rec["parts"]])


# What a record is built from; also all the commit needs to check a draft is complete.
PARTS_SQL = ("SELECT kind, position, meta, length(data) AS size, data FROM enrollment_parts "
             "WHERE enrollment_id = ? ORDER BY kind, position")


def collect(conn: sqlite3.Connection, enrollment_id: str, *, kiosk_id: str, enrollment=None,
            parts: list | None = None) -> Record:
    """The record of an enrollment. The commit passes the ``enrollment`` row (as it is being
    committed) and the ``parts`` rows (:data:`PARTS_SQL`) it has read in its own transaction."""
    e = enrollment
    if e is None:
        e = conn.execute("SELECT * FROM enrollments WHERE id = ?", (enrollment_id,)).fetchone()
    if parts is None:
        parts_rows = conn.execute(PARTS_SQL, (enrollment_id,))
    else:
        parts_rows = sorted(parts, key=lambda p: (p["kind"], p["position"]))
    parts, blobs, exceptions = [], [], []
    for p in parts_rows:
        meta = json.loads(p["meta"])
        if p["kind"] == "exception":
            exceptions.append({"position": p["position"], "reason": meta["reason"], "by": meta.get("by")})
        elif p["data"] is not None:
            data = bytes(p["data"])
            parts.append({"kind": p["kind"], "position": p["position"],
                          "media_type": "image/jpeg" if p["kind"] == "photo" else "image/png",
                          "sha256": meta.get("sha256") or hashlib.sha256(data).hexdigest(), "size": len(data),
                          **{k: v for k, v in meta.items() if k in ("quality", "dpi")}})
            blobs.append(data)
    biodata = json.loads(e["biodata"])
    manifest = {"biodata": hashlib.sha256(json.dumps(biodata, sort_keys=True).encode()).hexdigest(),
                "parts": {f"{p['kind']}:{p['position']}": p["sha256"] for p in parts}}
    return Record({"format": RECORD_FORMAT, "version": RECORD_VERSION, "enrollment_id": e["id"],
                   "registration_id": e["registration_id"], "kiosk_id": kiosk_id, "operator_id": e["operator_id"],
                   "simulated": bool(e["simulated"]), "village": e["village"], "created_at": e["created_at"],
                   "committed_at": e["committed_at"], "biodata": biodata, "corrections": json.loads(e["corrections"]),
                   "override": json.loads(e["override"]) if e["override"] else None,
                   "exceptions": exceptions, "parts": parts, "manifest": manifest}, blobs)


def record(conn: sqlite3.Connection, enrollment_id: str, *, kiosk_id: str) -> dict:
    """The record of a committed enrollment in its JSON shape (parts in base64)."""
    return collect(conn, enrollment_id, kiosk_id=kiosk_id).as_dict()


def canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")


def pack(rec: Record | dict, sealer: Callable[[Record | dict], bytes] | None = None) -> tuple[bytes, str]:
    """Bytes for the outbox and their format: sealed when a sealer is given, plain otherwise."""
    if sealer is not None:
        return sealer(rec), SEALED_FORMAT
    return canonical(rec.as_dict() if isinstance(rec, Record) else rec), PLAIN_FORMAT


def unpack(payload: bytes, payload_format: str) -> dict:
    if payload_format in SEALED_FORMATS:
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


def _derive(shared: bytes, version: int = SEALED_VERSION) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO[version]).derive(shared)


def _aad(header_bytes: bytes, version: int = SEALED_VERSION) -> bytes:
    return MAGIC + bytes([version]) + header_bytes


def seal(rec: Record | dict, signing_key: Ed25519PrivateKey, central_public_key: X25519PublicKey, *,
         packet_id: str, created_at: str | None = None) -> bytes:
    """Sign the record with the kiosk's key and encrypt it to the centre's public key (``sealed-v2``)."""
    rec = Record.of(rec)
    ephemeral = X25519PrivateKey.generate()
    key = _derive(ephemeral.exchange(central_public_key))
    nonce = os.urandom(12)
    epk = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    header = canonical({
        "packet_id": str(packet_id), "kiosk_id": str(rec.meta["kiosk_id"]),
        "created_at": created_at or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "alg": ALG, "epk": base64.b64encode(epk).decode("ascii"), "nonce": base64.b64encode(nonce).decode("ascii")})
    description = canonical(rec.meta)
    signature = signing_key.sign(header + description)
    inner = b"".join([struct.pack(">H", len(signature)), signature, struct.pack(">I", len(description)),
                      description, *rec.blobs])
    ciphertext = AESGCM(key).encrypt(nonce, inner, _aad(header))
    return MAGIC + bytes([SEALED_VERSION]) + struct.pack(">I", len(header)) + header + ciphertext


def sealer(signing_key: Ed25519PrivateKey, central_public_key: X25519PublicKey) -> Callable[[Record | dict, str], bytes]:
    """What the kiosk's commit calls: ``(record, packet_id) -> sealed bytes``."""
    def _seal(rec: Record | dict, packet_id: str) -> bytes:
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
    """(header, header bytes, ciphertext) after checking the framing; nothing is decrypted.

    The header gains ``"version"`` (1 or 2), read from the framing.
    """
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise BadPacket("The packet is not bytes.", "Paket bukan data biner.")
    blob = bytes(blob)
    if len(blob) < 9:
        raise BadPacket("Truncated before the header.", "Terpotong sebelum header.")
    if blob[:4] != MAGIC:
        raise BadPacket("Wrong magic bytes.", "Penanda awal paket salah.")
    if blob[4] not in HKDF_INFO:
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
    header["version"] = blob[4]
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


def _split_v2(inner: bytes) -> tuple[bytes, bytes, bytes]:
    """(signature, description bytes, the parts' bytes) — or BadPacket."""
    if len(inner) < 2:
        raise BadPacket("The inner packet is truncated.", "Isi paket terpotong.")
    (sig_len,) = struct.unpack(">H", inner[:2])
    at = 2 + sig_len
    if len(inner) < at + 4:
        raise BadPacket("The inner packet is truncated.", "Isi paket terpotong.")
    (desc_len,) = struct.unpack(">I", inner[at:at + 4])
    if desc_len > MAX_DESCRIPTION or len(inner) < at + 4 + desc_len:
        raise BadPacket("Truncated or impossible description length.", "Panjang deskripsi tidak mungkin atau terpotong.")
    return inner[2:at], inner[at + 4:at + 4 + desc_len], inner[at + 4 + desc_len:]


def _record_v2(description: bytes, body: bytes) -> dict:
    """The signed description and the parts' bytes after it, as the record's JSON shape."""
    try:
        meta = json.loads(description.decode("utf-8"))
        sizes = [int(p["size"]) for p in meta["parts"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BadPacket("The record's description is not usable JSON.",
                        "Deskripsi rekaman bukan JSON yang bisa dipakai.") from None
    if any(n < 0 for n in sizes) or sum(sizes) != len(body):  # signed so: the parts are not what the kiosk described
        raise BadHash("The parts' sizes do not add up to the bytes that follow.",
                      "Ukuran bagian-bagian tidak sesuai dengan data yang menyusul.")
    blobs, offset = [], 0
    for n in sizes:
        blobs.append(body[offset:offset + n])
        offset += n
    return Record(meta, blobs).as_dict()


def open_sealed(blob: bytes, central_private_key: X25519PrivateKey,
                kiosk_public_key: Callable[[str], Ed25519PublicKey | None]) -> tuple[dict, dict]:
    """Decrypt, check the signature of the kiosk named in the header, check the manifest.

    Opens ``sealed-v1`` and ``sealed-v2``. Returns (header, record in its JSON shape). Raises a
    :class:`PacketError` subclass for each kind of failure.
    """
    header, header_bytes, ciphertext = read_header(blob)
    version = header["version"]
    epk = _b64(header, "epk", 32)
    nonce = _b64(header, "nonce", 12)
    if not isinstance(central_private_key, X25519PrivateKey):
        raise DecryptFailed("This key cannot decrypt packets (not the centre's X25519 private key).",
                            "Kunci ini tidak bisa membuka paket (bukan kunci rahasia X25519 pusat).")
    try:
        key = _derive(central_private_key.exchange(X25519PublicKey.from_public_bytes(epk)), version)
        inner = AESGCM(key).decrypt(nonce, ciphertext, _aad(header_bytes, version))
    except (InvalidTag, ValueError):
        raise DecryptFailed() from None
    public = kiosk_public_key(header["kiosk_id"])
    if public is None:
        raise UnknownKiosk(kiosk_id=header["kiosk_id"])
    if version == 1:
        if len(inner) < 2:
            raise BadPacket("The inner packet is truncated.", "Isi paket terpotong.")
        (sig_len,) = struct.unpack(">H", inner[:2])
        signature, signed = inner[2:2 + sig_len], inner[2 + sig_len:]
    else:
        signature, signed, body = _split_v2(inner)
    try:
        public.verify(signature, header_bytes + signed)
    except InvalidSignature:
        raise BadSignature(kiosk_id=header["kiosk_id"]) from None
    if version == 1:
        try:
            rec = json.loads(signed.decode("utf-8"))
        except ValueError:
            raise BadPacket("The record is not JSON.", "Rekaman bukan JSON.") from None
    else:
        rec = _record_v2(signed, body)
    if not isinstance(rec, dict) or rec.get("format") != RECORD_FORMAT:
        raise BadPacket("The body is not an e-KTP record.", "Isi paket bukan rekaman e-KTP.")
    if rec.get("kiosk_id") != header["kiosk_id"]:
        raise BadPacket("The record names another kiosk than its header.",
                        "Rekaman menyebut kios lain dari header-nya.")
    verify_manifest(rec)
    return header, rec
