"""Store-and-forward sync: the outbox drained to the centre, status pulled back, payloads purged.

The rules (docs/central-protocol.md, DESIGN §5 "ODK"):
- the OLDEST due packet goes first, one row at a time, its body streamed from SQLite's blob
  (never the queue, never even a whole packet, in memory);
- a packet is marked ``sending`` (attempts + 1) in a committed transaction BEFORE the request
  (the same transaction records the previous packet's receipt: one fsync per packet, not two),
  so a crash mid-send leaves evidence; a ``sending`` row found later is simply sent again — the
  centre is idempotent on the packet id (same bytes → the same receipt);
- ``sent`` only when the centre's receipt names this packet id and the SHA-256 of the bytes we
  actually streamed; anything else goes back to ``failed`` with the reason in plain words;
- retryable failures (link, timeout, 5xx, garbage, wrong receipt) back off exponentially with
  full jitter; 409 / 422 / 413 are held for the technician (``retry_failed``), never hammered;
  403 (kiosk unknown to the centre) is a kiosk-wide problem: the round stops and it is tried
  again only at the longest backoff, because registering the key happens at the centre;
- status changes are pulled with the signed request and a stored cursor; once the centre says it
  holds a record, and ``[sync] retention_days`` later, its biometrics are deleted on the kiosk
  and only a receipt (registration id, packet id, hash, times) stays.

No personal data is logged: packet ids, registration ids and reasons only.
"""

from __future__ import annotations

import contextlib
import email.utils
import errno
import fcntl
import hashlib
import http.client
import json
import logging
import os
import random
import socket
import sqlite3
import threading
import time
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from kiosk import audit
from kiosk.errors import KioskError
from kiosk.store import Store

log = logging.getLogger(__name__)

SEALED_FORMATS = ("sealed-v1", "sealed-v2")  # = kiosk.packet.SEALED_FORMATS; only sealed packets ever leave the kiosk
_SEALED = "payload_format IN (" + ", ".join(f"'{f}'" for f in SEALED_FORMATS) + ")"
BACKOFF_BASE_SECONDS = 5.0
CLOCK_SKEW_LIMIT = 300  # the centre's own limit on signed requests (protocol)
HOLDING_STATUSES = ("received", "PRR", "DUPLICATE", "ADJUDICATE")  # the centre holds the record
KNOWN_STATUSES = HOLDING_STATUSES + ("FAILED",)
MAX_RECEIPT_BYTES = 64 * 1024  # a receipt is ~200 bytes; more is garbage, not a receipt
CHUNK = 64 * 1024
PACKETS_LISTED = 50
_DUE = "SELECT rowid, created_at FROM outbox INDEXED BY outbox_due WHERE"


# --- outcomes ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Failure:
    """Why one try did not end in a receipt; ``kind`` decides what happens next."""

    code: str
    text_id: str
    text_en: str
    kind: str = "retry"  # "retry" (back off), "hold" (technician), "kiosk" (kiosk-wide, slow retry)
    http_status: int | None = None

    def as_dict(self) -> dict:
        return {"code": self.code, "message_id": self.text_id, "message_en": self.text_en,
                "kind": self.kind, "http_status": self.http_status}


def _fail(code: str, text_id: str, text_en: str, kind: str = "retry", status: int | None = None) -> Failure:
    return Failure(code, text_id, text_en, kind, status)


def network_failure(exc: BaseException, timeout: float) -> Failure:
    """An exception of the socket / http layer in words a technician can act on."""
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return _fail("timeout", f"Pusat tidak menjawab dalam {timeout:g} detik; dicoba lagi nanti.",
                     f"The centre did not answer within {timeout:g} s; will retry.")
    if isinstance(exc, ConnectionRefusedError):
        return _fail("connection_refused", "Pusat menolak sambungan (server pusat mati?); dicoba lagi nanti.",
                     "The centre refused the connection (is its server down?); will retry.")
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError,
                        http.client.RemoteDisconnected, http.client.IncompleteRead)):
        return _fail("connection_reset", "Sambungan ke pusat terputus di tengah pengiriman; dicoba lagi nanti.",
                     "The connection to the centre was cut during the transfer; will retry.")
    if isinstance(exc, http.client.HTTPException):
        return _fail("garbage", "Jawaban pusat tidak bisa dibaca (bukan HTTP yang sah); dicoba lagi nanti.",
                     "The centre's answer could not be read (not valid HTTP); will retry.")
    reason = getattr(exc, "strerror", None) or exc.__class__.__name__
    return _fail("unreachable", f"Pusat tidak terjangkau ({reason}); dicoba lagi nanti.",
                 f"The centre cannot be reached ({reason}); will retry.")


