"""vPDQ: Meta's video hash (ThreatExchange's vpdq), PDQ of frames sampled from a video.

A video's value is its list of frame hashes, one line each in vPDQ's published text form,
`frame,quality,pdq_hex,timestamp` (frame number, PDQ quality 0..100, 64 hex digits, seconds
with three decimals), so hash files from HMA and the `vpdq` package read here and ours read
there. A set stores one row per frame, keyed by the frame's PDQ; its value is that line. The
rows a set builds from reference videos also hold the frame's seven other rotations and flips,
marked by a fifth field naming the variant, so a flipped copy costs the query nothing extra.

How frames are found and compared lives in triage.video (decoding) and
triage.scanners.video (matching); this module is the value format and the frame's PDQ."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Tuple

from .base import Signal, register

if TYPE_CHECKING:
    import numpy as np

# Which frames of a video are hashed (--video-frames): one a second, as vPDQ does, or the
# keyframes alone. Here, where the option's choices are read without loading the decoding
# stack (triage.video and its picture libraries) on every start of the command.
MODES = ("second", "keyframes")
# The variant a reference row was hashed from, named as the picture matcher names a query's
# (scanners.perceptual.DIHEDRAL): the transform that brings the *found* video back to the
# reference. A copy turned 90 degrees counter-clockwise is undone by "rotate270", and so
# matches the reference row hashed from the frame turned 90 degrees counter-clockwise.
VARIANTS = ("rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1")
# A reference's frames just before and after a sampled one, stored under the sampled frame's
# number and time: a copy at another frame rate, or cut a frame off, samples frames a fraction
# of a frame period away from the reference's, which in a moving scene moves PDQ by 15-30
# bits (docs/video.md). They count as the sampled frame they stand beside.
NEAR = "near"
_LINE = re.compile(r"\s*(\d{1,9})\s*,\s*(\d{1,3})\s*,\s*([0-9A-Fa-f]{64})\s*,\s*"
                   r"(\d{1,9}(?:\.\d*)?)\s*(?:,\s*([a-z0-9]+)\s*)?\Z")


@dataclass(frozen=True)
class FrameHash:
    frame: int
    quality: int
    value: str            # PDQ, 64 lower-case hex digits
    timestamp: float      # seconds from the start of the stream
    variant: str = "original"

    def line(self) -> str:
        text = f"{self.frame},{self.quality},{self.value},{self.timestamp:.3f}"
        return text if self.variant == "original" else f"{text},{self.variant}"


def parse_line(text: str) -> FrameHash:
    """One vPDQ line (`frame,quality,pdq_hex,timestamp`, or a stored variant row), or
    ValueError saying what is wrong with it (never quoting it)."""
    m = _LINE.match(text)
    if m is None:
        raise ValueError("vpdq value is not `frame,quality,pdq_hex,timestamp`")
    frame, quality, value, timestamp, variant = m.groups()
    if int(quality) > 100:
        raise ValueError("vpdq quality is over 100")
    if variant is not None and variant not in VARIANTS and variant != NEAR:
        raise ValueError("vpdq line has an unknown fifth field")
    return FrameHash(int(frame), int(quality), value.lower(), float(timestamp),
                     variant or "original")


def text(frames: List[FrameHash]) -> str:
    """A video's hash in vPDQ's text form, one line a frame (originals only)."""
    return "".join(f.line() + "\n" for f in frames if f.variant == "original")


@register
class VPDQ(Signal):
    name = "vpdq"
    kind = "video"
    hex_length = 64          # the key of a stored row: its frame's PDQ
    keeps_value = True       # the row's value is its whole line, not the key alone
    bits = 256               # a radius is per frame, in PDQ bits
    threshold = 31           # vPDQ's default distance tolerance (PDQ's confident match)
    min_quality = 50         # vPDQ's default quality tolerance
    query_percent = 80.0     # python-threatexchange's VPDQ match thresholds
    reference_percent = 80.0

    @classmethod
    def parse(cls, text_: str) -> str:
        return parse_line(text_).line()

    @classmethod
    def key(cls, value: str) -> bytes:
        return bytes.fromhex(parse_line(value).value)

    @classmethod
    def quality_of(cls, value: str) -> int:
        return parse_line(value).quality


# -- a frame's PDQ ----------------------------------------------------------------------------

def frame_pdq(rgb: "np.ndarray") -> Tuple[str, int]:
    """(PDQ hex, quality) of one frame, an RGB uint8 array (h, w, 3), as a scan hashes it:
    pdqhash's one call costs half of triage's PDQ at full resolution (no reduced decode for
    frames), so one frame goes to pdqhash and a reference's eight ways to ours."""
    import numpy as np
    import pdqhash
    bits, quality = pdqhash.compute(np.ascontiguousarray(rgb))
    return np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality)


def hash_frame(rgb: "np.ndarray", frame: int, timestamp: float, dihedral: bool = False,
               variant: str = "original") -> List[FrameHash]:
    """The frame's hash, and with `dihedral` its seven other rotations and flips (a reference
    frame, for a set). Below vPDQ's quality 50 a frame says too little: nothing."""
    if dihedral:
        return _all_ways(rgb, frame, timestamp)
    value, quality = frame_pdq(rgb)
    if quality < VPDQ.min_quality:
        return []
    return [FrameHash(frame, quality, value, timestamp, variant)]


# pdq.hashes names a variant by the turn applied to the picture, VARIANTS by the turn that
# undoes it: the quarter turns swap, the flips are their own inverses.
_UNDOING = {"rotate90": "rotate270", "rotate270": "rotate90"}


def _all_ways(rgb: "np.ndarray", frame: int, timestamp: float) -> List[FrameHash]:
    """A reference frame's eight hashes from one pass over its pixels (triage's PDQ, bit-exact
    with pdqhash; 2.6x faster than eight pdqhash calls on a 640x480 frame, where one
    pdqhash call is faster than one of ours: scanned frames stay with pdqhash)."""
    from . import pdq
    grid = pdq.Grid(pdq.luma(rgb), rgb.shape[0], rgb.shape[1], (1, 1))
    hashes = pdq.hashes(grid, turned=True)
    quality = hashes[0][1].quality
    if quality < VPDQ.min_quality:
        return []
    return [FrameHash(frame, quality, h.value, timestamp, _UNDOING.get(v, v))
            for v, h in hashes]


def dedupe(frames: List[FrameHash]) -> List[Tuple[FrameHash, int]]:
    """Runs of consecutive frames with one hash, as (first frame, run length): what the matcher
    searches (a still scene is one search, counted for all its frames)."""
    runs: List[Tuple[FrameHash, int]] = []
    for f in frames:
        if runs and runs[-1][0].value == f.value:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((f, 1))
    return runs
