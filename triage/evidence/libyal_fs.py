"""File systems The Sleuth Kit does not read, through the libyal libraries: APFS (libfsapfs),
HFS+ (libfshfs), XFS (libfsxfs), and ext as a fallback where TSK refuses a volume (libfsext).
These libraries list allocated files only: they recover no deleted ones.

Their file entries share one shape (name, identifier or inode number, size, file mode, times,
sub entries, read_buffer_at_offset), so one walker serves them all; each kind names how an
entry is looked up again by its number, which is how a worker process reopens it."""

from __future__ import annotations

import calendar
import stat
from dataclasses import dataclass
from typing import Iterator, List, NamedTuple, Optional, Tuple, Union

import pytsk3

from ..errors import READ_ERRORS
from ..records import FileEntry, ScanError, Volume
from .chain import lib_reason
from .reopen import Locator, installed
from .sources import RandomAccess

MAX_DEPTH = 1024
# An HFS+ resource fork is listed as `path:rsrc` (dfVFS's data stream "rsrc"): content can
# hide there. Its attribute is TSK's own type for it, so the two readers name it alike.
RSRC = (int(pytsk3.TSK_FS_ATTR_TYPE_HFS_RSRC), 0)
LIB_ERRORS = READ_ERRORS + (TypeError, ValueError)


@dataclass(frozen=True)
class Kind:
    name: str                         # fs_type as reported: "apfs", "hfs+", "xfs", "ext4"
    library: str
    by_number: str                    # the volume's method to get an entry by its number
    number: str                       # the entry's attribute holding its number
    # names a directory lists that are not its children (HFS+'s metadata folders are)
    hidden: Tuple[str, ...] = ()


KINDS = {
    "apfs": Kind("apfs", "libfsapfs", "get_file_entry_by_identifier", "identifier"),
    "hfs+": Kind("hfs+", "libfshfs", "get_file_entry_by_identifier", "identifier"),
    "xfs": Kind("xfs", "libfsxfs", "get_file_entry_by_inode", "inode_number"),
    "ext": Kind("ext", "libfsext", "get_file_entry_by_inode", "inode_number"),
}


class LibyalFileSystem:
    """An open file system of one of KINDS. `keep`: what it reads through, closed with it."""

    def __init__(self, kind: str, volume, keep=(), block_size: Optional[int] = None,
                 fs_type: Optional[str] = None):
        self.kind = KINDS[kind]
        self.volume = volume
        self.fs_type = fs_type or self.kind.name
        self.block_size = block_size
        self._keep = list(keep)

    def entry(self, number: int, attribute=None):
        found = getattr(self.volume, self.kind.by_number)(number)
        if attribute is not None and tuple(attribute) == RSRC:
            return found.get_resource_fork()
        return found

    def walk(self, volume: Volume, evidence: str, locator_path: str
             ) -> Iterator[Union[FileEntry, ScanError]]:
        try:
            root = self.volume.get_root_directory()
        except LIB_ERRORS as exc:
            yield ScanError(evidence, f"cannot open the root directory: {lib_reason(exc)}", volume,
                            "/")
            return
        number = self.kind.number
        stack: List[Tuple[Iterator, str, frozenset]] = [
            (_children(root), "", frozenset([_num(root, number)]))]
        while stack:
            children, prefix, above = stack[-1]
            try:
                child = next(children)
            except StopIteration:
                stack.pop()
                continue
            except LIB_ERRORS as exc:
                stack.pop()
                yield ScanError(evidence, f"directory listing stopped: {lib_reason(exc)}", volume,
                                prefix or "/")
                continue
            if isinstance(child, _Unread):
                yield ScanError(evidence, f"cannot read an entry: {lib_reason(child.error)}",
                                volume, prefix or "/")
                continue
            try:
                name = child.name
                mode = child.file_mode or 0
                ident = _num(child, number)
            except LIB_ERRORS as exc:
                yield ScanError(evidence, f"cannot read an entry: {lib_reason(exc)}", volume,
                                prefix or "/")
                continue
            if name is None:
                continue
            path = f"{prefix}/{_component(name)}"
            if stat.S_ISDIR(mode):
                if ident not in above and len(stack) < MAX_DEPTH:
                    stack.append((_children(child), path, above | {ident}))
                continue
            if not stat.S_ISREG(mode):
                continue   # links, devices, FIFOs: no content of their own
            try:
                yield self._file(child, volume, evidence, locator_path, path, ident, None)
                fork = _resource_fork(child)
                if fork is not None:
                    yield self._file(fork, volume, evidence, locator_path, path + ":rsrc", ident,
                                     RSRC, times_of=child)
            except LIB_ERRORS as exc:
                yield ScanError(evidence, f"cannot read the entry: {lib_reason(exc)}", volume, path,
                                ident)

    def file_bytes(self, path: str, limit: int) -> Optional[bytes]:
        """The content of the regular file at `path` (as a walk shows it), None when there is
        none; OSError when unreadable or over `limit` bytes."""
        try:
            entry = self.volume.get_file_entry_by_path(path)
        except LIB_ERRORS:
            return None
        try:
            if entry is None or not stat.S_ISREG(entry.file_mode or 0):
                return None
            size = int(entry.size or 0)
        except LIB_ERRORS as exc:
            raise OSError(lib_reason(exc)) from None
        if size > limit:
            raise OSError(f"{size:,} bytes, over the {limit:,} read")
        try:
            data = entry.read_buffer_at_offset(size, 0) if size else b""
        except LIB_ERRORS as exc:
            raise OSError(lib_reason(exc)) from None
        if len(data) != size:
            raise OSError(f"{len(data):,} bytes read of {size:,}")
        return data

    def _file(self, entry, volume, evidence, locator_path, path, ident, attribute,
              times_of=None) -> FileEntry:
        size = int(entry.size or 0)
        return FileEntry(
            evidence=evidence, path=path, size=size, allocated=True, volume=volume,
            inode=ident, times=_times(times_of or entry), attribute=attribute,
            open=LibyalOpener(entry, Locator(locator_path, volume.index, ident, attribute),
                              size))

    def close(self) -> None:
        for thing in [self.volume, *self._keep]:
            closer = getattr(thing, "close", None)
            if closer is not None:
                try:
                    closer()
                except LIB_ERRORS:
                    pass
        self._keep = []


