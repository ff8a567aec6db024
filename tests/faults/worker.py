"""A kiosk process for kill -9 rounds: records, commits and syncs in a loop, saying where it is.

Launched by tests/faults/test_kill9.py and bench/soak_kill9.py, which read its stdout and SIGKILL
it a random moment after a chosen marker:
  ``ready``          the kiosk is built (store opened, migrations run)
  ``commit-start``   the next line of code is Enrollments.commit (one transaction)
  ``committed ID``   that transaction returned
  ``sync-start``     the next line is a sync round (mark sending → PUT → receipt → mark sent)
  ``synced N``       the round returned
The round driver and the checks made after each kill live here too, so the test and the soak
script run exactly the same thing.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKERS = ("ready", "commit-start", "sync-start")


def nik(serial: int) -> str:
    return f"640306410790{serial:04d}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--config", required=True)
    p.add_argument("--serial", type=int, required=True, help="first NIK serial this process records")
    p.add_argument("--cycles", type=int, default=3)
    args = p.parse_args(argv)
    sys.path.append(str(ROOT / "tests"))
    from conftest import BIODATA, complete_enrollment

    from kiosk.app import build_kiosk
    from kiosk.config import load_config
    from kiosk.sync import sync_once

    kiosk = build_kiosk(load_config(args.config, simulate=True), start_workers=False)
    op = kiosk.operators.verify_pin("demo", "123456")
    print("ready", flush=True)
    for i in range(args.cycles):
        eid = complete_enrollment(kiosk, op, nik=nik(args.serial + i), biodata=dict(BIODATA))
        print("commit-start", flush=True)
        kiosk.enrollments.commit(op, eid)
        print(f"committed {eid}", flush=True)
        print("sync-start", flush=True)
        report = sync_once(kiosk)
        print(f"synced {report.sent}", flush=True)
    kiosk.close()
    print("done", flush=True)
    return 0


# --- the round driver (used in the test process) -----------------------------------------------
def run_round(config_path: Path, serial: int, rng: random.Random, env: dict) -> dict:
    """Start a worker, SIGKILL it a random moment after a random marker; returns what happened."""
    marker = rng.choice(MARKERS)
    nth = 1  # the first recording of the process: each round costs one start-up and one recording
    # ready → anywhere in the next recording; commit/sync → inside (or just after) that step.
    delay = rng.uniform(0, 1.5) if marker == "ready" else rng.uniform(0, 0.06)
    proc = subprocess.Popen([sys.executable, "-u", str(Path(__file__)), "--config", str(config_path),
                             "--serial", str(serial), "--cycles", "2"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen, lines = 0, []
    try:
        for line in proc.stdout:
            lines.append(line.strip())
            if line.strip() == marker:
                seen += 1
                if seen == nth:
                    time.sleep(delay)
                    break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        lines += [s.strip() for s in proc.stdout.read().splitlines()] if proc.stdout else []
        err = proc.stderr.read() if proc.stderr else ""
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()
    if "Traceback" in err or not lines:  # a crash of its own, not our kill
        raise RuntimeError(f"worker failed before the kill:\n{err[-3000:]}")
    return {"marker": marker, "nth": nth, "delay": round(delay, 4), "killed": proc.returncode == -signal.SIGKILL,
            "lines": lines, "stderr": err[-2000:]}


def check_store(db_path: Path) -> dict:
    """What must hold after any kill: integrity, one outbox row per committed record, whole payloads."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    try:
        problems = []
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            problems.append(f"integrity_check: {integrity}")
        for row in conn.execute("SELECT e.id, COUNT(o.id) AS n FROM enrollments e LEFT JOIN outbox o "
                                "ON o.enrollment_id = e.id WHERE e.state = 'committed' GROUP BY e.id HAVING n != 1"):
            problems.append(f"committed enrollment {row['id']} has {row['n']} outbox rows")
        for row in conn.execute("SELECT o.id FROM outbox o JOIN enrollments e ON e.id = o.enrollment_id "
                                "WHERE e.state != 'committed'"):
            problems.append(f"outbox row {row['id']} for an enrollment that is not committed")
        for row in conn.execute("SELECT id, payload, payload_sha256 FROM outbox WHERE payload IS NOT NULL"):
            if hashlib.sha256(row["payload"]).hexdigest() != row["payload_sha256"]:
                problems.append(f"outbox row {row['id']}: payload does not match its hash")
        outbox = {r["id"]: dict(r) for r in conn.execute(
            "SELECT id, state, payload_sha256, registration_id FROM outbox")}
        committed = conn.execute("SELECT COUNT(*) FROM enrollments WHERE state = 'committed'").fetchone()[0]
        return {"problems": problems, "outbox": outbox, "committed": committed}
    finally:
        conn.close()


if __name__ == "__main__":
    sys.exit(main())
