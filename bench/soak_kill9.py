"""Soak: many more kill -9 rounds than the suite's 50 (tests/faults/test_kill9.py), with a tally.

Each round starts a real kiosk process (tests/faults/worker.py) that records, commits and syncs
against a real `central run`, and SIGKILLs it a random moment after a random marker. After every
round the database is checked (integrity, one outbox row per committed record, whole payloads);
every ``--sync-every`` rounds and at the end a calm sync must leave the centre holding each
committed packet exactly once. Prints what the kills left behind (rows caught in ``sending``,
packets the centre had but the kiosk had not marked sent) — the cases the resume logic exists for.

    .venv/bin/python bench/soak_kill9.py [--rounds 500] [--seed N] [--sync-every 50]

Stops at the first violation and prints the seed and round to replay it.
"""

from __future__ import annotations

import argparse
import collections
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "faults")):
    if p not in sys.path:
        sys.path.append(p)

from central_helpers import Central, env, kiosk_config, setup_kiosk_keys, write_kiosk_toml  # noqa: E402
from worker import check_store, run_round  # noqa: E402


def calm_sync(data_dir: Path, central: Central) -> dict:
    from kiosk.app import build_kiosk
    from kiosk.sync import sync_once
    k = build_kiosk(kiosk_config(data_dir, central.url, central.public_key), start_workers=False)
    try:
        report = sync_once(k)
    finally:
        k.close()
    state = check_store(data_dir / "kiosk.db")
    held = central.packets()
    ids = [p["packet_id"] for p in held]
    problems = list(state["problems"])
    if report.failed or report.held:
        problems.append(f"final sync: failed {report.failed}, held {report.held}")
    if len(ids) != len(set(ids)):
        problems.append("the centre holds a packet twice")
    if set(ids) != set(state["outbox"]):
        problems.append(f"centre {len(set(ids))} packets vs kiosk outbox {len(state['outbox'])}")
    unsent = [pid for pid, row in state["outbox"].items() if row["state"] != "sent"]
    if unsent:
        problems.append(f"{len(unsent)} packets not sent after a calm sync")
    return {"problems": problems, "held": len(ids), "committed": state["committed"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=500)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--sync-every", type=int, default=50)
    args = p.parse_args(argv)
    logging.disable(logging.WARNING)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="ektp-soak-kill9-"))
    central = Central(tmp / "central").start()
    tally = collections.Counter()
    t0 = time.perf_counter()
    try:
        data_dir = tmp / "kiosk"
        setup_kiosk_keys(central, data_dir)
        cfg = write_kiosk_toml(tmp / "kiosk.toml", data_dir, central.url, central.public_key, timeout_seconds=10)
        centre_ids: set[str] = set()
        for r in range(args.rounds):
            result = run_round(cfg, serial=1 + (2 * r) % 9998, rng=rng, env=env())
            tally[f"marker {result['marker']}"] += 1
            tally["killed" if result["killed"] else "finished before the kill"] += 1
            state = check_store(data_dir / "kiosk.db")
            if state["problems"]:
                print(f"VIOLATION seed {seed} round {r}: {result['marker']} +{result['delay']} s\n"
                      + "\n".join(state["problems"]))
                return 1
            sending = [pid for pid, row in state["outbox"].items() if row["state"] == "sending"]
            tally["rounds leaving a row in 'sending'"] += bool(sending)
            if (r + 1) % args.sync_every == 0 or r + 1 == args.rounds:
                centre_ids = {p["packet_id"] for p in central.packets()}
                tally["crash-window packets (at the centre, not marked sent)"] += sum(
                    1 for pid, row in state["outbox"].items() if pid in centre_ids and row["state"] != "sent")
                check = calm_sync(data_dir, central)
                if check["problems"]:
                    print(f"VIOLATION seed {seed} after round {r}:\n" + "\n".join(check["problems"]))
                    return 1
                print(f"round {r + 1}/{args.rounds}: {check['committed']} committed, centre holds "
                      f"{check['held']} exactly once; {time.perf_counter() - t0:.0f} s", flush=True)
    finally:
        central.stop()
    print(f"\nsoak kill -9: {args.rounds} rounds, seed {seed}, {time.perf_counter() - t0:.0f} s — no violation")
    for k, v in sorted(tally.items()):
        print(f"  {k:55} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
