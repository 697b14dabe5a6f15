"""One read of a file for everything asked of it: every requested digest in one pass over the
bytes, the head that tells a picture by its content, and the whole content when it is a
picture small enough to decode. The scan's judge, `triage hash` and `hashset build` read files
through here, so each file is read once and the same limits hold everywhere.

A reader in, plain values out, nothing kept between files: it runs the same in a worker
process as in the main one, and what it returns can be sent from one to the other."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Dict, Iterable, List, Optional, Tuple, Union

from .hashing import CHUNK, chunks, digest_stream
from .signals.exact import EDGE, edge_span
from .streams import positioned
from .workers import Interrupted

HEAD = 64 * 1024                       # read first, always: far more than libmagic needs
TAIL = 4 * 1024                        # a file's last bytes: an appended zip's end record
#                                        lies in them (containers.appended)
MAX_IMAGE_BYTES = 256 * 1024 * 1024    # larger "pictures" are not decoded (bombs, videos)
# Names pictures usually have: only to guess what reading a file will cost when work is shared
# out (workers.batches), never to decide what is decoded: that is the content's say.
PICTURE_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp",
    ".heic", ".heif", ".avif"})


def likely_picture(name: str) -> bool:
    """Whether a file's name says picture (see PICTURE_SUFFIXES: a cost estimate only)."""
    return os.path.splitext(name or "")[1].lower() in PICTURE_SUFFIXES


@dataclass
class Contents:
    """What one read of a file gave."""

    bytes_read: int
    digests: Dict[str, str] = field(default_factory=dict)   # hex, by signal name
    picture: Optional[str] = None     # its MIME type, when pictures were asked for and it is one
    data: Optional[bytes] = None      # the whole file, when it is a picture within the cap
    video: Optional[str] = None       # its container's MIME type, when videos were asked for
    head: bytes = b""                 # its first HEAD bytes (what tells a container)
    tail: bytes = b""                 # its last TAIL bytes, when it was read to its end

    @property
    def too_large(self) -> bool:
        """A picture over MAX_IMAGE_BYTES: recognised, but its content was not kept."""
        return self.picture is not None and self.data is None


def read(reader: BinaryIO, digests: Iterable[str] = (), *, pictures: bool = False,
         videos: bool = False, size: Optional[int] = None, stop=None,
         more: Optional[Callable[[bytes], Iterable[str]]] = None) -> Contents:
    """Read `reader` from its start: its head always, then, when a digest is asked for or it
    is a picture to keep, the rest once for all of them. `pictures`: tell a picture by its
    content (imaging.sniff) and keep the bytes of one up to MAX_IMAGE_BYTES. `size`, when
    known, spares reading an empty file and lets a larger picture be passed over unread.
    `videos`: tell a video container by its head (video.sniff); it is decoded from the file
    itself, later, never held here.
    `stop` (an event) is polled between blocks: once set, the read raises Interrupted.
    `more(head)` names digests to add once the head is seen (a container's MD5)."""
    digests = tuple(digests)
    head = reader.read(HEAD if size is None else min(HEAD, size)) if size != 0 else b""
    if more is not None:
        digests += tuple(d for d in more(head) if d not in digests)
    picture = None
    if pictures:
        from .imaging import sniff   # the decoding stack, only for reads that need it
        picture = sniff(head)
    video = None
    if videos and picture is None:
        from .video import sniff as sniff_video
        video = sniff_video(head)
    keep = picture is not None and (size is None or size <= MAX_IMAGE_BYTES)
    if not digests and not keep:
        whole = size is not None and len(head) == size
        return Contents(len(head), picture=picture, video=video, head=head,
                        tail=head[-TAIL:] if whole else b"")
    total = len(head)
    kept = [head] if keep else None
    last = [b"", head]   # the two last blocks read: the file's tail lies in them

    def blocks():
        nonlocal total, kept
        yield head
        for block in chunks(reader, CHUNK):
            if stop is not None and stop.is_set():
                raise Interrupted()
            total += len(block)
            if kept is not None:
                if total > MAX_IMAGE_BYTES:
                    kept = None   # longer than its size said: over the cap all the same
                else:
                    kept.append(block)
            last[0], last[1] = last[1], block
            yield block

    found = digest_stream(blocks(), digests)
    return Contents(total, found, picture, b"".join(kept) if kept is not None else None,
                    video, head, (bytes(last[0][-TAIL:]) + bytes(last[1][-TAIL:]))[-TAIL:])



def edges(reader: Union[BinaryIO, int], size: int, first: int = EDGE) -> Tuple[bytes, bytes]:
    """A file's first `first` bytes (at least its first 4 KiB) and its last 4 KiB beyond its
    first 4 KiB (signals.exact.edge_span): its sub-file fingerprint is made of the head's first
    4 KiB and the tail, 8 KiB at most. A longer head (a container's sniff, HEAD) holds the tail
    of a file no longer than it, which is then not read again. A reader that cannot seek is
    read through to the tail. Where the reader is left is not said: seek before reading on.
    `reader` may be a folder's file as a bare descriptor (folder.OsFile.descriptor); a folder's
    file and an image's read by its runs are read by position (streams.positioned)."""
    first = max(first, EDGE)
    start, end = edge_span(size)
    read_at = positioned(reader)   # a folder's file, an image's by its runs: no seeks
    head = read_at(min(size, first), 0) if read_at is not None else \
        read_up_to(reader, min(size, first))
    if end <= start or len(head) < min(size, first):
        return head, b""
    if end <= len(head):
        return head, head[start:end]
    if read_at is not None:
        at = max(start, len(head))
        return head, head[start:] + read_at(end - at, at)
    if start < len(head):   # the tail begins inside the head: the reader is where it goes on
        return head, head[start:] + read_up_to(reader, end - len(head))
    if reader.seekable():
        reader.seek(start)
    else:
        skip = start - len(head)
        while skip > 0:
            block = reader.read(min(CHUNK, skip))
            if not block:
                return head, b""
            skip -= len(block)
    return head, read_up_to(reader, end - start)


def edge_spans(size: int) -> List[Tuple[int, int]]:
    """(offset, length) of what edges() reads of a file of `size` bytes (its first EDGE
    bytes, and its tail), for asking the OS for them ahead of the reads (triage.prefetch)."""
    start, end = edge_span(size)
    spans = [(0, min(size, EDGE))] if size > 0 else []
    if end > start:
        spans.append((start, end - start))
    return spans


def read_up_to(reader: BinaryIO, n: int) -> bytes:
    if n <= 0:
        return b""
    first = reader.read(n)   # all of it, but for a short read (a pipe, a member's stream)
    if first and len(first) >= n and type(first) is bytes:
        return first
    if not first:
        return b""
    parts, left = [first], n - len(first)
    while left > 0:
        block = reader.read(left)
        if not block:
            break
        parts.append(block)
        left -= len(block)
    return b"".join(parts)
