"""A real centre for sync tests: `central keygen`, `central kiosk add`, `central run` on 127.0.0.1.

Used by tests/kiosk/test_sync.py and tests/faults/; no mocks — the kiosk talks HTTP to the real
reference server in its own process, and the tests read what it holds through `central packets`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from kiosk.config import load_config

ROOT = Path(__file__).resolve().parents[1]
KIOSK_ID = "KIOSK-TEST-01"


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    return e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def central_cli(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "central.cli", *args, "--data-dir", str(data_dir)],
                          cwd=ROOT, env=env(), capture_output=True, text=True, check=check, timeout=120)


class Central:
    """One `central run` process; ``stop``/``start`` restart it on the same port and database."""

    def __init__(self, data_dir: Path, port: int | None = None, *, netns: str | None = None,
                 host: str = "127.0.0.1", log_file: Path | None = None):
        self.data_dir = Path(data_dir)
        self.log_file = log_file  # the centre's log (stderr), appended to; discarded when None
        self.port = port or free_port()
        self.host = host
        self.netns = netns
        self.proc: subprocess.Popen | None = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not (self.data_dir / "keys" / "central_x25519.key").exists():
            central_cli(self.data_dir, "keygen")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def public_key(self) -> Path:
        return self.data_dir / "keys" / "central_x25519.pub"

    def add_kiosk(self, kiosk_id: str, public_key: Path) -> None:
        central_cli(self.data_dir, "kiosk", "add", kiosk_id, str(public_key))

    def start(self) -> "Central":
        cmd = [sys.executable, "-m", "central.cli", "run", "--data-dir", str(self.data_dir),
               "--host", self.host, "--port", str(self.port)]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns, *cmd]
        log = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=log, text=True)
        finally:
            if self.log_file:
                log.close()  # the child holds its own copy
        line = self.proc.stdout.readline()  # "ektp-central serving on ..." once it listens
        if "serving on" not in line:
            self.proc.kill()
            raise RuntimeError(f"central did not start: {line!r}")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def packets(self) -> list[dict]:
        out = central_cli(self.data_dir, "packets", "--json", "--limit", "100000").stdout
        return json.loads(out)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False


def kiosk_config(data_dir: Path, central_url: str, central_public_key: Path, *, kiosk_id: str = KIOSK_ID,
                 **sync):
    """A simulated kiosk's configuration that seals to the centre and sends to ``central_url``."""
    overrides = {"kiosk": {"data_dir": str(data_dir), "id": kiosk_id},
                 "central": {"url": central_url, "public_key": str(central_public_key)},
                 "enrollment": {"finger_timeout_seconds": 2.0},
                 "sync": {k: float(v) for k, v in sync.items()}}
    return load_config(simulate=True, overrides=overrides)


def write_kiosk_toml(path: Path, data_dir: Path, central_url: str, central_public_key: Path, *,
                     kiosk_id: str = KIOSK_ID, **sync) -> Path:
    """The same as a file, for kiosk processes the tests launch."""
    lines = ["[kiosk]", f'id = "{kiosk_id}"', f'data_dir = "{data_dir}"', "",
             "[central]", f'url = "{central_url}"', f'public_key = "{central_public_key}"', "",
             "[enrollment]", "finger_timeout_seconds = 2.0", "", "[sync]"]
    lines += [f"{k} = {float(v)}" for k, v in sync.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def setup_kiosk_keys(central: Central, data_dir: Path, kiosk_id: str = KIOSK_ID) -> Path:
    """`kiosk keygen` into the kiosk's data dir, then `central kiosk add` with its public key."""
    from kiosk.keys import generate_kiosk_keys
    _private, public = generate_kiosk_keys(data_dir)
    central.add_kiosk(kiosk_id, public)
    return public


def wait_until(predicate, timeout: float = 30.0, step: float = 0.05) -> bool:
    """Polling helper for set-up only (never a timed assertion): True once predicate() holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
