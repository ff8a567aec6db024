"""Power drivers against real parts: gpiozero's MockFactory pins, register-faithful I2C chips, a real upsd.

The fake SMBus holds each chip's registers as the bytes the chip sends (most significant first) and
answers ``read_word_data`` the way the SMBus protocol delivers them (low byte first), so the drivers'
byte-swapping and conversion code runs exactly as on a Pi. The NUT tests start Debian's ``dummy-ups``
driver and ``upsd`` as real processes on a free loopback port.
"""

from __future__ import annotations

import errno
import getpass
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from drivers.power import (BATTERIES, INA219, INA219Power, MAX17040, NutClient, NutPower, PowerBusError,
                           PowerConfigError, PowerError, PowerProtocolError, PowerReading, PowerTimeout,
                           PowerUnreachable, SimPower, UnknownUps, X728Power, battery_percent, detect, open_power,
                           registry)


# --- register-faithful I2C chips ------------------------------------------------------------------

class FakeSMBus:
    """smbus2.SMBus's word/byte calls over per-address register maps of big-endian byte pairs."""

    def __init__(self, chips: dict[int, "Chip"]):
        self.chips = chips
        self.closed = False

    def __call__(self, bus_number):  # usable as a bus_factory
        self.bus_number = bus_number
        return self

    def _chip(self, address):
        if address not in self.chips:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")  # what the Linux I2C driver says to a NAK
        return self.chips[address]

    def read_word_data(self, address, register):
        hi, lo = self._chip(address).read(register)
        return hi | (lo << 8)  # SMBus: the first byte on the wire is the word's low byte

    def read_byte_data(self, address, register):
        return self._chip(address).read(register)[0]

    def write_word_data(self, address, register, value):
        self._chip(address).write(register, bytes([value & 0xFF, (value >> 8) & 0xFF]))

    def close(self):
        self.closed = True


class Chip:
    def __init__(self, registers: dict[int, int]):
        self.regs = {r: bytes([(v >> 8) & 0xFF, v & 0xFF]) for r, v in registers.items()}

    def read(self, register):
        return self.regs.get(register, b"\x00\x00")

    def write(self, register, pair):
        self.regs[register] = pair

    def word(self, register) -> int:
        return int.from_bytes(self.regs[register], "big")


def max17040(volts: float, percent: float) -> Chip:
    vcell = round(volts * 1000 / 1.25) << 4
    soc = (int(percent) << 8) | round((percent - int(percent)) * 256)
    return Chip({MAX17040.VCELL: vcell, MAX17040.SOC: soc, MAX17040.VERSION: 0x0003})


class INA219Chip(Chip):
    """The INA219 derives its current register from the shunt voltage and the calibration register."""

    def __init__(self, volts: float, current_ma: float):
        super().__init__({INA219.CONFIG: 0x399F, INA219.CALIBRATION: 0})  # power-on defaults
        self.set(volts, current_ma)

    def set(self, volts: float, current_ma: float):
        shunt = round(current_ma * 0.1 / 0.01)  # mA through 0.1 ohm, in 10 uV steps
        self.regs[INA219.SHUNT] = (shunt & 0xFFFF).to_bytes(2, "big")
        self.regs[INA219.BUS] = ((round(volts * 1000 / 4) << 3) | 0x02).to_bytes(2, "big")  # CNVR set

    def read(self, register):
        if register == INA219.CURRENT:
            shunt = int.from_bytes(self.regs[INA219.SHUNT], "big", signed=True)
            current = shunt * self.word(INA219.CALIBRATION) // 4096
            return (current & 0xFFFF).to_bytes(2, "big")
        return super().read(register)


@pytest.fixture
def pins():
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = previous


# --- x728 ----------------------------------------------------------------------------------------

def test_max17040_conversion_from_register_bytes():
    bus = FakeSMBus({0x36: max17040(3.9, 87.5)})
    gauge = MAX17040(bus, 0x36)
    assert gauge.voltage() == pytest.approx(3.9, abs=0.00125)
    assert gauge.percent() == pytest.approx(87.5)
    # A gauge that reports just over 100 % when full is clamped, not shown as 101 %.
    bus.chips[0x36].regs[MAX17040.SOC] = bytes([101, 0x40])
    assert gauge.percent() == 100.0


