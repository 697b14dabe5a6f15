"""`triage scan --blocks`: a sequential sweep of the media (every volume laid on it, allocated
space or not, and the gaps between them) that hashes a 4 KiB window at every cluster start and
finds the blocks of reference files wherever a file system left them: deleted, partly
overwritten, in unallocated space. Runs of one reference file's blocks make one fragment
finding; the file-system object that still claims the blocks, if any, is its owner.

The media is read in large sequential reads, in order, so a disk streams; each window costs
one XXH3-64 (signals.blocks.quick) and a binary search of each set's sorted keys; only a
candidate is confirmed by its BLAKE2b half and looked up in full."""

from __future__ import annotations

import bisect
import itertools
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .errors import READ_ERRORS, one_line
from .evidence.reopen import installed
from .records import FileEntry, ScanError, Volume
from .signals.blocks import BLOCK, Block, confirm, quick
from .workers import Interrupted

# Bytes a read: the kernel's read-ahead streams a disk behind it, and a reused buffer of this
# size is hashed while still in the CPU's cache.
READ = 4 << 20
AHEAD = 2           # reads in flight ahead of the hashing


@dataclass(frozen=True)
class Span:
    """A stretch swept with one step: a volume's, or a gap between volumes. `inside`: the
    offsets are in the volume's own bytes (a volume behind a decrypting or translating layer,
    read through it), else in the media's."""
    start: int
    end: int
    step: int
    volume: Optional[Volume]
    inside: bool = False


@dataclass
class Found:
    offset: int          # offset of the window: in the media, or in the volume (Span.inside)
    set: str
    category: Optional[str]
    md5: str
    index: int           # the block's number in its reference file
    total: int           # the reference file's full blocks


def spans(ev) -> Tuple[List[Span], List[ScanError]]:
    """What to sweep on an evidence item: each volume laid linearly on the media, stepping by
    its cluster size (4 KiB at most: a cluster holds a file's 4 KiB blocks at its start and
    every 4 KiB after), and the media's other bytes at 4 KiB steps. A volume behind a layer
    that transforms its bytes (LUKS, BitLocker, FileVault, an LVM logical volume) is swept
    through that layer, in its own offsets, once (volumes sharing one source are one span);
    the layer's own bytes on the media (ciphertext, a physical volume) are swept as media too.
    A volume whose bytes lie on the media beneath a pool (an APFS volume in its container) is
    swept with the media's other bytes; a shadow copy is not swept (its blocks are the live
    volume's and its store's, both on the media)."""
    out, errors, covered, seen = [], [], [], set()
    size = ev.size or 0
    sources = getattr(ev, "_sources", {})
    for v in ev.volumes:
        step = min(BLOCK, v.block_size or BLOCK)
        if ev._linear.get(v.index, True):
            if v.path is not None:
                continue             # beneath a pool, on the media: swept with the gaps
            end = min(v.offset + v.length, size)
            if end > v.offset:
                out.append(Span(v.offset, end, step, v))
                covered.append((v.offset, end))
            continue
        if v.index in getattr(ev, "_snapshot_of", {}):
            continue
        source = sources.get(v.index)
        if source is None:
            errors.append(ScanError(ev.name, "not swept for blocks: the volume's bytes cannot "
                                             "be read through its layers", v))
        elif id(source) not in seen and source.size >= BLOCK:
            seen.add(id(source))
            out.append(Span(0, source.size, step, v, inside=True))
    at = 0
    for start, end in sorted(covered):
        if start > at:
            out.append(Span(at, start, BLOCK, None))
        at = max(at, end)
    if size > at:
        out.append(Span(at, size, BLOCK, None))
    return sorted(out, key=lambda s: (s.inside, s.start)), errors


def quick_keys(data, step: int, count: int) -> np.ndarray:
    """XXH3-64 of the first `count` 4 KiB windows of `data`, at multiples of `step`. Each
    window is a row of a numpy view (contiguous bytes, no copy) handed straight to XXH3 by
    map: ~15x faster than slicing a memoryview in a Python loop."""
    rows = sliding_window_view(np.frombuffer(data, np.uint8), BLOCK)[:count * step:step]
    return np.fromiter(map(quick, rows), np.uint64, count)