class _Unread(NamedTuple):
    error: Exception


def _children(directory) -> Iterator:
    """A directory's entries, read one by one; one that cannot be read is an _Unread in its
    place and the rest follow (an inode libfsext refuses, such as an encrypted one, stopped
    its whole directory before). A count that cannot be read raises on the first next()."""
    count = directory.number_of_sub_file_entries or 0
    for i in range(count):
        try:
            yield directory.get_sub_file_entry(i)
        except LIB_ERRORS as exc:
            yield _Unread(exc)


def _num(entry, attribute: str) -> int:
    return int(getattr(entry, attribute))


def _component(name: str) -> str:
    if name in (".", ".."):
        return "\\x2e" * len(name)
    return name.replace("/", "\\x2f").replace("\0", "\\x00")


def _resource_fork(entry):
    has = getattr(entry, "has_resource_fork", None)
    if has is None:
        return None
    try:
        if not entry.has_resource_fork():
            return None
        fork = entry.get_resource_fork()
    except LIB_ERRORS:
        return None
    return fork if fork is not None and (fork.size or 0) > 0 else None


_TIME_NAMES = ("modification_time", "access_time", "inode_change_time", "creation_time")


def _times(entry) -> tuple:
    out = []
    for name in _TIME_NAMES:
        try:
            value = getattr(entry, name, None)
        except LIB_ERRORS:
            value = None
        if name == "inode_change_time" and value is None:
            value = getattr(entry, "entry_modification_time", None)   # HFS+'s change time
        if value is None:
            out.append((0, 0))
            continue
        seconds = calendar.timegm(value.timetuple())
        out.append((seconds, value.microsecond * 1000))
    return tuple(out)


class LibyalReader(RandomAccess):
    """A reader over a libyal file entry (or an HFS+ resource fork), at any offset."""

    def __init__(self, entry, size: int):
        super().__init__()
        self._entry, self._size, self._pos = entry, size, 0

    def read(self, size=-1):
        left = self._size - self._pos
        want = left if size is None or size < 0 else min(size, left)
        if want <= 0:
            return b""
        try:
            data = self._entry.read_buffer_at_offset(want, self._pos)
        except LIB_ERRORS as exc:
            # libyal chains every function the failure passed through: the cause is enough
            raise OSError(lib_reason(exc)) from None
        if not data:
            raise OSError(f"read failed at offset {self._pos} of {self._size}")
        self._pos += len(data)
        return data


class LibyalOpener:
    """`FileEntry.open` of a file of a libyal file system. Pickles as its Locator: a worker
    process reopens the evidence through its Handles and finds the entry by number."""

    def __init__(self, entry, locator: Locator, size: int):
        self._entry, self.locator, self.size = entry, locator, size

    def __call__(self) -> LibyalReader:
        entry = self._entry
        if entry is None and self.size:
            handles = installed()
            if handles is None:
                from .tsk_walk import ReopenError
                raise ReopenError("a file entry was opened in a process without evidence "
                                  "handles (triage.evidence.reopen.Handles.install)")
            fs = handles.evidence(self.locator.evidence).file_system(self.locator.volume)
            entry = fs.entry(self.locator.inode, self.locator.attribute)
        return LibyalReader(entry, self.size)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_entry": None}


# --- opening ---------------------------------------------------------------------------------

def open_hfs(file_object) -> LibyalFileSystem:
    import pyfshfs
    volume = pyfshfs.volume()
    volume.open_file_object(file_object)
    return LibyalFileSystem("hfs+", volume, [file_object])


def open_xfs(file_object) -> LibyalFileSystem:
    import pyfsxfs
    volume = pyfsxfs.volume()
    volume.open_file_object(file_object)
    return LibyalFileSystem("xfs", volume, [file_object])


def open_ext(file_object, fs_type: str) -> LibyalFileSystem:
    import pyfsext
    volume = pyfsext.volume()
    volume.open_file_object(file_object)
    return LibyalFileSystem("ext", volume, [file_object], fs_type=fs_type)
