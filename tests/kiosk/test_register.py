"""`kiosk register` against a real `central run` on loopback (docs/central-protocol.md, Keys)."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from central_helpers import ROOT, Central, central_cli, env, free_port, write_kiosk_toml
from packet_helpers import make_record, sealed

from central.store import SqliteStore
from kiosk import cli, keys


@pytest.fixture(scope="module")
def centre(tmp_path_factory):
    c = Central(tmp_path_factory.mktemp("centre")).start()
    yield c
    c.stop()


def _kiosk(tmp_path, centre_url, centre_pub, kiosk_id, keygen=True):
    data = tmp_path / kiosk_id
    if keygen:
        keys.generate_kiosk_keys(data)
    return write_kiosk_toml(tmp_path / f"{kiosk_id}.toml", data, centre_url, centre_pub, kiosk_id=kiosk_id), data


def invite(centre, kiosk_id, *extra):
    return json.loads(central_cli(centre.data_dir, "kiosk", "invite", kiosk_id, "--json", *extra).stdout)["code"]


def run(conf, *args, capsys):
    rc = cli.main(["--config", str(conf), "register", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_happy_path_then_packet_accepted_and_retry_idempotent(centre, tmp_path, capsys):
    conf, data = _kiosk(tmp_path, centre.url, centre.public_key, "REG-OK")
    code = invite(centre, "REG-OK")
    r = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(conf), "register", "--code", code.lower()],
                       cwd=ROOT, env=env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "terdaftar" in r.stdout and "registered" in r.stdout
    signing = keys.load_signing_key(keys.kiosk_key_paths(data)[0])
    pid, blob = sealed(make_record("REG-OK"), signing, keys.load_central_public_key(centre.public_key))
    req = urllib.request.Request(f"{centre.url}/api/v1/packets/{pid}", data=blob, method="PUT",
                                 headers={"X-Kiosk-Id": "REG-OK", "Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 201
    rc, out, _ = run(conf, "--code", code, capsys=capsys)  # the answer was lost: retry
    assert rc == 0 and "already" in out
    conf2, _ = _kiosk(tmp_path, centre.url, centre.public_key, "REG-OK-2")  # another key, same used code
    conf2.write_text(conf2.read_text().replace('id = "REG-OK-2"', 'id = "REG-OK"'))
    rc, _, err = run(conf2, "--code", code, capsys=capsys)
    assert rc == 3 and "wrong, expired or already used" in err


def test_wrong_expired_and_lockout(centre, tmp_path, capsys):
    conf, _ = _kiosk(tmp_path, centre.url, centre.public_key, "REG-BAD")
    store = SqliteStore(centre.data_dir / "central.db")
    expired, _ = store.invite_kiosk("REG-BAD", expires_at=time.time() - 1)
    rc, _, err = run(conf, "--code", expired, capsys=capsys)
    assert rc == 3 and "kedaluwarsa" in err
    code = invite(centre, "REG-BAD")
    for _ in range(5):  # the invitation cleared the count; 5 wrong codes lock registration
        rc, _, err = run(conf, "--code", "AAAA-BBBB-CCCC-DDDD", capsys=capsys)
        assert rc == 3 and "wrong, expired" in err
    rc, _, err = run(conf, "--code", code, capsys=capsys)  # even the right code, while locked
    assert rc == 3 and "locked" in err
    assert store.kiosk_key("REG-BAD") is None
    invite(centre, "REG-BAD")  # a technician's new code lifts the lock
    assert store.kiosk_key("REG-BAD") is None and store.enrolment_codes("REG-BAD")[-1]["used_at"] is None
    store.close()


def test_no_key_unreachable_and_garbage(centre, tmp_path, capsys):
    conf, _ = _kiosk(tmp_path, centre.url, centre.public_key, "REG-NOKEY", keygen=False)
    rc, _, err = run(conf, "--code", "X", capsys=capsys)
    assert rc == 2 and "kiosk keygen" in err
    conf, _ = _kiosk(tmp_path, centre.url, centre.public_key, "REG-NET")
    rc, _, err = run(conf, "--code", "X", "--url", f"http://127.0.0.1:{free_port()}", capsys=capsys)
    assert rc == 4 and "try again when the link is up" in err
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve(answer):
        c, _ = srv.accept()
        # Read the whole request first: closing with unread bytes would reset the connection,
        # which the kiosk rightly reports as "unreachable", not as a garbage answer.
        data = b""
        while b"\r\n\r\n" not in data:
            data += c.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += c.recv(65536)
        c.sendall(answer)
        c.shutdown(socket.SHUT_WR)
        c.close()
    for answer in (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\n<html>hi", b"SSH-2.0-x\r\n\r\n"):
        t = threading.Thread(target=serve, args=(answer,))
        t.start()
        rc, _, err = run(conf, "--code", "X", "--url", f"http://127.0.0.1:{srv.getsockname()[1]}", capsys=capsys)
        t.join()
        assert rc == 5 and "makes no sense" in err
    srv.close()


def test_bad_key_422(centre):
    code = invite(centre, "REG-KEY")
    req = urllib.request.Request(f"{centre.url}/api/v1/kiosks/REG-KEY/register", method="POST",
                                 data=json.dumps({"code": code, "public_key": centre.public_key.read_text()}).encode(),
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req, timeout=30)
    assert exc.value.code == 422 and json.loads(exc.value.read())["error"] == "bad_key"
    assert sqlite3.connect(centre.data_dir / "central.db").execute(
        "SELECT used_at FROM enrolment_codes WHERE kiosk_id = 'REG-KEY'").fetchone() == (None,)


def test_centre_log_names_registrations_but_holds_no_code_or_key(tmp_path, capsys):
    log_file = tmp_path / "central.log"
    c = Central(tmp_path / "centre-logged", log_file=log_file).start()
    try:
        conf, data = _kiosk(tmp_path, c.url, c.public_key, "REG-LOG")
        wrong = "WXYZ-2345-6789-ABCD"
        rc, _, _ = run(conf, "--code", wrong, capsys=capsys)
        assert rc == 3
        code = invite(c, "REG-LOG")
        rc, _, _ = run(conf, "--code", code, capsys=capsys)
        assert rc == 0
        other = c.public_key.read_text()  # an X25519 key where an Ed25519 one belongs: refused, 422
        req = urllib.request.Request(f"{c.url}/api/v1/kiosks/REG-LOG/register", method="POST",
                                     data=json.dumps({"code": (third := invite(c, "REG-LOG")), "public_key": other}
                                                     ).encode(), headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(req, timeout=30)
    finally:
        c.stop()
    text = log_file.read_text()
    # The log is written, and says what happened to whom...
    assert "REG-LOG" in text and "bad code" in text and "enrolment code" in text
    # ...but nothing a thief of the log could use: no code (in either spelling), no key material.
    pem_body = "".join(line for line in keys.kiosk_key_paths(data)[1].read_text().splitlines() if "-----" not in line)
    for secret in (wrong, wrong.replace("-", ""), code, code.replace("-", ""), code.lower(), third, pem_body,
                   pem_body[:24], "".join(line for line in other.splitlines() if "-----" not in line)[:24]):
        assert secret not in text, "a code or key reached the centre's log"
