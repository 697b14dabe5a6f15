"""One file's verdict: read it at most once (when some set could match it), compute only the
digests the sets need, look them up, then decode images the exact pass did not settle."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .. import reading, signals
from ..errors import READ_ERRORS, DamagedMedia, one_line
from ..hashing import chunks, digest_stream
from ..reading import MAX_IMAGE_BYTES  # noqa: F401 - importable from here, as before reading.py
from ..records import FileEntry, Match
from ..signals.exact import EDGE
from .exact import ExactMatcher

REPORT_DIGESTS = ("md5", "sha1", "sha256")   # every hit carries all three, whatever matched


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
                 stop: Optional[threading.Event] = None):
        self.exact = ExactMatcher(sets)
        self.perceptual = None
        if any(signals.SIGNALS[s].kind == "perceptual" for hs in sets for s in hs.signals
               if s in signals.SIGNALS):
            from .perceptual import PerceptualMatcher  # decoding stack only when sets need it
            self.perceptual = PerceptualMatcher(sets, thresholds)
        self.stop = stop or threading.Event()

    def needs_read(self, size: int) -> bool:
        """Whether a file of this size will be opened at all."""
        return (bool(self.exact.plan(size)) or bool(self.exact.screens(size))
                or self._image_candidate(size))

    def planned_bytes(self, size: int) -> int:
        """What the progress bar counts for a file before it is read: its size when a digest
        needs it all, its head when only a picture would be read further, else 0. (What is
        found to need more, a picture or a hit's re-read, is added when it is done.)"""
        if self.exact.plan(size):
            return size
        if self._image_candidate(size):
            return min(size, reading.HEAD)
        return min(size, 2 * EDGE) if self.exact.screens(size) else 0

    def _image_candidate(self, size: int) -> bool:
        return self.perceptual is not None and 0 < size <= reading.MAX_IMAGE_BYTES

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
        screens = self.exact.screens(entry.size)
        image = self._image_candidate(entry.size)
        if not needed and not image and not screens:   # as unread(), one plan
            return Verdict(entry, "skipped")
        screened = 0
        if screens:
            confirmed, screened = self._screen(entry, screens)
            needed = needed | confirmed
            if not needed and not image:   # its fingerprints are listed nowhere: 8 KiB read
                return Verdict(entry, "clean", bytes_read=screened)
        with entry.open() as reader:
            contents = reading.read(reader, needed, pictures=image, size=entry.size,
                                    stop=self.stop)
        if not needed and contents.data is None:
            return Verdict(entry, "skipped", bytes_read=screened + contents.bytes_read)
        verdict = Verdict(entry, "clean", hashes=contents.digests,
                          bytes_read=screened + contents.bytes_read, hashed=bool(needed))
        verdict.matches = self.exact.match(contents.digests)
        if contents.data is not None and not verdict.matches:
            self._perceive(contents.data, verdict)
        return self._settle(verdict, contents.data)

    def _screen(self, entry: FileEntry, screens) -> Tuple[frozenset, int]:
        """The full digests a file's sub-file fingerprints call for (none when no set lists
        them), from its first and last 4 KiB; and the bytes that took."""
        with entry.open() as reader:
            head, tail = reading.edges(reader, entry.size)
        prints = {name: signals.get(name).from_edges(head, tail, entry.size) for name in screens}
        return self.exact.confirm(prints, entry.size), len(head) + len(tail)

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
            missing = [d for d in REPORT_DIGESTS if d not in verdict.hashes]
            if missing and data is not None:   # a picture, still held whole: no second read
                verdict.hashes.update(digest_stream((data,), missing))
            elif missing:
                with verdict.entry.open() as reader:
                    verdict.hashes.update(digest_stream(chunks(reader), missing))
                verdict.bytes_read += verdict.entry.size
        verdict.hashes = {k: verdict.hashes[k] for k in sorted(verdict.hashes)}
        return verdict
