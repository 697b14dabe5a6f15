"""Windows `Thumbs.db` (98 to XP, and Vista and later on network folders): an OLE2 compound file,
read through olefile, whose thumbnail streams are child entries noted "thumbnail of a viewed
picture". The original format names a thumbnail's stream by its catalog number written
backwards ("021" is entry 120) and lists file names in a "Catalog" stream; the newer one names
streams by size and hash ("256_79dea834bece3f6b") and has no catalog. A stream holds a short
header, then the JPEG: the child is the JPEG, from its start-of-image marker (a stream with none,
the old raw-RGBA kind, is given whole). Member names are the stream names; the catalog's file
names are not read (no public description of its layout was found precise enough to test).
The OLE2 reader (`ole.py`) asks this module for a file's thumbnails."""

from __future__ import annotations

import io
import re

from . import Member
from .thumbcache import NOTE

THUMBNAIL = re.compile(r"^(\d+|\d+_[0-9a-fA-F]{16})$")
JPEG_START = b"\xff\xd8\xff"
HEADER_SCAN = 64       # bytes of a stream searched for the JPEG's start


def is_thumbnail(stream: str) -> bool:
    """Whether a root stream's name is a Thumbs.db thumbnail's."""
    return THUMBNAIL.match(stream) is not None


def thumbnail(stream: str, data: bytes) -> Member:
    """The thumbnail a Thumbs.db stream holds."""
    start = data.find(JPEG_START, 0, HEADER_SCAN)
    data = data[start:] if start >= 0 else data
    return Member(name=stream + (".jpg" if start >= 0 else ""), size=len(data),
                  open=lambda: io.BytesIO(data), note=NOTE)
