"""Judge one image against the perceptual hashes of the loaded sets.

The image is decoded once; every perceptual signal the sets carry is computed on each form of
it (as found, without uniform borders, central regions), PDQ in all eight rotations and flips,
and every hash is searched in every set's Hamming index. Nothing of the image leaves this
module but hashes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
from PIL import Image

from .. import hamming, imaging, signals
from ..records import Match
from ..signals.perceptual import PerceptualHash, PerceptualSignal


# Centred regions hashed on the query side. A copy cropped by up to ~15% on every side holds
# one of these at nearly the scale of the regions that REFERENCE_CENTRAL stores for a set's
# images (benchmarks/perceptual_accuracy.py measures it; sets imported from other tools carry
# the whole image only, and then only uncropped and lightly cropped copies match).
QUERY_CENTRAL = (0.95, 0.9, 0.85, 0.8)
REFERENCE_CENTRAL = (0.9, 0.8)
WORKING_SIDE = 512   # derived forms are hashed from a copy reduced to about this short side


def forms(image: Image.Image) -> Iterator[Tuple[str, Image.Image]]:
    """The forms of a query image worth hashing: as found; without letterbox bars or a plain
    frame (a padded copy hashes far from its source, the inner picture does not); and its
    central regions (a cropped copy is close to a central region of its source)."""
    yield "original", image
    # Derived forms only need to land within a match radius: a box-reduced working copy
    # (short side >= WORKING_SIDE moved PDQ by at most 12 bits on the corpus) keeps them cheap.
    factor = min(image.size) // WORKING_SIDE
    working = image.reduce(factor) if factor > 1 else image
    inner = imaging.unletterbox(working)
    if inner is not None:
        yield "unletterboxed", inner
    for fraction in QUERY_CENTRAL:
        yield f"central{round(fraction * 100)}", imaging.central(working, fraction)


def _named(form: str, h: PerceptualHash) -> PerceptualHash:
    variant = h.variant if form == "original" else (
        form if h.variant == "original" else f"{form}+{h.variant}")
    return PerceptualHash(h.signal, h.value, h.quality, variant)


def query_hashes(image: Image.Image, names) -> List[PerceptualHash]:
    """Every hash the matcher searches for `image`: each signal on each form, PDQ in all eight
    rotations and flips. The variant says how the query was transformed, e.g.
    "unletterboxed+rotate90" or "central90"."""
    return [_named(form, h) for form, picture in forms(image) for name in sorted(names)
            for h in signals.get(name).query(picture)]


def reference_hashes(image: Image.Image, names) -> List[PerceptualHash]:
    """What a set built from reference images should store for `image` so that cropped copies
    match too: each signal of the whole image, of its REFERENCE_CENTRAL regions, and of the
    image without its own uniform borders (a photo on a black sky loses the sky along with a
    letterbox when the query is unletterboxed)."""
    pictures = [("original", image)] + [
        (f"central{round(f * 100)}", imaging.central(image, f)) for f in REFERENCE_CENTRAL]
    inner = imaging.unletterbox(image)
    if inner is not None:
        pictures.append(("unletterboxed", inner))
    return [_named(form, signals.get(name).compute(picture)) for form, picture in pictures
            for name in sorted(names)]


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

    def match(self, data: bytes) -> Tuple[List[Match], List[PerceptualHash]]:
        """Decode `data` (raises imaging.ImageDecodeError), hash it, and return every set entry
        within its radius, best variant per entry, with the hashes computed."""
        if not self.signals:
            return [], []
        hashes = query_hashes(imaging.decode(data), self.signals)
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
            best: Dict[int, Tuple[int, PerceptualHash]] = {}
            for query, (found, distances) in zip(queries, searched.index.search(
                    rows, searched.radius)):
                for row, distance in zip(found.tolist(), distances.tolist()):
                    # Keep each entry once, through its closest variant (the first on a tie).
                    if row not in best or distance < best[row][0]:
                        best[row] = (distance, query)
            info = searched.hashset.info
            for row, (distance, query) in sorted(best.items()):
                entry = searched.hashset.entry(searched.signal, row)
                matches.append(Match(
                    signal=searched.signal, set=info.name, kind=info.kind,
                    category=entry.category, series=entry.series, distance=distance,
                    variant=query.variant, quality=query.quality))
        return sorted(matches, key=lambda m: (m.set, m.signal, m.distance, m.category or ""))
