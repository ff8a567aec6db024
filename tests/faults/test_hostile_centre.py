"""A hostile peer between the kiosk and the real centre: every way an answer can go wrong.

The peer is a real socket server on 127.0.0.1 in a thread. Packet uploads meet, in turn: a dead
port, 500, an answer slower than the kiosk's timeout, a reset connection, bytes that are not
HTTP, a 200 that is not JSON, a receipt for other bytes, then a proxy to the real `central run`
that flips one byte of the body on its way. The kiosk must retry what retrying can fix, hold the
packet the centre refused (422, nothing stored) for the technician, and in the end every packet
must be at the centre exactly once.
"""

from __future__ import annotations

import http.client
import json
import socket
import socketserver
import struct
import threading
import time

import pytest
from central_helpers import Central, free_port, kiosk_config, setup_kiosk_keys
from conftest import BIODATA, complete_enrollment

from kiosk.app import build_kiosk
from kiosk.sync import Sync, SyncSettings

TIMEOUT = 0.5


class HostileHandler(socketserver.StreamRequestHandler):
    def handle(self):
        peer: Hostile = self.server.peer  # type: ignore[attr-defined]
        request_line = self.rfile.readline(65536).decode("latin-1").strip()
        if not request_line:
            return
        method, path, _ = request_line.split(" ", 2)
        headers = {}
        while True:
            line = self.rfile.readline(65536).decode("latin-1")
            if line in ("\r\n", "\n", ""):
                break
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0"))
        behaviour = peer.next_behaviour() if method == "PUT" else "proxy"
        entry = [behaviour, None]  # logged in arrival order; a slow answer must not reorder it
        if method == "PUT":
            peer.log.append(entry)
        if behaviour == "reset":
            self.rfile.read(min(length, 1000))  # part of the body, then a RST instead of a FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        body = self.rfile.read(length) if length else b""
        if behaviour == "500":
            self.answer(500, b'{"error": "internal_error"}')
        elif behaviour == "slow":
            time.sleep(TIMEOUT * 4)
            self.answer(201, b"{}")
        elif behaviour == "garbage_raw":
            self.wfile.write(b"\x16\x03\x01\x00\xffSSH-2.0 not http at all\r\n\r\n")
        elif behaviour == "garbage_body":
            self.answer(200, b"<html>captive portal: please log in</html>")
        elif behaviour == "mismatch":
            packet_id = path.rsplit("/", 1)[-1]
            self.answer(201, json.dumps({"packet_id": packet_id, "sha256": "ab" * 32, "status": "received"}).encode())
        elif behaviour in ("flip", "proxy"):
            if behaviour == "flip":
                i = len(body) // 2
                body = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:]
            status, data = peer.forward(method, path, body, headers)
            entry[1] = status
            self.answer(status, data)

    def answer(self, status: int, body: bytes) -> None:
        with_reason = {200: "OK", 201: "Created", 500: "Internal Server Error"}.get(status, "X")
        self.wfile.write(f"HTTP/1.1 {status} {with_reason}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)


class Hostile:
    def __init__(self, upstream_port: int, script: list[str]):
        self.upstream_port = upstream_port
        self.script = list(script)
        self.log: list[list] = []  # [behaviour, upstream status] per PUT
        self._lock = threading.Lock()
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), HostileHandler)
        self.server.daemon_threads = True
        self.server.peer = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next_behaviour(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else "proxy"

    def forward(self, method, path, body, headers) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            keep = {k: v for k, v in headers.items() if k.startswith("x-kiosk") or k == "content-type"}
            conn.request(method, path, body=body or None, headers=keep)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def central(tmp_path):
    c = Central(tmp_path / "central").start()
    yield c
    c.stop()


def test_everything_arrives_once_and_the_tampered_copy_is_refused(tmp_path, central):
    data_dir = tmp_path / "kiosk"
    setup_kiosk_keys(central, data_dir)
    kiosk = build_kiosk(kiosk_config(data_dir, central.url, central.public_key), start_workers=False)
    peer = Hostile(central.port, ["500", "slow", "reset", "garbage_raw", "garbage_body", "mismatch", "flip"])
    try:
        op = kiosk.operators.verify_pin("demo", "123456")
        committed = []
        for serial in (1, 2, 3):
            eid = complete_enrollment(kiosk, op, nik=f"640306410790{serial:04d}", biodata=dict(BIODATA))
            committed.append(kiosk.enrollments.commit(op, eid)["packet_id"])
        first = committed[0]

        def settings(url):
            s = SyncSettings.from_config(kiosk.config)
            s.url, s.timeout_seconds = url, TIMEOUT
            return s

        # The centre is down: nothing listens on its port.
        down = Sync(kiosk.store, settings(f"http://127.0.0.1:{free_port()}")).run_once(force=True)
        assert down.stopped_by["code"] == "connection_refused"

        sync = Sync(kiosk.store, settings(peer.url))
        codes = []
        for _ in range(6):  # each hostile answer ends a round with a retryable failure
            report = sync.run_once(force=True)
            assert report.sent == 0
            codes.append(report.stopped_by["code"])
            row = kiosk.store.one("SELECT state, error_code, last_error, next_attempt_at, sent_at FROM outbox "
                                  "WHERE id = ?", (first,))
            assert row["state"] == "failed" and row["sent_at"] is None and row["next_attempt_at"] is not None
            assert " / " in row["last_error"]  # Bahasa Indonesia / English
        assert codes == ["server_error", "timeout", "connection_reset", "garbage", "garbage", "receipt_mismatch"]
        assert central.packets() == []  # nothing reached the centre so far

        # The byte flipper: the real centre refuses the tampered copy, the other two get through.
        report = sync.run_once(force=True)
        assert peer.log[-3:] == [["flip", 422], ["proxy", 201], ["proxy", 201]]
        assert report.held == 1 and report.sent == 2
        row = kiosk.store.one("SELECT state, error_code, last_error, next_attempt_at FROM outbox WHERE id = ?",
                              (first,))
        assert row["state"] == "failed" and row["error_code"] == "refused" and row["next_attempt_at"] is None
        assert "422" in row["last_error"] and "decrypt_failed" in row["last_error"]
        assert first not in {p["packet_id"] for p in central.packets()}  # refused = nothing stored
        assert sync.run_once(force=True).sent == 0  # held for the technician, not resent blindly

        # The technician looks, finds the link fixed, and puts it back in the queue.
        assert sync.retry_failed(first) == 1
        assert sync.run_once(force=True).sent == 1
        assert peer.log[-1] == ["proxy", 201]  # first receipt: the tampered copy left no trace

        held = central.packets()
        ids = [p["packet_id"] for p in held]
        assert sorted(ids) == sorted(committed) and len(ids) == len(set(ids))
        rows = kiosk.store.query("SELECT id, state, attempts FROM outbox")
        assert all(r["state"] == "sent" for r in rows)
        assert {r["id"]: r["attempts"] for r in rows}[first] == 9  # down + 6 hostile + flip + the good one
    finally:
        peer.close()
        kiosk.close()
