"""Power monitor: mains present, battery level, and whether the UPS asks us to shut down.

Backends: ``sim`` (driven by the simulation API). The X728, INA219 and NUT backends come
with the power policy; until then ``auto`` resolves to ``sim``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from drivers.base import Device, DeviceError, DeviceState, Registry, Status

registry = Registry("power")


class PowerError(DeviceError):
    code = "power_error"
    default_id = "Pemantau daya tidak terbaca."
    default_en = "The power monitor could not be read."


@dataclass(frozen=True)
class PowerReading:
    mains: bool
    battery_percent: float | None = None
    voltage: float | None = None
    charging: bool | None = None
    shutdown_requested: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


class PowerMonitor(Device):
    kind = "power"

    def read(self) -> PowerReading:
        raise NotImplementedError

    def status(self) -> Status:
        try:
            r = self.read()
        except PowerError as exc:
            return Status(DeviceState.FAULT, exc.message_id, exc.message_en, self.backend, self.simulated)
        pct = "" if r.battery_percent is None else f" {r.battery_percent:.0f}%"
        sim_id, sim_en = (" (simulasi)", " (simulated)") if self.simulated else ("", "")
        if r.mains:
            return Status(DeviceState.WARNING if self.simulated else DeviceState.OK,
                          f"listrik PLN{pct}{sim_id}", f"mains power{pct}{sim_en}", self.backend, self.simulated)
        low = r.battery_percent is not None and r.battery_percent < 25
        return Status(DeviceState.FAULT if low else DeviceState.WARNING,
                      f"{'baterai lemah' if low else 'memakai baterai'}{pct}{sim_id}",
                      f"{'battery low' if low else 'on battery'}{pct}{sim_en}", self.backend, self.simulated)


@registry.register("sim")
class SimPower(PowerMonitor):
    backend = "sim"
    simulated = True

    def __init__(self, **_options):
        super().__init__()
        self._reading = PowerReading(mains=True, battery_percent=100.0, voltage=4.2, charging=False)

    def set(self, *, mains: bool | None = None, battery_percent: float | None = None) -> None:
        with self._lock:
            r = self._reading
            mains = r.mains if mains is None else bool(mains)
            pct = r.battery_percent if battery_percent is None else max(0.0, min(100.0, float(battery_percent)))
            self._reading = PowerReading(mains=mains, battery_percent=pct, voltage=3.0 + 1.2 * pct / 100,
                                         charging=mains and pct < 100)

    def read(self) -> PowerReading:
        with self._lock:
            return self._reading


def open_power(backend: str, **options) -> PowerMonitor:
    if backend == "auto":
        backend = "sim"
    return registry.create(backend, **options)
