"""Walk one file system with The Sleuth Kit and yield every regular file, allocated and deleted,
the way `fls -r` finds them; NTFS alternate data streams become entries of their own."""

from __future__ import annotations

import io
from typing import Dict, Iterator, List, Optional, Tuple, Union

import pytsk3

from ..errors import READ_ERRORS, one_line
from ..records import TIME_FIELDS, FileEntry, ScanError, Volume

MAX_DEPTH = 1024   # deeper than any real tree; a corrupt one must not exhaust the walk

_DIR_NAME_TYPES = {pytsk3.TSK_FS_NAME_TYPE_DIR, pytsk3.TSK_FS_NAME_TYPE_VIRT_DIR}
_DIR_META_TYPES = {pytsk3.TSK_FS_META_TYPE_DIR, pytsk3.TSK_FS_META_TYPE_VIRT_DIR}
_NTFS = {pytsk3.TSK_FS_TYPE_NTFS}


class TskReader(io.RawIOBase):
    """Sequential reader over one attribute of a TSK file (the default data, or a named stream).

    With `short_ok`, content ends where TSK stops returning data (a deleted file recovered in
    part); otherwise stopping before `size` is an error."""

    def __init__(self, tsk_file, size: int, attr: Optional[Tuple[int, int]] = None,
                 short_ok: bool = False):
        super().__init__()
        self._file = tsk_file
        self._size = size
        self._attr = attr   # (type, id) of a named attribute; None for the default data
        self._short_ok = short_ok
        self._pos = 0

    def readable(self) -> bool:
        return True

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
        if self._attr is None:
            data = self._file.read_random(self._pos, want)
        else:
            data = self._file.read_random(self._pos, want, *self._attr)
        if not data:
            if self._short_ok:
                return b""
            raise OSError(f"read failed at offset {self._pos} of {self._size}")
        self._pos += len(data)
        return data


class TskOpener:
    """`FileEntry.open` of a file in an image: a TskReader on it. It pickles without its TSK
    file, which cannot leave the process: a scan's worker process reopens the file by address
    through a handle of its own on the evidence. Reading by address gives the same bytes,
    since TSK reads a file's content from its metadata alone."""

    def __init__(self, tsk_file, evidence: str, volume: int, addr: int, size: int,
                 attr: Optional[Tuple[int, int]], short_ok: bool):
        self._file = tsk_file
        self.evidence, self.volume, self.addr = evidence, volume, addr
        self.size, self.attr, self.short_ok = size, attr, short_ok

    def __call__(self) -> TskReader:
        # An empty file is never read, and not even reopened (it may have no metadata).
        if self._file is None and self.size:
            self._file = _own_handle(self.evidence)._fs[self.volume].open_meta(inode=self.addr)
        return TskReader(self._file, self.size, self.attr, self.short_ok)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_file": None}


_handles: Dict[str, object] = {}   # this process's own open evidence, by path


def _own_handle(evidence: str):
    handle = _handles.get(evidence)
    if handle is None:
        from . import open_evidence   # here: the package imports this module
        handle = _handles[evidence] = open_evidence(evidence)
    return handle


