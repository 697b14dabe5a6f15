"""7z, RAR (4 and 5), ISO 9660, CAB, cpio and xar through libarchive (libarchive-c): one
forward pass, each member's data streamed block by block as libarchive decodes it, never
written out. (py7zr hands members over whole or pushes them to writers; libarchive lets the
judge pull, which is what keeps memory flat.) libarchive reads no encrypted member: it raises
on the data, and that member is listed as encrypted, not examined."""

from __future__ import annotations

from typing import BinaryIO, Iterator

from . import BlockStream, Budget, ContainerReader, Encrypted, Member, register


class LibarchiveReader(ContainerReader):
    format_name = "all"

    def members(self, source: BinaryIO, size: int, budget: Budget,
                shown: str) -> Iterator[Member]:
        import libarchive
        from libarchive import ffi
        source.seek(0)
        with libarchive.seekable_stream_reader(source, self.format_name, "all",
                                               block_size=1 << 16) as archive:
            for entry in archive:
                if not entry.isreg:
                    continue
                known = ffi.entry_size_is_set(entry._entry_p)
                yield Member(
                    name=entry.pathname,
                    size=entry.size if known else None,
                    open=lambda entry=entry: BlockStream(_blocks(entry)),
                    mtime=(int(entry.mtime or 0), 0),
                    reopenable=False,
                    encrypted=bool(_data_encrypted()(entry._entry_p)),
                )


_flag = None


def _data_encrypted():
    """libarchive's archive_entry_is_data_encrypted (3.2+), which libarchive-c does not wrap:
    set by the 7z and zip readers (not by RAR 5's in 3.6, whose encrypted data then fails to
    decode, and is reported so)."""
    global _flag
    if _flag is None:
        import ctypes
        from libarchive import ffi
        _flag = ffi.ffi("entry_is_data_encrypted", [ffi.c_archive_entry_p], ctypes.c_int)
    return _flag


def _blocks(entry) -> Iterator[bytes]:
    import libarchive
    try:
        yield from entry.get_blocks()
    except libarchive.ArchiveError as exc:
        if "ncrypt" in str(exc) or "passphrase" in str(exc).lower():
            raise Encrypted() from None
        raise OSError(str(exc)) from None


@register
class SevenZip(LibarchiveReader):
    name = "7z"
    mimes = ("application/x-7z-compressed",)
    format_name = "7zip"


@register
class Rar(LibarchiveReader):
    name = "rar"
    mimes = ("application/x-rar", "application/vnd.rar", "application/x-rar-compressed")


@register
class Iso(LibarchiveReader):
    name = "iso9660"
    mimes = ("application/x-iso9660-image",)
    format_name = "iso9660"


@register
class Cab(LibarchiveReader):
    name = "cab"
    mimes = ("application/vnd.ms-cab-compressed",)
    format_name = "cab"


@register
class Cpio(LibarchiveReader):
    name = "cpio"
    mimes = ("application/x-cpio",)
    format_name = "cpio"
