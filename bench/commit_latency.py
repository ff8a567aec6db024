"""Commit latency and page render times of the kiosk — a benchmark that prints figures.

What it measures
----------------
1. **Commit**: builds a real :class:`kiosk.app.Kiosk` (real SQLite store, simulated devices) in a
   temporary data directory, logs in as the demo supervisor and commits ``--n`` complete
   enrollments through the real ``Enrollments`` service. Only the ``commit`` call is timed: the
   local 1:N duplicate search (its share is reported separately), then the one SQLite transaction
   that writes the record, its packet in the outbox and the audit entry. p50 / p95 / max in ms.
   By default the kiosk has no keys, so packets are plain records; ``--sealed`` first makes a
   kiosk signing key and a centre key, so each commit also signs and encrypts its packet, as a
   production kiosk does.
2. **Bare SQLite**: beside each commit, the same payload bytes (the outbox payload of that
   enrollment, read back from the kiosk's database) are inserted as one row in one transaction
   into a separate SQLite file with the same pragmas (WAL, synchronous=FULL). p50 / p95; the
   ratio commit / bare tells how much the kiosk adds on top of what the disk costs anyway.
3. **Pages**: the Flask app (``ui.create_app``) with Flask's test client, logged in through
   ``POST /api/v1/auth/login`` (cookie), times ``--requests`` GETs of each main screen (login,
   home, NIK entry, each enrollment step, done, outbox). A screen that answers 404 or an error
   is skipped with a note; redirects are timed as they are and flagged.

How the enrollments are made
----------------------------
The first ``--captured`` (default 20) go through every step: create with biodata →
confirm_biodata → capture_photo → set_signature (a PNG drawn with Pillow) → capture_finger × 10
→ verify_finger (2, 7) → commit. That costs about a second each (synthetic captures, quality
gates, template extraction, one fsync'd transaction per step), so the others are created and
confirmed through the service, reuse a captured enrollment's images, and get its finger
templates turned into another person's (same minutia places, random directions): strangers to
the 1:N search, as a village's residents are. ``--captured N`` drives all of them through every
step (slow).

The fingerprint scanner is an in-process stand-in (:class:`InProcessFingers`) handing over the
simulator's synthetic impressions, 4-bit as over the wire, with distinct fingers for each
person. The simulated R30x module on its pseudo-terminal, paced like a UART, costs 0.15-0.7 s
per finger; ``--sensor-link`` uses it anyway (then ``--subjects`` synthetic subjects take turns,
and enrollments of the same subject are duplicate suspects); ``bench/sensor_link.py`` measures
the link itself.

This is never a pass/fail test: the figures depend on the disk (fsync), the CPU and the load of
the machine. It prints a table; ``--json FILE`` also writes the figures. Default settings finish
in under 2 minutes on 2 cores (~1.5 min measured on a loaded 2-vCPU VM).

    .venv/bin/python bench/commit_latency.py [--n 200] [--captured 20] [--requests 50] [--sealed]
                                             [--json results.json] [--dir DIR] [--sensor-link]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from drivers.sim.resident import BIODATA, nik, signature_png  # noqa: E402 - after the path fix above

def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def summary(values_s: list[float]) -> dict:
    ms = [v * 1000 for v in values_s]
    return {"count": len(ms), "p50_ms": round(percentile(ms, 50), 3), "p95_ms": round(percentile(ms, 95), 3),
            "max_ms": round(max(ms), 3), "mean_ms": round(sum(ms) / len(ms), 3)}


class BareSqlite:
    """The floor: one row with the same bytes, one transaction, same pragmas as the kiosk's store."""

    def __init__(self, path: Path):
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS packets (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")

    def insert(self, payload: bytes) -> float:
        t0 = time.perf_counter()
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("INSERT INTO packets(payload) VALUES (?)", (payload,))
        self.conn.execute("COMMIT")
        return time.perf_counter() - t0

    def close(self) -> None:
        self.conn.close()


class InProcessFingers:
    """The simulated module's impressions without the serial link, one distinct person each.

    ``place(person)`` chooses whose fingers are on the sensor. Persons get distinct fingers at
    every position from a small set of synthetic fingers: finger identity ``(person + position)
    mod 20·S`` of S subjects, each identity one of a subject's ten fingers, as grown or mirrored
    (a mirror image is another finger to a matcher). So no two persons share a finger at the
    same position — they are strangers to the 1:N search — while only 10·S fingers are grown.
    """

    backend = "bench"
    simulated = True
    IDENTITIES_PER_SUBJECT = 20

    def __init__(self, persons: int):
        import functools

        from drivers.sim import fingers
        self.subjects = max(1, -(-persons // self.IDENTITIES_PER_SUBJECT))
        self.person = 0
        self._impressions: dict[tuple[int, int], int] = {}
        # Keep every grown finger: the simulator's own cache is sized for one enrollment at a time.
        # (impression() looks master_pattern up in its module at call time.)
        original = getattr(fingers.master_pattern, "__wrapped__", fingers.master_pattern)
        fingers.master_pattern = functools.lru_cache(maxsize=10 * self.subjects + 16)(original)

    def place(self, person: int | None = None, *, present: bool = True, quality: float | None = None) -> None:
        if person is not None:
            self.person = int(person)

    def identity(self, position: int) -> tuple[int, int, bool]:
        """(subject, source position, mirrored) of this person's finger at ``position``."""
        k = (self.person + position) % (self.IDENTITIES_PER_SUBJECT * self.subjects)
        subject, rest = divmod(k, self.IDENTITIES_PER_SUBJECT)
        return 1 + subject, 1 + rest // 2, bool(rest % 2)

    def capture(self, timeout: float, *, position: int | None = None, cancel=None):
        import numpy as np

        from drivers import r30x
        from drivers.fingerprint import FingerImage
        from drivers.sim import fingers
        pos = int(position or 2)
        subject, source, mirrored = self.identity(pos)
        key = (self.person, pos)
        n = self._impressions.get(key, 0)
        self._impressions[key] = n + 1
        image = fingers.impression(subject, source, n, shape=r30x.IMAGE_SHAPE)
        if mirrored:
            image = np.ascontiguousarray(image[:, ::-1])
        # Through the module's 4-bit wire format, as the real driver receives it.
        pixels = r30x.unpack_image(r30x.pack_image(image), r30x.IMAGE_SHAPE)
        return FingerImage(pixels, 500, {"person": self.person, "position": pos, "impression": n})


def record_one(kiosk, op, serial: int, who: int, signature: bytes, *, commit: bool = True):
    """One complete enrollment through the real service; returns (id, (commit seconds, suspects)
    or None)."""
    en = kiosk.enrollments
    eid = en.create(op, nik(serial), dict(BIODATA))["id"]
    en.confirm_biodata(op, eid)
    photo = en.capture_photo(op, eid)
    if not photo["accepted"]:
        raise RuntimeError(f"photo refused: {photo.get('reasons')}")
    sig = en.set_signature(op, eid, signature)
    if not sig["accepted"]:
        raise RuntimeError(f"signature refused: {sig.get('reasons')}")
    kiosk.enrollments.fingerprint.place(who)  # a person (in-process) or a subject (pty module)
    for pos in range(1, 11):
        f = en.capture_finger(op, eid, pos)
        if not f["accepted"]:
            raise RuntimeError(f"finger {pos} refused: {f.get('reasons')}")
    if hasattr(en, "verify_finger"):
        for pos in (2, 7):  # the index fingers, re-captured and matched 1:1 (DESIGN §3)
            v = en.verify_finger(op, eid, pos)
            if not v.get("matched"):
                raise RuntimeError(f"index finger {pos} did not verify: {v}")
    if not commit:
        return eid, None
    return eid, timed_commit(en, op, eid)


def stranger_meta(meta_json: str, serial: int, position: int) -> str:
    """The finger part's meta with its template turned into another person's finger.

    The minutiae keep their places (a realistic spread) but get random directions, so their
    cylinders — what the 1:N prefilter and matcher compare — are those of an unrelated finger.
    Without this every reused capture would be a duplicate of its source and each commit would
    run the full geometric check on every candidate, which is not what a village's day looks like.
    """
    import base64

    import numpy as np

    from kiosk.biometrics.iso19794 import decode, encode
    from kiosk.biometrics.minutiae import Template
    meta = json.loads(meta_json)
    if not meta.get("template"):
        return meta_json
    t = decode(base64.b64decode(meta["template"]))
    rng = np.random.default_rng([serial, position])
    angle = rng.uniform(0, 2 * np.pi, len(t))
    other = Template.from_arrays(t.width, t.height, t.x, t.y, angle, t.kind, t.minutia_quality,
                                 position=t.position, quality=t.quality)
    meta["template"] = base64.b64encode(encode(other)).decode("ascii")
    return json.dumps(meta)


def clone_one(kiosk, op, serial: int, source_id: str):
    """An enrollment created and confirmed through the service, its captures copied from a
    recorded one (images, verification; templates made strangers), then committed; returns
    (id, (commit seconds, duplicate suspects))."""
    from kiosk.store import now
    en = kiosk.enrollments
    eid = en.create(op, nik(serial), dict(BIODATA))["id"]
    en.confirm_biodata(op, eid)
    with kiosk.store.transaction() as conn:
        columns = [r["name"] for r in conn.execute("PRAGMA table_info(enrollment_parts)")
                   if r["name"] not in ("enrollment_id", "updated_at")]
        cols = ", ".join(columns)
        conn.execute(f"INSERT INTO enrollment_parts(enrollment_id, updated_at, {cols}) "
                     f"SELECT ?, ?, {cols} FROM enrollment_parts WHERE enrollment_id = ?", (eid, now(), source_id))
        for part in conn.execute("SELECT position, meta FROM enrollment_parts WHERE enrollment_id = ? "
                                 "AND kind = 'finger'", (eid,)).fetchall():
            conn.execute("UPDATE enrollment_parts SET meta = ? WHERE enrollment_id = ? AND kind = 'finger' "
                         "AND position = ?", (stranger_meta(part["meta"], serial, part["position"]), eid,
                                              part["position"]))
        conn.execute("UPDATE enrollments SET step = 'review', updated_at = ? WHERE id = ?", (now(), eid))
    return eid, timed_commit(en, op, eid)


SEARCH_TIMES: list[float] = []


def time_duplicate_search() -> bool:
    """Wrap the 1:N duplicate search that commit runs, to report its share of the commit."""
    try:
        from kiosk import duplicates
    except ImportError:
        return False
    inner = getattr(duplicates, "suspects", None)
    if inner is None or getattr(inner, "_bench_timed", False):
        return inner is not None

    def suspects(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            SEARCH_TIMES.append(time.perf_counter() - t0)
    suspects._bench_timed = True
    duplicates.suspects = suspects
    return True


def timed_commit(en, op, eid: str) -> tuple[float, int]:
    """Seconds the commit call took, and how many duplicate suspects it reported."""
    t0 = time.perf_counter()
    result = en.commit(op, eid)
    return time.perf_counter() - t0, len(result.get("duplicate_suspects") or [])


def bench_commits(kiosk, op, n: int, subjects: int, captured: int, bare: BareSqlite, progress) -> dict:
    signature = signature_png()
    commit_times, bare_times, sizes = [], [], []
    payload_format = "?"
    ids = []
    flagged = 0
    captured = min(captured, n)
    SEARCH_TIMES.clear()
    for i in range(n):
        if i < captured:
            if isinstance(kiosk.enrollments.fingerprint, InProcessFingers):
                who = i  # a distinct person
            else:
                # The pty module shows subject N's fingers: consecutive enrollments share one,
                # so its ten fingers are grown once (they will be duplicate suspects).
                who = 1 + i * subjects // captured
            eid, seconds = record_one(kiosk, op, i + 1, who, signature)
        else:
            eid, seconds = clone_one(kiosk, op, i + 1, ids[i % captured])
        commit_times.append(seconds[0])
        flagged += bool(seconds[1])
        ids.append(eid)
        row = kiosk.store.one("SELECT payload, payload_format FROM outbox WHERE enrollment_id = ?", (eid,))
        payload = bytes(row["payload"])
        payload_format = row["payload_format"]
        sizes.append(len(payload))
        bare_times.append(bare.insert(payload))
        if progress and (i + 1) % 25 == 0:
            progress(f"  {i + 1}/{n} enrollments")
    commit = summary(commit_times)
    floor = summary(bare_times)
    search = summary(SEARCH_TIMES) if len(SEARCH_TIMES) == n else None
    rest = summary([c - t for c, t in zip(commit_times, SEARCH_TIMES)]) if search else None
    return {"commit": commit, "duplicate_search": search, "commit_without_search": rest,
            "bare_sqlite": floor, "payload_format": payload_format,
            "captured": captured, "flagged_duplicates": flagged, "payload_bytes": {
                "p50": int(percentile(sizes, 50)), "max": max(sizes)},
            "ratio_p50": round(commit["p50_ms"] / floor["p50_ms"], 2) if floor["p50_ms"] else None,
            "ratio_p95": round(commit["p95_ms"] / floor["p95_ms"], 2) if floor["p95_ms"] else None,
            "last_committed": ids[-1] if ids else None}


def bench_pages(kiosk, op, requests: int, committed_id: str | None, serial: int, subject: int) -> dict:
    from ui import create_app
    app = create_app(kiosk)
    client = app.test_client()
    r = client.post("/api/v1/auth/login", json={"operator": "demo", "pin": "123456"})
    if r.status_code != 200:
        raise RuntimeError(f"login failed: {r.status_code} {r.get_data(as_text=True)[:200]}")
    # A draft complete up to review (for the step screens) and a committed one (for "done").
    draft_id, _ = record_one(kiosk, op, serial, subject, signature_png(), commit=False)
    if committed_id is None:
        committed_id, _ = record_one(kiosk, op, serial + 1, subject, signature_png())
    screens = [("login", "/login"), ("home", "/"), ("enroll (NIK)", "/enroll")]
    screens += [(step, f"/enroll/{draft_id}/{step}") for step in ("biodata", "photo", "signature", "fingers", "review")]
    screens += [("done", f"/enroll/{committed_id}/done"), ("outbox", "/outbox")]
    pages, skipped = {}, []
    for name, path in screens:
        first = client.get(path)
        shown = path.replace(draft_id, "<draft>").replace(committed_id, "<committed>")
        if first.status_code == 404:
            skipped.append({"screen": name, "path": shown, "note": "404: screen not present"})
            continue
        if first.status_code >= 400:
            skipped.append({"screen": name, "path": shown, "note": f"{first.status_code}: error, not timed"})
            continue
        times, size = [], len(first.get_data())
        for _ in range(requests):
            t0 = time.perf_counter()
            resp = client.get(path)
            resp.get_data()
            times.append(time.perf_counter() - t0)
        s = summary(times)
        s.update(status=first.status_code, bytes=size, path=shown)
        if 300 <= first.status_code < 400:
            s["note"] = f"redirect to {first.headers.get('Location')}"
        pages[name] = s
    return {"pages": pages, "skipped": skipped}


def machine() -> dict:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "sqlite": sqlite3.sqlite_version, "machine": platform.machine()}


def print_table(result: dict) -> None:
    c = result["commits"]
    print(f"\nektp-kiosk commit latency — {c['commit']['count']} enrollments, "
          f"{c['payload_format']} packets "
          f"(payload p50 {c['payload_bytes']['p50'] / 1024:.0f} KiB, max {c['payload_bytes']['max'] / 1024:.0f} KiB)")
    print(f"{'':28}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    rows = [("Enrollments.commit", c["commit"])]
    if c.get("duplicate_search"):
        rows += [("  of which 1:N search", c["duplicate_search"]), ("  everything else", c["commit_without_search"])]
    rows.append(("bare SQLite insert+commit", c["bare_sqlite"]))
    for label, s in rows:
        print(f"{label:28}{s['p50_ms']:>10.2f}{s['p95_ms']:>10.2f}{s['max_ms']:>10.2f}")
    print(f"{'ratio commit / bare':28}{c['ratio_p50']:>10}{c['ratio_p95']:>10}")
    print(f"captured through the service: {c['captured']}, the rest reuse their captures; "
          f"commits with duplicate suspects: {c['flagged_duplicates']}")
    p = result["pages"]
    print(f"\npage render (Flask test client, {result['settings']['requests']} GETs each)")
    print(f"{'screen':16}{'path':30}{'status':>7}{'KiB':>7}{'p50 ms':>9}{'p95 ms':>9}")
    for name, s in p["pages"].items():
        note = f"  ({s['note']})" if s.get("note") else ""
        print(f"{name:16}{s['path']:30}{s['status']:>7}{s['bytes'] / 1024:>7.1f}{s['p50_ms']:>9.2f}{s['p95_ms']:>9.2f}{note}")
    for s in p["skipped"]:
        print(f"{s['screen']:16}{s['path']:30}  skipped: {s['note']}")
    print(f"\n{result['machine']['platform']}, {result['machine']['cpus']} CPUs, Python "
          f"{result['machine']['python']}, SQLite {result['machine']['sqlite']}; total {result['seconds']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="enrollments to commit (default 200)")
    ap.add_argument("--requests", type=int, default=50, help="GETs per screen (default 50)")
    ap.add_argument("--subjects", type=int, default=3,
                    help="with --sensor-link: synthetic subjects, each for a run of enrollments (default 3)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--captured", type=int, default=20,
                    help="enrollments whose photo, signature and fingers are captured through the service "
                         "(~1 s each); the others reuse their captures (default 20; --captured N for all)")
    ap.add_argument("--sealed", action="store_true",
                    help="make a kiosk key and a centre key first, so commits seal their packets "
                         "(sign + encrypt) as a production kiosk does; default: plain packets")
    ap.add_argument("--sensor-link", action="store_true",
                    help="capture through the simulated R30x module on its pty (slow; use a small --n)")
    ap.add_argument("--dir", help="make the temporary directory under DIR, to measure that disk "
                                  "(e.g. the SD card when /tmp is in RAM); removed afterwards")
    args = ap.parse_args(argv)
    if not 1 <= args.n <= 9000:
        ap.error("--n must be 1..9000")
    if args.requests < 1 or args.subjects < 1 or args.captured < 1:
        ap.error("--requests, --subjects and --captured must be >= 1")

    logging.basicConfig(level=logging.ERROR)
    from kiosk.app import build_kiosk
    from kiosk.config import load_config

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ektp-bench-", dir=args.dir) as tmp:
        data_dir = Path(tmp) / "data"
        overrides = {"kiosk": {"data_dir": str(data_dir)}}
        if args.sealed:
            from kiosk.keys import generate_central_keys, generate_kiosk_keys
            generate_kiosk_keys(data_dir)
            overrides["central"] = {"public_key": str(generate_central_keys(Path(tmp) / "central")[1])}
        config = load_config(simulate=True, overrides=overrides)
        kiosk = build_kiosk(config, start_workers=False)
        if args.sealed and not getattr(kiosk, "sealed", False):
            raise SystemExit("--sealed: the kiosk did not pick up its keys")
        time_duplicate_search()
        if not args.sensor_link:
            kiosk.enrollments.fingerprint = InProcessFingers(min(args.captured, args.n) + 2)
        bare = BareSqlite(Path(tmp) / "bare.db")
        try:
            op = kiosk.operators.verify_pin("demo", "123456")
            log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
            log(f"recording {args.n} enrollments in {data_dir} ...")
            commits = bench_commits(kiosk, op, args.n, args.subjects, args.captured, bare, log)
            log("timing pages ...")
            pages = bench_pages(kiosk, op, args.requests, commits.pop("last_committed"), args.n + 1,
                                min(args.captured, args.n))
        finally:
            bare.close()
            kiosk.close()
    result = {"settings": {"n": args.n, "requests": args.requests, "subjects": args.subjects,
                           "captured": min(args.captured, args.n), "sealed": args.sealed,
                           "sensor_link": args.sensor_link},
              "commits": commits, "pages": pages, "machine": machine(),
              "seconds": round(time.perf_counter() - started, 1)}
    print_table(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
