"""Fingerprint reader: capture one finger image.

Backends: ``sim`` (synthetic fingers, controlled by the simulation API). The R30x/R50x/AS608
UART backend (``r30x``) speaks the module's own serial protocol and arrives with its
pseudo-terminal simulator; until then ``auto`` resolves to ``sim``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from drivers.base import Device, DeviceError, DeviceState, DeviceTimeout, Registry, Status, sim_status

registry = Registry("fingerprint")

IMAGE_SIZE = (288, 256)  # rows, cols of an R307/AS608 image at 500 dpi


class FingerprintError(DeviceError):
    code = "fingerprint_error"
    default_id = "Pemindai sidik jari bermasalah."
    default_en = "The fingerprint scanner failed."


class NoFinger(FingerprintError, TimeoutError):
    code = "no_finger"
    default_id = "Tidak ada jari pada pemindai. Letakkan jari lalu coba lagi."
    default_en = "No finger on the scanner. Place the finger and try again."


class CaptureCancelled(FingerprintError):
    code = "capture_cancelled"
    default_id = "Pengambilan sidik jari dibatalkan."
    default_en = "The fingerprint capture was cancelled."


class SensorTimeout(FingerprintError, DeviceTimeout):
    code = "sensor_timeout"
    default_id = "Pemindai sidik jari tidak menjawab. Periksa kabelnya."
    default_en = "The fingerprint scanner does not answer. Check its cable."


@dataclass(frozen=True)
class FingerImage:
    pixels: np.ndarray  # uint8, rows x cols, dark ridges on a light background
    dpi: int = 500
    meta: dict = field(default_factory=dict, compare=False)


class FingerprintReader(Device):
    kind = "fingerprint"

    def capture(self, timeout: float, *, position: int | None = None,
                cancel: threading.Event | None = None) -> FingerImage:
        """Wait up to ``timeout`` seconds for a finger and return its image.

        ``position`` is the ISO finger code the operator asked for. A real sensor cannot know
        which finger is on it; the simulator uses it to present that finger of its subject.
        """
        raise NotImplementedError


@registry.register("sim")
class SimFingerprint(FingerprintReader):
    """Synthetic fingers: subject N's finger P always looks like the same finger."""

    backend = "sim"
    simulated = True
    POLL = 0.05

    def __init__(self, **_options):
        super().__init__()
        self.present = True
        self.subject = 1
        self.quality: float | None = None  # None: a good impression; 0..1 lowers it
        self._impressions: dict[tuple[int, int], int] = {}

    def place(self, subject: int | None = None, *, present: bool = True, quality: float | None = None) -> None:
        with self._lock:
            self.present = present
            if subject is not None:
                self.subject = int(subject)
            self.quality = quality

    def status(self) -> Status:
        return sim_status("pemindai sidik jari", "fingerprint scanner")

    def capture(self, timeout, *, position=None, cancel=None):
        from drivers.sim import fingers  # the generator is heavy; only the simulator needs it

        deadline = time.monotonic() + max(0.0, float(timeout))
        while True:
            with self._lock:
                if self.present:
                    pos = int(position or 2)
                    key = (self.subject, pos)
                    impression = self._impressions.get(key, 0)
                    self._impressions[key] = impression + 1
                    subject, quality = self.subject, self.quality
                    break
            if cancel is not None and cancel.is_set():
                raise CaptureCancelled()
            if time.monotonic() >= deadline:
                raise NoFinger()
            time.sleep(self.POLL)
        pixels = fingers.impression(subject, pos, impression, quality=quality, shape=IMAGE_SIZE)
        return FingerImage(pixels, 500, {"subject": subject, "position": pos, "impression": impression})


def open_fingerprint(backend: str, **options) -> FingerprintReader:
    if backend == "auto":
        backend = "r30x" if "r30x" in registry.names() and _port_answers(options) else "sim"
    return registry.create(backend, **options)


def _port_answers(options) -> bool:
    return False  # replaced when the r30x backend lands: it probes with Handshake


__all__ = ["FingerprintReader", "SimFingerprint", "FingerImage", "FingerprintError", "NoFinger",
           "SensorTimeout", "CaptureCancelled", "open_fingerprint", "registry", "DeviceState"]
