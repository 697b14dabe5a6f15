"""Walk one file system with The Sleuth Kit and yield every regular file, allocated and deleted,
the way `fls -r` finds them; NTFS alternate data streams become entries of their own."""

from __future__ import annotations

import os
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple, Union

import pytsk3

from ..errors import READ_ERRORS, DamagedMedia, one_line
from ..records import TIME_FIELDS, FileEntry, ScanError, Volume, quick_maker
from . import ext_crypt
from .ext_names import MAX_DIRECTORY, names_with_nul
from .media import overlap
from .reopen import Locator, installed
from .sources import RandomAccess

MAX_DEPTH = 1024   # deeper than any real tree; a corrupt one must not exhaust the walk

_DIR_NAME_TYPES = {pytsk3.TSK_FS_NAME_TYPE_DIR, pytsk3.TSK_FS_NAME_TYPE_VIRT_DIR}
_DIR_META_TYPES = {pytsk3.TSK_FS_META_TYPE_DIR, pytsk3.TSK_FS_META_TYPE_VIRT_DIR}
_NTFS = {pytsk3.TSK_FS_TYPE_NTFS}
_EXT = {pytsk3.TSK_FS_TYPE_EXT2, pytsk3.TSK_FS_TYPE_EXT3, pytsk3.TSK_FS_TYPE_EXT4}
_NTFS_DATA = pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA
_DOTS = (b".", b"..")
_DEFAULT_DATA = {pytsk3.TSK_FS_ATTR_TYPE_DEFAULT, pytsk3.TSK_FS_ATTR_TYPE_HFS_DATA}
_NTFS_IDXROOT = pytsk3.TSK_FS_ATTR_TYPE_NTFS_IDXROOT
_NTFS_LOG = pytsk3.TSK_FS_ATTR_TYPE_NTFS_LOG   # $LOGGED_UTILITY_STREAM, $EFS among them
_NTFS_FNAME = pytsk3.TSK_FS_ATTR_TYPE_NTFS_FNAME
_FNAME_SPACE, _FNAME_DOS = 65, 2   # a $FILE_NAME's namespace byte, and the DOS (8.3) one's value
EFS = "NTFS EFS"
_NAME_UNALLOC = pytsk3.TSK_FS_NAME_FLAG_UNALLOC
_META_ALLOC = pytsk3.TSK_FS_META_FLAG_ALLOC
_META_REG = pytsk3.TSK_FS_META_TYPE_REG
_NAME_REG = pytsk3.TSK_FS_NAME_TYPE_REG
_NAME_VIRT_DIR = pytsk3.TSK_FS_NAME_TYPE_VIRT_DIR

_UNLOADED = object()


def _compiled():
    """The compiled lister (setup.py builds it where libtsk-dev is installed), or None; loaded
    on first use: it links the system's libtsk and what that links (libewf, libvmdk, afflib
    ...), 9 ms of a start that a folder's scan does not need. Tests set `_tskwalk` to None
    for pytsk3's path."""
    module = globals().get("_tskwalk", _UNLOADED)
    if module is _UNLOADED:
        try:
            from . import _tskwalk as module
        except ImportError:
            module = None
        globals()["_tskwalk"] = module
    return module


def __getattr__(name):
    if name == "_tskwalk":
        return _compiled()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# File systems whose allocated files TSK reads exactly as their runs lie (no initialized
# size short of the size, no compression that a run's flags would not show): such a file's
# content is read straight from the media by its runs (RunReader), without TSK. NTFS (its
# initialized size is not reachable through pytsk3), exFAT (its valid data length), HFS+ and
# APFS (compression, resource forks) are read through TSK.
DIRECT_TYPES = frozenset(_EXT | {pytsk3.TSK_FS_TYPE_FAT12, pytsk3.TSK_FS_TYPE_FAT16,
                                 pytsk3.TSK_FS_TYPE_FAT32})
_UNPLAIN_ATTR = pytsk3.TSK_FS_ATTR_COMP | pytsk3.TSK_FS_ATTR_ENC | pytsk3.TSK_FS_ATTR_SPARSE
_UNPLAIN_RUN = (pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE | pytsk3.TSK_FS_ATTR_RUN_FLAG_FILLER |
                pytsk3.TSK_FS_ATTR_RUN_FLAG_ENCRYPTED)

# The file systems the compiled lister walks (its libtsk may be older than pytsk3's own TSK):
# those whose listings both give alike, checked on every fixture image
# (tests/evidence/test_tsk_walk_compiled.py); others are listed through pytsk3.
COMPILED_TYPES = frozenset(_NTFS | _EXT)


