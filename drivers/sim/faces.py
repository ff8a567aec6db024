"""Synthetic camera scenes: a resident in front of a wall, or the empty wall.

Subject N is always the same person in the same place: one real photograph (``data/face.jpg``,
see ``data/README.md``) re-lit, re-coloured, scaled, shifted and sometimes mirrored from a seed
derived from N, in front of a wall whose tint also comes from N. Different subjects therefore
look visibly different, yet every one keeps a real frontal face that a face detector finds.
Each call adds a little sensor noise, as a real camera does.

Needs only numpy and Pillow: the simulated camera must work where OpenCV is missing.
"""

from __future__ import annotations

import colorsys
import functools
from pathlib import Path

import numpy as np

ASSET = Path(__file__).resolve().parent / "data" / "face.jpg"

NOISE_SIGMA = 1.5  # grey levels; enough to look like a sensor, far too little to upset a detector


def scene(subject: int | None, size: tuple[int, int], *, seed: int | None = None) -> np.ndarray:
    """One frame, ``size`` = (rows, cols), as rows x cols x 3 uint8 RGB.

    ``subject`` None gives the empty scene (the wall, nobody in front of it). ``seed`` fixes the
    per-call sensor noise, for callers that need identical frames; None draws fresh noise.
    """
    rows, cols = int(size[0]), int(size[1])
    if rows < 16 or cols < 16:
        raise ValueError(f"scene size {size!r} is too small")
    base = _base_scene(None if subject is None else int(subject), rows, cols)
    # Fresh noise per frame would cost more than the rest of the frame; a cached noise field
    # shifted by a random offset looks the same to anyone watching the preview.
    rng = np.random.default_rng(seed)
    noise = np.roll(_noise(rows, cols), (int(rng.integers(rows)), int(rng.integers(cols))), axis=(0, 1))
    return np.clip(base.astype(np.int16) + noise, 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=2)
def _noise(rows: int, cols: int) -> np.ndarray:
    noise = np.random.default_rng(0x5E5).normal(0.0, NOISE_SIGMA, (rows, cols, 3)).round().astype(np.int16)
    noise.setflags(write=False)
    return noise


@functools.lru_cache(maxsize=4)  # the camera shows one subject at a time; frames can be large
def _base_scene(subject: int | None, rows: int, cols: int) -> np.ndarray:
    """The noiseless frame (uint8); cached because the preview asks for it ~10 times a second."""
    rng = np.random.default_rng([0xFACE, (subject if subject is not None else 0) & 0xFFFFFFFF,
                                 0 if subject is None else 1])
    wall = _wall(rng, rows, cols)
    if subject is None:
        frame = wall
    else:
        person, matte = _person(rng, rows, cols)
        frame = wall * (1.0 - matte[..., None]) + person * matte[..., None]
    frame = np.clip(frame, 0, 255).round().astype(np.uint8)
    frame.setflags(write=False)  # shared by every caller through the cache
    return frame


