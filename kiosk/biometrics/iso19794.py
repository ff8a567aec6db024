"""ISO/IEC 19794-2:2005 finger minutiae record: encode and decode (big-endian throughout).

Record header, 24 bytes:
    "FMR\\0"  format identifier          " 20\\0"  version
    u32       record length (whole record, bytes)
    u16       4 bits compliance (0) + 12 bits capture equipment id (0 = unreported)
    u16 u16   image width, height (px)
    u16 u16   x and y resolution (px/cm; 197 = 500 dpi)
    u8        number of finger views      u8  reserved (0)
Finger view header, 4 bytes:
    u8 finger position (ISO codes 0..10)   u8 view number (4 bits) + impression type (4 bits)
    u8 finger quality 0..100               u8 number of minutiae
Each minutia, 6 bytes:
    u16 type (2 bits: 01 ending, 10 bifurcation, 00 other) + x (14 bits)
    u16 reserved (2 bits, 0) + y (14 bits)
    u8  angle in units of 360/256 = 1.40625 degrees, counter-clockwise from the x axis
    u8  quality 1..100 (0 = not reported)
After the minutiae of a view: u16 extended data block length (0: none is written).

The kiosk writes one view per record (one finger, one capture). Decoding accepts several views
(only the first is returned by :func:`decode`) and skips extended data it does not interpret.
Anything that does not parse raises :class:`TemplateFormatError` — never an IndexError or a
struct.error — so a damaged blob in the database is a typed, reportable fault.
Angles are quantised to 1.40625°, so a decode returns the angle of the nearest step.
"""

from __future__ import annotations

import math
import struct

import numpy as np

from kiosk.biometrics.minutiae import Template
from kiosk.errors import InvalidInput

MAGIC, VERSION = b"FMR\0", b" 20\0"
HEADER = struct.Struct(">4s4sIHHHHHBB")
VIEW = struct.Struct(">BBBB")
RESOLUTION_500_DPI = 197  # px/cm
LIVE_SCAN_PLAIN = 0       # impression type code


class TemplateFormatError(InvalidInput):
    """Bytes that are not a well-formed ISO/IEC 19794-2:2005 finger minutiae record."""

    def __init__(self, detail: str):
        super().__init__("bad_finger_template", f"Templat sidik jari rusak: {detail}.",
                         f"The fingerprint template is damaged: {detail}.", detail=detail)


def encode(t: Template, *, view: int = 0, impression_type: int = LIVE_SCAN_PLAIN) -> bytes:
    """One-view record of template ``t``."""
    n = len(t)
    if n > 255:
        raise ValueError(f"an ISO 19794-2 view holds at most 255 minutiae, got {n}")
    if not (0 <= t.position <= 10 and 0 <= view <= 15 and 0 <= impression_type <= 15):
        raise ValueError("finger position 0..10, view 0..15 and impression type 0..15")
    if not (0 < t.width < 1 << 16 and 0 < t.height < 1 << 16):
        raise ValueError(f"image size {t.width}x{t.height} does not fit the record")
    x, y = np.asarray(t.x, np.int64), np.asarray(t.y, np.int64)
    if n and (x.min() < 0 or y.min() < 0 or x.max() >= 1 << 14 or y.max() >= 1 << 14):
        raise ValueError("minutia coordinates must be 0..16383")
    length = HEADER.size + VIEW.size + 6 * n + 2
    out = bytearray(HEADER.pack(MAGIC, VERSION, length, 0, t.width, t.height,
                                t.resolution_ppcm, t.resolution_ppcm, 1, 0))
    out += VIEW.pack(t.position, (view << 4) | impression_type, int(np.clip(t.quality, 0, 100)), n)
    if n:
        rec = np.zeros(n, dtype=[("tx", ">u2"), ("ry", ">u2"), ("a", "u1"), ("q", "u1")])
        rec["tx"] = (np.asarray(t.kind, np.int64) & 3) << 14 | x
        rec["ry"] = y
        rec["a"] = np.round(np.asarray(t.angle) / (2 * math.pi) * 256).astype(np.int64) % 256
        rec["q"] = np.clip(t.minutia_quality, 0, 100)
        out += rec.tobytes()
    out += b"\0\0"
    return bytes(out)


def decode(data: bytes) -> Template:
    """The first finger view of a record as a :class:`Template`."""
    return decode_views(data)[0]


def decode_views(data: bytes) -> list[Template]:
    data = bytes(data) if not isinstance(data, bytes) else data
    if len(data) < HEADER.size:
        raise TemplateFormatError(f"{len(data)} bytes is shorter than the {HEADER.size}-byte header")
    magic, version, length, _equip, width, height, xres, yres, views, _ = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise TemplateFormatError(f"format identifier {magic!r} is not 'FMR\\0'")
    if version != VERSION:
        raise TemplateFormatError(f"version {version!r} is not ' 20\\0' (ISO/IEC 19794-2:2005)")
    if length != len(data):
        raise TemplateFormatError(f"the header says {length} bytes, the record has {len(data)}")
    if width == 0 or height == 0:
        raise TemplateFormatError("the image size is zero")
    if views == 0:
        raise TemplateFormatError("the record holds no finger view")
    if xres != yres:
        raise TemplateFormatError(f"unequal resolutions {xres} x {yres} px/cm are not supported")
    pos, out = HEADER.size, []
    for _ in range(views):
        if pos + VIEW.size > len(data):
            raise TemplateFormatError("a finger view header is cut short")
        finger, view_imp, quality, n = VIEW.unpack_from(data, pos)
        pos += VIEW.size
        if finger > 10:
            raise TemplateFormatError(f"finger position {finger} is not an ISO code 0..10")
        if quality > 100:
            raise TemplateFormatError(f"finger quality {quality} is above 100")
        end = pos + 6 * n
        if end + 2 > len(data):
            raise TemplateFormatError(f"{n} minutiae do not fit in the record")
        rec = np.frombuffer(data, dtype=[("tx", ">u2"), ("ry", ">u2"), ("a", "u1"), ("q", "u1")],
                            count=n, offset=pos)
        kind = (rec["tx"] >> 14).astype(np.uint8)
        x, y = (rec["tx"] & 0x3FFF).astype(np.int32), (rec["ry"] & 0x3FFF).astype(np.int32)
        if (kind == 3).any():
            raise TemplateFormatError("a minutia has the undefined type 11")
        if (rec["ry"] >> 14).any():
            raise TemplateFormatError("a minutia's reserved bits are set")
        if n and (x.max() >= width or y.max() >= height):
            raise TemplateFormatError("a minutia lies outside the image")
        if (rec["q"] > 100).any():
            raise TemplateFormatError("a minutia quality is above 100")
        (ext_len,) = struct.unpack_from(">H", data, end)
        pos = end + 2 + ext_len
        if pos > len(data):
            raise TemplateFormatError("the extended data block runs past the record's end")
        out.append(Template.from_arrays(
            width, height, x, y, rec["a"].astype(np.float64) * (2 * math.pi / 256), kind, rec["q"],
            position=int(finger), quality=int(quality), resolution_ppcm=int(xres)))
    if pos != len(data):
        raise TemplateFormatError(f"{len(data) - pos} unexplained bytes after the last view")
    return out