class TskReader(RandomAccess):
    """Sequential reader over one attribute of a TSK file (the default data, or a named stream).

    With `short_ok`, content ends where TSK stops returning data (a deleted file recovered in
    part); otherwise stopping before `size` is an error. A read that fails inside the image
    (a missing segment) raises what the image raised, not TSK's "unknown libtsk error"; content
    lying in a damaged EWF chunk raises DamagedMedia (`geometry`, the volume's byte offset and
    the file system's block size, places the file's runs on the media)."""

    def __init__(self, tsk_file, size: int, attr: Optional[Tuple[int, int]] = None,
                 short_ok: bool = False, media=None, geometry: Optional[Tuple[int, int]] = None):
        super().__init__()
        self._file = tsk_file
        self._size = size
        self._attr = attr   # (type, id) of a named attribute; None for the default data
        self._short_ok = short_ok
        self._media = media
        self._geometry = geometry
        self._extents: Optional[List[Tuple[int, int]]] = None
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        # Straight from TSK: RawIOBase.read would zero a buffer of `size` bytes (1 MiB a call,
        # even for a 4 KiB file) and copy the data twice more; measured 2.5x slower on large
        # files. readinto stays for callers that bring their own buffer.
        left = self._size - self._pos
        return self._next(left if size is None or size < 0 else min(size, left))

    def readinto(self, buffer) -> int:
        data = self._next(min(len(buffer), self._size - self._pos))
        n = len(data)
        buffer[:n] = data
        return n

    def _next(self, want: int) -> bytes:
        if want <= 0:
            return b""
        if self._media is not None:
            self._media.forget_failure()
        try:
            if self._attr is None:
                data = self._file.read_random(self._pos, want)
            else:
                data = self._file.read_random(self._pos, want, *self._attr)
        except READ_ERRORS as exc:
            if self._media is None:
                raise
            raise self._media.explain(exc) from None
        if self._media is not None and self._media.damage_seen():
            self._refuse_damage()
        if not data:
            if self._short_ok:
                return b""
            raise OSError(f"read failed at offset {self._pos} of {self._size}")
        self._pos += len(data)
        return data


    def _refuse_damage(self) -> None:
        """Checked after each read, once this process has met a damaged chunk: the chunks this
        read touched are known by now, whether libewf read them just now or TSK served them
        from its cache (filled, by this process, earlier)."""
        if self._extents is None:
            self._extents = _extents(self._file, self._attr, self._geometry)
        hit = overlap(self._media.damaged(), self._extents)
        if hit is not None:
            raise DamagedMedia(*hit)


def _extents(tsk_file, attr, geometry) -> List[Tuple[int, int]]:
    """(media offset, length) of the runs of the attribute a TskReader reads: the named one,
    or the default data. Resident content has no runs of its own (it lies in the metadata
    record, whose damage the walk reports for the volume)."""
    return list(_runs(tsk_file, attr, geometry))


def _runs(tsk_file, attr, geometry) -> Iterator[Tuple[int, int]]:
    if geometry is None or tsk_file is None:
        return
    volume_offset, block = geometry
    try:
        for attribute in tsk_file:
            info = attribute.info
            if attr is not None:
                if (info.type, info.id) != tuple(attr):
                    continue
            elif not (info.type in _DEFAULT_DATA or (info.type == _NTFS_DATA and not info.name)):
                continue
            if not info.flags & pytsk3.TSK_FS_ATTR_NONRES:
                continue
            for run in attribute:
                if run.flags & (pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE | pytsk3.TSK_FS_ATTR_RUN_FLAG_FILLER):
                    continue
                yield volume_offset + run.addr * block, run.len * block
    except READ_ERRORS:
        pass


def _layout(tsk_file, geometry, size: int) -> Optional[Tuple[Tuple[int, int], ...]]:
    """(media offset, length) of each run of a file's default data, in the file's order and
    cut at its size, when they are all its content is (DIRECT_TYPES): non-resident, every
    run plain (no sparse, filler or encrypted run) and the runs back to back in the file,
    covering its size. None otherwise: TSK reads it."""
    volume_offset, block = geometry
    data = [a for a in tsk_file if a.info.type in _DEFAULT_DATA]
    if len(data) != 1:
        return None
    info = data[0].info
    if not info.flags & pytsk3.TSK_FS_ATTR_NONRES or info.flags & _UNPLAIN_ATTR:
        return None
    runs, covered = [], 0
    for run in data[0]:
        if run.flags & _UNPLAIN_RUN or run.offset * block != covered:
            return None
        length = min(run.len * block, size - covered)
        if length > 0:
            runs.append((volume_offset + run.addr * block, length))
        covered += run.len * block
    return tuple(runs) if covered >= size else None


class RunReader(RandomAccess):
    """A file's content read straight from the media by its runs (_layout): what TskReader
    gives for such a file, without TSK's file, its block cache and its calls back into Python
    for every read (most of a screened image scan's reading cost). Content in a damaged EWF
    chunk raises DamagedMedia, as TskReader does."""

    def __init__(self, media, runs: Tuple[Tuple[int, int], ...], size: int):
        super().__init__()
        self._media, self._runs, self._size, self._pos = media, runs, size, 0

    def prefetch(self, at: int, length: int) -> None:
        """Ask the OS for the media's bytes that hold [at, at + length) of the file
        (triage.prefetch)."""
        end, start = min(at + length, self._size), 0
        for offset, run in self._runs:
            if start >= end:
                break
            first, last = max(at, start), min(end, start + run)   # of the file, in this run
            if first < last:
                self._media.prefetch(offset + first - start, last - first)
            start += run

    def cached(self, at: int) -> bool:
        """Whether the media's byte that holds the file's byte `at` is in the page cache
        (triage.prefetch.cached)."""
        start = 0
        for offset, run in self._runs:
            if at < start + run:
                return self._media.cached(offset + at - start)
            start += run
        return False

    def read(self, size: int = -1) -> bytes:
        left = self._size - self._pos
        data = self.read_at(left if size is None or size < 0 else min(size, left), self._pos)
        self._pos += len(data)
        return data

    def read_at(self, size: int, at: int) -> bytes:
        """`size` bytes of the file from `at` (fewer at its end), the position left where it
        is (streams.positioned)."""
        want, pos = min(size, self._size - at), at
        parts, start = [], 0
        for offset, length in self._runs:
            if want <= 0:
                break
            if pos < start + length:
                skip = pos - start
                take = min(length - skip, want)
                data = self._media.read(offset + skip, take)
                parts.append(data)
                pos += len(data)
                want -= len(data)
                if len(data) < take:
                    raise ends_inside(pos, self._size)
            start += length
        if self._media.damage_seen():
            hit = overlap(self._media.damaged(), self._runs)
            if hit is not None:
                raise DamagedMedia(*hit)
        return b"" if not parts else parts[0] if len(parts) == 1 else b"".join(parts)

    @classmethod
    def of(cls, media, runs: Tuple[Tuple[int, int], ...], size: int) -> "RunReader":
        """The reader of a file by its runs: a file in one run of a raw image, by positioned
        reads of the image's own descriptor (OneRunReader)."""
        if len(runs) == 1:
            fd = media.descriptor()
            if fd is not None:
                return OneRunReader(media, runs, size, fd)
        return cls(media, runs, size)


