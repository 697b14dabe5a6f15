"""An EWF-E01 image's chunks read straight from its segment files.

libewf reads a chunk by inflating it with its own deflate code (the pyewf wheel has no zlib)
and keeps where chunks lie to itself. A scan that screens files reads a few KiB at each end
of every file, so nearly every read is a chunk of its own: 157 us each through libewf here,
where finding the chunk's bytes in its segment file and inflating them with Python's zlib
takes about 27 us, and where the bytes lie can be asked of the OS ahead (triage.prefetch).

Read from the section chain of each segment file (Joachim Metz's EWF documentation): the
`table` sections list each chunk's offset in the file (bit 31: compressed) from the table's
base offset, and the chunks lie in the `sectors` section before the table. A compressed chunk
is a zlib stream (its Adler-32 checked by zlib), a stored one its bytes and their Adler-32.
Only what a checksum vouches for is given: the descriptors', each table's header and offset
array (a table2 mirror copy is what libewf turns to when they fail), and each chunk's.

Anything else is left to libewf: a layout this does not know (EnCase 1 and SMART keep their
chunks inside the table section, EWF2 is another format), a table whose checksums fail, a
chunk whose checksum fails (libewf then reads it as zeros and records it as damaged, as
before), a segment file that cannot be opened or read. `chunk_map` gives None for the image,
and a read gives None for the range, so the caller reads through libewf instead."""

from __future__ import annotations

import os
import struct
import zlib
from bisect import bisect_right
from collections import OrderedDict
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ..prefetch import in_cache, will_need
from .folder import open_readonly

SIGNATURE = b"EVF\x09\x0d\x0a\xff\x00"   # EWF-E01 and SMART (EWF2 has its own)
FILE_HEADER = 13            # signature, 1, segment number, 0
DESCRIPTOR = 76             # a section's: type[16], next offset, size, padding[40], Adler-32
_TABLE_HEADER = 24          # entries, padding, base offset, padding, Adler-32
_MAX_SECTIONS = 1 << 20     # a chain longer than this is corrupt (it must not loop forever)
_COMPRESSED = 1 << 31
_MAX_ENTRIES = 1 << 20      # EnCase writes 65,534 at most: a table claiming more is not read here
KEPT_BYTES = 2 << 20        # chunks kept inflated (64 of 32 KiB, at least 2 of larger ones:
#                             EnCase allows 16 MiB): a file's head and tail, and the next file's,
#                             are often in the same few chunks
FILES_KEPT = 16             # segment files held open (most reads go through a few at a time)
TABLES_KEPT = 32            # tables' offsets kept (up to 65,534 chunks, 0.5 MB, each): reads go
#                             through the media mostly in order, and a 4 TB disk has 2,000 tables


class Table(NamedTuple):
    """One `table` section: where its offset array lies, and the chunks it lists."""

    segment: int       # index into the segment files
    first: int         # the media's chunk number of its first entry
    count: int
    entries_at: int    # file offset of the offset array
    base: int          # what the entries' offsets count from
    end: int           # where the `sectors` section holding its chunks ends


