"""The bulk path of the line-based readers: a source read in blocks of whole lines, and the
fields of a clean block parsed with numpy, a whole column at a time.

Per-line parsing costs ~5 us of Python a record (regex or csv row, signal parse, a SetEntry);
a 10-million-line list took over a minute. Here a block costs a few dozen numpy calls whatever
its length. A block is taken in bulk only when every line in it is one the per-line path would
read without a problem; any other block goes through the per-line path with its true line
numbers, so what is reported, and where, does not depend on which path read a line."""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO, Iterator, List, Optional, Tuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ... import signals
from ..limits import MAX_LINE
from ..textio import HEAD, encoding_of, too_long

# 1 MiB, ~25,000 lines of a CSV: large enough that numpy's per-call cost vanishes, small enough
# that a block falling back to the per-line path for one bad line costs ~0.1 s.
BLOCK = 1 << 20

_NIBBLE = np.full(256, 255, np.uint8)
for _value, _char in enumerate(b"0123456789abcdef"):
    _NIBBLE[_char] = _NIBBLE[bytes([_char]).upper()[0]] = _value


def hex_length(signal: Optional[str]) -> int:
    """The hex length of a signal's values when the bulk path can read them (registered, and
    parsed by the base rule: strip, lower case, that many hex digits), else 0."""
    cls = signals.SIGNALS.get(signal) if signal else None
    if cls is None or cls.parse.__func__ is not signals.Signal.parse.__func__:
        return 0
    return cls.hex_length


def blocks(raw: BinaryIO, first_line: int, size: int = BLOCK) -> Iterator[Tuple[int, int, bytes]]:
    """(number of the block's first line, byte offset from where reading began, bytes) for
    consecutive blocks that end at a line end. Line numbers count lines as universal newlines
    do (LF, CRLF and a bare CR each end one). A line longer than MAX_LINE raises SourceError."""
    number, offset, carry = first_line, 0, b""
    while True:
        chunk = raw.read(size)
        if not chunk:
            break
        data = carry + chunk
        if carry and _first_end(data, MAX_LINE + 1) < 0:
            if len(data) > MAX_LINE:
                raise too_long(number)
            carry = data            # one line longer than a block: read on, to the bound
            continue
        # After the last LF, or a CR known not to be the first half of a CRLF.
        cut = max(data.rfind(b"\n"), data.rfind(b"\r", 0, len(data) - 1)) + 1
        if cut == 0:
            carry = data
            continue
        block, carry = data[:cut], data[cut:]
        yield number, offset, block
        number += block.count(b"\n")
        if b"\r" in block:
            number += block.count(b"\r") - block.count(b"\r\n")
        offset += len(block)
    if carry:
        if len(carry) > MAX_LINE:
            raise too_long(number)
        yield number, offset, carry


def utf8_blocks(raw, first_line: int,
                size: int = BLOCK) -> Optional[Iterator[Tuple[int, int, bytes]]]:
    """`blocks` of a UTF-8 stream, its BOM skipped; None for any other encoding (UTF-16),
    which the caller reads per line."""
    encoding = encoding_of(raw.peek(HEAD)[:HEAD])
    if encoding not in ("utf-8", "utf-8-sig"):
        return None
    if encoding == "utf-8-sig":
        raw.read(len(codecs.BOM_UTF8))
    return blocks(raw, first_line, size)


def _first_end(data: bytes, within: int) -> int:
    """Where the first line of `data` ends (its LF or CR), if within `within` bytes, else -1."""
    ends = [i for i in (data.find(b"\n", 0, within), data.find(b"\r", 0, within)) if i >= 0]
    return min(ends) if ends else -1


def text_of(block: bytes) -> io.StringIO:
    """A block as the per-line path's text stream would read it: UTF-8 with U+FFFD for bad
    bytes, universal newlines. Blocks end at line ends, so no character is cut in two."""
    return io.StringIO(block.decode("utf-8", "replace"), newline=None)