class OneRunReader(RunReader):
    """A file in one run of a raw image (most files: ext4 and NTFS keep them whole), read by
    os.pread of the image's descriptor: a read that went through the media's and the image's
    readers (three calls, each a Python frame) is one. A raw image has no damaged chunk."""

    def __init__(self, media, runs: Tuple[Tuple[int, int], ...], size: int, fd: int):
        super().__init__(media, runs, size)
        self._fd, self._at = fd, runs[0][0]

    def read_at(self, size: int, at: int) -> bytes:
        want = min(size, self._size - at)
        if want <= 0:
            return b""
        data = os.pread(self._fd, want, self._at + at)
        if len(data) < want:
            raise ends_inside(at + len(data), self._size)
        return data


def ends_inside(at: int, size: int) -> OSError:
    """The error of a file read by its runs, at `at` of its `size` bytes, where the media ends
    (a truncated image)."""
    return OSError(f"read failed at offset {at} of {size}: the media ends inside the file")


class ReopenError(Exception):
    """A file entry that left its process was opened where no evidence handles are installed:
    a bug in the caller, not a read error of the evidence."""


class TskOpener:
    """`FileEntry.open` of a file in an image: a TskReader on it. It pickles as its Locator
    alone (a TSK file cannot leave the process): a scan's worker process reopens the file by
    address through the process's own Handles (reopen.py). Reading by address gives the same
    bytes, since TSK reads a file's content from its metadata alone."""

    def __init__(self, tsk_file, media, locator: Locator, size: int, short_ok: bool,
                 geometry: Tuple[int, int], fs=None, direct: bool = False):
        # `fs`: the walk's file system, where the file is opened by address on first use (the
        # walk opens no file of its own: a file object for each of a million entries would
        # cost the listing more than all else).
        self._file, self._media, self._fs = tsk_file, media, fs
        self.locator, self.size, self.short_ok = locator, size, short_ok
        self.geometry = geometry
        # `direct`: its file system's files may be read by their runs (DIRECT_TYPES, a volume
        # laid linearly on the media); `runs`, once first_offset has looked (in the process
        # that walked) or as the compiled lister gives them (ext and NTFS, whose initialized
        # size it sees), travels with the entry, so a worker reads without reopening it.
        self.direct, self.runs = direct, None

    def _tsk_file(self):
        """The TSK file in this process, opened by address in the walk's file system the
        first time; None where there is none (a reopened entry: see __call__)."""
        if self._file is None and self._fs is not None:
            self._file = self._fs.open_meta(inode=self.locator.inode)
        return self._file

    def _media_here(self):
        """The media this process reads the file's runs from: the walk's, or the one its
        installed evidence handles opened again (a worker); None where there is neither."""
        media = self._media
        if media is None:
            handles = installed()
            if handles is not None:
                media = handles.evidence(self.locator.evidence).media
        return media

    def place(self) -> Optional[Tuple[int, int]]:
        """(descriptor, offset) where the whole file lies in one run of a raw image this
        process reads, for reads by position with no reader made (the batch screen's: most
        files on ext4 and NTFS); None for any other file, or an empty one."""
        runs = self.runs
        if runs is None or len(runs) != 1 or not self.size:
            return None
        media = self._media_here()
        fd = media.descriptor() if media is not None else None
        return None if fd is None else (fd, runs[0][0])

    def __call__(self) -> TskReader:
        # An empty file is never read, and not even opened (it may have no metadata).
        if not self.size:
            return TskReader(self._file, 0, self.locator.attribute, self.short_ok, self._media,
                             self.geometry)
        if self.runs is not None:
            media = self._media_here()
            if media is not None:
                return RunReader.of(media, self.runs, self.size)
        tsk_file, media = self._tsk_file(), self._media
        if tsk_file is None:
            handles = installed()
            if handles is None:
                raise ReopenError("a file entry was opened in a process without evidence "
                                  "handles (triage.evidence.reopen.Handles.install)")
            tsk_file, media = handles.open_file(self.locator)
        return TskReader(tsk_file, self.size, self.locator.attribute, self.short_ok, media,
                         self.geometry)

    def _known_file(self):
        try:
            return self._tsk_file()
        except READ_ERRORS:
            return None

    def extents(self) -> List[Tuple[int, int]]:
        """(media offset, length) of the content's runs ([] when not known here)."""
        return _extents(self._known_file(), self.locator.attribute, self.geometry)

    def volume_extents(self, block: int) -> List[Tuple[int, int]]:
        """(offset in the volume's own bytes, length) of the content's runs, for a volume
        behind a layer (decrypted, logical), whose file system has clusters of `block` bytes:
        where a block sweep through the layer meets them."""
        return _extents(self._known_file(), self.locator.attribute,
                        (0, block) if block else None)

    def first_offset(self) -> Optional[int]:
        """Where the content starts on the media (its first run), so a scan can read files in
        the order a disk's head meets them; None when not known here (a reopened entry, a
        resident or empty file, a volume not laid linearly on the media)."""
        if self.runs:   # given by the compiled lister, or found here before
            return self.runs[0][0]
        tsk_file = self._known_file()
        if self.direct and not self.short_ok and self.locator.attribute is None and \
                tsk_file is not None and self.size:
            try:
                self.runs = _layout(tsk_file, self.geometry, self.size)
            except READ_ERRORS:
                self.runs = None
            if self.runs:
                return self.runs[0][0]
        return next((offset for offset, _ in _runs(tsk_file, self.locator.attribute,
                                                   self.geometry)), None)

    def __reduce__(self):
        # What a process that reopens it needs, as plain values: a state dict of every field
        # cost a worker more to unpickle than to judge a screened file.
        return _reopener, (tuple(self.locator), self.size, self.short_ok, self.geometry,
                           self.direct, self.runs)


