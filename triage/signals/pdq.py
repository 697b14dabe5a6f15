"""PDQ, Meta's perceptual hash, computed with numpy from luma, step for step as the reference
(the C++ that `pdqhash` wraps) computes it: two passes of Jarosz box filters along each axis,
64 x 64 samples, the 16 x 16 low frequencies of their DCT, one bit a frequency above the median,
and the quality score from the samples' gradients.

The filters and the sampling are linear, so the 64 x 64 samples are `rows @ luma @ cols`, with
one weight matrix an axis that depends on nothing but the axis's length (`weights`). Three
things follow, and are why triage computes PDQ here rather than through `pdqhash.compute`:

* **Canonical values at full size in bounded memory.** `canonical` reads the picture in strips
  of rows: a few megabytes, where pdqhash holds ~27 bytes a pixel (3 GB at 110 Mpx), and 3 to 4
  times faster. Its values are pdqhash's, bit for bit (tests/signals/test_pdq.py compares them
  on every vector and corpus photo, at camera size and on random pictures of awkward sizes).
* **The same hash from block means.** A JPEG decoded at 1/2, 1/4 or 1/8 scale (Pillow's
  `draft`), or any picture box-reduced, is a grid of cells each the mean of a block of pixels.
  Summing a weight matrix over each block gives the weight of its cell, so the grid gives the
  samples the full picture would, up to what the block mean hides of the pixels inside it
  (docs/perceptual.md measures it: a few bits).
* **All eight rotations and flips from one pass, exactly.** The reference's dihedral shortcut
  (`pdqhash.compute_dihedral`) transforms the DCT, which assumes filters symmetric under a flip:
  a box of even width is not (it reaches one pixel further on one side), so its flipped hashes
  were up to 34 bits off the hash of the flipped picture on the corpus photos. Here a flip is
  the same weights reversed: the hash of each flipped or turned picture is computed as the
  reference would compute it on that picture, at the cost of one more product of the luma."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Iterator, List, Tuple

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

SIDE = 64                  # samples an axis
# Cells along a side a picture is hashed from when it comes as block means (Grid): its short
# side's blocks are then at most 1/4 of the filter's reach, which moved the hashes of the corpus
# photos enlarged to 12 MP by at most 4 bits (median 0) in every variant (docs/perceptual.md).
CELLS = 256
MIN_SIDE = 5               # the reference hashes smaller pictures as all zeros, quality 0
LUMA = (0.299, 0.587, 0.114)
STRIP_BYTES = 1 << 20      # `canonical` reads this much RGB at a time

# The seven other members of the dihedral group, by the name the reference gives each hash
# (pdqDihedralHash256esFromFloatLuma) and the PIL transpose that makes the picture it is the hash
# of: variant "rotate90" of a query is the hash of the query turned 90 degrees counter-clockwise,
# so a copy turned 90 degrees clockwise matches its source through it.
DIHEDRAL = ("rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1")


def _dct_matrix() -> np.ndarray:
    i = np.arange(1, 17)[:, None]
    j = np.arange(SIDE)[None, :]
    scale = np.sqrt(2.0 / SIDE)
    return (scale * np.cos((np.pi / 2 / SIDE) * i * (2 * j + 1))).astype(np.float32)


_DCT = _dct_matrix()


def _window(n: int) -> int:
    """The reference's Jarosz box width along an axis of n pixels (computeJaroszFilterWindowSize)."""
    return (n + 2 * SIDE - 1) // (2 * SIDE)


def _box_bounds(n: int) -> Tuple[np.ndarray, np.ndarray]:
    """First and last input index each output of one box pass averages (the reference's
    box1DFloat: an even box reaches one pixel further forward; windows shrink at the ends)."""
    width = _window(n)
    half = (width + 2) // 2
    out = np.arange(n)
    return np.maximum(out - (width - half), 0), np.minimum(out + half - 1, n - 1)


@lru_cache(maxsize=16)
def _samples(n: int) -> np.ndarray:
    """(n, 64) float64: the weight of each pixel of an axis in each of its 64 samples after two
    box passes, at the rows the reference decimates to."""
    first, last = _box_bounds(n)
    count = (last - first + 1).astype(np.float64)
    rows = ((np.arange(SIDE) + 0.5) * n / SIDE).astype(np.int64)   # decimateFloat
    # Sample k is the second pass's output at rows[k]: the mean of first-pass outputs x in its
    # window, each the mean of its own window. Every x adds 1/count to a run of pixels; the
    # runs of a sample lie between `start` and `stop`, so a short difference array a sample
    # turns them into weights in one cumulative sum.
    start, stop = first[first[rows]], last[last[rows]] + 1
    reach = int((stop - start).max()) + 1
    spans = last[rows] - first[rows] + 1
    k = np.repeat(np.arange(SIDE), spans)
    x = first[rows][k] + (np.arange(len(k)) - np.repeat(np.cumsum(spans) - spans, spans))
    share = 1.0 / (count[rows][k] * count[x])
    at = k * reach - start[k]
    diff = np.bincount(np.concatenate([at + first[x], at + last[x] + 1]),
                       np.concatenate([share, -share]), SIDE * reach)
    local = np.cumsum(diff.reshape(SIDE, reach), axis=1)
    out = np.zeros((n, SIDE))
    for sample, (a, b) in enumerate(zip(start.tolist(), stop.tolist())):
        out[a:b, sample] = local[sample, :b - a]
    return out