def walk(fs, volume: Volume, evidence: str, deleted: bool = True
         ) -> Iterator[Union[FileEntry, ScanError]]:
    """Depth-first, in directory order, like `fls -r -p`."""
    ntfs = fs.info.ftype in _NTFS
    root = fs.info.root_inum
    # Each frame: an iterator over one directory, its path, and the directory inodes above it
    # (a directory that points back at an ancestor would otherwise loop forever).
    try:
        stack: List[Tuple[Iterator, str, frozenset]] = [(iter(fs.open_dir(inode=root)), "", frozenset([root]))]
    except READ_ERRORS as exc:
        yield ScanError(evidence, f"cannot open the root directory: {one_line(exc)}", volume, "/", root)
        return
    while stack:
        entries, prefix, ancestors = stack[-1]
        try:
            f = next(entries)
        except StopIteration:
            stack.pop()
            continue
        except READ_ERRORS as exc:
            stack.pop()
            yield ScanError(evidence, f"directory listing stopped: {one_line(exc)}", volume,
                            prefix or "/")
            continue
        name = f.info.name
        raw = name.name
        if raw in (b".", b"..") or raw is None:
            continue
        path = f"{prefix}/{_decode(raw)}"
        f, meta = _with_meta(fs, f, name)
        unallocated = bool(name.flags & pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
        if unallocated and meta is not None and meta.flags & pytsk3.TSK_FS_META_FLAG_ALLOC:
            continue  # "(realloc)": the inode now belongs to another file, listed under its name
        if unallocated and not deleted:
            continue
        is_dir = name.type in _DIR_NAME_TYPES or (meta is not None and meta.type in _DIR_META_TYPES)
        if is_dir:
            addr = name.meta_addr
            if addr not in ancestors and len(stack) < MAX_DEPTH:
                try:
                    stack.append((iter(fs.open_dir(inode=addr)), path, ancestors | {addr}))
                except READ_ERRORS as exc:
                    if not unallocated:  # a deleted folder whose entries are gone is normal
                        yield ScanError(evidence, f"cannot open directory: {one_line(exc)}",
                                        volume, path, addr)
        content = _ntfs_attributes(f) if ntfs and meta is not None else None
        if content:
            for suffix, size, attr in content:
                if is_dir and not suffix:
                    continue  # the directory's own index, not content
                yield _entry(f, meta, evidence, volume, path + suffix, name.meta_addr,
                             not unallocated, size, attr)
        elif not is_dir and _is_regular(name, meta):
            yield _entry(f, meta, evidence, volume, path, name.meta_addr, not unallocated,
                         meta.size if meta is not None else 0, None)


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


def _is_regular(name, meta) -> bool:
    if meta is not None:
        return meta.type == pytsk3.TSK_FS_META_TYPE_REG
    return name.type == pytsk3.TSK_FS_NAME_TYPE_REG


def _ntfs_attributes(f) -> List[Tuple[str, int, Optional[Tuple[int, int]]]]:
    """The NTFS attributes `fls` lists as files: every $DATA stream (the unnamed one is the
    file itself, a named one is `file:stream`) and every named $INDEX_ROOT but a folder's
    $I30 (e.g. `$Secure:$SDH`). Alternate data streams on folders are listed too, since they
    can hide content just as well. Returns (path suffix, size, (type, id) or None)."""
    try:
        attrs = [a.info for a in f]
    except READ_ERRORS:
        return []
    out = []
    for info in attrs:
        attr_name = _decode(info.name) if info.name else ""
        if info.type == pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA:
            if attr_name and attr_name != "$Data":
                out.append((f":{attr_name}", info.size, (info.type, info.id)))
            else:
                out.append(("", info.size, None))
        elif info.type == pytsk3.TSK_FS_ATTR_TYPE_NTFS_IDXROOT and attr_name not in ("", "$I30"):
            out.append((f":{attr_name}", info.size, (info.type, info.id)))
    return out


# NTFS's bad-cluster map: a stream as large as the volume with no initialised data. TSK (and
# icat) return nothing for it; reading it as the volume's size in zeros would waste a full pass
# over a multi-terabyte disk for no content. Real bad-cluster runs, if any, are still returned.
_EMPTY_BY_DESIGN = {(8, ":$Bad")}


_TIMES = tuple((t, t + "_nano") for t in TIME_FIELDS)


def _entry(f, meta, evidence, volume, path, addr, allocated, size, attr) -> FileEntry:
    # A deleted file is recovered as far as TSK can follow it (as icat does): its content ends
    # where the recoverable clusters end. For an allocated file a short read is an error.
    short_ok = not allocated or (
        attr is not None and (int(addr), path[path.rfind(":"):]) in _EMPTY_BY_DESIGN)
    times = ((0, 0),) * 4 if meta is None else tuple(
        (getattr(meta, t, 0), getattr(meta, nano, 0)) for t, nano in _TIMES)
    return FileEntry(
        evidence=evidence, path=path, size=int(size), allocated=allocated, volume=volume,
        inode=int(addr), times=times,
        open=TskOpener(f, evidence, volume.index, int(addr), int(size), attr, short_ok))


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else str(raw)
