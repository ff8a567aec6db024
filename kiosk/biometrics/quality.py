"""NFIQ 2-style fingerprint quality score, 0..100, from the same steps as minutiae extraction.

NFIQ 2 (NIST IR 8382) feeds ~70 local and global features to a trained random forest. Without
its training data, this score keeps the features that carry most of NFIQ 2's weight and
combines them by a fixed, documented rule, each feature first scaled to 0..1:

- ``area``       foreground fraction of the image (NFIQ 2: ImgProcROIArea). 0 at 10 %, 1 from 45 %.
- ``ocl``        orientation certainty level: mean over foreground 32x32 blocks of
                 1 - λmin/λmax of the gradient covariance (NFIQ 2: OCL_Bar). 0 at 0.3, 1 from 0.8.
- ``clarity``    local clarity: per block, the squared correlation between the normalised image
                 and its Gabor-enhanced version — the share of the block that is clean ridge
                 pattern (plays the part of NFIQ 2's LCS_Bar). 0 at 0.2, 1 from 0.7.
- ``frequency``  ridge frequency validity: share of foreground blocks whose dominant period is
                 within 5-15 px and within 25 % of the print's own (NFIQ 2: FDA / RVU). 0 at 0.4,
                 1 from 0.85.
- ``minutiae``   number of reliable minutiae found (NFIQ 2: FJFXPos_Mu / count). 0 at 8, 1 from 35.

    score = round(100 · sqrt(area) · (0.30 ocl + 0.30 clarity + 0.15 frequency + 0.25 minutiae))

Threshold semantics, as with NFIQ 2 (higher is better, not a probability):
``score >= ACCEPT`` (40) — usable for enrolment; ``20 <= score < ACCEPT`` — recapture if retries
remain, otherwise usable with a flag; ``score < 20`` — unusable (nothing to match on). Good
synthetic captures score 70-95; those spoilt to ``quality <= 0.1`` score under 30.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiosk.biometrics import minutiae as M

ACCEPT = 40
UNUSABLE = 20
BLOCK = 32
WEIGHTS = {"ocl": 0.30, "clarity": 0.30, "frequency": 0.15, "minutiae": 0.25}
RAMPS = {"area": (0.10, 0.45), "ocl": (0.3, 0.8), "clarity": (0.2, 0.7), "frequency": (0.4, 0.85),
         "minutiae": (8, 35)}


@dataclass(frozen=True)
class Quality:
    score: int                      # 0..100
    features: dict                  # raw feature values (before scaling)
    template: M.Template | None     # the minutiae found on the way, to keep if accepted

    @property
    def usable(self) -> bool:
        return self.score >= ACCEPT


def assess(gray: np.ndarray, *, position: int = 0) -> Quality:
    """Score one image (uint8 grey, dark ridges on light, 500 dpi); see the module docstring."""
    import cv2

    img = np.asarray(gray)
    if img.ndim != 2 or img.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 grey image, got {img.dtype} {img.shape}")
    zero = {"area": 0.0, "ocl": 0.0, "clarity": 0.0, "frequency": 0.0, "minutiae": 0}
    if img.shape[0] < 2 * BLOCK or img.shape[1] < 2 * BLOCK or float(img.std()) < 4.0:
        return Quality(0, zero, None)
    f = img.astype(np.float32)
    mask, spread = M._segment(f)
    area = float(mask.mean())
    if area < 0.03:
        return Quality(0, dict(zero, area=area), None)
    norm = -(f - cv2.blur(f, (17, 17))) / (spread + 8.0)
    theta, _ = M._orientation(norm)
    period = M._ridge_period(norm, mask)
    enhanced = M._gabor_enhance(norm, theta, period)

    h, w = (img.shape[0] // BLOCK) * BLOCK, (img.shape[1] // BLOCK) * BLOCK

    def blocks(a):
        return a[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).transpose(0, 2, 1, 3)

    fg = blocks(mask).mean(axis=(2, 3)) > 0.75
    if not fg.any():
        return Quality(0, dict(zero, area=area), None)
    nb, eb = blocks(norm)[fg], blocks(enhanced)[fg]

    gy, gx = np.gradient(nb, axis=(1, 2))
    a, b, c = (gx * gx).mean((1, 2)), (gy * gy).mean((1, 2)), (gx * gy).mean((1, 2))
    root = np.sqrt((a - b) ** 2 + 4 * c * c)
    lmax, lmin = (a + b + root) / 2, (a + b - root) / 2
    ocl = float(np.mean(1 - lmin / np.maximum(lmax, 1e-9)))

    nc, ec = nb - nb.mean((1, 2), keepdims=True), eb - eb.mean((1, 2), keepdims=True)
    r = (nc * ec).sum((1, 2)) / np.sqrt((nc * nc).sum((1, 2)) * (ec * ec).sum((1, 2)) + 1e-9)
    clarity = float(np.mean(np.clip(r, 0, 1) ** 2))

    periods = _block_periods(nb)
    valid = (periods >= 5) & (periods <= 15) & (np.abs(periods - period) <= 0.25 * period)
    frequency = float(valid.mean())

    template = M.extract(img, position=position)
    raw = {"area": area, "ocl": ocl, "clarity": clarity, "frequency": frequency, "minutiae": len(template)}
    s = {k: float(np.clip((v - RAMPS[k][0]) / (RAMPS[k][1] - RAMPS[k][0]), 0, 1)) for k, v in raw.items()}
    score = 100 * np.sqrt(s["area"]) * sum(WEIGHTS[k] * s[k] for k in WEIGHTS)
    return Quality(int(round(score)), raw, template)


def _block_periods(blocks: np.ndarray) -> np.ndarray:
    """Dominant period (px) of each block from its spectrum's strongest ring."""
    taper = np.outer(np.hanning(BLOCK), np.hanning(BLOCK)).astype(np.float32)
    power = np.abs(np.fft.rfft2((blocks - blocks.mean((1, 2), keepdims=True)) * taper)) ** 2
    radius = np.hypot(np.fft.fftfreq(BLOCK)[:, None], np.fft.rfftfreq(BLOCK)[None, :])
    ring = np.round(radius * BLOCK).astype(int)
    power[:, ring < 2] = 0  # below 2 cycles per block is shading, not ridges
    k = ring.ravel()[np.argmax(power.reshape(len(blocks), -1), axis=1)]
    return BLOCK / np.maximum(k, 1)