def _reopener(locator, size, short_ok, geometry, direct, runs) -> TskOpener:
    opener = TskOpener(None, None, Locator(*locator), size, short_ok, geometry, None, direct)
    opener.runs = runs
    return opener


def walk(fs, volume: Volume, evidence: str, deleted: bool = True, media=None,
         linear: bool = True, runs: bool = False) -> Iterator[Union[FileEntry, ScanError]]:
    """Depth-first, in directory order, like `fls -r -p`, with two departures: a name that
    only looks like "." or ".." (it points elsewhere) is listed, escaped; an ext name holding a
    NUL is shown whole. Damaged EWF chunks met in the volume end it as error records.
    `linear`: the volume's bytes are the media's at volume.offset (a partition, not a
    decrypted or virtual volume), so a file's runs say where its content lies on the media.
    `runs`: the compiled lister gives each live file's runs as it lists it (about a third of a
    microsecond a file, which a listing that reads no file does not pay)."""
    ntfs = fs.info.ftype in _NTFS
    root = fs.info.root_inum
    geometry = (volume.offset, fs.info.block_size) if linear else None
    explain = media.explain if media is not None else (lambda exc: exc)
    make = _Maker(fs, evidence, volume, media, geometry)
    lister = _lister(fs, ntfs, fs.info.ftype in _EXT, make.spec(deleted, runs))
    # Each frame: an iterator over one directory's rows, the whole names of its NUL-holding
    # entries, its path, the directory inodes above it (a directory that points back at an
    # ancestor would otherwise loop forever), its own inode and its parent's.
    try:
        stack: List[_Frame] = [_Frame(*lister.open(root, ""), "", frozenset([root]), root, root)]
    except READ_ERRORS as exc:
        lister.close()
        yield ScanError(evidence, f"cannot open the root directory: {_why(explain, exc)}",
                        volume, "/", root)
        return
    entries = _entries(lister, stack, make, deleted, explain, ntfs)
    encrypted = ext_encryption(fs) if fs.info.ftype in _EXT else None
    try:
        yield from (entries if encrypted is None else ext_crypt.flagged(entries, encrypted))
    finally:
        lister.close()
    yield from damage_in(volume, evidence, media)


def ext_encryption(fs):
    """ext_crypt's test of an inode, where the file system may hold encrypted inodes."""
    image = getattr(fs, "image", None)
    if image is None:
        return None
    offset = fs.image_offset
    return ext_crypt.encrypted_inodes(lambda at, length: image.read(offset + at, length))


class TskFileSystem(pytsk3.FS_Info):
    """A pytsk3 file system that keeps its image and offset, so that the walk can list it
    through the compiled helper too (which opens its own libtsk file system on the same
    image object)."""

    def __init__(self, img, offset: int = 0):
        super().__init__(img, offset=offset)
        self.image, self.image_offset = img, offset
        if self.info.ftype in COMPILED_TYPES:
            # loaded now, as it will list this file system: before a scan's workers fork,
            # each of which loaded it again at its first task (8-11 ms)
            _compiled()


def _lister(fs, ntfs: bool, whole_names: bool, spec: tuple):
    """The compiled lister when it is built and opens this file system, else pytsk3's.
    `spec`: what the compiled lister makes the plain case's entries with (_Maker.spec)."""
    image = getattr(fs, "image", None)
    compiled = _compiled() if image is not None and fs.info.ftype in COMPILED_TYPES else None
    if compiled is not None:
        try:
            walker = compiled.Walker(image, image.get_size(), fs.image_offset, fs.info.ftype)
        except (OSError, RuntimeError, ValueError, OverflowError):
            pass   # libtsk may refuse what pytsk3's newer TSK opened: pytsk3 lists it
        else:
            return _CompiledLister(walker, fs, ntfs, whole_names, spec)
    return _PytskLister(fs, ntfs, whole_names)


