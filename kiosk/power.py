"""The power policy: what the kiosk does as the battery runs down.

MAINS → ON_BATTERY (banner, keep recording) → LOW (finish the enrollment in hand, start no new
one) → CRITICAL (stop writing, close the database cleanly, ask systemd to power off). Mains
coming back resumes from any state. A shutdown request from the UPS goes straight to CRITICAL.

:class:`PowerPolicy` decides, and has no side effects, so the decisions can be tested reading by
reading. :class:`PowerWatcher` polls the driver, applies the policy, and does what a transition
asks: an audit entry for each, and the shutdown sequence once per CRITICAL episode.
"""

from __future__ import annotations

import enum
import logging
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Callable

from drivers.power import PowerReading
from kiosk import audit
from kiosk.errors import InvalidInput
from kiosk.store import Store

log = logging.getLogger(__name__)


class PowerState(str, enum.Enum):
    MAINS = "mains"
    ON_BATTERY = "on_battery"
    LOW = "low"
    CRITICAL = "critical"


# UI.md's words first; the detail says what it means for the work at the desk.
MESSAGES = {
    PowerState.MAINS: ("listrik PLN", "mains power", "", ""),
    PowerState.ON_BATTERY: ("memakai baterai", "on battery",
                            "Listrik padam; perekaman tetap berjalan dengan baterai.",
                            "Mains is off; recording carries on from the battery."),
    PowerState.LOW: ("baterai lemah", "battery low",
                     "Selesaikan perekaman yang sedang berjalan; perekaman baru ditunda sampai listrik kembali.",
                     "Finish the recording in hand; new recordings wait until mains power returns."),
    PowerState.CRITICAL: ("kios akan dimatikan dengan aman", "the kiosk will shut down safely",
                          "Data yang sudah direkam tersimpan; kios dimatikan sebelum baterai habis.",
                          "What was recorded is saved; the kiosk powers off before the battery runs out."),
}


@dataclass(frozen=True)
class Thresholds:
    low_percent: float = 25.0
    critical_percent: float = 10.0
    hysteresis_percent: float = 5.0

    def __post_init__(self):
        ok = (0 <= self.critical_percent < self.low_percent <= 100 and 0 <= self.hysteresis_percent
              and self.low_percent + self.hysteresis_percent <= 100)
        if not ok:
            raise InvalidInput(
                "config_invalid",
                "Konfigurasi [power] salah: harus 0 ≤ critical_percent < low_percent ≤ 100, hysteresis_percent ≥ 0 "
                f"dan low_percent + hysteresis_percent ≤ 100 (sekarang {self.critical_percent}, {self.low_percent}, "
                f"{self.hysteresis_percent}).",
                "Bad [power] configuration: need 0 ≤ critical_percent < low_percent ≤ 100, hysteresis_percent ≥ 0 "
                f"and low_percent + hysteresis_percent ≤ 100 (got {self.critical_percent}, {self.low_percent}, "
                f"{self.hysteresis_percent}).",
                key="power.low_percent")


class PowerPolicy:
    """The state machine; ``update`` only computes and remembers, it never acts."""

    def __init__(self, thresholds: Thresholds = Thresholds(), *, clock: Callable[[], float] = time.time):
        self.thresholds = thresholds
        self.clock = clock
        self.state = PowerState.MAINS
        self.since = clock()
        self.reading: PowerReading | None = None

    def decide(self, reading: PowerReading) -> PowerState:
        t = self.thresholds
        if reading.shutdown_requested:
            return PowerState.CRITICAL
        if reading.mains:
            return PowerState.MAINS
        if self.state is PowerState.CRITICAL:
            # A shutdown is under way; a battery that "recovers" once the load drops is the very
            # wobble we must not trust. Only mains coming back resumes.
            return PowerState.CRITICAL
        pct = reading.battery_percent
        if pct is None:  # on battery, level unknown: at least ON_BATTERY, never better than we were
            return PowerState.LOW if self.state is PowerState.LOW else PowerState.ON_BATTERY
        if pct <= t.critical_percent:
            return PowerState.CRITICAL
        if pct <= t.low_percent:
            return PowerState.LOW
        # Above the low threshold: leave LOW only once clear of it by the hysteresis margin.
        if self.state is PowerState.LOW and pct < t.low_percent + t.hysteresis_percent:
            return PowerState.LOW
        return PowerState.ON_BATTERY

    def update(self, reading: PowerReading) -> PowerState:
        new = self.decide(reading)
        self.reading = reading
        if new is not self.state:
            self.state = new
            self.since = self.clock()
        return new

    @property
    def allows_new_enrollment(self) -> bool:
        return self.state in (PowerState.MAINS, PowerState.ON_BATTERY)

    def status(self) -> dict:
        msg_id, msg_en, detail_id, detail_en = MESSAGES[self.state]
        r = self.reading
        return {"state": self.state.value, "message_id": msg_id, "message_en": msg_en,
                "detail_id": detail_id, "detail_en": detail_en, "since": self.since,
                "mains": None if r is None else r.mains,
                "battery_percent": None if r is None else r.battery_percent,
                "new_enrollments": self.allows_new_enrollment}


