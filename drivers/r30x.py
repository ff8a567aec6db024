"""The R30x / R50x / AS608 fingerprint module's UART protocol: frames, commands and replies.

No I/O here, so every byte of the protocol can be tested without a serial port; the driver
(:class:`drivers.fingerprint.R30xReader`) and the simulated module
(:mod:`drivers.sim.r30x_module`) both build on it.

A frame, as the module makers document it::

    EF 01 | address (4) | packet id (1) | length (2) = len(payload) + 2 | payload | checksum (2)

The checksum is the sum of the packet id, the two length bytes and the payload bytes, mod 65536;
all multi-byte numbers are big-endian. Packet ids: 01 command, 02 data (more follows),
07 acknowledgement (payload starts with a confirmation code), 08 end of data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterator

import numpy as np

# The error types live with the rest of the fingerprint errors so the kiosk catches one family.
from drivers.fingerprint import BadChecksum, BadFrame, FrameError, WrongAddress

HEADER = b"\xef\x01"
BROADCAST = 0xFFFFFFFF  # the factory address of every module

COMMAND, DATA, ACK, END = 0x01, 0x02, 0x07, 0x08
PACKET_IDS = frozenset((COMMAND, DATA, ACK, END))

MAX_PAYLOAD = 256       # the largest packet size a module can be set to
MIN_LENGTH = 3          # one payload byte (instruction or confirmation code) + checksum
MAX_LENGTH = MAX_PAYLOAD + 2
OVERHEAD = 2 + 4 + 1 + 2 + 2  # header, address, packet id, length, checksum: 11 bytes per frame

IMAGE_SHAPE = (288, 256)  # rows, cols of an R307 / AS608 image: 36,864 bytes at 4 bits per pixel

# --- instruction codes -----------------------------------------------------------------------
GEN_IMG = 0x01
IMG2TZ = 0x02
MATCH = 0x03
SEARCH = 0x04
REG_MODEL = 0x05
STORE = 0x06
UP_CHAR = 0x08
DOWN_CHAR = 0x09
UP_IMAGE = 0x0A
DELET_CHAR = 0x0C
EMPTY = 0x0D
READ_SYS_PARA = 0x0F
VFY_PWD = 0x13
TEMPLATE_NUM = 0x1D
READ_INDEX_TABLE = 0x1F
HANDSHAKE = 0x40

INSTRUCTIONS = {
    "GenImg": GEN_IMG, "Img2Tz": IMG2TZ, "Match": MATCH, "Search": SEARCH, "RegModel": REG_MODEL,
    "Store": STORE, "UpChar": UP_CHAR, "DownChar": DOWN_CHAR, "UpImage": UP_IMAGE,
    "DeletChar": DELET_CHAR, "Empty": EMPTY, "ReadSysPara": READ_SYS_PARA, "VfyPwd": VFY_PWD,
    "TemplateNum": TEMPLATE_NUM, "ReadIndexTable": READ_INDEX_TABLE, "Handshake": HANDSHAKE,
}

# --- confirmation codes ----------------------------------------------------------------------
OK = 0x00
PACKET_ERROR = 0x01
NO_FINGER = 0x02
IMAGING_FAIL = 0x03
TOO_MESSY = 0x06
TOO_FEW_FEATURES = 0x07
NO_MATCH = 0x08
NOT_FOUND = 0x09
MERGE_FAIL = 0x0A
BAD_LOCATION = 0x0B
READ_TEMPLATE_FAIL = 0x0C
UPLOAD_TEMPLATE_FAIL = 0x0D
CANNOT_RECEIVE = 0x0E
UPLOAD_IMAGE_FAIL = 0x0F
DELETE_FAIL = 0x10
CLEAR_FAIL = 0x11
WRONG_PASSWORD = 0x13
NO_VALID_IMAGE = 0x15
FLASH_WRITE_FAIL = 0x18

# code -> (Bahasa Indonesia, English), as the module makers' manuals describe them.
CONFIRMATION = {
    OK: ("berhasil", "done"),
    PACKET_ERROR: ("paket yang diterima modul rusak", "the module received a damaged packet"),
    NO_FINGER: ("tidak ada jari pada pemindai", "no finger on the sensor"),
    IMAGING_FAIL: ("gambar jari gagal diambil", "the finger could not be imaged"),
    TOO_MESSY: ("gambar jari terlalu kabur", "the finger image is too messy"),
    TOO_FEW_FEATURES: ("ciri sidik jari terlalu sedikit", "too few fingerprint features"),
    NO_MATCH: ("sidik jari tidak cocok", "the fingerprints do not match"),
    NOT_FOUND: ("sidik jari tidak ditemukan di pustaka", "no match in the library"),
    MERGE_FAIL: ("dua rekaman tidak bisa digabung", "the two captures could not be merged"),
    BAD_LOCATION: ("nomor tempat di pustaka di luar batas", "the library location is out of range"),
    READ_TEMPLATE_FAIL: ("templat di pustaka tidak terbaca atau tidak sah",
                         "the library template could not be read or is invalid"),
    UPLOAD_TEMPLATE_FAIL: ("templat gagal dikirim", "the template upload failed"),
    CANNOT_RECEIVE: ("modul tidak dapat menerima data", "the module cannot receive the data packets"),
    UPLOAD_IMAGE_FAIL: ("gambar gagal dikirim", "the image upload failed"),
    DELETE_FAIL: ("templat gagal dihapus", "the template could not be deleted"),
    CLEAR_FAIL: ("pustaka gagal dikosongkan", "the library could not be cleared"),
    WRONG_PASSWORD: ("kata sandi modul salah", "wrong module password"),
    NO_VALID_IMAGE: ("tidak ada gambar jari yang sah", "no valid finger image in the buffer"),
    FLASH_WRITE_FAIL: ("gagal menulis memori modul", "the module failed to write its flash"),
}


def describe(code: int) -> tuple[str, str]:
    """(id, en) words for a confirmation code, including the ones no manual names."""
    return CONFIRMATION.get(code, (f"kode modul 0x{code:02X} tidak dikenal", f"unknown module code 0x{code:02X}"))


# --- frames ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    pid: int
    payload: bytes
    address: int = BROADCAST

    def encode(self) -> bytes:
        return build(self.pid, self.payload, self.address)

    @property
    def code(self) -> int:
        """The confirmation code of an acknowledgement (the instruction of a command)."""
        return self.payload[0]

    @property
    def params(self) -> bytes:
        return self.payload[1:]


def checksum(pid: int, payload: bytes) -> int:
    length = len(payload) + 2
    return (pid + (length >> 8) + (length & 0xFF) + sum(payload)) & 0xFFFF


def build(pid: int, payload: bytes, address: int = BROADCAST) -> bytes:
    if pid not in PACKET_IDS:
        raise ValueError(f"packet id must be one of 01, 02, 07, 08, not {pid:#04x}")
    if not 1 <= len(payload) <= MAX_PAYLOAD:
        raise ValueError(f"a payload is 1 to {MAX_PAYLOAD} bytes, not {len(payload)}")
    return (HEADER + struct.pack(">IBH", address & 0xFFFFFFFF, pid, len(payload) + 2) + bytes(payload)
            + struct.pack(">H", checksum(pid, payload)))


def command(instruction: int, params: bytes = b"", address: int = BROADCAST) -> bytes:
    return build(COMMAND, bytes([instruction]) + params, address)


def ack(code: int, params: bytes = b"", address: int = BROADCAST) -> bytes:
    return build(ACK, bytes([code]) + params, address)


class FrameParser:
    """Incremental frame parser that survives a noisy line.

    ``feed()`` bytes as they arrive, then call ``next()`` until it returns None. A candidate
    frame that is wrong (address, packet id, length, checksum) raises a :class:`FrameError`
    *after* the parser has stepped one byte past its header, so the caller may simply call
    ``next()`` again: a real frame that began inside the rejected one is still found. Nothing
    but those typed errors ever leaves this class.
    """

    def __init__(self, address: int = BROADCAST):
        self.address = address & 0xFFFFFFFF
        self._buf = bytearray()
        self.skipped = 0  # bytes thrown away while resynchronising, for diagnostics

    def feed(self, data: bytes) -> None:
        self._buf += data

    def clear(self) -> None:
        self._buf.clear()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def __iter__(self) -> Iterator[Frame]:
        """Every good frame in what was fed, silently skipping bad candidates."""
        while True:
            try:
                frame = self.next()
            except FrameError:
                continue
            if frame is None:
                return
            yield frame

    def next(self) -> Frame | None:
        buf = self._buf
        start = buf.find(HEADER)
        if start < 0:
            # Keep a trailing EF: it may be the first half of the next header.
            keep = 1 if buf[-1:] == HEADER[:1] else 0
            self._skip(len(buf) - keep)
            return None
        self._skip(start)
        if len(buf) < 9:
            return None
        address, pid, length = struct.unpack_from(">IBH", buf, 2)
        if address != self.address:
            self._skip(1)
            raise WrongAddress(got=f"{address:08X}", expected=f"{self.address:08X}")
        if pid not in PACKET_IDS:
            self._skip(1)
            raise BadFrame(f"Unknown packet id {pid:#04x} on the line.", f"Jenis paket {pid:#04x} tidak dikenal.")
        if not MIN_LENGTH <= length <= MAX_LENGTH:
            self._skip(1)
            raise BadFrame(f"Impossible frame length {length}.", f"Panjang paket {length} tidak mungkin.")
        total = 9 + length
        if len(buf) < total:
            return None
        payload = bytes(buf[9:total - 2])
        (got,) = struct.unpack_from(">H", buf, total - 2)
        if got != checksum(pid, payload):
            self._skip(1)
            raise BadChecksum(pid=pid)
        del buf[:total]
        return Frame(pid, payload, address)

    def _skip(self, n: int) -> None:
        if n > 0:
            del self._buf[:n]
            self.skipped += n


# --- command builders (the payload after the packet id) --------------------------------------
def gen_img() -> bytes:
    return bytes([GEN_IMG])


def img2tz(buffer: int = 1) -> bytes:
    return bytes([IMG2TZ, _buffer(buffer)])


def match() -> bytes:
    return bytes([MATCH])


def search(buffer: int, start: int, count: int) -> bytes:
    return bytes([SEARCH, _buffer(buffer)]) + struct.pack(">HH", _u16(start, "start"), _u16(count, "count"))


def reg_model() -> bytes:
    return bytes([REG_MODEL])


def store(buffer: int, page: int) -> bytes:
    return bytes([STORE, _buffer(buffer)]) + struct.pack(">H", _u16(page, "page"))


def up_char(buffer: int = 1) -> bytes:
    return bytes([UP_CHAR, _buffer(buffer)])


def down_char(buffer: int = 1) -> bytes:
    return bytes([DOWN_CHAR, _buffer(buffer)])


def up_image() -> bytes:
    return bytes([UP_IMAGE])


def delet_char(page: int, count: int = 1) -> bytes:
    return bytes([DELET_CHAR]) + struct.pack(">HH", _u16(page, "page"), _u16(count, "count"))


def empty() -> bytes:
    return bytes([EMPTY])


def read_sys_para() -> bytes:
    return bytes([READ_SYS_PARA])


def vfy_pwd(password: int) -> bytes:
    return bytes([VFY_PWD]) + struct.pack(">I", password & 0xFFFFFFFF)


def template_num() -> bytes:
    return bytes([TEMPLATE_NUM])


def read_index_table(page: int = 0) -> bytes:
    if not 0 <= page <= 3:
        raise ValueError(f"index table page is 0 to 3, not {page}")
    return bytes([READ_INDEX_TABLE, page])


def handshake() -> bytes:
    return bytes([HANDSHAKE])


def _buffer(buffer: int) -> int:
    if buffer not in (1, 2):
        raise ValueError(f"char buffer is 1 or 2, not {buffer}")
    return buffer


def _u16(value: int, name: str) -> int:
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"{name} must fit in 16 bits, not {value}")
    return value


# --- replies ---------------------------------------------------------------------------------
PACKET_SIZES = (32, 64, 128, 256)
BAUD_UNIT = 9600


@dataclass(frozen=True)
class SysPara:
    """What ReadSysPara answers: the module says how big, how fast and who it is."""

    status_register: int
    system_id: int
    capacity: int         # "library size": how many templates the flash holds
    security_level: int   # 1 (lenient) .. 5 (strict)
    address: int
    packet_size_code: int
    baud_n: int

    @property
    def packet_size(self) -> int:
        return PACKET_SIZES[self.packet_size_code]

    @property
    def baudrate(self) -> int:
        return self.baud_n * BAUD_UNIT

    @property
    def busy(self) -> bool:
        return bool(self.status_register & 0x01)

    def encode(self) -> bytes:
        return struct.pack(">HHHHIHH", self.status_register, self.system_id, self.capacity,
                           self.security_level, self.address, self.packet_size_code, self.baud_n)

    def as_dict(self) -> dict:
        return {"capacity": self.capacity, "security_level": self.security_level,
                "address": f"{self.address:08X}", "packet_size": self.packet_size, "baudrate": self.baudrate,
                "system_id": self.system_id, "status_register": self.status_register}


def parse_sys_para(params: bytes) -> SysPara:
    if len(params) != 16:
        raise BadFrame(f"ReadSysPara answered {len(params)} bytes, not 16.",
                       f"ReadSysPara menjawab {len(params)} bita, bukan 16.")
    fields = struct.unpack(">HHHHIHH", params)
    para = SysPara(*fields)
    if para.packet_size_code > 3:
        raise BadFrame(f"Packet size code {para.packet_size_code} is not 0-3.",
                       f"Kode ukuran paket {para.packet_size_code} bukan 0-3.")
    if para.baud_n == 0:
        raise BadFrame("The module reports a baud rate of 0.", "Modul melaporkan kecepatan 0.")
    return para


def parse_u16(params: bytes, what: str) -> int:
    if len(params) < 2:
        raise BadFrame(f"{what}: reply too short.", f"{what}: jawaban terlalu pendek.")
    return struct.unpack_from(">H", params)[0]


def parse_search(params: bytes) -> tuple[int, int]:
    """(page id, score) of a Search answer."""
    if len(params) < 4:
        raise BadFrame("Search: reply too short.", "Search: jawaban terlalu pendek.")
    return struct.unpack_from(">HH", params)


def parse_index_table(params: bytes, page: int) -> list[int]:
    """Template ids in use on index page ``page`` (256 ids a page, bit 0 of byte 0 first)."""
    if len(params) != 32:
        raise BadFrame(f"ReadIndexTable answered {len(params)} bytes, not 32.",
                       f"ReadIndexTable menjawab {len(params)} bita, bukan 32.")
    bits = np.unpackbits(np.frombuffer(params, np.uint8), bitorder="little")
    return [page * 256 + int(i) for i in np.flatnonzero(bits)]


def index_table(used: set[int] | list[int], page: int) -> bytes:
    """The 32 bytes the module answers for ``page``: the inverse of :func:`parse_index_table`."""
    bits = np.zeros(256, np.uint8)
    for i in used:
        if page * 256 <= i < (page + 1) * 256:
            bits[i - page * 256] = 1
    return np.packbits(bits, bitorder="little").tobytes()


# --- data transfers --------------------------------------------------------------------------
def split_data(data: bytes, packet_size: int) -> list[tuple[int, bytes]]:
    """(packet id, chunk) pairs for a transfer: DATA packets and a final END packet."""
    if packet_size not in PACKET_SIZES:
        raise ValueError(f"packet size is one of {PACKET_SIZES}, not {packet_size}")
    if not data:
        raise ValueError("nothing to send")
    chunks = [data[i:i + packet_size] for i in range(0, len(data), packet_size)]
    return [(DATA, c) for c in chunks[:-1]] + [(END, chunks[-1])]


def wire_bytes(payload_bytes: int, packet_size: int) -> int:
    """Bytes on the wire for a transfer of ``payload_bytes``, frame overhead included."""
    packets = -(-payload_bytes // packet_size)
    return payload_bytes + packets * OVERHEAD


def pack_image(pixels: np.ndarray) -> bytes:
    """4 bits a pixel, two pixels a byte, the left pixel in the high nibble (as modules send)."""
    px = np.asarray(pixels, dtype=np.uint8)
    if px.ndim != 2 or px.shape[1] % 2:
        raise ValueError(f"an image is rows x an even number of cols, not {px.shape}")
    high = px[:, 0::2] >> 4
    low = px[:, 1::2] >> 4
    return ((high << 4) | low).astype(np.uint8).tobytes()


def unpack_image(data: bytes, shape: tuple[int, int] = IMAGE_SHAPE) -> np.ndarray:
    """Back to 8 bits: nibble n becomes n * 17, so 0 stays black and 15 becomes white (255)."""
    rows, cols = shape
    if len(data) != rows * cols // 2:
        raise BadFrame(f"The image has {len(data)} bytes, not {rows * cols // 2} for {cols}x{rows}.",
                       f"Gambar berisi {len(data)} bita, bukan {rows * cols // 2} untuk {cols}x{rows}.")
    packed = np.frombuffer(data, np.uint8).reshape(rows, cols // 2)
    out = np.empty((rows, cols), np.uint8)
    out[:, 0::2] = (packed >> 4) * 17
    out[:, 1::2] = (packed & 0x0F) * 17
    return out
