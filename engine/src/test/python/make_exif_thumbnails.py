#!/usr/bin/env python3
"""Writes engine/src/test/resources/exif/thumbnail-*.jpg and thumbnails.json: 640x480 photos carrying a 160x120
EXIF thumbnail, as phone cameras write them (piexif builds the EXIF block: IFD0 orientation, the EXIF pixel
dimensions, IFD1 with the JPEG thumbnail), and what OpenCV-Python's Haar cascade (the study's settings,
scaleFactor 1.3, minNeighbors 0) finds in each upright photo and upright thumbnail.

- thumbnail-face-o{1..8}.jpg: a selfie-like crop of samples/astronaut.png (one face, about a fifth of the frame),
  stored eight ways with the orientation tag that turns it upright; the thumbnail is stored the same way.
- thumbnail-noface.jpg: samples/coffee.png, no face.
- thumbnail-stale.jpg: the selfie, carrying the coffee's thumbnail with consistent dimensions (an editor that
  replaced the picture and kept the old EXIF block); nothing in the file tells it apart.
- thumbnail-stale-dims.jpg: the same, but its EXIF pixel dimensions (800x600) are not the picture's.
- thumbnail-square.jpg: the selfie with a 120x120 thumbnail of the coffee (another aspect ratio).
- thumbnail-truncated.jpg: thumbnail-noface.jpg cut in the middle of its picture data.

Run from the repository root (needs python3-pil, python3-piexif, python3-opencv):
    python3 engine/src/test/python/make_exif_thumbnails.py
"""
import io
import json
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import piexif
from PIL import Image

from make_exif_orientations import STORE  # the stored picture for each tag, as for the orientation fixtures

OUT = Path("engine/src/test/resources/exif")
# The cascade the engine uses, from the OpenCV preset jar in the local Maven repository (Debian's python3-opencv
# ships none).
PRESET = Path.home() / ".m2/repository/org/bytedeco/opencv/4.13.0-1.5.13/opencv-4.13.0-1.5.13-linux-x86_64.jar"
CASCADE_ENTRY = "org/bytedeco/opencv/linux-x86_64/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"


def rgb(path):
    return Image.open(path).convert("RGB")


def selfie():
    # The same crop as the benchmark's phone photos: the astronaut's face about a fifth of the frame.
    return rgb("samples/astronaut.png").crop((92, 14, 352, 209)).resize((640, 480), Image.Resampling.BICUBIC)


def coffee():
    return rgb("samples/coffee.png").crop((0, 0, 533, 400)).resize((640, 480), Image.Resampling.BICUBIC)


def jpeg(image, quality):
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def thumbnail_of(image, size=(160, 120)):
    # Cameras shrink with an area filter; INTER_AREA is OpenCV's.
    array = cv2.resize(np.asarray(image), size, interpolation=cv2.INTER_AREA)
    return Image.fromarray(array)


def write(name, stored, thumb, tag=1, dims=None):
    exif = {
        "0th": {piexif.ImageIFD.Orientation: tag},
        "Exif": {piexif.ExifIFD.PixelXDimension: (dims or stored.size)[0],
                 piexif.ExifIFD.PixelYDimension: (dims or stored.size)[1]},
        "1st": {piexif.ImageIFD.Compression: 6},
        "thumbnail": jpeg(thumb, 75),
    }
    data = io.BytesIO()
    stored.save(data, format="JPEG", quality=90, exif=piexif.dump(exif))
    (OUT / name).write_bytes(data.getvalue())
    return data.getvalue()


def cascade():
    path = Path(tempfile.mkdtemp()) / "haarcascade_frontalface_default.xml"
    with zipfile.ZipFile(PRESET) as jar:
        path.write_bytes(jar.read(CASCADE_ENTRY))
    return cv2.CascadeClassifier(str(path))


def largest_fraction(upright_rgb):
    gray = cv2.cvtColor(np.asarray(upright_rgb), cv2.COLOR_RGB2GRAY)
    faces = CLASSIFIER.detectMultiScale(gray, scaleFactor=1.3, minNeighbors=0)
    best = max((int(w) * int(h) for (_, _, w, h) in faces), default=0)
    return best / (gray.shape[0] * gray.shape[1])


def main():
    global CLASSIFIER
    CLASSIFIER = cascade()
    OUT.mkdir(parents=True, exist_ok=True)
    face, cup = selfie(), coffee()
    face_thumb, cup_thumb = thumbnail_of(face), thumbnail_of(cup)
    for tag, transpose in STORE.items():
        turn = (lambda im: im) if transpose is None else (lambda im: im.transpose(transpose))
        write(f"thumbnail-face-o{tag}.jpg", turn(face), turn(face_thumb), tag)
    noface = write("thumbnail-noface.jpg", cup, cup_thumb)
    write("thumbnail-stale.jpg", face, cup_thumb)
    write("thumbnail-stale-dims.jpg", face, cup_thumb, dims=(800, 600))
    write("thumbnail-square.jpg", face, thumbnail_of(cup, (120, 120)))
    (OUT / "thumbnail-truncated.jpg").write_bytes(noface[: len(noface) * 2 // 3])
    reference = {
        "cascade": "OpenCV-Python " + cv2.__version__ + ", haarcascade_frontalface_default.xml, scaleFactor 1.3, minNeighbors 0",
        "largestFaceFraction": {
            "selfie": largest_fraction(face), "selfieThumbnail": largest_fraction(face_thumb),
            "coffee": largest_fraction(cup), "coffeeThumbnail": largest_fraction(cup_thumb),
        },
    }
    (OUT / "thumbnails.json").write_text(json.dumps(reference, indent=2) + "\n")
    print(json.dumps(reference, indent=2))


if __name__ == "__main__":
    main()
