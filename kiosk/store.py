"""The kiosk's one SQLite database, owned here and nowhere else.

WAL so the UI can read while a commit writes; ``synchronous=FULL`` so a committed
enrollment survives a power cut (the field's mains drops for hours); foreign keys on;
schema versions in ``PRAGMA user_version``, migrated forward at start and never backward:
a database written by newer code is refused rather than misread.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import struct
import threading
import time
from pathlib import Path
from typing import Iterator

import sqlite_utils

from kiosk.errors import KioskError, StorageError

log = logging.getLogger(__name__)

MIGRATIONS: list[str] = [
    # 1: the first slice — operators, residents, enrollments with their draft parts, outbox, audit.
    """
    CREATE TABLE operators (
        id TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('operator', 'supervisor', 'technician')),
        pin_hash TEXT NOT NULL,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        locked_until REAL NOT NULL DEFAULT 0,
        demo INTEGER NOT NULL DEFAULT 0,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        operator_id TEXT NOT NULL REFERENCES operators(id) ON DELETE CASCADE,
        created_at REAL NOT NULL,
        last_seen REAL NOT NULL
    );
    CREATE TABLE residents (
        nik TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        birth_place TEXT NOT NULL,
        birth_date TEXT NOT NULL,
        sex TEXT NOT NULL CHECK (sex IN ('M', 'F')),
        blood_type TEXT NOT NULL,
        address TEXT NOT NULL,
        rt TEXT NOT NULL,
        rw TEXT NOT NULL,
        village TEXT NOT NULL,
        district TEXT NOT NULL,
        religion TEXT NOT NULL,
        marital_status TEXT NOT NULL,
        occupation TEXT NOT NULL,
        citizenship TEXT NOT NULL,
        imported_at REAL NOT NULL
    );
    CREATE TABLE schedule (
        village_code TEXT NOT NULL,
        village TEXT NOT NULL,
        start_date TEXT NOT NULL,
        end_date TEXT NOT NULL,
        rt_count INTEGER,
        eligible INTEGER,
        PRIMARY KEY (village_code, start_date)
    );
    CREATE TABLE enrollments (
        id TEXT PRIMARY KEY,
        nik TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('draft', 'committed', 'abandoned')),
        step TEXT NOT NULL,
        operator_id TEXT NOT NULL REFERENCES operators(id),
        village TEXT NOT NULL DEFAULT '',
        biodata TEXT NOT NULL,
        corrections TEXT NOT NULL DEFAULT '[]',
        simulated INTEGER NOT NULL DEFAULT 0,
        registration_id TEXT UNIQUE,
        status TEXT,
        override TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        committed_at REAL
    );
    CREATE INDEX enrollments_nik ON enrollments(nik, state);
    CREATE INDEX enrollments_state ON enrollments(state, updated_at);
    CREATE TABLE enrollment_parts (
        enrollment_id TEXT NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('photo', 'signature', 'finger', 'exception')),
        position INTEGER NOT NULL DEFAULT 0,
        data BLOB,
        meta TEXT NOT NULL DEFAULT '{}',
        attempts INTEGER NOT NULL DEFAULT 1,
        updated_at REAL NOT NULL,
        PRIMARY KEY (enrollment_id, kind, position)
    );
    CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        enrollment_id TEXT NOT NULL UNIQUE REFERENCES enrollments(id),
        registration_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
        payload_format TEXT NOT NULL,
        payload BLOB,
        payload_sha256 TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at REAL NOT NULL,
        sent_at REAL,
        acknowledged_at REAL,
        purged_at REAL
    );
    CREATE INDEX outbox_state ON outbox(state, created_at);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 2: store-and-forward sync (kiosk/sync.py) — its key/value state (status cursor, last success
    # and failure, backoff, clock), per-packet retry time, failure code and the centre's receipt.
    # The indexes cover every column the sync reads per row, so a queue of ~0.7 MB payloads is
    # never walked through its blob overflow pages just to pick the next packet.
    """
    CREATE TABLE sync_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    ALTER TABLE outbox ADD COLUMN next_attempt_at REAL;
    ALTER TABLE outbox ADD COLUMN error_code TEXT;
    ALTER TABLE outbox ADD COLUMN receipt TEXT;
    CREATE INDEX outbox_due ON outbox(state, created_at, payload_format, next_attempt_at);
    CREATE INDEX outbox_purge ON outbox(acknowledged_at) WHERE purged_at IS NULL;
    """,
    # 3: finger templates (ISO/IEC 19794-2:2005 records) of committed enrollments, from which the
    # 1:N gallery (kiosk/biometrics/gallery.py) is rebuilt at start. `algorithm` names the
    # extractor, so templates can be re-extracted from the stored PNGs when it improves.
    """
    CREATE TABLE finger_templates (
        enrollment_id TEXT NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
        nik TEXT NOT NULL,
        position INTEGER NOT NULL CHECK (position BETWEEN 1 AND 10),
        template BLOB NOT NULL,
        algorithm TEXT NOT NULL,
        quality INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        PRIMARY KEY (enrollment_id, position)
    );
    CREATE INDEX finger_templates_nik ON finger_templates(nik);
    """,
    # 4: the supervisor's queue of committed records whose 1:N search found possible duplicates
    # ("data ganda", kiosk/duplicates.py): the suspects as found at commit, then the decision.
    """
    CREATE TABLE duplicate_reviews (
        enrollment_id TEXT PRIMARY KEY REFERENCES enrollments(id) ON DELETE CASCADE,
        suspects TEXT NOT NULL,
        flagged_at REAL NOT NULL,
        decision TEXT CHECK (decision IN ('same_person', 'different_person')),
        reason TEXT,
        decided_by TEXT REFERENCES operators(id),
        decided_at REAL
    );
    CREATE INDEX duplicate_reviews_open ON duplicate_reviews(decided_at, flagged_at);
    """,
    # 5: the outbox screen and the status bar read small columns stored after each ~0.3 MB payload;
    # covering indexes let SQLite answer them without walking the blobs' overflow pages.
    """
    CREATE INDEX outbox_sent ON outbox(state, sent_at);
    CREATE INDEX outbox_list ON outbox(created_at, id, enrollment_id, registration_id, state, payload_format,
                                       payload_sha256, attempts, last_error, sent_at, acknowledged_at, purged_at);
    """,
    # 6: blobs last. SQLite stores a row's columns in order and a large blob's tail in a chain of
    # overflow pages, so every column after `data` / `payload` (meta, attempts, state, times...)
    # was reached only by reading the whole ~20-300 KB blob: each capture step and each commit
    # read ~0.3 MB it did not need. The two tables are rebuilt with their blobs as the last
    # column. Migration 5's wide covering index is no longer needed, and outbox_state is a prefix of
    # outbox_due: neither is recreated (one index page fewer written per commit and per send).
    """
    CREATE TABLE enrollment_parts_v6 (
        enrollment_id TEXT NOT NULL REFERENCES enrollments(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('photo', 'signature', 'finger', 'exception')),
        position INTEGER NOT NULL DEFAULT 0,
        meta TEXT NOT NULL DEFAULT '{}',
        attempts INTEGER NOT NULL DEFAULT 1,
        updated_at REAL NOT NULL,
        data BLOB,
        PRIMARY KEY (enrollment_id, kind, position)
    );
    INSERT INTO enrollment_parts_v6(enrollment_id, kind, position, meta, attempts, updated_at, data)
        SELECT enrollment_id, kind, position, meta, attempts, updated_at, data FROM enrollment_parts;
    DROP TABLE enrollment_parts;
    ALTER TABLE enrollment_parts_v6 RENAME TO enrollment_parts;
    CREATE TABLE outbox_v6 (
        id TEXT PRIMARY KEY,
        enrollment_id TEXT NOT NULL UNIQUE REFERENCES enrollments(id),
        registration_id TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
        payload_format TEXT NOT NULL,
        payload_sha256 TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at REAL NOT NULL,
        sent_at REAL,
        acknowledged_at REAL,
        purged_at REAL,
        next_attempt_at REAL,
        error_code TEXT,
        receipt TEXT,
        payload BLOB
    );
    INSERT INTO outbox_v6(rowid, id, enrollment_id, registration_id, state, payload_format, payload_sha256, attempts,
                          last_error, created_at, sent_at, acknowledged_at, purged_at, next_attempt_at, error_code,
                          receipt, payload)
        SELECT rowid, id, enrollment_id, registration_id, state, payload_format, payload_sha256, attempts, last_error,
               created_at, sent_at, acknowledged_at, purged_at, next_attempt_at, error_code, receipt, payload FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_v6 RENAME TO outbox;
    CREATE INDEX outbox_due ON outbox(state, created_at, payload_format, next_attempt_at);
    CREATE INDEX outbox_purge ON outbox(acknowledged_at) WHERE purged_at IS NULL;
    CREATE INDEX outbox_sent ON outbox(state, sent_at)
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(StorageError):
    pass


def storage_error(exc: sqlite3.Error) -> StorageError:
    """Turn SQLite's words into ones a field operator can act on."""
    text = str(exc).lower()
    if "full" in text:
        return StorageError("disk_full",
                            "Penyimpanan penuh: data belum tersimpan, draf tetap ada. Hubungi teknisi untuk mengosongkan ruang.",
                            "Storage is full: nothing was saved, the draft is kept. Ask a technician to free space.")
    if "readonly" in text or "read-only" in text:
        return StorageError("disk_readonly",
                            "Penyimpanan tidak bisa ditulis: data belum tersimpan. Hubungi teknisi.",
                            "Storage cannot be written: nothing was saved. Ask a technician.")
    if "locked" in text or "busy" in text:
        return StorageError("db_busy", "Basis data sedang sibuk; coba lagi sebentar.",
                            "The database is busy; try again in a moment.")
    return StorageError("db_error", "Kesalahan basis data: data belum tersimpan. Hubungi teknisi.",
                        "Database error: nothing was saved. Ask a technician.", detail=str(exc))


class Store:
    """Thread-safe access: one connection per thread, writes serialised by SQLite itself."""

    def __init__(self, path: str | Path, *, max_pages: int | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._max_pages = max_pages  # tests use it to make a "full disk" without a tiny filesystem
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        # Set after every committed write transaction: kiosk.checkpoint waits on it for idle time.
        self.written = threading.Event()
        self.migrate()

    # --- connections -------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=15, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=15000")
        if self._max_pages:
            conn.execute(f"PRAGMA max_page_count={int(self._max_pages)}")
        with self._lock:
            self._connections.append(conn)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite_utils.Database(self.conn)
        return db

    def close(self) -> None:
        """Close every connection; checkpoint so the main file is whole on its own (safe shutdown)."""
        with self._lock:
            self._closed = True
            conns, self._connections = self._connections, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def reopen(self) -> None:
        """Allow writes again after :meth:`close` (mains returned before the power-off)."""
        with self._lock:
            self._closed = False
        self._local = threading.local()

    # --- transactions ------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit: everything inside is committed together or not at all.

        BEGIN IMMEDIATE takes the write lock up front, so two tabs committing the same draft
        are serialised and the second sees the first's result instead of racing it.
        """
        if self._closed:
            # After a clean close (shutdown on a critical battery) nothing may write again, so the
            # file stays whole when the power goes. Reads still work: the screen can show what is saved.
            raise StorageError("store_closed",
                               "Kios sedang dimatikan dengan aman; data tidak bisa diubah lagi.",
                               "The kiosk is shutting down safely; nothing can be changed now.")
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc
        try:
            yield conn
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise storage_error(exc) from exc
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise storage_error(exc) from exc
            self.written.set()

    def wal_pending_frames(self) -> int | None:
        """WAL frames not yet copied into the database file, read from the wal-index header in
        the -shm file (sqlite.org/walformat.html: mxFrame at byte 16, nBackfill at byte 96, native
        byte order) without touching the database; None when there is no readable index."""
        try:
            with open(f"{self.path}-shm", "rb") as f:
                head = f.read(136)
        except OSError:
            return None
        if len(head) < 136:
            return None
        (mx_frame,), (backfilled,) = struct.unpack_from("=I", head, 16), struct.unpack_from("=I", head, 96)
        return max(0, mx_frame - backfilled)

    def checkpoint(self) -> dict | None:
        """Copy the WAL's committed pages into the database file without blocking writers
        (PASSIVE); ``{"log": frames, "checkpointed": frames}``, or None when closed or busy."""
        if self._closed:
            return None
        busy, frames, done = self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return None if busy else {"log": frames, "checkpointed": done}

    def query(self, sql: str, params=()) -> list[sqlite3.Row]:
        try:
            return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    def one(self, sql: str, params=()) -> sqlite3.Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    # --- schema ------------------------------------------------------------------------------
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(
                "schema_too_new",
                f"Basis data {self.path} dibuat oleh versi perangkat lunak yang lebih baru (skema {current}, "
                f"versi ini mengenal {SCHEMA_VERSION}). Pasang versi yang lebih baru; data tidak diubah.",
                f"The database {self.path} was written by newer software (schema {current}, this version knows "
                f"{SCHEMA_VERSION}). Install the newer version; the data was not touched.",
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            log.info("migrating database to schema %d", version)
            with self.transaction() as conn:
                for statement in _statements(MIGRATIONS[version - 1]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={version}")

    def integrity_ok(self) -> bool:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # --- small shared helpers ----------------------------------------------------------------
    def next_counter(self, conn: sqlite3.Connection, name: str) -> int:
        """Increment a named counter inside the caller's transaction."""
        # Two statements, not RETURNING: that needs SQLite 3.35, and Raspberry Pi OS 11 has 3.34.
        conn.execute("INSERT INTO counters(name, value) VALUES (?, 1) "
                     "ON CONFLICT(name) DO UPDATE SET value = value + 1", (name,))
        return conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0]


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT our transaction; split instead (no ';' inside our literals).
    return [s.strip() for s in script.split(";") if s.strip()]


def now() -> float:
    return time.time()


__all__ = ["Store", "SchemaTooNew", "SCHEMA_VERSION", "storage_error", "now", "KioskError"]
