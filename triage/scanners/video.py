"""Judge one video against the vpdq frames of the loaded sets, as vPDQ matches.

Each set's frame rows go into one Hamming index (triage.hamming); a found video's frames of
quality 50 or more are searched, one search per run of identical consecutive hashes, within
the per-frame radius (31 by default). For every reference video (and each of its stored
rotations and flips) two shares follow, vPDQ's own: `query_match_percent`, the found video's
frames within the radius of some frame of the reference (the found video is a clip of it), and
`reference_match_percent`, the reference's frames within the radius of some found frame (it is
inside a longer compilation). Either reaching its threshold (80 % each by default) is a match.
Nothing of a frame leaves this module but hashes, shares and times."""

from __future__ import annotations

import hashlib
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import BinaryIO, Dict, List, Optional, Tuple

import numpy as np

from .. import hamming
from ..records import Match
from ..signals.vpdq import NEAR, VARIANTS, VPDQ, FrameHash, dedupe, parse_line
from ..video import Bounds, hash_video

NAME = VPDQ.name


@dataclass
class VideoOptions:
    """How videos are hashed and matched in a scan: --video-frames and --video-match."""

    frames: str = "second"
    query_percent: Optional[float] = None       # None: the set's own, else vPDQ's 80
    reference_percent: Optional[float] = None

    @classmethod
    def of(cls, given: Optional[dict]) -> "VideoOptions":
        return cls(**(given or {}))


@dataclass
class _Reference:
    """One reference video of a set: its frames (quality 50 and over, originals), in order."""

    id: str
    category: Optional[str]
    series: Optional[str]
    timestamps: List[float] = field(default_factory=list)
    frames: Dict[int, int] = field(default_factory=dict)   # frame number -> position


@dataclass
class _Indexed:
    hashset: object
    radius: int
    query_percent: float
    reference_percent: float
    index: object
    references: List[_Reference]
    # Per index row: its reference, variant and frame position (-1: not searched, too low
    # a quality or a variant of a frame with none).
    row_ref: np.ndarray
    row_variant: np.ndarray
    row_pos: np.ndarray
    variants: List[str]


def reference_id(lines: List[str]) -> str:
    """A reference video's identity when its source gives none: the SHA-256 of its vPDQ text
    (original frames, one line each with a newline), which `triage hash --signal vpdq` of the
    same video prints; so a match can be checked against the reference."""
    return hashlib.sha256("".join(line + "\n" for line in lines).encode()).hexdigest()


def _thresholds(hs, options: VideoOptions) -> Tuple[float, float]:
    own = hs.info.thresholds or {}
    q = options.query_percent if options.query_percent is not None else \
        own.get("vpdq_query_percent", VPDQ.query_percent)
    r = options.reference_percent if options.reference_percent is not None else \
        own.get("vpdq_reference_percent", VPDQ.reference_percent)
    return float(q), float(r)


def _index_set(hs, radius: int, options: VideoOptions) -> Optional[_Indexed]:
    rows = hs.rows(NAME)
    if not rows:
        return None
    entries = hs.entries(NAME, np.arange(rows, dtype=np.intp))
    parsed = [parse_line(e.value) for e in entries]
    # The reference a row belongs to: its ID (every vpdq row carries one; build and import
    # give the vPDQ text's digest when the source has none), category and series.
    refs: Dict[tuple, int] = {}
    references: List[_Reference] = []
    row_ref = np.full(rows, -1, np.int32)
    for row, (entry, frame) in enumerate(zip(entries, parsed)):
        key = (entry.id, entry.category, entry.series)
        if key not in refs:
            refs[key] = len(references)
            references.append(_Reference(entry.id or "", entry.category, entry.series))
        row_ref[row] = refs[key]
    # Frame positions, in time order, from the original rows of usable quality.
    usable = [f.quality >= VPDQ.min_quality for f in parsed]
    own: List[set] = [set() for _ in references]
    for r, f in enumerate(parsed):
        if usable[r] and f.variant == "original":
            own[row_ref[r]].add((f.timestamp, f.frame))
    for ref, frames in zip(references, own):
        ordered = sorted(frames)
        ref.timestamps = [t for t, _ in ordered]
        ref.frames = {n: i for i, (_, n) in enumerate(ordered)}
    variants = ["original", *VARIANTS]
    # A frame stored beside a sampled one (NEAR) counts as that frame, as found.
    row_variant = np.array([0 if f.variant == NEAR else variants.index(f.variant)
                            for f in parsed], np.int8)
    row_pos = np.array([references[row_ref[r]].frames.get(f.frame, -1) if usable[r] else -1
                        for r, f in enumerate(parsed)], np.int32)
    q, c = _thresholds(hs, options)
    return _Indexed(hs, radius, q, c, hamming.build(hs.vectors(NAME)), references, row_ref,
                    row_variant, row_pos, variants)


