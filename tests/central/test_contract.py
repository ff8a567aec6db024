"""The centre's HTTP contract (docs/central-protocol.md), run against every store backend.

SQLite always; PostgreSQL on a real throwaway cluster started from Debian's binaries for this
session (skipped, with the reason printed, only when those binaries are absent).
"""

from __future__ import annotations

import tempfile
import time
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from packet_helpers import make_record, sealed

from central import pipeline
from central.app import create_app
from kiosk import keys

KIOSK_ID = "KIOSK-A"
OTHER_NIK = "6403060101900001"


@pytest.fixture(scope="module")
def centre_key():
    return keys.load_decryption_key(keys.generate_central_keys(tempfile.mkdtemp(prefix="ektp-centre-"))[0])


@pytest.fixture(scope="module")
def kiosk_key():
    return Ed25519PrivateKey.generate()


@pytest.fixture
def client(store, centre_key, kiosk_key):
    store.add_kiosk(KIOSK_ID, keys.public_pem(kiosk_key.public_key()))
    app = create_app(store, centre_key, max_body=256 * 1024)
    app.testing = True
    return app.test_client()


def put(client, packet_id, blob, kiosk_id=KIOSK_ID):
    return client.put(f"/api/v1/packets/{packet_id}", data=blob,
                      headers={"X-Kiosk-Id": kiosk_id, "Content-Type": "application/octet-stream"})


def status(client, signing_key, since=0, *, kiosk_id=KIOSK_ID, at=None):
    path = f"/api/v1/kiosks/{kiosk_id}/status?since={since}"
    return client.get(path, headers=keys.status_request_headers(kiosk_id, signing_key, path, at or int(time.time())))


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.get_json()["status"] == "ok"


def test_first_receipt_201_then_same_bytes_200_same_receipt(client, store, centre_key, kiosk_key):
    import hashlib
    rec = make_record(KIOSK_ID)
    pid, blob = sealed(rec, kiosk_key, centre_key.public_key())
    first = put(client, pid, blob)
    assert first.status_code == 201, first.get_json()
    receipt = first.get_json()
    assert receipt["packet_id"] == pid and receipt["sha256"] == hashlib.sha256(blob).hexdigest()
    assert receipt["registration_id"] == rec["registration_id"] and receipt["status"] == "PRR"
    again = put(client, pid, blob)
    assert again.status_code == 200 and again.get_json() == receipt
    posted = client.post(f"/api/v1/packets/{pid}", data=blob,  # POST is the same operation
                         headers={"X-Kiosk-Id": KIOSK_ID, "Content-Type": "application/octet-stream"})
    assert posted.status_code == 200 and posted.get_json() == receipt
    row = store.get_packet(pid, body=True)
    assert row["body"] == blob and row["record"] == rec and row["nik"] == rec["biodata"]["nik"]
    assert len(store.packets()) == 1


def test_other_bytes_under_a_known_id_409(client, store, centre_key, kiosk_key):
    rec = make_record(KIOSK_ID)
    pid, blob = sealed(rec, kiosk_key, centre_key.public_key())
    assert put(client, pid, blob).status_code == 201
    _, resealed = sealed(rec, kiosk_key, centre_key.public_key(), pid)  # same id and record, other bytes
    r = put(client, pid, resealed)
    assert r.status_code == 409 and r.get_json()["error"] == "conflict"
    assert store.get_packet(pid, body=True)["body"] == blob


def test_unknown_kiosk_403(client, store, centre_key):
    stranger = Ed25519PrivateKey.generate()
    pid, blob = sealed(make_record("KIOSK-Z"), stranger, centre_key.public_key())
    r = put(client, pid, blob, kiosk_id="KIOSK-Z")
    assert r.status_code == 403 and r.get_json()["error"] == "unknown_kiosk"
    assert store.get_packet(pid) is None


def test_packet_claiming_a_registered_kiosk_but_signed_by_another_key_422(client, store, centre_key):
    impostor = Ed25519PrivateKey.generate()
    pid, blob = sealed(make_record(KIOSK_ID), impostor, centre_key.public_key())
    r = put(client, pid, blob)
    assert r.status_code == 422 and r.get_json()["error"] == "bad_signature"
    assert store.get_packet(pid) is None and store.packets() == []


@pytest.mark.parametrize("where", [0, 30, -40, -1])
def test_tampered_byte_422_and_nothing_stored(client, store, centre_key, kiosk_key, where):
    pid, blob = sealed(make_record(KIOSK_ID), kiosk_key, centre_key.public_key())
    damaged = bytearray(blob)
    damaged[where] ^= 0x20
    r = put(client, pid, bytes(damaged))
    assert r.status_code == 422
    body = r.get_json()
    assert body["error"] in ("bad_packet", "decrypt_failed") and body["message_id"] and body["message_en"]
    assert store.get_packet(pid) is None and store.packets() == []
    changes, cursor = store.status_changes(KIOSK_ID, 0)
    assert changes == [] and cursor == 0
    assert put(client, pid, blob).status_code == 201  # the intact copy still gets in afterwards


