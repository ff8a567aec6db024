"""Disk full during commit: a clear StorageError in both languages, the draft kept, nothing corrupted.

Two ways to run out of space: SQLite's own page limit (works everywhere), and a real tiny tmpfs
filled to the brim (needs root and mount(2); skipped where the machine does not allow it).
"""

from __future__ import annotations

import errno
import os
import subprocess

import pytest
from conftest import BIODATA, complete_enrollment

from kiosk.app import build_kiosk
from kiosk.config import load_config
from kiosk.errors import StorageError


def snapshot(kiosk, eid: str) -> dict:
    """Everything the draft is made of, to compare before and after the failed commit."""
    e = dict(kiosk.store.one("SELECT id, state, step, registration_id, status, biodata, committed_at "
                             "FROM enrollments WHERE id = ?", (eid,)))
    parts = [tuple(r) for r in kiosk.store.query("SELECT kind, position, data, meta FROM enrollment_parts "
                                                 "WHERE enrollment_id = ? ORDER BY kind, position", (eid,))]
    counts = {t: kiosk.store.one(f"SELECT COUNT(*) AS n FROM {t}")["n"] for t in ("outbox", "counters", "audit")}
    return {"enrollment": e, "parts": parts, "counts": counts}


def assert_refused_cleanly(kiosk, op, eid: str, before: dict) -> StorageError:
    with pytest.raises(StorageError) as info:
        kiosk.enrollments.commit(op, eid)
    err = info.value
    assert err.code == "disk_full"
    assert err.message.id.startswith("Penyimpanan penuh") and "draf tetap ada" in err.message.id
    assert err.message.en.startswith("Storage is full") and "the draft is kept" in err.message.en
    assert kiosk.store.integrity_ok()
    assert snapshot(kiosk, eid) == before  # the draft whole, no outbox row, no counter, no audit entry
    return err


def test_page_limit_reached_during_commit(tmp_path):
    config = load_config(simulate=True, overrides={"kiosk": {"data_dir": str(tmp_path / "data")}})
    kiosk = build_kiosk(config, start_workers=False)
    try:
        op = kiosk.operators.verify_pin("demo", "123456")
        eid = complete_enrollment(kiosk, op, biodata=dict(BIODATA))
        before = snapshot(kiosk, eid)
        pages = kiosk.store.conn.execute("PRAGMA page_count").fetchone()[0]
        kiosk.store.conn.execute(f"PRAGMA max_page_count={pages + 8}")  # ~32 KB left: a packet is ~0.7 MB
        assert_refused_cleanly(kiosk, op, eid, before)

        # Through the API the operator gets 507 with both languages, and the draft is still resumable.
        from ui import create_app
        client = create_app(kiosk).test_client()
        token = client.post("/api/v1/auth/login", json={"operator": "demo", "pin": "123456"}).get_json()["token"]
        before = snapshot(kiosk, eid)  # the login itself wrote an audit entry
        r = client.post(f"/api/v1/enrollments/{eid}/commit", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 507
        doc = r.get_json()
        assert doc["error"] == "disk_full" and doc["message_id"] and doc["message_en"]
        assert snapshot(kiosk, eid) == before

        kiosk.store.conn.execute("PRAGMA max_page_count=1073741823")  # space freed
        done = kiosk.enrollments.commit(op, eid)
        assert done["registration_id"]
        assert kiosk.store.one("SELECT COUNT(*) AS n FROM outbox WHERE enrollment_id = ?", (eid,))["n"] == 1
        assert kiosk.store.integrity_ok()
    finally:
        kiosk.close()


@pytest.fixture
def tiny_fs(tmp_path):
    mnt = tmp_path / "tinyfs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path, leave: int) -> int:
    """Write a filler file until the filesystem is full, then give back ``leave`` bytes."""
    filler = path / "filler"
    written = 0
    with open(filler, "wb", buffering=0) as f:
        chunk = b"\0" * 65536
        while True:
            try:
                written += f.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
            if written > 64 * 1024 * 1024:
                raise AssertionError("the tiny filesystem does not fill up")
        f.truncate(max(0, written - leave))
        os.fsync(f.fileno())
    return written


def test_real_full_filesystem_during_commit(tiny_fs):
    config = load_config(simulate=True, overrides={"kiosk": {"data_dir": str(tiny_fs / "data")}})
    kiosk = build_kiosk(config, start_workers=False)
    try:
        op = kiosk.operators.verify_pin("demo", "123456")
        eid = complete_enrollment(kiosk, op, biodata=dict(BIODATA))
        before = snapshot(kiosk, eid)
        # Move the drafts into the main file and empty the WAL, so the commit needs new blocks.
        kiosk.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        fill(tiny_fs, leave=64 * 1024)
        assert_refused_cleanly(kiosk, op, eid, before)

        (tiny_fs / "filler").unlink()  # the technician frees space
        kiosk.store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert kiosk.enrollments.commit(op, eid)["registration_id"]
        assert kiosk.store.integrity_ok()
    finally:
        kiosk.close()
    # Reopened from the disk as it was left: whole, committed once.
    again = build_kiosk(config, start_workers=False)
    try:
        assert again.store.integrity_ok()
        assert again.enrollments.get(eid)["state"] == "committed"
        assert again.store.one("SELECT COUNT(*) AS n FROM outbox WHERE enrollment_id = ?", (eid,))["n"] == 1
    finally:
        again.close()
