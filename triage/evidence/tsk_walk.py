"""Walk one file system with The Sleuth Kit and yield every regular file, allocated and deleted,
the way `fls -r` finds them; NTFS alternate data streams become entries of their own."""

from __future__ import annotations

import io
from typing import Iterator, List, Optional, Tuple, Union

import pytsk3

from ..errors import one_line
from ..records import FileEntry, ScanError, Volume
from ..timefmt import iso

MAX_DEPTH = 1024   # deeper than any real tree; a corrupt one must not exhaust the walk

_DIR_NAME_TYPES = {pytsk3.TSK_FS_NAME_TYPE_DIR, pytsk3.TSK_FS_NAME_TYPE_VIRT_DIR}
_DIR_META_TYPES = {pytsk3.TSK_FS_META_TYPE_DIR, pytsk3.TSK_FS_META_TYPE_VIRT_DIR}
_NTFS = {pytsk3.TSK_FS_TYPE_NTFS}


class TskReader(io.RawIOBase):
    """Sequential reader over one attribute of a TSK file (the default data, or a named stream)."""

    def __init__(self, tsk_file, size: int, attr_id: Optional[int] = None):
        super().__init__()
        self._file = tsk_file
        self._size = size
        self._attr_id = attr_id
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        if self._attr_id is None:
            data = self._file.read_random(self._pos, want)
        else:
            data = self._file.read_random(self._pos, want, pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA,
                                          self._attr_id)
        if not data:
            raise OSError(f"read failed at offset {self._pos} of {self._size}")
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n


def walk(fs, volume: Volume, evidence: str, deleted: bool = True
         ) -> Iterator[Union[FileEntry, ScanError]]:
    """Depth-first, in directory order, like `fls -r -p`."""
    ntfs = fs.info.ftype in _NTFS
    root = fs.info.root_inum
    # Each frame: an iterator over one directory, its path, and the directory inodes above it
    # (a directory that points back at an ancestor would otherwise loop forever).
    try:
        stack: List[Tuple[Iterator, str, frozenset]] = [(iter(fs.open_dir(inode=root)), "", frozenset([root]))]
    except (IOError, OSError) as exc:
        yield ScanError(evidence, f"cannot open the root directory: {one_line(exc)}", volume, "/", root)
        return
    while stack:
        entries, prefix, ancestors = stack[-1]
        try:
            f = next(entries)
        except StopIteration:
            stack.pop()
            continue
        except (IOError, OSError) as exc:
            stack.pop()
            yield ScanError(evidence, f"directory listing stopped: {one_line(exc)}", volume,
                            prefix or "/")
            continue
        name = f.info.name
        raw = name.name
        if raw in (b".", b"..") or raw is None:
            continue
        path = f"{prefix}/{_decode(raw)}"
        meta = f.info.meta
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
                except (IOError, OSError) as exc:
                    if not unallocated:  # a deleted folder whose entries are gone is normal
                        yield ScanError(evidence, f"cannot open directory: {one_line(exc)}",
                                        volume, path, addr)
        elif _is_regular(name, meta):
            yield _entry(f, evidence, volume, path, name.meta_addr, not unallocated,
                         meta.size if meta is not None else 0, None)
        if ntfs and meta is not None:
            yield from _named_streams(f, evidence, volume, path, name.meta_addr, not unallocated)


def _is_regular(name, meta) -> bool:
    if meta is not None:
        return meta.type == pytsk3.TSK_FS_META_TYPE_REG
    return name.type == pytsk3.TSK_FS_NAME_TYPE_REG


def _named_streams(f, evidence, volume, path, addr, allocated):
    try:
        attrs = [a.info for a in f]
    except (IOError, OSError):
        return
    for info in attrs:
        if info.type == pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA and info.name:
            stream = _decode(info.name)
            yield _entry(f, evidence, volume, f"{path}:{stream}", addr, allocated, info.size,
                         info.id)


def _entry(f, evidence, volume, path, addr, allocated, size, attr_id) -> FileEntry:
    meta = f.info.meta
    times = {}
    if meta is not None:
        for t in ("mtime", "atime", "ctime", "crtime"):
            times[t] = iso(getattr(meta, t, 0), getattr(meta, t + "_nano", 0))
    return FileEntry(
        evidence=evidence, path=path, size=int(size), allocated=allocated, volume=volume,
        inode=int(addr), open=lambda: TskReader(f, int(size), attr_id), **times)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else str(raw)
