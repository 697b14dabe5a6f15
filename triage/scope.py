"""The part of one evidence item a scan judges: some of its volumes, and of a volume a range of
its file list. `triage batch` splits a large item into such parts, each scanned into a results
database of its own, then merged (Results.absorb) into the item's.

A volume's file list is the order `Evidence.entries` walks it in, which is stable; a range is
`[start, stop)` in that list, counting file entries only. What makes the merged database the
one a single scan of the whole item writes:
- every file entry and walk error belongs to exactly one part: an error to the part whose range
  holds the number of file entries walked before it;
- a part walks its volume from the start, so content met before its range (another name of a
  file it will meet: a hard link, a reallocated name) is known to it as judged there, and is
  listed as another name rather than read again, as a single scan would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Tuple, Union

from .records import FileEntry, ScanError


@dataclass(frozen=True)
class Range:
    volume: Optional[int]        # volume index; None for an item without volumes (a folder)
    start: int = 0               # first file entry of the range, in walk order
    stop: Optional[int] = None   # the entry after the last one; None: to the volume's end

    def to_dict(self) -> dict:
        return {"volume": self.volume, "start": self.start, "stop": self.stop}


@dataclass(frozen=True)
class Scope:
    ranges: Tuple[Range, ...]    # in walk order, one volume at most once

    def to_dict(self) -> dict:
        return {"ranges": [r.to_dict() for r in self.ranges]}

    @classmethod
    def from_dict(cls, data: dict) -> "Scope":
        return cls(tuple(Range(r["volume"], r["start"], r["stop"]) for r in data["ranges"]))


Item = Union[FileEntry, ScanError]


def walk(evidence, scope: Optional[Scope], deleted: bool) -> Iterator[Tuple[Item, bool]]:
    """(entry or walk error, whether it is the scope's own) in walk order. Entries before a
    range come with False (the caller notes their content, and judges nothing); the walk of a
    volume ends at its range's stop."""
    # runs: the scan reads the files next, in the order of where they lie on the media
    if scope is None:
        for item in evidence.entries(deleted=deleted, runs=True):
            yield item, True
        return
    for rng in scope.ranges:
        position = 0
        volumes = None if rng.volume is None else (rng.volume,)
        for item in evidence.entries(deleted=deleted, volumes=volumes, runs=True):
            if rng.stop is not None and position >= rng.stop:
                break
            yield item, position >= rng.start
            if not isinstance(item, ScanError):
                position += 1