def numbered(block: bytes, first_line: int) -> Iterator[Tuple[int, str]]:
    for number, line in enumerate(text_of(block), first_line):
        yield number, line.rstrip("\n")


class Lines:
    """A block split into lines, CRLF read as LF: `data` (bytes), `arr` (the same as uint8),
    and the `starts` and `ends` offsets of every line, without its LF."""

    def __init__(self, data: bytes):
        self.data = data
        self.arr = np.frombuffer(data, np.uint8)
        self.ends = np.flatnonzero(self.arr == 10)
        if len(data) and data[-1] != 10:
            self.ends = np.append(self.ends, len(data))
        self.starts = np.zeros_like(self.ends)
        self.starts[1:] = self.ends[:-1] + 1

    @classmethod
    def of(cls, block: bytes) -> Optional["Lines"]:
        """None when the block has a bare CR, which only the per-line path splits the way it
        always has."""
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n")
            if b"\r" in block:
                return None
        return cls(block)


def hex_digests(arr: np.ndarray, starts: np.ndarray, length: int) -> Optional[np.ndarray]:
    """The digests spelled by the `length` hex characters (either case) at each start, as
    uint8 rows; None when any of those characters is not hex. Callers make sure every field
    is `length` bytes long."""
    if not len(starts):
        return np.zeros((0, length // 2), np.uint8)
    nibbles = _NIBBLE[sliding_window_view(arr, length)[starts]]
    if nibbles.max() > 15:
        return None
    return (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]


def decimals(arr: np.ndarray, starts: np.ndarray, ends: np.ndarray,
             digits: int) -> Optional[np.ndarray]:
    """uint64 values of fields of 1 to `digits` ASCII digits; None when any field is not one."""
    widths = ends - starts
    if not len(widths):
        return np.zeros(0, np.uint64)
    width = int(widths.max())
    if widths.min() < 1 or width > digits:
        return None
    # Each field right-aligned in a window of `width` bytes; what precedes it counts as 0.
    padded = np.concatenate([np.zeros(width, np.uint8), arr])
    window = sliding_window_view(padded, width)[ends]
    inside = np.arange(width) >= (width - widths)[:, None]
    values = np.where(inside, window - np.uint8(48), 0)
    if values.max() > 9:
        return None
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.uint64)
    return (values.astype(np.uint64) * powers).sum(axis=1)


def distinct(block: bytes, arr: np.ndarray, starts: np.ndarray,
             ends: np.ndarray) -> Tuple[List[bytes], np.ndarray]:
    """The distinct field values in order of first appearance, and each field's index into
    them: for columns such as the category, with a handful of values over millions of rows."""
    widths = ends - starts
    if len(widths) and widths.max() < 8:
        # Up to 7 bytes: each field zero-padded, its width in the 8th byte, as one uint64
        # word, so numpy does the grouping.
        padded = np.concatenate([arr, np.zeros(8, np.uint8)])
        window = np.array(sliding_window_view(padded, 8)[starts])
        window[np.arange(8) >= widths[:, None]] = 0
        window[:, 7] = widths
        packed = window.view(np.uint64).ravel()
        _, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        values = [block[s:e] for s, e in zip(starts[first[order]].tolist(),
                                             ends[first[order]].tolist())]
        return values, rank[inverse.ravel()]
    index: dict = {}
    codes = [index.setdefault(block[s:e], len(index))
             for s, e in zip(starts.tolist(), ends.tolist())]
    return list(index), np.array(codes, np.intp)


def texts(block: bytes, starts: np.ndarray, ends: np.ndarray) -> List[str]:
    """Each field decoded as the per-line path decodes it. An ASCII block (the usual case) is
    decoded once and sliced: byte offsets are then character offsets."""
    if block.isascii():
        text = block.decode("ascii")
        return [text[s:e] for s, e in zip(starts.tolist(), ends.tolist())]
    return [block[s:e].decode("utf-8", "replace") for s, e in zip(starts.tolist(), ends.tolist())]
