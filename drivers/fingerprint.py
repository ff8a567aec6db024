"""Fingerprint reader: capture one finger image, and the module's own template store.

Backends:

- ``r30x`` — an R30x / R50x / AS608 module on a UART (DESIGN §6), spoken to through
  :mod:`drivers.r30x` over pyserial. Capacity, packet size and baud rate are read from the module
  (ReadSysPara) when the port opens, never assumed.
- ``sim`` — the same driver talking to :mod:`drivers.sim.r30x_module`, a simulated module on a
  pseudo-terminal whose "finger on the glass" is a synthetic finger (:mod:`drivers.sim.fingers`),
  so training mode and the tests run the real protocol code end to end.
- ``auto`` — ``r30x`` when a module answers Handshake (or VfyPwd) on the configured port,
  otherwise ``sim``.

Every failure is a :class:`FingerprintError` subclass with a message in Bahasa Indonesia and
English that says what to do. The serial line is owned by one conversation at a time; the
capture's phase and upload progress are published in :attr:`FingerprintReader.progress` without
that lock, so a status or progress request never waits for a capture.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from drivers.base import Device, DeviceError, DeviceState, DeviceTimeout, Registry, Status, sim_status

log = logging.getLogger(__name__)

registry = Registry("fingerprint")

IMAGE_SIZE = (288, 256)  # rows, cols of an R307/AS608 image at 500 dpi


# --- errors ----------------------------------------------------------------------------------
class FingerprintError(DeviceError):
    code = "fingerprint_error"
    default_id = "Pemindai sidik jari bermasalah."
    default_en = "The fingerprint scanner failed."


class NoFinger(FingerprintError, TimeoutError):
    code = "no_finger"
    default_id = "Tidak ada jari pada pemindai. Letakkan jari lalu coba lagi."
    default_en = "No finger on the scanner. Place the finger and try again."


class CaptureCancelled(FingerprintError):
    code = "capture_cancelled"
    default_id = "Pengambilan sidik jari dibatalkan."
    default_en = "The fingerprint capture was cancelled."


class SensorTimeout(FingerprintError, DeviceTimeout):
    code = "sensor_timeout"
    default_id = "Pemindai sidik jari tidak menjawab. Periksa kabelnya."
    default_en = "The fingerprint scanner does not answer. Check its cable."


class ImagingFailed(FingerprintError):
    code = "imaging_failed"
    default_id = ("Gambar sidik jari gagal diambil. Bersihkan kaca pemindai dan jari, letakkan jari dengan "
                  "tenang sampai diminta mengangkat, lalu coba lagi.")
    default_en = ("The finger could not be imaged. Clean the scanner glass and the finger, keep the finger "
                  "still until asked to lift it, and try again.")


class TooFewFeatures(FingerprintError):
    code = "too_few_features"
    default_id = "Sidik jari kurang jelas. Tekan jari lebih rata di tengah pemindai lalu coba lagi."
    default_en = "Too little of the fingerprint was seen. Press the finger flat in the middle of the scanner and try again."


class FrameError(FingerprintError):
    """A frame on the serial line that the protocol rejects."""

    code = "bad_frame"
    default_id = "Data dari pemindai rusak. Coba lagi; bila berulang, periksa kabel pemindai."
    default_en = "The scanner sent damaged data. Try again; if it keeps happening, check the scanner cable."


class BadFrame(FrameError):
    pass


class BadChecksum(FrameError):
    code = "bad_checksum"
    default_id = "Data dari pemindai rusak (checksum salah). Coba lagi; bila berulang, periksa kabel pemindai."
    default_en = "The scanner's data was damaged (bad checksum). Try again; if it keeps happening, check the scanner cable."


class WrongAddress(FrameError):
    code = "wrong_address"
    default_id = ("Pemindai menjawab dengan alamat lain. Samakan fingerprint.address di konfigurasi dengan "
                  "alamat modul.")
    default_en = ("The scanner answers with another address. Set fingerprint.address in the configuration "
                  "to the module's address.")


class Disconnected(FingerprintError, ConnectionError):
    code = "fingerprint_disconnected"
    default_id = ("Pemindai sidik jari terputus. Pasang kembali kabelnya; kios akan menyambung ulang "
                  "sendiri, lalu coba lagi.")
    default_en = ("The fingerprint scanner is disconnected. Plug its cable back in; the kiosk reconnects "
                  "by itself, then try again.")


class WrongPassword(FingerprintError, PermissionError):
    code = "fingerprint_wrong_password"
    default_id = "Kata sandi modul pemindai salah. Samakan fingerprint.password di konfigurasi dengan modul."
    default_en = "The scanner module's password is wrong. Set fingerprint.password in the configuration to the module's."


class BadSetting(FingerprintError, ValueError):
    code = "fingerprint_bad_setting"


class ModuleError(FingerprintError):
    """The module refused a command; ``details['confirmation']`` holds its code."""

    code = "fingerprint_module_error"


# The protocol module imports the errors above, so it is imported only once they exist.
from drivers import r30x  # noqa: E402


# --- the reader interface --------------------------------------------------------------------
PHASES = ("idle", "waiting_for_finger", "imaging", "uploading", "done", "failed")


@dataclass(frozen=True)
class CaptureProgress:
    """Where a capture is; replaced (never mutated) so readers on other threads see whole states."""

    phase: str = "idle"
    done: int = 0           # image bytes received so far (uploading)
    total: int = 0          # image bytes expected
    position: int | None = None
    error: str | None = None  # the typed error's code when phase == "failed"
    since: float = 0.0      # wall-clock time the phase began

    def as_dict(self) -> dict:
        out = asdict(self)
        out["fraction"] = round(self.done / self.total, 4) if self.total else 0.0
        return out


@dataclass(frozen=True)
class FingerImage:
    pixels: np.ndarray  # uint8, rows x cols, dark ridges on a light background
    dpi: int = 500
    meta: dict = field(default_factory=dict, compare=False)


class FingerprintReader(Device):
    kind = "fingerprint"
    progress: CaptureProgress = CaptureProgress()
    on_progress = None  # optional callable(CaptureProgress), called on every change

    def capture(self, timeout: float, *, position: int | None = None,
                cancel: threading.Event | None = None) -> FingerImage:
        """Wait up to ``timeout`` seconds for a finger and return its image.

        ``position`` is the ISO finger code the operator asked for. A real sensor cannot know
        which finger is on it; the simulator uses it to present that finger of its subject.
        The timeout bounds the wait for a finger; the upload that follows takes what the link needs.
        """
        raise NotImplementedError

    def _publish(self, phase: str, done: int = 0, total: int = 0, *, position=None, error=None) -> None:
        same_phase = phase == self.progress.phase
        if position is None and phase != "waiting_for_finger":  # later phases keep the capture's finger
            position = self.progress.position
        self.progress = CaptureProgress(phase, done, total, position, error,
                                        self.progress.since if same_phase else time.time())
        callback = self.on_progress
        if callback is not None:
            callback(self.progress)


def _hex32(value, key: str) -> int:
    text = str(value).strip()
    if 1 <= len(text) <= 8 and all(c in "0123456789abcdefABCDEF" for c in text):
        return int(text, 16)
    raise BadSetting(f"{key} must be 1-8 hexadecimal digits (e.g. FFFFFFFF), not {value!r}.",
                     f"{key} harus 1-8 digit heksadesimal (mis. FFFFFFFF), bukan {value!r}.", key=key)


# --- the R30x / R50x / AS608 module ----------------------------------------------------------
@registry.register("r30x")
class R30xReader(FingerprintReader):
    """The module on a serial port.

    The port is opened lazily again after any loss: a serial error or a module that stays silent
    after a timeout closes it, and the next call re-opens it (waiting out a backoff that doubles
    up to BACKOFF_MAX, so an unplugged sensor costs nothing while the kiosk polls it).
    """

    backend = "r30x"
    POLL = 0.05          # pause between GenImg polls while no finger is on the glass
    IMAGING_ALLOWANCE = 2.0  # GenImg answers only once the image is taken (< 1 s on an R307)
    SEARCH_ALLOWANCE = 2.0   # Search answers after comparing the whole library (~1 s for 1,000)
    READ_SLICE = 0.05    # serial read timeout: how often a wait looks at its deadline
    BACKOFF_MIN, BACKOFF_MAX = 0.2, 5.0

    def __init__(self, port: str = "/dev/serial0", baudrate: int = 57600, address: str = "FFFFFFFF",
                 password: str = "00000000", *, command_timeout: float = 1.0, **_options):
        super().__init__()
        self.port = str(port)
        if isinstance(baudrate, bool) or not isinstance(baudrate, int) or baudrate <= 0:
            raise BadSetting(f"fingerprint.baudrate must be a positive whole number, not {baudrate!r}.",
                             f"fingerprint.baudrate harus bilangan bulat positif, bukan {baudrate!r}.")
        self.baudrate = baudrate
        self.address = _hex32(address, "fingerprint.address")
        self.password = _hex32(password, "fingerprint.password")
        self.command_timeout = float(command_timeout)
        self.sys_para: r30x.SysPara | None = None
        self.last_error: FingerprintError | None = None
        self.stats = {"bytes_in": 0, "bytes_out": 0, "connects": 0, "lost": 0}
        self._serial = None
        self._parser = r30x.FrameParser(self.address)
        self._io = threading.RLock()  # one conversation on the line at a time
        self._dirty = False           # an exchange was cut short: stale bytes may still arrive
        self._backoff = self.BACKOFF_MIN
        self._next_attempt = 0.0
        with self._io:
            try:
                self._connect()
            except (Disconnected, SensorTimeout) as exc:
                # A sensor plugged in later is picked up by the next call; the status says so now.
                log.warning("fingerprint module on %s not answering yet: %s", self.port, exc.message_en)
                self.last_error = exc

    # --- public operations -------------------------------------------------------------------
    @property
    def capacity(self) -> int | None:
        return self.sys_para.capacity if self.sys_para else None

    @property
    def packet_size(self) -> int | None:
        return self.sys_para.packet_size if self.sys_para else None

    @property
    def connected(self) -> bool:
        return self._serial is not None

    def status(self) -> Status:
        para = self.sys_para
        if self._serial is not None and para is not None:
            return Status(DeviceState.OK, f"pemindai siap, kapasitas {para.capacity} templat",
                          f"scanner ready, capacity {para.capacity} templates", self.backend, self.simulated)
        err = self.last_error or Disconnected()
        return Status(DeviceState.FAULT, err.message_id, err.message_en, self.backend, self.simulated)

    def capture(self, timeout, *, position=None, cancel=None):
        deadline = time.monotonic() + max(0.0, float(timeout))
        total = IMAGE_SIZE[0] * IMAGE_SIZE[1] // 2
        with self._io:
            self._publish("waiting_for_finger", position=position)
            try:
                self._prepare(position)
                self._ensure(max(deadline, time.monotonic() + self.command_timeout))
                while True:
                    if cancel is not None and cancel.is_set():
                        raise CaptureCancelled()
                    code = self._command(r30x.gen_img(), self.IMAGING_ALLOWANCE).code
                    if code == r30x.OK:
                        break
                    if code != r30x.NO_FINGER:
                        self._refuse(code, "GenImg")
                    if time.monotonic() >= deadline:
                        raise NoFinger()
                    if cancel is not None:
                        cancel.wait(self.POLL)
                    else:
                        time.sleep(self.POLL)
                self._publish("imaging", 0, total)
                self._ok(self._command(r30x.up_image()), "UpImage")
                self._publish("uploading", 0, total)
                data = self._receive(total, lambda done: self._publish("uploading", done, total))
                pixels = r30x.unpack_image(data, IMAGE_SIZE)
                if int(pixels.max()) - int(pixels.min()) <= 17:
                    # One or two grey levels: an empty, all-black or all-white frame, not a finger.
                    raise ImagingFailed(code=r30x.NO_VALID_IMAGE)
            except FingerprintError as exc:
                self._publish("failed", self.progress.done, self.progress.total, error=exc.code)
                raise
            except BaseException:
                self._publish("failed", self.progress.done, self.progress.total, error="internal")
                raise
            self._publish("done", total, total)
        return FingerImage(pixels, 500, {"backend": self.backend})

    def handshake(self) -> bool:
        """True when the module answers Handshake, or VfyPwd on modules without it."""
        with self._io:
            self._ensure()
            if self._command(r30x.handshake()).code == r30x.OK:
                return True
            return self._command(r30x.vfy_pwd(self.password)).code == r30x.OK

    def img2tz(self, buffer: int = 1) -> None:
        """Turn the image in the module's buffer into features in char buffer 1 or 2."""
        self._simple(r30x.img2tz(buffer), "Img2Tz")

    def up_char(self, buffer: int = 1) -> bytes:
        with self._io:
            self._ensure()
            self._ok(self._command(r30x.up_char(buffer)), "UpChar")
            return self._receive(None)

    def down_char(self, template: bytes, buffer: int = 1) -> None:
        with self._io:
            self._ensure()
            self._ok(self._command(r30x.down_char(buffer)), "DownChar")
            for pid, chunk in r30x.split_data(bytes(template), self.sys_para.packet_size):
                self._send(pid, chunk)

    def match(self) -> tuple[bool, int]:
        """Compare char buffers 1 and 2: (matched, score)."""
        with self._io:
            self._ensure()
            ack = self._command(r30x.match())
            if ack.code not in (r30x.OK, r30x.NO_MATCH):
                self._refuse(ack.code, "Match")
            score = r30x.parse_u16(ack.params, "Match") if len(ack.params) >= 2 else 0
            return ack.code == r30x.OK, score

    def search(self, buffer: int = 1, start: int = 0, count: int | None = None) -> tuple[int, int] | None:
        """(template id, score) of the library's best match for the char buffer, or None."""
        with self._io:
            self._ensure()
            if count is None:
                count = self.sys_para.capacity - start
            ack = self._command(r30x.search(buffer, start, count), self.SEARCH_ALLOWANCE)
            if ack.code == r30x.NOT_FOUND:
                return None
            self._ok(ack, "Search")
            return r30x.parse_search(ack.params)

    def reg_model(self) -> None:
        """Merge char buffers 1 and 2 (two captures of one finger) into a template."""
        self._simple(r30x.reg_model(), "RegModel")

    def store(self, page: int, buffer: int = 1) -> None:
        self._simple(r30x.store(buffer, page), "Store")

    def template_count(self) -> int:
        with self._io:
            self._ensure()
            ack = self._ok(self._command(r30x.template_num()), "TemplateNum")
            return r30x.parse_u16(ack.params, "TemplateNum")

    def index_table(self) -> list[int]:
        """Every template id in use, from as many index pages as the capacity needs."""
        with self._io:
            self._ensure()
            used: list[int] = []
            for page in range(min(4, -(-self.sys_para.capacity // 256))):
                ack = self._ok(self._command(r30x.read_index_table(page)), "ReadIndexTable")
                used += r30x.parse_index_table(ack.params, page)
            return used

    def delete(self, page: int, count: int = 1) -> None:
        self._simple(r30x.delet_char(page, count), "DeletChar")

    def empty(self) -> None:
        self._simple(r30x.empty(), "Empty")

    # --- the line ----------------------------------------------------------------------------
    def _prepare(self, position) -> None:
        """Called inside the capture's lock before the first command; the simulator hooks it."""

    def _simple(self, payload: bytes, what: str) -> None:
        with self._io:
            self._ensure()
            self._ok(self._command(payload), what)

    def _ensure(self, deadline: float | None = None) -> None:
        """An open, verified, quiet line, or a typed error saying why not."""
        if deadline is None:
            deadline = time.monotonic() + self.command_timeout
        if self._serial is None:
            wait = self._next_attempt - time.monotonic()
            if wait > 0:
                if time.monotonic() + wait > deadline:
                    raise self.last_error if isinstance(self.last_error, Disconnected) else Disconnected(port=self.port)
                time.sleep(wait)
            self._connect()
            return
        if self._dirty:
            self._drain()
            try:
                # After a timeout the module may be gone (a GPIO UART never reports an unplug).
                self._ok(self._command(r30x.vfy_pwd(self.password)), "VfyPwd")
            except SensorTimeout as exc:
                self._lose(exc)

    def _connect(self) -> None:
        import serial

        try:
            self._serial = serial.Serial(self.port, self.baudrate, timeout=self.READ_SLICE,
                                         write_timeout=self.command_timeout, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            self._serial = None
            self._retry_later()
            self.last_error = Disconnected(port=self.port)
            raise self.last_error from exc
        self._parser.clear()
        self._dirty = False
        try:
            self._ok(self._command(r30x.vfy_pwd(self.password)), "VfyPwd")
            ack = self._ok(self._command(r30x.read_sys_para()), "ReadSysPara")
            self.sys_para = r30x.parse_sys_para(ack.params)
        except SensorTimeout as exc:
            self._lose(exc)
        except FingerprintError as exc:
            self._close_port()
            self._retry_later()
            self.last_error = exc
            raise
        self.stats["connects"] += 1
        self._backoff = self.BACKOFF_MIN
        self.last_error = None
        log.info("fingerprint module on %s: %s", self.port, self.sys_para.as_dict())

    def _retry_later(self) -> None:
        self._next_attempt = time.monotonic() + self._backoff
        self._backoff = min(self._backoff * 2, self.BACKOFF_MAX)

    def _close_port(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            try:
                ser.close()
            except Exception:  # noqa: BLE001 - closing a vanished port may fail; it is gone either way
                pass

    def _lose(self, cause: Exception):
        """The module is gone: close the port, schedule a reconnect, raise Disconnected."""
        self._close_port()
        self._retry_later()
        self.stats["lost"] += 1
        self.last_error = Disconnected(port=self.port)
        log.warning("fingerprint module on %s lost: %s", self.port, cause)
        raise self.last_error from cause

    def _close(self) -> None:
        with self._io:
            self._close_port()

    def _send(self, pid: int, payload: bytes) -> None:
        import serial

        frame = r30x.build(pid, payload, self.address)
        try:
            self._serial.write(frame)
        except (serial.SerialException, OSError) as exc:
            self._lose(exc)
        self.stats["bytes_out"] += len(frame)

    def _read_some(self) -> bytes:
        import serial

        try:
            waiting = self._serial.in_waiting
            data = self._serial.read(waiting or 1)
        except (serial.SerialException, OSError) as exc:
            self._lose(exc)
        self.stats["bytes_in"] += len(data)
        return data

    def _frame(self, deadline: float) -> r30x.Frame:
        wrong = None
        while True:
            try:
                frame = self._parser.next()
            except WrongAddress as exc:
                wrong = exc  # another module, or noise; reported only if nothing right comes
                continue
            except BadChecksum:
                self._dirty = True
                raise
            except FrameError:
                continue  # noise on the line: the parser has already stepped past it
            if frame is not None:
                return frame
            if time.monotonic() >= deadline:
                self._dirty = True
                raise wrong or SensorTimeout()
            self._parser.feed(self._read_some())

    def _command(self, payload: bytes, extra: float = 0.0) -> r30x.Frame:
        self._send(r30x.COMMAND, payload)
        deadline = time.monotonic() + self.command_timeout + extra
        while True:
            frame = self._frame(deadline)
            if frame.pid == r30x.ACK:
                return frame
            # A data packet here is the tail of a transfer cut short earlier: skip it.

    def _receive(self, total: int | None, on_progress=None) -> bytes:
        """The data packets that follow an UpImage / UpChar acknowledgement, up to END."""
        chunks: list[bytes] = []
        done = 0
        limit = 2 * (total or 64 * 1024)
        while True:
            frame = self._frame(time.monotonic() + self.command_timeout)
            if frame.pid not in (r30x.DATA, r30x.END):
                self._dirty = True
                raise BadFrame("The scanner sent an answer in the middle of a data transfer.",
                               "Pemindai mengirim jawaban di tengah pengiriman data.")
            chunks.append(frame.payload)
            done += len(frame.payload)
            if on_progress is not None:
                on_progress(done)
            if frame.pid == r30x.END:
                return b"".join(chunks)
            if done > limit:
                self._dirty = True
                raise BadFrame("The scanner's data transfer does not end.", "Pengiriman data pemindai tidak berakhir.")

    def _drain(self) -> None:
        """Read and drop what is still on the way from an exchange cut short, until the line is quiet."""
        byte_time = 10.0 / self.baudrate
        quiet = max(0.1, 3 * (r30x.OVERHEAD + r30x.MAX_PAYLOAD) * byte_time)
        end = time.monotonic() + 80_000 * byte_time + 1.0  # at most a whole image upload
        last = time.monotonic()
        while time.monotonic() < end:
            if self._read_some():
                last = time.monotonic()
            elif time.monotonic() - last >= quiet:
                break
        self._parser.clear()
        self._dirty = False

    def _ok(self, ack: r30x.Frame, what: str) -> r30x.Frame:
        if ack.code != r30x.OK:
            self._refuse(ack.code, what)
        return ack

    def _refuse(self, code: int, what: str):
        if code == r30x.NO_FINGER:
            raise NoFinger(confirmation=code)
        if code in (r30x.IMAGING_FAIL, r30x.TOO_MESSY, r30x.NO_VALID_IMAGE):
            raise ImagingFailed(confirmation=code)
        if code == r30x.TOO_FEW_FEATURES:
            raise TooFewFeatures(confirmation=code)
        if code == r30x.WRONG_PASSWORD:
            raise WrongPassword(confirmation=code)
        if code == r30x.PACKET_ERROR:
            raise BadChecksum("The scanner module received a damaged command. Try again; if it keeps happening, "
                              "check the scanner cable.",
                              "Modul pemindai menerima perintah yang rusak. Coba lagi; bila berulang, periksa "
                              "kabel pemindai.", confirmation=code)
        id_, en = r30x.describe(code)
        raise ModuleError(f"The scanner module refused {what}: {en}. Try again; if it keeps happening, ask a technician.",
                          f"Modul pemindai menolak {what}: {id_}. Coba lagi; bila berulang, hubungi teknisi.",
                          confirmation=code, command=what)


# --- the simulated module --------------------------------------------------------------------
@registry.register("sim")
class SimFingerprint(R30xReader):
    """The real driver talking to a simulated module on a pseudo-terminal.

    Subject N's finger P always looks like the same finger. The kiosk's configured port and baud
    rate describe the real sensor's wiring, so the simulator ignores them: it runs its own pty at
    ``sim_baudrate`` (default SIM_BAUDRATE), paced like a UART at that rate. A full image is
    ~40 KB on the wire: 7 s at a real module's 57,600 baud, 0.55 s at 921,600, ~0.15 s at the
    default 3,686,400 (= 384 x 9,600, so ReadSysPara's N x 9,600 field still states it exactly;
    a pty takes any rate). Training, demos and the test suite capture hundreds of fingers, so the
    default is the fast one; bench/sensor_link.py passes the real modules' rates.
    """

    backend = "sim"
    simulated = True
    SIM_BAUDRATE = 3_686_400

    def __init__(self, *, sim_baudrate: int | None = None, **_options):
        from drivers.sim.r30x_module import R30xModule

        self.module = R30xModule(baudrate=int(sim_baudrate or self.SIM_BAUDRATE))
        try:
            super().__init__(port=self.module.port, baudrate=self.module.baudrate, command_timeout=1.0)
        except BaseException:
            self.module.close()
            raise

    @property
    def present(self) -> bool:
        return self.module.present

    @property
    def subject(self) -> int:
        return self.module.subject

    @property
    def quality(self) -> float | None:
        return self.module.quality

    def place(self, subject: int | None = None, *, present: bool = True, quality: float | None = None) -> None:
        self.module.place(subject, present=present, quality=quality)

    def inject(self, fault: str | None, count: int = 1) -> None:
        """Switch on one of the module's faults (see R30xModule.FAULTS); None clears them all."""
        if fault is None:
            self.module.clear_faults()
        else:
            self.module.inject(fault, count)

    def status(self) -> Status:
        if not self.connected:
            return super().status()  # an unplug injected for training shows as the real fault would
        return sim_status("pemindai sidik jari", "fingerprint scanner")

    def _prepare(self, position) -> None:
        self.module.position = int(position or 2)

    def _close(self) -> None:
        super()._close()
        self.module.close()


# --- choosing a backend ----------------------------------------------------------------------
def open_fingerprint(backend: str, **options) -> FingerprintReader:
    if backend == "auto":
        backend = "r30x" if "r30x" in registry.names() and _port_answers(options) else "sim"
    return registry.create(backend, **options)


def probe(port: str, baudrate: int = 57600, address: str = "FFFFFFFF", password: str = "00000000",
          timeout: float = 0.3) -> bool:
    """True when a module answers Handshake or, failing that, VfyPwd on ``port`` within ``timeout``."""
    import serial

    if not port or not os.path.exists(port):
        return False
    addr, pwd = _hex32(address, "fingerprint.address"), _hex32(password, "fingerprint.password")
    try:
        ser = serial.Serial(port, baudrate, timeout=0.05, write_timeout=timeout)
    except (serial.SerialException, OSError, ValueError):
        return False
    parser = r30x.FrameParser(addr)
    try:
        with ser:
            for payload in (r30x.handshake(), r30x.vfy_pwd(pwd)):
                ser.reset_input_buffer()
                ser.write(r30x.command(payload[0], payload[1:], addr))
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    parser.feed(ser.read(ser.in_waiting or 1))
                    if any(f.pid == r30x.ACK for f in parser):
                        return True
    except (serial.SerialException, OSError):
        return False
    return False


def _port_answers(options) -> bool:
    return probe(options.get("port", ""), options.get("baudrate", 57600), options.get("address", "FFFFFFFF"),
                 options.get("password", "00000000"))


__all__ = ["FingerprintReader", "R30xReader", "SimFingerprint", "FingerImage", "CaptureProgress", "FingerprintError",
           "NoFinger", "SensorTimeout", "CaptureCancelled", "ImagingFailed", "TooFewFeatures", "FrameError",
           "BadFrame", "BadChecksum", "WrongAddress", "Disconnected", "WrongPassword", "BadSetting", "ModuleError",
           "open_fingerprint", "probe", "registry", "DeviceState", "IMAGE_SIZE"]
