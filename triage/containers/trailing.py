"""Pictures stored after a picture's end: `cat cover.jpg secret.jpg > cover.jpg` shows the cover
in every viewer, while the second picture sits after the first one's end (JPEG's EOI, PNG's
IEND). Cameras store pictures so too (a multi-picture MPO's second view, an Ultra HDR gain
map). Each complete JPEG or PNG found after a decoded picture's end is a child,
`appended-N.jpg`, judged as any file: a known picture hidden so is found by its digests and its
perceptual hashes.

Where the picture ends is taken from its decoder (imaging.Budget.consumed: how far it read,
past the end by at most a block), so only what follows is searched, not the picture; a
candidate found there is parsed (JPEG's markers and entropy-coded segments, PNG's chunks) and
kept only when it is complete."""

from __future__ import annotations

import io
import re
import struct
from typing import BinaryIO, Iterator, List, Optional, Tuple

from . import Budget, ContainerReader, Member

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOI = b"\xff\xd8\xff"
MAX_FOUND = 16            # pictures after one picture, at most
DECODER_BLOCK = 1 << 17   # how far past its end a decoder may have read (Pillow: 64 KiB)
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")   # what ends entropy-coded data


def end_of(data: bytes, start: int = 0) -> Optional[int]:
    """Where the JPEG or PNG beginning at `start` ends (just past its EOI or IEND chunk), or
    None when it is neither, or does not end within `data`."""
    if data.startswith(JPEG_SOI, start):
        return _jpeg_end(data, start)
    if data.startswith(PNG_SIGNATURE, start):
        return _png_end(data, start)
    return None


def _jpeg_end(data: bytes, start: int) -> Optional[int]:
    at, n = start + 2, len(data)
    while at + 2 <= n:
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:                       # a fill byte before a marker
            at += 1
            continue
        if marker == 0xD9:                       # EOI
            return at + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:   # markers without a length
            at += 2
            continue
        if at + 4 > n:
            return None
        length = struct.unpack_from(">H", data, at + 2)[0]
        if length < 2:
            return None
        at += 2 + length
        if marker == 0xDA:   # SOS: entropy-coded data, where an 0xFF is followed by 0x00, a
            found = _MARKER.search(data, at)   # restart marker or fill, up to the next marker
            if found is None:
                return None
            at = found.start()
    return None


def _png_end(data: bytes, start: int) -> Optional[int]:
    at, n = start + len(PNG_SIGNATURE), len(data)
    while at + 12 <= n:
        length, kind = struct.unpack_from(">I4s", data, at)
        at += 12 + length
        if at > n:
            return None
        if kind == b"IEND":
            return at
    return None


def appended_pictures(data: bytes, consumed: int) -> List[Tuple[int, int]]:
    """(start, end) of each complete JPEG or PNG stored after the JPEG or PNG `data` begins
    with, whose decoder read `consumed` bytes of it (so it ends within DECODER_BLOCK before
    that). The search starts past the picture's own metadata (a JPEG's first scan header, a
    PNG's chunks), where a thumbnail may be kept; other kinds of picture are not searched (a
    TIFF's strips may be JPEG streams of their own)."""
    if data.startswith(JPEG_SOI):
        own = _first_scan(data)
    elif data.startswith(PNG_SIGNATURE):
        own = _png_end(data, 0)
    else:
        return []
    if own is None:
        return []
    at = max(own, consumed - DECODER_BLOCK)
    found: List[Tuple[int, int]] = []
    while len(found) < MAX_FOUND:
        starts = [i for i in (data.find(JPEG_SOI, at), data.find(PNG_SIGNATURE, at)) if i >= 0]
        if not starts:
            break
        start = min(starts)
        stop = end_of(data, start)
        if stop is None:   # no complete picture there: look further on
            at = start + 1
            continue
        found.append((start, stop))
        at = stop
    return found


def _first_scan(data: bytes) -> Optional[int]:
    """Where a JPEG's first entropy-coded segment begins (past its first SOS header)."""
    at, n = 2, len(data)
    while at + 4 <= n and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xFF:
            at += 1
            continue
        length = struct.unpack_from(">H", data, at + 2)[0]
        if length < 2:
            return None
        at += 2 + length
        if marker == 0xDA:
            return at
    return None


class AppendedPictures(ContainerReader):
    """The pictures after a picture's end (not a registered reader: no head tells them; the
    judge makes one for a picture it decoded)."""

    name = "appended pictures"
    marks = ()

    def __init__(self, spans: List[Tuple[int, int]]):
        self.spans = spans

    def members(self, source: BinaryIO, size: int, budget: Budget,
                shown: str) -> Iterator[Member]:
        for number, (start, end) in enumerate(self.spans, 1):
            source.seek(start)
            data = source.read(end - start)
            ext = "png" if data.startswith(PNG_SIGNATURE) else "jpg"
            yield Member(name=f"appended-{number}.{ext}", size=len(data),
                         open=lambda data=data: io.BytesIO(data))


def reader_for(data: bytes, consumed: int) -> Optional[AppendedPictures]:
    """A reader of the pictures after the decoded picture `data`, or None when none follows
    it."""
    spans = appended_pictures(data, consumed) if consumed > 0 else []
    return AppendedPictures(spans) if spans else None