def test_x728_mains_follows_the_power_loss_pin(pins):
    bus = FakeSMBus({0x36: max17040(4.1, 92.25)})
    with X728Power(bus_factory=bus) as ups:
        r = ups.read()
        assert r == PowerReading(mains=True, battery_percent=92.2, voltage=pytest.approx(4.1, abs=0.002),
                                 charging=None, shutdown_requested=False)
        pins.pin(6).drive_high()  # the X728 raises GPIO6 when the adapter loses power
        assert ups.read().mains is False
        pins.pin(6).drive_low()
        assert ups.read().mains is True
    assert bus.closed


def test_x728_shutdown_pulse_is_latched(pins):
    with X728Power(bus_factory=FakeSMBus({0x36: max17040(3.7, 20)})) as ups:
        assert ups.read().shutdown_requested is False
        pins.pin(5).drive_high()
        pins.pin(5).drive_low()  # a pulse between two polls is not lost
        assert ups.read().shutdown_requested is True


def test_x728_pins_and_address_are_configurable(pins):
    bus = FakeSMBus({0x37: max17040(3.6, 5.0)})
    with X728Power(bus_factory=bus, i2c_address=0x37, gpio_power_loss=17, gpio_shutdown=-1) as ups:
        pins.pin(17).drive_high()
        r = ups.read()
        assert (r.mains, r.battery_percent, r.shutdown_requested) == (False, 5.0, False)
        pins.pin(5).drive_high()  # not configured: ignored
        assert ups.read().shutdown_requested is False


def test_x728_missing_fuel_gauge_is_a_typed_bilingual_error(pins):
    with X728Power(bus_factory=FakeSMBus({})) as ups:
        with pytest.raises(PowerBusError) as info:
            ups.read()
    assert isinstance(info.value, OSError)
    assert "0x36" in info.value.message_en and "0x36" in info.value.message_id
    assert "HAT" in info.value.message_id and info.value.message_id != info.value.message_en


def test_x728_pin_in_use_fails_cleanly_and_frees_what_it_took(pins):
    bus = FakeSMBus({0x36: max17040(3.9, 80)})
    first = X728Power(bus_factory=bus)
    with pytest.raises(PowerBusError) as info:
        X728Power(bus_factory=FakeSMBus({0x36: max17040(3.9, 80)}), gpio_shutdown=6, gpio_power_loss=22)
    assert "GPIO6" in info.value.message_en and "GPIO6" in info.value.message_id
    first.close()
    first.close()  # idempotent
    # GPIO22 was released by the failed start, so a new monitor can take it.
    with X728Power(bus_factory=FakeSMBus({0x36: max17040(3.9, 80)}), gpio_power_loss=22) as again:
        assert again.read().battery_percent == 80.0


# --- ina219 --------------------------------------------------------------------------------------

def test_ina219_writes_waveshare_calibration_and_reads_charging(pins):
    chip = INA219Chip(8.1, 500)
    with INA219Power(bus_factory=FakeSMBus({0x42: chip})) as ups:
        assert chip.word(INA219.CALIBRATION) == 4096
        assert chip.word(INA219.CONFIG) == 0x3EEF  # 32 V, /8 gain, 12-bit x32, continuous
        r = ups.read()
    assert r.charging is True and r.mains is True
    assert r.voltage == pytest.approx(8.1)
    assert r.battery_percent == pytest.approx(82.5)  # 4.05 V per cell: between 4.02 (80) and 4.08 (85)


def test_ina219_discharging_is_on_battery(pins):
    chip = INA219Chip(7.4, -800)
    with INA219Power(bus_factory=FakeSMBus({0x42: chip})) as ups:
        r = ups.read()
    assert (r.mains, r.charging) == (False, False)
    assert r.battery_percent == pytest.approx(12.5)  # 3.70 V per cell


def test_ina219_rewrites_calibration_after_a_brown_out(pins):
    chip = INA219Chip(7.6, -600)
    with INA219Power(bus_factory=FakeSMBus({0x43: chip}), i2c_address=0x43, battery="li-ion-2s") as ups:
        chip.regs[INA219.CALIBRATION] = b"\x00\x00"  # chip reset: its current register would read 0 (= "mains")
        assert ups.read().mains is False


def test_ina219_full_battery_idling_on_mains_and_rising_voltage(pins):
    chip = INA219Chip(8.4, -10)  # charger carries the Pi; the battery neither charges nor feeds it
    with INA219Power(bus_factory=FakeSMBus({0x42: chip})) as ups:
        r = ups.read()
        assert (r.mains, r.charging, r.battery_percent) == (True, False, 100.0)
    chip = INA219Chip(7.40, -120)
    with INA219Power(bus_factory=FakeSMBus({0x42: chip})) as ups:
        readings = []
        for volts in (7.40, 7.42, 7.44, 7.46):  # the pack voltage climbs: something is charging it
            chip.set(volts, -120)
            readings.append(ups.read().mains)
        assert readings == [False, False, False, True]