def chunk_map(segments: Sequence[str], chunk_size: int, media_size: int
              ) -> Optional[List[Table]]:
    """Every table of the image, in chunk order, when their chunks are exactly the media's
    (ceil(media_size / chunk_size) of them); None for a layout or a chain this does not
    follow (the image is then read through libewf alone)."""
    if chunk_size <= 0 or media_size <= 0:
        return None
    tables: List[Table] = []
    first = 0
    try:
        for number, path in enumerate(segments):
            with open_readonly(path, follow_symlinks=True) as f:
                found = _tables(f.fileno(), number, first)
            if found is None:
                return None
            tables += found
            first += sum(t.count for t in found)
    except OSError:
        return None
    return tables if first == -(-media_size // chunk_size) else None


def _tables(fd: int, number: int, first: int) -> Optional[List[Table]]:
    size = os.fstat(fd).st_size
    header = os.pread(fd, FILE_HEADER, 0)
    if len(header) < FILE_HEADER or not header.startswith(SIGNATURE) or \
            struct.unpack_from("<H", header, 9)[0] != number + 1:
        return None
    tables: List[Table] = []
    at, sectors_end = FILE_HEADER, None
    for _ in range(_MAX_SECTIONS):
        descriptor = os.pread(fd, DESCRIPTOR, at)
        if len(descriptor) < DESCRIPTOR or \
                zlib.adler32(descriptor[:72]) != struct.unpack_from("<I", descriptor, 72)[0]:
            return None
        kind = descriptor[:16].rstrip(b"\0")
        following, length = struct.unpack_from("<QQ", descriptor, 16)
        if kind in (b"next", b"done"):
            return tables
        if length < DESCRIPTOR or at + length > size or following <= at or following > size:
            return None
        if kind == b"sectors":
            sectors_end = at + length
        elif kind == b"table":
            if sectors_end is None:   # EnCase 1 and SMART: chunks inside the table section
                return None
            table = _table(fd, number, first + sum(t.count for t in tables),
                           at + DESCRIPTOR, sectors_end)
            if table is None:
                return None
            tables.append(table)
        at = following
    return None


def _table(fd: int, number: int, first: int, at: int, sectors_end: int) -> Optional[Table]:
    header = os.pread(fd, _TABLE_HEADER, at)
    if len(header) < _TABLE_HEADER or \
            zlib.adler32(header[:20]) != struct.unpack_from("<I", header, 20)[0]:
        return None
    count = struct.unpack_from("<I", header, 0)[0]
    base = struct.unpack_from("<Q", header, 8)[0]
    if count > _MAX_ENTRIES:   # its offsets would be read whole, at once
        return None
    return Table(number, first, count, at + _TABLE_HEADER, base, sectors_end)


class ChunkReader:
    """Reads media bytes chunk by chunk from the segment files (opened read-only, without
    touching their access time). Not for two threads at once: EwfImg reads under its lock."""

    def __init__(self, segments: Sequence[str], tables: List[Table], chunk_size: int,
                 media_size: int):
        self.chunk_size, self.media_size = chunk_size, media_size
        self._tables = tables
        self._firsts = [t.first for t in tables]
        self._segments = list(segments)
        self._files: "OrderedDict[int, object]" = OrderedDict()   # segment -> its open file
        self._offsets: "OrderedDict[int, np.ndarray]" = OrderedDict()   # table index -> its
        #                           chunks' raw entries as loaded (TABLES_KEPT, least used out)
        self._refused: set = set()  # tables whose checksum or offsets failed
        self._chunks: dict = {}    # chunk number -> its bytes (_kept at most, oldest dropped)
        self._kept = max(2, KEPT_BYTES // chunk_size)

    def read(self, offset: int, size: int) -> Optional[bytes]:
        """The media's bytes [offset, offset + size) (fewer past its end), or None when a
        chunk they lie in cannot be vouched for here, or a segment file cannot be read (libewf
        is to read them, and says why if it cannot either)."""
        try:
            return self._read(offset, size)
        except OSError:
            return None

    def _read(self, offset: int, size: int) -> Optional[bytes]:
        size = max(0, min(size, self.media_size - offset))
        if size == 0:
            return b""
        first, last = offset // self.chunk_size, (offset + size - 1) // self.chunk_size
        parts = []
        for number in range(first, last + 1):
            data = self.chunk(number)
            if data is None:
                return None
            parts.append(data)
        start = offset - first * self.chunk_size   # one chunk's join is that chunk: no copy
        return b"".join(parts)[start:start + size]

    def chunk(self, number: int) -> Optional[bytes]:
        """Chunk `number`'s bytes, checked by its checksum; None when it fails or its table
        does."""
        data = self._chunks.get(number)
        if data is not None:
            return data
        where = self._stored(number)
        if where is None:
            return None
        segment, start, end, compressed = where
        fd = self._fd(segment)
        expected = min(self.chunk_size, self.media_size - number * self.chunk_size)
        if compressed:
            # a chunk is stored compressed only when that is smaller: what lies past that much
            # is not its stream (a crafted offset array must not make this read gigabytes)
            length = min(end - start, self.chunk_size + 4)
            try:   # a stream cut short raises; what follows its end is not part of it
                data = zlib.decompress(os.pread(fd, length, start), bufsize=expected)
            except zlib.error:
                return None
            if len(data) != expected:
                return None
        else:
            if end - start < expected + 4:
                return None
            stored = os.pread(fd, expected + 4, start)
            data = stored[:expected]
            if len(stored) != expected + 4 or \
                    zlib.adler32(data) != struct.unpack_from("<I", stored, expected)[0]:
                return None
        if len(self._chunks) >= self._kept:
            del self._chunks[next(iter(self._chunks))]
        self._chunks[number] = data
        return data

    def spans(self, offset: int, length: int) -> List[Tuple[int, int, int]]:
        """(segment, file offset, length) of the stored chunks that hold the media's bytes
        [offset, offset + length), adjacent ones of one file merged: what to ask the OS for."""
        out: List[Tuple[int, int, int]] = []
        if length <= 0 or offset >= self.media_size:
            return out
        end = min(offset + length, self.media_size)
        for number in range(offset // self.chunk_size, (end - 1) // self.chunk_size + 1):
            where = self._stored(number)
            if where is None:
                continue
            segment, start, stop, _ = where
            if out and out[-1][0] == segment and out[-1][1] + out[-1][2] == start:
                out[-1] = (segment, out[-1][1], stop - out[-1][1])
            else:
                out.append((segment, start, stop - start))
        return out

    def prefetch(self, offset: int, length: int) -> None:
        """Ask the OS for the stored chunks (a hint: nothing is asked where they cannot be
        found)."""
        try:
            for segment, start, span in self.spans(offset, length):
                will_need(self._fd(segment), start, span)
        except OSError:
            pass

    def cached(self, offset: int) -> bool:
        try:
            where = self._stored(offset // self.chunk_size) if 0 <= offset < self.media_size \
                else None
            return where is not None and in_cache(self._fd(where[0]), where[1])
        except OSError:
            return False

    def _stored(self, number: int) -> Optional[Tuple[int, int, int, bool]]:
        """(segment, start, end, compressed) of chunk `number` in its segment file."""
        index = _table_of(self._firsts, number)
        if index is None or index in self._refused:
            return None
        table = self._tables[index]
        k = number - table.first
        if k >= table.count:
            return None
        entries = self._offsets.get(index)
        if entries is None:
            entries = self._load(table)
            if entries is None:
                self._refused.add(index)
                return None
            self._offsets[index] = entries
            if len(self._offsets) > TABLES_KEPT:
                self._offsets.popitem(last=False)
        else:
            self._offsets.move_to_end(index)
        value = int(entries[k])
        end = table.base + (int(entries[k + 1]) & ~_COMPRESSED) if k + 1 < table.count \
            else table.end
        return (table.segment, table.base + (value & ~_COMPRESSED), end,
                bool(value & _COMPRESSED))

    def _load(self, table: Table) -> Optional[np.ndarray]:
        """A table's entries (bit 31: compressed; the rest: the chunk's offset from the
        table's base), when their Adler-32 holds and the offsets rise within its sectors
        section; else None."""
        raw = os.pread(self._fd(table.segment), 4 * table.count + 4, table.entries_at)
        if len(raw) != 4 * table.count + 4 or \
                zlib.adler32(raw[:-4]) != struct.unpack_from("<I", raw, len(raw) - 4)[0]:
            return None
        entries = np.frombuffer(raw, "<u4", table.count)
        starts = (entries & ~np.uint32(_COMPRESSED)).astype(np.int64) + table.base
        if table.count and (np.any(np.diff(starts) <= 0) or starts[-1] >= table.end):
            return None   # the 31-bit overflow of EnCase 6.7.1, or a corrupt table
        return entries

    def _fd(self, segment: int) -> int:
        """Segment `segment`'s descriptor, opened when first needed: a 2 TB disk in 640 MB
        segments has 3,200 of them, more than a process may hold open (libewf keeps a pool
        too). OSError when it cannot be opened (the read then goes through libewf)."""
        f = self._files.get(segment)
        if f is None:
            f = self._files[segment] = open_readonly(self._segments[segment],
                                                    follow_symlinks=True)
            if len(self._files) > FILES_KEPT:
                self._files.popitem(last=False)[1].close()
        else:
            self._files.move_to_end(segment)
        return f.fileno()

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()


def _table_of(firsts: List[int], number: int) -> Optional[int]:
    """The index of the table listing chunk `number` (firsts: each table's first chunk)."""
    index = bisect_right(firsts, number) - 1
    return index if index >= 0 else None
