"""Sealed packets (docs/central-protocol.md): round trip, and every kind of damage caught by its own error."""

from __future__ import annotations

import base64
import hashlib
import json
import struct

import pytest
from conftest import complete_enrollment
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packet_helpers import make_record, sealed, sealed_v1

from kiosk import keys, packet
from kiosk.packet import BadHash, BadPacket, BadSignature, DecryptFailed, PacketError, UnknownKiosk

KIOSK = Ed25519PrivateKey.generate()
CENTRE = X25519PrivateKey.generate()
RECORD = make_record("KIOSK-A")
PACKET_ID, BLOB = sealed(RECORD, KIOSK, CENTRE.public_key())


def lookup(kiosk_id):
    return KIOSK.public_key() if kiosk_id == "KIOSK-A" else None


def test_round_trip_gives_back_the_record_and_header():
    header, rec = packet.open_sealed(BLOB, CENTRE, lookup)
    assert rec == RECORD
    assert header["packet_id"] == PACKET_ID and header["kiosk_id"] == "KIOSK-A"
    assert header["alg"] == packet.ALG
    assert BLOB[:5] == b"EKTP\x02"


def test_packet_reveals_no_personal_data():
    assert RECORD["biodata"]["nik"].encode() not in BLOB
    assert RECORD["biodata"]["name"].encode() not in BLOB
    assert RECORD["parts"][0]["data"].encode() not in BLOB
    assert base64.b64decode(RECORD["parts"][0]["data"]) not in BLOB


def test_same_record_sealed_twice_differs():
    # A fresh ephemeral key and nonce per packet: equal records are not linkable on the wire.
    assert sealed(RECORD, KIOSK, CENTRE.public_key(), PACKET_ID)[1] != BLOB


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(position=st.integers(min_value=0, max_value=len(BLOB) - 1), flip=st.integers(min_value=1, max_value=255))
def test_flipping_any_byte_is_refused(position, flip):
    damaged = bytearray(BLOB)
    damaged[position] ^= flip
    with pytest.raises(PacketError):
        packet.open_sealed(bytes(damaged), CENTRE, lookup)


@pytest.mark.parametrize("region", ["magic", "version", "header", "ciphertext"])
def test_each_region_of_damage_has_its_error(region):
    header_len = struct.unpack(">I", BLOB[5:9])[0]
    at = {"magic": 0, "version": 4, "header": 9 + header_len - 3, "ciphertext": len(BLOB) - 1}[region]
    damaged = bytearray(BLOB)
    damaged[at] ^= 0x01
    expected = DecryptFailed if region in ("header", "ciphertext") else BadPacket
    with pytest.raises(expected) as err:
        packet.open_sealed(bytes(damaged), CENTRE, lookup)
    assert err.value.code == expected.code_
    assert err.value.message.id and err.value.message.en and err.value.message.id != err.value.message.en


def test_signed_by_another_kiosk_key_is_bad_signature():
    impostor = Ed25519PrivateKey.generate()
    _, blob = sealed(RECORD, impostor, CENTRE.public_key())
    with pytest.raises(BadSignature) as err:
        packet.open_sealed(blob, CENTRE, lookup)
    assert err.value.code == "bad_signature"


def test_unknown_kiosk():
    _, blob = sealed(make_record("KIOSK-Z"), KIOSK, CENTRE.public_key())
    with pytest.raises(UnknownKiosk) as err:
        packet.open_sealed(blob, CENTRE, lookup)
    assert err.value.code == "unknown_kiosk" and err.value.details["kiosk_id"] == "KIOSK-Z"


HEADER_END = 9 + struct.unpack(">I", BLOB[5:9])[0]


@pytest.mark.parametrize("keep", [0, 3, 8, 20, HEADER_END, HEADER_END + 17])
def test_truncated_framing_is_bad_packet(keep):
    with pytest.raises(BadPacket):
        packet.open_sealed(BLOB[:keep], CENTRE, lookup)


@pytest.mark.parametrize("keep", [HEADER_END + 18, len(BLOB) - 1])
def test_truncated_ciphertext_fails_authentication(keep):
    # Framing intact but bytes missing from the end: only the GCM tag can tell, and it does.
    with pytest.raises(DecryptFailed):
        packet.open_sealed(BLOB[:keep], CENTRE, lookup)


def test_truncated_header_is_bad_packet():
    with pytest.raises(BadPacket) as err:
        packet.open_sealed(BLOB[:40], CENTRE, lookup)
    assert err.value.code == "bad_packet"


