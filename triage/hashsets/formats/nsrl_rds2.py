"""NIST NSRL RDS 2.x `NSRLFile.txt`: quoted CSV, upper-case hex, one row per file name (so the
same hash repeats). Both column orders are read by header name: the modern
"SHA-1","MD5","CRC32","FileName","FileSize",... and the old one with MD4 after OpSystemCode.
Also the RDS distribution zip holding NSRLFile.txt (or NSRLFile.txt.zip). Known-good."""

from __future__ import annotations

import csv
import io
import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator, Optional

from ..limits import MAX_INFLATED, MAX_LINE, MAX_RATIO, size_text
from ..problems import SourceError
from .base import Format, Item, register
from .table import first_line, read_rows, read_rows_bulk

COLUMNS = {"SHA-1": "sha1", "MD5": "md5", "FileName": "name", "FileSize": "size"}
MEMBER = "nsrlfile.txt"


def is_header(text: str) -> bool:
    cells = [c.strip() for c in next(csv.reader([first_line(text)]), [])]
    return bool(cells) and cells[0] == "SHA-1" and {"MD5", "FileName", "FileSize"} <= set(cells)


# What zipfile and its decompressors raise on a damaged, truncated or crafted archive.
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
              RuntimeError, NotImplementedError, ValueError, struct.error, UnicodeDecodeError)
# NIST's zips deflate; other methods (bzip2, LZMA) inflate without an output bound per call.
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class _Member(io.RawIOBase):
    """A zip member as a raw stream whose damage (a bad CRC, corrupt deflate data, a cut
    archive) is one SourceError rather than whatever zipfile or zlib raise."""

    def __init__(self, stream):
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._stream.read(len(buffer))
        except ZIP_ERRORS:
            raise SourceError("", "zip member is damaged or truncated (checksum or compressed "
                                  "data wrong), reading stopped") from None
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


def _checked(info: zipfile.ZipInfo, stored: int) -> zipfile.ZipInfo:
    """`info` if its member can be read within the bounds: not encrypted, a method that inflates
    in bounded steps, at most MAX_INFLATED bytes and MAX_RATIO times the `stored` bytes it
    takes in the file (zipfile never inflates past the declared size)."""
    if info.flag_bits & 0x1:
        raise SourceError("", "zip member is encrypted: give the unencrypted NSRLFile.txt")
    if info.compress_type not in METHODS:
        raise SourceError("", "zip member uses a compression method other than deflate")
    if info.file_size > MAX_INFLATED or info.file_size > MAX_RATIO * stored + MAX_LINE:
        raise SourceError("", f"zip member inflates to {info.file_size:,} bytes from "
                              f"{stored:,} (limits: {size_text(MAX_INFLATED)}, {MAX_RATIO} "
                              "times): not an NSRL distribution")
    return info


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1].lower()


def open_member(path: Path) -> BinaryIO:
    """The NSRLFile.txt inside an RDS zip, streamed; a nested NSRLFile.txt.zip is opened too."""
    try:
        archive = zipfile.ZipFile(path)
        for info in archive.infolist():
            base = _base(info.filename)
            if base == MEMBER:
                return io.BufferedReader(_Member(archive.open(_checked(info,
                                                                        info.compress_size))))
            if base == MEMBER + ".zip":
                inner = zipfile.ZipFile(archive.open(_checked(info, info.compress_size)))
                for member in inner.infolist():
                    if _base(member.filename) == MEMBER:
                        # Bounded by the bytes the nested zip takes in the file on disk.
                        stream = inner.open(_checked(member, info.compress_size))
                        return io.BufferedReader(_Member(stream))
    except ZIP_ERRORS:
        raise SourceError("", "unreadable zip (damaged or truncated)") from None
    raise SourceError("", "zip holds no NSRLFile.txt")


@register
class NsrlRds2(Format):
    name = "nsrl-rds2"
    priority = 20
    kind = "known-good"
    scheme = "nsrl"

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        if head.startswith(b"PK\x03\x04"):
            try:
                with zipfile.ZipFile(path) as archive:
                    names = {n.rsplit("/", 1)[-1].lower() for n in archive.namelist()}
            except ZIP_ERRORS:
                return False
            return bool(names & {MEMBER, MEMBER + ".zip"})
        return is_header(text)

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        with open(path, "rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"
        raw = open_member(path) if zipped else open(path, "rb")
        return read_rows(raw, COLUMNS, category="known-good")

    @classmethod
    def read_bulk(cls, path: Path, signal: Optional[str] = None):
        with open(path, "rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"
        raw = open_member(path) if zipped else open(path, "rb")
        return read_rows_bulk(raw, COLUMNS, category="known-good")