def answer_failure(status: int, body: bytes) -> Failure:
    """A non-2xx answer of PUT /packets/<id>."""
    try:
        doc = json.loads(body)
        code = str(doc.get("error", "")) if isinstance(doc, dict) else ""
    except ValueError:
        code = ""
    if status == 409:
        return _fail("conflict", "Pusat sudah menyimpan isi lain dengan nomor paket ini (409). Tidak dikirim ulang "
                     "otomatis; hubungi teknisi.", "The centre holds different bytes under this packet id (409). "
                     "Not resent automatically; call a technician.", "hold", status)
    if status == 403:
        return _fail("unknown_kiosk", "Pusat tidak mengenal kios ini (403): kunci kios belum didaftarkan di pusat "
                     "(kiosk register --code, atau central kiosk add). Hubungi teknisi.", "The centre does not know "
                     "this kiosk (403): its key is not registered there (kiosk register --code, or central kiosk "
                     "add). Call a technician.", "kiosk", status)
    if status == 422:
        detail = code or "bad_packet"
        return _fail("refused", f"Pusat menolak paket ({detail}, 422): rusak di jalan atau tanda tangan salah. "
                     "Tidak dikirim ulang otomatis; hubungi teknisi.", f"The centre refused the packet ({detail}, "
                     "422): damaged on the way or a bad signature. Not resent automatically; call a technician.",
                     "hold", status)
    if status == 413:
        return _fail("too_large", "Paket terlalu besar untuk pusat (413); hubungi teknisi.",
                     "The packet is too large for the centre (413); call a technician.", "hold", status)
    if status >= 500:
        return _fail("server_error", f"Pusat sedang bermasalah (HTTP {status}); dicoba lagi nanti.",
                     f"The centre has a problem (HTTP {status}); will retry.", "retry", status)
    return _fail("unexpected_answer", f"Pusat menjawab HTTP {status} yang tidak diharapkan; dicoba lagi nanti.",
                 f"The centre answered an unexpected HTTP {status}; will retry.", "retry", status)


GARBAGE = _fail("garbage", "Jawaban pusat tidak bisa dibaca (bukan tanda terima); dicoba lagi nanti.",
                "The centre's answer could not be read (not a receipt); will retry.")
RECEIPT_MISMATCH = _fail("receipt_mismatch", "Tanda terima pusat tidak cocok dengan paket yang dikirim (nomor "
                         "atau hash beda); dicoba lagi nanti.", "The centre's receipt does not match the packet "
                         "sent (id or hash differs); will retry.")
LOCAL_CORRUPT = _fail("local_corrupt", "Isi paket di kios tidak cocok lagi dengan hash-nya (media rusak?). Tidak "
                      "dikirim; hubungi teknisi.", "The packet stored on the kiosk no longer matches its hash "
                      "(damaged storage?). Not sent; call a technician.", "hold")


def clock_message(offset: float) -> tuple[str, str]:
    minutes = abs(offset) / 60
    ahead = offset < 0  # offset = centre - kiosk; negative means the kiosk runs ahead
    return (f"Jam kios salah: {'lebih cepat' if ahead else 'lebih lambat'} {minutes:.0f} menit dari pusat. "
            "Betulkan tanggal dan jam kios.",
            f"The kiosk clock is wrong: {minutes:.0f} minutes {'ahead of' if ahead else 'behind'} the centre. "
            "Set the kiosk's date and time.")


# --- settings and report ----------------------------------------------------------------------
@dataclass
class SyncSettings:
    url: str
    kiosk_id: str
    signing_key_path: Path
    interval_seconds: float = 30.0
    backoff_max_seconds: float = 600.0
    timeout_seconds: float = 20.0
    retention_days: float = 30.0
    backoff_base_seconds: float = BACKOFF_BASE_SECONDS

    @classmethod
    def from_config(cls, config) -> "SyncSettings":
        from kiosk.keys import kiosk_key_paths
        s = config.section("sync")
        return cls(url=config.get("central", "url"), kiosk_id=config.kiosk_id,
                   signing_key_path=kiosk_key_paths(config.data_dir)[0],
                   interval_seconds=s["interval_seconds"], backoff_max_seconds=s["backoff_max_seconds"],
                   timeout_seconds=s["timeout_seconds"], retention_days=s["retention_days"])


