"""The ``central`` command: keygen, kiosk add, packets, and ``central run`` as a real process on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from packet_helpers import make_record, sealed

from kiosk import keys

ROOT = Path(__file__).resolve().parents[2]


def central(*args, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "central.cli", *map(str, args)], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def centre_dir(tmp_path):
    d = tmp_path / "centre"
    r = central("keygen", "--data-dir", d)
    assert r.stdout.strip().splitlines()[-1] == str(d / "keys" / "central_x25519.pub")
    return d


@pytest.fixture
def kiosk_keys(tmp_path):
    private, public = keys.generate_kiosk_keys(tmp_path / "kiosk")
    return keys.load_signing_key(private), public


def test_keygen_writes_0600_and_refuses_overwrite(centre_dir):
    private = centre_dir / "keys" / "central_x25519.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    before = private.read_bytes()
    r = central("keygen", "--data-dir", centre_dir, check=False)
    assert r.returncode == 2 and "tidak ditimpa" in r.stderr and "not overwritten" in r.stderr
    assert private.read_bytes() == before


def test_kiosk_add_and_bad_key_files(centre_dir, kiosk_keys, tmp_path):
    _, public = kiosk_keys
    r = central("kiosk", "add", "KIOSK-A", public, "--data-dir", centre_dir)
    assert "registered" in r.stdout
    assert "re-keyed" in central("kiosk", "add", "KIOSK-A", public, "--data-dir", centre_dir).stdout
    listed = json.loads(central("kiosk", "list", "--json", "--data-dir", centre_dir).stdout)
    assert [k["kiosk_id"] for k in listed] == ["KIOSK-A"]
    # The centre's own X25519 key is not a kiosk key; a missing file is named.
    r = central("kiosk", "add", "KIOSK-B", centre_dir / "keys" / "central_x25519.pub", "--data-dir", centre_dir,
                 check=False)
    assert r.returncode == 2 and "Ed25519" in r.stderr
    r = central("kiosk", "add", "KIOSK-B", tmp_path / "missing.pub", "--data-dir", centre_dir, check=False)
    assert r.returncode == 2 and "tidak ada" in r.stderr and "not found" in r.stderr
    r = central("kiosk", "add", "BAD ID", public, "--data-dir", centre_dir, check=False)
    assert r.returncode == 2
    listed = json.loads(central("kiosk", "list", "--json", "--data-dir", centre_dir).stdout)
    assert [k["kiosk_id"] for k in listed] == ["KIOSK-A"]


def test_bad_db_url(centre_dir):
    r = central("packets", "--data-dir", centre_dir, "--db", "mysql://x", check=False)
    assert r.returncode == 2 and "unsupported database URL" in r.stderr


def test_run_without_keys_says_what_to_do(tmp_path):
    r = central("run", "--data-dir", tmp_path / "empty", "--port", _free_port(), check=False)
    assert r.returncode == 2 and "central keygen" in r.stderr


def _request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_run_serves_receives_and_stops_on_sigterm(centre_dir, kiosk_keys, tmp_path):
    signing, public = kiosk_keys
    central("kiosk", "add", "KIOSK-A", public, "--data-dir", centre_dir)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "central.cli", "run", "--data-dir", str(centre_dir),
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        base = f"http://127.0.0.1:{port}"
        # The server prints the URL before it accepts; poll until it answers (not a timed assertion).
        for _ in range(100):
            try:
                assert _request("GET", f"{base}/healthz")[1]["status"] == "ok"
                break
            except urllib.error.URLError:
                time.sleep(0.05)
        centre_public = keys.load_central_public_key(centre_dir / "keys" / "central_x25519.pub")
        rec = make_record("KIOSK-A")
        pid, blob = sealed(rec, signing, centre_public)
        hdr = {"X-Kiosk-Id": "KIOSK-A", "Content-Type": "application/octet-stream"}
        code, receipt = _request("PUT", f"{base}/api/v1/packets/{pid}", blob, hdr)
        assert code == 201 and receipt["status"] == "PRR"
        assert _request("PUT", f"{base}/api/v1/packets/{pid}", blob, hdr) == (200, receipt)
        damaged = blob[:-1] + bytes([blob[-1] ^ 1])
        code, body = _request("PUT", f"{base}/api/v1/packets/{pid}x", damaged, hdr)
        assert code == 422 and body["error"] == "decrypt_failed"
        path = "/api/v1/kiosks/KIOSK-A/status?since=0"
        code, feed = _request("GET", base + path,
                              headers=keys.status_request_headers("KIOSK-A", signing, path, int(time.time())))
        assert code == 200 and [c["status"] for c in feed["changes"]] == ["received", "PRR"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped cleanly" in err
    assert rec["biodata"]["nik"] not in err + out  # no personal data in the server's log

    listed = json.loads(central("packets", "--json", "--data-dir", centre_dir).stdout)
    assert [(p["packet_id"], p["kiosk_id"], p["nik"], p["status"]) for p in listed] == [
        (pid, "KIOSK-A", rec["biodata"]["nik"], "PRR")]
    table = central("packets", "--data-dir", centre_dir).stdout
    assert pid in table and "PRR" in table
    assert (centre_dir / "central.db").exists()


def test_explicit_sqlite_url(centre_dir, kiosk_keys, tmp_path):
    _, public = kiosk_keys
    db = tmp_path / "elsewhere.db"
    central("kiosk", "add", "KIOSK-A", public, "--data-dir", centre_dir, "--db", f"sqlite:///{db}")
    assert db.exists() and not (centre_dir / "central.db").exists()
    assert json.loads(central("packets", "--json", "--data-dir", centre_dir, "--db", f"sqlite:///{db}").stdout) == []
    assert os.path.getsize(db) > 0
