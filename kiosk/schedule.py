"""The district's recording schedule: which village records on which days, and how many are eligible.

Imported from the CSV the district publishes (see shared data: village code, dates, RT count,
eligible residents); the home screen offers today's village from it.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from kiosk import audit
from kiosk.errors import InvalidInput
from kiosk.store import Store

COLUMNS = ("start_date", "end_date", "village_code", "village", "rt_count", "eligible")


def import_csv(store: Store, path: str | Path, *, actor: str = "cli") -> dict:
    path = Path(path)
    if not path.is_file():
        raise InvalidInput("file_missing", f"Berkas tidak ada: {path}", f"File not found: {path}")
    rows, rejected = [], []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInput("bad_header", "Kolom berikut tidak ada: " + ", ".join(missing),
                               "These columns are missing: " + ", ".join(missing), missing=missing)
        for line_no, row in enumerate(reader, start=2):
            try:
                start = dt.date.fromisoformat(row["start_date"].strip())
                end = dt.date.fromisoformat(row["end_date"].strip())
                if end < start:
                    raise ValueError("end before start")
                rows.append({"village_code": row["village_code"].strip(), "village": row["village"].strip(),
                             "start_date": start.isoformat(), "end_date": end.isoformat(),
                             "rt_count": int(row["rt_count"] or 0), "eligible": int(row["eligible"] or 0)})
            except (ValueError, KeyError, AttributeError) as exc:
                rejected.append({"line": line_no, "reason": str(exc)})
    with store.transaction() as conn:
        for r in rows:
            conn.execute("INSERT OR REPLACE INTO schedule(village_code, village, start_date, end_date, rt_count, eligible) "
                         "VALUES (:village_code, :village, :start_date, :end_date, :rt_count, :eligible)", r)
        audit.record(conn, actor, "schedule.import", path.name, rows=len(rows), rejected=len(rejected))
    return {"imported": len(rows), "rejected": rejected}


def villages(store: Store) -> list[dict]:
    return [dict(r) for r in store.query("SELECT * FROM schedule ORDER BY start_date, village")]


def today(store: Store, day: dt.date | None = None) -> list[dict]:
    day = (day or dt.date.today()).isoformat()
    return [dict(r) for r in store.query("SELECT * FROM schedule WHERE start_date <= ? AND end_date >= ? "
                                         "ORDER BY village", (day, day))]
