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
from kiosk.power import build_power
from kiosk.store import Store
from kiosk.sync import Sync, SyncSettings, SyncWorker

log = logging.getLogger(__name__)


class Kiosk:
    def __init__(self, config: Config, *, devices: Devices | None = None, start_workers: bool = True):
        from kiosk.memory import tune_for_records
        tune_for_records()
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
            # A record is training data whenever a capture device was simulated, not only when all are:
            # an "auto" backend that fell back to its simulator must never pass as a real capture.
            fingerprint=self.devices.fingerprint,
            simulated=self.devices.camera.simulated or self.devices.fingerprint.simulated,
            thresholds=Thresholds(en["photo_min_quality"], en["finger_min_quality"], en["finger_retries"],
                                  en["finger_timeout_seconds"]))
        self.enrollments.sealer = _sealer(config, self.data_dir)
        self.sealed = self.enrollments.sealer is not None
        # The 1:N duplicate search's gallery: memory only, rebuilt from the committed records'
        # templates at every start; each commit adds its record (kiosk/duplicates.py).
        from kiosk.biometrics.gallery import Gallery
        from kiosk.duplicates import Reviews
        self.gallery = Gallery()
        loaded = self.gallery.rebuild(self.store)
        log.info("duplicate-search gallery: %d record(s) loaded", loaded)
        self.enrollments.gallery = self.gallery
        self.reviews = Reviews(self.store, self.operators)
        # Power policy: LOW/CRITICAL refuse new enrollments; CRITICAL closes the store and powers off.
        self.power = build_power(self.devices.power, self.store, config.section("power"))
        self.enrollments.power_gate = self.power.allows_new_enrollment
        # Sync: sends only sealed packets; without a kiosk key it just says so in its status.
        self.sync = Sync(self.store, SyncSettings.from_config(config), network=self.devices.network)
        self.sync.on_purge = self.gallery.remove  # purged biometrics leave the in-memory gallery too
        self.sync_worker: SyncWorker | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        for warning in config.warnings:
            log.warning("config: %s", warning)
        if self.simulated:
            log.warning("SIMULATED DEVICES: training mode; demo supervisor 'demo' is enabled")
        elif self.devices.simulated_names:
            log.warning("simulated devices: %s", ", ".join(self.devices.simulated_names))
        self.checkpointer = None
        if start_workers:
            self.start_checkpointer()
            self._start(self._probe_network, "network-probe")
            self.sync_worker = SyncWorker(self.sync, network=self.devices.network)
            self.sync_worker.start()
            self.power.start()

    def start_checkpointer(self, idle_seconds: float = 1.0) -> None:
        """WAL checkpoints in idle time instead of inside a commit (kiosk/checkpoint.py)."""
        from kiosk.checkpoint import IdleCheckpointer
        if self.checkpointer is None:
            self.checkpointer = IdleCheckpointer(self.store, idle_seconds=idle_seconds).start()

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
        self.power.stop()
        if self.sync_worker is not None:
            self.sync_worker.stop()
        if self.checkpointer is not None:
            self.checkpointer.stop()
        for t in self._threads:
            t.join(timeout=5)
        self.devices.close()
        self.store.close()


def _sealer(config: Config, data_dir: Path):
    """Seal packets when both keys exist; otherwise warn once that the queue is plain (training only)."""
    from kiosk import keys, packet
    from kiosk.errors import KioskError
    signing_path = keys.kiosk_key_paths(data_dir)[0]
    central_path = config.get("central", "public_key")
    if not central_path or not signing_path.exists():
        log.warning("outbox NOT encrypted: %s; run `kiosk keygen` and set [central] public_key "
                    "(antrean TIDAK dienkripsi; hanya untuk pelatihan)",
                    "no kiosk signing key" if not signing_path.exists() else "no [central] public_key")
        return None
    try:
        return packet.sealer(keys.load_signing_key(signing_path),
                             keys.load_central_public_key(Path(central_path).expanduser()))
    except KioskError as exc:
        # A broken key must not stop recording in the village; the technician sees this at start.
        log.error("outbox NOT encrypted, key unusable: %s / %s", exc.message.en, exc.message.id)
        return None


def build_kiosk(config: Config, **kwargs) -> Kiosk:
    return Kiosk(config, **kwargs)
