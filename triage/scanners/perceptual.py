"""Judge one image against the perceptual hashes of the loaded sets.

The image is decoded once; every perceptual signal the sets carry is computed on each form of
it (as found, without uniform borders; PDQ also on central regions), PDQ in all eight
rotations and flips, and every hash is searched in every set's Hamming index, all within the
picture's one imaging.Budget. Nothing of the image leaves this module but hashes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
from PIL import Image

from .. import hamming, imaging, signals
from ..records import Match
from ..signals.perceptual import PerceptualHash, PerceptualSignal

# The dihedral group in PDQ's order (the C++ reference's pdqDihedralHash256esFromFloatLuma),
# with the PIL transpose producing each: variant i of a query is the hash of transform i
# applied to it, so a copy rotated 90 degrees matches through "rotate270". Pixels are
# transposed rather than pdqhash.compute_dihedral used: its DCT-domain variants were up to 34
# bits off the hash of the actually transposed image on the 300-pixel corpus photos, pixel
# transposes 0 (docs/perceptual.md).
DIHEDRAL = (
    ("rotate90", Image.Transpose.ROTATE_90),       # counter-clockwise, as PDQ's
    ("rotate180", Image.Transpose.ROTATE_180),
    ("rotate270", Image.Transpose.ROTATE_270),
    ("flipx", Image.Transpose.FLIP_TOP_BOTTOM),
    ("flipy", Image.Transpose.FLIP_LEFT_RIGHT),
    ("flipplus1", Image.Transpose.TRANSPOSE),
    ("flipminus1", Image.Transpose.TRANSVERSE),
)


# Centred regions. A set built from reference images stores each image whole and its central
# 90% and 80% (reference_hashes); the query is hashed whole and its central 95%. A copy
# cropped by c on every side then meets one pair at most 2.5% apart in scale, which PDQ
# tolerates, for any c up to 22.5%: whole-whole below 2.5%, 95%-90% to 7.5%, whole-90% to
# 12.5%, 95%-80% to 17.5%, whole-80% beyond. Sets imported from other tools carry the whole
# image only: then only copies cropped by under ~3% match (benchmarks/perceptual_accuracy.py).
QUERY_CENTRAL = (0.95,)
REFERENCE_CENTRAL = (0.9, 0.8)
WORKING_SIDE = 512    # derived forms are hashed from a copy reduced to about this short side
UPRIGHT_SIDE = 1024   # a query as found, from a copy reduced to about this one (see query_hashes)
ENLARGE_BELOW = 256   # a query with a shorter side is hashed enlarged to it too
MIN_DETAIL = 50       # PDQ's quality rule, applied to the picture for every signal
# A strip longer than this many times its width has no perceptual hash worth matching: the
# hashes squeeze a picture into a square (PDQ 64x64), so a strip's short side is stretched and
# its long side squeezed. On the PDQ test photos, a JPEG re-save (q70) moved a 16:1 strip's
# hash by a median 20 bits (max 54), a 32:1 strip's by 38 (max 72): past the radius of 31,
# the hash no longer matches even a copy of the strip itself. Refusing it also bounds the
# enlarged copy at ENLARGE_BELOW x (MAX_ASPECT x ENLARGE_BELOW) pixels, where a 1x30000 PNG
# would be enlarged to 2 gigapixels.
MAX_ASPECT = 16


def check_shape(width: int, height: int) -> None:
    """Refuse (imaging.Unhashable) a picture that no perceptual hash can represent: cheap, from
    the size alone, before any pixel is decoded or enlarged."""
    short, long = sorted((width, height))
    if long > MAX_ASPECT * short:
        raise imaging.Unhashable(
            f"{width}x{height} pixels, one side over {MAX_ASPECT} times the other")


def _shape_of(image: Image.Image) -> None:
    check_shape(*image.size)


def wholes(image: Image.Image, budget: imaging.Budget) -> Iterator[Tuple[str, Image.Image]]:
    """The picture as found; enlarged, when it is small; and without letterbox bars or a
    screenshot's frame (a padded copy hashes far from its source; the inner picture does
    not). Bars are found at full size: on a reduced copy, the row blending a title bar into a
    frame stops the peeling. Each form is made within the picture's budget."""
    check_shape(*image.size)
    yield "original", image
    if min(image.size) < ENLARGE_BELOW:
        # PDQ's filters shrink to a single pixel on thumbnails, which then alias: a smooth
        # enlargement brought 0.25x and 0.5x copies of the corpus from up to 38 bits to 24.
        factor = ENLARGE_BELOW / min(image.size)
        size = (round(image.width * factor), round(image.height * factor))
        budget.admit(*size, "enlarged copy")
        budget.check()
        yield "enlarged", image.resize(size, Image.LANCZOS)
    budget.check()
    inner = imaging.unletterbox(image, budget=budget)
    if inner is not None:
        yield "unletterboxed", _working(inner, budget=budget)


