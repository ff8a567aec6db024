"""Quality gate for the card photo, and the 3:4 portrait crop stored for the card.

The face is found with OpenCV's Haar frontal-face cascade: exactly one face must be found.
Four measures are taken on it, each mapped to a score from 0 to 1:

- size      face height / frame height: 0 at 0.12, 1 from 0.25 up ("face_too_small" below 0.18)
- centring  horizontal distance of the face centre from the frame centre (fraction of the width)
            and vertical distance from 42% of the height: 1 within 0.03 / 0.10, falling to 0
            ("face_off_centre" beyond 0.12 horizontally or 0.22 vertically)
- exposure  mean grey level inside the face: 1 between 90 and 180, 0 at 40 and at 235
            ("too_dark" below 60, "too_bright" above 205 or when over 20% of it is clipped white)
- sharpness variance of the Laplacian of the face resized to 128x128 px (so that it does not
            depend on the camera's resolution or the distance), per mille of the face's own
            grey-level variance (so that it does not depend on light or skin tone): 0 at 20,
            1 from 60 ("blurred" below 35; a sharp face gives about 70, the same face blurred
            by a Gaussian of 1 px per 480 rows about 25)

quality = round(100 x (0.30 sharpness + 0.25 exposure + 0.25 size + 0.20 centring)), and 0 when
there is not exactly one face. The photo is accepted when it has one face, no reason was
raised and quality >= ``min_quality``; a photo refused on the score alone says "quality_low".
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from kiosk.messages import Message

NO_FACE = Message("no_face", "Wajah tidak terlihat. Minta penduduk menghadap kamera.",
                  "No face visible. Ask the resident to face the camera.")
SEVERAL_FACES = Message("several_faces",
                        "Terlihat lebih dari satu wajah. Pastikan hanya penduduk yang ada di depan kamera.",
                        "More than one face is visible. Make sure only the resident is in front of the camera.")
FACE_TOO_SMALL = Message("face_too_small", "Wajah terlalu kecil. Minta penduduk mendekat ke kamera.",
                         "The face is too small. Ask the resident to come closer to the camera.")
FACE_OFF_CENTRE = Message("face_off_centre",
                          "Wajah tidak di tengah. Minta penduduk bergeser ke tengah garis bantu.",
                          "The face is not in the middle. Ask the resident to move to the centre of the guide.")
TOO_DARK = Message("too_dark", "Foto terlalu gelap. Nyalakan lampu atau hadapkan penduduk ke cahaya.",
                   "The photo is too dark. Turn on a light or turn the resident towards the light.")
TOO_BRIGHT = Message("too_bright", "Foto terlalu terang. Hindari cahaya matahari langsung atau lampu kilat.",
                     "The photo is too bright. Avoid direct sunlight or a flash.")
BLURRED = Message("blurred", "Foto kabur. Minta penduduk diam sejenak, lalu ambil ulang.",
                  "The photo is blurred. Ask the resident to keep still, then take it again.")
QUALITY_LOW = Message("quality_low", "Kualitas foto kurang baik, ambil ulang.",
                      "The photo quality is too low, take it again.")

DETECT_SIDE = 640      # detection runs on a copy whose longer side is at most this (speed)
MIN_FACE_FRACTION = 0.10  # smaller "faces" are background texture, not a resident at the kiosk


@dataclass(frozen=True)
class PhotoQuality:
    accepted: bool
    quality: int
    reasons: tuple[Message, ...]
    face_box: tuple[int, int, int, int] | None  # x, y, width, height in the frame's pixels

    def as_dict(self, lang: str = "id") -> dict:
        return {"accepted": self.accepted, "quality": self.quality,
                "reasons": [r.as_dict(lang) for r in self.reasons]}


def assess_photo(rgb: np.ndarray, *, min_quality: int = 50) -> PhotoQuality:
    """Judge one camera frame (rows x cols x 3 uint8 RGB, or rows x cols grey)."""
    import cv2

    gray = _gray(rgb)
    faces = detect_faces(gray)
    if len(faces) != 1:
        return PhotoQuality(False, 0, (NO_FACE if not faces else SEVERAL_FACES,), None)
    box = faces[0]
    x, y, w, h = box
    rows, cols = gray.shape
    reasons: list[Message] = []

    size = h / rows
    size_score = _ramp(size, 0.12, 0.25)
    if size < 0.18:
        reasons.append(FACE_TOO_SMALL)

    dx = abs((x + w / 2) / cols - 0.5)
    dy = abs((y + h / 2) / rows - 0.42)
    centre_score = float(np.clip(1 - max(dx - 0.03, 0) / 0.09 - max(dy - 0.10, 0) / 0.12, 0, 1))
    if dx > 0.12 or dy > 0.22:
        reasons.append(FACE_OFF_CENTRE)

    # The inner part of the box: the box edges catch hair and background.
    inner = gray[y + h // 5: y + h - h // 10, x + w // 6: x + w - w // 6]
    level = float(inner.mean())
    clipped = float((inner >= 250).mean())
    exposure_score = min(_ramp(level, 40, 90), 1 - _ramp(level, 180, 235))
    if level < 60:
        reasons.append(TOO_DARK)
    elif level > 205 or clipped > 0.2:
        reasons.append(TOO_BRIGHT)

    face = cv2.resize(gray[y:y + h, x:x + w], (128, 128), interpolation=cv2.INTER_AREA)
    sharpness = 1000 * float(cv2.Laplacian(face, cv2.CV_64F).var()) / max(float(face.var()), 1.0)
    sharp_score = _ramp(sharpness, 20, 60)
    if sharpness < 35:
        reasons.append(BLURRED)

    quality = int(round(100 * (0.30 * sharp_score + 0.25 * exposure_score
                               + 0.25 * size_score + 0.20 * centre_score)))
    if not reasons and quality < min_quality:
        reasons.append(QUALITY_LOW)
    return PhotoQuality(not reasons, quality, tuple(reasons), box)


def detect_faces(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Frontal faces in a grey frame as (x, y, w, h), largest first."""
    import cv2

    rows, cols = gray.shape
    factor = min(1.0, DETECT_SIDE / max(rows, cols))
    small = gray if factor == 1.0 else cv2.resize(gray, (round(cols * factor), round(rows * factor)),
                                                   interpolation=cv2.INTER_AREA)
    # No histogram equalisation: the cascade normalises contrast per window already, and
    # equalising made it find faces in the helmet ring and miss pale faces.
    side = max(24, int(MIN_FACE_FRACTION * min(small.shape)))
    cascade, lock = _cascade()
    with lock:  # one CascadeClassifier is not safe to share between threads
        found = cascade.detectMultiScale(small, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
    boxes = [tuple(int(round(v / factor)) for v in b) for b in found]
    boxes = [(max(0, x), max(0, y), min(w, cols - max(0, x)), min(h, rows - max(0, y)))
             for x, y, w, h in boxes]
    return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)


