"""The offline photo corpus the perceptual benchmarks share: natural photos shipped inside PyPI
wheels (benchmarks/requirements.txt) plus the photographs among the PDQ test vectors.

Only for benchmarks: none of these packages is a runtime dependency."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Dict

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO / "fixtures" / "vectors"


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def photos() -> Dict[str, bytes]:
    """name -> encoded file bytes, as they ship (JPEG or PNG), in a fixed order."""
    import matplotlib
    import pywt.data
    import skimage
    import sklearn.datasets

    found: Dict[str, bytes] = {}
    skdata = Path(skimage.__file__).parent / "data"
    # Photographs only. Left out: textures (grass, gravel, brick) and the scanned page, whose
    # low frequencies are noise and which no perceptual hash claims to handle; drawings and
    # logos; the second frame of the motorcycle stereo pair (a near-duplicate of the first);
    # the random-noise rgb.jpeg vector and matplotlib's clip-art gift box.
    for name in ("astronaut.png", "camera.png", "chelsea.png", "coffee.png", "coins.png",
                 "hubble_deep_field.jpg", "moon.png", "motorcycle_left.png", "retina.jpg",
                 "rocket.jpg", "ihc.png"):
        found[f"skimage/{name}"] = (skdata / name).read_bytes()
    sklearn_images = Path(sklearn.datasets.__file__).parent / "images"
    for name in ("china.jpg", "flower.jpg"):
        found[f"sklearn/{name}"] = (sklearn_images / name).read_bytes()
    sample = Path(matplotlib.get_data_path()) / "sample_data"
    for name in ("grace_hopper.jpg",):
        found[f"matplotlib/{name}"] = (sample / name).read_bytes()
    for name in ("ascent", "aero"):
        array = getattr(pywt.data, name)()
        found[f"pywt/{name}"] = _png(np.clip(array, 0, 255).astype(np.uint8))
    for i in range(1, 11):
        found[f"vectors/image{i}.jpg"] = (VECTORS / "pdq" / "pdqhash-python" /
                                          f"image{i}.jpg").read_bytes()
    for rel in ("threatexchange/dih/bridge-1-original.jpg", "threatexchange/pen-and-coaster.png"):
        found[f"vectors/{os.path.basename(rel)}"] = (VECTORS / "pdq" / rel).read_bytes()
    found["vectors/peppers.png"] = (VECTORS / "imagehash" / "peppers.png").read_bytes()
    return found