@dataclass
class SyncReport:
    """What one round did; ``stopped_by`` names the failure that ended it early, if any."""

    sent: int = 0
    failed: int = 0
    held: int = 0
    status_changes: int = 0
    purged: int = 0
    busy: bool = False
    not_configured: str | None = None
    stopped_by: dict | None = None
    status_error: dict | None = None
    next_attempt_at: float | None = None
    # [{"packet_id", "result", "code"}], ids only, the first PACKETS_LISTED of the round: a report
    # that grew with the queue would make draining 1,000 packets cost more memory than 100.
    packets: list[dict] = field(default_factory=list)
    packets_not_listed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    def note(self, packet_id: str, result: str, code: str | None) -> None:
        if len(self.packets) < PACKETS_LISTED:
            self.packets.append({"packet_id": packet_id, "result": result, "code": code})
        else:
            self.packets_not_listed += 1

    @property
    def ok(self) -> bool:
        return not self.busy and self.not_configured is None and self.stopped_by is None \
            and self.failed == 0 and self.held == 0 and self.status_error is None


def backoff_ceiling(failures: int, *, base: float, cap: float) -> float:
    """The longest wait after ``failures`` failures in a row: base·2^(n-1), capped."""
    return min(cap, base * 2 ** max(0, failures - 1))


