"""Signature upload check: real PNGs from Pillow, garbage, bombs, and what comes out."""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, PngImagePlugin

from kiosk.biometrics.signature import SignatureCheck, check_signature


def png_bytes(image: Image.Image, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", **options)
    return buf.getvalue()


def drawn(size=(800, 300), mode="RGBA", background=(0, 0, 0, 0), ink=(0, 0, 0, 255), width=5) -> Image.Image:
    """What the signature pad uploads: strokes on a transparent canvas."""
    image = Image.new(mode, size, background)
    w, h = size
    points = [(0.1 * w, 0.7 * h), (0.3 * w, 0.2 * h), (0.45 * w, 0.75 * h), (0.6 * w, 0.3 * h), (0.9 * w, 0.6 * h)]
    ImageDraw.Draw(image).line(points, fill=ink, width=width)
    return image


def chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def codes(result) -> list[str]:
    return [r.code for r in result.reasons]


def test_drawn_stroke_is_accepted_and_normalised():
    result = check_signature(png_bytes(drawn(size=(1600, 600), width=10)))
    assert isinstance(result, SignatureCheck)
    assert result.accepted and result.reasons == ()
    out = Image.open(io.BytesIO(result.png))
    assert out.format == "PNG" and out.mode == "L"
    assert out.size == (800, 300)  # shrunk to fit, aspect kept
    assert out.getextrema()[0] < 64  # the ink survived the flattening onto white


def test_output_keeps_aspect_and_is_never_enlarged():
    tall = check_signature(png_bytes(drawn(size=(400, 400), width=4)))
    assert tall.accepted and Image.open(io.BytesIO(tall.png)).size == (300, 300)
    small = check_signature(png_bytes(drawn(size=(200, 80), width=2)))
    assert small.accepted and Image.open(io.BytesIO(small.png)).size == (200, 80)


def test_metadata_is_dropped():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "someone's name")
    info.add_text("Comment", "x" * 500)
    upload = png_bytes(drawn(mode="RGB", background=(255, 255, 255), ink=(10, 10, 10)), pnginfo=info, dpi=(300, 300))
    result = check_signature(upload)
    assert result.accepted
    for marker in (b"tEXt", b"zTXt", b"iTXt", b"pHYs", b"tIME", b"iCCP", b"eXIf"):
        assert marker not in result.png
    assert Image.open(io.BytesIO(result.png)).info == {}


@pytest.mark.parametrize("image", [
    Image.new("RGBA", (800, 300), (0, 0, 0, 0)),      # untouched transparent pad
    Image.new("L", (800, 300), 255),                  # white
    Image.new("RGB", (800, 300), (250, 250, 250)),
])
def test_blank_is_empty_signature(image):
    result = check_signature(png_bytes(image))
    assert not result.accepted and codes(result) == ["empty_signature"] and result.png == b""


def test_a_dot_is_still_empty():
    image = Image.new("L", (800, 300), 255)
    ImageDraw.Draw(image).ellipse((400, 150, 403, 153), fill=0)
    assert codes(check_signature(png_bytes(image))) == ["empty_signature"]


def test_all_ink_is_too_much_ink():
    assert codes(check_signature(png_bytes(Image.new("L", (800, 300), 0)))) == ["too_much_ink"]
    assert codes(check_signature(png_bytes(Image.new("RGBA", (800, 300), (0, 0, 0, 255))))) == ["too_much_ink"]


@pytest.mark.parametrize("data", [
    b"",
    b"garbage, not an image at all",
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,                            # magic, then nonsense
    b"\xff\xd8\xff\xe0" + b"\x00" * 100,                            # a JPEG header
])
def test_garbage_is_not_png(data):
    result = check_signature(data)
    assert not result.accepted and codes(result) == ["not_png"]
    assert result.reasons[0].id and result.reasons[0].en


def test_jpeg_is_not_png():
    buf = io.BytesIO()
    drawn(mode="RGB", background=(255, 255, 255)).save(buf, format="JPEG")
    assert codes(check_signature(buf.getvalue())) == ["not_png"]


def test_truncated_png_is_not_png():
    data = png_bytes(drawn())
    assert codes(check_signature(data[: len(data) // 2])) == ["not_png"]


def test_corrupt_pixel_data_is_not_png():
    data = bytearray(png_bytes(drawn()))
    idat = data.index(b"IDAT")
    data[idat + 10: idat + 40] = b"\xaa" * 30  # breaks the zlib stream (and the chunk CRC)
    assert codes(check_signature(bytes(data))) == ["not_png"]


def test_decompression_bomb_is_refused_without_allocating():
    # A valid PNG header declaring 50000 x 50000 RGBA (10 GB decoded) with a few bytes of data.
    ihdr = struct.pack(">IIBBBBB", 50000, 50000, 8, 6, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + chunk(b"IEND", b""))
    assert len(bomb) < 200
    tracemalloc.start()
    try:
        result = check_signature(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert not result.accepted and codes(result) == ["too_large"]
    assert peak < 1_000_000


def test_wide_strip_over_the_side_limit_is_too_large():
    ihdr = struct.pack(">IIBBBBB", 20000, 10, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")
    assert codes(check_signature(data)) == ["too_large"]


def test_oversized_upload_is_too_large():
    big = png_bytes(drawn(size=(1000, 400)))
    assert codes(check_signature(big, max_bytes=len(big) - 1)) == ["too_large"]
    assert check_signature(big, max_bytes=len(big)).accepted
    assert codes(check_signature(b"\x00" * (512 * 1024 + 1))) == ["too_large"]


def test_palette_and_16_bit_grey_are_read():
    pal = Image.new("P", (600, 200), 0)
    pal.putpalette([255, 255, 255, 0, 0, 0])
    ImageDraw.Draw(pal).line([(20, 150), (300, 30), (580, 160)], fill=1, width=4)
    assert check_signature(png_bytes(pal)).accepted
    grey16 = Image.new("I;16", (600, 200), 65535)
    ImageDraw.Draw(grey16).line([(20, 150), (300, 30), (580, 160)], fill=0, width=4)
    assert check_signature(png_bytes(grey16)).accepted


def test_as_dict():
    d = check_signature(b"nope").as_dict("en")
    assert d["accepted"] is False and d["reasons"][0]["code"] == "not_png"
    assert d["reasons"][0]["message"] == d["reasons"][0]["message_en"]
    assert check_signature(b"nope").as_dict()["reasons"][0]["message"].startswith("Gambar")


def test_non_bytes_is_a_programming_error():
    with pytest.raises(TypeError):
        check_signature("a string")  # type: ignore[arg-type]


def test_bytearray_and_memoryview_are_accepted():
    data = png_bytes(drawn())
    assert check_signature(bytearray(data)).accepted
    assert check_signature(memoryview(data)).accepted


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(data):
    result = check_signature(data)
    assert not result.accepted and result.png == b"" and len(result.reasons) == 1


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 4000), st.binary(min_size=1, max_size=8))
def test_damaged_real_png_never_raises(offset, junk):
    data = bytearray(png_bytes(drawn(size=(300, 120), width=3)))
    at = offset % len(data)
    data[at:at + len(junk)] = junk
    result = check_signature(bytes(data))
    assert result.accepted == (not result.reasons)
