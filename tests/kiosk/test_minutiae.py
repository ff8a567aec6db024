"""Minutiae extraction: the right points with the right angles, nothing from blank or noise."""

from __future__ import annotations

import math

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")
from drivers.sim import fingers  # noqa: E402
from kiosk.biometrics import minutiae  # noqa: E402
from kiosk.biometrics.minutiae import BIFURCATION, ENDING, extract, extract_png  # noqa: E402


def ending_image(vertical: bool = False) -> np.ndarray:
    """Horizontal ridges 9 px apart; the middle one stops at x = 128 and its neighbours close
    the gap the way skin does. Its body lies to the left of the ending."""
    img = np.full((288, 256), 230, np.uint8)
    xs = np.arange(0, 256)
    ramp = np.clip((xs - 128) / 40.0, 0, 1)
    ramp = ramp * ramp * (3 - 2 * ramp)
    for k in range(-20, 21):
        if k == 0:
            pts = np.stack([xs[:129], np.full(129, 144)], 1)
        else:
            pts = np.stack([xs, 144 + 9 * k - np.sign(k) * 4.5 * ramp * math.exp(-(abs(k) - 1) / 3)], 1)
        cv2.polylines(img, [np.round(pts).astype(np.int32).reshape(-1, 1, 2)], False, 60, 4)
    img = cv2.GaussianBlur(img, (0, 0), 1.2)
    return img.T.copy() if vertical else img


def angle_diff(a: float, b: float) -> float:
    return abs((a - b + math.pi) % (2 * math.pi) - math.pi)


def test_a_ridge_ending_is_found_where_it_is_pointing_into_its_ridge():
    t = extract(ending_image())
    assert len(t) == 1
    assert t.kind[0] == ENDING
    assert abs(int(t.x[0]) - 130) <= 10 and abs(int(t.y[0]) - 144) <= 2
    assert angle_diff(float(t.angle[0]), math.pi) < math.radians(10)  # its ridge runs left


def test_angles_are_counter_clockwise_on_screen():
    # Transposed: the ridge runs up from the ending, which is 90 degrees on screen (y grows down).
    t = extract(ending_image(vertical=True))
    assert len(t) == 1 and abs(int(t.y[0]) - 130) <= 10
    assert angle_diff(float(t.angle[0]), math.pi / 2) < math.radians(10)


def test_inverted_print_turns_the_ending_into_a_bifurcation_with_the_same_angle():
    t = extract(255 - ending_image())
    assert len(t) == 1 and t.kind[0] == BIFURCATION
    assert angle_diff(float(t.angle[0]), math.pi) < math.radians(10)


@pytest.mark.parametrize("subject,position", [(1, 2), (2, 7), (3, 1), (4, 9)])
def test_synthetic_prints_give_plausible_minutiae(subject, position):
    img = fingers.impression(subject, position, 0)
    t = extract(img, position=position)
    assert 12 <= len(t) <= minutiae.MAX_MINUTIAE
    assert t.position == position and (t.width, t.height) == (256, 288)
    assert set(t.kind.tolist()) <= {ENDING, BIFURCATION}
    assert ((t.angle >= 0) & (t.angle < 2 * math.pi)).all()
    assert ((t.minutia_quality >= 1) & (t.minutia_quality <= 100)).all()
    # Every minutia sits on the print: the area around it is not bare glass.
    local = cv2.blur(img.astype(np.float32), (15, 15))
    assert (local[t.y, t.x] < 215).all()
    # None sits in a clump: false-minutia removal leaves no two closer than a ridge period.
    d = np.hypot(t.x[:, None] - t.x[None, :], t.y[:, None] - t.y[None, :]) + np.eye(len(t)) * 1e3
    assert d.min() >= 0.8 * 6
    assert 60 <= t.quality <= 100


def test_thinning_gives_one_pixel_wide_lines():
    bar = np.zeros((40, 80), np.uint8)
    bar[15:24, 10:70] = 1
    skel = minutiae._thin(bar)
    cols = skel[:, 15:65].sum(axis=0)
    assert (cols == 1).all()                      # one pixel thick along its length
    assert skel.sum() >= 50 and skel[24:, :].sum() == 0 and skel[:15, :].sum() == 0


def test_crossing_number_marks_endings_and_forks():
    y = np.zeros((30, 30), np.uint8)
    y[15, 2:15] = 1                               # stem from the left
    for i in range(10):
        y[15 - i, 15 + i] = 1                     # upper fork
        y[15 + i, 15 + i] = 1                     # lower fork
    ys, xs, kinds = minutiae._crossing_minutiae(y)
    found = sorted(zip(xs.tolist(), ys.tolist(), kinds.tolist()))
    assert (15, 15, BIFURCATION) in found or (14, 15, BIFURCATION) in found
    assert sum(k == ENDING for *_, k in found) == 3


@pytest.mark.parametrize("img", [np.full((288, 256), 235, np.uint8), np.zeros((288, 256), np.uint8),
                                 np.random.default_rng(0).integers(0, 256, (288, 256), dtype=np.uint8),
                                 np.zeros((10, 10), np.uint8)])
def test_blank_noise_and_tiny_images_give_no_minutiae(img):
    assert len(extract(img)) == 0


def test_deterministic_and_png_gives_the_same():
    img = fingers.impression(6, 3, 1)
    a, b = extract(img), extract(img)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.angle, b.angle)
    ok, png = cv2.imencode(".png", img)
    c = extract_png(png.tobytes(), position=3)
    assert np.array_equal(a.x, c.x) and np.array_equal(a.y, c.y) and c.position == 3
    with pytest.raises(ValueError):
        extract_png(b"not a png")


@pytest.mark.parametrize("bad", [np.zeros((10, 10, 3), np.uint8), np.zeros((288, 256), np.float32)])
def test_wrong_input_is_a_value_error(bad):
    with pytest.raises(ValueError):
        extract(bad)


def test_poor_capture_yields_fewer_reliable_minutiae():
    good = extract(fingers.impression(8, 2, 0))
    poor = extract(fingers.impression(8, 2, 0, quality=0.1))
    assert len(poor) < len(good)
    assert poor.quality < good.quality