class VideoMatcher:
    def __init__(self, sets, thresholds: Optional[Dict[str, int]] = None,
                 options: Optional[VideoOptions] = None):
        thresholds = thresholds or {}
        self.options = options or VideoOptions()
        self._indexed: List[_Indexed] = []
        for hs in sets:
            if NAME not in hs.signals:
                continue
            radius = thresholds.get(NAME, (hs.info.thresholds or {}).get(NAME, VPDQ.threshold))
            indexed = _index_set(hs, int(radius), self.options)
            if indexed is not None:
                self._indexed.append(indexed)

    def __bool__(self) -> bool:
        return bool(self._indexed)

    def hash(self, source: BinaryIO, stop=None, bounds: Optional[Bounds] = None):
        return hash_video(source, self.options.frames, bounds=bounds, stop=stop)

    def search(self, frames: List[FrameHash]) -> List[Match]:
        """Every reference video the found `frames` match, once per set and reference."""
        usable = [f for f in frames if f.quality >= VPDQ.min_quality and
                  f.variant == "original"]
        if not usable:
            return []
        runs = dedupe(usable)
        # Each run's frames, by position in `usable`.
        starts = np.cumsum([0] + [n for _, n in runs])
        queries = np.frombuffer(b"".join(bytes.fromhex(f.value) for f, _ in runs),
                                np.uint8).reshape(len(runs), -1)
        matches = []
        for indexed in self._indexed:
            found = indexed.index.search(queries, indexed.radius)
            matches += _matches(indexed, usable, runs, starts, found)
        return sorted(matches, key=lambda m: (m.set, m.id or "", m.category or ""))


def _matches(indexed: _Indexed, usable: List[FrameHash], runs, starts, found) -> List[Match]:
    # (reference, variant) -> {query run: closest distance}, {reference position}
    query_hits: Dict[tuple, Dict[int, int]] = defaultdict(dict)
    ref_hits: Dict[tuple, set] = defaultdict(set)
    for run, (rows, distances) in enumerate(found):
        for row, d in zip(rows.tolist(), distances.tolist()):
            pos = int(indexed.row_pos[row])
            if pos < 0:
                continue
            key = (int(indexed.row_ref[row]), int(indexed.row_variant[row]))
            best = query_hits[key].get(run)
            if best is None or d < best:
                query_hits[key][run] = d
            ref_hits[key].add(pos)
    best_of: Dict[int, tuple] = {}
    for key, hits in query_hits.items():
        ref = indexed.references[key[0]]
        q_frames = sum(runs[run][1] for run in hits)
        q_percent = 100.0 * q_frames / len(usable)
        r_percent = 100.0 * len(ref_hits[key]) / max(1, len(ref.timestamps))
        matched = q_percent >= indexed.query_percent or r_percent >= indexed.reference_percent
        # The reference as stored (variant 0) first, when it matches; then the best shares.
        rank = (matched, key[1] == 0, max(q_percent, r_percent), q_percent + r_percent)
        if key[0] not in best_of or rank > best_of[key[0]][0]:
            best_of[key[0]] = (rank, key, hits, ref_hits[key], q_percent, r_percent)
    info = indexed.hashset.info
    out = []
    for rank, key, hits, ref_positions, q_percent, r_percent in best_of.values():
        if not rank[0]:
            continue
        ref = indexed.references[key[0]]
        # Every found frame of a run matched: expand runs to frame positions, for the ranges.
        q_positions = sorted(p for run in hits for p in range(starts[run], starts[run + 1]))
        distances = [d for run, d in hits.items() for _ in range(runs[run][1])]
        variant = indexed.variants[key[1]]
        out.append(Match(
            signal=NAME, set=info.name, kind=info.kind, category=ref.category,
            series=ref.series, distance=int(round(statistics.median(distances))),
            variant=variant, value=ref.id, id=ref.id,
            query_match_percent=round(q_percent, 2),
            reference_match_percent=round(r_percent, 2),
            ranges={"query": _ranges(q_positions, [f.timestamp for f in usable]),
                    "reference": _ranges(sorted(ref_positions), ref.timestamps)}))
    return out


def _ranges(positions: List[int], stamps: List[float]) -> List[List[float]]:
    """Runs of consecutive sampled frames (by their positions), as [first, last] timestamps
    in seconds: the stretches of the video that matched."""
    ranges: List[List[float]] = []
    previous = None
    for pos in positions:
        stamp = stamps[pos]
        if previous is not None and pos == previous + 1:
            ranges[-1][1] = round(stamp, 3)
        else:
            ranges.append([round(stamp, 3), round(stamp, 3)])
        previous = pos
    return ranges
