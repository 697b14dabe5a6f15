"""Judge one image against the perceptual hashes of the loaded sets.

The image is decoded once; every perceptual signal the sets carry is computed on each form of
it (as found, and without uniform borders) in all eight rotations and flips, and every form is
searched in every set's Hamming index. Nothing of the image leaves this module but hashes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np
from PIL import Image

from .. import hamming, imaging, signals
from ..records import Match
from ..signals.perceptual import PerceptualHash, PerceptualSignal


def forms(image: Image.Image) -> Iterator[Tuple[str, Image.Image]]:
    """The forms of an image worth hashing: as found, and without letterbox bars or a plain
    frame (a padded copy hashes far from its source; the inner picture does not)."""
    yield "original", image
    inner = imaging.unletterbox(image)
    if inner is not None:
        yield "unletterboxed", inner


def query_hashes(image: Image.Image, names) -> List[PerceptualHash]:
    """Every hash the matcher searches for `image`: each signal, each form, each of the eight
    dihedral variants. The variant says how the query was transformed, e.g.
    "unletterboxed+rotate90"."""
    hashes = []
    for form, picture in forms(image):
        for name in sorted(names):
            for h in signals.get(name).compute_dihedral(picture):
                variant = h.variant if form == "original" else (
                    form if h.variant == "original" else f"{form}+{h.variant}")
                hashes.append(PerceptualHash(h.signal, h.value, h.quality, variant))
    return hashes


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