def backoff_delay(failures: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Full jitter (AWS): uniform in [0, ceiling], floored at 1 s so it never spins.

    Full rather than "equal" jitter because a fleet of kiosks that lost the same link at the same
    moment must not come back in step and knock the centre over together.
    """
    ceiling = backoff_ceiling(failures, base=base, cap=cap)
    return max(min(1.0, ceiling), rng.uniform(0, ceiling))


# --- the body, streamed and hashed on the way ---------------------------------------------------
class _HashingBlob:
    """File-like view of one outbox payload blob; hashes what http.client actually reads."""

    def __init__(self, blob):
        self._blob = blob
        self.sha = hashlib.sha256()
        self.length = len(blob)

    def read(self, n: int = -1) -> bytes:
        data = self._blob.read(CHUNK if n is None or n < 0 else min(n, CHUNK))
        self.sha.update(data)
        return data


# --- persistent state ---------------------------------------------------------------------------
class SyncState:
    """The ``sync_state`` key/value table: cursor, last success / failure, backoff, clock."""

    def __init__(self, store: Store):
        self.store = store

    def get(self, key: str, default=None):
        row = self.store.one("SELECT value FROM sync_state WHERE key = ?", (key,))
        return default if row is None else json.loads(row["value"])

    def all(self) -> dict:
        return {r["key"]: json.loads(r["value"]) for r in self.store.query("SELECT key, value FROM sync_state")}

    @staticmethod
    def put(conn, **values) -> None:
        for key, value in values.items():
            conn.execute("INSERT INTO sync_state(key, value) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, json.dumps(value)))


# --- the service ----------------------------------------------------------------------------------
class Sync:
    """One kiosk's sync: ``run_once`` does a round; ``status`` is what the UI shows."""

    # (enrollment_id) -> None, called after a record's biometrics were purged (the kiosk's gallery).
    on_purge: Callable[[str], None] | None = None

    def __init__(self, store: Store, settings: SyncSettings, *, network=None,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None,
                 lock_path: Path | None = None):
        self.store = store
        self.settings = settings
        self.network = network
        self.clock = clock
        self.rng = rng or random.Random()
        self.state = SyncState(store)
        self.lock_path = lock_path or store.path.with_name("sync.lock")
        self._signing_key = None
        self._conn: http.client.HTTPConnection | None = None
        # A bad [central] url must not stop the kiosk from recording: sync reports it and waits.
        self._url_error: tuple[str, str] | None = None
        try:
            u = urllib.parse.urlsplit(settings.url)
            port = u.port
        except ValueError:
            u, port = None, None
        if u is None or u.scheme not in ("http", "https") or not u.hostname:
            self._url_error = (f"Alamat pusat tidak sah: {settings.url!r} (harus http:// atau https://); "
                               "betulkan [central] url.",
                               f"The centre's address is not valid: {settings.url!r} (must be http:// or "
                               "https://); fix [central] url.")
            self._scheme, self._host, self._port, self._prefix = "http", "invalid", None, ""
        else:
            self._scheme, self._host, self._port = u.scheme, u.hostname, port
            self._prefix = u.path.rstrip("/")

    # --- configuration ------------------------------------------------------------------------
    def _key(self):
        if self._signing_key is None:
            from kiosk.keys import load_signing_key
            self._signing_key = load_signing_key(self.settings.signing_key_path)
        return self._signing_key

    def configured(self) -> tuple[str, str] | None:
        """None when sync can run; else why not (id, en)."""
        if self._url_error:
            return self._url_error
        if not Path(self.settings.signing_key_path).exists():
            return ("Kunci kios belum dibuat: jalankan `kiosk keygen` dan daftarkan kunci publiknya di pusat.",
                    "The kiosk has no key yet: run `kiosk keygen` and register its public key at the centre.")
        return None

    # --- HTTP -----------------------------------------------------------------------------------
    def _http(self) -> http.client.HTTPConnection:
        # One kept-alive connection per round: 1,000 packets should not cost 1,000 handshakes.
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.settings.timeout_seconds, blocksize=CHUNK)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def _exchange(self, method: str, path: str, body=None, headers=None) -> tuple[int, bytes, dict]:
        conn = self._http()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read(MAX_RECEIPT_BYTES + 1)
            if len(data) > MAX_RECEIPT_BYTES or resp.will_close:
                self._drop_connection()
            return resp.status, data, {k.lower(): v for k, v in resp.getheaders()}
        except BaseException:
            self._drop_connection()  # a half-used connection must never carry the next request
            raise

    def _note_clock(self, headers: dict, local: float) -> None:
        """The centre's Date header tells us when the kiosk clock has drifted, before any 401."""
        date = headers.get("date")
        if not date:
            return
        with contextlib.suppress(TypeError, ValueError, IndexError):
            server = email.utils.parsedate_to_datetime(date).timestamp()
            self._clock_offset = server - local

    # --- one packet -------------------------------------------------------------------------------
    def _next_due(self, now: float, force: bool) -> int | None:
        # Everything read here is in outbox_due (migration 2): without INDEXED BY the planner takes
        # outbox_state and reads next_attempt_at from the row, i.e. past each ~0.7 MB payload blob.
        due_failed = "state = 'failed' AND next_attempt_at IS NOT NULL" + ("" if force else " AND next_attempt_at <= ?")
        params = () if force else (now,)
        row = self.store.one(
            "SELECT rowid, created_at FROM ("
            f" {_DUE} state = 'queued' AND {_SEALED}"
            f" UNION ALL {_DUE} state = 'sending' AND {_SEALED}"
            f" UNION ALL {_DUE} {due_failed} AND {_SEALED}"
            ") ORDER BY created_at, rowid LIMIT 1", params)
        return None if row is None else row["rowid"]

    def _advance(self, done: tuple | None, force: bool, pick: bool) -> tuple[int, str, str] | None:
        """One committed transaction: record the packet just receipted (if any), pick the oldest
        due packet and mark it ``sending`` (attempts + 1). Returns (rowid, packet id, stored hash).

        Finishing one packet and marking the next together costs one fsync instead of two, which
        keeps a slow field link busy; a crash in between still leaves the receipted packet in
        ``sending``, and it is simply sent again (same bytes → the same receipt).
        """
        with self.store.transaction() as conn:
            if done is not None:
                self._write_sent(conn, *done)
            rowid = self._next_due(self.clock(), force) if pick else None
            if rowid is None:
                picked = None
            else:
                row = conn.execute("SELECT id, payload_sha256 FROM outbox WHERE rowid = ?", (rowid,)).fetchone()
                conn.execute("UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE rowid = ?", (rowid,))
                picked = (rowid, row["id"], row["payload_sha256"])
        if done is not None:
            log.info("packet %s sent", done[1])
        return picked

    def _transfer(self, rowid: int, packet_id: str, stored_sha: str) -> tuple[Failure | None, dict]:
        """Stream the marked packet and judge the receipt. Returns (failure, receipt)."""
        path = f"{self._prefix}/api/v1/packets/{urllib.parse.quote(packet_id, safe='')}"
        # A connection of its own per packet: the blob pins a read snapshot while it streams, and
        # CPython's sqlite3 keeps a weak reference per blob ever opened on a connection, so a
        # long-lived one would grow with every packet the kiosk has sent.
        reader = sqlite3.connect(self.store.path, timeout=15, isolation_level=None)
        try:
            try:
                blob = reader.blobopen("outbox", "payload", rowid, readonly=True)
            except sqlite3.Error:  # a NULL or vanished payload cannot be streamed
                return LOCAL_CORRUPT, {}
            return self._stream(packet_id, stored_sha, path, blob)
        finally:
            reader.close()

    def _stream(self, packet_id: str, stored_sha: str, path: str, blob) -> tuple[Failure | None, dict]:
        local = self.clock()
        with blob:
            body = _HashingBlob(blob)
            try:
                status, data, headers = self._exchange(
                    "PUT", path, body=body,
                    headers={"Content-Type": "application/octet-stream", "Content-Length": str(body.length),
                             "X-Kiosk-Id": self.settings.kiosk_id})
            except (OSError, http.client.HTTPException) as exc:
                return network_failure(exc, self.settings.timeout_seconds), {}
        self._note_clock(headers, local)
        sent_sha = body.sha.hexdigest()
        if sent_sha != stored_sha:
            return LOCAL_CORRUPT, {}
        if status not in (200, 201):
            return answer_failure(status, data), {}
        try:
            receipt = json.loads(data)
        except ValueError:
            return GARBAGE, {}
        if not isinstance(receipt, dict):
            return GARBAGE, {}
        if receipt.get("packet_id") != packet_id or receipt.get("sha256") != sent_sha:
            return RECEIPT_MISMATCH, {}
        return None, receipt

    @staticmethod
    def _write_sent(conn, rowid: int, packet_id: str, receipt: dict, at: float) -> None:
        keep = {k: receipt.get(k) for k in ("packet_id", "sha256", "registration_id", "received_at", "status")}
        conn.execute("UPDATE outbox SET state = 'sent', sent_at = ?, last_error = NULL, error_code = NULL, "
                     "next_attempt_at = NULL, receipt = ? WHERE rowid = ?", (at, json.dumps(keep), rowid))
        conn.execute("UPDATE enrollments SET status = 'sent' WHERE status = 'captured' AND id = "
                     "(SELECT enrollment_id FROM outbox WHERE rowid = ?)", (rowid,))
        SyncState.put(conn, last_success_at=at, consecutive_failures=0, next_attempt_at=None, last_failure=None)

    def _record_failure(self, rowid: int, packet_id: str, failure: Failure, now: float,
                        failures: int) -> float | None:
        """Back to ``failed`` with the reason; returns when this packet may be tried again."""
        if failure.kind == "retry":
            retry_at = now + backoff_delay(failures, base=self.settings.backoff_base_seconds,
                                           cap=self.settings.backoff_max_seconds, rng=self.rng)
        elif failure.kind == "kiosk":
            retry_at = now + self.settings.backoff_max_seconds
        else:
            retry_at = None
        reason = f"{failure.text_id} / {failure.text_en}"
        with self.store.transaction() as conn:
            conn.execute("UPDATE outbox SET state = 'failed', last_error = ?, error_code = ?, next_attempt_at = ? "
                         "WHERE rowid = ?", (reason, failure.code, retry_at, rowid))
            SyncState.put(conn, last_failure={**failure.as_dict(), "at": now, "packet_id": packet_id})
            if failure.kind != "retry":
                audit.record(conn, "sync", "sync.held", packet_id, code=failure.code, http_status=failure.http_status)
        log.warning("packet %s failed: %s (%s)", packet_id, failure.code, failure.text_en)
        return retry_at

    # --- a round ------------------------------------------------------------------------------------
    def run_once(self, *, force: bool = False, stop: threading.Event | None = None) -> SyncReport:
        """Send every due packet, oldest first; pull status; purge. ``force`` ignores backoff times."""
        report = SyncReport()
        why = self.configured()
        if why:
            report.not_configured = why[1]
            self._save(last_attempt_at=self.clock(), not_configured=list(why))
            return report
        with self._exclusive() as mine:
            if not mine:
                report.busy = True
                return report
            try:
                self._round(report, force, stop)
            finally:
                self._drop_connection()
        return report

    @contextlib.contextmanager
    def _exclusive(self):
        # The service's worker and a technician's `kiosk sync --once` must not send side by side.
        # flock is released by the kernel if we are killed, so a crash never leaves it stuck.
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    yield False
                    return
                raise
            yield True
        finally:
            os.close(fd)

    def _round(self, report: SyncReport, force: bool, stop: threading.Event | None) -> None:
        self._clock_offset = None
        started = self.clock()
        failures = int(self.state.get("consecutive_failures", 0))
        # Cleared here, set again by a failure: a stale time in the past would make the worker spin.
        self._save(last_attempt_at=started, not_configured=None, next_attempt_at=None)
        link_failed = False
        done = None  # the packet just receipted: written with the next mark (see _advance)
        while True:
            picked = self._advance(done, force, pick=stop is None or not stop.is_set())
            done = None
            if picked is None:
                break
            rowid, packet_id, stored_sha = picked
            failure, receipt = self._transfer(rowid, packet_id, stored_sha)
            now = self.clock()
            if failure is None:
                done = (rowid, packet_id, receipt, now)
                failures = 0
                report.sent += 1
                report.note(packet_id, "sent", None)
                continue
            report.note(packet_id, "failed", failure.code)
            if failure.kind == "hold":
                report.held += 1
                self._record_failure(rowid, packet_id, failure, now, failures)
                continue  # this packet waits for a technician; the others need not
            failures += 1
            report.failed += 1
            retry_at = self._record_failure(rowid, packet_id, failure, now, failures)
            report.stopped_by = failure.as_dict()
            report.next_attempt_at = retry_at
            self._save(consecutive_failures=failures, next_attempt_at=retry_at)
            link_failed = True
            break
        if not link_failed:
            self._pull_status(report)
            # kept apart from last_failure: a status feed refused (403, clock) while packets go through
            self._save(status_error=report.status_error)
        self._check_clock_offset()
        report.purged = self.purge()

    # --- status feed --------------------------------------------------------------------------------
    def _pull_status(self, report: SyncReport) -> None:
        from kiosk.keys import status_request_headers
        cursor = int(self.state.get("status_cursor", 0) or 0)
        for _ in range(1000):  # pages; a guard against a centre that never stops answering
            path = (f"{self._prefix}/api/v1/kiosks/{urllib.parse.quote(self.settings.kiosk_id, safe='')}"
                    f"/status?since={cursor}")
            local = self.clock()
            headers = status_request_headers(self.settings.kiosk_id, self._key(), path, int(local))
            try:
                status, data, resp_headers = self._exchange("GET", path, headers=headers)
            except (OSError, http.client.HTTPException) as exc:
                report.status_error = network_failure(exc, self.settings.timeout_seconds).as_dict()
                return
            self._note_clock(resp_headers, local)
            try:
                doc = json.loads(data)
            except ValueError:
                doc = None
            if status == 401 and isinstance(doc, dict) and doc.get("error") == "clock_skew":
                server = doc.get("server_time")
                offset = float(server) - local if isinstance(server, (int, float)) else (self._clock_offset or 0.0)
                self._set_clock(offset)
                text_id, text_en = clock_message(offset)
                report.status_error = {"code": "clock_wrong", "message_id": text_id, "message_en": text_en}
                return
            if status != 200 or not isinstance(doc, dict) or not isinstance(doc.get("changes"), list):
                failure = answer_failure(status, data) if status != 200 else GARBAGE
                report.status_error = failure.as_dict()
                return
            self._set_clock(None)
            new_cursor = doc.get("cursor", cursor)
            if not isinstance(new_cursor, int):
                report.status_error = GARBAGE.as_dict()
                return
            report.status_changes += self._apply_changes(doc["changes"], new_cursor)
            if not doc["changes"] or new_cursor <= cursor:
                return
            cursor = new_cursor

    def _apply_changes(self, changes: list, cursor: int) -> int:
        applied = 0
        with self.store.transaction() as conn:
            for ch in changes:
                if not isinstance(ch, dict) or ch.get("status") not in KNOWN_STATUSES:
                    continue
                row = conn.execute("SELECT rowid, enrollment_id, acknowledged_at FROM outbox WHERE id = ?",
                                   (str(ch.get("packet_id")),)).fetchone()
                if row is None:
                    continue  # not ours (or long gone): the cursor still moves past it
                status = ch["status"]
                # The kiosk's words follow DESIGN §1: captured → sent → PRR | DUPLICATE | ADJUDICATE | FAILED.
                conn.execute("UPDATE enrollments SET status = ? WHERE id = ?",
                             ("sent" if status == "received" else status, row["enrollment_id"]))
                if status in HOLDING_STATUSES and row["acknowledged_at"] is None:
                    conn.execute("UPDATE outbox SET acknowledged_at = ? WHERE rowid = ?", (self.clock(), row["rowid"]))
                applied += 1
            SyncState.put(conn, status_cursor=cursor, last_status_at=self.clock())
        return applied

    # --- clock ----------------------------------------------------------------------------------------
    def _set_clock(self, offset: float | None) -> None:
        if offset is None or abs(offset) <= CLOCK_SKEW_LIMIT:
            self._save(clock=None)
            return
        text_id, text_en = clock_message(offset)
        self._save(clock={"ok": False, "offset_seconds": round(offset, 1), "message_id": text_id,
                          "message_en": text_en, "at": self.clock()})
        log.warning("kiosk clock is %.0f s off the centre", offset)

    def _check_clock_offset(self) -> None:
        offset = getattr(self, "_clock_offset", None)
        if offset is not None and abs(offset) > CLOCK_SKEW_LIMIT:
            self._set_clock(offset)

    # --- purge ------------------------------------------------------------------------------------------
    def purge(self) -> int:
        """Delete biometrics of records the centre has held for ``retention_days``; keep the receipt."""
        limit = self.clock() - self.settings.retention_days * 86400
        rows = self.store.query("SELECT rowid, id, enrollment_id FROM outbox WHERE purged_at IS NULL "
                                "AND acknowledged_at IS NOT NULL AND acknowledged_at <= ?", (limit,))
        for row in rows:
            with self.store.transaction() as conn:
                conn.execute("UPDATE outbox SET payload = NULL, purged_at = ? WHERE rowid = ?",
                             (self.clock(), row["rowid"]))
                conn.execute("DELETE FROM enrollment_parts WHERE enrollment_id = ?", (row["enrollment_id"],))
                # Templates are biometric data too: once the centre holds the record, its duplicate
                # search is the one that counts, and the kiosk keeps nothing it no longer needs.
                conn.execute("DELETE FROM finger_templates WHERE enrollment_id = ?", (row["enrollment_id"],))
                audit.record(conn, "sync", "sync.purge", row["enrollment_id"], packet_id=row["id"])
            if self.on_purge is not None:
                self.on_purge(row["enrollment_id"])
            log.info("packet %s purged after retention", row["id"])
        return len(rows)

    # --- technician actions ---------------------------------------------------------------------------
    def retry_failed(self, packet_id: str | None = None) -> int:
        """Put held packets (409 / 422 / 403 ...) back in the queue, after the technician fixed the cause."""
        with self.store.transaction() as conn:
            sql = "UPDATE outbox SET state = 'queued', next_attempt_at = NULL WHERE state = 'failed'"
            params: tuple = ()
            if packet_id:
                sql += " AND id = ?"
                params = (packet_id,)
            n = conn.execute(sql, params).rowcount
            SyncState.put(conn, next_attempt_at=None, consecutive_failures=0)
            audit.record(conn, "technician", "sync.retry", packet_id or "*", count=n)
        return n

    def receipt(self, packet_id: str) -> dict | None:
        """What stays after a purge: ids, hash and times — enough to prove what was handed over."""
        row = self.store.one("SELECT id, registration_id, payload_sha256, created_at, sent_at, acknowledged_at, "
                             "purged_at, receipt FROM outbox WHERE id = ?", (packet_id,))
        if row is None:
            return None
        out = dict(row)
        out["receipt"] = json.loads(out["receipt"]) if out["receipt"] else None
        return out

    # --- status for the UI ------------------------------------------------------------------------------
    def _save(self, **values) -> None:
        with self.store.transaction() as conn:
            SyncState.put(conn, **values)

    def status(self) -> dict:
        st = self.state.all()
        counts = {r["k"]: r["n"] for r in self.store.query(
            "SELECT CASE WHEN state = 'failed' AND next_attempt_at IS NULL THEN 'held' "
            f"WHEN NOT {_SEALED} AND state IN ('queued', 'sending') THEN 'unsealed' ELSE state END AS k, "
            "COUNT(*) AS n FROM outbox GROUP BY k")}
        oldest = self.store.one("SELECT MIN(created_at) AS t FROM outbox "
                                "WHERE state IN ('queued', 'sending', 'failed')")
        now = self.clock()
        failure = st.get("last_failure")
        clock = st.get("clock")
        why = self.configured()
        if why:
            state = "not_configured"
        elif clock:
            state = "clock_wrong"
        elif failure and failure.get("kind") == "kiosk":
            state = "unknown_kiosk"
        elif st.get("next_attempt_at") and st["next_attempt_at"] > now:
            state = "backoff"
        elif self.network is not None and getattr(self.network, "up", None) is False:
            state = "offline"
        else:
            state = "ok"
        return {
            "state": state,
            "queue": counts.get("queued", 0) + counts.get("sending", 0) + counts.get("failed", 0),
            "held": counts.get("held", 0),
            "unsealed": counts.get("unsealed", 0),
            "oldest_age_seconds": None if oldest["t"] is None else round(now - oldest["t"], 1),
            "last_success_at": st.get("last_success_at"),
            "last_attempt_at": st.get("last_attempt_at"),
            "last_failure": failure,
            "next_attempt_at": st.get("next_attempt_at"),
            "clock": clock,
            "status_error": st.get("status_error"),
            "not_configured": why and {"message_id": why[0], "message_en": why[1]},
            "status_cursor": st.get("status_cursor", 0),
        }