def test_part_changed_before_sealing_with_manifest_kept_is_bad_hash():
    rec = make_record("KIOSK-A")
    finger = next(p for p in rec["parts"] if p["kind"] == "finger")
    other = bytes(reversed(base64.b64decode(finger["data"])))  # same size, other bytes
    finger["data"] = base64.b64encode(other).decode()  # sha256 and manifest left as they were
    _, blob = sealed(rec, KIOSK, CENTRE.public_key())
    with pytest.raises(BadHash) as err:
        packet.open_sealed(blob, CENTRE, lookup)
    assert err.value.details["part"] == f"finger:{finger['position']}"


def test_biodata_changed_with_manifest_kept_is_bad_hash():
    rec = make_record("KIOSK-A")
    rec["biodata"]["name"] = "Someone Else"
    _, blob = sealed(rec, KIOSK, CENTRE.public_key())
    with pytest.raises(BadHash):
        packet.open_sealed(blob, CENTRE, lookup)


def test_part_dropped_from_packet_but_kept_in_manifest_is_bad_hash():
    rec = make_record("KIOSK-A")
    rec["parts"].pop()
    _, blob = sealed(rec, KIOSK, CENTRE.public_key())
    with pytest.raises(BadHash):
        packet.open_sealed(blob, CENTRE, lookup)


def test_header_of_another_packet_does_not_fit():
    # Swapping headers between two packets (to relabel one as another) breaks the AAD.
    _, other = sealed(RECORD, KIOSK, CENTRE.public_key())
    n = struct.unpack(">I", BLOB[5:9])[0]
    m = struct.unpack(">I", other[5:9])[0]
    spliced = other[:9 + m] + BLOB[9 + n:]
    with pytest.raises(DecryptFailed):
        packet.open_sealed(spliced, CENTRE, lookup)


def test_not_a_packet_at_all():
    for junk in (b"", b"{}", b"EKTP", b"EKTP\x07" + b"\x00" * 40, json.dumps(RECORD).encode()):
        with pytest.raises(BadPacket):
            packet.open_sealed(junk, CENTRE, lookup)


def test_the_kiosk_cannot_open_its_own_packet():
    # What a kiosk holds: its Ed25519 signing key and the centre's *public* key. Neither opens a packet.
    with pytest.raises(DecryptFailed):
        packet.open_sealed(BLOB, KIOSK, lookup)
    as_x25519 = X25519PrivateKey.from_private_bytes(
        KIOSK.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()))
    with pytest.raises(DecryptFailed):
        packet.open_sealed(BLOB, as_x25519, lookup)
    with pytest.raises(DecryptFailed):
        packet.open_sealed(BLOB, CENTRE.public_key(), lookup)
    with pytest.raises(ValueError, match="only at the centre"):
        packet.unpack(BLOB, packet.SEALED_FORMAT)


def test_pack_with_a_sealer_names_the_sealed_format():
    seal = packet.sealer(KIOSK, CENTRE.public_key())
    payload, fmt = packet.pack(RECORD, sealer=lambda r: seal(r, "pid-1"))
    assert fmt == packet.SEALED_FORMAT == "sealed-v2"
    header, rec = packet.open_sealed(payload, CENTRE, lookup)
    assert header["packet_id"] == "pid-1" and rec == RECORD
    plain, fmt = packet.pack(RECORD)
    assert fmt == packet.PLAIN_FORMAT and packet.unpack(plain, fmt) == RECORD


@pytest.fixture
def open_at_centre(kiosk, tmp_path):
    """Give the kiosk real keys; returns what the centre would do with a payload: open it."""
    signing_path, _ = keys.generate_kiosk_keys(kiosk.data_dir)
    _, central_pub = keys.generate_central_keys(tmp_path / "centre")
    kiosk.enrollments.sealer = packet.sealer(keys.load_signing_key(signing_path),
                                             keys.load_central_public_key(central_pub))
    central_key = keys.load_decryption_key(keys.central_key_paths(tmp_path / "centre")[0])
    kiosk_pub = keys.load_public_key(keys.kiosk_key_paths(kiosk.data_dir)[1])
    return lambda payload: packet.open_sealed(payload, central_key,
                                              lambda k: kiosk_pub if k == kiosk.config.kiosk_id else None)


def test_commit_seals_when_the_kiosk_has_keys(kiosk, demo, open_at_centre):
    eid = complete_enrollment(kiosk, demo)
    result = kiosk.enrollments.commit(demo, eid)
    row = kiosk.store.one("SELECT id, payload, payload_format FROM outbox WHERE enrollment_id = ?", (eid,))
    assert row["payload_format"] == "sealed-v2" and row["id"] == result["packet_id"]
    header, rec = open_at_centre(row["payload"])
    assert header["packet_id"] == row["id"]
    assert rec["registration_id"] == result["registration_id"]
    assert len(rec["parts"]) == 12  # photo, signature, ten fingers
    assert not any(p.name == keys.CENTRAL_PRIVATE for p in (kiosk.data_dir / "keys").iterdir())


