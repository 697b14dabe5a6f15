"""Windows Explorer thumbnail caches (`thumbcache_*.db`, Vista to 11): each cached thumbnail is a
child entry named by its cache entry id, noted "thumbnail of a viewed picture". A thumbnail is
never byte-identical to its picture, so perceptual sets are what match it.

Written from Joachim Metz's "Windows Explorer Thumbnail Cache database format" (libyal
libwtcdb documentation): a 24-byte file header ("CMMM", format version, cache type, offset of
the first entry, offset of the first available entry, entry count), then cache entries, each
"CMMM", its size (signature included), an 8-byte entry hash, then by format version:

    20:     extension (8, UTF-16), id size @24, padding size @28, data size @32, header 56 bytes
    21:     id size @16, padding size @20, data size @24, header 48 bytes
    30-32:  id size @16, padding size @20, data size @24, header 56 bytes

followed by the identifier string (UTF-16, a 64-bit ThumbnailCacheId in hex), the padding and
the data (a BMP, JPEG or PNG). libmagic does not name the format, so the reader claims a file
by its header: the signature and a documented format version."""

from __future__ import annotations

import io
import struct
from typing import BinaryIO, Iterator

from . import Budget, ContainerReader, Member, register
from ..streams import Reader

NOTE = "thumbnail of a viewed picture"
SIGNATURE = b"CMMM"
FILE_HEADER = struct.Struct("<4s5I")
# format version -> (offset of the id size, padding size, data size; header size)
LAYOUTS = {20: (24, 56), 21: (16, 48), 30: (16, 56), 31: (16, 56), 32: (16, 56)}
MAX_ID = 1024             # bytes of identifier string: a 64-bit id in hex is 32


@register
class ThumbcacheReader(ContainerReader):
    name = "thumbcache"
    mimes = ()
    marks = ((0, SIGNATURE),)

    def claims(self, mime: str, head: bytes) -> bool:
        return (mime == "application/octet-stream" and len(head) >= FILE_HEADER.size
                and head[:4] == SIGNATURE
                and struct.unpack_from("<I", head, 4)[0] in LAYOUTS)

    def members(self, source: BinaryIO, size: int, budget: Budget,
                shown: str) -> Iterator[Member]:
        source.seek(0)
        _, version, _, first, _, _ = FILE_HEADER.unpack(source.read(FILE_HEADER.size))
        fields_at, header_size = LAYOUTS[version]
        at = first or FILE_HEADER.size
        while at + header_size <= size:
            source.seek(at)
            header = source.read(header_size)
            if len(header) < header_size or header[:4] != SIGNATURE:
                return   # the end of the entries (the rest is free space)
            entry_size = struct.unpack_from("<I", header, 4)[0]
            id_size, padding, data_size = struct.unpack_from("<3I", header, fields_at)
            if entry_size < header_size or at + entry_size > size or id_size > MAX_ID \
                    or header_size + id_size + padding + data_size > entry_size:
                raise ValueError(f"cache entry at offset {at:,} is inconsistent")
            # the entry's id: its identifier string, else its entry hash (the same number)
            ident = source.read(id_size).decode("utf-16-le", "replace") or \
                f"{struct.unpack_from('<Q', header, 8)[0]:x}"
            if data_size:
                data_at = at + header_size + id_size + padding
                yield Member(name=ident + _extension(source, data_at), size=data_size,
                             open=_slice(source, data_at, data_size), note=NOTE)
            at += entry_size


def _extension(source: BinaryIO, at: int) -> str:
    source.seek(at)
    magic = source.read(8)
    for start, ext in ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG", ".png"), (b"BM", ".bmp")):
        if magic.startswith(start):
            return ext
    return ""


def _slice(source: BinaryIO, offset: int, length: int):
    return lambda: Slice(source, offset, length)


class Slice(Reader):
    """`length` bytes of `source` from `offset`, read where they lie (the source is shared by
    every member: each read seeks first)."""

    def __init__(self, source: BinaryIO, offset: int, length: int):
        super().__init__()
        self._source, self._offset, self._length, self._pos = source, offset, length, 0

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        left = self._length - self._pos
        n = left if n is None or n < 0 else min(n, left)
        if n <= 0:
            return b""
        self._source.seek(self._offset + self._pos)
        data = self._source.read(n)
        self._pos += len(data)
        return data