def crop_portrait(rgb: np.ndarray, face_box: tuple[int, int, int, int] | None) -> np.ndarray:
    """A 3:4 head-and-shoulders crop around ``face_box`` (a copy), for the card.

    The cascade's box spans roughly brow to chin, so the crop is two box widths wide and leaves
    about half a box above it for the hair. Near the frame's edge the crop shrinks (keeping 3:4)
    rather than padding with invented pixels. Without a box, the centred 3:4 crop of the frame.
    """
    rows, cols = rgb.shape[:2]
    if face_box is None:
        width = min(cols, rows * 3 / 4)
        cx, top = cols / 2, (rows - width * 4 / 3) / 2
    else:
        x, y, w, h = face_box
        width = 2.0 * w
        cx, top = x + w / 2, y - 0.6 * w
    width = min(width, cols, rows * 3 / 4)
    height = width * 4 / 3
    left = min(max(cx - width / 2, 0), cols - width)
    top = min(max(top, 0), rows - height)
    l, t = int(round(left)), int(round(top))
    wi, hi = int(width) // 3 * 3, int(width) // 3 * 4  # exact 3:4 in whole pixels
    return np.ascontiguousarray(rgb[t:t + hi, l:l + wi]).copy()


@functools.lru_cache(maxsize=1)
def _cascade():
    import cv2

    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(f"OpenCV face cascade missing or unreadable: {path}")
    return cascade, threading.Lock()


def _gray(image: np.ndarray) -> np.ndarray:
    import cv2

    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    raise ValueError(f"expected rows x cols x 3 RGB, got shape {image.shape}")


def _ramp(value: float, lo: float, hi: float) -> float:
    return float(np.clip((value - lo) / (hi - lo), 0.0, 1.0))
