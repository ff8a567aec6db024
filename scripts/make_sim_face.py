"""Extract the simulated camera's face once: drivers/sim/data/face.jpg.

The source is scikit-image's ``astronaut`` test image (NASA portrait of Eileen Collins,
public domain), shipped inside the skimage package, so this needs no network. skimage is
only needed here, never at run time: the kiosk reads the small JPEG this writes.

    python scripts/make_sim_face.py [OUT]
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

# Head and shoulders, 3:4, centred on the face (the Haar cascade finds it at x=177 y=66 w=h=95
# in the 512x512 original); the native pixels are kept, resampling would only lose detail.
CROP = (119, 4, 329, 284)  # left, top, right, bottom
QUALITY = 88
MAX_BYTES = 40 * 1024

OUT = Path(__file__).resolve().parent.parent / "drivers" / "sim" / "data" / "face.jpg"


def main(argv: list[str]) -> int:
    from PIL import Image
    from skimage import data

    out = Path(argv[1]) if len(argv) > 1 else OUT
    image = Image.fromarray(data.astronaut()).crop(CROP)
    buf = io.BytesIO()
    # No EXIF or ICC: the file must carry only the pixels.
    image.save(buf, format="JPEG", quality=QUALITY, optimize=True)
    if buf.tell() > MAX_BYTES:
        print(f"face.jpg would be {buf.tell()} bytes, over {MAX_BYTES}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    print(f"{out}: {image.size[0]}x{image.size[1]}, {buf.tell()} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
