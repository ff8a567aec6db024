"""A simulated R30x / AS608 fingerprint module on a pseudo-terminal.

It speaks the module's own UART protocol (:mod:`drivers.r30x`) on the master side of a pty; the
driver opens the slave through a symlink (``port``) with real pyserial, exactly as it would open
``/dev/serial0``. An unplug closes the pty and removes the symlink; ``reconnect()`` makes a new
pty behind the same symlink, so the driver's re-open finds the "same" device again.

The module holds what a real one does: an image buffer, two char buffers, and a flash library of
``capacity`` templates. What lies on the glass is a synthetic finger
(:func:`drivers.sim.fingers.impression`) of ``subject`` at ``position``, set by the kiosk's
simulation API; each successful GenImg is the next impression of that finger.

Templates are this simulator's own, not the makers' (whose format is closed): the image reduced to
half resolution and binarised into ridge / valley bits (144 x 128 bits, 2,308 bytes with the
header). Match rotates the centre of one map by -14..14 degrees and finds the best normalised
correlation anywhere on the other, both ways round; on the synthetic fingers the same finger scores
0.28-0.8 and different fingers 0.1-0.29 (score = correlation x 1000, MATCH_THRESHOLD = 280).
About 20 ms a comparison, so Search is slow on a full library: fine for training and tests.

Output is paced like a UART at ``baudrate`` (10 bits a byte, each frame handed over once its last
byte would have arrived), and a command counts its own wire time before the answer starts, so
what the driver measures over the pty is what the link would allow.

Faults (``inject``): ``bad_checksum`` corrupts the next N frames sent, ``garbage`` puts random
bytes before the next N frames, ``messy_image`` answers the next N GenImg / Img2Tz with 0x06,
``silence`` stops answering (optionally after ``after_frames`` more frames, to die mid-upload)
until cleared, ``disconnect`` unplugs the module until ``reconnect()`` / ``clear_faults()``.
"""

from __future__ import annotations

import os
import random
import select
import shutil
import struct
import tempfile
import threading
import time
import tty

import numpy as np

from drivers import r30x
from drivers.fingerprint import FrameError, WrongAddress

MAGIC = b"R3XT"
MAP_SHAPE = (144, 128)  # rows, cols of the half-resolution ridge map
TEMPLATE_SIZE = len(MAGIC) + MAP_SHAPE[0] * MAP_SHAPE[1] // 8
MATCH_THRESHOLD = 280
FAULTS = ("bad_checksum", "silence", "garbage", "disconnect", "messy_image")


# --- the simulator's template ----------------------------------------------------------------
def template(image: np.ndarray) -> bytes | None:
    """The ridge map of an image as template bytes, or None when too little finger is in it."""
    import cv2

    small = cv2.resize(np.asarray(image, np.uint8), MAP_SHAPE[::-1], interpolation=cv2.INTER_AREA).astype(np.float32)
    local = cv2.GaussianBlur(small, (0, 0), 4)
    # Foreground: where ridges make local contrast; a smudge or an empty glass has little.
    spread = cv2.GaussianBlur((small - local) ** 2, (0, 0), 4)
    if float((spread > 60).mean()) < 0.15:
        return None
    bits = (small < local).astype(np.uint8)
    return MAGIC + np.packbits(bits).tobytes()


def _ridges(tpl: bytes | None) -> np.ndarray | None:
    if tpl is None or len(tpl) != TEMPLATE_SIZE or not tpl.startswith(MAGIC):
        return None
    bits = np.unpackbits(np.frombuffer(tpl, np.uint8, offset=len(MAGIC)))
    return bits.reshape(MAP_SHAPE).astype(np.float32) * 2 - 1


def compare(a: bytes, b: bytes) -> int | None:
    """Similarity 0..1000 of two templates; None when either is not a template of this module."""
    ra, rb = _ridges(a), _ridges(b)
    if ra is None or rb is None:
        return None
    return round(1000 * max(0.0, _one_way(ra, rb), _one_way(rb, ra)))


