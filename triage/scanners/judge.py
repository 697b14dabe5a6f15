"""One file's verdict: read it at most once (when some set could match it), compute only the
digests the sets need, look them up, then decode images the exact pass did not settle."""

from __future__ import annotations

import io
import os
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import chain, islice
from typing import Dict, FrozenSet, List, NamedTuple, Optional, Tuple

import numpy as np

from .. import containers, reading, signals
from ..containers import trailing
from ..errors import READ_ERRORS, DamagedMedia, one_line
from ..evidence.folder import LONG_PATH, OsFile, open_descriptor
from ..evidence.tsk_walk import TskOpener, ends_inside
from ..hashing import chunks, digest_stream
from ..prefetch import WARM, Run, ask_for, in_cache, joined, looked_at, will_need
from ..reading import MAX_IMAGE_BYTES  # noqa: F401 - importable from here, as before reading.py
from ..records import FileEntry, Match, ScanError
from ..results import DECODED_PICTURE, DECODED_VIDEO
from ..signals.exact import EDGE, edge_span
from ..workers import BATCH_FILES
from . import hidden_volume
from .exact import ExactMatcher

REPORT_DIGESTS = ("md5", "sha1", "sha256")   # every hit carries all three, whatever matched
# What decoding and hashing a picture costs, as bytes read and hashed would (workers.batches):
# a 12-megapixel JPEG of 4 MB took ~15 ms, a 100 KB PNG ~4 ms, where reading and hashing a MiB
# takes ~2 ms.
PICTURE_WORK = 2 << 20
PICTURE_WORK_PER_BYTE = 2
# What opening a container costs, as bytes read would: its members are inflated and judged in
# the same task (xz inflates ~30 MB/s here, deflate ~200, where MD5 runs at ~750). Counted whole, a
# container is a batch of its own, and containers spread over every worker: before, a folder
# of packages went to one worker in one batch (their planned cost was their 4 KiB probe).
CONTAINER_WORK_PER_BYTE = 4


