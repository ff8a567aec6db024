"""WAL checkpoints while the kiosk is idle, so a commit never waits for one.

SQLite copies the write-ahead log back into the database file (a checkpoint) on the connection
whose commit pushes the log past 1,000 pages: with ~76 pages a record, every 13th commit pays for
copying ~4 MB and an extra fsync of the main file (~10 ms on this VM; far more on an SD card),
while the operator waits. Records come minutes apart in the field, so this thread waits for the
writes to stop for ``idle_seconds`` and checkpoints then; the next commit finds the log empty.
SQLite's own autocheckpoint stays on as the backstop for a burst with no idle moment.

Only a log of ``min_frames`` or more is checkpointed: after a checkpoint the next commit restarts
the log, which costs it one more sync of the log's header. Checkpointing after every record would
trade the rare long stall for a small cost on every commit. At ~400 frames (five records) the log
restarts about as often as it does under SQLite's rule, but the copying happens while nobody waits.

A PASSIVE checkpoint takes no lock a writer needs: a commit that starts meanwhile is not held up,
and the checkpoint simply copies what it can.
"""

from __future__ import annotations

import logging
import threading

from kiosk.store import Store

log = logging.getLogger(__name__)


class IdleCheckpointer:
    def __init__(self, store: Store, *, idle_seconds: float = 1.0, min_frames: int = 400):
        self.store = store
        self.idle_seconds = idle_seconds
        self.min_frames = min_frames
        self.idle_periods = 0  # idle moments seen after a write (tests)
        self.checkpoints = 0  # checkpoints run (status and tests)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "IdleCheckpointer":
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.store.written.set()  # wake the wait
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        written = self.store.written
        while not self._stop.is_set():
            written.wait()
            # Writes keep coming while the event is set again within the idle period.
            while written.is_set() and not self._stop.is_set():
                written.clear()
                self._stop.wait(self.idle_seconds)
            if self._stop.is_set():
                return
            try:
                pending = self.store.wal_pending_frames()
                if (pending is None or pending >= self.min_frames) and self.store.checkpoint() is not None:
                    self.checkpoints += 1
            except Exception as exc:  # noqa: BLE001 - a failed checkpoint is retried after the next write
                log.warning("idle WAL checkpoint failed: %s", exc)
            self.idle_periods += 1
