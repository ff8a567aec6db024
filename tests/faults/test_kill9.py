"""kill -9 of a kiosk process at random points of commit and of sync: nothing lost, nothing doubled.

Each round launches tests/faults/worker.py (a real kiosk process: real SQLite store, simulated
devices, sealed packets) against a real `central run`, waits for a random marker (start-up,
just before a commit, just before a sync round) and SIGKILLs it a random moment later. After
every round the database must pass ``PRAGMA integrity_check``, every committed enrollment must
have exactly one outbox row with a whole payload, and nothing may be half-written. After the
last round one sync drains the rest and the centre must hold every committed packet exactly once.
The rounds run on two kiosks side by side (two lanes, each its own data directory and key, one
centre), which halves the wall time on two cores without changing what each round does.
Replay a failure with KILL9_SEED=<seed printed in the assertion>; KILL9_ROUNDS changes the count.
`bench/soak_kill9.py` runs the same rounds many more times.
"""

from __future__ import annotations

import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from central_helpers import Central, env, kiosk_config, setup_kiosk_keys, write_kiosk_toml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from worker import check_store, run_round  # noqa: E402

from kiosk.app import build_kiosk  # noqa: E402
from kiosk.sync import sync_once  # noqa: E402

ROUNDS = int(os.environ.get("KILL9_ROUNDS", "50"))
LANES = 2  # two kiosks killed side by side (one per core): the same 50 rounds in half the time


def lane(tmp_path, central, index: int, rounds: int, seed: int) -> dict:
    """``rounds`` kill rounds on one kiosk; checks the store after each; returns its history."""
    rng = random.Random(seed * 10 + index)
    kiosk_id = f"KIOSK-KILL-{index}"
    data_dir = tmp_path / f"kiosk-{index}"
    setup_kiosk_keys(central, data_dir, kiosk_id)
    # A short timeout keeps a round that dies mid-PUT from stalling the next one's retry.
    cfg = write_kiosk_toml(tmp_path / f"kiosk-{index}.toml", data_dir, central.url, central.public_key,
                           kiosk_id=kiosk_id, timeout_seconds=10)
    history = []
    for r in range(rounds):
        result = run_round(cfg, serial=1 + 2 * r, rng=rng, env=env())
        history.append({k: result[k] for k in ("marker", "nth", "delay", "killed")})
        state = check_store(data_dir / "kiosk.db")
        assert state["problems"] == [], f"seed {seed}, lane {index}, round {r}: {result}\n{state['problems']}"
    return {"history": history, "data_dir": data_dir, "kiosk_id": kiosk_id}


@pytest.mark.timeout(900)
def test_kill9_during_commits_and_sync_loses_and_duplicates_nothing(tmp_path):
    seed = int(os.environ.get("KILL9_SEED", random.randrange(1 << 30)))
    central = Central(tmp_path / "central").start()
    try:
        per_lane = [ROUNDS // LANES + (1 if i < ROUNDS % LANES else 0) for i in range(LANES)]
        with ThreadPoolExecutor(LANES) as pool:
            lanes = list(pool.map(lambda i: lane(tmp_path, central, i, per_lane[i], seed), range(LANES)))
        history = [h for ln in lanes for h in ln["history"]]
        assert len(history) == ROUNDS
        killed = sum(h["killed"] for h in history)
        assert killed >= ROUNDS * 0.8, f"seed {seed}: only {killed} of {ROUNDS} rounds ended in a kill"
        assert {h["marker"] for h in history} == {"ready", "commit-start", "sync-start"} or ROUNDS < 10

        all_outbox: dict[str, dict] = {}
        for ln in lanes:
            # One calm sync at the end: whatever was queued, sending, or failed by a kill goes now.
            k = build_kiosk(kiosk_config(ln["data_dir"], central.url, central.public_key, kiosk_id=ln["kiosk_id"]),
                            start_workers=False)
            try:
                report = sync_once(k)
                assert report.failed == 0 and report.held == 0, report.as_dict()
            finally:
                k.close()
            state = check_store(ln["data_dir"] / "kiosk.db")
            assert state["problems"] == []
            outbox = state["outbox"]
            assert len(outbox) == state["committed"] > 0
            assert all(row["state"] == "sent" for row in outbox.values()), \
                {pid: row["state"] for pid, row in outbox.items() if row["state"] != "sent"}
            all_outbox.update(outbox)

        held = central.packets()
        ids = [p["packet_id"] for p in held]
        assert len(ids) == len(set(ids))  # nothing duplicated at the centre ...
        assert set(ids) == set(all_outbox)  # ... nothing lost, nothing the kiosks do not know
        regs = [p["registration_id"] for p in held]
        assert len(regs) == len(set(regs))
        assert sorted(regs) == sorted(row["registration_id"] for row in all_outbox.values())
    finally:
        central.stop()
