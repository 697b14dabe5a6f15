"""OLE2 compound files (MS-CFB), read through olefile: a Windows `Thumbs.db` (its thumbnails,
`thumbsdb.py`) and legacy Office documents, `.doc`, `.xls` and `.ppt` (the pictures in their
drawing streams, `office.py`). One reader for both, since libmagic names either kind by the
same OLE2 signature. A stream is read whole (olefile gives streams so), and one over the
nest-memory bound stops the listing."""

from __future__ import annotations

from typing import BinaryIO, Iterator

from . import (Budget, ContainerReader, Encrypted, Member, OverBound, office, register,
               thumbsdb)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# "application/encrypted": libmagic's name for an OOXML document saved with a password,
# which is an OLE2 file holding the encrypted package (members() then says it is encrypted)
OLE_MIMES = ("application/x-ole-storage", "application/CDFV2", "application/vnd.ms-office",
             "application/msword", "application/vnd.ms-excel",
             "application/vnd.ms-powerpoint", "application/encrypted")


@register
class OleReader(ContainerReader):
    name = "ole2"
    marks = ((0, OLE_MAGIC),)   # main's detect: a head without it never asks libmagic

    def claims(self, mime: str, head: bytes) -> bool:
        return mime in OLE_MIMES and head.startswith(OLE_MAGIC)

    def members(self, source: BinaryIO, size: int, budget: Budget,
                shown: str) -> Iterator[Member]:
        import olefile
        source.seek(0)
        ole = olefile.OleFileIO(source)
        try:
            root = {path[0] for path in ole.listdir(streams=True, storages=False)
                    if len(path) == 1}
            if office.encrypted(root, lambda name, length: _head(ole, name, length, budget)):
                raise Encrypted()
            for path in ole.listdir(streams=True, storages=False):
                stream = "/".join(path)
                if len(path) == 1 and thumbsdb.is_thumbnail(stream):
                    yield thumbsdb.thumbnail(stream, _read(ole, stream, budget))
                elif office.holds_pictures(path):
                    yield from office.pictures(stream, _read(ole, stream, budget), budget)
        finally:
            ole.close()


def _head(ole, stream: str, length: int, budget: Budget) -> bytes:
    """The first `length` bytes of a stream (olefile holds a stream whole once opened: one
    over the memory bound is left to _read, which refuses it)."""
    if ole.get_size(stream) > budget.bounds.nest_memory:
        return b""
    return ole.openstream(stream).read(length)


def _read(ole, stream: str, budget: Budget) -> bytes:
    length = ole.get_size(stream)
    if length > budget.bounds.nest_memory:
        raise OverBound(f"a stream of {length:,} bytes ({stream}), over the "
                        f"{budget.bounds.nest_memory:,} bytes held in memory")
    return ole.openstream(stream).read()
