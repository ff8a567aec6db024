"""Audit trail: who did what to which record, written in the same transaction as the change.

Details hold ids and reasons only — never biodata or biometrics — so the trail can be shown
to a technician or carried away in a diagnostics bundle.
"""

from __future__ import annotations

import json
import sqlite3

from kiosk.store import Store, now


def record(conn: sqlite3.Connection, actor: str, action: str, subject: str = "", **detail) -> None:
    conn.execute("INSERT INTO audit(at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                 (now(), actor, action, subject, json.dumps(detail, sort_keys=True)))


def entries(store: Store, *, subject: str | None = None, limit: int = 200) -> list[dict]:
    sql, params = "SELECT * FROM audit", []
    if subject is not None:
        sql += " WHERE subject = ?"
        params.append(subject)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return [dict(r, detail=json.loads(r["detail"])) for r in store.query(sql, params)]
