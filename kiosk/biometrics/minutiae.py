"""Minutiae extraction from one fingerprint image (uint8 grey, dark ridges on light, 500 dpi).

The pipeline, each step chosen so that the whole runs in a few tens of ms in numpy + OpenCV
(no scikit-image, no ``cv2.ximgproc``, neither of which the kiosk ships):

1. segmentation   local grey-level spread over a ~2-period window; the finger is where it is
                  high. Smoothed by morphology, the largest blob kept, holes filled.
2. normalisation  subtract the local mean, divide by the local spread: contrast, pressure and
                  background no longer matter; ridges become positive.
3. orientation    the gradient structure tensor smoothed over about one ridge period;
                  coherence (0 noise .. 1 parallel ridges) comes with it.
4. frequency      one ridge period per image, from the mean spectrum of foreground tiles (the
                  period varies only a little over a fingertip at a fixed resolution).
5. enhancement    a bank of 16 even Gabor filters tuned to that period; every pixel takes the
                  response of the filter matching its orientation (blending the two nearest).
6. binarisation   the enhanced image's sign inside the foreground.
7. thinning       Zhang–Suen, vectorised with a 256-entry lookup table per sub-iteration.
8. minutiae       crossing number on the skeleton: 1 a ridge ending, 3 a bifurcation.
9. false minutiae dropped near the border of the print, in incoherent areas, in close pairs
                  (a spur, a bridge or a hole leaves two minutiae a few pixels apart), as
                  facing endings across a small gap (a broken ridge) and in crowded clusters.

Angles are in the ISO/IEC 19794-2 sense: radians counter-clockwise from the image's x axis as
seen on screen (y grows downwards in the array, hence the sign flip). A ridge ending points
into its ridge, a bifurcation into the valley between its two forks; the two agree under the
ridge/valley duality, so a minutia that changes type with pressure keeps its angle. The local
ridge orientation gives the precise angle; the skeleton around the point only decides which of
the two opposite directions it is.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

ALGORITHM = "ektp-minutiae-1"  # stored beside each template; bump when the extraction changes
ENDING, BIFURCATION, OTHER = 1, 2, 0   # ISO/IEC 19794-2 type codes (01, 10, 00)
GABOR_BINS = 16
BORDER_MARGIN = 12        # px from the print's edge inside which minutiae are not trusted
MAX_MINUTIAE = 120        # an ISO record holds up to 255; more than ~100 is noise at 288x256


@dataclass(frozen=True)
class Template:
    """Minutiae of one finger view, as arrays (one entry per minutia).

    ``x``, ``y`` pixels (origin top-left, y down), ``angle`` radians (see the module
    docstring), ``kind`` ISO type code, ``quality`` 1..100 per minutia. ``quality`` of the view
    is 0..100 (0 = not assessed), ``position`` the ISO finger code (0 = unknown).
    """

    width: int
    height: int
    x: np.ndarray
    y: np.ndarray
    angle: np.ndarray
    kind: np.ndarray
    minutia_quality: np.ndarray
    position: int = 0
    quality: int = 0
    resolution_ppcm: int = 197
    extras: dict = field(default_factory=dict, compare=False, repr=False)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @staticmethod
    def from_arrays(width, height, x, y, angle, kind, minutia_quality, **kw) -> "Template":
        return Template(int(width), int(height), np.asarray(x, np.int32), np.asarray(y, np.int32),
                        np.asarray(angle, np.float64) % (2 * math.pi), np.asarray(kind, np.uint8),
                        np.asarray(minutia_quality, np.uint8), **kw)


def extract(gray: np.ndarray, *, position: int = 0) -> Template:
    """Extract the minutiae of one fingerprint image; see the module docstring."""
    import cv2

    img = np.asarray(gray)
    if img.ndim != 2 or img.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 grey image, got {img.dtype} {img.shape}")
    h, w = img.shape
    f = img.astype(np.float32)
    empty = Template.from_arrays(w, h, [], [], [], [], [], position=position)
    if h < 32 or w < 32 or float(f.std()) < 4.0:
        return empty

    mask, spread = _segment(f)
    if mask.sum() < 0.03 * h * w:
        return empty
    mean = cv2.blur(f, (17, 17))
    norm = -(f - mean) / (spread + 8.0)  # ridges positive; +8 keeps flat glass from blowing up

    theta, coherence = _orientation(norm)
    period = _ridge_period(norm, mask)
    enhanced = _gabor_enhance(norm, theta, period)
    ridges = ((enhanced > 0) & (mask > 0)).astype(np.uint8)
    skeleton = _thin(ridges)

    ys, xs, kinds = _crossing_minutiae(skeleton)
    border = cv2.distanceTransform(np.pad(mask, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    keep = (border[ys, xs] >= BORDER_MARGIN) & (coherence[ys, xs] >= 0.25)
    ys, xs, kinds = ys[keep], xs[keep], kinds[keep]
    angles = _angles(skeleton, ys, xs, theta)
    keep = _drop_false(ys, xs, kinds, angles, period)
    ys, xs, kinds, angles = ys[keep], xs[keep], kinds[keep], angles[keep]

    q = np.clip(coherence[ys, xs] / 0.7, 0, 1) * np.clip(border[ys, xs] / (3 * BORDER_MARGIN), 0.3, 1)
    mq = np.clip(np.round(100 * q), 1, 100)
    if len(xs) > MAX_MINUTIAE:
        best = np.argsort(-mq, kind="stable")[:MAX_MINUTIAE]
        xs, ys, angles, kinds, mq = xs[best], ys[best], angles[best], kinds[best], mq[best]
    view_q = int(round(100 * float(np.clip(coherence[mask > 0].mean() / 0.8, 0, 1))
                       * min(1.0, float(mask.mean()) / 0.35) ** 0.5))
    return Template.from_arrays(w, h, xs, ys, angles, kinds, mq, position=position, quality=view_q,
                                extras={"period": period, "foreground": float(mask.mean())})


def extract_png(data: bytes, *, position: int = 0) -> Template:
    """Extract from a stored lossless image (the enrollment keeps each finger as a PNG)."""
    import cv2

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError("not a decodable image")
    return extract(img, position=position)


def _segment(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Foreground mask (uint8 0/1) and the local grey-level spread."""
    import cv2

    k = (17, 17)
    mean = cv2.blur(f, k)
    spread = np.sqrt(np.maximum(cv2.blur(f * f, k) - mean * mean, 0))
    raw = ((spread > 12.0) & (mean < 235.0)).astype(np.uint8)
    ell = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    m = cv2.morphologyEx(raw, cv2.MORPH_CLOSE, ell)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, ell)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return np.zeros_like(m), spread
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    m = (labels == biggest).astype(np.uint8)
    # Fill holes: whatever the background flood cannot reach belongs to the finger.
    flood = np.pad(m, 1)
    cv2.floodFill(flood, None, (0, 0), 2)
    m = (flood[1:-1, 1:-1] != 2).astype(np.uint8)
    return m, spread


