"""kiosk/sync.py against a REAL centre (`central run` on a free 127.0.0.1 port).

Records are committed through the real enrollment service with simulated devices, sealed with the
kiosk's real key to the centre's real key, and drained over HTTP; what the centre holds is read
back with `central packets --json`.
"""

from __future__ import annotations

import http.server
import json
import random
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from central_helpers import (ROOT, Central, env, free_port, kiosk_config, setup_kiosk_keys, wait_until,
                             write_kiosk_toml)
from conftest import BIODATA, complete_enrollment

from kiosk import keys, packet
from kiosk.app import build_kiosk
from kiosk.sync import Sync, SyncSettings, SyncWorker, backoff_ceiling, backoff_delay, sync_once


def nik(serial: int) -> str:
    return f"640306410790{serial:04d}"  # female, born 1 July 1990, Kec. Gunung Tabur: agrees with BIODATA


@pytest.fixture
def central(tmp_path):
    c = Central(tmp_path / "central").start()
    yield c
    c.stop()


@pytest.fixture
def kiosk_dir(tmp_path, central):
    d = tmp_path / "kiosk"
    setup_kiosk_keys(central, d)
    return d


@pytest.fixture
def kiosk(kiosk_dir, central):
    k = build_kiosk(kiosk_config(kiosk_dir, central.url, central.public_key, timeout_seconds=5),
                    start_workers=False)
    assert k.sealed
    yield k
    k.close()


@pytest.fixture
def op(kiosk):
    return kiosk.operators.verify_pin("demo", "123456")


def commit(kiosk, op, serial: int) -> dict:
    eid = complete_enrollment(kiosk, op, nik=nik(serial), biodata=dict(BIODATA))
    return kiosk.enrollments.commit(op, eid)


def outbox_row(kiosk, packet_id: str) -> dict:
    return dict(kiosk.store.one("SELECT id, state, attempts, last_error, error_code, sent_at, acknowledged_at, "
                                "purged_at, payload IS NULL AS purged_payload, receipt, next_attempt_at "
                                "FROM outbox WHERE id = ?", (packet_id,)))


def other_sync(kiosk, url: str, **kw) -> Sync:
    """A second Sync over the same store, pointed elsewhere (a hostile peer, a dead port)."""
    s = SyncSettings.from_config(kiosk.config)
    s.url = url
    for k, v in kw.items():
        setattr(s, k, v)
    return Sync(kiosk.store, s, clock=kw.pop("clock", time.time) if "clock" in kw else time.time)