def _one_way(a: np.ndarray, b: np.ndarray) -> float:
    import cv2

    h, w = a.shape
    crop = a[h // 2 - 40:h // 2 + 40, w // 2 - 40:w // 2 + 40]
    best = -1.0
    for angle in range(-14, 15, 2):  # the operator guides the finger: rotations stay small
        turn = cv2.getRotationMatrix2D((40, 40), angle, 1.0)
        rotated = cv2.warpAffine(crop, turn, (80, 80), flags=cv2.INTER_NEAREST, borderValue=0)
        best = max(best, float(cv2.matchTemplate(b, rotated, cv2.TM_CCOEFF_NORMED).max()))
    return best


# --- the module ------------------------------------------------------------------------------
class R30xModule:
    def __init__(self, *, baudrate: int = 57600, address: int = r30x.BROADCAST, password: int = 0,
                 capacity: int = 1000, packet_size: int = 128, link_dir: str | None = None,
                 supports_handshake: bool = True, reply_address: int | None = None, seed: int = 0xF1A6):
        if packet_size not in r30x.PACKET_SIZES:
            raise ValueError(f"packet size is one of {r30x.PACKET_SIZES}")
        if baudrate % r30x.BAUD_UNIT:
            raise ValueError(f"a module's baud rate is a multiple of {r30x.BAUD_UNIT}, not {baudrate}")
        self.baudrate = baudrate
        self.address = address
        self.reply_address = address if reply_address is None else reply_address
        self.password = password
        self.capacity = capacity
        self.packet_size = packet_size
        self.supports_handshake = supports_handshake
        self._own_dir = link_dir is None
        self._dir = tempfile.mkdtemp(prefix="r30x-sim-") if link_dir is None else link_dir
        self.port = os.path.join(self._dir, "ttyR30x")
        # What is on the glass; set from the kiosk's simulation API.
        self.present = True
        self.subject = 1
        self.quality: float | None = None
        self.position = 2
        self._generation = 0  # bumped by every place(): GenImg sees a finger that moved under it
        self._impressions: dict[tuple[int, int], int] = {}
        # The module's memory.
        self.image: np.ndarray | None = None
        self.buffers: dict[int, bytes | None] = {1: None, 2: None}
        self.library: dict[int, bytes] = {}
        self._receiving: tuple[int, bytearray] | None = None  # DownChar in progress: (buffer, bytes so far)
        # Test hooks: an image to hand out instead of a synthetic finger, a call made mid-imaging.
        self.next_image: np.ndarray | None = None
        self.imaging_hook = None
        self._faults = {"bad_checksum": 0, "garbage": 0, "messy_image": 0}
        self.silent = False
        self._silence_after: int | None = None
        self.stats = {"bytes_in": 0, "bytes_out": 0, "frames_out": 0, "commands": 0}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._wire = 0.0
        self._thread: threading.Thread | None = None
        self.connected = False
        self._start()

    # --- controls ----------------------------------------------------------------------------
    def place(self, subject: int | None = None, *, present: bool = True, quality: float | None = None,
              position: int | None = None) -> None:
        with self._lock:
            self.present = bool(present)
            if subject is not None:
                self.subject = int(subject)
            if position is not None:
                self.position = int(position)
            self.quality = quality
            self._generation += 1

    def inject(self, fault: str, count: int = 1, *, after_frames: int | None = None) -> None:
        if fault not in FAULTS:
            raise ValueError(f"fault is one of {', '.join(FAULTS)}, not {fault!r}")
        if fault == "disconnect":
            self.disconnect()
            return
        with self._lock:
            if fault == "silence":
                if after_frames:
                    self._silence_after = int(after_frames)
                else:
                    self.silent = True
            else:
                self._faults[fault] += int(count)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults = dict.fromkeys(self._faults, 0)
            self.silent = False
            self._silence_after = None
        self.reconnect()

    @property
    def faults(self) -> dict:
        with self._lock:
            return {**self._faults, "silence": self.silent or self._silence_after is not None,
                    "disconnect": not self.connected}

    def disconnect(self) -> None:
        """Unplug: the pty closes under the driver and the port's symlink disappears."""
        if not self.connected:
            return
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.unlink(self.port)
        except FileNotFoundError:
            pass
        self.connected = False

    def reconnect(self) -> None:
        if not self.connected:
            self._start()

    def close(self) -> None:
        self.disconnect()
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def sys_para(self) -> r30x.SysPara:
        return r30x.SysPara(status_register=0, system_id=0x0009, capacity=self.capacity, security_level=3,
                            address=self.address, packet_size_code=r30x.PACKET_SIZES.index(self.packet_size),
                            baud_n=self.baudrate // r30x.BAUD_UNIT)

    # --- the line ----------------------------------------------------------------------------
    def _start(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: the bytes must pass untouched
        os.set_blocking(master, False)
        link = self.port + ".new"
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.ttyname(slave), link)
        os.replace(link, self.port)
        # The simulator keeps the slave open too, so the master never sees EIO between the
        # driver's close and re-open.
        self._master, self._slave = master, slave
        self._stop = threading.Event()
        self._receiving = None
        self._thread = threading.Thread(target=self._serve, args=(master, self._stop), name="r30x-sim", daemon=True)
        self.connected = True
        self._thread.start()

    def _serve(self, master: int, stop: threading.Event) -> None:
        parser = r30x.FrameParser(self.address)
        while not stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(master, 4096)
            except (OSError, ValueError):
                if stop.is_set():
                    return
                time.sleep(0.01)
                continue
            self.stats["bytes_in"] += len(data)
            # On a real UART the command is still arriving for this long: the answer starts after.
            self._wire = max(self._wire, time.monotonic()) + len(data) * 10 / self.baudrate
            parser.feed(data)
            while not stop.is_set():
                try:
                    frame = parser.next()
                except WrongAddress:
                    continue  # addressed to another module: not ours to answer
                except FrameError as exc:
                    if getattr(exc, "code", "") == "bad_checksum":
                        self._emit(master, stop, r30x.ACK, bytes([r30x.PACKET_ERROR]))
                    continue
                if frame is None:
                    break
                try:
                    self._handle(master, stop, frame)
                except OSError:
                    return  # the pty went away under us: an unplug

    def _emit(self, master: int, stop: threading.Event, pid: int, payload: bytes, start: float | None = None) -> bool:
        """Send one frame, paced at the baud rate and spoilt as the faults say; False when silent.

        ``start`` is when the frame begins on the wire clock: a transfer passes the end of its
        previous frame, so a late wake-up of this thread is caught up (a UART never falls behind)
        while the time a command takes to process still delays its answer.
        """
        frame = r30x.build(pid, payload, self.reply_address)
        with self._lock:
            if self._silence_after is not None:
                if self._silence_after == 0:
                    self.silent, self._silence_after = True, None
                else:
                    self._silence_after -= 1
            if self.silent:
                return False
            corrupt = self._take("bad_checksum")
            garbage = self._take("garbage")
        if corrupt:
            frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
        if garbage:
            frame = bytes(self._rng.randrange(256) for _ in range(self._rng.randint(5, 60))) + frame
        begin = max(self._wire, time.monotonic()) if start is None else start
        self._wire = begin + len(frame) * 10 / self.baudrate
        delay = self._wire - time.monotonic()
        if delay > 0.002:  # below that, a sleep costs more than it paces: frames go up to 2 ms early
            time.sleep(delay)
        view = memoryview(frame)
        while view and not stop.is_set():
            try:
                n = os.write(master, view)
                view = view[n:]
            except BlockingIOError:
                select.select([], [master], [], 0.05)  # the driver is behind: wait for it to read
        self.stats["bytes_out"] += len(frame)
        self.stats["frames_out"] += 1
        return True

    def _take(self, fault: str) -> bool:
        if self._faults[fault] > 0:
            self._faults[fault] -= 1
            return True
        return False

    def _answer(self, master, stop, code: int, params: bytes = b"") -> bool:
        return self._emit(master, stop, r30x.ACK, bytes([code]) + params)

    def _transfer(self, master, stop, data: bytes) -> None:
        for pid, chunk in r30x.split_data(data, self.packet_size):
            if not self._emit(master, stop, pid, chunk, start=self._wire):
                return

    # --- commands ----------------------------------------------------------------------------
    def _handle(self, master, stop, frame: r30x.Frame) -> None:
        if frame.pid in (r30x.DATA, r30x.END):
            if self._receiving is not None:
                buffer, got = self._receiving
                got += frame.payload
                if frame.pid == r30x.END:
                    self.buffers[buffer] = bytes(got)
                    self._receiving = None
            return
        if frame.pid != r30x.COMMAND:
            return
        with self._lock:
            silent = self.silent
        if silent:
            return  # a silent module reads and answers nothing
        self.stats["commands"] += 1
        ins, p = frame.code, frame.params
        answer = lambda code, params=b"": self._answer(master, stop, code, params)  # noqa: E731
        if ins == r30x.VFY_PWD and len(p) == 4:
            answer(r30x.OK if struct.unpack(">I", p)[0] == self.password else r30x.WRONG_PASSWORD)
        elif ins == r30x.HANDSHAKE and self.supports_handshake:
            answer(r30x.OK)
        elif ins == r30x.READ_SYS_PARA:
            answer(r30x.OK, self.sys_para().encode())
        elif ins == r30x.GEN_IMG:
            answer(self._gen_img())
        elif ins == r30x.UP_IMAGE:
            if self.image is None:
                answer(r30x.UPLOAD_IMAGE_FAIL)
            elif answer(r30x.OK):
                self._transfer(master, stop, r30x.pack_image(self.image))
        elif ins == r30x.IMG2TZ and len(p) == 1 and p[0] in (1, 2):
            answer(self._img2tz(p[0]))
        elif ins == r30x.UP_CHAR and len(p) == 1 and p[0] in (1, 2):
            tpl = self.buffers[p[0]]
            if tpl is None:
                answer(r30x.UPLOAD_TEMPLATE_FAIL)
            elif answer(r30x.OK):
                self._transfer(master, stop, tpl)
        elif ins == r30x.DOWN_CHAR and len(p) == 1 and p[0] in (1, 2):
            self._receiving = (p[0], bytearray())
            answer(r30x.OK)
        elif ins == r30x.MATCH:
            score = compare(self.buffers[1], self.buffers[2])
            if score is None:
                answer(r30x.READ_TEMPLATE_FAIL)
            else:
                answer(r30x.OK if score >= MATCH_THRESHOLD else r30x.NO_MATCH, struct.pack(">H", score))
        elif ins == r30x.SEARCH and len(p) == 5 and p[0] in (1, 2):
            answer(*self._search(p[0], *struct.unpack(">HH", p[1:])))
        elif ins == r30x.REG_MODEL:
            score = compare(self.buffers[1], self.buffers[2])
            if score is None or score < MATCH_THRESHOLD:
                answer(r30x.MERGE_FAIL)
            else:
                self.buffers[2] = self.buffers[1]  # the model: the first capture, confirmed by the second
                answer(r30x.OK)
        elif ins == r30x.STORE and len(p) == 3 and p[0] in (1, 2):
            page = struct.unpack(">H", p[1:])[0]
            if page >= self.capacity:
                answer(r30x.BAD_LOCATION)
            elif _ridges(self.buffers[p[0]]) is None:
                answer(r30x.READ_TEMPLATE_FAIL)
            else:
                self.library[page] = self.buffers[p[0]]
                answer(r30x.OK)
        elif ins == r30x.TEMPLATE_NUM:
            answer(r30x.OK, struct.pack(">H", len(self.library)))
        elif ins == r30x.READ_INDEX_TABLE and len(p) == 1 and p[0] <= 3:
            answer(r30x.OK, r30x.index_table(set(self.library), p[0]))
        elif ins == r30x.DELET_CHAR and len(p) == 4:
            page, count = struct.unpack(">HH", p)
            if count == 0 or page + count > self.capacity:
                answer(r30x.DELETE_FAIL)
            else:
                for i in range(page, page + count):
                    self.library.pop(i, None)
                answer(r30x.OK)
        elif ins == r30x.EMPTY:
            self.library.clear()
            answer(r30x.OK)
        else:
            answer(r30x.PACKET_ERROR)  # what these modules answer to an instruction they lack

    def _gen_img(self) -> int:
        from drivers.sim import fingers

        with self._lock:
            if self._take("messy_image"):
                return r30x.TOO_MESSY
            present, subject, quality, position = self.present, self.subject, self.quality, self.position
            generation, override = self._generation, self.next_image
            self.next_image = None
        if not present:
            return r30x.NO_FINGER
        key = (subject, position)
        n = self._impressions.get(key, 0)
        if override is not None:
            image = np.asarray(override, np.uint8)
        else:
            image = fingers.impression(subject, position, n, quality=quality, shape=r30x.IMAGE_SHAPE)
        hook = self.imaging_hook
        if hook is not None:
            hook()
        with self._lock:
            moved = self._generation != generation or not self.present
        if moved:
            return r30x.IMAGING_FAIL  # the finger was lifted or changed while the sensor read it
        self._impressions[key] = n + 1
        self.image = image
        return r30x.OK

    def _img2tz(self, buffer: int) -> int:
        with self._lock:
            if self._take("messy_image"):
                return r30x.TOO_MESSY
        if self.image is None:
            return r30x.NO_VALID_IMAGE
        tpl = template(self.image)
        if tpl is None:
            return r30x.TOO_FEW_FEATURES
        self.buffers[buffer] = tpl
        return r30x.OK

    def _search(self, buffer: int, start: int, count: int) -> tuple[int, bytes]:
        if start >= self.capacity:
            return r30x.BAD_LOCATION, b""
        probe = self.buffers[buffer]
        if _ridges(probe) is None:
            return r30x.READ_TEMPLATE_FAIL, b""
        best = (-1, 0)
        for page in sorted(self.library):
            if start <= page < start + count:
                score = compare(probe, self.library[page]) or 0
                if score > best[1]:
                    best = (page, score)
        if best[0] < 0 or best[1] < MATCH_THRESHOLD:
            return r30x.NOT_FOUND, struct.pack(">HH", 0, 0)
        return r30x.OK, struct.pack(">HH", *best)
