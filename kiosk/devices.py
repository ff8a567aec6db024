"""Opening the configured devices: a device that fails to start becomes a visible fault, not a crash."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from drivers.base import Device, DeviceError, DeviceState, Status
from kiosk.config import Config

log = logging.getLogger(__name__)


class FailedDevice(Device):
    """Stands in for a device whose backend could not start; every use says why."""

    def __init__(self, kind: str, backend: str, error: Exception):
        super().__init__()
        self.kind = kind
        self.backend = backend
        self.error = error

    def status(self) -> Status:
        e = self.error
        return Status(DeviceState.FAULT, getattr(e, "message_id", str(e)), getattr(e, "message_en", str(e)), self.backend)

    def __getattr__(self, name):
        # Any driver call on a failed device raises the start-up error as a DeviceError.
        if name.startswith("_"):
            raise AttributeError(name)

        def fail(*_a, **_k):
            if isinstance(self.error, DeviceError):
                raise self.error
            raise DeviceError(str(self.error))
        return fail


@dataclass
class Devices:
    camera: Device
    fingerprint: Device
    smartcard: Device
    power: Device
    network: Device
    notes: list[str] = field(default_factory=list)

    def items(self):
        return [("camera", self.camera), ("fingerprint", self.fingerprint), ("smartcard", self.smartcard),
                ("power", self.power), ("network", self.network)]

    @property
    def all_simulated(self) -> bool:
        return all(d.simulated for _, d in self.items())

    @property
    def simulated_names(self) -> list[str]:
        return [name for name, d in self.items() if d.simulated]

    def status(self, lang: str = "id") -> dict:
        out = {}
        for name, dev in self.items():
            try:
                out[name] = dev.status().as_dict(lang)
            except Exception as exc:  # noqa: BLE001 - a status read must never take the screen down
                log.warning("status of %s failed: %s", name, exc)
                out[name] = Status(DeviceState.FAULT, "status tidak terbaca", "status unreadable",
                                   getattr(dev, "backend", "?")).as_dict(lang)
        return out

    def close(self) -> None:
        for _, dev in self.items():
            try:
                dev.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("closing %s failed: %s", dev.kind, exc)


def _open(kind: str, backend: str, opener, **options) -> Device:
    try:
        dev = opener(backend, **options)
        log.info("%s: backend %s%s", kind, dev.backend, " (simulated)" if dev.simulated else "")
        return dev
    except Exception as exc:  # noqa: BLE001 - degrade one step, never the kiosk
        log.error("%s: backend %s failed to start: %s", kind, backend, exc)
        return FailedDevice(kind, backend, exc)


def open_devices(config: Config) -> Devices:
    from drivers.camera import open_camera
    from drivers.fingerprint import open_fingerprint
    from drivers.network import registry as network_registry
    from drivers.power import open_power
    from drivers.smartcard import open_smartcard

    cam = config.section("camera")
    fp = config.section("fingerprint")
    sc = config.section("smartcard")
    camera = _open("camera", config.backend("camera"), open_camera, device=cam["device"], width=cam["width"],
                   height=cam["height"])
    fingerprint = _open("fingerprint", config.backend("fingerprint"), open_fingerprint, port=fp["port"],
                        baudrate=fp["baudrate"], address=fp["address"], password=fp["password"])
    smartcard = _open("smartcard", config.backend("smartcard"), open_smartcard, reader=sc["reader"])
    pw = config.section("power")
    # The policy keys (thresholds, poll_seconds) go to kiosk.power; the driver gets the hardware ones.
    power = _open("power", config.backend("power"), open_power,
                  **{k: pw[k] for k in ("gpio_power_loss", "gpio_shutdown", "i2c_bus", "i2c_address", "battery",
                                        "nut_host", "nut_port", "nut_ups", "nut_timeout_seconds")})
    # The link is simulated whenever the kiosk is in training: a demo must not talk to a real centre.
    all_sim = all(d.simulated for d in (camera, fingerprint, smartcard, power))
    net_backend = "sim" if (config.simulate or all_sim) else "http"
    network = _open("network", net_backend, network_registry.create, url=config.get("central", "url"))
    return Devices(camera, fingerprint, smartcard, power, network)
