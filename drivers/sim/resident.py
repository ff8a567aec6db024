"""A synthetic resident for training, demos, tests and benchmarks.

Her biodata agrees with NIK ``640306 41 07 90 SSSS`` (Kec. Gunung Tabur, Kab. Berau; a woman,
day 41 = 1 + 40, born 1 July 1990); the serial ``SSSS`` makes each recording's NIK distinct.
"""

from __future__ import annotations

import io

BIODATA = {
    "name": "Siti Aminah", "birth_place": "Tanjung Redeb", "birth_date": "1990-07-01", "sex": "P",
    "blood_type": "O", "address": "Jl. Sultan Agung 12", "rt": "3", "rw": "1", "village": "Gunung Tabur",
    "district": "Gunung Tabur", "religion": "Islam", "marital_status": "Kawin", "occupation": "Petani",
    "citizenship": "WNI",
}


def nik(serial: int) -> str:
    """The resident's NIK with serial ``serial`` (1..9999; larger values wrap)."""
    return f"640306410790{serial % 10000:04d}"


def signature_png() -> bytes:
    """A signature as the touch screen's pad would send it: dark strokes on white, PNG."""
    from PIL import Image, ImageDraw
    img = Image.new("L", (400, 150), 255)
    d = ImageDraw.Draw(img)
    d.line([(20, 100), (80, 40), (140, 110), (200, 50), (260, 120), (330, 60)], fill=0, width=5)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
