"""Plain hash lists: md5sum/sha1sum/sha256sum (`HASH  name`, binary mode `HASH *name`), BSD and
`--tag` style `MD5 (name) = HASH`, bare hashes one a line, md5deep -z (`SIZE  HASH  name`), and
pdq-photo-hasher's `HASH,QUALITY[,name]`. The signal of a bare hash comes from its length
(32 md5, 40 sha1, 64 sha256) unless the caller names it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Optional

from ... import signals
from ..problems import Problem
from ..textio import numbered_lines
from .base import Format, Item, register
from .fields import entries, signal_of

_BSD = re.compile(r"([A-Za-z0-9-]+)\s?\((.*)\)\s?=\s?([0-9A-Fa-f]+)\Z")
_SUM = re.compile(r"\\?([0-9A-Fa-f]{16,128})(?:[ \t]+\*?(.*))?\Z")
_SIZED = re.compile(r"(\d+)[ \t]+([0-9A-Fa-f]{16,128})(?:[ \t]+(.*))?\Z")
_QUALITY = re.compile(r"([0-9A-Fa-f]{64}),(\d{1,3})(?:,(.*))?\Z")
BY_LENGTH = {32: "md5", 40: "sha1", 64: "sha256"}
COMMENT = ("#", ";", "//")


def parse_line(line: str, signal: Optional[str]):
    """(signal, value, size, name, quality) of one list line, or None when it is not one."""
    m = _QUALITY.match(line)
    if m:
        return signal or "pdq", m.group(1), None, m.group(3), m.group(2)
    m = _BSD.match(line)
    if m:
        return signal_of(m.group(1)) or m.group(1).lower(), m.group(3), None, m.group(2), None
    m = _SIZED.match(line)
    if m and len(m.group(1)) < 16:
        return signal or BY_LENGTH.get(len(m.group(2))), m.group(2), m.group(1), m.group(3), None
    m = _SUM.match(line)
    if m:
        return signal or BY_LENGTH.get(len(m.group(1))), m.group(1), None, m.group(2), None
    return None


@register
class Plain(Format):
    name = "plain"
    priority = 90

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        lines = [x.strip() for x in text.splitlines()[:50]]
        lines = [x for x in lines if x and not x.startswith(COMMENT)][:-1] or lines[:1]
        good = sum(parse_line(x, None) is not None for x in lines)
        return good > 0 and good * 2 >= len(lines)

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        with open(path, "rb") as raw:
            for number, line in numbered_lines(raw):
                line = line.strip()
                if not line or line.startswith(COMMENT):
                    continue
                where = number
                parsed = parse_line(line, signal)
                if parsed is None:
                    yield where, Problem(where, "not a hash line")
                    continue
                kind, value, size, name, quality = parsed
                if kind is None:
                    yield where, Problem(
                        where, f"cannot tell the signal of a {len(value)}-character hash "
                               "(name it with --signal)")
                    continue
                if kind not in signals.SIGNALS:
                    yield where, Problem(where, f"unsupported hash kind {kind!r}",
                                         code="unsupported")
                    continue
                yield from entries(where, {kind: value}, size=size, name=name or None,
                                   quality=quality)
