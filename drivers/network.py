"""Network probe: can the kiosk reach the centre right now?

``http`` asks the centre's ``/healthz`` with a short timeout; ``sim`` is switched by the
simulation API. The probe only reports; the sync worker decides what to do about it.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from drivers.base import Device, DeviceState, Registry, Status

registry = Registry("network")


class NetworkProbe(Device):
    kind = "network"

    def __init__(self):
        super().__init__()
        self.last_check: float | None = None
        self.last_up: float | None = None
        self.up: bool | None = None
        self.reason_id = "belum diperiksa"
        self.reason_en = "not checked yet"

    def check(self) -> bool:
        up, rid, ren = self._probe()
        with self._lock:
            self.last_check = time.time()
            self.up, self.reason_id, self.reason_en = up, rid, ren
            if up:
                self.last_up = self.last_check
        return up

    def _probe(self) -> tuple[bool, str, str]:
        raise NotImplementedError

    def status(self) -> Status:
        with self._lock:
            up, rid, ren = self.up, self.reason_id, self.reason_en
        if up:
            return Status(DeviceState.WARNING if self.simulated else DeviceState.OK,
                          "terhubung ke pusat" + (" (simulasi)" if self.simulated else ""),
                          "connected to the centre" + (" (simulated)" if self.simulated else ""),
                          self.backend, self.simulated)
        state = DeviceState.WARNING if up is None else DeviceState.FAULT
        return Status(state, f"tidak terhubung ke pusat: {rid}", f"no connection to the centre: {ren}",
                      self.backend, self.simulated)


@registry.register("http")
class HttpProbe(NetworkProbe):
    backend = "http"

    def __init__(self, url: str = "http://127.0.0.1:8090", timeout: float = 3.0, **_options):
        super().__init__()
        self.url = url.rstrip("/") + "/healthz"
        self.timeout = timeout

    def _probe(self):
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as resp:
                if resp.status == 200:
                    return True, "terhubung", "connected"
                return False, f"pusat menjawab {resp.status}", f"the centre answered {resp.status}"
        except urllib.error.HTTPError as exc:
            return False, f"pusat menjawab {exc.code}", f"the centre answered {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return False, f"pusat tidak terjangkau ({reason})", f"the centre cannot be reached ({reason})"


@registry.register("sim")
class SimNetwork(NetworkProbe):
    backend = "sim"
    simulated = True

    def __init__(self, **_options):
        super().__init__()
        self.link_up = True

    def set(self, up: bool) -> None:
        with self._lock:
            self.link_up = bool(up)
        self.check()

    def _probe(self):
        if self.link_up:
            return True, "terhubung", "connected"
        return False, "jaringan terputus (simulasi)", "the link is down (simulated)"