def test_ina219_overflow_and_missing_chip_are_typed_errors(pins):
    chip = INA219Chip(7.6, -600)
    with INA219Power(bus_factory=FakeSMBus({0x42: chip})) as ups:
        chip.regs[INA219.BUS] = bytes([chip.regs[INA219.BUS][0], chip.regs[INA219.BUS][1] | 0x01])
        with pytest.raises(PowerBusError, match="overflow"):
            ups.read()
    with pytest.raises(PowerBusError) as info:
        INA219Power(bus_factory=FakeSMBus({}))
    assert "0x42" in info.value.message_id


def test_unknown_battery_type_is_refused_before_opening_the_bus():
    bus = FakeSMBus({0x42: INA219Chip(7.6, -600)})
    with pytest.raises(PowerConfigError) as info:
        INA219Power(bus_factory=bus, battery="nimh-6s")
    assert "nimh-6s" in info.value.message_id and "li-ion-2s" in info.value.message_en
    assert not hasattr(bus, "bus_number")  # never opened


@pytest.mark.parametrize("battery", sorted(BATTERIES))
def test_curves_are_monotonic_and_span_0_to_100(battery):
    cells, curve = BATTERIES[battery]
    volts = [v for v, _ in curve]
    pcts = [p for _, p in curve]
    assert volts == sorted(volts) and len(set(volts)) == len(volts)
    assert pcts == sorted(pcts) and pcts[0] == 0 and pcts[-1] == 100
    assert battery_percent(volts[0] * cells - 0.5, battery) == 0.0
    assert battery_percent(volts[-1] * cells + 0.5, battery) == 100.0
    samples = [battery_percent(v / 100 * cells, battery) for v in range(250, 430)]
    assert samples == sorted(samples)


def test_curve_values():
    assert battery_percent(3.84, "li-ion-1s") == 50.0
    assert battery_percent(11.52, "li-ion-3s") == 50.0
    assert battery_percent(3.3, "lifepo4-1s") == 70.0
    assert battery_percent(13.2, "lifepo4-4s") == 70.0
    # The flat middle: Waveshare's straight line would say 70 % at 3.84 V; the curve says 50 %.
    assert battery_percent(7.68, "li-ion-2s") == 50.0


# --- NUT: a real upsd with the dummy-ups driver ----------------------------------------------------

def _nut_binary(name: str) -> str | None:
    for d in ("/lib/nut", "/usr/lib/nut", "/usr/libexec/nut", "/usr/sbin", "/usr/bin"):
        p = Path(d) / name
        if p.is_file() and os.access(p, os.X_OK) and not p.read_bytes()[:2] == b"#!":  # Debian's upsd is a shell wrapper
            return str(p)
    return None


