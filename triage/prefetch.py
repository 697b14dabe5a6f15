"""Asking the OS for a file's bytes ahead of reading them. Small reads of many files one after
another each wait for the device in turn; asked for together, they are in flight together (a
device serves many at once), and the reads that follow find them in the page cache. A scan
of a seized disk starts with nothing cached. Only ever a hint: nothing is read here, nothing
waited for, and the file is not changed."""

from __future__ import annotations

import io
import os
from collections import deque
from typing import BinaryIO, Callable, Iterable, Iterator, List, Optional, Tuple, TypeVar

from .errors import READ_ERRORS

T = TypeVar("T")
AHEAD = 128   # files asked for before the first of them is read: enough to keep a device busy

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
    its image's). Where there is no way to ask (an archive member, an EWF image), nothing;
    where the OS refuses (a file system without it), the read goes on unhinted."""
    try:
        if type(reader) is io.FileIO:   # a folder's file
            fd = reader.fileno()
            for offset, length in spans:
                will_need(fd, offset, length)
            return
        ask_one = getattr(reader, "prefetch", None)
        if ask_one is not None:
            for offset, length in spans:
                if length > 0:
                    ask_one(offset, length)
    except OSError:
        pass


def ask(reader: BinaryIO, spans: List[Tuple[int, int]],
        asking: Optional[bool]) -> Optional[bool]:
    """Ask for `spans` of an open file as one of a run of files: `asking` None, it is the
    run's first, and the run asks unless its first span is in the page cache already (a warm
    cache, where asking only costs); False, nothing is asked. Gives the run's decision (still
    None for a file with nothing to read)."""
    if not spans:
        return asking
    if asking is None:
        asking = not cached(reader, spans[0][0])
    if asking:
        prefetch(reader, spans)
    return asking


def ask_for(items: Iterable[T], spans: Callable[[T], List[Tuple[int, int]]]) -> None:
    """Ask now for what will be read of each of `items` (`spans(item)`), all of them before
    any is read, as one run (ask): each item's file opened (`item.open()`), asked, closed."""
    asking = None
    for item in items:
        if asking is False:
            return
        asking = _opened_and_asked(item, spans(item), asking)


def cached(reader: BinaryIO, offset: int = 0) -> bool:
    """Whether the page cache holds the byte at `offset` of the file `reader` reads already:
    where it does, the rest of what is read near it most likely is too, and asking ahead would
    only cost. A folder's file is asked on its own descriptor (in_cache), another reader
    through its own `cached` (a file read by its runs asks its image's). False where it cannot
    be told."""
    if type(reader) is io.FileIO:
        return in_cache(reader.fileno(), offset)
    ask = getattr(reader, "cached", None)
    return bool(ask(offset)) if ask is not None else False


def in_cache(fd: int, offset: int) -> bool:
    """Whether a read of the byte at `offset` of an open file gets it without waiting for the
    device (RWF_NOWAIT). False where the platform or file system cannot say."""
    if _NOWAIT is None:
        return False
    try:
        return os.preadv(fd, [bytearray(1)], offset, _NOWAIT) == 1
    except OSError:   # EAGAIN: on the device only; EOPNOTSUPP: cannot tell
        return False


def asked_ahead(items: Iterable[T], spans: Callable[[T], List[Tuple[int, int]]],
                depth: int = AHEAD) -> Iterator[T]:
    """`items` in their order, each given once the `depth` items after it have had what will
    be read of them asked for: `spans(item)` ([] for an item that is not read), the item's
    file opened (`item.open()`), asked (prefetch) and closed. Where the first file of a run
    of `depth` is in the page cache already, the rest of the run is not asked for. A file
    that cannot be opened is passed over: its reader meets the error and tells it."""
    waiting: deque = deque()
    asking, run = None, 0
    for item in items:
        waiting.append(item)
        if run == depth:
            asking, run = None, 0
        run += 1
        if asking is not False:
            asking = _opened_and_asked(item, spans(item), asking)
        if len(waiting) > depth:
            yield waiting.popleft()
    yield from waiting


def _opened_and_asked(item, spans: List[Tuple[int, int]],
                      asking: Optional[bool]) -> Optional[bool]:
    """ask() of an item's file, opened for it and closed; one that cannot be opened is passed
    over (its reader meets the error next, and says why)."""
    if not spans:
        return asking
    try:
        with item.open() as reader:
            return ask(reader, spans, asking)
    except READ_ERRORS:   # TSK's RuntimeError too
        return asking
