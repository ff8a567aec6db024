"""Process-wide memory tuning for a kiosk that moves ~0.3 MB records around.

Every commit and every send handles a handful of buffers of a record's size (the parts read from
SQLite, the sealed packet, its ciphertext). glibc serves allocations over 128 KiB with a fresh
``mmap`` and returns them with ``munmap`` when freed, and trims the heap top above 128 KiB: each
buffer then costs ~50 page faults to create and a syscall to drop. Sealing one record spent
three quarters of its time there (0.41 ms → 0.13 ms with the thresholds below, bench/sync.py).

Raising the mmap threshold to 1 MiB keeps record-sized buffers on the heap; a 16 MiB trim
threshold keeps that much freed heap for the next record instead of handing it back to the
kernel. The cost is at most ~16 MiB of resident memory kept for reuse. Only glibc has
``mallopt``; elsewhere (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 1 << 20
TRIM_THRESHOLD = 16 << 20

_done = False


def tune_for_records() -> bool:
    """Set the thresholds once per process; True when glibc took them."""
    global _done
    if _done:
        return True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    if ok:
        log.debug("malloc tuned for record-sized buffers (mmap threshold %d, trim threshold %d)",
                  MMAP_THRESHOLD, TRIM_THRESHOLD)
    _done = ok
    return ok
