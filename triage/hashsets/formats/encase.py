"""Legacy EnCase `.hash` sets (EnCase 4-6): an 0x480-byte header (`HASH\\r\\n\\xff\\0` magic, entry
count at 0x10, set name at 0x408 and category at 0x458 in UTF-16LE), then 18-byte entries: an
MD5 and two zero bytes. The format carries no per-file names or sizes."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Iterator, Optional

from ...errors import HashSetError
from ...records import SetEntry
from ..problems import Problem
from .base import Format, Item, register

MAGIC = b"HASH\r\n\xff\x00"
HEADER = 0x480
ENTRY = 18
NAME = slice(0x408, 0x458)
CATEGORY = slice(0x458, 0x47E)
BATCH = 4096


def _utf16(raw: bytes) -> Optional[str]:
    text = raw.decode("utf-16-le", errors="replace").split("\x00", 1)[0].strip()
    return text or None


def header(path: Path) -> bytes:
    with open(path, "rb") as f:
        head = f.read(HEADER)
    if len(head) < HEADER or not head.startswith(MAGIC):
        raise HashSetError(f"{path}: truncated EnCase hash header")
    return head


@register
class EnCase(Format):
    name = "encase"
    priority = 10

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        return head.startswith(MAGIC)

    @classmethod
    def describe(cls, path: Path) -> dict:
        head = header(path)
        return {"name": _utf16(head[NAME])}

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        head = header(path)
        count, = struct.unpack_from("<I", head, 0x10)
        category = _utf16(head[CATEGORY])
        seen = 0
        with open(path, "rb") as f:
            f.seek(HEADER)
            while True:
                block = f.read(ENTRY * BATCH)
                whole = len(block) - len(block) % ENTRY
                for offset in range(0, whole, ENTRY):
                    seen += 1
                    where = f"entry {seen}"
                    if block[offset + 16:offset + 18] != b"\0\0":
                        yield where, Problem(where, "entry padding is not zero", severity="warning")
                    yield where, SetEntry("md5", block[offset:offset + 16].hex(), category)
                if whole != len(block):
                    yield "", Problem("", f"{len(block) - whole} trailing bytes after the last "
                                          "whole entry")
                if len(block) < ENTRY * BATCH:
                    break
        if seen != count:
            yield "", Problem("", f"header says {count} entries, file holds {seen}")