DUMMY_UPS = _nut_binary("dummy-ups")
UPSD = _nut_binary("upsd")
needs_nut = pytest.mark.skipif(not (DUMMY_UPS and UPSD),
                               reason="NUT's dummy-ups and upsd are not installed (apt-get install nut-server nut-client)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, what: str, deadline: float = 20.0):
    # Waiting for a real process to come up; the deadline only turns a hang into a clear failure.
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if condition():
                return
        except (OSError, PowerError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class NutServer:
    """dummy-ups reading a .dev file, and upsd serving it on 127.0.0.1:<port>, in temporary dirs."""

    def __init__(self, root: Path, ups: str = "kiosk"):
        self.ups = ups
        self.conf = root / "conf"
        self.state = root / "state"
        self.conf.mkdir()
        self.state.mkdir()
        self.port = free_port()
        self.dev = self.conf / f"{ups}.dev"
        self.user = getpass.getuser()
        self.env = dict(os.environ, NUT_CONFPATH=str(self.conf), NUT_STATEPATH=str(self.state),
                        NUT_ALTPIDPATH=str(self.state))
        (self.conf / "nut.conf").write_text("MODE=standalone\n")
        (self.conf / "ups.conf").write_text(
            f'[{ups}]\n  driver = dummy-ups\n  port = {self.dev.name}\n  pollinterval = 1\n  desc = "kiosk UPS"\n')
        (self.conf / "upsd.conf").write_text(f"LISTEN 127.0.0.1 {self.port}\n")
        (self.conf / "upsd.users").write_text("")
        for f in self.conf.iterdir():
            f.chmod(0o600)
        self.driver = self.upsd = None

    def write(self, **values):
        text = "".join(f"{k.replace('_', '.')}: {v}\n" for k, v in values.items())
        tmp = self.dev.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.dev)  # the driver must never read half a file

    def start(self):
        self.driver = subprocess.Popen([DUMMY_UPS, "-a", self.ups, "-u", self.user, "-F"], env=self.env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: (self.state / f"dummy-ups-{self.ups}").exists(), "the dummy-ups socket")
        self.start_upsd()

    def start_upsd(self):
        self.upsd = subprocess.Popen([UPSD, "-u", self.user, "-F"], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: socket.create_connection(("127.0.0.1", self.port), timeout=1).close() is None, "upsd")
        wait_for(self._has_data, "upsd to have the driver's data")

    def _has_data(self) -> bool:
        client = NutClient("127.0.0.1", self.port, 1.0)
        try:
            return client.get_var(self.ups, "ups.status") not in (None, "WAIT")  # WAIT: driver not read yet
        finally:
            client.close()

    def stop_upsd(self):
        self.upsd.terminate()
        self.upsd.wait(timeout=10)

    def stop(self):
        for proc in (self.upsd, self.driver):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc is not None and proc.stderr:
                proc.stderr.close()


@pytest.fixture
def nut(tmp_path):
    server = NutServer(tmp_path)
    server.write(ups_status="OL CHRG", battery_charge=85, battery_voltage=13.2)
    server.start()
    yield server
    server.stop()


@needs_nut
def test_nut_protocol_against_real_upsd(nut):
    client = NutClient("127.0.0.1", nut.port)
    try:
        assert client.get_var("kiosk", "ups.status") == "OL CHRG"
        assert client.get_var("kiosk", "battery.charge") == "85"
        assert client.get_var("kiosk", "battery.runtime") is None  # ERR VAR-NOT-SUPPORTED
        values = client.list_vars("kiosk")
        assert values["device.model"] == "Dummy UPS" and values["battery.voltage"] == "13.2"
        assert client.version().startswith("Network UPS Tools upsd")
    finally:
        client.close()


@needs_nut
def test_nut_status_tokens_follow_the_ups(nut):
    with NutPower(nut_port=nut.port, nut_ups="kiosk") as ups:
        assert ups.read() == PowerReading(mains=True, battery_percent=85.0, voltage=13.2, charging=True,
                                          shutdown_requested=False)
        nut.write(ups_status="OB DISCHRG", battery_charge=40, battery_voltage=12.1)
        wait_for(lambda: not ups.read().mains, "OB to reach upsd")
        r = ups.read()
        assert (r.battery_percent, r.charging, r.shutdown_requested) == (40.0, False, False)
        nut.write(ups_status="OB LB", battery_charge=8, battery_voltage=11.4)
        wait_for(lambda: ups.read().battery_percent == 8.0, "LB to reach upsd")
        r = ups.read()
        # Low battery while on battery is the UPS's own "shut down now"; no CHRG/DISCHRG: unknown.
        assert (r.mains, r.shutdown_requested, r.voltage, r.charging) == (False, True, 11.4, None)
        nut.write(ups_status="OL FSD", battery_charge=30)
        wait_for(lambda: ups.read().mains, "FSD to reach upsd")
        assert ups.read().shutdown_requested is True
        assert ups.status().detail_en.startswith("mains power 30%")


@needs_nut
def test_nut_reconnects_after_upsd_restarts(nut):
    with NutPower(nut_port=nut.port, nut_ups="kiosk") as ups:
        assert ups.read().mains is True
        nut.stop_upsd()
        with pytest.raises(PowerUnreachable) as info:
            ups.read()
        assert isinstance(info.value, ConnectionError)
        assert "upsd" in info.value.message_id and "nut-server" in info.value.message_id
        nut.start_upsd()
        wait_for(lambda: ups.read().battery_percent == 85.0, "the monitor to reconnect")


@needs_nut
def test_nut_unknown_ups_is_a_typed_error(nut):
    with NutPower(nut_port=nut.port, nut_ups="gudang") as ups:
        with pytest.raises(UnknownUps) as info:
            ups.read()
    assert isinstance(info.value, LookupError)
    assert "UNKNOWN-UPS" in info.value.message_en and "nut_ups" in info.value.message_id
    assert info.value.message_id != info.value.message_en


def test_nut_refused_connection_is_a_typed_error():
    with NutPower(nut_port=free_port(), nut_ups="ups") as ups:
        with pytest.raises(PowerUnreachable) as info:
            ups.read()
        assert ups.status().state == "fault"
    assert "tidak bisa dihubungi" in info.value.message_id


def test_bad_ups_name_is_refused():
    with pytest.raises(PowerConfigError) as info:
        NutPower(nut_ups="ups\nLOGOUT")  # would inject a command into the protocol
    assert "nut_ups" in info.value.message_id


class Peer:
    """A TCP peer that answers every line with fixed bytes (or not at all): protocol faults on demand."""

    def __init__(self, answer: bytes | None):
        self.answer = answer
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn):
        with conn:
            f = conn.makefile("rb")
            try:
                while f.readline():
                    if self.answer is not None:
                        conn.sendall(self.answer)
            except OSError:
                return

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("answer", [b"HELLO THERE\n", b"\xff\xfe\x00garbage\n", b"VAR kiosk ups.status OL\n",
                                    b"x" * 5000 + b"\n"], ids=["words", "binary", "unquoted", "endless"])
