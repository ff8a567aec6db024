"""The status pipeline: each newly received record is checked against the records already held.

A card may be written only at PRR, so the rule errs towards a person looking at it:
- the NIK is already held and a record with the same biodata is PRR → DUPLICATE (a re-recording);
- the NIK is already held otherwise (biodata differs, or the earlier one is itself in doubt)
  → ADJUDICATE (one NIK, two people, or a correction made without documents);
- a biometric suspect (once issue #3's 1:N matcher plugs into :func:`biometric_check`) → ADJUDICATE;
- otherwise → PRR.
Training records (``simulated: true``) are accepted and flagged, and compared only with other
training records: practice must never block a real resident, nor a real record vouch for practice.
"""

from __future__ import annotations

import logging
from typing import Callable

from central.store import Store

log = logging.getLogger(__name__)

# The biodata fields that identify a person; a different address alone is a move, not another person.
IDENTITY_FIELDS = ("nik", "name", "birth_place", "birth_date", "sex")


def biometric_check(record: dict, store: Store) -> list[dict]:
    """Suspected biometric duplicates of ``record`` among the held records: [{"packet_id", "score"}].

    No matcher yet: issue #3 replaces this hook (``central.pipeline.biometric_check = ...``).
    """
    return []


def _same_person(a: dict, b: dict) -> bool:
    return all(str(a.get(f, "")).strip().casefold() == str(b.get(f, "")).strip().casefold()
               for f in IDENTITY_FIELDS)


def classify(packet: dict, others: list[dict], store: Store,
             check: Callable[[dict, Store], list[dict]] | None = None) -> tuple[str, dict]:
    record = packet["record"]
    detail: dict = {"training": True} if packet["simulated"] else {}
    held = [o for o in others if o["simulated"] == packet["simulated"] and o["status"] != "FAILED"]
    if held:
        twin = next((o for o in held if o["status"] == "PRR" and _same_person(o["record"]["biodata"],
                                                                              record["biodata"])), None)
        if twin:
            return "DUPLICATE", {**detail, "reason": "nik_already_prr", "duplicate_of": twin["registration_id"]}
        return "ADJUDICATE", {**detail, "reason": "nik_held_biodata_differs",
                              "held": [o["registration_id"] for o in held]}
    suspects = (check or biometric_check)(record, store)
    if suspects:
        return "ADJUDICATE", {**detail, "reason": "biometric_suspect", "suspects": len(suspects)}
    return "PRR", detail


def process(store: Store, packet_id: str) -> dict:
    """Decide one received packet; returns its row with the new status (unchanged if already decided)."""
    row = store.decide(packet_id, lambda packet, others: classify(packet, others, store))
    if row is not None:
        log.info("packet %s from %s → %s", packet_id, row["kiosk_id"], row["status"])
    return row


def process_pending(store: Store) -> int:
    """Packets received but never decided (the centre stopped mid-way): decide them now, oldest first."""
    n = 0
    for row in store.packets(status="received"):
        process(store, row["packet_id"])
        n += 1
    return n
