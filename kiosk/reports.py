"""Progress against the district's target: residents recorded per village vs those eligible.

The figures are shown as given: when the schedule's eligible counts do not add up to the
district's own total, the report shows both rather than hide the difference.
"""

from __future__ import annotations

from kiosk.store import Store


def progress(store: Store) -> dict:
    villages = []
    recorded_by_village = {r["village"].casefold(): r["n"] for r in store.query(
        "SELECT village, COUNT(*) AS n FROM enrollments WHERE state = 'committed' GROUP BY village")}
    seen = set()
    for row in store.query("SELECT village_code, village, MIN(start_date) AS start_date, MAX(end_date) AS end_date, "
                           "MAX(eligible) AS eligible FROM schedule GROUP BY village_code ORDER BY start_date"):
        key = row["village"].casefold()
        seen.add(key)
        recorded = recorded_by_village.get(key, 0)
        eligible = row["eligible"] or 0
        villages.append({"village_code": row["village_code"], "village": row["village"],
                         "start_date": row["start_date"], "end_date": row["end_date"],
                         "eligible": eligible, "recorded": recorded,
                         "percent": round(100 * recorded / eligible, 1) if eligible else None})
    unscheduled = sum(n for v, n in recorded_by_village.items() if v not in seen)
    recorded = sum(v["recorded"] for v in villages) + unscheduled
    eligible = sum(v["eligible"] for v in villages)
    return {"villages": villages, "recorded": recorded, "eligible": eligible,
            "recorded_outside_schedule": unscheduled,
            "percent": round(100 * recorded / eligible, 1) if eligible else None}