def test_kiosk_started_with_both_keys_seals(config, tmp_path):
    from kiosk.app import build_kiosk
    from kiosk.config import load_config
    keys.generate_kiosk_keys(config.data_dir)
    _, central_pub = keys.generate_central_keys(tmp_path / "centre")
    cfg = load_config(simulate=True, overrides={"kiosk": {"data_dir": str(config.data_dir)},
                                                "central": {"public_key": str(central_pub)}})
    k = build_kiosk(cfg, start_workers=False)
    try:
        assert k.sealed and k.enrollments.sealer is not None
    finally:
        k.close()


def test_kiosk_without_keys_stays_plain_and_warns(config, caplog):
    from kiosk.app import build_kiosk
    with caplog.at_level("WARNING"):
        k = build_kiosk(config, start_workers=False)
    try:
        assert not k.sealed
        assert sum("NOT encrypted" in r.getMessage() for r in caplog.records) == 1
    finally:
        k.close()


def test_centre_still_opens_sealed_v1_from_kiosks_not_yet_upgraded():
    blob = sealed_v1(RECORD, KIOSK, CENTRE.public_key(), "pid-v1")
    assert blob[:5] == b"EKTP\x01"
    header, rec = packet.open_sealed(blob, CENTRE, lookup)
    assert rec == RECORD and header["packet_id"] == "pid-v1" and header["version"] == 1
    damaged = bytearray(blob)
    damaged[-1] ^= 0x01
    with pytest.raises(DecryptFailed):
        packet.open_sealed(bytes(damaged), CENTRE, lookup)


def test_v2_carries_parts_raw_beside_a_signed_description():
    # The signature covers the description only; the parts are bound to it by their hashes.
    rec = packet.Record.of(RECORD)
    assert all("data" not in p for p in rec.meta["parts"]) and rec.as_dict() == RECORD
    header, opened = packet.open_sealed(packet.seal(rec, KIOSK, CENTRE.public_key(), packet_id="p2"), CENTRE, lookup)
    assert opened == RECORD and header["version"] == 2


def test_v2_sizes_that_do_not_add_up_are_bad_hash():
    rec = packet.Record.of(RECORD)
    rec.meta["parts"][0]["size"] += 1  # signed as such by the kiosk: a kiosk bug, not transit damage
    with pytest.raises(BadHash, match="sizes"):
        packet.open_sealed(packet.seal(rec, KIOSK, CENTRE.public_key(), packet_id="p3"), CENTRE, lookup)


def test_v2_part_bytes_swapped_with_hashes_kept_is_bad_hash():
    rec = packet.Record.of(RECORD)
    rec.blobs[2], rec.blobs[3] = rec.blobs[3], rec.blobs[2]
    rec.meta["parts"][2]["size"], rec.meta["parts"][3]["size"] = len(rec.blobs[2]), len(rec.blobs[3])
    with pytest.raises(BadHash):
        packet.open_sealed(packet.seal(rec, KIOSK, CENTRE.public_key(), packet_id="p4"), CENTRE, lookup)


def test_the_sync_worker_sends_every_sealed_format_the_packet_module_makes():
    from kiosk import sync
    assert sync.SEALED_FORMATS == packet.SEALED_FORMATS and packet.SEALED_FORMAT in sync.SEALED_FORMATS


def test_a_part_damaged_on_the_kiosk_after_capture_is_refused_by_the_centre(kiosk, demo, open_at_centre):
    eid = complete_enrollment(kiosk, demo)
    photo = kiosk.store.one("SELECT data, meta FROM enrollment_parts WHERE enrollment_id = ? AND kind = 'photo'", (eid,))
    assert json.loads(photo["meta"])["sha256"] == hashlib.sha256(photo["data"]).hexdigest()
    rotten = bytearray(photo["data"])
    rotten[len(rotten) // 2] ^= 0x40  # one bit flipped on the SD card
    with kiosk.store.transaction() as conn:
        conn.execute("UPDATE enrollment_parts SET data = ? WHERE enrollment_id = ? AND kind = 'photo'", (bytes(rotten), eid))
    kiosk.enrollments.commit(demo, eid)
    row = kiosk.store.one("SELECT payload FROM outbox WHERE enrollment_id = ?", (eid,))
    with pytest.raises(BadHash) as err:
        open_at_centre(row["payload"])
    assert err.value.details["part"] == "photo:0"
