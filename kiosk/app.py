"""The composition root: builds the store, drivers and services from the configuration.

The web layer and the CLI get one :class:`Kiosk` facade and never reach past it into drivers.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from kiosk import outbox, residents, schedule
from kiosk.config import Config
from kiosk.devices import Devices, open_devices
from kiosk.enrollment import Enrollments, Thresholds
from kiosk.operators import Operators, Policy
from kiosk.store import Store

log = logging.getLogger(__name__)


class Kiosk:
    def __init__(self, config: Config, *, devices: Devices | None = None, start_workers: bool = True):
        self.config = config
        self.data_dir = Path(config.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.data_dir / "kiosk.db")
        self.devices = devices or open_devices(config)
        self.simulated = self.devices.all_simulated
        ops = config.section("operators")
        self.operators = Operators(self.store, Policy(ops["lockout_attempts"], ops["lockout_seconds"],
                                                      ops["idle_logout_seconds"]), allow_demo=self.simulated)
        if self.simulated:
            self.operators.ensure_demo()
        en = config.section("enrollment")
        self.enrollments = Enrollments(
            self.store, self.operators, kiosk_id=config.kiosk_id, camera=self.devices.camera,
            fingerprint=self.devices.fingerprint, simulated=self.simulated,
            thresholds=Thresholds(en["photo_min_quality"], en["finger_min_quality"], en["finger_retries"],
                                  en["finger_timeout_seconds"]))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        for warning in config.warnings:
            log.warning("config: %s", warning)
        if self.simulated:
            log.warning("SIMULATED DEVICES: training mode; demo supervisor 'demo' is enabled")
        elif self.devices.simulated_names:
            log.warning("simulated devices: %s", ", ".join(self.devices.simulated_names))
        if start_workers:
            self._start(self._probe_network, "network-probe")

    def _start(self, target, name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _probe_network(self) -> None:
        interval = self.config.get("central", "probe_seconds")
        while not self._stop.is_set():
            try:
                self.devices.network.check()
            except Exception as exc:  # noqa: BLE001 - the probe reports; it must never die
                log.warning("network probe failed: %s", exc)
            self._stop.wait(interval)

    # --- views the UI and CLI need -----------------------------------------------------------
    def device_status(self, lang: str = "id") -> dict:
        return self.devices.status(lang)

    def outbox_counts(self) -> dict:
        return outbox.counts(self.store)

    def today(self) -> dict:
        tally = self.store.one("SELECT COUNT(*) AS n FROM enrollments WHERE state = 'committed' "
                               "AND date(committed_at, 'unixepoch', 'localtime') = date('now', 'localtime')")["n"]
        return {"villages": schedule.today(self.store), "committed_today": tally,
                "drafts": len(self.enrollments.drafts()), "residents": residents.count(self.store)}

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self.devices.close()
        self.store.close()


def build_kiosk(config: Config, **kwargs) -> Kiosk:
    return Kiosk(config, **kwargs)