# A directory's rows, as both listers give them: (name bytes, meta address, name flags, name
# type, meta), meta None or (meta flags, meta type, size, times, attributes, links),
# attributes (NTFS only, else None) a list of (name bytes or None, type, id, size), links the
# inode's count of names.
Row = Tuple[bytes, int, int, int, Optional[tuple]]


class _PytskLister:
    """Rows through pytsk3, one TSK object at a time (the fallback: no compiled helper)."""

    def __init__(self, fs, ntfs: bool, whole_names: bool):
        self._fs, self._ntfs, self._whole = fs, ntfs, whole_names

    def open(self, addr: int, prefix: str) -> Tuple[Iterator[Row], Dict[Tuple[int, bytes], bytes]]:
        """One directory's rows (the directory opened now: errors now) and its whole names."""
        rows = self._rows(iter(self._fs.open_dir(inode=addr)))
        return rows, self._whole_names(addr)

    def _rows(self, files) -> Iterator[Row]:
        fs, ntfs = self._fs, self._ntfs
        for f in files:
            name = f.info.name
            raw = name.name
            if raw is None:
                continue
            f, meta = _with_meta(fs, f, name)
            if meta is not None:
                meta = (int(meta.flags), int(meta.type), int(meta.size),
                        tuple((getattr(meta, t, 0), getattr(meta, nano, 0)) for t, nano in _TIMES),
                        _pytsk_attributes(f) if ntfs else None,
                        _pytsk_names(f) if ntfs else int(meta.nlink))
            yield raw, int(name.meta_addr), int(name.flags), int(name.type), meta

    def traversal(self) -> "_PytskLister":
        """A lister of rows alone (no streams) on the same file system: Listing.traversal."""
        return _PytskLister(self._fs, False, self._whole)

    def subdirectories(self, addr: int) -> Tuple[List[Row], int, Dict[Tuple[int, bytes], bytes]]:
        """What directories() needs of a directory: rows of (at least) every name in it that
        may be a directory (_is_dir), how many names it holds, and its whole names; a listing
        that stops midway gives what it listed (its own listing tells the error: listing()).
        Here every row: pytsk3 makes each name's objects either way."""
        rows, whole = self.open(addr, "")
        listed: List[Row] = []
        try:
            for row in rows:
                listed.append(row)
        except READ_ERRORS:
            pass
        return listed, len(listed), whole

    def _whole_names(self, addr: int) -> Dict[Tuple[int, bytes], bytes]:
        if not self._whole:
            return {}
        try:
            directory = self._fs.open_meta(inode=addr)
        except READ_ERRORS:
            return {}
        return names_with_nul(directory, self._fs.info.block_size)

    def close(self) -> None:
        pass


class _CompiledLister:
    """Rows from the compiled helper (_tskwalk.c): a directory at a time, at C speed."""

    def __init__(self, walker, fs, ntfs: bool, whole_names: bool, spec: Optional[tuple],
                 owns: bool = True):
        self._walker, self._fs, self._ntfs, self._whole = walker, fs, ntfs, whole_names
        self._block_size, self._spec, self._owns = fs.info.block_size, spec, owns

    def traversal(self) -> "_CompiledLister":
        """A lister of tuple rows alone (no entries made, no streams) on this one's walker,
        and so its libtsk file system, which this one closes: Listing.traversal."""
        return _CompiledLister(self._walker, self._fs, False, self._whole, None, owns=False)

    def open(self, addr: int, prefix: str) -> Tuple[Iterator[Row], Dict[Tuple[int, bytes], bytes]]:
        """As _PytskLister.open; the plain case's rows come as entries already made (only in
        a directory without whole names, whose names all need no more than decoding). An ext
        directory's whole names are read in the same call (from the directory as opened)."""
        rows, error, whole, _ = self._walker.list(addr, self._ntfs, self._spec, prefix,
                                                  MAX_DIRECTORY,
                                                  self._block_size if self._whole else 0)
        if self._ntfs and addr == self._fs.info.root_inum:
            rows = [self._mft_times(row) if row.__class__ is tuple and row[1] == 0
                    and row[4] is not None else row for row in rows]
        return (iter(rows) if error is None else _then_fail(rows, error)), whole or {}

    def subdirectories(self, addr: int) -> Tuple[List[Row], int, Dict[Tuple[int, bytes], bytes]]:
        """As _PytskLister.subdirectories, with rows made in C of what may be a directory
        alone (the others only counted): a traversal looks at nothing else, and making a row
        of every file was most of the main process's listing of a shared walk."""
        rows, _, whole, names = self._walker.list(addr, False, None, "", MAX_DIRECTORY,
                                                  self._block_size if self._whole else 0, True)
        return rows, names, whole or {}

    def _mft_times(self, row: Row) -> Row:
        """$MFT's own times as pytsk3 gives them: pytsk3's TSK (4.15) gives it none (0) where
        the system's libtsk 4.11 gives a time, the one difference between the two listings
        found on the fixtures and the benchmark's 100,000-file NTFS image."""
        try:
            meta = self._fs.open_meta(inode=0).info.meta
        except READ_ERRORS:
            return row
        if meta is None:
            return row
        times = tuple((getattr(meta, t, 0), getattr(meta, nano, 0)) for t, nano in _TIMES)
        return (*row[:4], (*row[4][:3], times, *row[4][4:]))

    def close(self) -> None:
        if self._owns:
            self._walker.close()


def _then_fail(rows: List[Row], error: str) -> Iterator[Row]:
    """The rows TSK listed before a failure, then the failure (as pytsk3's iteration raises)."""
    yield from rows
    raise OSError(error)


