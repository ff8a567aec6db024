"""kiosk.memory: glibc keeps record-sized buffers on the heap once the kiosk has started."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_record_sized_buffers_stop_costing_page_faults():
    # In a fresh interpreter, so the thresholds of this test process do not matter.
    code = textwrap.dedent("""
        import resource, sys
        def faults():
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        def churn():
            before = faults()
            for _ in range(200):  # like sealing one record: three record-sized buffers alive at once
                bufs = [bytearray(300_000) for _ in range(3)]
                for b in bufs:
                    b[::4096] = b"x" * len(b[::4096])
                del bufs, b
            return faults() - before
        untuned = churn()
        from kiosk.memory import tune_for_records
        assert tune_for_records() and tune_for_records()
        churn()
        tuned = churn()
        print(untuned, tuned)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    untuned, tuned = map(int, out.stdout.split())
    assert untuned >= 200 * 100  # the heap top trimmed and grown again each round: ~73 pages a buffer
    assert tuned < untuned / 10, (untuned, tuned)