def regions(image: Image.Image, fractions, budget: imaging.Budget
            ) -> Iterator[Tuple[str, Image.Image]]:
    working = _working(image, budget=budget)
    for fraction in fractions:
        budget.check()
        yield f"central{round(fraction * 100)}", imaging.central(working, fraction)


def _working(image: Image.Image, side: int = WORKING_SIDE,
             budget: Optional[imaging.Budget] = None) -> Image.Image:
    """A box-reduced copy with a short side of `side` to 2 * side - 1 (the image itself when
    smaller): a query need only land within a radius, and PDQ's cost grows with the pixels."""
    factor = min(image.size) // side
    if factor <= 1:
        return image
    if budget is not None:
        budget.check()
    return image.reduce(factor)


def _named(form: str, h: PerceptualHash, variant: str = "original") -> PerceptualHash:
    name = form if variant == "original" else (
        variant if form == "original" else f"{form}+{variant}")
    return PerceptualHash(h.signal, h.value, h.quality, name)


def _compute(signal: PerceptualSignal, picture: Image.Image, budget: imaging.Budget
             ) -> PerceptualHash:
    budget.check()
    return signal.compute(picture)


def _upright_and_turned(signal: PerceptualSignal, form: str, upright: Image.Image,
                        working: Image.Image, budget: imaging.Budget) -> List[PerceptualHash]:
    hashes = [_named(form, _compute(signal, upright, budget))]
    if signal.dihedral:
        hashes += [_named(form, _compute(signal, working.transpose(t), budget), variant)
                   for variant, t in DIHEDRAL]
    return hashes


def query_hashes(image: Image.Image, names, budget: Optional[imaging.Budget] = None
                 ) -> List[PerceptualHash]:
    """Every hash the matcher searches for `image`: each signal of each whole form (PDQ in all
    eight rotations and flips), and the central regions, upright, of signals that take them.
    The variant says how the query was transformed, e.g. "unletterboxed+rotate90". A flat
    picture gives nothing to search. Raises imaging.Unhashable for a picture no hash can
    represent and imaging.OverBudget past `budget` (a fresh default one when none is given)."""
    budget = budget or imaging.Budget()
    chosen = [signals.get(name) for name in sorted(names)]
    hashes = []
    for form, picture in wholes(image, budget):
        # PDQ's own filters cost time in proportion to the pixels (half a second for a
        # 12-megapixel photo). Reduced to a short side of 1024-2047 a photo moved by at most 4
        # bits (median 2) on the corpus enlarged to 4000 px, to 512-1023 by up to 14: the
        # upright hash, which most copies match through, comes from the first; the 7 turned
        # ones, for the rarer rotated copies, from the second. A short side under 2048: as found.
        upright = _working(picture, UPRIGHT_SIDE, budget)
        working = _working(upright, budget=budget)
        if imaging.detail(working) >= MIN_DETAIL:
            hashes += [h for s in chosen
                       for h in _upright_and_turned(s, form, upright, working, budget)]
    # Rotated *and* cropped copies are rare, while the eight variants of every region made
    # distinct images collide (the corner tiles of a round photo): regions stay upright.
    with_regions = [s for s in chosen if s.regions]
    if with_regions:
        for form, picture in regions(image, QUERY_CENTRAL, budget):
            if imaging.detail(picture) >= MIN_DETAIL:
                hashes += [_named(form, _compute(s, picture, budget)) for s in with_regions]
    return hashes