def _pytsk_names(f) -> int:
    """An NTFS inode's count of names, as the compiled lister counts TSK's meta->name2: its
    $FILE_NAME attributes less the one in the DOS namespace (a long name's 8.3 twin, which the
    MFT record's link count, nlink, counts too). 1 where none can be read."""
    count = 0
    try:
        for attr in f:
            info = attr.info
            if int(info.type) == _NTFS_FNAME:
                space = f.read_random(_FNAME_SPACE, 1, info.type, info.id)
                count += space != bytes([_FNAME_DOS])
    except READ_ERRORS:
        pass
    return count or 1


def _pytsk_attributes(f) -> list:
    try:
        return [(info.name, int(info.type), int(info.id), int(info.size))
                for info in (a.info for a in f)]
    except READ_ERRORS:
        return []


def damage_in(volume: Volume, evidence: str, media) -> Iterator[ScanError]:
    """Damaged chunks the walk met in this volume (directories, inode tables, the MFT: TSK
    read zeros there and may have listed less): each an error, so the listing is never taken
    for complete."""
    if media is None or not media.damage_seen():
        return
    for start, length in media.damaged():
        if volume.offset <= start < volume.offset + volume.length:
            yield ScanError(evidence, f"{DamagedMedia(start, length).strerror}: what lies there "
                            f"(file-system structures or content) reads as zeros, so entries "
                            f"may be missing", volume)


def _entries(lister, stack, make, deleted, explain, ntfs) -> Iterator[Union[FileEntry, ScanError]]:
    evidence, volume = make.evidence, make.volume
    while stack:
        frame = stack[-1]
        prefix = frame.prefix
        try:
            # One directory's rows in a plain loop (the costliest part of the walk in Python):
            # left at a subdirectory, which is walked first, and resumed after it.
            for row in frame.entries:
                if row.__class__ is not tuple:   # an entry the compiled lister made
                    yield row
                    continue
                raw, addr, name_flags, name_type, meta = row
                path = _path(raw, addr, frame)
                if path is None:
                    continue
                unallocated = name_flags & _NAME_UNALLOC
                if unallocated and not deleted:
                    continue
                # "(realloc)" in fls: a deleted name whose inode now belongs to a live file.
                # Listed, as fls lists it; its content is the inode's current content (what
                # icat gives).
                realloc = _reallocated(unallocated, meta)
                is_dir = _is_dir(name_type, meta)
                if meta is None:
                    if not is_dir and name_type == _NAME_REG:
                        yield make(path, addr, not unallocated, realloc, 0, None, _NO_TIMES)
                        continue
                elif not (is_dir or ntfs):
                    if meta[1] == _META_REG:
                        yield make(path, addr, not unallocated, realloc, meta[2], None,
                                   meta[3], links=meta[5])
                    continue
                descend = is_dir and _descends(realloc, addr, frame, len(stack))
                if descend:
                    try:
                        stack.append(_Frame(*lister.open(addr, path), path,
                                            frame.ancestors | {addr}, addr, frame.inode))
                    except READ_ERRORS as exc:
                        descend = False
                        if not unallocated:  # a deleted folder whose entries are gone is normal
                            yield ScanError(evidence, f"cannot open directory: "
                                            f"{_why(explain, exc)}", volume, path, addr)
                content = _ntfs_attributes(meta[4]) if ntfs and meta is not None else None
                if content:
                    times = meta[3]
                    for suffix, size, attr, locked in content:
                        if is_dir and not suffix:
                            continue  # the directory's own index, not content
                        yield make(path + suffix, addr, not unallocated, realloc, size, attr,
                                   times, locked, meta[5])
                elif not is_dir and meta is not None and meta[1] == _META_REG:
                    yield make(path, addr, not unallocated, realloc, meta[2], None, meta[3],
                               links=meta[5])
                if descend:
                    break
            else:
                stack.pop()
        except READ_ERRORS as exc:
            stack.pop()   # the failing frame: nothing was pushed above it since
            yield ScanError(evidence, f"directory listing stopped: {_why(explain, exc)}", volume,
                            prefix or "/")


class _Frame(NamedTuple):
    entries: Iterator[Union[Row, FileEntry]]
    whole: Dict[Tuple[int, bytes], bytes]
    prefix: str
    ancestors: frozenset
    inode: int
    parent: int


def _path(raw: bytes, addr: int, frame: _Frame) -> Optional[str]:
    """A row's path in its directory (`frame`); None for the directory itself or its
    parent."""
    if frame.whole or raw in _DOTS:   # the few names that need more than decoding
        if _is_self_or_parent(raw, addr, frame):
            return None
        return f"{frame.prefix}/{_component(raw, addr, frame.whole)}"
    return f"{frame.prefix}/{raw.decode('utf-8', 'backslashreplace')}"


def _reallocated(unallocated: int, meta) -> bool:
    """"(realloc)" in fls: a deleted name whose inode now belongs to a live file."""
    return bool(unallocated and meta is not None and meta[0] & _META_ALLOC)


def _is_dir(name_type: int, meta) -> bool:
    """Whether a row is a directory, by its name's type or its inode's."""
    return name_type in _DIR_NAME_TYPES or meta is not None and meta[1] in _DIR_META_TYPES


