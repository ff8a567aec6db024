"""Check and normalise the signature drawn on the screen's signature pad (a PNG upload).

The upload is untrusted bytes. In order, before any pixel is decoded:

1. at most ``max_bytes`` long ("too_large");
2. the PNG signature and an IHDR chunk first ("not_png");
3. the dimensions declared in IHDR at most MAX_SIDE per side and MAX_PIXELS in all
   ("too_large"), so a small file that declares a huge image (a decompression bomb) is refused
   without allocating it.

Then Pillow decodes it ("not_png" if that fails for any reason), transparency is flattened onto
white (a signature pad draws on a transparent canvas), the image becomes 8-bit grey and shrinks
to fit MAX_OUTPUT (800x300, keeping the aspect; never enlarged). Ink is a pixel darker than 128:
under 0.2% of the pixels (or under 40 pixels) is "empty_signature", over 50% is "too_much_ink".

The result's ``png`` is a fresh grey PNG of the normalised image with no metadata at all (no
text, time, ICC or EXIF chunks carried over), or ``b""`` when the signature is refused.

``check_signature`` never raises on bad content: every refusal is a reason in the result. Only
a caller's programming error (an argument that is not bytes-like) raises ``TypeError``.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass

from kiosk.messages import Message

NOT_PNG = Message("not_png", "Gambar tanda tangan tidak terbaca. Hapus lalu tanda tangani lagi.",
                  "The signature image cannot be read. Clear it and sign again.")
TOO_LARGE = Message("too_large", "Gambar tanda tangan terlalu besar. Hapus lalu tanda tangani lagi.",
                    "The signature image is too large. Clear it and sign again.")
EMPTY_SIGNATURE = Message("empty_signature",
                          "Tanda tangan kosong. Minta penduduk menandatangani di dalam kotak.",
                          "The signature is empty. Ask the resident to sign inside the box.")
TOO_MUCH_INK = Message("too_much_ink",
                       "Kotak tanda tangan hampir penuh tinta. Hapus lalu tanda tangani lagi dengan garis biasa.",
                       "The signature box is almost all ink. Clear it and sign again with a normal line.")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_SIDE = 4096
MAX_PIXELS = 4_000_000      # a 2x-density 800x300 pad is 0.96 MP; 4 MP leaves room, 16 MB decoded at most
MAX_OUTPUT = (800, 300)     # width, height of the stored image
INK_LEVEL = 128
MIN_INK_FRACTION, MIN_INK_PIXELS = 0.002, 40
MAX_INK_FRACTION = 0.5


@dataclass(frozen=True)
class SignatureCheck:
    accepted: bool
    reasons: tuple[Message, ...]
    png: bytes = b""  # the normalised grey PNG when accepted, else empty

    def as_dict(self, lang: str = "id") -> dict:
        return {"accepted": self.accepted, "reasons": [r.as_dict(lang) for r in self.reasons]}


def check_signature(png: bytes, *, max_bytes: int = 512 * 1024) -> SignatureCheck:
    """Check an uploaded signature PNG and return it normalised; see the module docstring."""
    if not isinstance(png, (bytes, bytearray, memoryview)):
        raise TypeError(f"check_signature expects bytes, got {type(png).__name__}")
    data = bytes(png)
    if len(data) > max_bytes:
        return _refuse(TOO_LARGE)
    size = _declared_size(data)
    if size is None:
        return _refuse(NOT_PNG)
    width, height = size
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        return _refuse(TOO_LARGE)

    gray = _decode(data)
    if gray is None:
        return _refuse(NOT_PNG)
    gray.thumbnail(MAX_OUTPUT, _lanczos())
    pixels = gray.tobytes()
    ink = sum(gray.histogram()[:INK_LEVEL])
    if ink < MIN_INK_PIXELS or ink < MIN_INK_FRACTION * len(pixels):
        return _refuse(EMPTY_SIGNATURE)
    if ink > MAX_INK_FRACTION * len(pixels):
        return _refuse(TOO_MUCH_INK)

    from PIL import Image
    clean = Image.frombytes("L", gray.size, pixels)  # a new image: nothing of the upload's metadata
    buf = io.BytesIO()
    clean.save(buf, format="PNG", optimize=True)
    return SignatureCheck(True, (), buf.getvalue())


def _refuse(reason: Message) -> SignatureCheck:
    return SignatureCheck(False, (reason,), b"")


def _declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the IHDR chunk, which the PNG standard puts first; None if absent."""
    if len(data) < 33 or not data.startswith(PNG_MAGIC):
        return None
    length, kind = struct.unpack(">I4s", data[8:16])
    if kind != b"IHDR" or length != 13:
        return None
    if zlib.crc32(data[12:29]) != struct.unpack(">I", data[29:33])[0]:
        return None
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        return None
    return width, height


def _decode(data: bytes):
    """The image as 8-bit grey on white, or None when Pillow cannot decode it."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG"]) as im:
                im.load()
                if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                    rgba = im.convert("RGBA")
                    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    return Image.alpha_composite(white, rgba).convert("L")
                if im.mode.startswith("I"):
                    # 16-bit grey: scale to 8 bits instead of letting convert() clip at 255.
                    import numpy as np
                    return Image.fromarray((np.asarray(im, dtype=np.float64) / 257).round().astype(np.uint8))
                return im.convert("L")
    except Exception:  # noqa: BLE001 - any decoder failure means the upload is not a usable PNG
        return None


def _lanczos():
    from PIL import Image
    return Image.Resampling.LANCZOS
