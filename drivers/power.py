"""Power monitor: mains present, battery level, and whether the UPS asks us to shut down.

Backends, each a small class behind :class:`PowerMonitor`:

- ``x728``: Geekworm X728-style HAT — power-loss line on a GPIO, MAX17040/43 fuel gauge on I2C,
  the HAT's shutdown line on a second GPIO;
- ``ina219``: Waveshare UPS HAT style — an INA219 measuring the battery's voltage and current;
  the charge comes from a voltage curve for the battery type, mains from the current's direction;
- ``nut``: a USB UPS through Network UPS Tools' ``upsd`` (plain-text protocol on TCP 3493);
- ``sim``: driven by the simulation API (training, demos, tests);
- ``auto``: nut if upsd answers, else a HAT found on I2C, else sim.

The power *policy* (what the kiosk does about a low battery) lives in ``kiosk.power``; this module
only reports what the hardware says.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import logging
import os
import re
import socket
from dataclasses import asdict, dataclass

from drivers.base import Device, DeviceError, DeviceState, DeviceTimeout, Registry, Status

log = logging.getLogger(__name__)

registry = Registry("power")


class PowerError(DeviceError):
    code = "power_error"
    default_id = "Pemantau daya tidak terbaca."
    default_en = "The power monitor could not be read."


class PowerBusError(PowerError, OSError):
    """A GPIO or I2C access failed: a loose HAT, I2C disabled, a pin taken by something else."""
    code = "power_bus_error"
    default_id = "UPS tidak terbaca lewat I2C/GPIO. Periksa HAT UPS dan pastikan I2C aktif."
    default_en = "The UPS could not be read over I2C/GPIO. Check the UPS HAT and that I2C is enabled."


class PowerUnreachable(PowerError, ConnectionError):
    code = "power_unreachable"
    default_id = "Layanan UPS (upsd) tidak bisa dihubungi."
    default_en = "The UPS service (upsd) cannot be reached."


class PowerTimeout(PowerError, DeviceTimeout):
    code = "power_timeout"
    default_id = "Layanan UPS (upsd) tidak menjawab tepat waktu."
    default_en = "The UPS service (upsd) did not answer in time."


class PowerProtocolError(PowerError, ValueError):
    code = "power_protocol"
    default_id = "Jawaban layanan UPS tidak dapat dipahami."
    default_en = "The UPS service's answer could not be understood."


class UnknownUps(PowerError, LookupError):
    code = "power_unknown_ups"
    default_id = "UPS dengan nama itu tidak dikenal oleh upsd. Periksa [power] nut_ups."
    default_en = "upsd does not know a UPS by that name. Check [power] nut_ups."


class PowerConfigError(PowerError, ValueError):
    code = "power_config"
    default_id = "Konfigurasi [power] salah."
    default_en = "The [power] configuration is wrong."


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


# --- I2C and GPIO plumbing shared by the HAT backends --------------------------------------------

def _swap16(word: int) -> int:
    # SMBus words are little-endian on the wire; the MAX17040 and INA219 send the high byte first.
    return ((word & 0xFF) << 8) | ((word >> 8) & 0xFF)


def _open_bus(i2c_bus: int, bus_factory=None):
    if bus_factory is None:
        try:
            from smbus2 import SMBus as bus_factory
        except ImportError as exc:
            raise PowerBusError("smbus2 is not installed (pip install smbus2)",
                                "smbus2 belum terpasang (pip install smbus2)") from exc
    try:
        return bus_factory(i2c_bus)
    except (OSError, ValueError) as exc:
        raise PowerBusError(f"I2C bus {i2c_bus} cannot be opened ({exc}). Enable I2C in raspi-config.",
                            f"Bus I2C {i2c_bus} tidak bisa dibuka ({exc}). Aktifkan I2C di raspi-config.") from exc


def _bus_failed(what: str, address: int, exc: Exception) -> PowerBusError:
    return PowerBusError(f"Reading the {what} at I2C address {address:#04x} failed ({exc}). Check the UPS HAT.",
                         f"Pembacaan {what} di alamat I2C {address:#04x} gagal ({exc}). Periksa HAT UPS.")


def _input_line(pin: int, what: str):
    """A GPIO input driven by the HAT; gpiozero picks the pin factory (tests swap in MockFactory)."""
    try:
        from gpiozero import DigitalInputDevice
        return DigitalInputDevice(pin, pull_up=False)  # pulled down: the HAT drives it high when asserting
    except Exception as exc:  # noqa: BLE001 - gpiozero raises many kinds (no factory, pin in use, bad pin)
        raise PowerBusError(f"GPIO{pin} ({what}) cannot be used: {exc}",
                            f"GPIO{pin} ({what}) tidak bisa dipakai: {exc}") from exc


class MAX17040:
    """Maxim MAX17040/MAX17043 fuel gauge: cell voltage and state of charge (datasheet registers)."""

    VCELL, SOC, VERSION = 0x02, 0x04, 0x08

    def __init__(self, bus, address: int = 0x36):
        self.bus = bus
        self.address = address

    def _word(self, register: int) -> int:
        try:
            return _swap16(self.bus.read_word_data(self.address, register))
        except OSError as exc:
            raise _bus_failed("fuel gauge", self.address, exc) from exc

    def voltage(self) -> float:
        # 12-bit reading in the top bits, 1.25 mV per step.
        return (self._word(self.VCELL) >> 4) * 1.25 / 1000

    def percent(self) -> float:
        word = self._word(self.SOC)
        # High byte whole percent, low byte 1/256 %; the gauge reports a little over 100 when full.
        return min(100.0, (word >> 8) + (word & 0xFF) / 256)


@registry.register("x728")
class X728Power(PowerMonitor):
    """Geekworm X728 (v2.x pin-out by default): GPIO6 high = power lost, GPIO5 = shutdown request."""

    backend = "x728"
    ADDRESS = 0x36

    def __init__(self, *, i2c_bus: int = 1, i2c_address: int = 0, gpio_power_loss: int = 6, gpio_shutdown: int = 5,
                 bus_factory=None, **_options):
        super().__init__()
        self._bus = _open_bus(i2c_bus, bus_factory)
        self.gauge = MAX17040(self._bus, i2c_address or self.ADDRESS)
        self._lines = []
        self._shutdown_latched = False
        try:
            self._loss = _input_line(gpio_power_loss, "power loss")
            self._lines.append(self._loss)
            self._shutdown = None
            if gpio_shutdown >= 0:
                self._shutdown = _input_line(gpio_shutdown, "shutdown")
                self._lines.append(self._shutdown)
                # The HAT signals with a pulse that a poll every few seconds could miss: latch it.
                self._shutdown.when_activated = self._latch
        except PowerError:
            self._close()
            raise

    def _latch(self) -> None:
        self._shutdown_latched = True

    def read(self) -> PowerReading:
        with self._lock:
            try:
                mains = not self._loss.is_active
                shutdown = self._shutdown_latched or bool(self._shutdown and self._shutdown.is_active)
            except Exception as exc:  # noqa: BLE001 - a GPIO read failure is a bus fault, whatever its type
                raise PowerBusError(f"GPIO read failed: {exc}", f"Pembacaan GPIO gagal: {exc}") from exc
            # The MAX17040 has no current register, so charging is unknown (None), not guessed.
            return PowerReading(mains=mains, battery_percent=round(self.gauge.percent(), 1),
                                voltage=round(self.gauge.voltage(), 4), charging=None, shutdown_requested=shutdown)

    def _close(self) -> None:
        for line in self._lines:
            with contextlib.suppress(Exception):
                line.close()
        with contextlib.suppress(Exception):
            self._bus.close()


# --- INA219 HATs ----------------------------------------------------------------------------------

# State of charge against resting voltage *per cell*, piecewise linear, (volts, percent) ascending.
# Li-ion (LiCoO2/NMC 18650): the widely published Li-ion/LiPo resting-voltage chart (4.20 V full,
# ~3.85 V half, steep knee under ~3.7 V), the shape shown in Battery University BU-501/BU-903.
# Waveshare's own demo uses a straight line from 3.0 V to 4.2 V per cell, which overstates the charge
# in the flat middle of the curve and so warns too late. Under the Pi's load the voltage sags
# ~0.05-0.1 V per cell, which the policy's hysteresis absorbs.
LI_ION_CELL = ((3.27, 0), (3.61, 5), (3.69, 10), (3.71, 15), (3.73, 20), (3.75, 25), (3.77, 30), (3.79, 35),
               (3.80, 40), (3.82, 45), (3.84, 50), (3.85, 55), (3.87, 60), (3.91, 65), (3.95, 70), (3.98, 75),
               (4.02, 80), (4.08, 85), (4.11, 90), (4.15, 95), (4.20, 100))
# LiFePO4: the commonly published resting-voltage chart of LiFePO4 packs (a 12.8 V 4S pack read per
# cell): very flat between 3.2 and 3.35 V, so the percentage there is coarse by nature.
LIFEPO4_CELL = ((2.50, 0), (3.00, 9), (3.125, 14), (3.20, 17), (3.225, 20), (3.25, 30), (3.275, 40),
                (3.30, 70), (3.325, 90), (3.35, 99), (3.40, 100))

BATTERIES = {
    "li-ion-1s": (1, LI_ION_CELL),   # Waveshare UPS HAT (C) / (D): one 18650 or a LiPo pouch
    "li-ion-2s": (2, LI_ION_CELL),   # Waveshare UPS HAT / UPS HAT (B): two 18650 in series
    "li-ion-3s": (3, LI_ION_CELL),   # the 3-cell INA219 UPS boards
    "lifepo4-1s": (1, LIFEPO4_CELL),
    "lifepo4-2s": (2, LIFEPO4_CELL),
    "lifepo4-4s": (4, LIFEPO4_CELL),
}


def battery_percent(voltage: float, battery: str) -> float:
    """Charge estimated from the pack voltage for a battery type in :data:`BATTERIES`."""
    try:
        cells, curve = BATTERIES[battery]
    except KeyError:
        raise PowerConfigError(f"Unknown battery type {battery!r}; use one of: {', '.join(BATTERIES)}",
                               f"Jenis baterai {battery!r} tidak dikenal; pakai salah satu: {', '.join(BATTERIES)}",
                               ) from None
    v = voltage / cells
    volts = [p[0] for p in curve]
    if v <= volts[0]:
        return 0.0
    if v >= volts[-1]:
        return 100.0
    i = bisect.bisect_right(volts, v)
    (v0, p0), (v1, p1) = curve[i - 1], curve[i]
    return round(p0 + (p1 - p0) * (v - v0) / (v1 - v0), 1)


class INA219:
    """TI INA219 as the Waveshare UPS HATs wire it (0.1 ohm shunt on the battery)."""

    CONFIG, SHUNT, BUS, POWER, CURRENT, CALIBRATION = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05
    # Waveshare's set_calibration_32V_2A: Cal = trunc(0.04096 / (100 uA * 0.1 ohm)) = 4096, so one
    # current step is 0.1 mA; config 32 V range, gain /8 (320 mV), 12-bit x32 averaging, continuous.
    CAL_VALUE = 4096
    CURRENT_LSB_MA = 0.1
    CONFIG_VALUE = (1 << 13) | (3 << 11) | (0x0D << 7) | (0x0D << 3) | 0x07

    def __init__(self, bus, address: int = 0x42):
        self.bus = bus
        self.address = address

    def _read(self, register: int) -> int:
        try:
            return _swap16(self.bus.read_word_data(self.address, register))
        except OSError as exc:
            raise _bus_failed("INA219", self.address, exc) from exc

    def _write(self, register: int, value: int) -> None:
        try:
            self.bus.write_word_data(self.address, register, _swap16(value))
        except OSError as exc:
            raise _bus_failed("INA219", self.address, exc) from exc

    def configure(self) -> None:
        self._write(self.CALIBRATION, self.CAL_VALUE)
        self._write(self.CONFIG, self.CONFIG_VALUE)

    def bus_voltage(self) -> float:
        raw = self._read(self.BUS)
        if raw & 0x01:  # OVF: the current/power maths overflowed, the reading is not trustworthy
            raise PowerBusError("INA219 reports an overflow; the reading was discarded.",
                                "INA219 melaporkan luapan (overflow); pembacaan dibuang.")
        return (raw >> 3) * 0.004

    def current_ma(self) -> float:
        # A brown-out resets the chip and zeroes the calibration (current then reads 0): rewrite it
        # before every read, as Waveshare's code does.
        self._write(self.CALIBRATION, self.CAL_VALUE)
        raw = self._read(self.CURRENT)
        if raw & 0x8000:
            raw -= 0x10000
        return raw * self.CURRENT_LSB_MA


@registry.register("ina219")
class INA219Power(PowerMonitor):
    """Positive current charges the battery, negative current feeds the Pi from it."""

    backend = "ina219"
    ADDRESS = 0x42
    # On mains with a full battery the current idles around zero; on battery the Pi and screen draw
    # hundreds of mA. Anything less negative than this is "the charger carries the load".
    DISCHARGE_FLOOR_MA = 50.0
    TREND_READINGS = 4
    TREND_RISE_V = 0.03  # a pack voltage rising this much over the last readings is being charged

    def __init__(self, *, i2c_bus: int = 1, i2c_address: int = 0, battery: str = "li-ion-2s", bus_factory=None,
                 **_options):
        super().__init__()
        battery_percent(4.0, battery)  # refuse an unknown battery type now, not at the first read
        self.battery = battery
        self._bus = _open_bus(i2c_bus, bus_factory)
        self.chip = INA219(self._bus, i2c_address or self.ADDRESS)
        self._volts = collections.deque(maxlen=self.TREND_READINGS)
        try:
            self.chip.configure()
        except PowerError:
            self._close()
            raise

    def read(self) -> PowerReading:
        with self._lock:
            volts = self.chip.bus_voltage()
            current = self.chip.current_ma()
            self._volts.append(volts)
            rising = len(self._volts) == self._volts.maxlen and self._volts[-1] - self._volts[0] >= self.TREND_RISE_V
            charging = current > 0
            mains = charging or current > -self.DISCHARGE_FLOOR_MA or rising
            return PowerReading(mains=mains, battery_percent=battery_percent(volts, self.battery),
                                voltage=round(volts, 3), charging=charging)

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self._bus.close()


# --- Network UPS Tools ----------------------------------------------------------------------------

_VAR_LINE = re.compile(r'^VAR (\S+) (\S+) "((?:[^"\\]|\\.)*)"$')
_MAX_LINE = 4096  # upsd lines are short; a longer one is garbage, not something to buffer forever


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


class NutClient:
    """A client of upsd's plain-text protocol (docs/net-protocol.txt in NUT's sources)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 3493, timeout: float = 3.0):
        self.host, self.port, self.timeout = host, int(port), float(timeout)
        self._sock: socket.socket | None = None
        self._file = None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def connect(self) -> None:
        self.close()
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except socket.timeout as exc:
            raise PowerTimeout(f"upsd at {self.where} did not accept a connection in time.",
                               f"upsd di {self.where} tidak menerima sambungan tepat waktu.") from exc
        except OSError as exc:
            raise PowerUnreachable(
                f"upsd at {self.where} cannot be reached ({exc.strerror or exc}). Is the nut-server service running?",
                f"upsd di {self.where} tidak bisa dihubungi ({exc.strerror or exc}). Apakah layanan nut-server berjalan?",
            ) from exc
        self._file = self._sock.makefile("rb")

    def close(self) -> None:
        for thing in (self._file, self._sock):
            if thing is not None:
                with contextlib.suppress(OSError):
                    thing.close()
        self._sock = self._file = None

    def _line(self) -> str:
        try:
            raw = self._file.readline(_MAX_LINE + 1)
        except socket.timeout as exc:
            raise PowerTimeout(f"upsd at {self.where} did not answer in time.",
                               f"upsd di {self.where} tidak menjawab tepat waktu.") from exc
        if not raw:
            raise ConnectionResetError("upsd closed the connection")
        if len(raw) > _MAX_LINE or not raw.endswith(b"\n"):
            raise self._garbled(raw[:80])
        try:
            return raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise self._garbled(raw[:80]) from None

    def _garbled(self, line) -> PowerProtocolError:
        self.close()  # after a garbled line the stream cannot be trusted to be in step
        return PowerProtocolError(f"upsd at {self.where} answered something that is not the NUT protocol: {line!r}",
                                  f"upsd di {self.where} menjawab sesuatu yang bukan protokol NUT: {line!r}")

    def _exchange(self, command: str, until: str | None) -> list[str]:
        if self._sock is None:
            self.connect()
        self._sock.sendall(command.encode("utf-8") + b"\n")
        first = self._line()
        if until is None or not first.startswith("BEGIN "):
            return [first]
        lines = []
        while True:
            line = self._line()
            if line == until:
                return lines
            lines.append(line)

    def command(self, command: str, until: str | None = None) -> list[str]:
        """Send one command; a dropped connection (upsd restarted) is reopened and tried once more."""
        for attempt in (1, 2):
            try:
                lines = self._exchange(command, until)
                break
            except PowerError:
                self.close()
                raise
            except OSError as exc:  # reset, broken pipe, EOF: the old connection is stale
                self.close()
                if attempt == 2:
                    raise PowerUnreachable(f"The connection to upsd at {self.where} keeps dropping ({exc}).",
                                           f"Sambungan ke upsd di {self.where} terus terputus ({exc}).") from exc
        if lines and lines[0].startswith("ERR "):
            self._raise(lines[0][4:].split()[0] if lines[0][4:].split() else "")
        return lines

    def _raise(self, code: str):
        if code == "UNKNOWN-UPS":
            raise UnknownUps(f"upsd at {self.where} knows no such UPS (ERR UNKNOWN-UPS). Check [power] nut_ups "
                             "against ups.conf.",
                             f"upsd di {self.where} tidak mengenal UPS itu (ERR UNKNOWN-UPS). Cocokkan [power] "
                             "nut_ups dengan ups.conf.", nut_error=code)
        if code in ("DATA-STALE", "DRIVER-NOT-CONNECTED"):
            raise PowerUnreachable(f"upsd has no fresh data from the UPS driver (ERR {code}). Check the UPS's USB cable.",
                                   f"upsd tidak punya data baru dari driver UPS (ERR {code}). Periksa kabel USB UPS.",
                                   nut_error=code)
        raise PowerProtocolError(f"upsd refused the request: ERR {code}", f"upsd menolak permintaan: ERR {code}",
                                 nut_error=code)

    def get_var(self, ups: str, name: str) -> str | None:
        """One variable's value; None when this UPS does not report it."""
        try:
            (line,) = self.command(f"GET VAR {ups} {name}")
        except PowerProtocolError as exc:
            if exc.details.get("nut_error") == "VAR-NOT-SUPPORTED":
                return None
            raise
        m = _VAR_LINE.match(line)
        if not m or m.group(1) != ups or m.group(2) != name:
            raise self._garbled(line)
        return _unescape(m.group(3))

    def list_vars(self, ups: str) -> dict[str, str]:
        lines = self.command(f"LIST VAR {ups}", until=f"END LIST VAR {ups}")
        if lines and not lines[0].startswith("VAR "):
            raise self._garbled(lines[0])  # a one-line answer that is neither BEGIN LIST nor ERR
        out = {}
        for line in lines:
            m = _VAR_LINE.match(line)
            if not m or m.group(1) != ups:
                raise self._garbled(line)
            out[m.group(2)] = _unescape(m.group(3))
        return out

    def version(self) -> str:
        return self.command("VER")[0]


