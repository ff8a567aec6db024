"""The `kiosk` command as a user runs it: a real process, real exit codes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from conftest import BIODATA, VALID_NIK

SCHEDULE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "gunung-tabur-schedule-2012.csv"


def kiosk_cmd(*args, env=None, input=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], capture_output=True, text=True,
                          env=env, input=input, timeout=timeout)


def env_for(tmp_path):
    cfg = tmp_path / "kiosk.toml"
    cfg.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\nid = "KIOSK-T1"\n')
    return dict(os.environ, KIOSK_CONFIG=str(cfg))


def test_nik_json_contract():
    r = kiosk_cmd("nik", VALID_NIK, "--json")
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert set(doc) >= {"nik", "valid", "province_code", "province", "regency_code", "regency", "district_code",
                        "district", "birth_date", "sex", "serial", "errors"}
    assert doc["regency"] == "Kabupaten Berau" and doc["sex"] == "F" and doc["birth_date"] == "1990-07-01"


def test_nik_invalid_exit_1():
    r = kiosk_cmd("nik", "6403063202900001", "--json")  # 32 Feb
    assert r.returncode == 1
    assert json.loads(r.stdout)["errors"]


def test_operator_add_and_duplicate(tmp_path):
    env = env_for(tmp_path)
    r = kiosk_cmd("operator", "add", "sari", "--role", "supervisor", "--pin", "135790", env=env)
    assert r.returncode == 0, r.stderr
    r = kiosk_cmd("operator", "add", "sari", "--role", "operator", "--pin", "135790", env=env)
    assert r.returncode == 2 and "sudah ada" in r.stderr and "already exists" in r.stderr
    r = kiosk_cmd("operator", "add", "tono", "--role", "operator", env=env, input="24680\n")
    assert r.returncode == 2 and "6" in r.stderr  # PIN too short, said in both languages


def test_import_residents_reports_rejects(tmp_path):
    from tests_helpers_csv import write_register
    env = env_for(tmp_path)
    path = write_register(tmp_path / "r.csv", [dict(BIODATA, nik=VALID_NIK), dict(BIODATA, nik="123")])
    r = kiosk_cmd("import-residents", str(path), env=env)
    assert r.returncode == 1
    assert "baris/line 3" in r.stdout and "inserted 1" in r.stdout
    r = kiosk_cmd("import-residents", str(path), env=env)
    assert "unchanged 1" in r.stdout


def test_import_schedule_and_report(tmp_path):
    if not SCHEDULE.exists():
        import pytest
        pytest.skip("shared/data not beside the checkout")
    env = env_for(tmp_path)
    r = kiosk_cmd("import-schedule", str(SCHEDULE), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(kiosk_cmd("report", "--format", "json", env=env).stdout)
    names = [v["village"] for v in rep["villages"]]
    assert "Gunung Tabur" in names and "Batu-Batu" in names
    assert rep["eligible"] == 14784  # the published table's own sum, shown as given
    csv_out = kiosk_cmd("report", "--format", "csv", env=env).stdout
    assert csv_out.splitlines()[0].startswith("village_code,village")


def test_bad_config_is_a_clear_error(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[ui]\nport = \"eighty\"\n")
    r = kiosk_cmd("--config", str(cfg), "selftest")
    assert r.returncode == 2 and "ui.port" in r.stderr


def test_selftest_simulated(tmp_path):
    r = kiosk_cmd("selftest", "--json", env=env_for(tmp_path))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] and doc["devices"]["camera"]["backend"] == "sim"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_prints_url_serves_and_stops_on_sigterm(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--port", str(port)], env=env_for(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/" in line and "SIMULATED" in line
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    assert json.load(resp)["simulated"] is True
                    break
            except OSError:
                assert time.time() < deadline
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert "stopped cleanly" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
