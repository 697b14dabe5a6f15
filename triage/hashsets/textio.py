"""Open a text hash-set source whatever its encoding: UTF-8 with or without BOM, UTF-16 (BOM or
bare), any line ending. Bytes that do not decode become U+FFFD so one bad line is reported, not
fatal. Lines are read with a bound (limits.MAX_LINE): a file of one endless line is refused at
the bound instead of being read whole into memory."""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO, Iterator, TextIO, Tuple

from .limits import MAX_LINE, size_text
from .problems import SourceError

HEAD = 64 * 1024


def encoding_of(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # UTF-16 without BOM: ASCII text shows up as every other byte zero.
    sample = head[:512]
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4:
        return "utf-16-le"
    if len(sample) >= 4 and sample[0::2].count(0) > len(sample) // 4:
        return "utf-16-be"
    return "utf-8"


def text_reader(raw: BinaryIO) -> io.TextIOWrapper:
    head = raw.peek(HEAD)[:HEAD] if hasattr(raw, "peek") else b""
    return io.TextIOWrapper(raw, encoding=encoding_of(head), errors="replace", newline=None)


def head_text(head: bytes) -> str:
    """Decode the first bytes of a file for sniffing; a cut multi-byte character is harmless."""
    encoding = encoding_of(head)
    return head.decode(encoding, errors="replace").lstrip("\ufeff")


def too_long(number: int) -> SourceError:
    return SourceError(number, f"line longer than {size_text(MAX_LINE)}: not a hash-set line "
                               "(limit), reading stopped")


def lines(text: TextIO, first: int = 1) -> Iterator[str]:
    """The lines of a text stream with their endings, each at most MAX_LINE characters; a
    longer one raises SourceError with its number (`first` is the number of the first)."""
    readline = text.readline
    number = first
    while True:
        line = readline(MAX_LINE + 1)
        if len(line) > MAX_LINE and line[-1] != "\n":
            raise too_long(number)
        if not line:
            return
        yield line
        number += 1


def numbered_lines(raw: BinaryIO) -> Iterator[Tuple[int, str]]:
    """(line number from 1, line without its ending)."""
    for number, line in enumerate(lines(text_reader(raw)), 1):
        yield number, line.rstrip("\n")
