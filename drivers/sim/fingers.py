"""Synthetic fingerprints: the same finger gives similar impressions, other fingers do not.

Each finger (subject, position) has a *master pattern*, made once and cached:

1. a finger class (arch, tented arch, left / right loop, whorl) drawn with realistic odds,
   loops leaning to the little-finger side of their hand as most do;
2. an orientation field from the Sherlock–Monro zero-pole model, whose poles are the class's
   cores and deltas (a plain arch, which has none, uses a smooth bump field instead);
3. a ridge frequency map: the finger's period (8.8-10.2 px at 500 dpi) drifting smoothly by
   up to ±7 % over the fingertip;
4. ridges grown SFinGe-style: start from sparse random seeds and filter them repeatedly with
   the Gabor filter tuned to the local orientation and period, clipping after each pass.
   Minutiae appear where growth fronts from different seeds meet.

An *impression* places the master on the sensor: a rotation (within ±15°) and shift, a smooth
non-linear elastic distortion of the skin, an elliptical fingertip contact area whose size
follows the pressure (and, in ~15 % of captures, set off-centre: partial contact), ridge
thickness from pressure (heavy pressure spreads the ridges, a light touch narrows them) and
dry patches, contrast, a little blur and sensor noise.
All of it is drawn from seeds derived from (subject, position, impression), so every call with
the same arguments returns the same image.

``quality`` (0..1) spoils the impression the ways real captures go wrong: low contrast, smudge
(blur and wet blotches), partial contact and noise; values below ~0.3 are meant to fail the
quality gate (:mod:`kiosk.biometrics.finger_quality`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

MARGIN = 40        # master patterns are larger than the sensor so that impressions can shift
GABOR_BINS = 16    # orientations of the filter bank: 11.25 degrees apart
ITERATIONS = 7     # filtering passes; after ~6 the ridge pattern no longer changes visibly
PERIOD_SPREAD = 0.07  # the local ridge period stays within +-7 % of the finger's own
PARTIAL_ODDS = 0.15   # share of good captures placed so far off-centre that part of the pad misses
SEED_SPACING = 6      # one seed per 6x6 px of the half-resolution canvas (12x12 px on the sensor)


@dataclass(frozen=True)
class Master:
    ridges: np.ndarray        # float32 in [-1, 1]; > 0 on a ridge
    centre: tuple[float, float]  # fingertip centre (row, col) in master pixels
    axes: tuple[float, float]    # semi-axes of the fingertip ellipse (rows, cols)
    finger_class: str
    period: float


def impression(subject: int, position: int, impression: int, *, quality: float | None = None,
               shape: tuple[int, int] = (288, 256)) -> np.ndarray:
    """One sensor image of finger ``position`` of ``subject``: uint8, dark ridges on light.

    ``impression`` numbers the placements of that finger (0, 1, 2 ...); ``quality`` None is a
    good capture, 0..1 a spoilt one (lower is worse); ``shape`` is (rows, cols) at 500 dpi.
    A finger not seen recently costs ~0.2-0.3 s to grow, an impression of a cached one ~10 ms.
    """
    import cv2

    rows, cols = int(shape[0]), int(shape[1])
    master = master_pattern(int(subject), int(position), rows, cols)
    rng = np.random.default_rng(_seed(subject, position, impression, 2))
    if quality is not None and not math.isfinite(quality):
        raise ValueError(f"quality must be a number from 0 to 1, got {quality!r}")
    q = 1.0 if quality is None else min(1.0, max(0.0, float(quality)))

    # Placement: the operator guides the finger, so rotation and shift stay small.
    angle = math.radians(float(np.clip(rng.normal(0, 7), -15, 15)))
    shift = np.clip(rng.normal(0, 0.04, 2), -0.09, 0.09) * (rows, cols)
    pressure = float(rng.uniform(-1, 1))  # -1 light touch, +1 pressed hard

    # Output pixel -> master pixel: rotation about the centres, shift, elastic skin distortion.
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    oy, ox = yy - rows / 2 - shift[0], xx - cols / 2 - shift[1]
    c, s = math.cos(angle), math.sin(angle)
    my = c * oy - s * ox + master.ridges.shape[0] / 2
    mx = s * oy + c * ox + master.ridges.shape[1] / 2
    dy, dx = _smooth_noise(rng, (rows, cols), 2, 2.0), _smooth_noise(rng, (rows, cols), 2, 2.0)
    my, mx = (my + dy).astype(np.float32), (mx + dx).astype(np.float32)
    ridges = cv2.remap(master.ridges, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    # Contact: the fingertip ellipse, larger when pressed, smaller and off-centre when spoilt.
    scale = (1.0 + 0.08 * pressure) * (0.45 + 0.55 * q)
    ay, ax = master.axes[0] * scale, master.axes[1] * scale
    off = (1 - q) * 0.25 * np.array(master.axes) * rng.choice([-1, 1], 2)
    if rng.uniform() < PARTIAL_ODDS:
        # Partial contact: the finger set down off-centre, part of the pad off the glass.
        turn = rng.uniform(0, 2 * math.pi)
        off = off + rng.uniform(0.15, 0.25) * np.array(master.axes) * (math.sin(turn), math.cos(turn))
    ry = (my - master.centre[0] - off[0]) / ay
    rx = (mx - master.centre[1] - off[1]) / ax
    edge = 1.0 - np.sqrt(rx * rx + ry * ry) + 0.025 * _smooth_noise(rng, (rows, cols), 6, 1.0)
    contact = np.clip(edge / 0.08, 0, 1)  # a soft rim where the skin lifts off the glass

    # Ink: pressure thickens ridges; dry patches break them; quality washes them out.
    bias = 0.25 * pressure + 0.1 * _smooth_noise(rng, (rows, cols), 5, 1.0)
    ink = 1.0 / (1.0 + np.exp(-4.0 * (ridges + bias)))
    # Pressure also spreads or narrows the ridges' contact lines as a whole.
    if abs(pressure) > 0.5:
        grow = cv2.dilate if pressure > 0 else cv2.erode
        w = 2 * (abs(pressure) - 0.5)
        ink = (1 - w) * ink + w * grow(ink.astype(np.float32), np.ones((3, 3), np.uint8))
    dry = np.clip(_smooth_noise(rng, (rows, cols), 10, 1.0) - 1.2 - 0.6 * q, 0, 1)
    ink *= 1.0 - 0.6 * dry * (rng.uniform(size=(rows, cols)) < 0.5)
    wet = np.clip(_smooth_noise(rng, (rows, cols), 4, 1.0) - 2.4 + 2.6 * (1 - q), 0, 1)
    ink = ink * (1 - wet) + 0.8 * wet  # wet blotches: valleys filled, the pattern lost

    contrast = float(rng.uniform(150, 190)) * (0.25 + 0.75 * q)
    background = float(rng.uniform(225, 245))
    image = background - contrast * ink * contact
    blur = 0.6 + 2.4 * (1 - q) ** 2
    image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), blur)
    image += rng.normal(0, 3.0 + 8.0 * (1 - q), image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=32)  # ~0.5 MB each; one enrollment uses ten
def master_pattern(subject: int, position: int, rows: int = 288, cols: int = 256) -> Master:
    """The finger's ridge pattern, on a canvas MARGIN px larger than the sensor on each side."""
    import cv2

    rng = np.random.default_rng(_seed(subject, position, 0, 1))
    h, w = rows + 2 * MARGIN, cols + 2 * MARGIN
    finger_class = _finger_class(rng, position)
    period = float(rng.uniform(8.8, 10.2))
    # The fingertip's top is near the sensor's top edge; the pad runs off its bottom edge.
    centre = (MARGIN + rows * rng.uniform(0.54, 0.58), w * 0.5 + rng.normal(0, 4))
    axes = (rows * rng.uniform(0.46, 0.5), cols * rng.uniform(0.36, 0.42))
    core = (MARGIN + rows * rng.uniform(0.4, 0.5), centre[1] + rng.normal(0, 6))
    # Ridges are grown at half resolution (a period of ~5 px is still well sampled) and
    # enlarged afterwards: the filter work drops ~10x, which keeps a new finger near 0.25 s.
    h2, w2 = (h + 1) // 2, (w + 1) // 2
    theta = _orientation(rng, finger_class, h2, w2, (core[0] / 2, core[1] / 2), 0.5)

    # Precompute which Gabor bin each pixel uses, and blend the two nearest for smooth turns.
    pos = (theta % math.pi) / math.pi * GABOR_BINS
    lo = np.floor(pos).astype(np.int32) % GABOR_BINS
    frac = (pos - np.floor(pos)).astype(np.float32)
    hi = (lo + 1) % GABOR_BINS
    # Ridge frequency map: the period drifts smoothly by a few per cent over the fingertip, as
    # on skin. Two filter banks (short and long period) blended per pixel give it for twice
    # the work of one, instead of a bank per period.
    short, long_ = period * (1 - PERIOD_SPREAD), period * (1 + PERIOD_SPREAD)
    drift = np.clip(0.5 + 0.5 * _smooth_noise(rng, (h2, w2), 3, 1.0), 0, 1).astype(np.float32)
    banks = [[_gabor(math.pi * k / GABOR_BINS, p / 2) for k in range(GABOR_BINS)] for p in (short, long_)]

    # Sparse seeds, as in SFinGe: isolated dots that the filtering grows into ridges; where
    # growth fronts from different seeds meet, ridges end or fork — the minutiae.
    field = np.zeros((h2, w2), np.float32)
    n_seeds = h2 * w2 // SEED_SPACING ** 2
    field[rng.integers(0, h2, n_seeds), rng.integers(0, w2, n_seeds)] = rng.choice([-1.0, 1.0], n_seeds)
    for _ in range(ITERATIONS):
        out = np.zeros_like(field)
        for bank, weight in zip(banks, (1 - drift, drift)):
            responses = np.stack([cv2.filter2D(field, -1, k, borderType=cv2.BORDER_REFLECT) for k in bank])
            a = np.take_along_axis(responses, lo[None], 0)[0]
            b = np.take_along_axis(responses, hi[None], 0)[0]
            out += (a * (1 - frac) + b * frac) * weight
        # Normalise and saturate: the clip is what turns filtered noise into ridges of even width.
        field = np.clip(out / (np.std(out) + 1e-6) * 1.5, -1, 1)
    field = np.clip(cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC), -1, 1)
    field.setflags(write=False)  # shared through the cache
    return Master(field, centre, axes, finger_class, period)