@registry.register("nut")
class NutPower(PowerMonitor):
    """``ups.status`` tokens: OL on line, OB on battery, LB low battery, CHRG charging, FSD forced shutdown."""

    backend = "nut"

    def __init__(self, *, nut_host: str = "127.0.0.1", nut_port: int = 3493, nut_ups: str = "ups",
                 nut_timeout_seconds: float = 3.0, **_options):
        super().__init__()
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", nut_ups or ""):
            raise PowerConfigError(f"[power] nut_ups must be a UPS name from ups.conf, not {nut_ups!r}",
                                   f"[power] nut_ups harus nama UPS dari ups.conf, bukan {nut_ups!r}")
        self.ups = nut_ups
        self.client = NutClient(nut_host, nut_port, nut_timeout_seconds)

    def read(self) -> PowerReading:
        with self._lock:
            values = self.client.list_vars(self.ups)
        return self.parse(values)

    def parse(self, values: dict[str, str]) -> PowerReading:
        tokens = set(values.get("ups.status", "").split())
        if "OL" not in tokens and "OB" not in tokens:
            raise PowerProtocolError(f"The UPS status is not known yet (ups.status={values.get('ups.status')!r}).",
                                     f"Status UPS belum diketahui (ups.status={values.get('ups.status')!r}).")
        on_battery = "OB" in tokens

        def number(name: str) -> float | None:
            if name not in values:
                return None
            try:
                return float(values[name])
            except ValueError:
                raise PowerProtocolError(f"{name} is not a number: {values[name]!r}",
                                         f"{name} bukan angka: {values[name]!r}") from None

        charge = number("battery.charge")
        return PowerReading(mains=not on_battery,
                            battery_percent=None if charge is None else max(0.0, min(100.0, charge)),
                            voltage=number("battery.voltage"),
                            charging="CHRG" in tokens if tokens & {"CHRG", "DISCHRG"} else None,
                            shutdown_requested="FSD" in tokens or ("LB" in tokens and on_battery))

    def _close(self) -> None:
        self.client.close()