def _wall(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A painted wall: a pale tint, a soft uneven light, a faint plaster grain."""
    from PIL import Image

    hue, sat, val = rng.uniform(0, 1), rng.uniform(0.04, 0.22), rng.uniform(0.72, 0.9)
    colour = np.array(colorsys.hsv_to_rgb(hue, sat, val), np.float32) * 255
    # Light falls off away from a lamp somewhere above the frame.
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    lamp_x = rng.uniform(0.2, 0.8) * cols
    light = 1.0 - 0.12 * np.hypot((xx - lamp_x) / cols, (yy + 0.3 * rows) / rows)
    blotch = Image.fromarray(rng.normal(0, 1, (6, 8)).astype(np.float32))
    blotch = np.asarray(blotch.resize((cols, rows), Image.Resampling.BICUBIC), np.float32)
    grain = rng.normal(0, 1, (rows, cols)).astype(np.float32)
    shade = light * (1.0 + 0.025 * blotch) + 0.012 * grain
    return colour[None, None, :] * shade[..., None]


def _person(rng: np.random.Generator, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
    """The portrait placed in a rows x cols frame: (RGB float 0..255, matte 0..1)."""
    from PIL import Image

    rgb, matte = _portrait()
    if rng.uniform() < 0.5:
        rgb, matte = np.ascontiguousarray(rgb[:, ::-1]), np.ascontiguousarray(matte[:, ::-1])
    # Head and shoulders fill most of the height, as the kiosk's framing guide asks.
    height = int(round(rows * rng.uniform(0.86, 1.0)))
    scale = height / rgb.shape[0]
    width = max(1, int(round(rgb.shape[1] * scale)))
    rgb = np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BICUBIC), np.float32)
    matte = np.asarray(Image.fromarray(matte).resize((width, height), Image.Resampling.BILINEAR),
                       np.float32) / 255

    # Skin, hair and clothes: overall brightness and warmth, then a gentle gamma.
    bright, warm, gamma = rng.uniform(0.6, 1.05), rng.uniform(-0.05, 0.08), rng.uniform(0.85, 1.15)
    gains = bright * np.array([1 + warm, 1.0, 1 - warm], np.float32)
    rgb = 255.0 * (np.clip(rgb * gains / 255.0, 0, 1) ** gamma)

    # Place: horizontally near the centre, standing on the bottom edge (feet out of view).
    centre_x = cols / 2 + rng.uniform(-0.05, 0.05) * cols
    left = int(round(centre_x - width / 2))
    top = rows - height + int(round(rng.uniform(0.0, 0.04) * rows))
    out_rgb = np.zeros((rows, cols, 3), np.float32)
    out_m = np.zeros((rows, cols), np.float32)
    sy0, sx0 = max(0, -top), max(0, -left)
    dy0, dx0 = max(0, top), max(0, left)
    h = min(height - sy0, rows - dy0)
    w = min(width - sx0, cols - dx0)
    out_rgb[dy0:dy0 + h, dx0:dx0 + w] = rgb[sy0:sy0 + h, sx0:sx0 + w]
    out_m[dy0:dy0 + h, dx0:dx0 + w] = matte[sy0:sy0 + h, sx0:sx0 + w]
    return out_rgb, out_m


@functools.lru_cache(maxsize=1)
def _portrait() -> tuple[np.ndarray, np.ndarray]:
    """The photo widened with shoulders (uint8 RGB) and its matte (uint8, 255 = person), once."""
    from PIL import Image, ImageFilter

    with Image.open(ASSET) as im:
        rgb = np.asarray(im.convert("RGB"))
    f = rgb.astype(np.float32) / 255
    hi, lo = f.max(axis=2), f.min(axis=2)
    # The studio backdrop is pale and grey; the person is coloured or dark. Pale grey also
    # occurs inside the person (teeth, eyes, the helmet ring), so only pale grey reachable
    # from the top and sides of the photo counts as backdrop.
    candidate = ((hi - lo) / np.maximum(hi, 1e-3) < 0.16) & (hi > 0.55)
    seeds = np.zeros_like(candidate)
    seeds[0, :] = True
    seeds[: rgb.shape[0] // 2, [0, -1]] = True
    backdrop = _reachable(candidate, seeds & candidate)
    matte = Image.fromarray(np.where(backdrop, 0, 255).astype(np.uint8))
    # A slightly shrunk, softened edge hides the halo of backdrop pixels around the hair.
    matte = matte.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.GaussianBlur(1.2))
    return _with_shoulders(rgb, np.asarray(matte))


def _with_shoulders(rgb: np.ndarray, matte: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Widen the narrow photo with plain suit shoulders, so that the person does not end in a
    straight cut where the crop ended; a frame is wider than the 3:4 photo."""
    rows, cols = matte.shape
    ext = int(cols * 0.6)
    out = np.zeros((rows, cols + 2 * ext, 3), np.float32)
    out_m = np.zeros((rows, cols + 2 * ext), np.float32)
    out[:, ext:ext + cols] = rgb
    out_m[:, ext:ext + cols] = matte
    # The suit colour: the median of the bottom corners, where the photo shows only the suit.
    corner = np.concatenate([rgb[-25:, :25], rgb[-25:, -25:]]).reshape(-1, 3)
    suit = np.median(corner, axis=0).astype(np.float32)
    y = np.arange(rows, dtype=np.float32)[:, None]
    d = (np.arange(ext, dtype=np.float32)[None, :] + 0.5) / ext  # 0 at the photo, 1 outside
    for side in (0, 1):
        edge = matte[:, 0 if side == 0 else -1] > 128
        if not edge.any():
            continue
        y0 = float(np.argmax(edge))  # where the person meets the photo's edge
        # The shoulder line falls away from the neck and rounds off into the arm.
        top = y0 + (rows - y0) * (0.3 * d + 0.55 * d ** 2)
        inside = np.clip((y - top) / 3.0, 0, 1)
        shade = (1.0 - 0.35 * d) * (0.9 + 0.1 * (y / rows))
        block = suit[None, None, :] * shade[..., None]
        if side == 0:
            block, inside = block[:, ::-1], inside[:, ::-1]
            out[:, :ext], out_m[:, :ext] = block, 255 * inside
        else:
            out[:, ext + cols:], out_m[:, ext + cols:] = block, 255 * inside
    # Soften the seam between the photo and the painted shoulders.
    for x in (ext, ext + cols - 1):
        lo, hi = x - 4, x + 5
        out[:, lo:hi] = out[:, lo:hi].mean(axis=1, keepdims=True) * 0.5 + out[:, lo:hi] * 0.5
    return np.clip(out, 0, 255).astype(np.uint8), out_m.astype(np.uint8)


def _reachable(allowed: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Pixels of ``allowed`` 4-connected to ``seeds`` (flood fill without scipy or OpenCV)."""
    region = seeds.copy()
    while True:
        grown = region.copy()
        grown[1:] |= region[:-1]
        grown[:-1] |= region[1:]
        grown[:, 1:] |= region[:, :-1]
        grown[:, :-1] |= region[:, 1:]
        grown &= allowed
        if np.array_equal(grown, region):
            return region
        region = grown