def reference_hashes(image: Image.Image, names, budget: Optional[imaging.Budget] = None
                     ) -> List[PerceptualHash]:
    """What a set built from reference images should store for `image`, so that cropped copies
    match too: each signal of the whole image and of the image without its own uniform
    borders (a photo on a black sky loses the sky along with a letterbox when the query is
    unletterboxed), and the REFERENCE_CENTRAL regions of signals that take them. Flat
    pictures give nothing; the errors are query_hashes's."""
    budget = budget or imaging.Budget()
    chosen = [signals.get(name) for name in sorted(names)]
    pictures = [(form, picture, chosen) for form, picture in wholes(image, budget)]
    pictures += [(form, picture, [s for s in chosen if s.regions])
                 for form, picture in regions(image, REFERENCE_CENTRAL, budget)]
    # A flat reference would store a hash that every flat query matches.
    return [_named(form, _compute(s, picture, budget)) for form, picture, those in pictures
            if imaging.detail(picture) >= MIN_DETAIL for s in those]


def hash_picture(data: bytes, hashes: Callable[..., List[PerceptualHash]], names,
                 budget: Optional[imaging.Budget] = None) -> List[PerceptualHash]:
    """Decode `data` and hash it with `hashes` (query_hashes or reference_hashes), all within
    one budget; a picture no hash can represent is refused from its header, undecoded."""
    budget = budget or imaging.Budget()
    return hashes(imaging.decode(data, budget, prepare=_shape_of), names, budget)


@dataclass
class _Searched:
    """One set's values of one signal, indexed, with the radius that applies to them."""

    hashset: object
    signal: str
    radius: int
    index: object


class PerceptualMatcher:
    def __init__(self, sets, thresholds: Optional[Dict[str, int]] = None):
        thresholds = thresholds or {}
        self._searched: List[_Searched] = []
        for hs in sets:
            for name in sorted(hs.signals):
                signal = signals.SIGNALS.get(name)
                if signal is None or signal.kind != "perceptual" or not signal.computable:
                    continue
                # The examiner's command line beats the set's own radius, which beats ours.
                radius = thresholds.get(name, (hs.info.thresholds or {}).get(
                    name, signal.threshold))
                self._searched.append(
                    _Searched(hs, name, int(radius), hamming.build(hs.vectors(name))))
        self.signals = frozenset(s.signal for s in self._searched)

    def match(self, data: bytes, budget: Optional[imaging.Budget] = None
              ) -> Tuple[List[Match], List[PerceptualHash]]:
        """Decode `data`, hash it, and return every set entry within its radius, once each,
        with the hashes computed. Raises imaging.ImageDecodeError (or its kinds OverBudget and
        Unhashable, see their `reason()`)."""
        if not self.signals:
            return [], []
        hashes = hash_picture(data, query_hashes, self.signals, budget)
        return self.search(hashes), hashes

    def search(self, hashes: List[PerceptualHash]) -> List[Match]:
        matches = []
        for searched in self._searched:
            signal: PerceptualSignal = signals.get(searched.signal)
            queries = [h for h in hashes if h.signal == searched.signal and signal.usable(h)]
            if not queries:
                continue
            rows = np.frombuffer(b"".join(bytes.fromhex(h.value) for h in queries),
                                 np.uint8).reshape(len(queries), -1)
            best: Dict[int, Tuple[Tuple[bool, int], PerceptualHash]] = {}
            for query, (found, distances) in zip(queries, searched.index.search(
                    rows, searched.radius)):
                for row, distance in zip(found.tolist(), distances.tolist()):
                    # Keep each entry once: through the file as found whenever that is within
                    # the radius (its own distance is what an examiner can check), else
                    # through the closest variant; the first on a tie.
                    rank = (query.variant != "original", distance)
                    if row not in best or rank < best[row][0]:
                        best[row] = (rank, query)
            info = searched.hashset.info
            rows = sorted(best)
            entries = searched.hashset.entries(searched.signal, np.array(rows, dtype=np.intp))
            closest = {}
            for row, entry in zip(rows, entries):
                # One match per set entry: a set stores one reference picture under several
                # rows (whole, enlarged, regions) that share its source ID, or its name and
                # size; the closest row speaks for it.
                key = (entry.id if entry.id is not None else
                       (entry.name, entry.size) if entry.name is not None else row,
                       entry.category, entry.series)
                if key not in closest or best[row][0] < closest[key][0][0]:
                    closest[key] = (best[row], entry)
            for ((_, distance), query), entry in closest.values():
                matches.append(Match(
                    signal=searched.signal, set=info.name, kind=info.kind,
                    category=entry.category, series=entry.series, distance=distance,
                    variant=query.variant, quality=query.quality, value=entry.value,
                    id=entry.id))
        return sorted(matches, key=lambda m: (m.set, m.signal, m.distance, m.category or ""))
