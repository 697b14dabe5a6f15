"""Perceptual hashes: values that stay close (in Hamming distance) when an image is re-saved,
resized, recompressed or lightly edited.

PDQ is Meta's open standard (256 bits, with a quality score), computed as its reference does
(signals/pdq.py); the pHash family comes from imagehash in its 64-bit default and a 256-bit
form. Every signal computes its canonical value from a decoded RGB or grey PIL image
(triage.imaging), and the scan's query value from the picture's block means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, List, Optional

from .base import Signal, register

if TYPE_CHECKING:
    from PIL import Image

    from ..imaging import Reduced

# numpy, Pillow and imagehash are imported where a hash is computed, not here: every
# command loads the signal registry, and most never hash a picture.

@dataclass(frozen=True)
class PerceptualHash:
    signal: str
    value: str                       # lower-case hex, as stored in hash sets
    quality: Optional[int]           # PDQ's 0..100; None for signals without one
    variant: str = "original"        # which transform of the image was hashed


class PerceptualSignal(Signal):
    kind = "perceptual"
    bits: ClassVar[int]
    threshold: ClassVar[int]                    # default match radius, inclusive
    min_quality: ClassVar[Optional[int]] = None  # hashes below this say too little to match
    # Whether the matcher (scanners.perceptual) also searches the seven other rotations and
    # flips, and central regions: worth it only for a hash that separates distinct images well
    # enough to bear the extra comparisons (benchmarks/perceptual_accuracy.py).
    dihedral: ClassVar[bool] = False
    regions: ClassVar[bool] = False

    @classmethod
    def compute(cls, image: "Image.Image") -> PerceptualHash:
        """The canonical value of the picture as found, at full size (`triage hash`,
        `hashset build`): what other tools holding the same library compute."""
        raise NotImplementedError

    @classmethod
    def load(cls) -> None:
        """Import what computing this signal needs, by computing it once on a blank picture:
        imagehash imports scipy (pHash) or pywt (wHash) on its first call, ~0.8 s. The
        matcher does it in the scan's main process, so the workers it forks do not each
        pay it again mid-scan."""
        from PIL import Image
        cls.compute(Image.new("L", (64, 64)))

    @classmethod
    def of_reduced(cls, picture: "Reduced", turned: bool = False) -> List[PerceptualHash]:
        """The hash of a picture from its block means (imaging.Reduced), as the scan's query
        takes it; with `turned`, for a dihedral signal, also the hashes of its seven rotations
        and flips, named by variant. Within a few bits of `compute` on the picture itself."""
        return [cls.compute(picture.image)]

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return (int(a, 16) ^ int(b, 16)).bit_count()

    @classmethod
    def usable(cls, h: PerceptualHash) -> bool:
        """Whether `h` carries enough information to be matched (PDQ's quality rule)."""
        return cls.min_quality is None or h.quality is None or h.quality >= cls.min_quality


@register
class PDQ(PerceptualSignal):
    name = "pdq"
    bits = 256
    hex_length = 64
    threshold = 31       # Meta's PDQ_CONFIDENT_MATCH_THRESHOLD; docs/perceptual.md measures it
    min_quality = 50     # python-threatexchange's PdqSignal.QUALITY_THRESHOLD
    dihedral = True
    regions = True

    @classmethod
    def compute(cls, image: "Image.Image") -> PerceptualHash:
        # pdqhash.compute's value, bit for bit, in a few megabytes (signals/pdq.py).
        from . import pdq
        h = pdq.canonical(image)
        return PerceptualHash(cls.name, h.value, h.quality)

    @classmethod
    def of_reduced(cls, picture: "Reduced", turned: bool = False) -> List[PerceptualHash]:
        import numpy as np

        from . import pdq
        # Its cost grows with the cells (one product of every cell with 128 weights):
        # pdq.CELLS a side keep a 12-megapixel photo within 4 bits of its canonical value.
        picture = picture.coarser(pdq.CELLS)
        (bx, by), (width, height) = picture.block, picture.size
        grid = pdq.Grid(np.asarray(picture.image, dtype=np.float32), height, width, (by, bx))
        return [PerceptualHash(cls.name, h.value, h.quality, variant)
                for variant, h in pdq.hashes(grid, turned)]


class ImageHashSignal(PerceptualSignal):
    """One of imagehash's hashes; `side` is its hash_size (bits = side squared)."""

    function: ClassVar[str]       # the imagehash function's name
    side: ClassVar[int]

    @classmethod
    def compute(cls, image: "Image.Image") -> PerceptualHash:
        import imagehash
        function = getattr(imagehash, cls.function)
        return PerceptualHash(cls.name, str(function(image, hash_size=cls.side)), None)


def _imagehash_signal(name: str, function: str, side: int, threshold: int) -> type:
    cls = type(name.upper(), (ImageHashSignal,), {
        "name": name, "function": function, "side": side,
        "bits": side * side, "hex_length": side * side // 4, "threshold": threshold,
        "__doc__": f"imagehash.{function} with hash_size={side} ({side * side} bits).",
    })
    return register(cls)


# Default radii, chosen with benchmarks/perceptual_accuracy.py (docs/perceptual.md): 90% of
# the largest radius at which no two distinct corpus images matched, and at most a quarter of
# the bits. PDQ keeps Meta's 31, which the same benchmark supports. No radius separated every
# pair for the 64-bit average hash (two distinct photos gave one value): prefer pdq.
PHASH = _imagehash_signal("phash", "phash", 8, 9)
DHASH = _imagehash_signal("dhash", "dhash", 8, 3)
AHASH = _imagehash_signal("ahash", "average_hash", 8, 0)
WHASH = _imagehash_signal("whash", "whash", 8, 0)
PHASH256 = _imagehash_signal("phash256", "phash", 16, 64)
DHASH256 = _imagehash_signal("dhash256", "dhash", 16, 36)
AHASH256 = _imagehash_signal("ahash256", "average_hash", 16, 15)
WHASH256 = _imagehash_signal("whash256", "whash", 16, 15)
