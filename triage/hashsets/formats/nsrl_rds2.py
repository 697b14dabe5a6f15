"""NIST NSRL RDS 2.x `NSRLFile.txt`: quoted CSV, upper-case hex, one row per file name (so the
same hash repeats). Both column orders are read by header name: the modern
"SHA-1","MD5","CRC32","FileName","FileSize",... and the old one with MD4 after OpSystemCode.
Also the RDS distribution zip holding NSRLFile.txt (or NSRLFile.txt.zip). Known-good."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import BinaryIO, Iterator, Optional

from ...errors import HashSetError
from .base import Format, Item, register
from .table import first_line, read_rows

COLUMNS = {"SHA-1": "sha1", "MD5": "md5", "FileName": "name", "FileSize": "size"}
MEMBER = "nsrlfile.txt"


def is_header(text: str) -> bool:
    cells = [c.strip() for c in next(csv.reader([first_line(text)]), [])]
    return bool(cells) and cells[0] == "SHA-1" and {"MD5", "FileName", "FileSize"} <= set(cells)


def open_member(path: Path) -> BinaryIO:
    """The NSRLFile.txt inside an RDS zip, streamed; a nested NSRLFile.txt.zip is opened too."""
    try:
        archive = zipfile.ZipFile(path)
        for info in archive.infolist():
            base = info.filename.rsplit("/", 1)[-1].lower()
            if base == MEMBER:
                return archive.open(info)
            if base == MEMBER + ".zip":
                inner = zipfile.ZipFile(archive.open(info))
                for member in inner.infolist():
                    if member.filename.rsplit("/", 1)[-1].lower() == MEMBER:
                        return inner.open(member)
    except (zipfile.BadZipFile, OSError) as exc:
        raise HashSetError(f"{path}: unreadable zip: {exc}") from None
    raise HashSetError(f"{path}: zip holds no NSRLFile.txt")


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
            except (zipfile.BadZipFile, OSError):
                return False
            return bool(names & {MEMBER, MEMBER + ".zip"})
        return is_header(text)

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        with open(path, "rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"
        raw = open_member(path) if zipped else open(path, "rb")
        if zipped:
            raw = io.BufferedReader(raw)
        return read_rows(raw, COLUMNS, category="known-good")