def _ahead(limit: Optional[int]) -> int:
    """Files a batch's screen opens and asks the OS for ahead of reading them (_prefetched): a
    whole batch (workers.BATCH_FILES), all its reads in flight together, but no more than a
    quarter of the files a process may have open (`limit`; macOS's is 256, and where the
    workers are threads they share it). At 128, half a batch, a cold screened folder scan
    took 1.20-1.36 s where it takes 1.13-1.30 s (6 interleaved runs); a warm one asks for
    nothing (prefetch.Run)."""
    return BATCH_FILES if limit is None else max(16, min(BATCH_FILES, limit // 4))


def _open_files_limit() -> Optional[int]:
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):   # no such limit (Windows: its C runtime's 512)
        return 512
    return None if soft == resource.RLIM_INFINITY else soft


PREFETCH_AHEAD = _ahead(_open_files_limit())
# Bytes of the files whose fingerprint a set lists (to be read whole) asked for ahead, a batch:
# past the first, the OS's own read-ahead goes on as the file is read.
WHOLE_AHEAD = 64 << 20
PLANS_KEPT = 1 << 16   # sizes whose Plan a judge keeps (a few MB at most)

# What the batch screen does with a file (_screen_at's modes): reads its edges, reads them and
# looks for a container's marks (its plan may open one), or reads only what tells a container.
SCREEN_EDGES, SCREEN_SNIFFED, SCREEN_PROBED = 0, 1, 2
SCREEN_CHUNK = 64   # files a call of _screen_at reads: a few hundred KiB held at most


class Plan(NamedTuple):
    """What a file calls for by its size alone (Judge.plan), and what follows from that, made
    once a size (Plan.of): a scan's walking process asks it several times a file."""

    digests: FrozenSet[str]   # full digests to take in any case (sets without fingerprints)
    screens: FrozenSet[str]   # sub-file fingerprints to take first
    image: bool               # a picture or video might be decoded: its head tells
    opens: bool               # a container might be opened: its head tells
    reads: bool               # the file is opened at all
    planned: int              # Judge.planned_bytes
    # What the batch screen reads of such a file (SCREEN_*), None where it cannot settle it:
    # its fingerprints and nothing else (its edges, sniffed where it may open a container), or
    # nothing but a look for a container's marks (and no video: the judge reads its head).
    screen: Optional[int]

    @classmethod
    def of(cls, size: int, digests: FrozenSet[str], screens: FrozenSet[str], image: bool,
           opens: bool, video: bool = False) -> "Plan":
        """`video`: a video might be decoded (the judge's sets hold a video signal)."""
        screen = None
        if screens and not (digests or image):
            screen = SCREEN_SNIFFED if opens else SCREEN_EDGES
        elif opens and not (digests or screens or image) and not (video and size > 0):
            screen = SCREEN_PROBED
        return cls(digests, screens, image, opens, bool(digests or screens or image or opens),
                   _planned(size, digests, screens, image, opens), screen)


def _planned(size: int, digests: FrozenSet[str], screens: FrozenSet[str], image: bool,
             opens: bool) -> int:
    """Plan.planned: the bytes a file of `size` is expected to cost, by what it calls for."""
    if digests:
        return size
    if image:
        return min(size, reading.HEAD)
    if screens:
        return min(size, 2 * EDGE)   # a container is told from the same head
    return min(size, containers.PROBE) if opens else 0


@dataclass
class Verdict:
    entry: FileEntry
    status: str                                   # see results.STATUSES
    matches: List[Match] = field(default_factory=list)
    hashes: Dict[str, str] = field(default_factory=dict)
    bytes_read: int = 0
    hashed: bool = False
    decoded: int = 0          # what was decoded: 0 nothing, PICTURE or VIDEO (results.py)
    errors: List[str] = field(default_factory=list)     # content that could not be checked
    warnings: List[str] = field(default_factory=list)   # checked, but worth an examiner's look
    damaged: List[Tuple[int, int]] = field(default_factory=list)   # media ranges (offset, length)
    # A container's child entries, each with its own verdict, descendants included, in order.
    children: List["Verdict"] = field(default_factory=list)

    @property
    def is_hit(self) -> bool:
        return self.status == "hit"

    def brief(self) -> Optional[tuple]:
        """(status, bytes_read, hashed, decoded) when that is all the verdict says that is
        kept (most files: no match, problem or child; the digests of a file that matched
        nothing are kept nowhere), else None. What a worker process sends home for such a
        file: a whole verdict's pickle cost more than judging a screened file."""
        if self.matches or self.errors or self.warnings or self.damaged or self.children:
            return None
        return self.status, self.bytes_read, self.hashed, self.decoded


def _too_large(size: int) -> str:
    return (f"image not decoded: {size:,} bytes, over the {reading.MAX_IMAGE_BYTES:,} a picture "
            f"is read into memory to be decoded (not matched by its perceptual hashes)")


def _edges(reader, size: int, sniff: bool) -> Tuple[bytes, bytes, int, bool,
                                                    Optional[containers.ContainerReader]]:
    """A file's edges (reading.edges), the bytes read, and with `sniff` whether they leave it
    maybe a container: a reader's mark in its head (or, by one more read, ISO 9660's), or an
    archive its last 4 KiB show appended to it, whose reader is given (containers.appended).
    A folder's file as a bare descriptor, and a file in one run of a raw image (_At), are read
    by _edges_at."""
    kind = type(reader)
    if kind is int:
        return _read_at(reader, 0, size, sniff, False)
    if kind is _At:
        return _read_at(reader.fd, reader.base, size, sniff, reader.strict)
    head, tail = reading.edges(reader, size)
    return _sniffed(reader, size, head, tail, sniff)


def _sniffed(source, size: int, head: bytes, tail: bytes, sniff: bool
             ) -> Tuple[bytes, bytes, int, bool, Optional[containers.ContainerReader]]:
    """_edges's answer of a file whose edges (`head`, `tail`) are read: with `sniff`, whether
    they, the far marks (read through `source`) or an archive appended leave it maybe a
    container."""
    read = len(head) + len(tail)
    if not sniff:
        return head, tail, read, False, None
    maybe, peeked = containers.probe(source, size, head)
    read += peeked
    appended = None
    if not maybe:
        last = tail or (head if len(head) == size else b"")
        appended = containers.appended(last[-reading.TAIL:], size)
        maybe = appended is not None
    return head, tail, read, maybe, appended


_pread = os.pread


def _edges_at(fd: int, base: int, size: int, sniff: bool, strict: bool
              ) -> Tuple[bytes, bytes, int, bool, Optional[containers.ContainerReader]]:
    """_edges of a file whose bytes lie at `base` of the descriptor `fd`: the same reads
    (reading.edges, containers.probe) and answers, by os.pread, with no reader made for the
    file. `strict`, as tsk_walk.OneRunReader: a read short of the file's size raises OSError
    (the media ends inside the file); else, as os.pread on a folder's file, what was read is
    taken (a file that shrank meanwhile). _edges.c is its twin, step for step; this runs
    where it is not built."""
    first = min(size, EDGE)
    head = _part(fd, base, 0, first, size, strict)
    tail = b""
    if len(head) == first and size > EDGE:   # reading.edges: the tail past the head
        start = edge_span(size)[0]
        tail = _part(fd, base, start, size - start, size, strict)
    return _sniffed(_At(fd, base, size, strict), size, head, tail, sniff)


def _part(fd: int, base: int, at: int, length: int, size: int, strict: bool) -> bytes:
    """`length` bytes of a file of `size` bytes from its offset `at` (`base` + `at` of `fd`);
    with `strict`, fewer is an OSError: the media ends inside the file."""
    data = _pread(fd, length, base + at)
    if strict and len(data) < length:
        raise ends_inside(at + len(data), size)
    return data


def _compiled_edges_at(fd: int, base: int, size: int, sniff: bool, strict: bool):
    """_edges_at, by its C twin (_edges.c) with the marks table it asks (_spec)."""
    return _edges_c.edges_at(fd, base, size, sniff, strict, _spec())


def _screen_at(sources: list, bases: List[int], sizes: List[int], modes, strict: bool
               ) -> list:
    """What the batch screen reads of each file at bases[i] of sources[i], as modes[i] says,
    `strict` as _edges_at's: (bytes read, maybe a container, its edges as a fingerprint's
    key_of digests them: size, head and tail; None where it is maybe a container, or only
    probed), or None where it could not be opened or read. A source is a descriptor, or a
    folder's file by its path (opened as folder.open_descriptor opens it, and closed). The
    answers of _edges_at and of containers.probe_source, a file at a time. _edges.c's screen
    is its twin, step for step; this runs where it is not built."""
    out: list = []
    for source, base, size, mode in zip(sources, bases, sizes, modes):
        try:
            fd = source if type(source) is int else open_descriptor(source)
        except READ_ERRORS:
            out.append(None)
            continue
        try:
            if mode == SCREEN_PROBED:
                maybe, read, _ = containers.probe_source(_At(fd, base, size, strict), size)
                out.append((read, maybe, None))
                continue
            head, tail, read, maybe, _ = _edges_at(fd, base, size, mode == SCREEN_SNIFFED,
                                                   strict)
        except READ_ERRORS:
            out.append(None)
            continue
        finally:
            if fd is not source:
                os.close(fd)
        out.append(_answer(size, head, tail, read, maybe))
    return out


def _answer(size: int, head: bytes, tail: bytes, read: int, maybe: bool) -> tuple:
    """_screen_at's answer of a file whose edges were read: its edges as a fingerprint's
    key_of digests them (size, head, tail) where it is no container."""
    return read, maybe, None if maybe else size.to_bytes(8, "little") + head + tail


def _compiled_screen_at(sources: list, bases: List[int], sizes: List[int], modes,
                        strict: bool) -> list:
    """_screen_at, by its C twin (_edges.c) with the marks table it asks (_spec)."""
    return _edges_c.screen(sources, bases, sizes, bytes(modes), strict, _spec(), READ_ERRORS)


_spec_of: tuple = (None, None)   # (the marks table, its spec)


def _spec() -> tuple:
    """What _edges.c's edges_at is given of containers.marks(): made again when the table is
    (a reader registered)."""
    global _spec_of
    table = containers.marks()
    if _spec_of[0] is not table:
        _spec_of = (table, (EDGE, reading.TAIL, containers.MIN_SIZE, containers.PROBE,
                            table.starts, table.near, table.far, table.far_first,
                            table.far_end, tuple(reader.marked for reader in table.others),
                            containers.appended))
    return _spec_of[1]


try:   # optional (setup.py): without it, the same answers from _edges_at, slower
    from . import _edges as _edges_c
except ImportError:
    _edges_c = None
_read_at = _edges_at if _edges_c is None else _compiled_edges_at
_screen_many = _screen_at if _edges_c is None else _compiled_screen_at


class _At:
    """A file of `size` bytes in one run of a raw image, read by position on the image's
    descriptor (not owned: nothing to close) at `base`: what the batch screen opens for such a
    file in place of a reader (TskOpener.place). Its reads by position (streams.positioned)
    fail as tsk_walk.OneRunReader's do (with `strict` False, as os.pread's on a folder's file:
    what was read is taken), and it asks the OS ahead and tells what the page cache holds as a
    reader by runs does (triage.prefetch)."""

    __slots__ = ("fd", "base", "size", "strict")

    def __init__(self, fd: int, base: int, size: int, strict: bool = True):
        self.fd, self.base, self.size, self.strict = fd, base, size, strict

    def read_at(self, length: int, at: int) -> bytes:
        want = min(length, self.size - at)
        return _part(self.fd, self.base, at, want, self.size, self.strict) if want > 0 else b""

    def prefetch(self, at: int, length: int) -> None:
        will_need(self.fd, self.base + at, length)

    def cached(self, at: int) -> bool:
        return in_cache(self.fd, self.base + at)

    def close(self) -> None:
        pass


def _opened(entry: FileEntry):
    """A file opened to read its edges or container marks: a folder's as a bare descriptor
    (folder.OsFile: what reading.edges and containers.probe read by os.pread); one that lies
    in one run of a raw image as its place there (_At); any other as its reader."""
    opener = entry.open
    kind = type(opener)
    if kind is OsFile:
        return opener.descriptor()
    if kind is TskOpener:
        place = opener.place()
        if place is not None:
            return _At(*place, entry.size)
    return opener()


def _close(source) -> None:
    """Close what _opened gave."""
    if type(source) is int:
        os.close(source)
    else:
        source.close()


def _prefetched(files, ahead: int = PREFETCH_AHEAD):
    """(position, entry, open source, plan) of each of `files` ((position, entry, plan)), in
    order, each file opened (_opened) and its edges (and container marks, where its plan
    sniffs), or what tells a file read only for that a container (containers.probe_spans),
    asked of the OS `ahead` files before it is given (triage.prefetch): the reads of a
    batch's files are then in flight together, where one at a time each waited for the
    device. A file that cannot be opened is passed over (the judge reads it, and records why
    not). The caller closes each source given (_close); those not given yet are closed here.
    The files are one Run: nothing is asked once its first files are found in the page cache
    already (a warm cache, where asking only costs), and from then on each file is given as
    it is opened."""
    waiting: deque = deque()
    run = Run()
    try:
        for at, entry, plan in files:
            try:
                reader = _opened(entry)
            except READ_ERRORS:
                continue
            waiting.append((at, entry, reader, plan))
            if not run.stopped or run.again():
                run.ask(reader, _screen_spans(entry.size, plan))
            if run.stopped:   # warm: nothing is asked, so nothing is opened ahead
                while waiting:
                    yield waiting.popleft()
            elif len(waiting) >= ahead:
                yield waiting.popleft()
        while waiting:
            yield waiting.popleft()
    finally:
        for _, _, reader, _ in waiting:
            _close(reader)


def _screen_all(files: list, chunk: int = SCREEN_CHUNK):
    """(position, plan, answer) of each of `files` ((position, entry, plan)), answer as
    _screen_at's. The files read by position, a folder's by their paths and a raw image's
    where they lie, are read `chunk` at a time with no source made for each (a file's own
    open, its place and its Python were a third of a screened file's time), where their first
    files are found in the page cache already (a warm cache: nothing is asked ahead, as
    prefetch.Run decides); every other file, and all of them where the look finds the cache
    cold, as _prefetched opens and asks for it."""
    rest: list = []
    loose, strict = _Columns(), _Columns()   # a folder's files, read loosely; files in one run
    for item in files:                       # of a raw image, strictly
        at, entry, plan = item
        where = _in_place(entry)
        if where is None:
            rest.append(item)
        else:
            (strict if where[2] else loose).add(at, plan, where[0], where[1], entry.size)
    for is_strict, group in ((False, loose), (True, strict)):
        if not group.positions:
            continue
        if not _found_cached(group.sources, group.bases):   # cold: asked for ahead of reads
            cold = set(group.positions)
            rest.extend(item for item in files if item[0] in cold)
            continue
        yield from group.read(is_strict, chunk)
    if rest:
        rest.sort(key=lambda item: item[0])
        yield from _screened(_prefetched(rest))


def _in_place(entry: FileEntry) -> Optional[Tuple[object, int, bool]]:
    """(source, base, strict) where the batch screen reads a file by position with no source
    made for it (_screen_at's): a folder's file by its path, whole (no walk down to a long
    one), read loosely; a file in one run of a raw image where it lies, strictly. None for
    any other."""
    opener = entry.open
    kind = type(opener)
    if kind is OsFile and not opener.follow and len(opener.path) * 4 < LONG_PATH:
        return opener.path, 0, False
    if kind is TskOpener:
        place = opener.place()
        if place is not None:
            return place[0], place[1], True
    return None


def _ask_in_place(source, base: int, spans: list) -> None:
    """Ask the OS for `spans` of a file read in place (_in_place's source and base): a
    folder's opened to be asked, and closed. Only a hint: a file that cannot be opened, or
    that the OS will not be asked about, is passed over (its read says what it must)."""
    fd = source
    try:
        if type(source) is not int:
            fd, base = open_descriptor(source), 0
        for offset, length in joined(spans):
            will_need(fd, base + offset, length)
    except READ_ERRORS:
        pass
    finally:
        if fd is not source:
            os.close(fd)


class _Columns:
    """Files the batch screen reads by position in one call, as _screen_at takes them: each
    one's position in its batch, plan, source (a descriptor, or a folder's file by its path),
    base and size."""

    __slots__ = ("positions", "plans", "sources", "bases", "sizes", "modes")

    def __init__(self):
        self.positions, self.plans, self.sources = [], [], []
        self.bases, self.sizes, self.modes = [], [], []

    def add(self, at: int, plan: Plan, source, base: int, size: int) -> None:
        self.positions.append(at)
        self.plans.append(plan)
        self.sources.append(source)
        self.bases.append(base)
        self.sizes.append(size)
        self.modes.append(plan.screen)

    def read(self, strict: bool, chunk: int):
        """(position, plan, answer) of each file, read `chunk` files a call."""
        for start in range(0, len(self.positions), chunk):
            end = start + chunk
            yield from zip(self.positions[start:end], self.plans[start:end],
                           _screen_many(self.sources[start:end], self.bases[start:end],
                                        self.sizes[start:end], self.modes[start:end], strict))


def _found_cached(sources: list, bases: List[int]) -> bool:
    """Whether files read in place look found in the page cache, as a prefetch.Run looks (the
    first byte of each of the files it looks at: prefetch.looked_at). A folder's file is
    opened to look (one that cannot be is passed over: it is not read here either)."""
    return all(_looks_cached(sources[i], bases[i]) for i in looked_at(len(sources)))


def _looks_cached(source, base: int) -> bool:
    """Whether the first byte of a file read in place is in the page cache (one that cannot
    be opened to look is taken for cached: it is not read here either)."""
    if type(source) is int:
        return in_cache(source, base)
    try:
        fd = open_descriptor(source)
    except READ_ERRORS:
        return True
    try:
        return in_cache(fd, 0)
    finally:
        os.close(fd)


def _screened(opened, chunk: int = SCREEN_CHUNK):
    """(position, plan, answer) of each file _prefetched opened (`opened`), answer as
    _screen_at's: `chunk` files at a time, read by position where the source is a folder's
    descriptor or a place in a raw image (one call for them all), any other through its
    reader. Each source is closed once read."""
    held: list = []
    for item in opened:
        held.append(item)
        if len(held) >= chunk:
            yield from _screen_chunk(held)
            held = []
    if held:
        yield from _screen_chunk(held)


def _screen_chunk(held: list) -> list:
    """_screened's answers of a chunk of opened files, their sources closed."""
    try:
        answers, loose, strict = [], _Columns(), _Columns()
        for at, entry, source, plan in held:
            kind = type(source)
            if kind is _At:
                strict.add(at, plan, source.fd, source.base, entry.size)
            elif kind is int:
                loose.add(at, plan, source, 0, entry.size)
            else:
                answers.append((at, plan, _read_through(source, entry.size, plan.screen)))
        for is_strict, group in ((False, loose), (True, strict)):
            answers.extend(group.read(is_strict, len(held)))
        return answers
    finally:
        for _, _, source, _ in held:
            _close(source)


def _read_through(reader, size: int, mode: int) -> Optional[tuple]:
    """_screen_at's answer of a file read through its reader."""
    try:
        if mode == SCREEN_PROBED:
            maybe, read, _ = containers.probe_source(reader, size)
            return read, maybe, None
        head, tail, read, maybe, _ = _edges(reader, size, mode == SCREEN_SNIFFED)
    except READ_ERRORS:
        return None
    return _answer(size, head, tail, read, maybe)


def _screen_spans(size: int, plan: "Plan") -> list:
    """What the batch screen reads of a file it may settle (Judge.screenable): its edges
    (with the container marks past its head where its plan sniffs), or, read only to tell a
    container, what tells one (containers.probe_spans)."""
    if plan.screens:
        return _spans(size, plan.opens and not plan.digests and not plan.image)
    return containers.probe_spans(size)


def _spans(size: int, sniff: bool) -> list:
    """What _edges reads of a file of `size` bytes: its edges, and with `sniff` the
    container marks past its head (containers.far_span)."""
    spans = reading.edge_spans(size)
    far = containers.far_span(size, min(size, EDGE)) if sniff else None
    return spans if far is None else spans + [far]


class _Ahead:
    """Judge.ask_ahead's spans of a file: of a listed one (`ids`, by id), while the batch's
    WHOLE_AHEAD lasts, what lies past its first EDGE bytes, where its edges leave a page or
    more between them (less is read at once; and a page the screen read would make the batch
    look cached, prefetch.Run); of any other, what the judge reads first (`first`)."""

    def __init__(self, ids: set, first):
        self._ids, self._first, self._left = ids, first, WHOLE_AHEAD

    def spans(self, entry: FileEntry) -> list:
        if id(entry) not in self._ids:
            return self._first(entry)
        if entry.size < 3 * EDGE:
            return []
        length = min(entry.size - EDGE, self._left)
        self._left -= length
        return [(EDGE, length)] if length > 0 else []


def _evidence_only(matches: List[Match], verdict: Verdict) -> List[Match]:
    """The matches less an alert set's on the empty file's digest: an empty file holds no
    material, and a set that lists it (a mistake `hashset validate` calls an error) made every
    empty file on a seized device a hit. Each is said in a warning instead. A known-good set's
    stays: it marks nothing as evidence. (Zero-filled files, which validate also flags, are
    content: their matches stand.)"""
    kept, mistaken = [], {}
    for m in matches:
        empty = _empty(m.signal)
        if m.kind == "alert" and empty is not None and verdict.hashes.get(m.signal) == empty:
            mistaken.setdefault(m.set, set()).add(m.signal)
        else:
            kept.append(m)
    verdict.warnings += [f"listed in alert set {name!r} by its {', '.join(sorted(sigs))}, the "
                         f"value of the empty file, which holds nothing: not a hit (check the "
                         f"set with `triage hashset validate`)"
                         for name, sigs in mistaken.items()]
    return kept


@lru_cache(maxsize=None)
def _empty(signal: str) -> Optional[str]:
    """A signal's value of the empty file (None for a signal not taken from a stream)."""
    cls = signals.get(signal)
    return cls.new().hexdigest() if hasattr(cls, "new") else None


class Judge:
    def __init__(self, sets, thresholds: Optional[Dict[str, int]] = None,
                 stop: Optional[threading.Event] = None, video: Optional[dict] = None,
                 archives: Optional[containers.Bounds] = None):
        self.exact = ExactMatcher(sets)
        self.archives = archives   # None: containers are files like any other, never opened
        self.perceptual = self.video = None
        kinds = {signals.SIGNALS[s].kind for hs in sets for s in hs.signals
                 if s in signals.SIGNALS}
        if "perceptual" in kinds:
            from .perceptual import PerceptualMatcher  # decoding stack only when sets need it
            self.perceptual = PerceptualMatcher(sets, thresholds)
        if "video" in kinds:
            from .video import VideoMatcher, VideoOptions
            self.video = VideoMatcher(sets, thresholds, VideoOptions.of(video)) or None
        self.stop = stop or threading.Event()
        self._plans: Dict[int, Plan] = {}

    def plan(self, size: int) -> "Plan":
        """What a file of `size` bytes calls for, by its size alone. Asked several times a
        file (settled unread? its cost, its progress, its verdict): kept by size."""
        plan = self._plans.get(size)
        if plan is None:
            if len(self._plans) >= PLANS_KEPT:
                self._plans.clear()
            plan = self._plans[size] = Plan.of(
                size, self.exact.plan(size), self.exact.screens(size),
                self._image_candidate(size), self._container_candidate(size),
                self.video is not None)
        return plan

    def learn(self, sizes) -> None:
        """Make the plans of many sizes at once (a chunk of the walk): the size lookups of a
        file at a time were a fifth of a screened scan's main process."""
        new = [size for size in set(sizes) if size not in self._plans]
        if not new:
            return
        if len(self._plans) + len(new) > PLANS_KEPT:
            self._plans.clear()
        # Most sizes of a walk are each one file's, yet call for one of a few plans: each is
        # made once and shared (4,359 plans for the benchmark image's 16,936 sizes, where a
        # Plan a size took a fifth of learn's time). Past the bounds a plan's reads stop at
        # (_planned's), one not read whole is the same for every size: its sizes get it in one
        # step, not one a size (most of a walk's sizes; the loop was 1.2 us a size).
        made: Dict[tuple, Plan] = {}
        same_past = max(2 * EDGE, containers.PROBE, containers.MIN_SIZE,
                        reading.HEAD if self._image_candidate(1) else 0)
        sizes = np.array(new, np.int64)
        kinds, which = self.exact.kinds_of(sizes)
        for at, (digests, screens) in enumerate(kinds):
            mine = sizes[which == at] if len(kinds) > 1 else sizes
            if not digests:
                past = mine >= same_past
                if past.any():
                    shared = mine[past]
                    plan = self._made(made, int(shared[0]), digests, screens)
                    self._plans.update(dict.fromkeys(shared.tolist(), plan))
                    mine = mine[~past]
            for size in mine.tolist():
                self._plans[size] = self._made(made, size, digests, screens)

    def _made(self, made: Dict[tuple, Plan], size: int, digests: FrozenSet[str],
              screens: FrozenSet[str]) -> Plan:
        """learn's plan of a size whose digests and fingerprints are known: one of `made`,
        where one alike was made (kept there by what it says)."""
        image, opens = self._image_candidate(size), self._container_candidate(size)
        key = (digests, screens, image, opens, _planned(size, digests, screens, image, opens))
        plan = made.get(key)
        if plan is None:
            plan = made[key] = Plan.of(size, digests, screens, image, opens,
                                       self.video is not None)
        return plan

    def settle_screened(self, entries, listed: Optional[set] = None,
                        screenable: Optional[List[bool]] = None
                        ) -> Tuple[Dict[int, tuple], Dict[int, int]]:
        """Of a batch of files, those their sub-file fingerprints alone settle, or a look for
        container marks alone, by position in the batch: each one's Verdict.brief().
        - A file screened qualifies when its size calls for fingerprints and nothing else (no
          full digest, no picture), and its first and last bytes show no container; it is
          settled when no set lists a fingerprint of it (one lookup a set for the whole batch,
          and no verdict made: a tenth of a screened file's time).
        - A file read only to tell a container (a size no set lists, archives on) is settled
          when containers.probe_source finds none, as the judge's probe_entry would: its bytes
          read by position through the batch's descriptor, not a file object a file (16 us
          a file where the judge took 20.5).
        Every other file, and one that could not be read here, is left to the judge
        (__call__), which reads it again and records what it finds; the bytes read here for
        those it read (a container's edges, a listed fingerprint's) are given by position,
        to be counted in their verdicts. `listed`, where given, gets the positions of the
        files some set lists a fingerprint of (the judge reads them whole); `screenable`,
        where given, is each entry's screenable() as the caller found it."""
        screened: Dict[int, int] = {}            # position -> bytes read
        probed: Dict[int, int] = {}              # the same, of files told no container
        spent: Dict[int, int] = {}               # the same, of files left to the judge
        keys: Dict[str, Tuple[list, list]] = {}  # fingerprint -> (positions, edges)
        for at, plan, answer in _screen_all(list(self._screenable(entries, screenable))):
            if answer is None:   # not read here: the judge reads it, and records why not
                continue
            read, maybe, edges = answer
            if maybe:   # a container, maybe: the judge opens it
                spent[at] = read
            elif not plan.screens:
                probed[at] = read
            else:
                screened[at] = read
                for name in plan.screens:
                    positions, values = keys.setdefault(name, ([], []))
                    positions.append(at)
                    values.append(edges)
        for name, (positions, values) in keys.items():
            values = list(map(signals.get(name).key_of, values))
            for at, is_listed in zip(positions, self.exact.listed(name, values).tolist()):
                if is_listed and at in screened:
                    spent[at] = screened.pop(at)
                    if listed is not None:
                        listed.add(at)
        settled = {at: ("clean", read, False, 0) for at, read in screened.items()}
        settled.update((at, ("skipped", read, False, 0)) for at, read in probed.items())
        return settled, spent

    def ask_early(self, entries) -> None:
        """Ask the OS now for what the batch screen will read of the screenable files among
        `entries` that it reads in place (_in_place), where the first of them are not found
        in the page cache: the disk then reads a cold batch while the walk makes its files'
        keys and rows, where it waited for the screen's own asks (the disk sat idle a third
        of a cold scan's pass). A warm batch is asked nothing: its first WARM files are looked
        at, no more."""
        wanted = self._in_place(entries)
        first = list(islice(wanted, WARM))
        if all(_looks_cached(source, base) for (source, base, _), _, _ in first):
            return
        for (source, base, _), size, plan in chain(first, wanted):
            _ask_in_place(source, base, _screen_spans(size, plan))

    def _in_place(self, entries):
        """(where, size, plan) of the screenable files among `entries` that the batch screen
        reads in place, `where` as _in_place gives it."""
        for entry in entries:
            plan = self.plan(entry.size)
            if plan.screen is None or not self.screenable(entry, plan):
                continue
            where = _in_place(entry)
            if where is not None:
                yield where, entry.size, plan

    def settle_batch(self, entries, screenable: Optional[List[bool]] = None
                     ) -> Tuple[Dict[int, tuple], Dict[int, int]]:
        """settle_screened(entries), then what the judge reads first of the files it left
        asked of the OS (ask_ahead): what a worker does with a batch before it judges the
        rest one at a time. `screenable`: each entry's screenable(), where the caller has
        asked it already."""
        listed: set = set()
        settled, spent = self.settle_screened(entries, listed, screenable)
        self.ask_ahead([entry for at, entry in enumerate(entries)
                        if at not in settled and (at not in spent or at in listed)],
                       [entries[at] for at in sorted(listed)])
        return settled, spent

    def ask_ahead(self, entries, listed=()) -> None:
        """Ask the OS for what the judge will read of each of `entries`, all at once, before
        it reads them one at a time (triage.prefetch): a batch's files the screen left to the
        judge. Of a file whose fingerprint a set lists (`listed`, among `entries`), which the
        judge reads whole to confirm it, the rest past its edges (the screen has just read
        them), up to WHOLE_AHEAD bytes a batch; of any other, what the judge reads first
        (first_spans). Only a hint: a file that cannot be opened here is passed over (the
        judge tells why). The batch is one prefetch.Run: nothing more is asked once its first
        files are found in the page cache already (a warm cache, where asking only costs)."""
        ask_for(entries, _Ahead({id(entry) for entry in listed}, self.first_spans).spans)

    def first_spans(self, entry: FileEntry) -> list:
        """(offset, length) of what judging `entry` reads first, by its plan (as _judge
        decides): its edges where it is screened, its first containers.PROBE bytes, ISO's
        marks and its last 4 KiB where it is read only to tell a container, else its head;
        [] for a file not read, a member (its reader asks nothing) or one stored encrypted."""
        size = entry.size
        plan = self.plan(size)
        needed, screens, image, opens = plan[:4]
        if entry.member is not None or entry.encrypted is not None or not size:
            return []
        if screens or plan.screen == SCREEN_PROBED:
            return _screen_spans(size, plan)
        if needed or image or opens:
            return [(0, min(size, reading.HEAD))]
        return []

    def _screenable(self, entries, told: Optional[List[bool]] = None):
        """(position, entry, plan) of the files settle_screened may settle (screenable, or as
        `told`)."""
        for at, entry in enumerate(entries):
            if self.screenable(entry) if told is None else told[at]:
                yield at, entry, self.plan(entry.size)

    def screenable(self, entry: FileEntry, plan: Optional[Plan] = None) -> bool:
        """Whether settle_screened may settle a file: its size calls for what the batch screen
        reads (Plan.screen); not a member, not stored encrypted, not sized like an encrypted
        volume (the judge looks for one). By its size and how it is stored alone: every name
        of one content is screenable alike. `plan`: its size's, where the caller has it."""
        size = entry.size
        if entry.member is not None or entry.encrypted is not None or \
                hidden_volume.candidate(size):
            return False
        return (plan or self.plan(size)).screen is not None

    def needs_read(self, size: int) -> bool:
        """Whether a file of this size will be opened at all."""
        return self.plan(size).reads

    def planned_bytes(self, size: int) -> int:
        """What the progress bar counts for a file before it is read: its size when a digest
        needs it all, its head when only a picture would be read further, else 0. (What is
        found to need more, a picture or a hit's re-read, is added when it is done.)"""
        return self.plan(size).planned

    def cost(self, entry: FileEntry) -> int:
        """What judging `entry` is expected to cost, in bytes read: what it plans to read, for
        a likely container (by its name) the work of its members, and for a likely picture its
        reading and decoding; for workers.batches."""
        plan = self.plan(entry.size)
        planned = plan.planned
        if plan.opens and containers.likely(entry.path):
            return max(planned, CONTAINER_WORK_PER_BYTE * entry.size)
        if not (plan.image and reading.likely_picture(entry.path)):
            return planned
        return max(planned, entry.size) + PICTURE_WORK + PICTURE_WORK_PER_BYTE * entry.size

    def _image_candidate(self, size: int) -> bool:
        # a picture over MAX_IMAGE_BYTES too: its head tells it is one, and that it was not
        # decoded is an error record (a known picture padded past the cap would otherwise be
        # passed over as a file no set could match)
        return (self.perceptual is not None or self.video is not None) and size > 0

    def _video_candidate(self, size: int) -> bool:
        return self.video is not None and size > 0

    def _container_candidate(self, size: int) -> bool:
        return self.archives is not None and size >= containers.MIN_SIZE

    def __call__(self, entry: FileEntry) -> Verdict:
        return self._verdict(entry, None, ())

    def _verdict(self, entry: FileEntry, budget: Optional[containers.Budget],
                 parents: Tuple[str, ...]) -> Verdict:
        locked = containers.encrypted(entry)
        if locked:
            return Verdict(entry, "error", errors=[locked])
        if entry.member is not None and entry.member.same_as is not None:
            return Verdict(entry, "same")   # judged under its first name, in this container
        try:
            verdict = self._judge(entry, budget, parents)
            if hidden_volume.candidate(entry.size) and verdict.status in ("clean", "skipped") \
                    and not (verdict.children or verdict.decoded or verdict.matches) \
                    and not (entry.member is not None and entry.member.read_once):
                self._hidden_volume(verdict)
            return verdict
        except containers.OverBound as exc:
            return Verdict(entry, "error", errors=[f"not examined: {exc.reason}"])
        except READ_ERRORS as exc:
            damaged = [(exc.offset, exc.length)] if isinstance(exc, DamagedMedia) else []
            return Verdict(entry, "error", errors=[f"read failed: {one_line(exc)}"],
                           damaged=damaged)
        except Exception as exc:   # noqa: BLE001 - a member's decoder raises what it likes
            if entry.member is None or isinstance(exc, reading.Interrupted):
                raise
            return Verdict(entry, "error", errors=[f"read failed: {one_line(exc)}"])

    def _judge(self, entry: FileEntry, budget: Optional[containers.Budget],
               parents: Tuple[str, ...]) -> Verdict:
        plan = self.plan(entry.size)
        needed, screens, image, opens = plan[:4]
        if not needed and not image and not opens and not screens:   # as needs_read()
            return Verdict(entry, "skipped")
        once = entry.member is not None and entry.member.read_once
        screened = 0
        appended = None   # an archive appended to the file (containers.appended), by its tail
        decoded_to = 0    # how far the decoder of the picture read (trailing.reader_for)
        if screens and not once:
            # A container is told in the fingerprint's open, from its first 4 KiB (and ISO's
            # mark), unless a digest or a picture reads its head anyway.
            sniff = opens and not needed and not image
            confirmed, screened, maybe, head, appended = self._screen(entry, screens, sniff)
            opens = opens and (maybe if sniff else True)
            needed = needed | confirmed
            if not needed and not image and (not opens or head is not None):
                # its fingerprints listed nowhere: checked, clean; a container's members judged
                verdict = Verdict(entry, "clean", bytes_read=screened)
                kind = (containers.detect(head) if head is not None else None) or appended
                if kind is not None:
                    self._open_container(verdict, kind, containers.identity(head, entry.size),
                                         budget, parents)
                return verdict
        elif screens:
            needed = needed | frozenset(REPORT_DIGESTS)   # confirmed in the one read there is
        if needed and once:
            # a member of a stream-only archive cannot be read twice: a hit's report digests
            # are taken in the one read
            needed = tuple(dict.fromkeys((*needed, *REPORT_DIGESTS)))
        if not once and plan.screen == SCREEN_PROBED:
            # read only to tell a container: its first 4 KiB (and ISO's mark) tell most
            # files are none, where the full head read costs 64 KiB of each
            opens, probed, appended = containers.probe_entry(entry)
            if not opens:
                return Verdict(entry, "skipped", bytes_read=probed)
        # a container's MD5 is taken only once a member of it is a hit (see _container_md5):
        # reading it whole for every container cost a third of a scan of zips
        sniff = containers.Sniff(opens, md5=False)
        with entry.open() as reader:
            contents = reading.read(reader, needed, pictures=image, size=entry.size,
                                    stop=self.stop, videos=self._video_candidate(entry.size),
                                    more=sniff)
        if not needed and contents.data is None and contents.video is None:
            verdict = Verdict(entry, "clean" if screened else "skipped",
                              bytes_read=screened + contents.bytes_read)
            if contents.too_large and self.perceptual is not None:   # nothing else checked
                verdict.status = "error"
                verdict.errors.append(_too_large(entry.size))
        else:
            verdict = Verdict(entry, "clean", hashes=dict(contents.digests),
                              bytes_read=screened + contents.bytes_read, hashed=bool(needed))
            if not needed:
                verdict.hashes = {}   # the MD5 taken for the children only
            verdict.matches = _evidence_only(self.exact.match(verdict.hashes), verdict)
            if contents.too_large and self.perceptual is not None and not verdict.matches:
                verdict.errors.append(_too_large(entry.size))
            if contents.data is not None and not verdict.matches:
                if self.perceptual is not None:
                    decoded_to = self._perceive(contents.data, verdict)
                if self.video is not None and not verdict.matches:
                    from ..video import is_animated   # an animated GIF, APNG or WebP is a video
                    if is_animated(contents.data):
                        self._watch(lambda: io.BytesIO(contents.data), verdict)
            elif contents.video is not None and not verdict.matches:
                self._watch(entry.open, verdict)
            # a file no longer than its head was read whole in it: a hit's other digests
            # are taken from it, not from a second read
            whole = contents.data
            if whole is None and contents.bytes_read == len(contents.head) == entry.size:
                whole = contents.head
            verdict = self._settle(verdict, whole)
        kind = sniff.kind
        if kind is None and opens:
            kind = appended or containers.appended_to(entry, contents)
        if kind is None and opens and decoded_to:   # pictures after the decoded one's end
            kind = trailing.reader_for(contents.data, decoded_to)
        if kind is not None:
            ident = contents.digests.get("md5") or containers.identity(contents.head,
                                                                      entry.size)
            self._open_container(verdict, kind, ident, budget, parents)
        return verdict

    def _open_container(self, verdict: Verdict, kind: containers.ContainerReader, ident: str,
                        budget: Optional[containers.Budget], parents: Tuple[str, ...]) -> None:
        """Judge every child of a container, each as any file, into verdict.children."""
        refused = containers.refusal(self.archives, ident, parents)
        if refused:
            verdict.errors.append(refused)
            return
        from ..library_warnings import collected
        budget = budget or containers.Budget(self.archives, verdict.entry.size)
        hits = []
        with collected() as said:   # what the container's library says (a child's are its own)
            for item in containers.expand(verdict.entry, kind, budget, None):
                if isinstance(item, ScanError):
                    verdict.errors.append(item.reason)
                    continue
                child = self._verdict(item, budget, parents + (ident,))
                # its reader lives only while the container is open (and cannot be pickled)
                child.entry = replace(child.entry, open=None)
                if child.is_hit:
                    hits.append(child)
                verdict.children.append(child)
                verdict.children.extend(child.children)
                child.children = []
        verdict.warnings += [f"container library warning: {w}" for w in said]
        if hits:
            md5 = self._container_md5(verdict)
            for child in hits:
                child.entry = replace(child.entry, member=replace(child.entry.member,
                                                                  container_md5=md5))

    def _container_md5(self, verdict: Verdict) -> str:
        """The container's MD5, for its members that are hits: from its own digests when they
        were taken, else read again (a container is always readable twice)."""
        if "md5" in verdict.hashes:
            return verdict.hashes["md5"]
        md5 = containers.md5_of(verdict.entry)
        verdict.bytes_read += verdict.entry.size
        return md5

    def _watch(self, opener, verdict: Verdict) -> None:
        """Decode a video (bounded, video.hash_video), search its frames, record what came of
        it. The file is read again, by FFmpeg, as it asks: a video is never held whole."""
        from ..video import VideoDecodeError, open_seekable
        try:
            with open_seekable(opener, verdict.entry.size) as source:
                hashed = self.video.hash(source, stop=self.stop)
        except VideoDecodeError as exc:
            verdict.errors.append(exc.reason())
            return
        except MemoryError:
            verdict.errors.append("video not hashed: out of memory")
            return
        verdict.decoded = DECODED_VIDEO
        verdict.warnings += hashed.warnings
        verdict.matches.extend(self.video.search(hashed.frames))

    def _hidden_volume(self, verdict: Verdict) -> None:
        """A warning on a file that looks like an encrypted container (hidden_volume), from its
        first 4 KiB read again (one file in ~500 has a whole number of sectors)."""
        entry = verdict.entry
        try:
            with entry.open() as reader:
                head = reading.read_up_to(reader, hidden_volume.SAMPLE)
        except READ_ERRORS:
            return   # it was judged; its head is not there to look at now
        said = hidden_volume.warning(head, entry.size)
        if said:
            verdict.warnings.append(said)
            verdict.bytes_read += len(head)

    def _screen(self, entry: FileEntry, screens, sniff: bool
                ) -> Tuple[frozenset, int, bool, Optional[bytes],
                           Optional[containers.ContainerReader]]:
        """The full digests a file's sub-file fingerprints call for (none when no set lists
        them), from its first and last 4 KiB; the bytes that took; and, with `sniff`, whether
        that head (with ISO's mark, by a seek) leaves it maybe a container and, if so, its
        first reading.HEAD bytes that tell, read in the same open (None where the reader
        cannot seek back: the full read tells), and the reader of an archive its last 4 KiB
        show appended to it (containers.appended)."""
        with entry.open() as reader:
            head, tail, read, maybe, appended = _edges(reader, entry.size, sniff)
            sniffed = None
            if maybe and reader.seekable():   # the rest of the head after the first 4 KiB
                reader.seek(len(head))
                more = reading.read_up_to(reader, min(entry.size, reading.HEAD) - len(head))
                sniffed = head + more
                read += len(more)
        prints = {name: signals.get(name).from_edges(head, tail, entry.size) for name in screens}
        return (self.exact.confirm(prints, entry.size, REPORT_DIGESTS), read, maybe, sniffed,
                appended)

    def _perceive(self, data: bytes, verdict: Verdict) -> int:
        """Match a picture; how far into `data` its decoder read (0 when it did not decode)."""
        from .. import imaging
        from ..library_warnings import collected
        budget = imaging.Budget()
        with collected() as said:
            try:
                matches, hashes = self.perceptual.match(data, budget)
            except imaging.ImageDecodeError as exc:
                (verdict.errors if exc.severity == "error" else verdict.warnings).append(
                    exc.reason())
                matches = hashes = None
            except MemoryError:   # the budget should prevent it; a record all the same
                verdict.errors.append("image not hashed: out of memory")
                matches = hashes = None
        verdict.warnings += [f"image library warning: {w}" for w in said]
        if matches is None:
            return 0
        verdict.decoded = DECODED_PICTURE
        verdict.matches.extend(matches)
        for h in hashes:
            if h.variant == "original":
                verdict.hashes.setdefault(h.signal, h.value)
        return budget.consumed

    def _canonical(self, data: bytes, verdict: Verdict) -> None:
        """A hit's perceptual values for the report: canonical, at full size, as `triage hash`
        and other tools compute them (the query's were taken from block means, a few bits
        off). Should that fail, the query's stay, and a warning says so."""
        from .. import imaging
        from ..library_warnings import collected
        from .perceptual import canonical, full_size_budget
        budget = full_size_budget()
        names = sorted(self.perceptual.signals)
        with collected() as said:
            try:
                found = canonical(imaging.decode(data, budget), names, budget)
            except (imaging.ImageDecodeError, MemoryError) as exc:
                reason = exc.reason() if isinstance(exc, imaging.ImageDecodeError) else (
                    "image not hashed: out of memory")
                verdict.warnings.append(f"perceptual values in the report are the scan's "
                                        f"(from block means), not the canonical: {reason}")
                found = []
        verdict.warnings += [f"image library warning: {w}" for w in said]
        verdict.hashes.update({h.signal: h.value for h in found})

    def _settle(self, verdict: Verdict, data: Optional[bytes] = None) -> Verdict:
        kinds = {m.kind for m in verdict.matches}
        if "known-good" in kinds:
            verdict.status = "known"
            if "alert" in kinds:
                alert_sets = sorted({m.set for m in verdict.matches if m.kind == "alert"})
                verdict.warnings.append(
                    "listed in alert set(s) " + ", ".join(alert_sets) +
                    " and in a known-good set: treated as known-good; check the sets")
        elif "alert" in kinds:
            verdict.status = "hit"
            if (verdict.decoded and data is not None and self.perceptual is not None
                    and self.perceptual.signals & verdict.hashes.keys()):
                # a picture the perceptual sets judged (not a video: its frames are vpdq's)
                self._canonical(data, verdict)
            missing = [d for d in REPORT_DIGESTS if d not in verdict.hashes]
            if missing and data is not None:   # the file, still held whole: no second read
                verdict.hashes.update(digest_stream((data,), missing))
            elif missing:
                with verdict.entry.open() as reader:
                    verdict.hashes.update(digest_stream(chunks(reader), missing))
                verdict.bytes_read += verdict.entry.size
        verdict.hashes = {k: verdict.hashes[k] for k in sorted(verdict.hashes)}
        return verdict
