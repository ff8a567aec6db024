"""ISO/IEC 19794-2:2005 records: exact layout, round trip, and typed rejection of bad bytes."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.biometrics.iso19794 import TemplateFormatError, decode, decode_views, encode
from kiosk.biometrics.minutiae import BIFURCATION, ENDING, Template
from kiosk.errors import InvalidInput


def sample(n=3, position=7) -> Template:
    return Template.from_arrays(256, 288, [10, 100, 255][:n], [0, 150, 287][:n],
                                [0.0, math.pi / 2, math.radians(358.6)][:n],
                                [ENDING, BIFURCATION, 0][:n], [100, 55, 1][:n], position=position, quality=83)


def test_layout_byte_by_byte():
    rec = encode(sample())
    assert rec[:4] == b"FMR\0" and rec[4:8] == b" 20\0"
    assert struct.unpack(">I", rec[8:12])[0] == len(rec) == 24 + 4 + 3 * 6 + 2
    assert struct.unpack(">HHHHH", rec[12:22]) == (0, 256, 288, 197, 197)
    assert rec[22:24] == b"\x01\x00"                       # one view, reserved 0
    assert rec[24:28] == bytes([7, 0x00, 83, 3])          # left index, view 0 live plain, q, n
    # Second minutia: bifurcation (10) at x=100, y=150, 90 degrees = 64 units, quality 55.
    assert rec[34:40] == struct.pack(">HHBB", (2 << 14) | 100, 150, 64, 55)
    assert rec[28:30] == struct.pack(">H", (1 << 14) | 10)  # ending type bits 01
    assert rec[-2:] == b"\0\0"                             # no extended data


def test_round_trip_keeps_everything_but_angle_precision():
    t = sample()
    back = decode(encode(t))
    assert (back.width, back.height, back.position, back.quality, back.resolution_ppcm) == (256, 288, 7, 83, 197)
    assert back.x.tolist() == [10, 100, 255] and back.y.tolist() == [0, 150, 287]
    assert back.kind.tolist() == [ENDING, BIFURCATION, 0] and back.minutia_quality.tolist() == [100, 55, 1]
    err = np.abs((back.angle - t.angle + math.pi) % (2 * math.pi) - math.pi)
    assert err.max() <= math.radians(1.40625) / 2 + 1e-9
    assert encode(back) == encode(t)  # a second trip is exact


def test_empty_template_round_trips():
    t = Template.from_arrays(256, 288, [], [], [], [], [], position=2)
    back = decode(encode(t))
    assert len(back) == 0 and back.position == 2


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 287), st.floats(0, 6.28),
                          st.sampled_from([0, 1, 2]), st.integers(0, 100)), max_size=60),
       st.integers(0, 10), st.integers(0, 100))
def test_round_trip_property(minutiae, position, quality):
    cols = list(zip(*minutiae)) or [[], [], [], [], []]
    t = Template.from_arrays(256, 288, *cols, position=position, quality=quality)
    back = decode(encode(t))
    assert back.x.tolist() == list(cols[0]) and back.y.tolist() == list(cols[1])
    assert back.kind.tolist() == list(cols[3]) and back.position == position and back.quality == quality


def test_extended_data_and_extra_views_are_read():
    one = encode(sample())
    body = one[24:-2]
    # The first view carries a 2-byte extended data block (its length field excludes itself).
    views = one[:22] + bytes([2, 0]) + body + b"\x00\x02" + b"AB" + body + b"\x00\x00"
    views = views[:8] + struct.pack(">I", len(views)) + views[12:]
    got = decode_views(views)
    assert len(got) == 2 and got[1].x.tolist() == [10, 100, 255]
    assert decode(views).position == 7


def corrupt(rec: bytes, at: int, value: bytes) -> bytes:
    return rec[:at] + value + rec[at + len(value):]


@pytest.mark.parametrize("mangle,words", [
    (lambda r: r[:10], "shorter than"),
    (lambda r: corrupt(r, 0, b"FIR\0"), "format identifier"),
    (lambda r: corrupt(r, 4, b" 30\0"), "version"),
    (lambda r: corrupt(r, 8, struct.pack(">I", 999)), "header says"),
    (lambda r: r[:-1], "header says"),
    (lambda r: corrupt(r, 14, b"\0\0"), "image size"),
    (lambda r: corrupt(r, 22, b"\0"), "no finger view"),
    (lambda r: corrupt(r, 24, b"\x0b"), "finger position"),
    (lambda r: corrupt(r, 26, b"\xc8"), "finger quality"),
    (lambda r: corrupt(r, 27, b"\x09"), "do not fit"),
    (lambda r: corrupt(r, 28, b"\xc0\x0a"), "undefined type"),
    (lambda r: corrupt(r, 30, b"\x40\x00"), "reserved bits"),
    (lambda r: corrupt(r, 40, struct.pack(">H", 256)), "outside the image"),
    (lambda r: corrupt(r, 39, b"\xff"), "quality is above"),
    (lambda r: corrupt(r, 18, struct.pack(">H", 98)), "unequal resolutions"),
])
def test_malformed_records_raise_the_typed_error(mangle, words):
    with pytest.raises(TemplateFormatError) as info:
        decode(mangle(encode(sample())))
    assert words in str(info.value)
    assert isinstance(info.value, InvalidInput) and isinstance(info.value, ValueError)
    assert info.value.code == "bad_finger_template"


def test_trailing_bytes_and_runaway_extended_block_are_rejected():
    rec = encode(sample())
    longer = rec + b"\0\0"
    longer = longer[:8] + struct.pack(">I", len(longer)) + longer[12:]
    with pytest.raises(TemplateFormatError, match="unexplained"):
        decode(longer)
    runaway = rec[:-2] + b"\x01\x00"
    with pytest.raises(TemplateFormatError, match="extended data"):
        decode(runaway)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_random_bytes_only_ever_raise_the_typed_error(data):
    try:
        decode(data)
    except TemplateFormatError:
        pass


def test_encode_refuses_what_the_format_cannot_hold():
    with pytest.raises(ValueError):
        encode(Template.from_arrays(256, 288, [1] * 256, [1] * 256, [0] * 256, [1] * 256, [50] * 256))
    with pytest.raises(ValueError):
        encode(sample(position=11))
