"""Windows `Thumbs.db` (98 to XP, and Vista and later on network folders): an OLE2 compound file,
read through olefile, whose thumbnail streams are child entries noted "thumbnail of a viewed
picture". The original format names a thumbnail's stream by its catalog number written
backwards ("021" is entry 120) and lists file names in a "Catalog" stream; the newer one names
streams by size and hash ("256_79dea834bece3f6b") and has no catalog. A stream holds a short
header, then the JPEG: the child is the JPEG, from its start-of-image marker (a stream with none,
the old raw-RGBA kind, is given whole). Member names are the stream names; the catalog's file
names are not read (no public description of its layout was found precise enough to test)."""

from __future__ import annotations

import io
import re
from typing import BinaryIO, Iterator

from . import Budget, ContainerReader, Member, OverBound, register
from .thumbcache import NOTE

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
OLE_MIMES = ("application/x-ole-storage", "application/CDFV2", "application/vnd.ms-office")
THUMBNAIL = re.compile(r"^(\d+|\d+_[0-9a-fA-F]{16})$")
JPEG_START = b"\xff\xd8\xff"
HEADER_SCAN = 64       # bytes of a stream searched for the JPEG's start


@register
class ThumbsDbReader(ContainerReader):
    name = "thumbs.db"
    mimes = ()
    marks = ((0, OLE_MAGIC),)

    def claims(self, mime: str, head: bytes) -> bool:
        return mime in OLE_MIMES and head.startswith(OLE_MAGIC)

    def members(self, source: BinaryIO, size: int, budget: Budget,
                shown: str) -> Iterator[Member]:
        import olefile
        source.seek(0)
        ole = olefile.OleFileIO(source)
        for path in ole.listdir(streams=True, storages=False):
            if len(path) != 1 or not THUMBNAIL.match(path[0]):
                continue
            length = ole.get_size(path[0])
            if length > budget.bounds.nest_memory:
                raise OverBound(f"a thumbnail stream of {length:,} bytes")
            data = ole.openstream(path[0]).read()
            start = data.find(JPEG_START, 0, HEADER_SCAN)
            data = data[start:] if start >= 0 else data
            yield Member(name=path[0] + (".jpg" if start >= 0 else ""), size=len(data),
                         open=lambda data=data: io.BytesIO(data), note=NOTE)
