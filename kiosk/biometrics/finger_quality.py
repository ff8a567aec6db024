"""Quality gate for one fingerprint image (uint8 grey, dark ridges on light, ~500 dpi).

The image is cut into 16x16 px blocks. A block is *foreground* (finger touching the glass) when
its grey-level standard deviation is at least 12 and its mean is below 235: the glass alone is
flat and light. Over the foreground blocks three measures are averaged:

- contrast   block standard deviation: 0 at 10, 1 from 45 grey levels
- clarity    share of the block's spectral energy (32x32 window around the block, mean
             removed, Hann-tapered) at ridge frequencies, periods 6-16 px: 0 at 0.35,
             1 from 0.75. Ridges put nearly all their energy there, noise and smudge do not.
- coherence  orientation certainty of the structure tensor of the gradients smoothed over the
             block, (l1 - l2) / (l1 + l2): 0 at 0.25, 1 from 0.7. Parallel ridges give ~0.9,
             noise ~0.1.

The contact factor is min(1, foreground fraction / 0.40) ** 0.5.

quality = round(100 x contact x (0.40 clarity + 0.35 coherence + 0.25 contrast)).

Reasons: "empty_image" when the image is flat (std < 4) or under 3% of it is foreground;
"too_little_contact" when under 20% is; "low_clarity" when the mean clarity or coherence is
below its midpoint (0.55 / 0.45); "quality_low" when only the score is below ``min_quality``.
The finger is accepted when no reason was raised and quality >= ``min_quality``.

The capture gate (:func:`gate`) is two stages. This fast image check comes first: it names
what the operator can fix (press flatter, clean the glass). An image it accepts is then scored
by :mod:`kiosk.biometrics.quality` (NFIQ 2-style, 0..100, from foreground area, orientation
certainty, ridge clarity, ridge frequency and the minutiae found — which are kept as the
template): with fewer than ``MIN_MINUTIAE`` (12, the count below which examiners and matchers
cannot tell fingers apart: clean parallel ridges score well on every other feature) or under
``quality.UNUSABLE`` (20) it is refused ("too_few_features"); under
``quality.ACCEPT`` (40) it is refused while retries remain ("quality_low") and accepted, flagged
``low_quality``, on the last one — a poor print of a present finger beats an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kiosk.messages import Message

EMPTY_IMAGE = Message("empty_image", "Tidak ada sidik jari pada gambar. Letakkan jari di tengah pemindai.",
                      "No fingerprint in the image. Place the finger in the middle of the scanner.")
TOO_LITTLE_CONTACT = Message("too_little_contact",
                             "Jari kurang menempel. Tekan jari rata di tengah pemindai, lalu ulangi.",
                             "Too little of the finger touches. Press the finger flat in the middle "
                             "of the scanner, then try again.")
LOW_CLARITY = Message("low_clarity",
                      "Guratan sidik jari kurang jelas. Bersihkan jari dan kaca pemindai, lalu ulangi.",
                      "The ridges are not clear. Clean the finger and the scanner glass, then try again.")
QUALITY_LOW = Message("quality_low", "Kualitas kurang baik, ulangi.", "Quality too low, try again.")
TOO_FEW_FEATURES = Message("too_few_features",
                           "Ciri sidik jari terlalu sedikit. Tekan jari lebih rata dan sedikit lebih lama, lalu ulangi.",
                           "Too few fingerprint features were found. Press the finger flatter and a little longer, "
                           "then try again.")

BLOCK = 16
MIN_MINUTIAE = 12
FG_STD, FG_MEAN_MAX = 12.0, 235.0
RIDGE_PERIODS = (6.0, 16.0)


@dataclass(frozen=True)
class FingerQuality:
    accepted: bool
    quality: int
    reasons: tuple[Message, ...]
    nfiq: int | None = None          # the NFIQ 2-style score, when the image got that far
    low_quality: bool = False        # accepted on the last try under quality.ACCEPT

    def as_dict(self, lang: str = "id") -> dict:
        return {"accepted": self.accepted, "quality": self.quality, "nfiq": self.nfiq,
                "low_quality": self.low_quality, "reasons": [r.as_dict(lang) for r in self.reasons]}


def gate(gray: np.ndarray, *, position: int, min_quality: int = 40, last_try: bool = False):
    """The capture gate (module docstring): ``(FingerQuality, Template or None)``.

    The template is the one the NFIQ 2-style score found on its way, so an accepted finger is
    not extracted twice. A failure inside the scoring is not the resident's fault: the image
    check's verdict stands and the template is left for the commit to extract from the PNG."""
    import logging

    from kiosk.biometrics import quality as nfiq

    first = assess_finger(gray, min_quality=min_quality)
    if not first.accepted:
        return first, None
    try:
        scored = nfiq.assess(np.asarray(gray), position=position)
    except Exception as exc:  # noqa: BLE001 - logged by type only: never the image
        logging.getLogger(__name__).warning("quality scoring failed for finger %d: %s", position, type(exc).__name__)
        return first, None
    if scored.score < nfiq.UNUSABLE or scored.features.get("minutiae", 0) < MIN_MINUTIAE:
        return FingerQuality(False, first.quality, (TOO_FEW_FEATURES,), scored.score), None
    if scored.score < nfiq.ACCEPT and not last_try:
        return FingerQuality(False, first.quality, (QUALITY_LOW,), scored.score), None
    return (FingerQuality(True, first.quality, (), scored.score, low_quality=scored.score < nfiq.ACCEPT),
            scored.template)


