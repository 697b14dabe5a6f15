"""One file's verdict: read it at most once (when some set could match it), compute only the
digests the sets need, look them up, then decode images the exact pass did not settle."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .. import reading, signals
from ..errors import READ_ERRORS, DamagedMedia, one_line
from ..hashing import chunks, digest_stream
from ..reading import MAX_IMAGE_BYTES  # noqa: F401 - importable from here, as before reading.py
from ..records import FileEntry, Match
from .exact import ExactMatcher

REPORT_DIGESTS = ("md5", "sha1", "sha256")   # every hit carries all three, whatever matched
# What decoding and hashing a picture costs, as bytes read and hashed would (workers.batches):
# a 12-megapixel JPEG of 4 MB took ~15 ms, a 100 KB PNG ~4 ms, where reading and hashing a MiB
# takes ~2 ms.
PICTURE_WORK = 2 << 20
PICTURE_WORK_PER_BYTE = 2


@dataclass
class Verdict:
    entry: FileEntry
    status: str                                   # see results.STATUSES
    matches: List[Match] = field(default_factory=list)
    hashes: Dict[str, str] = field(default_factory=dict)
    bytes_read: int = 0
    hashed: bool = False
    decoded: bool = False
    errors: List[str] = field(default_factory=list)     # content that could not be checked
    warnings: List[str] = field(default_factory=list)   # checked, but worth an examiner's look
    damaged: List[Tuple[int, int]] = field(default_factory=list)   # media ranges (offset, length)

    @property
    def is_hit(self) -> bool:
        return self.status == "hit"


class Judge:
    def __init__(self, sets, thresholds: Optional[Dict[str, int]] = None,
                 stop: Optional[threading.Event] = None, video: Optional[dict] = None):
        self.exact = ExactMatcher(sets)
        self.perceptual = self.video = None
        kinds = {signals.SIGNALS[s].kind for hs in sets for s in hs.signals
                 if s in signals.SIGNALS}
        if "perceptual" in kinds:
            from .perceptual import PerceptualMatcher  # decoding stack only when sets need it
            self.perceptual = PerceptualMatcher(sets, thresholds)
        if "video" in kinds:
            from .video import VideoMatcher, VideoOptions
            self.video = VideoMatcher(sets, thresholds, VideoOptions.of(video)) or None
        self.stop = stop or threading.Event()

    def needs_read(self, size: int) -> bool:
        """Whether a file of this size will be opened at all."""
        return bool(self.exact.plan(size)) or self._image_candidate(size)

    def planned_bytes(self, size: int) -> int:
        """What the progress bar counts for a file before it is read: its size when a digest
        needs it all, its head when only a picture would be read further, else 0. (What is
        found to need more, a picture or a hit's re-read, is added when it is done.)"""
        if self.exact.plan(size):
            return size
        return min(size, reading.HEAD) if self._image_candidate(size) else 0

    def cost(self, entry: FileEntry) -> int:
        """What judging `entry` is expected to cost, in bytes read: what it plans to read,
        and for a likely picture (by its name) its reading and decoding; for workers.batches."""
        planned = self.planned_bytes(entry.size)
        if not (self._image_candidate(entry.size) and reading.likely_picture(entry.path)):
            return planned
        return max(planned, entry.size) + PICTURE_WORK + PICTURE_WORK_PER_BYTE * entry.size

    def _image_candidate(self, size: int) -> bool:
        return (self.perceptual is not None or self.video is not None) and \
            0 < size <= reading.MAX_IMAGE_BYTES or self._video_candidate(size)

    def _video_candidate(self, size: int) -> bool:
        return self.video is not None and size > 0

    def unread(self, entry: FileEntry) -> Optional[Verdict]:
        """The verdict of a file no set could match by its size, which is never opened; None
        when the file must be read. Cheap: the scan settles these without a worker."""
        return None if self.needs_read(entry.size) else Verdict(entry, "skipped")

    def __call__(self, entry: FileEntry) -> Verdict:
        try:
            return self._judge(entry)
        except READ_ERRORS as exc:
            damaged = [(exc.offset, exc.length)] if isinstance(exc, DamagedMedia) else []
            return Verdict(entry, "error", errors=[f"read failed: {one_line(exc)}"],
                           damaged=damaged)

    def _judge(self, entry: FileEntry) -> Verdict:
        needed = self.exact.plan(entry.size)
        image = self._image_candidate(entry.size)
        if not needed and not image:   # as unread(), one plan
            return Verdict(entry, "skipped")
        with entry.open() as reader:
            contents = reading.read(reader, needed, pictures=image, size=entry.size,
                                    stop=self.stop, videos=self._video_candidate(entry.size))
        if not needed and contents.data is None and contents.video is None:
            return Verdict(entry, "skipped", bytes_read=contents.bytes_read)
        verdict = Verdict(entry, "clean", hashes=contents.digests,
                          bytes_read=contents.bytes_read, hashed=bool(needed))
        verdict.matches = self.exact.match(contents.digests)
        if contents.data is not None and not verdict.matches:
            if self.perceptual is not None:
                self._perceive(contents.data, verdict)
            if self.video is not None and not verdict.matches:
                from ..video import is_animated   # an animated GIF, APNG or WebP is a video
                if is_animated(contents.data):
                    self._watch(lambda: io.BytesIO(contents.data), verdict)
        elif contents.video is not None and not verdict.matches:
            self._watch(entry.open, verdict)
        return self._settle(verdict, contents.data)

    def _watch(self, opener, verdict: Verdict) -> None:
        """Decode a video (bounded, video.hash_video), search its frames, record what came of
        it. The file is read again, by FFmpeg, as it asks: a video is never held whole."""
        from ..video import VideoDecodeError, open_seekable
        try:
            with open_seekable(opener, verdict.entry.size) as source:
                hashed = self.video.hash(source, stop=self.stop)
        except VideoDecodeError as exc:
            verdict.errors.append(exc.reason())
            return
        except MemoryError:
            verdict.errors.append("video not hashed: out of memory")
            return
        verdict.decoded = True
        verdict.warnings += hashed.warnings
        verdict.matches.extend(self.video.search(hashed.frames))

    def _perceive(self, data: bytes, verdict: Verdict) -> None:
        from .. import imaging
        from ..library_warnings import collected
        with collected() as said:
            try:
                matches, hashes = self.perceptual.match(data)
            except imaging.ImageDecodeError as exc:
                (verdict.errors if exc.severity == "error" else verdict.warnings).append(
                    exc.reason())
                matches = hashes = None
            except MemoryError:   # the budget should prevent it; a record all the same
                verdict.errors.append("image not hashed: out of memory")
                matches = hashes = None
        verdict.warnings += [f"image library warning: {w}" for w in said]
        if matches is None:
            return
        verdict.decoded = True
        verdict.matches.extend(matches)
        for h in hashes:
            if h.variant == "original":
                verdict.hashes.setdefault(h.signal, h.value)

    def _canonical(self, data: bytes, verdict: Verdict) -> None:
        """A hit's perceptual values for the report: canonical, at full size, as `triage hash`
        and other tools compute them (the query's were taken from block means, a few bits
        off). Should that fail, the query's stay, and a warning says so."""
        from .. import imaging
        from ..library_warnings import collected
        from .perceptual import canonical, full_size_budget
        budget = full_size_budget()
        names = sorted(self.perceptual.signals)
        with collected() as said:
            try:
                found = canonical(imaging.decode(data, budget), names, budget)
            except (imaging.ImageDecodeError, MemoryError) as exc:
                reason = exc.reason() if isinstance(exc, imaging.ImageDecodeError) else (
                    "image not hashed: out of memory")
                verdict.warnings.append(f"perceptual values in the report are the scan's "
                                        f"(from block means), not the canonical: {reason}")
                found = []
        verdict.warnings += [f"image library warning: {w}" for w in said]
        verdict.hashes.update({h.signal: h.value for h in found})

    def _settle(self, verdict: Verdict, data: Optional[bytes] = None) -> Verdict:
        kinds = {m.kind for m in verdict.matches}
        if "known-good" in kinds:
            verdict.status = "known"
            if "alert" in kinds:
                alert_sets = sorted({m.set for m in verdict.matches if m.kind == "alert"})
                verdict.warnings.append(
                    "listed in alert set(s) " + ", ".join(alert_sets) +
                    " and in a known-good set: treated as known-good; check the sets")
        elif "alert" in kinds:
            verdict.status = "hit"
            if (verdict.decoded and data is not None and self.perceptual is not None
                    and self.perceptual.signals & verdict.hashes.keys()):
                # a picture the perceptual sets judged (not a video: its frames are vpdq's)
                self._canonical(data, verdict)
            missing = [d for d in REPORT_DIGESTS if d not in verdict.hashes]
            if missing and data is not None:   # a picture, still held whole: no second read
                verdict.hashes.update(digest_stream((data,), missing))
            elif missing:
                with verdict.entry.open() as reader:
                    verdict.hashes.update(digest_stream(chunks(reader), missing))
                verdict.bytes_read += verdict.entry.size
        verdict.hashes = {k: verdict.hashes[k] for k in sorted(verdict.hashes)}
        return verdict
