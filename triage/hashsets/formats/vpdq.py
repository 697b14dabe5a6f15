"""vPDQ hash files: one video's frame hashes, one `frame,quality,pdq_hex,timestamp` line a
frame, as ThreatExchange's `vpdq` package and HMA write them (`triage hash --signal vpdq`
too). `hashset import` takes one file per video, or a folder of them.

Every line of a file is one frame of the same video: the file is the video's record. Its
entries carry the video's ID, the SHA-256 of its normalised vPDQ text (what `triage hash
--signal vpdq` prints for the video itself), so a match names the reference without its file
name; the file name is kept as the entries' name, for provenance only."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Optional

from ...records import SetEntry
from ...signals.vpdq import parse_line
from ..problems import Problem, SourceError
from ..textio import numbered_lines
from .base import Format, Item, register

MAX_BYTES = 256 * 1024 * 1024     # ~2.8 million frames: 32 days at one a second
COMMENT = "#"


def _lines(text: str) -> List[str]:
    return [x.strip() for x in text.splitlines() if x.strip() and not x.startswith(COMMENT)]


@register
class VPDQFile(Format):
    name = "vpdq"
    priority = 30     # before the generic tables: its lines are comma-separated too

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        lines = _lines(text)[:50]
        if len(head) >= 4096 and len(lines) > 1:
            lines = lines[:-1]   # the last line may be cut short by the head
        good = 0
        for line in lines:
            try:
                parse_line(line)
                good += 1
            except ValueError:
                pass
        return good > 0 and good * 2 >= len(lines)

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        if signal not in (None, "vpdq"):
            raise SourceError("", f"a vPDQ file holds vpdq values, not {signal}")
        if path.stat().st_size > MAX_BYTES:
            raise SourceError("", f"larger than {MAX_BYTES} bytes: not a vPDQ hash file")
        frames = []
        with open(path, "rb") as raw:
            for number, line in numbered_lines(raw):
                line = line.strip()
                if not line or line.startswith(COMMENT):
                    continue
                try:
                    frames.append((number, parse_line(line)))
                except ValueError as exc:
                    yield number, Problem(number, str(exc))
        from ...scanners.video import reference_id
        ident = reference_id([f.line() for _, f in frames if f.variant == "original"])
        for number, f in frames:
            yield number, SetEntry("vpdq", f.line(), None, None, None, path.name, f.quality,
                                   ident)
