#!/usr/bin/env python3
"""Writes the photo folders issue 18's goals are measured on, from samples/ (no photo may be downloaded here):

- OUT/p12:  32 phone-size JPEGs, 4032x3024 quality 90 with sensor-like noise: random crops of the samples, and every
            third one a selfie (the astronaut's face about a fifth of the frame);
- OUT/p12t: the same photos as a phone camera writes them, with an EXIF block (orientation 1, pixel size, and a
            160x120 quality-75 JPEG thumbnail made with an area filter; piexif writes it);
- OUT/p150: the same at 150x113 (decoding is free there);
- OUT/p12x4, p12tx4, p150x4: each folder four times over (128 photos), for runs long enough to time.

Run from the repository root (needs python3-opencv, python3-numpy, python3-piexif):
    python3 bench/make_phone_photos.py /tmp/photos
"""
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import piexif


def main(out):
    srcs = sorted(Path("samples").glob("*.png"))
    face = cv2.imread("samples/astronaut.png")
    rng = np.random.default_rng(7)
    folders = {name: out / name for name in ("p12", "p12t", "p150")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for i in range(32):
        img = cv2.imread(str(srcs[i % len(srcs)]))
        h, w = img.shape[:2]
        ch, cw = int(h * rng.uniform(0.7, 1)), int(w * rng.uniform(0.7, 1))
        y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        crop = img[y:y + ch, x:x + cw]
        if i % 3 == 0:
            dx, dy = rng.integers(-20, 21), rng.integers(-10, 11)
            crop = face[14 + dy:209 + dy, 92 + dx:352 + dx]
        big = cv2.resize(crop, (4032, 3024), interpolation=cv2.INTER_CUBIC).astype(np.int16)
        big += rng.normal(0, 4, big.shape).astype(np.int16)
        big = np.clip(big, 0, 255).astype(np.uint8)
        name = f"photo-{i:03d}.jpg"
        cv2.imwrite(str(folders["p12"] / name), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
        thumb = cv2.imencode(".jpg", cv2.resize(big, (160, 120), interpolation=cv2.INTER_AREA),
                             [cv2.IMWRITE_JPEG_QUALITY, 75])[1].tobytes()
        exif = piexif.dump({
            "0th": {piexif.ImageIFD.Orientation: 1},
            "Exif": {piexif.ExifIFD.PixelXDimension: 4032, piexif.ExifIFD.PixelYDimension: 3024},
            "1st": {piexif.ImageIFD.Compression: 6},
            "thumbnail": thumb,
        })
        shutil.copyfile(folders["p12"] / name, folders["p12t"] / name)
        piexif.insert(exif, str(folders["p12t"] / name))
        small = cv2.resize(big, (150, 113), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folders["p150"] / name), small, [cv2.IMWRITE_JPEG_QUALITY, 90])
    for name, folder in folders.items():
        four = out / (name + "x4")
        four.mkdir(exist_ok=True)
        for copy in range(4):
            for photo in sorted(folder.iterdir()):
                shutil.copyfile(photo, four / f"{copy}-{photo.name}")
    print("wrote", ", ".join(str(out / n) for n in ("p12", "p12t", "p150", "p12x4", "p12tx4", "p150x4")))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_phone_photos.py OUT")
    main(Path(sys.argv[1]))