# --- the worker thread ------------------------------------------------------------------------------
class SyncWorker(threading.Thread):
    """Runs rounds every ``interval_seconds``, or when the backoff says; stops on ``stop()``.

    The network probe gates tries: while it says the link is down the worker waits, but it still
    tries at least once per backoff period (the probe may be wrong, e.g. /healthz blocked).
    """

    def __init__(self, sync: Sync, *, network=None, poll_seconds: float = 1.0):
        super().__init__(name="sync", daemon=True)
        self.sync = sync
        self.network = network
        self.poll_seconds = poll_seconds
        self._stop_event = threading.Event()
        self._kick = threading.Event()

    def stop(self, timeout: float | None = 10) -> None:
        self._stop_event.set()
        self._kick.set()
        if self.is_alive():
            self.join(timeout)

    def kick(self) -> None:
        """Try now (e.g. after a commit, or when the link came back)."""
        self._kick.set()

    def _due(self, now: float) -> bool:
        st = self.sync.state.all()
        next_at = st.get("next_attempt_at")
        last = st.get("last_attempt_at") or 0.0
        if next_at is not None:
            if now < next_at:
                return False  # backing off
        elif now - last < self.sync.settings.interval_seconds and not self._kick.is_set():
            # Between rounds, go early only for a fresh packet (a commit, a crash's 'sending' row):
            # one indexed query per poll, so a record leaves within a second when the link is up.
            if self.sync.configured() is not None or self.sync._next_due(now, False) is None:
                return False
        if self.network is not None and getattr(self.network, "up", None) is False:
            failures = int(st.get("consecutive_failures", 0) or 0)
            period = backoff_ceiling(max(1, failures), base=self.sync.settings.backoff_base_seconds,
                                     cap=self.sync.settings.backoff_max_seconds)
            return now - last >= period
        return True

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                if self._due(self.sync.clock()):
                    self._kick.clear()
                    self.sync.run_once(stop=self._stop_event)
            except KioskError as exc:
                log.warning("sync round failed: %s", exc.message.en)
            except Exception:  # noqa: BLE001 - the worker reports; it must never die
                log.exception("sync round failed")
            self._kick.wait(self.poll_seconds)


def sync_status(kiosk_or_parts) -> dict:
    """What the UI shows: queue size, oldest age, last success, last failure (id + en), next attempt."""
    return getattr(kiosk_or_parts, "sync", kiosk_or_parts).status()


def sync_once(kiosk_or_parts, *, force: bool = True) -> SyncReport:
    """One round now (``kiosk sync --once``): a Kiosk with ``.sync``, or a :class:`Sync` itself."""
    sync = getattr(kiosk_or_parts, "sync", kiosk_or_parts)
    return sync.run_once(force=force)


__all__ = ["Sync", "SyncSettings", "SyncReport", "SyncWorker", "sync_once", "sync_status", "backoff_delay", "Failure"]
