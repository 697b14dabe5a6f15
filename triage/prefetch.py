"""Asking the OS for a file's bytes ahead of reading them. Small reads of many files one after
another each wait for the device in turn; asked for together, they are in flight together (a
device serves many at once), and the reads that follow find them in the page cache. A scan
of a seized disk starts with nothing cached. Only ever a hint: nothing is read here, nothing
waited for, and the file is not changed."""

from __future__ import annotations

import io
import os
from typing import BinaryIO, Iterable, Tuple

_WILLNEED = getattr(os, "POSIX_FADV_WILLNEED", None)
_NOWAIT = getattr(os, "RWF_NOWAIT", None)


def will_need(fd: int, offset: int, length: int) -> None:
    """Ask for these bytes of an open file (posix_fadvise WILLNEED). Nothing where the
    platform has no way to ask, or for an empty span (to posix_fadvise a length of 0 means
    to the end of the file)."""
    if _WILLNEED is not None and length > 0:
        os.posix_fadvise(fd, offset, length, _WILLNEED)


def prefetch(reader: BinaryIO, spans: Iterable[Tuple[int, int]]) -> None:
    """Ask for these (offset, length) spans of the file `reader` reads: a folder's file on its
    own descriptor, another reader through its own `prefetch` (a file read by its runs asks
    its image's). Where there is no way to ask (an archive member, an EWF image), nothing."""
    if type(reader) is io.FileIO:   # a folder's file
        fd = reader.fileno()
        for offset, length in spans:
            will_need(fd, offset, length)
        return
    ask = getattr(reader, "prefetch", None)
    if ask is not None:
        for offset, length in spans:
            if length > 0:
                ask(offset, length)


def cached(reader: BinaryIO, offset: int = 0) -> bool:
    """Whether the page cache holds the byte at `offset` of a folder's file already: a read of
    it that does not wait for the device (RWF_NOWAIT) gets it. Where it is, the rest of what
    is read near it most likely is too, and asking ahead would only cost. False where it
    cannot be told (another reader; a platform or file system without RWF_NOWAIT)."""
    if _NOWAIT is None or type(reader) is not io.FileIO:
        return False
    try:
        return os.preadv(reader.fileno(), [bytearray(1)], offset, _NOWAIT) == 1
    except OSError:   # EAGAIN: on the device only; EOPNOTSUPP: cannot tell
        return False
