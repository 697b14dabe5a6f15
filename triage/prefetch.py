"""Asking the OS for a file's bytes ahead of reading them. Small reads of many files one after
another each wait for the device in turn; asked for together, they are in flight together (a
device serves many at once), and the reads that follow find them in the page cache. A scan
of a seized disk starts with nothing cached. Only ever a hint: nothing is read here, nothing
waited for, and the file is not changed."""

from __future__ import annotations

import os
from collections import deque
from typing import BinaryIO, Callable, Iterable, Iterator, List, Optional, Tuple, TypeVar, Union

from .errors import READ_ERRORS
from .streams import descriptor

T = TypeVar("T")
AHEAD = 128   # files asked for before the first of them is read: enough to keep a device busy
# Spans of one file closer than this are asked for as one: one request of the device (and one
# call) where there were two or three, at the cost of a few pages more read.
GAP = 16 * 1024
WARM = 4      # a run's files found in the page cache before the run is taken for warm (Run)

_WILLNEED = getattr(os, "POSIX_FADV_WILLNEED", None)
_NOWAIT = getattr(os, "RWF_NOWAIT", None)


def will_need(fd: int, offset: int, length: int) -> None:
    """Ask for these bytes of an open file (posix_fadvise WILLNEED). Nothing where the
    platform has no way to ask, or for an empty span (to posix_fadvise a length of 0 means
    to the end of the file)."""
    if _WILLNEED is not None and length > 0:
        os.posix_fadvise(fd, offset, length, _WILLNEED)


def prefetch(reader: Union[BinaryIO, int], spans: Iterable[Tuple[int, int]]) -> None:
    """Ask for these (offset, length) spans of the file `reader` reads: a folder's file on its
    own descriptor, another reader through its own `prefetch` (a file read by its runs asks
    its image's). Where there is no way to ask (an archive member, a virtual disk), nothing;
    where the OS refuses (a file system without it), the read goes on unhinted."""
    spans = joined(spans)
    try:
        fd = descriptor(reader)
        if fd is not None:   # a folder's file
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


def joined(spans: Iterable[Tuple[int, int]], gap: int = GAP) -> List[Tuple[int, int]]:
    """`spans` (offset, length) in order of offset, those that overlap, touch or lie `gap`
    bytes apart or less joined into one; empty ones left out."""
    out: List[Tuple[int, int]] = []
    for offset, length in sorted(spans):
        if length <= 0:
            continue
        if out and offset <= out[-1][0] + out[-1][1] + gap:
            first, size = out[-1]
            out[-1] = (first, max(size, offset + length - first))
        else:
            out.append((offset, length))
    return out


class Run:
    """Whether a run of files is asked for ahead, decided as it goes: it asks once one of its
    first WARM files' first span is not in the page cache, and asks for nothing once WARM of
    them are (a warm cache, where asking only costs). One file was too few to tell: an E01's
    walk leaves the chunks near the file system's metadata cached, and a run whose first file
    lay there asked for nothing, each of its files then waiting for the device in turn. Nor
    are four always enough: a run sorted by place on the media starts with the files next to
    their directory, which the OS read ahead of the directory's listing. So a run taken for
    warm still looks again at its 4th, 8th, 16th ... file (again()), and asks from the first
    one that is not cached on (a caller that opens every file asks so: _prefetched); a warm
    run of 256 files looks at 6 more."""

    def __init__(self):
        self._cached = 0
        self._warm = 0
        self.asking: Optional[bool] = None   # None: not decided yet

    def again(self) -> bool:
        """Whether the next file of a run taken for warm is to be looked at again (ask): its
        4th, 8th, 16th ... (the spans asked for cost more than the look)."""
        self._warm += 1
        return self._warm >= 4 and not self._warm & (self._warm - 1)

    @property
    def stopped(self) -> bool:
        """Decided warm: nothing more of the run is asked for (nor opened to be)."""
        return self.asking is False

    def ask(self, reader: BinaryIO, spans: List[Tuple[int, int]]) -> None:
        """Ask for `spans` of the open file `reader`, as the run has decided or decides now."""
        if not spans:
            return
        if self.asking is False:   # taken for warm, and looked at again (again())
            if cached(reader, spans[0][0]):
                return
            self.asking = True   # cold from here on: the first files were cached by chance
        if self.asking is None:
            if cached(reader, spans[0][0]):   # there already: nothing of it to ask for
                self._cached += 1
                if self._cached >= WARM:
                    self.asking = False
                return
            self.asking = True
        prefetch(reader, spans)


def looked_at(count: int) -> List[int]:
    """The positions of the files a Run of `count` files looks at in the page cache, when all
    it looks at are found there: its first WARM files, then its 4th, 8th, 16th ... file after
    them (Run.again)."""
    looks = list(range(min(WARM, count)))
    step = 4
    while WARM - 1 + step < count:
        looks.append(WARM - 1 + step)
        step *= 2
    return looks


def ask_for(items: Iterable[T], spans: Callable[[T], List[Tuple[int, int]]]) -> None:
    """Ask now for what will be read of each of `items` (`spans(item)`), all of them before
    any is read, as one Run: each item's file opened (`item.open()`), asked, closed."""
    run = Run()
    for item in items:
        if run.stopped:
            return
        _opened_and_asked(item, spans(item), run)


def cached(reader: Union[BinaryIO, int], offset: int = 0) -> bool:
    """Whether the page cache holds the byte at `offset` of the file `reader` reads already:
    where it does, the rest of what is read near it most likely is too, and asking ahead would
    only cost. A folder's file is asked on its own descriptor (in_cache), another reader
    through its own `cached` (a file read by its runs asks its image's). False where it cannot
    be told."""
    fd = descriptor(reader)
    if fd is not None:
        return in_cache(fd, offset)
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
    file opened (`item.open()`), asked (prefetch) and closed, each `depth` items a Run of
    their own. A file that cannot be opened is passed over: its reader meets the error and
    tells it."""
    waiting: deque = deque()
    run, counted = Run(), 0
    for item in items:
        waiting.append(item)
        if counted == depth:
            run, counted = Run(), 0
        counted += 1
        if not run.stopped:
            _opened_and_asked(item, spans(item), run)
        if len(waiting) > depth:
            yield waiting.popleft()
    yield from waiting


def _opened_and_asked(item, spans: List[Tuple[int, int]], run: Run) -> None:
    """run.ask() of an item's file, opened for it and closed; one that cannot be opened is
    passed over (its reader meets the error next, and says why)."""
    if not spans:
        return
    try:
        with item.open() as reader:
            run.ask(reader, spans)
    except READ_ERRORS:   # TSK's RuntimeError too
        pass