# Odds from fingerprint-class surveys (loops ~65%, whorls ~30%, arches ~5%), nudged per finger:
# thumbs carry more whorls, index fingers most of the arches and radial loops.
_CLASS_ODDS = {
    "thumb": {"arch": 0.02, "tented_arch": 0.01, "ulnar_loop": 0.52, "radial_loop": 0.03, "whorl": 0.42},
    "index": {"arch": 0.08, "tented_arch": 0.06, "ulnar_loop": 0.40, "radial_loop": 0.14, "whorl": 0.32},
    "other": {"arch": 0.04, "tented_arch": 0.02, "ulnar_loop": 0.66, "radial_loop": 0.02, "whorl": 0.26},
}


def finger_class(subject: int, position: int) -> str:
    """The class of the finger's pattern, without growing its ridges."""
    return _finger_class(np.random.default_rng(_seed(subject, position, 0, 1)), position)


def _finger_class(rng: np.random.Generator, position: int) -> str:
    # Must stay the first draw from the master's generator: finger_class() relies on it.
    finger = {1: "thumb", 6: "thumb", 2: "index", 7: "index"}.get(position, "other")
    odds = _CLASS_ODDS[finger]
    kind = str(rng.choice(list(odds), p=list(odds.values())))
    if kind.endswith("loop"):
        # A print is the mirror of the finger seen from the front: the right hand's little
        # finger side is on the print's right (positions 1-5 are the right hand), so an ulnar
        # loop of the right hand opens to the right, as on a ten-print card.
        right_hand = 1 <= position <= 5
        opens_right = (kind == "ulnar_loop") == right_hand
        kind = "right_loop" if opens_right else "left_loop"
    return kind


