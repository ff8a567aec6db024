"""Synthetic fingers: deterministic, the same finger matches itself, other fingers do not."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.sim import fingers

cv2 = pytest.importorskip("cv2")


def _best_ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Best normalised cross-correlation of b's centre over a, trying rotations and shifts:
    impressions of one finger differ in placement, so compare them after aligning."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    h, w = b.shape
    centre = b[h // 2 - 64:h // 2 + 64, w // 2 - 56:w // 2 + 56]
    best = -1.0
    for angle in range(-24, 25, 3):
        m = cv2.getRotationMatrix2D((centre.shape[1] / 2, centre.shape[0] / 2), angle, 1.0)
        turned = cv2.warpAffine(centre, m, centre.shape[::-1], borderMode=cv2.BORDER_REFLECT)[16:-16, 16:-16]
        best = max(best, float(cv2.matchTemplate(a, turned, cv2.TM_CCOEFF_NORMED).max()))
    return best


def test_shape_and_dtype():
    img = fingers.impression(1, 2, 0)
    assert img.shape == (288, 256) and img.dtype == np.uint8
    other = fingers.impression(1, 2, 0, shape=(300, 300))
    assert other.shape == (300, 300) and other.dtype == np.uint8


def test_dark_ridges_on_light_background():
    img = fingers.impression(2, 7, 0)
    corners = np.concatenate([img[:12, :12].ravel(), img[:12, -12:].ravel()])
    centre = img[110:170, 100:160]
    assert corners.mean() > 200          # bare glass is light
    assert centre.min() < 110            # ridges are dark
    assert np.percentile(centre, 90) > 150  # valleys between them are light


def test_ridge_period_is_500_dpi_like():
    img = fingers.impression(3, 2, 0).astype(np.float32)
    patch = img[112:176, 96:160] - img[112:176, 96:160].mean()
    power = np.abs(np.fft.fft2(patch * np.outer(np.hanning(64), np.hanning(64)))) ** 2
    power[0, 0] = 0
    fy, fx = np.unravel_index(np.argmax(power), power.shape)
    f = np.hypot(np.fft.fftfreq(64)[fy], np.fft.fftfreq(64)[fx])
    assert 7.0 <= 1 / f <= 12.5


def test_deterministic():
    a = fingers.impression(5, 3, 2)
    fingers.master_pattern.cache_clear()
    b = fingers.impression(5, 3, 2)
    assert np.array_equal(a, b)
    q1 = fingers.impression(5, 3, 2, quality=0.4)
    q2 = fingers.impression(5, 3, 2, quality=0.4)
    assert np.array_equal(q1, q2)


def test_impressions_of_one_finger_differ_in_placement():
    a, b = fingers.impression(4, 2, 0), fingers.impression(4, 2, 1)
    assert not np.array_equal(a, b)


def test_same_finger_correlates_more_than_different_fingers():
    same = [_best_ncc(fingers.impression(s, p, 0), fingers.impression(s, p, i))
            for s, p in [(1, 2), (2, 7), (3, 1)] for i in (1, 2)]
    different = [_best_ncc(fingers.impression(s, p, 0), fingers.impression(s2, p2, 1))
                 for (s, p), (s2, p2) in [((1, 2), (2, 2)), ((2, 7), (3, 7)), ((3, 1), (3, 6)),
                                          ((1, 2), (1, 7))]]
    assert min(same) > max(different) + 0.2, (same, different)


def test_subjects_and_positions_give_different_masters():
    a = fingers.master_pattern(1, 2).ridges
    b = fingers.master_pattern(2, 2).ridges
    c = fingers.master_pattern(1, 7).ridges
    assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.2
    assert abs(np.corrcoef(a.ravel(), c.ravel())[0, 1]) < 0.2


def test_finger_classes_are_plausible():
    classes = [fingers.finger_class(s, p) for s in range(1, 200) for p in range(1, 11)]
    assert set(classes) == {"arch", "tented_arch", "left_loop", "right_loop", "whorl"}
    loops = sum(c.endswith("loop") for c in classes) / len(classes)
    assert 0.5 < loops < 0.8  # loops are the commonest pattern
    assert fingers.master_pattern(7, 2).finger_class == fingers.finger_class(7, 2)


def test_lower_quality_lowers_ridge_contrast():
    def contrast(img):
        return float(np.percentile(img, 95) - np.percentile(img, 5))
    good = contrast(fingers.impression(6, 2, 0))
    mid = contrast(fingers.impression(6, 2, 0, quality=0.5))
    bad = contrast(fingers.impression(6, 2, 0, quality=0.1))
    assert good > mid > bad


def test_negative_and_large_ids_are_accepted():
    assert fingers.impression(-3, 10, 2**40).shape == (288, 256)