class _Fixed(http.server.BaseHTTPRequestHandler):
    """A peer that reads the body and answers one fixed thing (used for a mismatching receipt)."""

    answer: tuple[int, bytes] = (201, b"{}")

    def do_PUT(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        status, body = self.answer
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT

    def log_message(self, *_a):
        pass


def serve(handler) -> tuple[http.server.HTTPServer, str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_port}"


# --- the tests ----------------------------------------------------------------------------------
def test_drains_oldest_first_marks_sent_and_pulls_prr(kiosk, op, central):
    committed = [commit(kiosk, op, s) for s in (1, 2, 3)]
    assert kiosk.sync.status()["queue"] == 3

    report = sync_once(kiosk)

    assert report.sent == 3 and report.failed == 0 and report.held == 0
    assert [p["packet_id"] for p in report.packets] == [c["packet_id"] for c in committed]  # oldest first
    held = central.packets()
    assert [p["packet_id"] for p in held] == [c["packet_id"] for c in committed]  # arrival order too
    for c in committed:
        row = outbox_row(kiosk, c["packet_id"])
        assert row["state"] == "sent" and row["attempts"] == 1 and row["sent_at"]
        receipt = json.loads(row["receipt"])
        assert receipt["packet_id"] == c["packet_id"]
        assert receipt["registration_id"] == c["registration_id"]
        # the status pull of the same round: the centre found each record unique → PRR, acknowledged
        assert kiosk.enrollments.get(c["id"])["status"] == "PRR"
        assert row["acknowledged_at"] is not None
    assert report.status_changes >= 3
    st = kiosk.sync.status()
    assert st["queue"] == 0 and st["state"] == "ok" and st["last_success_at"] and st["last_failure"] is None
    assert st["status_cursor"] >= 3


def test_a_second_round_sends_nothing_again(kiosk, op, central):
    c = commit(kiosk, op, 1)
    assert sync_once(kiosk).sent == 1
    again = sync_once(kiosk)
    assert again.sent == 0 and again.failed == 0
    assert outbox_row(kiosk, c["packet_id"])["attempts"] == 1
    assert len(central.packets()) == 1


def test_sent_only_when_the_receipt_matches(kiosk, op, central):
    c = commit(kiosk, op, 1)
    handler = type("Wrong", (_Fixed,), {"answer": (201, json.dumps(
        {"packet_id": c["packet_id"], "sha256": "0" * 64, "status": "received"}).encode())})
    srv, url = serve(handler)
    try:
        report = other_sync(kiosk, url).run_once(force=True)
    finally:
        srv.shutdown()
    row = outbox_row(kiosk, c["packet_id"])
    assert report.sent == 0 and report.stopped_by["code"] == "receipt_mismatch"
    assert row["state"] == "failed" and row["error_code"] == "receipt_mismatch" and row["sent_at"] is None
    assert "Tanda terima pusat tidak cocok" in row["last_error"] and "receipt does not match" in row["last_error"]
    assert row["next_attempt_at"] is not None  # retryable: it is coming back

    assert sync_once(kiosk).sent == 1  # the real centre's receipt checks out
    row = outbox_row(kiosk, c["packet_id"])
    assert row["state"] == "sent" and row["attempts"] == 2 and row["error_code"] is None


def test_crash_between_sending_and_receipt_is_resent_and_held_once(kiosk, op, central, kiosk_dir):
    c = commit(kiosk, op, 1)
    # What a kill -9 mid-send leaves: the row marked sending (committed first), the bytes at the centre,
    # no receipt recorded on the kiosk.
    with kiosk.store.transaction() as conn:
        conn.execute("UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ?", (c["packet_id"],))
    payload = bytes(kiosk.store.one("SELECT payload FROM outbox WHERE id = ?", (c["packet_id"],))["payload"])
    req = urllib.request.Request(f"{central.url}/api/v1/packets/{c['packet_id']}", data=payload, method="PUT",
                                 headers={"X-Kiosk-Id": kiosk.config.kiosk_id,
                                          "Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 201
    kiosk.close()

    restarted = build_kiosk(kiosk.config, start_workers=False)
    try:
        assert restarted.sync.status()["queue"] == 1
        report = sync_once(restarted)
        assert report.sent == 1
        row = outbox_row(restarted, c["packet_id"])
        assert row["state"] == "sent" and row["attempts"] == 2
    finally:
        restarted.close()
    held = central.packets()
    assert [p["packet_id"] for p in held] == [c["packet_id"]]


def test_purge_after_retention_keeps_a_receipt(kiosk, op, central):
    c = commit(kiosk, op, 1)
    sync_once(kiosk)
    ack = outbox_row(kiosk, c["packet_id"])["acknowledged_at"]
    assert ack is not None
    now = [ack + 9 * 86400]
    s = SyncSettings.from_config(kiosk.config)
    s.retention_days = 10
    sync = Sync(kiosk.store, s, clock=lambda: now[0])
    sync.on_purge = kiosk.gallery.remove
    templates = "SELECT COUNT(*) AS n FROM finger_templates WHERE enrollment_id = ?"
    assert kiosk.store.one(templates, (c["id"],))["n"] > 0
    in_gallery = len(kiosk.gallery)

    assert sync.purge() == 0  # day 9 of 10: the biometrics are still there
    assert kiosk.store.one("SELECT COUNT(*) AS n FROM enrollment_parts WHERE enrollment_id = ?", (c["id"],))["n"] > 0

    now[0] = ack + 10 * 86400 + 1
    assert sync.purge() == 1
    row = outbox_row(kiosk, c["packet_id"])
    assert row["purged_payload"] and row["purged_at"] == now[0]
    assert kiosk.store.one("SELECT COUNT(*) AS n FROM enrollment_parts WHERE enrollment_id = ?", (c["id"],))["n"] == 0
    assert kiosk.store.one(templates, (c["id"],))["n"] == 0  # templates are biometrics too
    assert len(kiosk.gallery) == in_gallery - 1
    receipt = sync.receipt(c["packet_id"])
    assert receipt["registration_id"] == c["registration_id"] and len(receipt["payload_sha256"]) == 64
    assert receipt["sent_at"] and receipt["acknowledged_at"] == ack and receipt["receipt"]["sha256"]
    assert kiosk.store.one("SELECT COUNT(*) AS n FROM audit WHERE action = 'sync.purge' AND subject = ?",
                           (c["id"],))["n"] == 1
    assert sync.purge() == 0  # once only
    # the record itself (biodata, status) stays for the day's tally and the resident's status check
    assert kiosk.enrollments.get(c["id"])["status"] == "PRR"


def test_not_acknowledged_means_never_purged(kiosk, op, central):
    c = commit(kiosk, op, 1)
    s = SyncSettings.from_config(kiosk.config)
    s.retention_days = 0
    sync = Sync(kiosk.store, s, clock=lambda: time.time() + 365 * 86400)
    assert sync.purge() == 0
    assert not outbox_row(kiosk, c["packet_id"])["purged_payload"]


def test_backoff_grows_with_full_jitter_within_bounds():
    rng = random.Random(4)
    ceilings = [backoff_ceiling(n, base=5, cap=600) for n in range(1, 12)]
    assert ceilings[:8] == [5, 10, 20, 40, 80, 160, 320, 600] and set(ceilings[7:]) == {600}
    for n, ceiling in enumerate(ceilings, start=1):
        samples = [backoff_delay(n, base=5, cap=600, rng=rng) for _ in range(300)]
        assert all(1.0 <= d <= ceiling for d in samples), n
        assert len({round(d, 6) for d in samples}) > 200  # jittered (the 1 s floor takes some at n=1)
        if ceiling >= 80:  # full jitter: spread over the whole range, not clustered at the top
            assert min(samples) < ceiling * 0.1 and max(samples) > ceiling * 0.9
    mean = [sum(backoff_delay(n, base=5, cap=600, rng=rng) for _ in range(2000)) / 2000 for n in (1, 3, 5, 7)]
    assert mean == sorted(mean) and mean[-1] > 4 * mean[0]


def test_centre_down_backs_off_and_says_why(kiosk, op, central):
    c = commit(kiosk, op, 1)
    dead = other_sync(kiosk, f"http://127.0.0.1:{free_port()}", backoff_base_seconds=5, backoff_max_seconds=600)
    gaps = []
    for n in range(1, 5):
        t0 = time.time()
        report = dead.run_once(force=True)
        assert report.stopped_by["code"] == "connection_refused"
        gaps.append((report.next_attempt_at - t0, backoff_ceiling(n, base=5, cap=600)))
    for gap, ceiling in gaps:
        assert 0.9 <= gap <= ceiling + 1.0
    row = outbox_row(kiosk, c["packet_id"])
    assert row["state"] == "failed" and row["attempts"] == 4 and row["error_code"] == "connection_refused"
    st = dead.status()
    assert st["state"] == "backoff" and st["queue"] == 1 and st["next_attempt_at"] > time.time() - 1
    assert "Pusat menolak sambungan" in st["last_failure"]["message_id"]
    assert "refused the connection" in st["last_failure"]["message_en"]
    assert dead.state.get("consecutive_failures") == 4
    assert dead.run_once(force=False).sent == 0  # not due yet: the backoff holds without force
    assert outbox_row(kiosk, c["packet_id"])["attempts"] == 4

    assert sync_once(kiosk).sent == 1  # the centre is back
    assert kiosk.sync.state.get("consecutive_failures") == 0


def test_conflict_is_held_for_the_technician_and_does_not_block_the_rest(kiosk, op, central, kiosk_dir):
    first, second = commit(kiosk, op, 1), commit(kiosk, op, 2)
    # Someone else's bytes under the first packet's id (a valid packet, sealed again = other bytes).
    rec = packet.record(kiosk.store.conn, first["id"], kiosk_id=kiosk.config.kiosk_id)
    other = packet.seal(rec, keys.load_signing_key(keys.kiosk_key_paths(kiosk_dir)[0]),
                        keys.load_central_public_key(central.public_key), packet_id=first["packet_id"])
    req = urllib.request.Request(f"{central.url}/api/v1/packets/{first['packet_id']}", data=other, method="PUT",
                                 headers={"X-Kiosk-Id": kiosk.config.kiosk_id})
    urllib.request.urlopen(req, timeout=10).close()

    report = sync_once(kiosk)
    assert report.held == 1 and report.sent == 1
    row = outbox_row(kiosk, first["packet_id"])
    assert row["state"] == "failed" and row["error_code"] == "conflict" and row["next_attempt_at"] is None
    assert "409" in row["last_error"] and "hubungi teknisi" in row["last_error"]
    assert outbox_row(kiosk, second["packet_id"])["state"] == "sent"
    st = kiosk.sync.status()
    assert st["held"] == 1 and st["queue"] == 0
    assert sync_once(kiosk).held == 0  # held means held: not retried blindly
    assert outbox_row(kiosk, first["packet_id"])["attempts"] == 1


def test_unknown_kiosk_is_a_kiosk_wide_state_until_registered(tmp_path, central, op, kiosk):
    c = commit(kiosk, op, 1)
    stranger = kiosk_config(kiosk.data_dir, central.url, central.public_key, kiosk_id="KIOSK-UNKNOWN")
    s = SyncSettings.from_config(stranger)
    sync = Sync(kiosk.store, s)
    t0 = time.time()
    report = sync.run_once(force=True)
    assert report.stopped_by["code"] == "unknown_kiosk"
    row = outbox_row(kiosk, c["packet_id"])
    assert row["state"] == "failed" and row["error_code"] == "unknown_kiosk"
    assert row["next_attempt_at"] >= t0 + s.backoff_max_seconds  # only slowly, never hammered
    assert sync.status()["state"] == "unknown_kiosk"
    assert "central kiosk add" in row["last_error"]
    assert sync.retry_failed() == 1  # the technician registered the key ...
    assert sync_once(kiosk).sent == 1  # ... and the right kiosk id gets through
    assert kiosk.sync.status()["state"] == "ok"


def test_a_kiosk_clock_far_off_is_reported_plainly(kiosk, op, central):
    c = commit(kiosk, op, 1)
    s = SyncSettings.from_config(kiosk.config)
    skewed = Sync(kiosk.store, s, clock=lambda: time.time() + 2 * 3600)
    report = skewed.run_once(force=True)
    assert report.sent == 1  # packets do not depend on the clock ...
    assert report.status_error["code"] == "clock_wrong"  # ... the signed status request does
    st = skewed.status()
    assert st["state"] == "clock_wrong" and st["status_error"]["code"] == "clock_wrong"
    assert st["clock"]["message_id"].startswith("Jam kios salah")
    assert st["clock"]["message_en"].startswith("The kiosk clock is wrong")
    assert -2 * 3600 - 60 < st["clock"]["offset_seconds"] < -2 * 3600 + 60
    assert outbox_row(kiosk, c["packet_id"])["acknowledged_at"] is None
    sync_once(kiosk)  # the clock set right: the state clears and the status arrives
    assert kiosk.sync.status()["state"] == "ok" and kiosk.sync.status()["status_error"] is None
    assert outbox_row(kiosk, c["packet_id"])["acknowledged_at"] is not None


def test_unsealed_training_packets_never_leave_the_kiosk(tmp_path, central):
    d = tmp_path / "plain"
    setup_kiosk_keys(central, d)
    config = kiosk_config(d, central.url, central.public_key)
    config.values["central"]["public_key"] = ""  # no centre key: packets stay plain
    k = build_kiosk(config, start_workers=False)
    try:
        assert not k.sealed
        commit(k, k.operators.verify_pin("demo", "123456"), 1)
        report = sync_once(k)
        assert report.sent == 0 and report.failed == 0
        assert k.sync.status()["unsealed"] == 1
    finally:
        k.close()
    assert central.packets() == []


def test_the_worker_thread_drains_and_stops(kiosk, op, central):
    c = commit(kiosk, op, 1)
    worker = SyncWorker(kiosk.sync, network=kiosk.devices.network, poll_seconds=0.05)
    worker.start()
    try:
        assert wait_until(lambda: outbox_row(kiosk, c["packet_id"])["state"] == "sent", timeout=30)
    finally:
        worker.stop()
    assert not worker.is_alive()


def test_the_worker_waits_while_the_probe_says_down(kiosk, op, central):
    c = commit(kiosk, op, 1)
    kiosk.devices.network.set(False)
    kiosk.sync.settings.backoff_base_seconds = 3600  # the "try anyway" period is far away
    with kiosk.store.transaction() as conn:  # a previous failure, so the period applies
        conn.execute("INSERT INTO sync_state(key, value) VALUES ('last_attempt_at', ?)", (json.dumps(time.time()),))
    worker = SyncWorker(kiosk.sync, network=kiosk.devices.network, poll_seconds=0.05)
    assert not worker._due(time.time() + 60)
    assert worker._due(time.time() + 3601)  # ... but it does try once per backoff period
    kiosk.devices.network.set(True)
    assert worker._due(time.time() + 60)
    assert outbox_row(kiosk, c["packet_id"])["attempts"] == 0


def test_the_worker_goes_early_only_for_a_fresh_packet(kiosk, op, central):
    worker = SyncWorker(kiosk.sync, network=kiosk.devices.network, poll_seconds=0.05)
    sync_once(kiosk)  # a round just happened (nothing to send)
    now = time.time()
    assert not worker._due(now + 1)  # nothing due: wait for the interval
    assert worker._due(now + kiosk.sync.settings.interval_seconds + 1)  # the periodic status pull
    commit(kiosk, op, 1)
    assert worker._due(now + 1)  # a fresh record leaves at once, not after the interval
    sync_once(kiosk)
    assert not worker._due(time.time() + 1)


def test_outbox_api_shows_the_sync_state(kiosk, op, central):
    from ui import create_app
    commit(kiosk, op, 1)
    app = create_app(kiosk)
    client = app.test_client()
    token = client.post("/api/v1/auth/login", json={"operator": "demo", "pin": "123456"}).get_json()["token"]
    doc = client.get("/api/v1/outbox", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert doc["sync"]["queue"] == 1 and doc["sync"]["oldest_age_seconds"] >= 0
    sync_once(kiosk)
    doc = client.get("/api/v1/outbox", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert doc["sync"]["queue"] == 0 and doc["sync"]["last_success_at"]


def test_cli_keygen_and_sync_once(tmp_path, central):
    d = tmp_path / "cli-kiosk"
    cfg = write_kiosk_toml(tmp_path / "kiosk.toml", d, central.url, central.public_key, timeout_seconds=5)
    run = lambda *a: subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(cfg), *a],  # noqa: E731
                                    cwd=ROOT, env=env(), capture_output=True, text=True, timeout=120)
    kg = run("keygen")
    assert kg.returncode == 0, kg.stderr
    public = kg.stdout.strip().splitlines()[-1]
    assert public.endswith("kiosk_ed25519.pub")
    central.add_kiosk("KIOSK-TEST-01", public)
    assert run("keygen").returncode == 2  # never overwrites a key by accident

    k = build_kiosk(kiosk_config(d, central.url, central.public_key), start_workers=False)
    try:
        c = commit(k, k.operators.verify_pin("demo", "123456"), 1)
    finally:
        k.close()
    out = run("sync", "--once", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["report"]["sent"] == 1 and doc["status"]["queue"] == 0
    assert [p["packet_id"] for p in central.packets()] == [c["packet_id"]]
    plain = run("sync")
    assert plain.returncode == 0 and "antrean/queue 0" in plain.stdout


def test_a_bad_centre_url_is_a_visible_state_not_a_crash(kiosk, op, central):
    c = commit(kiosk, op, 1)
    s = SyncSettings.from_config(kiosk.config)
    s.url = "ftp//nowhere"
    sync = Sync(kiosk.store, s)  # the kiosk keeps recording with a typo in [central] url
    report = sync.run_once(force=True)
    assert report.sent == 0 and "[central] url" in report.not_configured
    st = sync.status()
    assert st["state"] == "not_configured" and "Alamat pusat tidak sah" in st["not_configured"]["message_id"]
    assert outbox_row(kiosk, c["packet_id"])["attempts"] == 0


def test_sending_is_committed_before_the_request_goes_out(kiosk, op, central):
    c = commit(kiosk, op, 1)
    seen = []
    db = str(kiosk.store.path)

    class Witness(_Fixed):
        """Looks at the kiosk's database from another connection while the upload is in flight."""

        answer = (503, b'{"error": "busy"}')

        def do_PUT(self):
            import sqlite3
            conn = sqlite3.connect(db)
            try:
                seen.append(conn.execute("SELECT state, attempts FROM outbox WHERE id = ?",
                                         (self.path.rsplit("/", 1)[-1],)).fetchone())
            finally:
                conn.close()
            super().do_PUT()

    srv, url = serve(Witness)
    try:
        report = other_sync(kiosk, url).run_once(force=True)
    finally:
        srv.shutdown()
    assert seen == [("sending", 1)]  # committed, visible to any other reader, before the bytes left
    assert report.stopped_by["code"] == "server_error" and report.stopped_by["http_status"] == 503
    assert outbox_row(kiosk, c["packet_id"])["state"] == "failed"