def _descends(realloc: bool, addr: int, frame: _Frame, depth: int) -> bool:
    """Whether the walk goes into a directory's row of `frame`, `depth` directories deep: not
    a reallocated one (it is walked under its live name), not one of its own ancestors (a
    loop), not past MAX_DEPTH. directories() and _entries agree by this alone."""
    return not realloc and addr not in frame.ancestors and depth < MAX_DEPTH


def _is_self_or_parent(raw: bytes, addr: int, frame: _Frame) -> bool:
    """Only the entries that really are the directory itself or its parent are skipped: a
    file merely named ".." (an entry patched to hide it, as fls skips it) is listed."""
    return (raw == b"." and addr == frame.inode) or (raw == b".." and addr == frame.parent)


def _component(raw: bytes, addr: int, whole: Dict[Tuple[int, bytes], bytes]) -> str:
    raw = whole.get((addr, raw), raw)
    if raw in _DOTS:
        return "\\x2e" * len(raw)   # never a path step: shown escaped, as other odd bytes are
    return _decode(raw).replace("\0", "\\x00")


def _why(explain, exc: BaseException) -> str:
    return one_line(explain(exc))


def _with_meta(fs, f, name):
    """Deleted and orphan names often come without their metadata; load it by address, as
    `fls` does, so their type, size, times and content are known."""
    meta = f.info.meta
    if meta is None and name.meta_addr:
        try:
            f = fs.open_meta(inode=name.meta_addr)
            meta = f.info.meta
        except READ_ERRORS:
            pass
    return f, meta


def _ntfs_attributes(attributes
                     ) -> List[Tuple[str, int, Optional[Tuple[int, int]], Optional[str]]]:
    """The NTFS attributes `fls` lists as files: every $DATA stream (the unnamed one is the
    file itself, a named one is `file:stream`) and every named $INDEX_ROOT but a folder's
    $I30 (e.g. `$Secure:$SDH`). Alternate data streams on folders are listed too, since they
    can hide content just as well. Returns (path suffix, size, (type, id) or None, what
    encrypts it or None): a file with an `$EFS` logged utility stream is EFS-encrypted, every
    $DATA stream of it ciphertext that TSK reads as it reads any other."""
    efs = any(kind == _NTFS_LOG and raw_name == b"$EFS" for raw_name, kind, _, _ in attributes)
    locked = EFS if efs else None
    out = []
    for raw_name, kind, ident, size in attributes:
        attr_name = _decode(raw_name) if raw_name else ""
        if kind == _NTFS_DATA:
            if attr_name and attr_name != "$Data":
                out.append((f":{attr_name}", size, (kind, ident), locked))
            else:
                out.append(("", size, None, locked))
        elif kind == _NTFS_IDXROOT and attr_name not in ("", "$I30"):
            out.append((f":{attr_name}", size, (kind, ident), None))
    return out


# NTFS's bad-cluster map: a stream as large as the volume with no initialised data. TSK (and
# icat) return nothing for it; reading it as the volume's size in zeros would waste a full pass
# over a multi-terabyte disk for no content. Real bad-cluster runs, if any, are still returned.
_EMPTY_BY_DESIGN = {(8, ":$Bad")}


_TIMES = tuple((t, t + "_nano") for t in TIME_FIELDS)
_NO_TIMES = ((0, 0),) * 4


class _Maker:
    """Makes the file entries of one walk: what all of them share is bound once."""

    def __init__(self, fs, evidence: str, volume: Volume, media, geometry):
        self.evidence, self.volume = evidence, volume
        self._fs, self._media, self._geometry = fs, media, geometry
        self._direct = geometry is not None and fs.info.ftype in DIRECT_TYPES
        # The locator reopens by the path as opened; `evidence` is that path as shown.
        self._opened_as = evidence if media is None else media.path

    def spec(self, deleted: bool, runs: bool = False) -> tuple:
        """What the compiled lister makes the plain case's entries with: the objects __call__
        makes, as the classes and the fields all of this walk's share (taken from instances
        made here, so both sides fill the same fields)."""
        entry = vars(_new_entry(evidence=self.evidence, path="", size=0, allocated=True,
                                volume=self.volume))
        opener = vars(TskOpener(None, self._media, None, 0, False, self._geometry, self._fs,
                                self._direct))
        return (FileEntry, entry, TskOpener, opener, Locator, self._opened_as,
                self.volume.index, deleted, runs)

    def __call__(self, path: str, addr: int, allocated: bool, realloc: bool, size: int,
                 attr, times, encrypted: Optional[str] = None, links: int = 1) -> FileEntry:
        # A deleted file is recovered as far as TSK can follow it (as icat does): its content
        # ends where the recoverable clusters end. For a live inode (an allocated file, or a
        # reallocated name reading the inode's current file) a short read is an error.
        short_ok = not (allocated or realloc) or (
            attr is not None and (addr, path[path.rfind(":"):]) in _EMPTY_BY_DESIGN)
        volume = self.volume
        # an inode with other names (hard links): its volume, as a folder's file its device
        device = volume.index if links > 1 else None
        return _new_entry(
            evidence=self.evidence, path=path, size=size, allocated=allocated, volume=volume,
            inode=addr, times=times, realloc=realloc, attribute=attr, encrypted=encrypted,
            device=device,
            open=TskOpener(None, self._media, Locator(self._opened_as, volume.index, addr, attr),
                           size, short_ok, self._geometry, self._fs, self._direct))


_new_entry = quick_maker(FileEntry)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else str(raw)


