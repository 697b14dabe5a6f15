"""Plain hash lists: md5sum/sha1sum/sha256sum (`HASH  name`, binary mode `HASH *name`), BSD and
`--tag` style `MD5 (name) = HASH`, bare hashes one a line, md5deep -z (`SIZE  HASH  name`), and
pdq-photo-hasher's `HASH,QUALITY[,name]`. The signal of a bare hash comes from its length
(32 md5, 40 sha1, 64 sha256) unless the caller names it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np

from ... import signals
from ..problems import Problem
from ..textio import numbered_lines
from . import blocks
from .base import Columns, Format, Item, register
from .blocks import hex_digests, texts
from .fields import entries, signal_of

_BSD = re.compile(r"([A-Za-z0-9-]+)\s?\((.*)\)\s?=\s?([0-9A-Fa-f]+)\Z")
_SUM = re.compile(r"\\?([0-9A-Fa-f]{16,128})(?:[ \t]+\*?(.*))?\Z")
_SIZED = re.compile(r"([0-9]+)[ \t]+([0-9A-Fa-f]{16,128})(?:[ \t]+(.*))?\Z")
_QUALITY = re.compile(r"([0-9A-Fa-f]{64}),([0-9]{1,3})(?:,(.*))?\Z")
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
            yield from read_lines(numbered_lines(raw), signal)

    @classmethod
    def read_bulk(cls, path: Path, signal: Optional[str] = None) -> Iterator[Union[Item, Columns]]:
        return read_bulk(path, signal)


def read_lines(lines: Iterable[Tuple[int, str]], signal: Optional[str]) -> Iterator[Item]:
    """The items of (line number, line) pairs, one line at a time."""
    for number, line in lines:
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
            yield where, Problem(where, "the line names a hash kind triage does not read",
                                 code="unsupported")
            continue
        yield from entries(where, {kind: value}, size=size, name=name or None, quality=quality)


def read_bulk(path: Path, signal: Optional[str] = None,
              block_size: int = blocks.BLOCK) -> Iterator[Union[Item, Columns]]:
    """`read`, with blocks of plain `HASH[  name]` lines as Columns (UTF-8 files only)."""
    with open(path, "rb") as raw:
        parts = blocks.utf8_blocks(raw, 1, block_size)
        if parts is None:
            yield from read_lines(numbered_lines(raw), signal)
            return
        for number, _, block in parts:
            columns = _parse_block(block, signal)
            if columns is None:
                yield from read_lines(blocks.numbered(block, number), signal)
            elif columns.rows:
                yield columns


_HEX_CHARS = b"0123456789abcdefABCDEF"
_COMMENT_BYTES = np.frombuffer(b"#;", np.uint8)


def _parse_block(block: bytes, signal: Optional[str]) -> Optional[Columns]:
    """The block's hash lines as Columns, or None unless each line is blank, a comment, or one
    that `parse_line` reads as `_SUM` does: hex of one length from the first byte, then the
    end of the line or blanks and a name (not a `(`, which could make it a BSD line)."""
    lines = blocks.Lines.of(block)
    if lines is None:
        return None
    arr, starts, ends = lines.arr, lines.starts, lines.ends
    widths = ends - starts
    first, second = arr.take(starts, mode="clip"), arr.take(starts + 1, mode="clip")
    comment = np.isin(first, _COMMENT_BYTES) | ((first == ord("/")) & (second == ord("/"))
                                               & (widths > 1))
    hashed = (widths > 0) & ~comment
    starts, ends, widths = starts[hashed], ends[hashed], widths[hashed]
    m = len(starts)
    if not m:
        return Columns(0, {})
    head = lines.data[starts[0]:ends[0]]
    length = len(head) - len(head.lstrip(_HEX_CHARS))
    kind = signal or BY_LENGTH.get(length)
    if blocks.hex_length(kind) != length or not 16 <= length <= 128 or widths.min() < length:
        return None
    named = np.flatnonzero(widths > length)
    after = starts[named] + length
    if not np.isin(arr[after], (ord(" "), ord("\t"))).all():
        return None
    if (arr.take(after + 1, mode="clip")[widths[named] > length + 1] == ord("(")).any():
        return None
    keys = hex_digests(arr, starts, length)
    if keys is None:
        return None
    columns = Columns(m, {kind: (keys, None)})
    if len(named):
        names: List[Optional[str]] = [None] * m
        for row, text in zip(named.tolist(), texts(lines.data, after, ends[named])):
            text = text.lstrip(" \t")
            names[row] = (text[1:] if text.startswith("*") else text).rstrip() or None
        columns.name = names
    return columns
