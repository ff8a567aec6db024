"""The outbox: what the kiosk owes the centre, one entry per committed enrollment.

An entry is written in the same transaction as its enrollment, so a record is never
committed without its packet or queued without its record. States follow ODK's rule:
``queued`` → ``sending`` (marked before a try) → ``sent`` only on the centre's receipt;
``failed`` keeps the reason. ``payload_format`` names how the payload is packed, so a
sealed (signed + encrypted) format slots in beside the first one without a migration.
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid

from kiosk.store import Store, now

STATES = ("queued", "sending", "sent", "failed")


def enqueue(conn: sqlite3.Connection, *, enrollment_id: str, registration_id: str,
            payload: bytes, payload_format: str, packet_id: str | None = None) -> str:
    # A sealed packet names its id inside its signed header, so the caller picks the id first.
    packet_id = packet_id or str(uuid.uuid4())
    conn.execute("INSERT INTO outbox(id, enrollment_id, registration_id, state, payload_format, payload, "
                 "payload_sha256, created_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                 (packet_id, enrollment_id, registration_id, payload_format, payload,
                  hashlib.sha256(payload).hexdigest(), now()))
    return packet_id


def counts(store: Store) -> dict:
    out = {state: 0 for state in STATES}
    for row in store.query("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state"):
        out[row["state"]] = row["n"]
    oldest = store.one("SELECT MIN(created_at) AS t FROM outbox WHERE state IN ('queued', 'sending', 'failed')")
    last = store.one("SELECT MAX(sent_at) AS t FROM outbox WHERE state = 'sent'")
    out["oldest_unsent_age_seconds"] = None if oldest["t"] is None else round(now() - oldest["t"], 1)
    out["last_sent_at"] = last["t"]
    out["total"] = sum(out[s] for s in STATES)
    return out


def entries(store: Store, *, limit: int = 100) -> list[dict]:
    rows = store.query("SELECT id, enrollment_id, registration_id, state, payload_format, payload_sha256, "
                       "attempts, last_error, created_at, sent_at, acknowledged_at, purged_at "
                       "FROM outbox ORDER BY created_at DESC LIMIT ?", (limit,))
    return [dict(r) for r in rows]