@dataclass(frozen=True)
class Piece:
    """Part of a span, swept as one task (in a worker process where the platform forks):
    windows starting in [start, end), none reaching past `limit` (the span's end)."""
    evidence: str        # the path that opens the evidence (evidence.reopen)
    start: int
    end: int
    limit: int
    step: int
    volume: Optional[int]     # the volume's index; None for a gap
    inside: bool = False      # read through the volume's layers, in its own offsets


PIECE = 128 << 20    # bytes of windows a task: two workers each stream long stretches


def pieces(ev, path: str) -> Tuple[List[Piece], List[ScanError]]:
    planned, errors = spans(ev)
    out = []
    for span in planned:
        size = max(PIECE // span.step, 1) * span.step
        for start in range(span.start, span.end - BLOCK + 1, size):
            out.append(Piece(path, start, min(start + size, span.end), span.end, span.step,
                             None if span.volume is None else span.volume.index, span.inside))
    return out, errors


class Sweeper:
    """The block sets' sorted XXH3 halves, and the lookups of a sweep. Called with a Piece
    (the worker pool's task), it sweeps it through the process's evidence handles."""

    def __init__(self, sets, evidences=(), stop=None):
        self.sets = [hs for hs in sets if "block" in hs.signals]
        # each set's block lookups, compiled or sealed alike (hashsets.blockindex)
        self._index = [hs.blocks() for hs in self.sets]
        # where no worker process has handles of its own (threads): the scan's own
        self._opened = {ev.path: ev for ev in evidences}
        self.stop = stop

    def __call__(self, piece: Piece) -> Tuple[List[Found], List[str]]:
        """What `piece` holds, and what of it could not be read (one line a failed read: the
        sweep goes on past it)."""
        handles = installed()
        ev = (handles.evidence(piece.evidence) if handles is not None
              else self._opened[piece.evidence])
        found: List[Found] = []
        unread: List[str] = []
        readinto = (ev.volume_bytes(piece.volume).readinto if piece.inside
                    else ev.media.readinto)
        where = "volume" if piece.inside else "media"
        for f in self.sweep(readinto, piece):
            if isinstance(f, Unread):
                unread.append(f"block sweep: {where} bytes {f.offset:,}-{f.offset + f.length:,} "
                              f"not read: {f.reason}")
            else:
                found.append(f)
        return found, unread

    def windows(self, data, base: int, step: int, count: int) -> List[Found]:
        """The listed blocks among the first `count` windows of `data` (media offset
        `base` + i * step)."""
        keys = quick_keys(data, step, count)
        found = []
        for hs, index in zip(self.sets, self._index):
            candidates = index.candidates(keys)
            if not len(candidates):
                continue
            view = memoryview(data)
            full = [int(keys[c]).to_bytes(8, "big") + confirm(view[c * step:c * step + BLOCK])
                    for c in candidates.tolist()]
            for q, ref in index.confirm(full):
                found.append(Found(base + int(candidates[q]) * step, hs.info.name,
                                   ref.category, ref.md5, ref.index, Block.total(ref.size)))
        return found

    def sweep(self, readinto, piece: Piece) -> Iterator[Union[Found, "Unread"]]:
        """Every listed block of `piece`, read in order with `readinto(offset, buffer)` by a
        thread of its own while the blocks before are hashed; a read that fails is an Unread
        and the sweep goes on after it."""
        for at, count, data in read_ahead(readinto, reads(piece), self.stop):
            if isinstance(data, Unread):
                yield data
                continue
            count = min(count, (len(data) - BLOCK) // piece.step + 1)
            if count > 0:
                yield from self.windows(data, at, piece.step, count)


@dataclass(frozen=True)
class Unread:
    offset: int
    length: int
    reason: str


def reads(piece: Piece) -> Iterator[Tuple[int, int, int]]:
    """(media offset, bytes, windows) of each read of `piece`, in order: READ bytes of
    windows, and the 4 KiB less one that the last window reaches past them."""
    per = max(READ // piece.step, 1)
    at = piece.start
    while at < piece.end and at + BLOCK <= piece.limit:
        count = min(per, -(-(piece.end - at) // piece.step))
        yield at, min((count - 1) * piece.step + BLOCK, piece.limit - at), count
        at += count * piece.step


def read_ahead(readinto, planned: Iterable[Tuple[int, int, int]], stop=None
               ) -> Iterator[Tuple[int, int, Union[memoryview, Unread]]]:
    """(offset, windows, bytes) of each planned read, read AHEAD reads in advance by a thread
    while the caller hashes: a disk is kept busy (a read releases the GIL) as `cat` keeps it.
    The bytes are a view of one of a few reused buffers, valid until the next step; a read
    that fails gives an Unread in their place."""
    planned = list(planned)
    if not planned:
        return
    size = max(length for _, length, _ in planned)
    free: "queue.Queue[Optional[bytearray]]" = queue.Queue()
    full: "queue.Queue[Optional[tuple]]" = queue.Queue()
    for _ in range(AHEAD + 1):
        free.put(bytearray(size))
    ended = threading.Event()

    def reader():
        try:
            for offset, length, count in planned:
                buffer = free.get()
                if buffer is None or ended.is_set():
                    return
                view = memoryview(buffer)[:length]
                try:
                    got = view[:readinto(offset, view)]
                except READ_ERRORS as exc:
                    got = Unread(offset, length, one_line(exc))
                    free.put(buffer)
                full.put((offset, count, got, buffer))
            full.put(None)
        except BaseException as exc:    # a bug: raised again where the caller waits
            full.put(exc)

    thread = threading.Thread(target=reader, name="triage-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            if stop is not None and stop.is_set():
                raise Interrupted()
            item = full.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            offset, count, got, buffer = item
            yield offset, count, got
            if not isinstance(got, Unread):
                free.put(buffer)
    finally:
        ended.set()
        free.put(None)        # a reader waiting for a buffer ends
        thread.join()


def fragments(found: List[Found], evidence: str, volume: Optional[Volume],
              inside: bool = False, owner_of: Callable[[int], Optional[dict]] = lambda at: None
              ) -> List[dict]:
    """One finding per reference file (and set) and owner: its blocks' runs, in order, in media
    offsets, or (`inside`) in offsets of the volume's own bytes (`within`: "volume"). A run
    continues while the next block of the file lies 4 KiB further on. `owner_of(offset)`: the
    file-system object that claims a run's first block. The runs of one owner (a fragmented
    file, or what is left of a deleted one) are one finding; a copy a live file holds and
    another left in unallocated space are two, each with its owner and blocks."""
    by_file: Dict[Tuple[str, str], List[Found]] = {}
    for f in found:
        by_file.setdefault((f.set, f.md5), []).append(f)
    out = []
    for (set_name, md5), blocks in sorted(by_file.items()):
        blocks.sort(key=lambda f: (f.offset, f.index))
        runs: List[Tuple[List[int], set]] = []     # ([offset, length], block numbers)
        last = None
        for f in blocks:
            if last is not None and f.offset == last.offset + BLOCK and f.index == last.index + 1:
                runs[-1][0][1] += BLOCK
                runs[-1][1].add(f.index)
            elif last is None or f.offset != last.offset:
                runs.append(([f.offset, BLOCK], {f.index}))
            else:   # the same window, another block of the file (repeated content)
                runs[-1][1].add(f.index)
            last = f
        owned: Dict[Optional[tuple], Tuple[Optional[dict], list]] = {}
        for run in runs:
            owner = owner_of(run[0][0])
            key = None if owner is None else tuple(owner.values())
            owned.setdefault(key, (owner, []))[1].append(run)
        for owner, group in owned.values():
            out.append({
                "evidence": evidence,
                "volume": None if volume is None else volume.ref(),
                "within": "volume" if inside else "media",
                "runs": [{"offset": o, "length": n} for (o, n), _ in group],
                "set": set_name,
                "category": blocks[0].category,
                "reference_md5": md5,
                "blocks_matched": len(set().union(*(numbers for _, numbers in group))),
                "blocks_total": blocks[0].total,
                "owner": owner,
            })
    return out


class Owners:
    """Which file-system object claims an offset, as `ifind -d` answers: from the runs of
    every entry of the volume's walk (live and deleted). A live claimant is preferred to a
    deleted name whose old runs still point there. `block`: the offsets are in the volume's
    own bytes, whose file system has clusters of this size (None: media offsets)."""

    def __init__(self, block: Optional[int] = None):
        self._claims: List[tuple] = []
        self._starts: List[int] = []
        self._reach: List[int] = []   # the furthest end of the claims up to each one
        self.block = block

    def add(self, e: FileEntry) -> None:
        if self.block is None:
            extents = getattr(e.open, "extents", None)
        else:
            inside = getattr(e.open, "volume_extents", None)
            extents = None if inside is None else (lambda: inside(self.block))
        for offset, length in (extents() if extents is not None else ()):
            self._claims.append((offset, offset + length, e.path, e.inode, e.allocated))

    def of(self, offset: int) -> Optional[dict]:
        if len(self._starts) != len(self._claims):
            self._claims.sort()
            self._starts = [c[0] for c in self._claims]
            self._reach = list(itertools.accumulate((c[1] for c in self._claims), max))
        best = None
        # back from the last claim starting at or before the offset, while any claim that
        # far back still reaches past it
        i = bisect.bisect_right(self._starts, offset) - 1
        while i >= 0 and self._reach[i] > offset:
            start, end, path, inode, allocated = self._claims[i]
            if end > offset and (best is None or (allocated and not best["allocated"])):
                best = {"path": path, "inode": inode, "allocated": allocated}
            i -= 1
        return best


def sweep(evidences, sets, workers, stop=None) -> Iterator[Tuple[object, List[dict],
                                                                  List[ScanError]]]:
    """(evidence, its fragments, what could not be swept) for each evidence item with media,
    its pieces swept by `workers` (workers.Workers running a Sweeper)."""
    from .workers import batches
    for ev in evidences:
        if ev.media is None:
            yield ev, [], [ScanError(ev.name, "not swept for blocks: a folder has no media of "
                                              "its own")]
            continue
        planned, errors = pieces(ev, ev.path)
        inside = {p.volume for p in planned if p.inside}
        found: Dict[Optional[int], List[Found]] = {}
        for batch, results in workers.map(batches(planned, lambda p: PIECE)):
            if len(results) < len(batch):
                raise KeyboardInterrupt()     # stopped midway: nothing half-swept is reported
            for piece, (got, unread) in zip(batch, results):
                found.setdefault(piece.volume, []).extend(got)
                volume = next((v for v in ev.volumes if v.index == piece.volume), None)
                errors += [ScanError(ev.name, trouble, volume) for trouble in unread]
        volumes = {v.index: v for v in ev.volumes}
        owners = _owners(ev, {index: index in inside for index, got in found.items()
                              if got and index is not None})
        out = []
        for index, got in sorted(found.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
            # a gap's findings are per gap stretch; runs never join across volumes
            claims = owners.get(index)
            out += fragments(got, ev.name, volumes.get(index), index in inside,
                             claims.of if claims is not None else lambda at: None)
        yield ev, out, errors


def _owners(ev, volumes: Dict[int, bool]) -> Dict[int, Owners]:
    """What claims each offset of the volumes that have findings (index -> whether offsets
    are the volume's own): one more walk of them, keeping only the entries' runs."""
    owners = {index: Owners(_cluster(ev, index) if inside else None)
              for index, inside in volumes.items()}
    if owners:
        for e in ev.entries():
            if isinstance(e, FileEntry) and e.volume is not None and e.volume.index in owners:
                owners[e.volume.index].add(e)
    return owners


def _cluster(ev, index: int) -> int:
    """The cluster size of the file system of a volume behind a layer (0 when TSK does not
    read it: then no owner is known)."""
    try:
        return ev.file_system(index).info.block_size
    except (KeyError, AttributeError):
        return 0
