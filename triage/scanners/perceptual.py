"""Judge one image against the perceptual hashes of the loaded sets.

A query is decoded once, as grey block means with at least REDUCED_CELLS blocks along each side
(imaging.decode_reduced: a JPEG decodes so in the DCT domain, at a fraction of the cost of its
pixels), and every perceptual signal the sets carry is computed from that on each form of the
picture: as found, enlarged when small, without uniform borders when it has some; PDQ in all
eight rotations and flips from one pass (signals/pdq.py); PDQ on its central region only when a
set built from reference pictures, which stores central regions, is loaded. Every hash is
searched in every set's Hamming index, all within the picture's one imaging.Budget. Nothing of
the image leaves this module but hashes.

The query's values are within a few bits of the canonical ones (docs/perceptual.md measures
it); what is stored and reported stays canonical: `reference_hashes` (a set built from
reference pictures) hashes each picture whole at full size, as other tools do, and `canonical`
gives a hit's values for the report, as `triage hash` does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
from PIL import Image

from .. import hamming, imaging, signals
from ..imaging import Reduced
from ..records import Match
from ..signals.perceptual import PerceptualHash, PerceptualSignal

# Centred regions. A set built from reference images stores each image whole and its central
# 90% and 80% (reference_hashes); the query is hashed whole and its central 95%. A copy
# cropped by c on every side then meets one pair at most 2.5% apart in scale, which PDQ
# tolerates, for any c up to 22.5%: whole-whole below 2.5%, 95%-90% to 7.5%, whole-90% to
# 12.5%, 95%-80% to 17.5%, whole-80% beyond. Sets imported from other tools carry the whole
# image only: then only copies cropped by under ~3% match (benchmarks/perceptual_accuracy.py),
# and the query leaves its central region out.
QUERY_CENTRAL = (0.95,)
REFERENCE_CENTRAL = (0.9, 0.8)
# How a query is decoded. PDQ's filters average a picture over ~1/64 of each side, pHash and
# its family squeeze it to 32 x 32 or less: a picture of WHOLE_BELOW px or more a side is
# hashed from block means, at least REDUCED_CELLS a side (a 12-megapixel JPEG decodes at 1/8
# scale, grey, in the DCT domain), which moved PDQ by at most 4 bits (median 0), pHash by at
# most 2 (docs/perceptual.md). Smaller pictures are hashed from every pixel.
REDUCED_CELLS = 256
WHOLE_BELOW = 1024
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


def forms(picture: Reduced, budget: imaging.Budget) -> Iterator[Tuple[str, Reduced]]:
    """The picture as found; enlarged, when it is small; and without letterbox bars or a
    screenshot's frame (a padded copy hashes far from its source; the inner picture does
    not). Each form is made within the picture's budget."""
    check_shape(*picture.size)
    yield "original", picture
    if min(picture.size) < ENLARGE_BELOW and picture.block == (1, 1):
        # PDQ's filters shrink to a single pixel on thumbnails, which then alias: a smooth
        # enlargement brought 0.25x and 0.5x copies of the corpus from up to 38 bits to 24.
        factor = ENLARGE_BELOW / min(picture.size)
        size = (round(picture.size[0] * factor), round(picture.size[1] * factor))
        budget.admit(*size, "enlarged copy")
        budget.check()
        yield "enlarged", Reduced(picture.image.resize(size, Image.LANCZOS), size)
    budget.check()
    # In block means, the block straddling a title bar and the frame under it is a row of
    # neither colour: peeled with them.
    box = imaging.borders(picture.image, budget=budget,
                          blend=0 if picture.block == (1, 1) else 1)
    if box is not None:
        yield "unletterboxed", picture.crop(box)


def regions(picture: Reduced, fractions, budget: imaging.Budget
            ) -> Iterator[Tuple[str, Reduced]]:
    for fraction in fractions:
        budget.check()
        width, height = picture.image.size
        dx, dy = round(width * (1 - fraction) / 2), round(height * (1 - fraction) / 2)
        yield f"central{round(fraction * 100)}", picture.crop((dx, dy, width - dx, height - dy))


def _named(form: str, h: PerceptualHash) -> PerceptualHash:
    variant = h.variant
    name = form if variant == "original" else (
        variant if form == "original" else f"{form}+{variant}")
    return PerceptualHash(h.signal, h.value, h.quality, name)


def _of_reduced(signal: PerceptualSignal, form: str, picture: Reduced,
                budget: imaging.Budget, turned: bool = False) -> List[PerceptualHash]:
    budget.check()
    return [_named(form, h) for h in signal.of_reduced(picture, turned)]


