"""Fixtures of the centre's tests: every store backend, PostgreSQL on a real throwaway cluster.

SQLite always; PostgreSQL on a cluster started from Debian's binaries once per session (skipped,
with the reason printed, only when those binaries are absent).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid

import pytest

from central.store import PostgresStore, SqliteStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL cluster on a free loopback port; yields a base URL (no database name)."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        msg = "PostgreSQL binaries absent (apt-get install -y postgresql): PostgreSQL store not tested"
        print(msg)
        pytest.skip(msg)
    bindir = os.path.dirname(bins[-1])
    root = tempfile.mkdtemp(prefix="ektp-pg-")
    as_user: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, sock, logfile = f"{root}/data", f"{root}/sock", f"{root}/log"
    port = _free_port()
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True, text=True)  # noqa: E731
    run("mkdir", sock)
    run(f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
    run(f"{bindir}/pg_ctl", "-D", data, "-l", logfile, "-w", "-t", "60", "start",
        "-o", f"-h 127.0.0.1 -p {port} -k {sock} -F -c fsync=off")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _fresh_database(base_url: str) -> tuple[str, callable]:
    import psycopg
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(f"{base_url}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return f"{base_url}/{name}", drop


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SqliteStore(tmp_path / "central.db")
        yield s
        s.close()
        return
    url, drop = _fresh_database(request.getfixturevalue("postgres_server"))
    s = PostgresStore(url)
    yield s
    s.close()
    drop()