def test_bad_hash_422(client, store, centre_key, kiosk_key):
    import base64
    rec = make_record(KIOSK_ID)
    rec["parts"][0]["data"] = base64.b64encode(b"swapped photo").decode()
    pid, blob = sealed(rec, kiosk_key, centre_key.public_key())
    r = put(client, pid, blob)
    assert r.status_code == 422 and r.get_json()["error"] == "bad_hash"
    assert store.packets() == []


def test_packet_id_must_match_its_header(client, store, centre_key, kiosk_key):
    pid, blob = sealed(make_record(KIOSK_ID), kiosk_key, centre_key.public_key())
    r = put(client, str(uuid.uuid4()), blob)
    assert r.status_code == 422 and r.get_json()["error"] == "bad_packet"
    assert store.packets() == []


def test_body_over_the_limit_413(client, store):
    r = put(client, str(uuid.uuid4()), b"\0" * (256 * 1024 + 1))
    assert r.status_code == 413 and r.get_json()["error"] == "too_large"
    assert store.packets() == []


def test_status_feed_after_the_pipeline(client, store, centre_key, kiosk_key):
    first = make_record(KIOSK_ID)
    pid1, blob1 = sealed(first, kiosk_key, centre_key.public_key())
    assert put(client, pid1, blob1).get_json()["status"] == "PRR"
    again = make_record(KIOSK_ID)  # the same resident recorded a second time
    pid2, blob2 = sealed(again, kiosk_key, centre_key.public_key())
    assert put(client, pid2, blob2).get_json()["status"] == "DUPLICATE"

    r = status(client, kiosk_key, 0)
    assert r.status_code == 200, r.get_json()
    feed = r.get_json()
    assert [(c["packet_id"], c["status"]) for c in feed["changes"]] == [
        (pid1, "received"), (pid1, "PRR"), (pid2, "received"), (pid2, "DUPLICATE")]
    dup = feed["changes"][-1]
    assert dup["registration_id"] == again["registration_id"] and dup["duplicate_of"] == first["registration_id"]
    assert all(first["biodata"]["nik"] not in str(c) for c in feed["changes"])  # the feed names no NIK
    cursor = feed["cursor"]
    assert status(client, kiosk_key, cursor).get_json() == {"changes": [], "cursor": cursor}
    later = status(client, kiosk_key, 2).get_json()
    assert [c["packet_id"] for c in later["changes"]] == [pid2, pid2] and later["cursor"] == cursor


def test_same_nik_different_biodata_goes_to_adjudication(client, centre_key, kiosk_key):
    pid1, blob1 = sealed(make_record(KIOSK_ID), kiosk_key, centre_key.public_key())
    put(client, pid1, blob1)
    pid2, blob2 = sealed(make_record(KIOSK_ID, name="Siti Rahmawati"), kiosk_key, centre_key.public_key())
    assert put(client, pid2, blob2).get_json()["status"] == "ADJUDICATE"
    pid3, blob3 = sealed(make_record(KIOSK_ID, nik=OTHER_NIK), kiosk_key, centre_key.public_key())
    assert put(client, pid3, blob3).get_json()["status"] == "PRR"


def test_training_records_flagged_and_kept_apart(client, store, centre_key, kiosk_key):
    pid1, blob1 = sealed(make_record(KIOSK_ID, simulated=True), kiosk_key, centre_key.public_key())
    assert put(client, pid1, blob1).status_code == 201
    pid2, blob2 = sealed(make_record(KIOSK_ID), kiosk_key, centre_key.public_key())
    assert put(client, pid2, blob2).get_json()["status"] == "PRR"  # practice does not block a real resident
    assert store.get_packet(pid1)["simulated"] is True
    assert store.get_packet(pid1)["status_detail"]["training"] is True
    training = [c for c in status(client, kiosk_key).get_json()["changes"] if c["packet_id"] == pid1]
    assert training[-1]["training"] is True


def test_biometric_hook_can_send_to_adjudication(client, centre_key, kiosk_key, monkeypatch):
    seen = []

    def matcher(record, store):
        seen.append(record["registration_id"])
        return [{"packet_id": "x", "score": 0.99}]
    monkeypatch.setattr(pipeline, "biometric_check", matcher)
    rec = make_record(KIOSK_ID, nik=OTHER_NIK)
    pid, blob = sealed(rec, kiosk_key, centre_key.public_key())
    assert put(client, pid, blob).get_json()["status"] == "ADJUDICATE"
    assert seen == [rec["registration_id"]]


def test_clock_skew_401(client, kiosk_key):
    r = status(client, kiosk_key, 0, at=int(time.time()) - 3600)
    assert r.status_code == 401
    body = r.get_json()
    assert body["error"] == "clock_skew" and abs(body["server_time"] - time.time()) < 60
    assert "jam" in body["message_id"] and "clock" in body["message_en"]