def query_hashes(picture: Reduced, names, budget: Optional[imaging.Budget] = None,
                 central: bool = True) -> List[PerceptualHash]:
    """Every hash the matcher searches for `picture`: each signal of each whole form (PDQ in
    all eight rotations and flips), and, with `central`, the central regions, upright, of
    signals that take them. The variant says how the query was transformed, e.g.
    "unletterboxed+rotate90". A flat picture gives nothing to search. Raises
    imaging.Unhashable for a picture no hash can represent and imaging.OverBudget past
    `budget` (a fresh default one when none is given)."""
    budget = budget or imaging.Budget()
    chosen = [signals.get(name) for name in sorted(names)]
    hashes = []
    for form, each in forms(picture, budget):
        if imaging.detail(each.image) >= MIN_DETAIL:
            hashes += [h for s in chosen for h in _of_reduced(s, form, each, budget, s.dihedral)]
    # Rotated *and* cropped copies are rare, while the eight variants of every region made
    # distinct images collide (the corner tiles of a round photo): regions stay upright.
    with_regions = [s for s in chosen if s.regions] if central else []
    if with_regions:
        for form, each in regions(picture, QUERY_CENTRAL, budget):
            if imaging.detail(each.image) >= MIN_DETAIL:
                hashes += [h for s in with_regions for h in _of_reduced(s, form, each, budget)]
    return hashes


def query(data: bytes, names, budget: Optional[imaging.Budget] = None,
          central: bool = True) -> List[PerceptualHash]:
    """Decode `data` as block means and hash it as query_hashes does, all within one budget; a
    picture no hash can represent is refused from its header, undecoded."""
    budget = budget or imaging.Budget()
    picture = imaging.decode_reduced(data, REDUCED_CELLS, WHOLE_BELOW, budget,
                                     prepare=_shape_of)
    return query_hashes(picture, names, budget, central)


def reference_hashes(image: Image.Image, names, budget: Optional[imaging.Budget] = None
                     ) -> List[PerceptualHash]:
    """What a set built from reference images should store for `image` (decoded at full
    size), so that cropped copies match too: each signal's canonical value of the whole image
    (what other tools compute), and, computed as the query computes its own, each signal of the
    image enlarged when small and without its own uniform borders (a photo on a black sky
    loses the sky along with a letterbox when the query is unletterboxed), and the
    REFERENCE_CENTRAL regions of signals that take them. Flat pictures give nothing; the
    errors are query_hashes's."""
    budget = budget or imaging.Budget()
    check_shape(*image.size)
    chosen = [signals.get(name) for name in sorted(names)]
    picture = imaging.reduce(image, REDUCED_CELLS, WHOLE_BELOW)
    # A flat reference would store a hash that every flat query matches.
    hashes = []
    for form, each in forms(picture, budget):
        if imaging.detail(each.image) < MIN_DETAIL:
            continue
        if form == "original":
            hashes += [_named(form, _compute(s, image, budget)) for s in chosen]
        else:
            hashes += [h for s in chosen for h in _of_reduced(s, form, each, budget)]
    with_regions = [s for s in chosen if s.regions]
    if with_regions:
        for form, each in regions(picture, REFERENCE_CENTRAL, budget):
            if imaging.detail(each.image) >= MIN_DETAIL:
                hashes += [h for s in with_regions for h in _of_reduced(s, form, each, budget)]
    return hashes


def _compute(signal: PerceptualSignal, image: Image.Image, budget: imaging.Budget
             ) -> PerceptualHash:
    budget.check()
    return signal.compute(image)


def canonical(image: Image.Image, names, budget: Optional[imaging.Budget] = None
              ) -> List[PerceptualHash]:
    """Each signal's canonical value of `image` as found, at full size (`triage hash`, a
    hit's report), each started before the budget's deadline."""
    budget = budget or imaging.Budget()
    return [_compute(signals.get(name), image, budget) for name in names]


def hash_picture(data: bytes, names, budget: Optional[imaging.Budget] = None
                 ) -> List[PerceptualHash]:
    """Decode `data` at full size and give what a set built from it stores
    (reference_hashes), all within one budget; a picture no hash can represent is refused
    from its header, undecoded."""
    budget = budget or imaging.Budget()
    return reference_hashes(imaging.decode(data, budget, prepare=_shape_of), names, budget)


def full_size_budget() -> imaging.Budget:
    """The budget of a picture hashed at full size (`triage hash`, `hashset build`, a hit's
    canonical values)."""
    return imaging.Budget(time_limit=imaging.FULL_SIZE_TIME_LIMIT)


def built_from_pictures(hashset) -> bool:
    """Whether a set was built by `hashset build` from reference pictures, and so stores their
    central regions (its source is a folder)."""
    return any(source.get("format") == "folder" for source in hashset.info.sources)


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
        for name in self.signals:
            signals.get(name).load()
        # The query's central region can only meet a stored one: searched when a set built
        # from reference pictures is loaded.
        self.central = any(built_from_pictures(s.hashset) for s in self._searched
                           if signals.get(s.signal).regions)

    def match(self, data: bytes, budget: Optional[imaging.Budget] = None
              ) -> Tuple[List[Match], List[PerceptualHash]]:
        """Decode `data`, hash it, and return every set entry within its radius, once each,
        with the hashes computed. Raises imaging.ImageDecodeError (or its kinds OverBudget and
        Unhashable, see their `reason()`)."""
        if not self.signals:
            return [], []
        hashes = query(data, self.signals, budget, self.central)
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