def assess_finger(gray: np.ndarray, *, min_quality: int = 40) -> FingerQuality:
    """Judge one fingerprint image; see the module docstring for the score."""
    img = np.asarray(gray)
    if img.ndim != 2 or img.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 grey image, got {img.dtype} {img.shape}")
    rows, cols = (img.shape[0] // BLOCK) * BLOCK, (img.shape[1] // BLOCK) * BLOCK
    if rows < 2 * BLOCK or cols < 2 * BLOCK or float(img.std()) < 4.0:
        return FingerQuality(False, 0, (EMPTY_IMAGE,))
    f = img[:rows, :cols].astype(np.float32)

    blocks = f.reshape(rows // BLOCK, BLOCK, cols // BLOCK, BLOCK)
    std, mean = blocks.std(axis=(1, 3)), blocks.mean(axis=(1, 3))
    fg = (std >= FG_STD) & (mean < FG_MEAN_MAX)
    fg_fraction = float(fg.mean())
    if fg_fraction < 0.03:
        return FingerQuality(False, 0, (EMPTY_IMAGE,))

    contrast = float(np.clip((std[fg] - 10) / 35, 0, 1).mean())
    clarity = float(_ridge_energy(f, fg).mean())
    coherence = float(_coherence(f)[fg].mean())
    clarity_s = _ramp(clarity, 0.35, 0.75)
    coherence_s = _ramp(coherence, 0.25, 0.70)
    contact = min(1.0, fg_fraction / 0.40) ** 0.5
    quality = int(round(100 * contact * (0.40 * clarity_s + 0.35 * coherence_s + 0.25 * contrast)))

    reasons: list[Message] = []
    if fg_fraction < 0.20:
        reasons.append(TOO_LITTLE_CONTACT)
    if clarity_s < 0.5 or coherence_s < 0.5:
        reasons.append(LOW_CLARITY)
    if not reasons and quality < min_quality:
        reasons.append(QUALITY_LOW)
    return FingerQuality(not reasons, quality, tuple(reasons))


def _ridge_energy(f: np.ndarray, fg: np.ndarray) -> np.ndarray:
    """Per foreground block: the share of AC spectral energy at ridge periods."""
    win = 2 * BLOCK
    pad = np.pad(f, BLOCK // 2, mode="reflect")
    ys, xs = np.nonzero(fg)
    patches = np.stack([pad[y * BLOCK:y * BLOCK + win, x * BLOCK:x * BLOCK + win] for y, x in zip(ys, xs)])
    patches = patches - patches.mean(axis=(1, 2), keepdims=True)
    taper = np.outer(np.hanning(win), np.hanning(win)).astype(np.float32)
    power = np.abs(np.fft.rfft2(patches * taper)) ** 2
    power[:, 0, 0] = 0.0  # the taper brings back a little DC; it is not structure
    fy = np.fft.fftfreq(win)[:, None]
    fx = np.fft.rfftfreq(win)[None, :]
    radius = np.hypot(fy, fx)
    band = (radius >= 1 / RIDGE_PERIODS[1]) & (radius <= 1 / RIDGE_PERIODS[0])
    total = power.sum(axis=(1, 2)) + 1e-6
    return power[:, band].sum(axis=1) / total


def _coherence(f: np.ndarray) -> np.ndarray:
    """Orientation certainty per block from the block-summed gradient structure tensor."""
    gy, gx = np.gradient(f)
    r, c = f.shape[0] // BLOCK, f.shape[1] // BLOCK

    def block_sum(a):
        return a.reshape(r, BLOCK, c, BLOCK).sum(axis=(1, 3))

    gxx, gyy, gxy = block_sum(gx * gx), block_sum(gy * gy), block_sum(gx * gy)
    return np.sqrt((gxx - gyy) ** 2 + 4 * gxy ** 2) / (gxx + gyy + 1e-6)


def _ramp(value: float, lo: float, hi: float) -> float:
    return float(np.clip((value - lo) / (hi - lo), 0.0, 1.0))