def test_bad_signature_on_status_request_401(client, kiosk_key):
    other = Ed25519PrivateKey.generate()
    r = status(client, other, 0)
    assert r.status_code == 401 and r.get_json()["error"] == "bad_signature"
    # A valid signature over another path (since=0) does not authorise since=5.
    path = f"/api/v1/kiosks/{KIOSK_ID}/status?since=0"
    t = int(time.time())
    headers = keys.status_request_headers(KIOSK_ID, kiosk_key, path, t)
    r = client.get(f"/api/v1/kiosks/{KIOSK_ID}/status?since=5", headers=headers)
    assert r.status_code == 401
    r = client.get(path, headers={**headers, "X-Kiosk-Signature": "%%%"})
    assert r.status_code == 401


def test_status_feed_of_another_or_unknown_kiosk(client, kiosk_key):
    path = "/api/v1/kiosks/KIOSK-B/status?since=0"
    r = client.get(path, headers=keys.status_request_headers(KIOSK_ID, kiosk_key, path, int(time.time())))
    assert r.status_code == 403
    assert status(client, kiosk_key, kiosk_id="KIOSK-Z").status_code == 403


def test_progress_view(client, store, centre_key, kiosk_key):
    store.set_eligible("Gunung Tabur", 4)
    store.set_eligible("Maluang", 10)
    for rec in (make_record(KIOSK_ID), make_record(KIOSK_ID), make_record(KIOSK_ID, nik=OTHER_NIK),
                make_record(KIOSK_ID, nik="6403060101900002", village="Maluang"),
                make_record(KIOSK_ID, nik="6403060101900003", simulated=True)):
        pid, blob = sealed(rec, kiosk_key, centre_key.public_key())
        assert put(client, pid, blob).status_code == 201
    r = client.get("/api/v1/progress")
    assert r.status_code == 200
    doc = r.get_json()
    by = {v["village"]: v for v in doc["villages"]}
    assert by["Gunung Tabur"]["recorded"] == 2 and by["Gunung Tabur"]["eligible"] == 4
    assert by["Gunung Tabur"]["percent"] == 50.0 and by["Gunung Tabur"]["prr"] == 2
    assert by["Gunung Tabur"]["training_records"] == 1
    assert by["Maluang"]["recorded"] == 1 and by["Maluang"]["percent"] == 10.0
    assert doc["recorded"] == 3 and doc["eligible"] == 14


def test_undecided_packets_are_decided_at_start(store, centre_key, kiosk_key):
    store.add_kiosk(KIOSK_ID, keys.public_pem(kiosk_key.public_key()))
    rec = make_record(KIOSK_ID)
    store.insert_packet(packet_id="p1", kiosk_id=KIOSK_ID, sha256="00", body=b"x", registration_id="r1",
                        nik=rec["biodata"]["nik"], village="v", simulated=False, record=rec)
    assert store.get_packet("p1")["status"] == "received"
    assert pipeline.process_pending(store) == 1
    assert store.get_packet("p1")["status"] == "PRR"
    assert pipeline.process_pending(store) == 0


def test_concurrent_packets_of_one_resident_get_one_prr(store, centre_key, kiosk_key):
    # Ten packets of the same resident decided from ten threads: exactly one PRR, the rest DUPLICATE.
    from concurrent.futures import ThreadPoolExecutor
    store.add_kiosk(KIOSK_ID, keys.public_pem(kiosk_key.public_key()))
    ids = []
    for i in range(10):
        rec = make_record(KIOSK_ID)
        store.insert_packet(packet_id=f"p{i}", kiosk_id=KIOSK_ID, sha256="00", body=b"x",
                            registration_id=f"r{i}", nik=rec["biodata"]["nik"], village="v", simulated=False,
                            record=rec)
        ids.append(f"p{i}")
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda pid: pipeline.process(store, pid)["status"], ids))
    assert sorted(results) == ["DUPLICATE"] * 9 + ["PRR"]
    changes, cursor = store.status_changes(KIOSK_ID, 0)
    assert [c["seq"] for c in changes] == list(range(1, 21)) and cursor == 20


def test_a_real_kiosk_commit_is_accepted(kiosk, demo, store, centre_key, tmp_path):
    # The record of a real commit (simulated devices, real workflow) sealed by the real commit path.
    from conftest import complete_enrollment

    from kiosk import packet
    signing_path, public_path = keys.generate_kiosk_keys(kiosk.data_dir)
    kiosk.enrollments.sealer = packet.sealer(keys.load_signing_key(signing_path), centre_key.public_key())
    store.add_kiosk(kiosk.config.kiosk_id, keys.public_pem(keys.load_public_key(public_path)))
    app = create_app(store, centre_key)
    eid = complete_enrollment(kiosk, demo)
    result = kiosk.enrollments.commit(demo, eid)
    row = kiosk.store.one("SELECT id, payload FROM outbox WHERE enrollment_id = ?", (eid,))
    r = put(app.test_client(), row["id"], row["payload"], kiosk_id=kiosk.config.kiosk_id)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["registration_id"] == result["registration_id"]
    held = store.get_packet(row["id"])
    assert held["nik"] == kiosk.enrollments.get(eid)["nik"] and held["simulated"] is True
    assert held["village"] == "Gunung Tabur"
