"""Configuration: one TOML file, every key known, typed and documented in config/kiosk.toml.

Unknown keys are reported (a typo must not silently fall back to a default), a value of the
wrong type is refused with a message saying which key and what was expected.
Precedence: built-in defaults < the file (``--config`` or ``KIOSK_CONFIG``) < command-line options.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.errors import InvalidInput

# section -> key -> (type, default). config/kiosk.toml documents each one; a test keeps them in step.
SCHEMA: dict[str, dict[str, tuple[type | tuple[type, ...], Any]]] = {
    "kiosk": {
        "id": (str, "KIOSK-SIM-01"),
        "data_dir": (str, ""),
        "language": (str, "id"),
        "district_code": (str, ""),
    },
    "ui": {
        "host": (str, "127.0.0.1"),
        "port": (int, 8080),
        "max_body_kb": (int, 2048),
    },
    "operators": {
        "lockout_attempts": (int, 5),
        "lockout_seconds": (int, 300),
        "idle_logout_seconds": (int, 600),
    },
    "enrollment": {
        "finger_timeout_seconds": (float, 10.0),
        "photo_min_quality": (int, 50),
        "finger_min_quality": (int, 40),
        "finger_retries": (int, 3),
    },
    "camera": {
        "backend": (str, "auto"),
        "device": (int, 0),
        "width": (int, 640),
        "height": (int, 480),
    },
    "fingerprint": {
        "backend": (str, "auto"),
        "port": (str, "/dev/serial0"),
        "baudrate": (int, 57600),
        "address": (str, "FFFFFFFF"),
        "password": (str, "00000000"),
    },
    "smartcard": {
        "backend": (str, "auto"),
        "reader": (str, ""),
    },
    "power": {
        "backend": (str, "auto"),
        "poll_seconds": (float, 5.0),
        "low_percent": (float, 25.0),
        "critical_percent": (float, 10.0),
        "hysteresis_percent": (float, 5.0),
        "gpio_power_loss": (int, 6),
        "gpio_shutdown": (int, 5),
        "i2c_bus": (int, 1),
        "i2c_address": (int, 0),
        "battery": (str, "li-ion-2s"),
        "nut_host": (str, "127.0.0.1"),
        "nut_port": (int, 3493),
        "nut_ups": (str, "ups"),
        "nut_timeout_seconds": (float, 3.0),
    },
    "central": {
        "url": (str, "http://127.0.0.1:8090"),
        "public_key": (str, ""),
        "probe_seconds": (float, 15.0),
    },
    "sync": {
        "interval_seconds": (float, 30.0),
        "backoff_max_seconds": (float, 600.0),
        "timeout_seconds": (float, 20.0),
        "retention_days": (float, 30.0),
    },
    "log": {
        "level": (str, "INFO"),
    },
}

BACKENDS = {
    "camera": ("auto", "picamera2", "opencv", "sim"),
    "fingerprint": ("auto", "r30x", "sim"),
    "smartcard": ("auto", "pcsc", "sim"),
    "power": ("auto", "x728", "ina219", "nut", "sim"),
}

DEVICES = tuple(BACKENDS)


def default_data_dir() -> Path:
    # systemd's StateDirectory= hands us /var/lib/ektp-kiosk; by hand we use the user's data dir.
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0])
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "ektp-kiosk"


@dataclass
class Config:
    values: dict[str, dict[str, Any]]
    source: Path | None = None
    warnings: list[str] = field(default_factory=list)
    simulate: bool = False

    def get(self, section: str, key: str) -> Any:
        return self.values[section][key]

    def section(self, section: str) -> dict[str, Any]:
        return dict(self.values[section])

    @property
    def data_dir(self) -> Path:
        configured = self.values["kiosk"]["data_dir"]
        return Path(configured).expanduser() if configured else default_data_dir()

    @property
    def kiosk_id(self) -> str:
        return self.values["kiosk"]["id"]

    @property
    def language(self) -> str:
        return self.values["kiosk"]["language"]

    def backend(self, device: str) -> str:
        """The backend a device will use: ``--simulate`` turns ``auto`` into ``sim`` only."""
        chosen = self.values[device]["backend"]
        if self.simulate and chosen == "auto":
            return "sim"
        return chosen


def _bad(key: str, expected: str, got: Any) -> InvalidInput:
    return InvalidInput(
        "config_invalid",
        f"Konfigurasi salah: {key} harus {expected}, bukan {got!r}.",
        f"Bad configuration: {key} must be {expected}, not {got!r}.",
        key=key,
    )


def _coerce(key: str, kind, value):
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, bool):
        raise _bad(key, "a whole number", value)
    if not isinstance(value, kind):
        names = {str: "text", int: "a whole number", float: "a number", bool: "true/false"}
        raise _bad(key, names.get(kind, str(kind)), value)
    return value


def load_config(path: str | os.PathLike | None = None, *, simulate: bool = False,
                overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Read the configuration; ``path`` None means ``KIOSK_CONFIG`` or no file at all."""
    if path is None:
        path = os.environ.get("KIOSK_CONFIG") or None
    values = {s: {k: d for k, (_, d) in keys.items()} for s, keys in SCHEMA.items()}
    warnings: list[str] = []
    source = None
    if path is not None:
        source = Path(path)
        try:
            raw = tomllib.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInput("config_missing", f"Berkas konfigurasi tidak ada: {source}",
                               f"Configuration file not found: {source}") from None
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInput("config_syntax", f"Berkas konfigurasi {source} rusak: {exc}",
                               f"Configuration file {source} is not valid TOML: {exc}") from None
        for section, table in raw.items():
            if section not in SCHEMA or not isinstance(table, dict):
                warnings.append(f"unknown section [{section}] ignored / bagian [{section}] tidak dikenal, diabaikan")
                continue
            for key, value in table.items():
                if key not in SCHEMA[section]:
                    warnings.append(f"unknown key {section}.{key} ignored / kunci {section}.{key} tidak dikenal, diabaikan")
                    continue
                values[section][key] = _coerce(f"{section}.{key}", SCHEMA[section][key][0], value)
    for section, table in (overrides or {}).items():
        for key, value in table.items():
            if value is not None:
                values[section][key] = _coerce(f"{section}.{key}", SCHEMA[section][key][0], value)
    for device, allowed in BACKENDS.items():
        if values[device]["backend"] not in allowed:
            raise _bad(f"{device}.backend", " or ".join(allowed), values[device]["backend"])
    if values["kiosk"]["language"] not in ("id", "en"):
        raise _bad("kiosk.language", '"id" or "en"', values["kiosk"]["language"])
    return Config(values=values, source=source, warnings=warnings, simulate=simulate)