# --- choosing a backend ---------------------------------------------------------------------------

def _nut_answers(host: str, port: int, timeout: float) -> bool:
    client = NutClient(host, port, timeout)
    try:
        return client.version() != ""
    except (PowerError, OSError):
        return False
    finally:
        client.close()


def detect(*, nut_host: str = "127.0.0.1", nut_port: int = 3493, i2c_bus: int = 1, bus_factory=None,
           i2c_device: str | None = None, probe_timeout: float = 1.0, **_options) -> tuple[str, dict]:
    """The backend ``auto`` stands for, and the options it found (the I2C address that answered)."""
    if _nut_answers(nut_host, nut_port, probe_timeout):
        return "nut", {}
    device = i2c_device or f"/dev/i2c-{i2c_bus}"
    if os.path.exists(device):
        with contextlib.suppress(PowerError):
            bus = _open_bus(i2c_bus, bus_factory)
            try:
                for address, register, backend in ((0x36, MAX17040.VERSION, "x728"), (0x42, INA219.CONFIG, "ina219"),
                                                   (0x43, INA219.CONFIG, "ina219")):
                    with contextlib.suppress(OSError):
                        bus.read_word_data(address, register)
                        return backend, {"i2c_address": address}
            finally:
                with contextlib.suppress(Exception):
                    bus.close()
    return "sim", {}


def open_power(backend: str, **options) -> PowerMonitor:
    if backend == "auto":
        backend, found = detect(**options)
        log.info("power: auto chose %s %s", backend, found or "")
        if not options.get("i2c_address"):
            options.update(found)
    return registry.create(backend, **options)
