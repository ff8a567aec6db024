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


def test_schema_5_database_moves_its_blobs_last_and_keeps_every_row(tmp_path):
    from kiosk.store import MIGRATIONS, _statements
    path = tmp_path / "k.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    for version, script in enumerate(MIGRATIONS[:5], start=1):
        conn.execute("BEGIN")
        for statement in _statements(script):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version={version}")
        conn.execute("COMMIT")
    conn.execute("INSERT INTO operators(id, role, pin_hash, created_at) VALUES ('op', 'operator', 'x', 1)")
    conn.execute("INSERT INTO enrollments(id, nik, state, step, operator_id, biodata, created_at, updated_at) "
                 "VALUES ('e1', '6403010101900001', 'committed', 'done', 'op', '{}', 1, 2)")
    photo, payload = bytes(range(256)) * 200, b"\x00sealed" * 40000
    conn.execute("INSERT INTO enrollment_parts(enrollment_id, kind, position, data, meta, attempts, updated_at) "
                 "VALUES ('e1', 'photo', 0, ?, '{\"quality\": 80}', 2, 3.5)", (photo,))
    conn.execute("INSERT INTO outbox(rowid, id, enrollment_id, registration_id, state, payload_format, payload, "
                 "payload_sha256, attempts, created_at, next_attempt_at, receipt) "
                 "VALUES (7, 'p1', 'e1', 'R-1', 'failed', 'sealed-v1', ?, 'abc', 3, 4.0, 9.0, '{}')", (payload,))
    conn.close()

    s = Store(path)
    assert s.schema_version() == SCHEMA_VERSION >= 6 and s.integrity_ok()
    assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    for table, blob in (("enrollment_parts", "data"), ("outbox", "payload")):
        columns = [r["name"] for r in s.conn.execute(f"PRAGMA table_info({table})")]
        assert columns[-1] == blob, columns
    part = s.one("SELECT * FROM enrollment_parts WHERE enrollment_id = 'e1'")
    assert (bytes(part["data"]), part["meta"], part["attempts"], part["updated_at"]) == (photo, '{"quality": 80}', 2, 3.5)
    row = s.one("SELECT rowid, * FROM outbox")
    assert (row["rowid"], row["id"], bytes(row["payload"]), row["state"], row["attempts"], row["next_attempt_at"]) == \
        (7, "p1", payload, "failed", 3, 9.0)
    indexes = {r["name"] for r in s.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox'")}
    assert {"outbox_due", "outbox_purge", "outbox_sent"} <= indexes
    # The cascade from enrollments still reaches the rebuilt parts table.
    with s.transaction() as c:
        c.execute("DELETE FROM outbox")
        c.execute("DELETE FROM enrollments WHERE id = 'e1'")
    assert s.one("SELECT COUNT(*) AS n FROM enrollment_parts")["n"] == 0
    s.close()
