"""Sensor time per finger vs the serial-link limit (issue #3, item 7).

For each baud rate, the real driver (:class:`drivers.fingerprint.R30xReader`, real pyserial)
captures fingers from the simulated module (:mod:`drivers.sim.r30x_module`) on a pseudo-terminal
that paces its output like a UART at that rate (10 bits a byte). One capture is what the kiosk
does per finger: GenImg, then UpImage and the 288 data packets of a 256 x 288 image at 4 bits a
pixel (36,864 bytes + 11 bytes of framing per 128-byte packet).

- *link limit*: the bytes that crossed the line in both directions during the capture, counted
  by the driver, divided by the byte rate (baud / 10): no protocol on this link can be faster.
- *sensor time*: the wall time of ``capture()``, median over ``--n`` captures.

The simulated module's "imaging" is generating the synthetic impression (tens of ms, printed
below); a real R307 takes up to ~0.5 s (datasheet: under 1 s) to image a finger, which a real
kiosk adds on top. The ratio printed is therefore the driver's and the line's efficiency.

    .venv/bin/python bench/sensor_link.py                 # 57,600 and 115,200 baud, 3 captures each
    .venv/bin/python bench/sensor_link.py --baud 57600 115200 921600 --n 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from drivers import r30x  # noqa: E402
from drivers.fingerprint import R30xReader  # noqa: E402
from drivers.sim import fingers  # noqa: E402
from drivers.sim.r30x_module import R30xModule  # noqa: E402

TARGET = 1.15


def measure(baud: int, n: int, subject: int = 1, position: int = 2) -> dict:
    fingers.master_pattern(subject, position)  # grow the finger once: that is not sensor time
    imaging = []
    for i in range(n):
        t = time.perf_counter()
        fingers.impression(subject, position, i)
        imaging.append(time.perf_counter() - t)
    with R30xModule(baudrate=baud) as module, R30xReader(port=module.port, baudrate=baud) as reader:
        module.place(subject, position=position)
        times, wire = [], []
        for _ in range(n):
            before = reader.stats["bytes_in"] + reader.stats["bytes_out"]
            t = time.perf_counter()
            reader.capture(5.0, position=position)
            times.append(time.perf_counter() - t)
            wire.append(reader.stats["bytes_in"] + reader.stats["bytes_out"] - before)
        packet = reader.sys_para.packet_size
    byte_rate = baud / 10
    limit = statistics.median(wire) / byte_rate
    sensor = statistics.median(times)
    return {"baud": baud, "packet_size": packet, "captures": n, "wire_bytes": int(statistics.median(wire)),
            "image_wire_bytes": r30x.wire_bytes(36864, packet), "link_limit_s": limit, "sensor_s": sensor,
            "sensor_min_s": min(times), "sensor_max_s": max(times), "ratio": sensor / limit,
            "sim_imaging_s": statistics.median(imaging)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baud", type=int, nargs="+", default=[57600, 115200])
    ap.add_argument("--n", type=int, default=3, help="captures per baud rate (median reported)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    rows = [measure(b, args.n) for b in args.baud]
    print(f"\nsensor time per finger vs serial-link limit — GenImg + UpImage of a 256x288 image, "
          f"real driver over a pty, median of {args.n}")
    print(f"{'baud':>9} {'pkt':>4} {'wire bytes':>11} {'link limit s':>13} {'sensor s':>9} {'min..max s':>13} "
          f"{'ratio':>6} {'target':>7}")
    for r in rows:
        ok = "ok" if r["ratio"] <= TARGET else "MISSED"
        print(f"{r['baud']:>9} {r['packet_size']:>4} {r['wire_bytes']:>11} {r['link_limit_s']:>13.3f} "
              f"{r['sensor_s']:>9.3f} {r['sensor_min_s']:>6.3f}..{r['sensor_max_s']:<6.3f} {r['ratio']:>6.3f} "
              f"<= {TARGET} {ok}")
    print(f"(sim imaging = synthetic impression, median {statistics.median(r['sim_imaging_s'] for r in rows) * 1000:.0f} ms; "
          f"a real R307 adds up to ~0.5 s of imaging)")
    print(f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"rows": rows, "target": TARGET, "platform": platform.platform()}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