def test_garbled_answers_are_protocol_errors(answer):
    peer = Peer(answer)
    try:
        with NutPower(nut_port=peer.port, nut_ups="kiosk") as ups:
            with pytest.raises(PowerProtocolError) as info:
                ups.read()
        assert isinstance(info.value, ValueError)
        assert "protokol NUT" in info.value.message_id and "NUT protocol" in info.value.message_en
    finally:
        peer.close()


def test_silent_peer_is_a_timeout():
    peer = Peer(None)
    try:
        with NutPower(nut_port=peer.port, nut_ups="kiosk", nut_timeout_seconds=0.3) as ups:
            with pytest.raises(PowerTimeout) as info:
                ups.read()
        assert isinstance(info.value, TimeoutError)
        assert "tepat waktu" in info.value.message_id
    finally:
        peer.close()


# --- auto ----------------------------------------------------------------------------------------

@needs_nut
def test_auto_prefers_upsd(nut):
    assert detect(nut_port=nut.port) == ("nut", {})
    with open_power("auto", nut_port=nut.port, nut_ups="kiosk") as ups:
        assert isinstance(ups, NutPower) and ups.read().battery_percent == 85.0


def test_auto_finds_the_hat_on_i2c(tmp_path, pins):
    closed = free_port()
    dev = tmp_path / "i2c-1"
    dev.touch()
    x728 = FakeSMBus({0x36: max17040(3.9, 60)})
    assert detect(nut_port=closed, bus_factory=x728, i2c_device=str(dev)) == ("x728", {"i2c_address": 0x36})
    with open_power("auto", nut_port=closed, bus_factory=x728, i2c_device=str(dev)) as ups:
        assert isinstance(ups, X728Power) and ups.read().battery_percent == 60.0
    waveshare_c = FakeSMBus({0x43: INA219Chip(3.9, -300)})
    with open_power("auto", nut_port=closed, bus_factory=waveshare_c, i2c_device=str(dev), battery="li-ion-1s") as ups:
        assert isinstance(ups, INA219Power) and ups.chip.address == 0x43
        assert ups.read().battery_percent == pytest.approx(63.75, abs=0.05)  # 3.90 V: between 3.87 (60) and 3.91 (65)


def test_auto_without_i2c_device_does_not_probe_and_falls_back_to_sim(tmp_path):
    bus = FakeSMBus({0x36: max17040(3.9, 60)})
    backend, found = detect(nut_port=free_port(), bus_factory=bus, i2c_device=str(tmp_path / "absent"))
    assert (backend, found) == ("sim", {})
    assert not hasattr(bus, "bus_number")  # /dev/i2c-1 absent: the bus was never opened
    with open_power("auto", nut_port=free_port(), i2c_device=str(tmp_path / "absent")) as ups:
        assert isinstance(ups, SimPower) and ups.simulated


def test_registry_names_every_configured_backend():
    from kiosk.config import BACKENDS
    assert set(BACKENDS["power"]) - {"auto"} == set(registry.names())


def test_sim_power_is_driven_by_set():
    ups = SimPower()
    ups.set(mains=False, battery_percent=8)
    assert ups.read() == PowerReading(mains=False, battery_percent=8.0, voltage=pytest.approx(3.096), charging=False)
    assert ups.status().detail_id == "baterai lemah 8% (simulasi)"