def _orientation(norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ridge direction (radians mod pi, image axes x right / y down) and coherence per pixel."""
    import cv2

    gx = cv2.Sobel(norm, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(norm, cv2.CV_32F, 0, 1, ksize=3)
    sigma = 7.0
    gxx = cv2.GaussianBlur(gx * gx, (0, 0), sigma)
    gyy = cv2.GaussianBlur(gy * gy, (0, 0), sigma)
    gxy = cv2.GaussianBlur(gx * gy, (0, 0), sigma)
    # The gradient points across the ridges; the ridge runs at right angles to it.
    theta = 0.5 * np.arctan2(2 * gxy, gxx - gyy) + math.pi / 2
    coherence = np.sqrt((gxx - gyy) ** 2 + 4 * gxy * gxy) / (gxx + gyy + 1e-6)
    return np.mod(theta, math.pi), coherence


def _ridge_period(norm: np.ndarray, mask: np.ndarray) -> float:
    """Dominant ridge period (px) from the mean power spectrum of 32x32 foreground tiles."""
    t = 32
    h, w = (norm.shape[0] // t) * t, (norm.shape[1] // t) * t
    tiles = norm[:h, :w].reshape(h // t, t, w // t, t).transpose(0, 2, 1, 3)
    fg = mask[:h, :w].reshape(h // t, t, w // t, t).mean(axis=(1, 3)) > 0.9
    if fg.sum() < 2:
        return 9.0
    patches = tiles[fg]
    patches = patches - patches.mean(axis=(1, 2), keepdims=True)
    taper = np.outer(np.hanning(t), np.hanning(t)).astype(np.float32)
    power = (np.abs(np.fft.rfft2(patches * taper)) ** 2).mean(axis=0)
    radius = np.hypot(np.fft.fftfreq(t)[:, None], np.fft.rfftfreq(t)[None, :])
    bins = np.round(radius * t).astype(int)  # ring k = period t / k
    ring = np.bincount(bins.ravel(), power.ravel(), minlength=t)
    lo, hi = 2, int(math.floor(t / 5.5))
    k = lo + int(np.argmax(ring[lo:hi + 1]))
    # Parabolic interpolation between rings: the period is rarely a whole fraction of 32.
    if lo < k < hi:
        a, b, c = ring[k - 1], ring[k], ring[k + 1]
        k = k + 0.5 * (a - c) / (a - 2 * b + c + 1e-9)
    return float(np.clip(t / k, 6.0, 14.0))


def _gabor_kernel(theta: float, period: float) -> np.ndarray:
    """Even Gabor kernel for ridges along ``theta``; longer along the ridge than across it."""
    s_across, s_along = 0.45 * period, 0.7 * period
    half = int(math.ceil(2.5 * s_along))
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float64)
    across = -xx * math.sin(theta) + yy * math.cos(theta)
    along = xx * math.cos(theta) + yy * math.sin(theta)
    k = np.exp(-across ** 2 / (2 * s_across ** 2) - along ** 2 / (2 * s_along ** 2))
    k *= np.cos(2 * math.pi * across / period)
    k -= k.mean()
    return (k / np.abs(k).sum()).astype(np.float32)


def _gabor_enhance(norm: np.ndarray, theta: np.ndarray, period: float) -> np.ndarray:
    import cv2

    # The whole bank in the frequency domain: one forward transform of the image, one product
    # and one inverse per orientation — about 4x cheaper than 16 spatial 33x33 convolutions.
    h, w = norm.shape
    padded = cv2.copyMakeBorder(norm, _PAD, _PAD, _PAD, _PAD, cv2.BORDER_REFLECT)
    shape = (cv2.getOptimalDFTSize(padded.shape[0]), cv2.getOptimalDFTSize(padded.shape[1]))
    spectrum = np.fft.rfft2(padded, s=shape).astype(np.complex64)
    bank = np.fft.irfft2(spectrum[None] * _bank_spectra(round(period * 2) / 2, shape), s=shape, axes=(1, 2))
    bank = bank[:, _PAD:_PAD + h, _PAD:_PAD + w]
    pos = theta / math.pi * GABOR_BINS
    lo = np.floor(pos).astype(np.int32) % GABOR_BINS
    frac = (pos - np.floor(pos)).astype(np.float32)
    hi = (lo + 1) % GABOR_BINS
    a = np.take_along_axis(bank, lo[None], 0)[0]
    b = np.take_along_axis(bank, hi[None], 0)[0]
    return (a * (1 - frac) + b * frac).astype(np.float32)


_PAD = 32  # > the kernels' half width, so the circular transform never wraps ridges around


@functools.lru_cache(maxsize=6)  # ~6 MB each; periods are rounded to 0.5 px, so few occur
def _bank_spectra(period: float, shape: tuple[int, int]) -> np.ndarray:
    """Transforms of the 16 Gabor kernels for ``period``, centred at the origin (wrapped)."""
    out = np.empty((GABOR_BINS, shape[0], shape[1] // 2 + 1), np.complex64)
    for k in range(GABOR_BINS):
        kern = _gabor_kernel(math.pi * k / GABOR_BINS, period)
        half = kern.shape[0] // 2
        canvas = np.zeros(shape, np.float32)
        canvas[:kern.shape[0], :kern.shape[1]] = kern
        canvas = np.roll(canvas, (-half, -half), axis=(0, 1))
        out[k] = np.fft.rfft2(canvas)
    return out


# Neighbour bits, clockwise from north: P2 (N)=1, P3 (NE)=2, P4 (E)=4, ... P9 (NW)=128.
_OFFSETS = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]


def _neighbour_code(img: np.ndarray) -> np.ndarray:
    p = np.pad(img, 1)
    h, w = img.shape
    code = np.zeros((h, w), np.int32)
    for bit, (dy, dx) in enumerate(_OFFSETS):
        code |= p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w].astype(np.int32) << bit
    return code


def _zhang_suen_tables() -> tuple[np.ndarray, np.ndarray]:
    tables = []
    for step in (0, 1):
        t = np.zeros(256, bool)
        for c in range(256):
            p = [(c >> i) & 1 for i in range(8)]   # P2..P9
            b = sum(p)
            a = sum(p[i] == 0 and p[(i + 1) % 8] == 1 for i in range(8))
            p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
            if step == 0:
                ok = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
            else:
                ok = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
            t[c] = 2 <= b <= 6 and a == 1 and ok
        tables.append(t)
    return tables[0], tables[1]


_ZS = _zhang_suen_tables()
_CROSSING = np.array([sum(((c >> i) & 1) != ((c >> ((i + 1) % 8)) & 1) for i in range(8)) // 2
                      for c in range(256)], np.int32)


def _thin(binary: np.ndarray) -> np.ndarray:
    """Zhang–Suen thinning of a 0/1 image to one-pixel-wide ridges."""
    img = binary.astype(np.uint8).copy()
    for _ in range(40):  # ridges are < 10 px wide: ~5 passes do it; the cap guards odd input
        changed = False
        for table in _ZS:
            delete = (img == 1) & table[_neighbour_code(img)]
            if delete.any():
                img[delete] = 0
                changed = True
        if not changed:
            break
    return img


def _crossing_minutiae(skel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    code = _neighbour_code(skel)
    cn = np.where(skel > 0, _CROSSING[code], 0)
    ys, xs = np.nonzero((cn == 1) | (cn == 3))
    kinds = np.where(cn[ys, xs] == 1, ENDING, BIFURCATION).astype(np.uint8)
    return ys, xs, kinds


def _angles(skel: np.ndarray, ys: np.ndarray, xs: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """ISO angle per minutia: the ridge orientation, turned to point into the ridge (ending)
    or between the forks (bifurcation) as the skeleton around the point shows."""
    import cv2

    r = 9
    pad = np.pad(skel, r)
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    dist = np.hypot(yy, xx)
    ring = (dist >= 3.5) & (dist <= r)
    uy, ux = np.where(ring, yy / np.maximum(dist, 1), 0), np.where(ring, xx / np.maximum(dist, 1), 0)
    out = np.empty(len(ys))
    for i, (y, x) in enumerate(zip(ys, xs)):
        win = np.ascontiguousarray(pad[y:y + 2 * r + 1, x:x + 2 * r + 1])
        _, labels = cv2.connectedComponents(win, connectivity=8)
        own = (labels == labels[r, r]) & ring
        vy, vx = float((uy * own).sum()), float((ux * own).sum())
        t = float(theta[y, x])  # mod pi, image axes
        # Pick the orientation's sense that agrees with the skeleton's pull.
        if math.cos(t) * vx + math.sin(t) * vy < 0:
            t += math.pi
        out[i] = -t  # image axes (y down) -> counter-clockwise on screen
    return np.mod(out, 2 * math.pi)


def _drop_false(ys, xs, kinds, angles, period: float) -> np.ndarray:
    """Mask of minutiae to keep after removing the usual artefacts of a skeleton."""
    n = len(xs)
    keep = np.ones(n, bool)
    if n < 2:
        return keep
    p = np.stack([xs, ys], 1).astype(np.float64)
    d = np.hypot(*(p[:, None, :] - p[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    # Spurs, bridges, holes and short islands: two minutiae within ~a ridge period.
    close = d < 0.8 * period
    keep &= ~close.any(axis=1)
    # A broken ridge: two endings facing each other across a short gap.
    da = np.abs((angles[:, None] - angles[None, :] + math.pi) % (2 * math.pi) - math.pi)
    both_end = (kinds[:, None] == ENDING) & (kinds[None, :] == ENDING)
    facing = both_end & (d < 1.8 * period) & (da > math.radians(150))
    keep &= ~facing.any(axis=1)
    # Crowds: many minutiae packed together mean noise, not skin.
    crowded = (d < 2.0 * period).sum(axis=1) >= 4
    keep &= ~crowded
    return keep
