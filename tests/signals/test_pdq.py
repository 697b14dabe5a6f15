"""PDQ computed from luma with numpy (triage/signals/pdq.py) against pdqhash, the C++ reference's
Python binding: the canonical value bit for bit, the eight rotations and flips exactly, and
hashes from block means within a few bits."""

import io
import tracemalloc
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from PIL import Image

from triage import imaging
from triage.signals import pdq
from triage.signals.perceptual import PDQ

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "vectors" / "pdq"
PICTURES = sorted(p for p in VECTORS.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
BRIDGE = VECTORS / "threatexchange" / "dih" / "bridge-1-original.jpg"
T = Image.Transpose
# Each variant and the picture it is the hash of.
TURNS = {"rotate90": T.ROTATE_90, "rotate180": T.ROTATE_180, "rotate270": T.ROTATE_270,
         "flipx": T.FLIP_TOP_BOTTOM, "flipy": T.FLIP_LEFT_RIGHT, "flipplus1": T.TRANSPOSE,
         "flipminus1": T.TRANSVERSE}


def reference(image: Image.Image) -> pdq.Hash:
    bits, quality = pdqhash.compute(np.asarray(image.convert("RGB")))
    return pdq.Hash(np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality))


def noise(width, height, seed=0, mode="RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    shape = (height, width, 3) if mode == "RGB" else (height, width)
    smooth = rng.integers(0, 256, shape).astype(np.uint8)
    return Image.fromarray(smooth, mode).filter(_blur())


def _blur():
    from PIL import ImageFilter
    return ImageFilter.GaussianBlur(2)


def test_the_vectors_cover_the_sizes_and_modes():
    assert len(PICTURES) >= 40


@pytest.mark.parametrize("path", PICTURES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_canonical_is_pdqhash_bit_for_bit_on_every_vector(path):
    image = imaging.decode(path.read_bytes())
    assert pdq.canonical(image) == reference(image)


@pytest.mark.parametrize("size", [(5, 5), (6, 7), (63, 65), (64, 64), (127, 129), (128, 128),
                                  (255, 257), (256, 384), (1000, 9), (641, 1283)])
def test_canonical_is_pdqhash_bit_for_bit_at_awkward_sizes(size):
    """Box widths even and odd, decimation steps that do and do not divide the side, the
    64 x 64 picture the reference copies as it is, the smallest it hashes."""
    for mode in ("RGB", "L"):
        image = noise(*size, seed=sum(size), mode=mode)
        assert pdq.canonical(image) == reference(image)


@pytest.mark.parametrize("size", [(4, 100), (100, 4), (1, 1)])
def test_pictures_under_five_pixels_a_side_hash_to_zero_as_in_the_reference(size):
    image = noise(*size)
    assert pdq.canonical(image) == reference(image) == pdq.Hash("0" * 64, 0)


def test_pdq_compute_is_the_canonical_value():
    image = imaging.decode(BRIDGE.read_bytes())
    h = PDQ.compute(image)
    assert (h.value, h.quality) == (reference(image).value, reference(image).quality)


def test_canonical_reads_a_large_picture_in_strips():
    """A 12-megapixel picture: pdqhash holds ~27 bytes a pixel (over 300 MB here); the
    canonical value is computed from strips of rows, a few megabytes at a time."""
    image = imaging.decode(BRIDGE.read_bytes()).resize((4000, 3000))
    tracemalloc.start()
    try:
        value = pdq.canonical(image)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40_000_000
    assert value == reference(image)


def full_grid(image: Image.Image) -> pdq.Grid:
    return pdq.Grid(pdq.luma(np.asarray(image.convert("RGB"))), image.height, image.width,
                    (1, 1))


@pytest.mark.parametrize("size", [None, (200, 300), (257, 130)])
def test_every_variant_is_the_hash_of_the_turned_picture_exactly(size):
    image = imaging.decode(BRIDGE.read_bytes())
    if size:
        image = image.resize(size)
    found = dict(pdq.hashes(full_grid(image), turned=True))
    assert list(found) == ["original", *pdq.DIHEDRAL]
    assert found["original"] == reference(image)
    for variant, turn in TURNS.items():
        assert found[variant] == reference(image.transpose(turn)), variant


def test_why_compute_dihedral_was_set_aside_and_what_replaced_it():
    """pdqhash.compute_dihedral names its variants as the reference does, and its transposes
    are exact, but its flips are not the hashes of the flipped picture: it flips the DCT,
    while a box of even width reaches one pixel further on one side. At 200 x 300 the rows'
    boxes are 3 pixels wide, the columns' 2: its top-bottom flip is exact, its left-right one
    22 bits off. The flipped weights here are exact both ways."""
    image = imaging.decode(BRIDGE.read_bytes()).resize((200, 300))
    bits, _ = pdqhash.compute_dihedral(np.asarray(image))
    theirs = dict(zip(["original", *pdq.DIHEDRAL],
                      (np.packbits(b.astype(np.uint8)).tobytes().hex() for b in bits)))
    ours = dict(pdq.hashes(full_grid(image), turned=True))
    truth = {v: reference(image.transpose(t)).value for v, t in TURNS.items()}
    assert theirs["flipplus1"] == truth["flipplus1"] and theirs["flipx"] == truth["flipx"]
    assert PDQ.distance(theirs["flipy"], truth["flipy"]) == 22
    assert all(ours[v].value == truth[v] for v in TURNS)


def camera_jpeg() -> bytes:
    big = imaging.decode(BRIDGE.read_bytes()).resize((3264, 2048), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    big.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_block_means_give_nearly_the_canonical_hashes():
    """A 6.7-megapixel JPEG decoded at 1/8 scale (each pixel the mean of an 8 x 8 block): the
    upright hash and every turned one within a few bits of the full picture's (the canonical
    values, shown equal to pdqhash's above)."""
    data = camera_jpeg()
    full = imaging.decode(data)
    picture = imaging.decode_reduced(data, 256, 1024)
    assert (picture.block, picture.image.size) == ((8, 8), (408, 256))
    grid = pdq.Grid(np.asarray(picture.image, np.float32), full.height, full.width, (8, 8))
    found = dict(pdq.hashes(grid, turned=True))
    whole = pdq.canonical(full)
    assert PDQ.distance(found["original"].value, whole.value) <= 4
    assert abs(found["original"].quality - whole.quality) <= 2
    for variant, turn in TURNS.items():
        turned = pdq.canonical(full.transpose(turn)).value
        assert PDQ.distance(found[variant].value, turned) <= 8, variant


def test_weights_of_blocks_sum_the_pixels_weights():
    per_pixel = pdq.weights(37)
    blocks = pdq.weights(37, 8)
    assert blocks.shape == (5, 64)
    assert np.allclose(blocks[4], per_pixel[32:].sum(axis=0), atol=1e-6)
    assert np.allclose(blocks.sum(axis=0), 1, atol=1e-5)     # each sample averages the axis
    reversed_pixels = np.pad(per_pixel[::-1], ((0, 3), (0, 0)))   # the axis read backwards
    assert np.allclose(pdq.weights(37, 8, mirrored=True),
                       reversed_pixels.reshape(5, 8, 64).sum(axis=1), atol=1e-6)