@lru_cache(maxsize=64)
def weights(n: int, block: int = 1, mirrored: bool = False) -> np.ndarray:
    """(cells, 64) float32: the weight of each cell of an axis of `n` pixels, read as cells of
    `block` pixels (the last may hold fewer), in each of the 64 samples; `mirrored`: of the
    axis read backwards (a flipped picture). Cached: a camera's photos share a few sizes."""
    per_pixel = _samples(n)
    if mirrored:
        per_pixel = per_pixel[::-1]
    cells = -(-n // block)
    padded = np.zeros((cells * block, SIDE))
    padded[:n] = per_pixel
    return _frozen(padded.reshape(cells, block, SIDE).sum(axis=1, dtype=np.float32))


@lru_cache(maxsize=8)
def _pixel_weights(n: int) -> np.ndarray:
    """(n, 64) float64: `weights` of single pixels, for the canonical value (float64 products,
    so that every bit comes out as pdqhash's)."""
    return _frozen(_samples(n))


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@lru_cache(maxsize=64)
def _both_ways(n: int, block: int) -> np.ndarray:
    """(cells, 128): `weights` forwards, then mirrored."""
    return _frozen(np.hstack([weights(n, block), weights(n, block, mirrored=True)]))


@dataclass(frozen=True)
class Hash:
    value: str       # lower-case hex, the reference's order (as pdqhash >= 0.2 and triage store it)
    quality: int


def _bits(samples: np.ndarray) -> Hash:
    """The hash of 64 x 64 samples: quality from their gradients (pdqImageDomainQualityMetric),
    then one bit a DCT coefficient above the median (torben's: the 128th smallest of 256)."""
    a = samples.astype(np.float32)
    hundred, scale = np.float32(100), np.float32(255)
    down = ((a[:-1, :] - a[1:, :]) * hundred / scale).astype(np.int32)
    across = ((a[:, :-1] - a[:, 1:]) * hundred / scale).astype(np.int32)
    quality = min(100, int((np.abs(down).sum() + np.abs(across).sum()) // 90))
    dct = _DCT @ a @ _DCT.T
    median = np.partition(dct.ravel(), 127)[127]
    # Bit i*16+j of the reference's Hash256 is coefficient (i, j); its hex starts at bit 255.
    bits = (dct > median).ravel()[::-1]
    return Hash(np.packbits(bits).tobytes().hex(), quality)


def _zero() -> Hash:
    return Hash("0" * 64, 0)


def luma(pixels: np.ndarray) -> np.ndarray:
    """float32 luma of uint8 RGB (or grey) pixels, with pdqhash's arithmetic to the last bit:
    float64 products summed red, green, blue, then rounded to float32 (grey counts as R=G=B,
    as pdqhash sees a grey picture converted to RGB)."""
    if pixels.ndim == 2:
        red = green = blue = pixels
    else:
        red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return (red * LUMA[0] + green * LUMA[1] + blue * LUMA[2]).astype(np.float32)


def _strips(image: "Image.Image") -> Iterator[Tuple[int, np.ndarray]]:
    width, height = image.size
    rows = max(1, STRIP_BYTES // (3 * width))
    for top in range(0, height, rows):
        strip = image.crop((0, top, width, min(height, top + rows)))
        yield top, luma(np.asarray(strip))


def canonical(image: "Image.Image") -> Hash:
    """pdqhash.compute's value and quality for the picture as found (RGB or L), read in strips:
    memory stays at a few megabytes whatever its size."""
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    width, height = image.size
    if width < MIN_SIDE or height < MIN_SIDE:
        return _zero()
    rows = _pixel_weights(height)
    across = np.zeros((SIDE, width))
    for top, strip in _strips(image):
        across += rows[top:top + len(strip)].T @ strip
    return _bits(across @ _pixel_weights(width))


@dataclass(frozen=True)
class Grid:
    """A picture as a grid of cells, each the mean luma of a block of `block` (rows, columns)
    pixels of the picture as found, which is `height` x `width` (the last row and column of
    cells may cover fewer pixels)."""

    cells: np.ndarray          # float32, rows x columns of cells
    height: int
    width: int
    block: Tuple[int, int]


def hashes(grid: Grid, turned: bool = False) -> List[Tuple[str, Hash]]:
    """(variant, hash) of the picture the grid stands for: "original", and with `turned` its
    seven rotations and flips (DIHEDRAL), each as the reference would hash that picture."""
    if grid.height < MIN_SIDE or grid.width < MIN_SIDE:
        return [("original", _zero())] + ([(v, _zero()) for v in DIHEDRAL] if turned else [])
    rows_block, cols_block = grid.block
    down = weights(grid.height, rows_block).T
    if not turned:
        return [("original", _bits(down @ (grid.cells @ weights(grid.width, cols_block))))]
    # The columns read forwards and backwards in one product (the costly one: every cell),
    # then the rows read each way: the samples of the picture, flipped left-right, top-bottom
    # and both. A transposed picture's samples are the transposed samples (the weights
    # depend only on an axis's length).
    across = grid.cells @ _both_ways(grid.width, cols_block)
    up = weights(grid.height, rows_block, mirrored=True).T
    samples, lr = np.hsplit(down @ across, 2)
    tb, both = np.hsplit(up @ across, 2)
    turned_samples = {"rotate90": lr.T, "rotate180": both, "rotate270": tb.T, "flipx": tb,
                      "flipy": lr, "flipplus1": samples.T, "flipminus1": both.T}
    return [("original", _bits(samples))] + [(v, _bits(turned_samples[v])) for v in DIHEDRAL]