# --- a walk shared among the workers (triage.shared_walk) ---------------------------------

# File systems whose walk may be shared by directory: those whose listers give an inode's count
# of names (on NTFS without its DOS name: _pytsk_names, the compiled lister's names_of), so
# that an inode with other names is told from one without.
SHARED_TYPES = frozenset(_EXT | _NTFS | {pytsk3.TSK_FS_TYPE_FAT12, pytsk3.TSK_FS_TYPE_FAT16,
                                         pytsk3.TSK_FS_TYPE_FAT32, pytsk3.TSK_FS_TYPE_EXFAT})


def shareable(fs) -> bool:
    """Whether a TSK file system's walk may be shared by directory: one of SHARED_TYPES, and
    no ext4 encryption (whose inodes walk() marks as it goes)."""
    ftype = fs.info.ftype
    return ftype in SHARED_TYPES and (ftype not in _EXT or ext_encryption(fs) is None)


class DirTask(NamedTuple):
    """One directory of a file system in an image, its files listed by a worker
    (shared_walk): the evidence as opened and as shown, the volume, the directory's address,
    path ("" for the root) and parent's address, its count of names, and whether deleted names
    are walked. `here`: listed by the main process instead, whose traversal has listed it
    already (TSK's virtual $OrphanFiles, whose listing is a search of every inode, kept by the
    file system that made it: Listing.traversal)."""

    evidence: str
    shown: str
    volume: int
    inode: int
    path: str
    parent: int
    names: int
    deleted: bool
    here: bool = False


def directories(fs, volume: Volume, evidence: str, shown: str, deleted: bool = True,
                explain=lambda exc: exc, lister=None) -> Iterator[Union[DirTask, ScanError]]:
    """Every directory walk() descends into, as a DirTask, in the order it does (a directory
    before those within it), and an error for each it cannot open, as walk() gives them. The
    files are left to each directory's own listing (listing()), which also tells of a listing
    that stops midway. `lister`: what lists the directories (Listing.traversal, left open),
    else a lister of their own."""
    own = lister is None
    if own:
        lister = _lister(fs, False, fs.info.ftype in _EXT, None)
    root = fs.info.root_inum
    try:
        try:
            rows, names, whole = lister.subdirectories(root)
        except READ_ERRORS as exc:
            yield ScanError(shown, f"cannot open the root directory: {_why(explain, exc)}",
                            volume, "/", root)
            return
        yield DirTask(evidence, shown, volume.index, root, "", root, names, deleted)
        stack = [_Frame(iter(rows), whole, "", frozenset([root]), root, root)]
        while stack:
            frame = stack[-1]
            for raw, addr, name_flags, name_type, meta in frame.entries:
                path = _path(raw, addr, frame)
                if path is None:
                    continue
                unallocated = name_flags & _NAME_UNALLOC
                if unallocated and not deleted:
                    continue
                if not _is_dir(name_type, meta) or not _descends(
                        _reallocated(unallocated, meta), addr, frame, len(stack)):
                    continue
                try:
                    rows, names, whole = lister.subdirectories(addr)
                except READ_ERRORS as exc:
                    if not unallocated:
                        yield ScanError(shown, f"cannot open directory: {_why(explain, exc)}",
                                        volume, path, addr)
                    continue
                yield DirTask(evidence, shown, volume.index, addr, path, frame.inode, names,
                              deleted, name_type == _NAME_VIRT_DIR)
                stack.append(_Frame(iter(rows), whole, path, frame.ancestors | {addr}, addr,
                                    frame.inode))
                break
            else:
                stack.pop()
    finally:
        if own:
            lister.close()


class Listing:
    """Lists DirTasks of one volume (listing()), as walk() would list their directories, in
    this process: the volume's file system, lister and entry maker, made once."""

    def __init__(self, fs, volume: Volume, shown: str, media, deleted: bool):
        self.deleted, self._ntfs = deleted, fs.info.ftype in _NTFS
        self._make = _Maker(fs, shown, volume, media, (volume.offset, fs.info.block_size))
        self._lister = _lister(fs, self._ntfs, fs.info.ftype in _EXT,
                               self._make.spec(deleted, runs=True))
        self._explain = media.explain

    def __call__(self, task: DirTask) -> Iterator[Union[FileEntry, ScanError]]:
        """The task's directory's own entries, in walk()'s order, with the errors walk() gives
        listing it (its subdirectories are tasks of their own; an error opening one is
        directories()')."""
        try:
            rows, whole = self._lister.open(task.inode, task.path)
        except READ_ERRORS as exc:
            yield ScanError(task.shown, f"cannot open directory: {_why(self._explain, exc)}",
                            self._make.volume, task.path or "/", task.inode)
            return
        frame = _Frame(rows, whole, task.path, frozenset([task.inode]), task.inode, task.parent)
        yield from _entries(_Leaves, [frame], self._make, self.deleted, self._explain,
                            self._ntfs)

    def traversal(self):
        """What lists the volume's directories for directories() on this listing's own file
        system, so that a directory listed there already (TSK's $OrphanFiles: a search of
        every inode, which the file system keeps) is not listed anew by the task
        (DirTask.here). Closed with this listing."""
        return self._lister.traversal()

    def close(self) -> None:
        self._lister.close()


class _Leaves:
    """_entries' lister for a directory listed alone: each subdirectory is a task of its own."""

    @staticmethod
    def open(addr: int, prefix: str):
        return iter(()), {}
