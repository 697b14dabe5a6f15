"""7z, RAR (4 and 5), ISO 9660, CAB, cpio and ar (Debian packages, static libraries) through
libarchive (libarchive-c): one forward pass, each member's data streamed block by block as
libarchive decodes it, never written out. (py7zr hands members over whole or pushes them to
writers; libarchive lets the judge pull, which is what keeps memory flat.) libarchive reads no
encrypted member: it raises on the data, and that member is listed as encrypted, not
examined. Not xar: libarchive 3.6 gives bytes beyond the end of a xar member's content."""

from __future__ import annotations

import ctypes
import errno
import io
from dataclasses import replace
from functools import lru_cache
from typing import BinaryIO, Dict, Iterator, List, Tuple

from . import READERS, BlockStream, Budget, ContainerReader, Encrypted, Member


BLOCK = 1 << 16   # bytes of a member's data a read


class LibarchiveReader(ContainerReader):
    def __init__(self, name: str, format_name: str, mimes: Tuple[str, ...],
                 marks: Tuple[Tuple[int, bytes], ...]):
        self.name, self.format_name, self.mimes, self.marks = name, format_name, mimes, marks

    def members(self, source: BinaryIO, size: int, budget: Budget,
                shown: str) -> Iterator[Member]:
        import libarchive
        from libarchive import ffi
        source.seek(0)
        # cpio (newc) stores a file's content with its last hard link: its earlier names come
        # first, empty. They are held, each group by its first name, until the name that
        # brings the content, and given after it as its other names.
        held: Dict[str, List[Member]] = {}
        try:
            with libarchive.seekable_stream_reader(source, self.format_name, "all",
                                                   block_size=1 << 16) as archive:
                for entry in archive:
                    if not self.is_member(entry):
                        continue
                    known = ffi.entry_size_is_set(entry._entry_p)
                    member = Member(
                        name=entry.pathname,
                        size=entry.size if known else None,
                        open=lambda entry=entry: BlockStream(_blocks(entry)),
                        mtime=(int(entry.mtime or 0), 0),
                        reopenable=False,
                        encrypted=bool(_data_encrypted()(entry._entry_p)),
                    )
                    group = _link_group(entry, held)
                    if group is not None and not entry.size:
                        held.setdefault(group, []).append(replace(member, open=_empty))
                        continue
                    yield member
                    for name in held.pop(group, ()):
                        yield replace(name, size=member.size, open=None, same_as=member.name)
        except libarchive.ArchiveError as exc:
            raise _failure(exc) from None
        for names in held.values():   # no name brought their content: empty, as stored
            yield from names

    def is_member(self, entry) -> bool:
        """Whether an entry is a file with content (not a folder, link or device)."""
        return entry.isreg


class ArReader(LibarchiveReader):
    """ar keeps no folders or links: every entry is a file, whatever its mode says (GNU ar
    stores a mode without a file type, 644, that libarchive passes on), except the
    archive's own symbol table (`/`, `__.SYMDEF`), which libarchive lists as an entry."""

    TABLES = ("/", "//", "__.SYMDEF", "__.SYMDEF SORTED")

    def is_member(self, entry) -> bool:
        return (entry.isreg or entry.filetype == 0) and entry.pathname not in self.TABLES


def _link_group(entry, held: dict):
    """The first name of the hard-link group an entry belongs to, when its content may come
    with a later name: a name linking to a held one, or an empty one with more links (cpio's
    first name); else None."""
    if entry.islnk:
        return entry.linkpath if entry.linkpath in held else None
    return entry.pathname if not entry.size and _nlink()(entry._entry_p) > 1 else None


def _empty() -> BinaryIO:
    return io.BytesIO(b"")


@lru_cache(maxsize=None)
def _nlink():
    """libarchive's archive_entry_nlink, which libarchive-c does not wrap."""
    from libarchive import ffi
    return ffi.ffi("entry_nlink", [ffi.c_archive_entry_p], ctypes.c_uint)


@lru_cache(maxsize=None)
def _data_encrypted():
    """libarchive's archive_entry_is_data_encrypted (3.2+), which libarchive-c does not wrap:
    set by the 7z and zip readers (not by RAR 5's in 3.6, whose encrypted data then fails to
    decode, and is reported so)."""
    from libarchive import ffi
    return ffi.ffi("entry_is_data_encrypted", [ffi.c_archive_entry_p], ctypes.c_int)


@lru_cache(maxsize=None)
def _read_data():
    """archive_read_data, bound apart from libarchive-c's own binding (whose check logs a
    warning on the terminal and hands its return code on as a length)."""
    from libarchive import ffi
    read = ffi.libarchive["archive_read_data"]   # a function object of its own
    read.argtypes, read.restype = [ffi.c_archive_p, ctypes.c_void_p, ctypes.c_size_t], \
        ctypes.c_ssize_t
    return read


def _blocks(entry) -> Iterator[bytes]:
    """A member's data as libarchive decodes it. Not libarchive-c's get_blocks: on a warning
    (a 7z member's CRC that fails) it takes the code for a length and hands back stale bytes of
    its buffer. Here a warning, as an error, fails the member's read, as zip's bad CRC does."""
    read, buffer = _read_data(), ctypes.create_string_buffer(BLOCK)
    while True:
        count = read(entry._archive_p, buffer, BLOCK)
        if count == 0:
            return
        if count < 0:
            said = _said(entry._archive_p)
            if "ncrypt" in said or "passphrase" in said.lower():
                raise Encrypted()
            raise OSError(errno.EIO, said)
        yield ctypes.string_at(buffer, count)


def _said(archive_p) -> str:
    from libarchive import ffi
    return _text(ffi.error_string(archive_p))


def _failure(exc) -> OSError:
    """libarchive's own message, without what libarchive-c adds to it: its errno, return code
    and the archive's address in memory, which differs from run to run (a report of the same
    evidence would not be the same)."""
    return OSError(errno.EIO, _text(exc.msg))


def _text(message) -> str:
    """libarchive's message as text (libarchive-c hands over bytes when it is not ASCII)."""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "backslashreplace")
    return message or "libarchive error"


# name: (libarchive's format, the MIME types libmagic gives it)
KINDS = {
    "7z": ("7zip", ("application/x-7z-compressed",), ((0, b"7z\xbc\xaf\x27\x1c"),)),
    "rar": ("all", ("application/x-rar", "application/vnd.rar",   # RAR 4 or 5: libarchive
                    "application/x-rar-compressed"),              # tells which
            ((0, b"Rar!\x1a\x07"),)),
    "iso9660": ("iso9660", ("application/x-iso9660-image",),
                ((32769, b"CD001"), (34817, b"CD001"), (36865, b"CD001"))),
    "cab": ("cab", ("application/vnd.ms-cab-compressed",), ((0, b"MSCF"),)),
    "cpio": ("cpio", ("application/x-cpio",),
             ((0, b"070707"), (0, b"070701"), (0, b"070702"), (0, b"\xc7\x71"),
              (0, b"\x71\xc7"))),
}
for _name, (_format, _mimes, _marks) in KINDS.items():
    READERS.add(_name, LibarchiveReader(_name, _format, _mimes, _marks))
READERS.add("ar", ArReader("ar", "ar", ("application/x-archive",
                                        "application/vnd.debian.binary-package"),
                           ((0, b"!<arch>\n"),)))
