"""The idle WAL checkpointer (kiosk/checkpoint.py) on a real SQLite store."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3

from central_helpers import wait_until

from kiosk.checkpoint import IdleCheckpointer
from kiosk.store import Store


def _in_main_file(store: Store, tmp_path, note: str) -> bool:
    """Whether the database file alone, without its WAL, already holds the audit note: a copy of
    the file with no -wal beside it shows exactly what a checkpoint has copied back."""
    copy = tmp_path / "main-only.db"
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"main-only.db{suffix}").unlink(missing_ok=True)
    shutil.copyfile(store.path, copy)
    conn = sqlite3.connect(copy)
    try:
        return conn.execute("SELECT COUNT(*) FROM audit WHERE action = ?", (note,)).fetchone()[0] == 1
    finally:
        conn.close()


def _write(store: Store, note: str) -> None:
    with store.transaction() as conn:
        conn.execute("INSERT INTO audit(at, actor, action) VALUES (0, 'test', ?)", (note,))


@contextlib.contextmanager
def checkpointed_store(tmp_path, **settings):
    store = Store(tmp_path / "k.db")
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the migrations' pages, out of the way
    cp = IdleCheckpointer(store, **settings).start()
    try:
        yield store, cp
    finally:
        cp.stop()
        store.close()
    assert not cp._thread.is_alive()


def test_a_write_reaches_the_database_file_once_the_kiosk_is_idle(tmp_path):
    with checkpointed_store(tmp_path, idle_seconds=0.1, min_frames=1) as (store, cp):
        _write(store, "first")
        assert wait_until(lambda: cp.checkpoints >= 1, timeout=20)
        assert _in_main_file(store, tmp_path, "first")


def test_nothing_is_checkpointed_before_the_idle_period(tmp_path):
    with checkpointed_store(tmp_path, idle_seconds=60, min_frames=1) as (store, cp):
        _write(store, "pending")
        assert not _in_main_file(store, tmp_path, "pending")  # still only in the WAL: it was written
        assert cp.checkpoints == 0
        assert store.one("SELECT COUNT(*) AS n FROM audit WHERE action = 'pending'")["n"] == 1


def test_a_short_log_is_left_to_grow_while_idle(tmp_path):
    with checkpointed_store(tmp_path, idle_seconds=0.05, min_frames=50) as (store, cp):
        _write(store, "small")
        assert wait_until(lambda: cp.idle_periods >= 1, timeout=20)
        pending = store.wal_pending_frames()
        assert pending is not None and 0 < pending < 50
        assert cp.checkpoints == 0 and not _in_main_file(store, tmp_path, "small")
        with store.transaction() as conn:  # ~60 pages more: now it is worth a checkpoint
            conn.execute("INSERT INTO audit(at, actor, action, detail) VALUES (0, 'test', 'big', ?)",
                         ("x" * 240_000,))
        assert wait_until(lambda: cp.checkpoints >= 1, timeout=20)
        assert _in_main_file(store, tmp_path, "small") and store.wal_pending_frames() == 0


def test_a_closed_store_is_not_checkpointed_and_the_thread_survives(tmp_path):
    with checkpointed_store(tmp_path, idle_seconds=0.05, min_frames=1) as (store, cp):
        store.close()  # as the power policy does on a critical battery
        assert store.checkpoint() is None
        store.written.set()
        assert wait_until(lambda: not store.written.is_set(), timeout=10)
        assert cp._thread.is_alive() and cp.checkpoints == 0
        store.reopen()  # mains came back: writes and checkpoints resume
        _write(store, "after")
        assert wait_until(lambda: cp.checkpoints >= 1, timeout=20)
        assert _in_main_file(store, tmp_path, "after")


def test_kiosk_runs_one_with_its_workers_and_stops_it(config):
    from kiosk.app import build_kiosk
    scripted = build_kiosk(config, start_workers=False)
    assert scripted.checkpointer is None  # CLI commands and tests: SQLite's autocheckpoint only
    scripted.close()
    k = build_kiosk(config)  # as `kiosk run` builds it
    thread = k.checkpointer._thread
    assert thread.is_alive() and thread.name == "wal-checkpoint"
    k.close()
    assert not thread.is_alive()
