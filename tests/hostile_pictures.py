"""Hostile and awkward pictures the imaging, judge, hash, build and scan tests share: made
here, byte for byte, so each test says exactly what it feeds."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, TiffImagePlugin

VECTORS = Path(__file__).resolve().parent.parent / "fixtures" / "vectors"
BRIDGE = VECTORS / "pdq" / "threatexchange" / "dih" / "bridge-1-original.jpg"


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def noise(width: int, height: int, seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def strip_png(width: int, height: int) -> bytes:
    """A noise picture of this size as PNG: 1x1000 is 3.6 KB, 1x30000 about 100 KB."""
    return encode(noise(width, height), "PNG")


def with_damaged_pixels(png: bytes) -> bytes:
    """The PNG with zeros in the middle of its pixel data: its header still reads."""
    damaged = bytearray(png)
    middle = len(png) // 2
    damaged[middle:middle + 64] = bytes(64)
    return bytes(damaged)


def _tiff_entry(data: bytearray, tag: int) -> int:
    """Offset of `tag`'s 12-byte entry in the first IFD of a little-endian TIFF."""
    ifd = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * i
        if struct.unpack_from("<H", data, at)[0] == tag:
            return at
    raise KeyError(tag)


def _described_tiff() -> bytearray:
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[270] = "a reference picture, described at some length"   # ImageDescription
    return bytearray(encode(noise(64, 64), "TIFF", tiffinfo=info))


def tiff_warning() -> bytes:
    """A TIFF whose description claims 2 GB: Pillow warns "Tag data larger than file.
    Skipping tag 270" and decodes the picture."""
    data = _described_tiff()
    struct.pack_into("<I", data, _tiff_entry(data, 270) + 4, 0x7FFFFFFF)
    return bytes(data)


def tiff_logged_error() -> bytes:
    """A TIFF claiming 1000 samples a pixel: Pillow logs an error record (which Python's
    logging prints on stderr by default) and refuses the picture."""
    data = _described_tiff()
    struct.pack_into("<H", data, _tiff_entry(data, 277) + 8, 1000)   # SamplesPerPixel
    return bytes(data)


def tiff_110_megapixels() -> bytes:
    """A real 10500x10500 greyscale TIFF (deflated to ~0.4 MB): above Pillow's decompression
    bomb warning (89 Mpx), below triage's cap (120 Mpx)."""
    image = Image.new("L", (10500, 10500), 0)
    image.paste(noise(500, 500).convert("L"), (100, 100))
    return encode(image, "TIFF", compression="tiff_deflate")


def with_size(png: bytes, width: int, height: int) -> bytes:
    """The PNG with its header claiming another size (and a valid header checksum)."""
    ihdr = png[12:16] + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


def png_bomb() -> bytes:
    """A PNG whose header claims 20000 x 20000 pixels."""
    return with_size(encode(Image.new("L", (8, 8)), "PNG"), 20000, 20000)
