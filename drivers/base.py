"""What every device driver shares: states, typed errors, a backend registry, idempotent close."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, ClassVar


class DeviceState:
    OK = "ok"            # working
    WARNING = "warning"  # working, but something needs attention (simulated, battery, weak link)
    FAULT = "fault"      # present but failing
    ABSENT = "absent"    # not connected / not configured


@dataclass(frozen=True)
class Status:
    state: str
    detail_id: str
    detail_en: str
    backend: str
    simulated: bool = False

    def as_dict(self, lang: str = "id") -> dict:
        return {"state": self.state, "detail": self.detail_en if lang == "en" else self.detail_id,
                "detail_id": self.detail_id, "detail_en": self.detail_en,
                "backend": self.backend, "simulated": self.simulated}


class DeviceError(Exception):
    """Base of every driver error; ``code`` is stable, the texts are for people."""

    code = "device_error"
    default_id = "Perangkat bermasalah."
    default_en = "The device failed."

    def __init__(self, en: str | None = None, id: str | None = None, **details):
        self.message_en = en or self.default_en
        self.message_id = id or self.default_id
        self.details = details
        super().__init__(self.message_en)


class DeviceNotFound(DeviceError, FileNotFoundError):
    code = "device_not_found"
    default_id = "Perangkat tidak ditemukan. Periksa kabelnya."
    default_en = "The device was not found. Check its cable."


class DeviceTimeout(DeviceError, TimeoutError):
    code = "device_timeout"
    default_id = "Perangkat tidak menjawab."
    default_en = "The device did not answer."


class Device:
    """A device with a named backend; ``close()`` may be called any number of times."""

    kind: ClassVar[str] = "device"
    backend: ClassVar[str] = "base"
    simulated: ClassVar[bool] = False

    def __init__(self):
        self._lock = threading.RLock()  # drivers are called from request threads and workers
        self._closed = False

    def status(self) -> Status:
        raise NotImplementedError

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._close()

    def _close(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Registry:
    """Maps a configured ``backend = "..."`` to a factory (Moonraker's pattern)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._factories: dict[str, Callable[..., Device]] = {}

    def register(self, name: str):
        def deco(factory):
            self._factories[name] = factory
            return factory
        return deco

    def names(self) -> list[str]:
        return list(self._factories)

    def create(self, name: str, **options) -> Device:
        try:
            factory = self._factories[name]
        except KeyError:
            raise DeviceNotFound(f"No {self.kind} backend called {name!r}",
                                 f"Tidak ada backend {self.kind} bernama {name!r}") from None
        return factory(**options)


def sim_status(kind_id: str, kind_en: str, backend: str = "sim") -> Status:
    return Status(DeviceState.WARNING, f"{kind_id} simulasi", f"simulated {kind_en}", backend, True)
