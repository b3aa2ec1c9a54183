#!/usr/bin/env python3
"""Writes engine/src/test/resources/exif/orientation-{1..8}.jpg: one 64x48 upright picture stored eight ways,
each with the EXIF orientation tag that turns it upright again, as phones write portrait and rotated photos.

The picture is a 4x3 grid of 16x16 blocks of distinct colours (no symmetry, block edges on JPEG's 8x8 and
16x16 grid, so the JPEG round trip moves pixels little). Quality 95, 4:4:4. Run from the repository root:
    python3 engine/src/test/python/make_exif_orientations.py
Needs python3-pil.
"""
from pathlib import Path

from PIL import Image, ImageOps

OUT = Path("engine/src/test/resources/exif")
COLOURS = [  # RGB, row by row
    (230, 30, 30), (30, 200, 40), (40, 60, 220), (240, 220, 40),
    (200, 40, 200), (40, 210, 210), (250, 250, 250), (20, 20, 20),
    (255, 140, 0), (120, 60, 20), (140, 140, 140), (0, 100, 60),
]
# The stored picture for each tag is the upright one transformed by the inverse of what the tag asks a viewer
# to do (PIL's exif_transpose: 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 270, 7 transverse, 8 rotate 90).
STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def upright():
    image = Image.new("RGB", (64, 48))
    for i, colour in enumerate(COLOURS):
        x, y = (i % 4) * 16, (i // 4) * 16
        image.paste(colour, (x, y, x + 16, y + 16))
    return image


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    want = upright()
    for tag, transpose in STORE.items():
        stored = want if transpose is None else want.transpose(transpose)
        assert ImageOps.exif_transpose(with_tag(stored, tag)).tobytes() == want.tobytes(), tag
        exif = Image.Exif()
        exif[0x0112] = tag
        path = OUT / f"orientation-{tag}.jpg"
        stored.save(path, quality=95, subsampling=0, exif=exif.tobytes())
        back = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        worst = max(abs(a - b) for a, b in zip(back.tobytes(), want.tobytes()))
        print(f"{path}: stored {stored.size[0]}x{stored.size[1]}, upright max abs diff {worst} after JPEG")


def with_tag(image, tag):
    copy = image.copy()
    exif = copy.getexif()
    exif[0x0112] = tag
    copy.info["exif"] = exif.tobytes()
    return copy


if __name__ == "__main__":
    main()