def systemctl_poweroff() -> None:
    """Ask systemd for a clean power-off: it stops the kiosk service (SIGTERM) and syncs the disks."""
    subprocess.run(["systemctl", "poweroff"], check=False, timeout=30)


def simulated_poweroff() -> None:
    # A training kiosk on a laptop must never switch the laptop off because the slider said 5%.
    log.warning("simulated power: the kiosk would power off now (systemctl poweroff)")


class PowerWatcher:
    """Polls the power monitor, applies the policy, and carries out what each transition needs."""

    ACTOR = "power"

    def __init__(self, monitor, store: Store, policy: PowerPolicy | None = None, *, poll_seconds: float = 5.0,
                 shutdown: Callable[[], None] = systemctl_poweroff):
        self.monitor = monitor
        self.store = store
        self.policy = policy or PowerPolicy()
        self.poll_seconds = poll_seconds
        self.shutdown = shutdown
        self.shutdown_requested = False  # once per CRITICAL episode
        self.fault: dict | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one poll --------------------------------------------------------------------------------
    def check(self) -> PowerState:
        """Read the monitor now and apply the policy; a failed read keeps the last state."""
        with self._lock:
            try:
                reading = self.monitor.read()
            except Exception as exc:  # noqa: BLE001 - a failed read is reported, never fatal
                if self.fault is None:
                    log.warning("power monitor read failed: %s", exc)
                self.fault = {"message_id": getattr(exc, "message_id", str(exc)),
                              "message_en": getattr(exc, "message_en", str(exc))}
                return self.policy.state
            self.fault = None
            return self.apply(reading)

    def apply(self, reading: PowerReading) -> PowerState:
        with self._lock:
            old = self.policy.state
            new = self.policy.update(reading)
            if new is not old:
                self._transition(old, new, reading)
            return new

    def _transition(self, old: PowerState, new: PowerState, reading: PowerReading) -> None:
        reason = "shutdown_requested" if reading.shutdown_requested else (
            "mains" if reading.mains else "battery_level")
        log.warning("power: %s -> %s (%s, battery %s%%)", old.value, new.value, reason, reading.battery_percent)
        critical = new is PowerState.CRITICAL and not self.shutdown_requested
        if old is PowerState.CRITICAL and new is not PowerState.CRITICAL:
            # The power-off did not happen (or mains came back first): writing may resume.
            self.store.reopen()
        try:
            with self.store.transaction() as conn:
                audit.record(conn, self.ACTOR, "power.state", "", previous=old.value, state=new.value, reason=reason,
                             mains=reading.mains, battery_percent=reading.battery_percent)
                if critical:
                    audit.record(conn, self.ACTOR, "power.shutdown", "", battery_percent=reading.battery_percent,
                                 reason=reason)
        except Exception as exc:  # noqa: BLE001 - a full disk must not stop the safe shutdown below
            log.error("power: audit entry failed: %s", exc)
        if new is PowerState.MAINS:
            self.shutdown_requested = False
        if critical:
            self.shutdown_requested = True
            # Drafts are saved step by step already; closing checkpoints the WAL so the main database
            # file is whole on its own before the power goes.
            self.store.close()
            try:
                self.shutdown()
            except Exception as exc:  # noqa: BLE001
                log.error("power: asking for power-off failed: %s", exc)

    # --- what the rest of the kiosk asks ---------------------------------------------------------
    def allows_new_enrollment(self) -> bool:
        """Enrollments' power gate: a fresh reading, so a new recording never starts on a stale OK."""
        self.check()
        return self.policy.allows_new_enrollment

    def status(self) -> dict:
        with self._lock:
            out = self.policy.status()
            out["fault"] = self.fault
            return out

    # --- the polling thread ----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="power-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive any one bad poll
                log.exception("power watcher: %s", exc)
            self._stop.wait(self.poll_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def build_power(monitor, store: Store, section: dict, *, shutdown: Callable[[], None] | None = None) -> PowerWatcher:
    """The watcher for the configured ``[power]`` section; a simulated monitor never powers off."""
    thresholds = Thresholds(section.get("low_percent", 25.0), section.get("critical_percent", 10.0),
                            section.get("hysteresis_percent", 5.0))
    if shutdown is None:
        shutdown = simulated_poweroff if getattr(monitor, "simulated", False) else systemctl_poweroff
    return PowerWatcher(monitor, store, PowerPolicy(thresholds), poll_seconds=section.get("poll_seconds", 5.0),
                        shutdown=shutdown)