def _orientation(rng: np.random.Generator, kind: str, h: int, w: int, core: tuple[float, float],
                 scale: float = 1.0) -> np.ndarray:
    """Ridge direction (radians, image axes: x right, y down) at every pixel of an h x w grid
    whose pixels are 1/scale sensor pixels; distances below are in sensor pixels."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) / scale
    cy, cx = core[0] / scale, core[1] / scale
    h, w = h / scale, w / scale
    j = lambda: rng.normal(0, 1)  # noqa: E731 - a small jitter for the pole positions
    if kind == "arch":
        # Ridges y = y0 - A exp(-x^2 / 2s^2): flat at the bottom, a bump in the middle.
        s = w * rng.uniform(0.18, 0.26)
        amp = rng.uniform(0.5, 1.2) * np.exp(-((yy - cy) / (0.45 * h)) ** 2)
        x = xx - cx - j() * 5
        slope = amp * x / s * np.exp(-x * x / (2 * s * s))
        return np.arctan(slope)
    if kind == "tented_arch":
        cores, deltas = [(cy + j() * 3, cx + j() * 3)], [(cy + rng.uniform(45, 65), cx + j() * 4)]
    elif kind in ("left_loop", "right_loop"):
        side = 1 if kind == "left_loop" else -1  # the delta lies opposite the loop's opening
        cores = [(cy + j() * 4, cx + j() * 4)]
        deltas = [(cy + rng.uniform(70, 100), cx + side * rng.uniform(65, 95))]
    else:  # whorl: two cores close together, a delta on each side
        tilt = rng.uniform(-0.5, 0.5)
        gap = rng.uniform(10, 22)
        cores = [(cy - gap * math.cos(tilt), cx - gap * math.sin(tilt)),
                 (cy + gap * math.cos(tilt), cx + gap * math.sin(tilt))]
        deltas = [(cy + rng.uniform(75, 105), cx - rng.uniform(70, 100)),
                  (cy + rng.uniform(75, 105), cx + rng.uniform(70, 100))]
    # Sherlock–Monro: theta = theta0 + 1/2 (sum arg(z - core) - sum arg(z - delta)); the
    # orientation turns by +pi around a core and by -pi around a delta.
    theta = np.full(yy.shape, rng.normal(0, 0.05))
    for py, px in cores:
        theta += 0.5 * np.arctan2(yy - py, xx - px)
    for py, px in deltas:
        theta -= 0.5 * np.arctan2(yy - py, xx - px)
    return theta


@functools.lru_cache(maxsize=128)
def _gabor(theta: float, period: float) -> np.ndarray:
    """Even Gabor kernel for ridges running along ``theta`` (it oscillates across them)."""
    sigma = 0.45 * period
    half = int(math.ceil(2.5 * sigma))
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    across = -xx * math.sin(theta) + yy * math.cos(theta)
    k = np.exp(-(xx * xx + yy * yy) / (2 * sigma * sigma)) * np.cos(2 * math.pi * across / period)
    k -= k.mean()  # no response to flat grey: only the ridge frequency survives
    return (k / np.abs(k).sum()).astype(np.float32)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int, amplitude: float) -> np.ndarray:
    """Low-frequency noise (about ``cells`` blobs across), zero mean, unit-ish spread."""
    import cv2

    small = rng.normal(0, amplitude, (cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _seed(subject: int, position: int, impression: int, stream: int) -> list[int]:
    # SeedSequence wants non-negative words; masking keeps negative subject ids usable.
    return [0xF1A6E5, stream, int(subject) & 0xFFFFFFFF, int(position) & 0xFFFF, int(impression) & 0xFFFFFFFF]
