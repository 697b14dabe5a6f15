"""Zip and what is built on it (OOXML, ODF, EPUB, JAR): Python's zipfile (zip64, stored,
deflate, bzip2, LZMA) and inflate64 for Deflate64, which zipfile lacks. Encrypted members
(ZipCrypto or AES) are listed with their names and sizes, never opened.

zipfile reads the whole central directory at open, so the member bound is checked first from
the end-of-central-directory record (PKWARE APPNOTE 4.3.16 and, for zip64, 4.3.14-15): an
archive of a million members is reported, not loaded."""

from __future__ import annotations

import struct
import zipfile
from typing import BinaryIO, Iterator, Optional

from . import Budget, ContainerReader, Member, OverBound, register
from ..streams import Reader

_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"
_EOCD_SCAN = 22 + 0xFFFF    # the record plus the longest comment
_DEFLATE64 = 9
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")   # APPNOTE 4.3.7, 30 bytes


@register
class ZipReader(ContainerReader):
    name = "zip"
    marks = ((0, b"PK\x03\x04"), (0, b"PK\x05\x06"), (0, b"PK\x07\x08"))
    mimes = (
        "application/zip", "application/x-zip-compressed", "application/java-archive",
        "application/epub+zip", "application/vnd.android.package-archive",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/vnd.oasis.opendocument.graphics",
    )

    def members(self, source: BinaryIO, size: int, budget: Budget,
                shown: str) -> Iterator[Member]:
        count = entry_count(source, size)
        if count is not None and count > budget.bounds.members:
            raise OverBound(f"its directory lists {count:,} members, more than the member "
                            f"bound of {budget.bounds.members:,}")
        archive = zipfile.ZipFile(source)
        for info in archive.infolist():
            if info.is_dir():
                continue
            yield Member(
                name=info.filename,
                size=info.file_size,
                open=_opener(archive, source, info),
                mtime=(_dos_time(info.date_time), 0),
                encrypted=bool(info.flag_bits & 0x1),
            )


def _opener(archive: zipfile.ZipFile, source: BinaryIO, info: zipfile.ZipInfo):
    if info.compress_type == _DEFLATE64:
        return lambda: _Deflate64(source, info)
    return lambda: archive.open(info)


def entry_count(source: BinaryIO, size: int) -> Optional[int]:
    """The number of entries the end-of-central-directory record states (zip64's when the
    classic field is full); None when no record is found (zipfile then says what is wrong)."""
    start = max(0, size - _EOCD_SCAN)
    source.seek(start)
    tail = source.read(size - start)
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    count = struct.unpack_from("<H", tail, at + 10)[0]
    if count != 0xFFFF or at < 20 or tail[at - 20:at - 16] != _ZIP64_LOCATOR:
        return count
    record_at = struct.unpack_from("<Q", tail, at - 20 + 8)[0]
    source.seek(record_at)
    record = source.read(56)
    if len(record) < 56 or record[:4] != _ZIP64_EOCD:
        return count
    return struct.unpack_from("<Q", record, 32)[0]


def _dos_time(date_time) -> int:
    import calendar
    try:
        return calendar.timegm((*date_time, 0, 0, 0))
    except (ValueError, OverflowError):
        return 0


class _Deflate64(Reader):
    """A Deflate64 member's content: its compressed bytes (found through its local header)
    through inflate64, block by block."""

    def __init__(self, source: BinaryIO, info: zipfile.ZipInfo):
        super().__init__()
        import inflate64
        source.seek(info.header_offset)
        header = source.read(_LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"no local header for {info.filename!r}")
        fields = _LOCAL_HEADER.unpack(header)
        self._offset = info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
        self._left = info.compress_size
        self._out = info.file_size
        self._source = source
        self._inflater = inflate64.Inflater()
        self._pending = b""

    def read(self, n: int = -1) -> bytes:
        while not self._pending and (self._left > 0 or self._out > 0):
            if self._left <= 0:
                break
            self._source.seek(self._offset)
            block = self._source.read(min(self._left, 16 * 1024))   # ~16 MiB out at most
            if not block:
                raise EOFError("Deflate64 member ends early")
            self._offset += len(block)
            self._left -= len(block)
            self._pending = self._inflater.inflate(block)
        n = len(self._pending) if n is None or n < 0 else n
        out, self._pending = self._pending[:n], self._pending[n:]
        self._out -= len(out)
        return out

