import sqlite3

import pytest

from kiosk.errors import StorageError
from kiosk.store import SCHEMA_VERSION, SchemaTooNew, Store


def test_pragmas_and_schema(tmp_path):
    s = Store(tmp_path / "k.db")
    assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert s.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert s.schema_version() == SCHEMA_VERSION
    tables = {r["name"] for r in s.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"operators", "residents", "enrollments", "enrollment_parts", "outbox", "audit"} <= tables
    s.close()


def test_migrate_is_idempotent(tmp_path):
    Store(tmp_path / "k.db").close()
    s = Store(tmp_path / "k.db")
    assert s.schema_version() == SCHEMA_VERSION
    assert s.integrity_ok()
    s.close()


def test_newer_schema_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "k.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew) as info:
        Store(path)
    assert "newer" in info.value.message.en and "lebih baru" in info.value.message.id
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    conn.close()


def test_transaction_rolls_back_on_error(tmp_path):
    s = Store(tmp_path / "k.db")
    with pytest.raises(RuntimeError):
        with s.transaction() as conn:
            conn.execute("INSERT INTO counters(name, value) VALUES ('x', 1)")
            raise RuntimeError("boom")
    assert s.one("SELECT * FROM counters WHERE name = 'x'") is None
    s.close()


def test_full_disk_is_a_clear_error_and_nothing_half_written(tmp_path):
    s = Store(tmp_path / "k.db")
    pages = s.conn.execute("PRAGMA page_count").fetchone()[0]
    s.close()
    s = Store(tmp_path / "k.db", max_pages=pages + 2)
    with pytest.raises(StorageError) as info:
        with s.transaction() as conn:
            conn.execute("INSERT INTO counters(name, value) VALUES ('kept?', 1)")
            conn.execute("CREATE TABLE filler(x BLOB)")
            for _ in range(50):
                conn.execute("INSERT INTO filler VALUES (randomblob(4000))")
    assert info.value.code == "disk_full"
    assert "penuh" in info.value.message.id
    assert s.one("SELECT * FROM counters WHERE name = 'kept?'") is None
    assert s.integrity_ok()
    s.close()


def test_counter_increments_inside_transaction(tmp_path):
    s = Store(tmp_path / "k.db")
    with s.transaction() as conn:
        assert s.next_counter(conn, "a") == 1
        assert s.next_counter(conn, "a") == 2
    with s.transaction() as conn:
        assert s.next_counter(conn, "a") == 3
    s.close()


def test_closed_store_refuses_writes(tmp_path):
    s = Store(tmp_path / "k.db")
    s.close()
    with pytest.raises(StorageError) as info:
        with s.transaction() as conn:
            conn.execute("INSERT INTO counters(name, value) VALUES ('late', 1)")
    assert info.value.code == "store_closed"
    s.close()  # idempotent
    reopened = Store(tmp_path / "k.db")
    assert reopened.one("SELECT * FROM counters WHERE name = 'late'") is None
    reopened.close()
