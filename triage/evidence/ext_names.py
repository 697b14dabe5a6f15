"""Whole names of ext2/3/4 directory entries that hold a NUL byte.

An ext directory entry stores its name with an explicit length, so a name may hold a NUL; The
Sleuth Kit copies it as a C string and keeps only the part before the NUL (`fls` shows the
same). The entries are read again here from the directory's own bytes, the way TSK finds them
(each entry's record length, and older entries left in the slack after one), and every name
with a NUL is returned keyed by (inode, the part TSK shows)."""

from __future__ import annotations

import struct
from typing import Dict, Tuple

_HEADER = struct.Struct("<IHBB")       # inode, record length, name length, file type
_MAX_DIRECTORY = 64 << 20              # a corrupt size must not make this read a whole disk


def names_with_nul(directory, block_size: int) -> Dict[Tuple[int, bytes], bytes]:
    """{(inode, name up to the NUL): whole name} for the entries of one directory (a pytsk3
    file opened on the directory's inode). Empty when none holds a NUL or nothing reads."""
    try:
        size = min(int(directory.info.meta.size), _MAX_DIRECTORY)
        data = directory.read_random(0, size) if size else b""
    except (OSError, RuntimeError, AttributeError):
        return {}
    if b"\0" not in data or block_size <= 0:
        return {}
    found: Dict[Tuple[int, bytes], bytes] = {}
    for start in range(0, len(data), block_size):
        _block(data[start:start + block_size], found)
    return found


def _block(block: bytes, found: dict) -> None:
    at = 0
    while at + _HEADER.size <= len(block):
        inode, rec_len, name_len, _ = _HEADER.unpack_from(block, at)
        if rec_len < _HEADER.size or rec_len % 4 or at + rec_len > len(block):
            return   # not a chain TSK would follow either
        used = _entry(block, at, inode, name_len, found)
        _slack(block, at + max(used, _HEADER.size), at + rec_len, found)
        at += rec_len


def _entry(block: bytes, at: int, inode: int, name_len: int, found: dict) -> int:
    """Record one entry if its name holds a NUL; returns its size rounded to 4 bytes."""
    end = at + _HEADER.size + name_len
    if inode and name_len and end <= len(block):
        name = block[at + _HEADER.size:end]
        cut = name.find(b"\0")
        if cut > 0:
            found.setdefault((inode, name[:cut]), name)
    return (_HEADER.size + name_len + 3) & ~3


def _slack(block: bytes, start: int, stop: int, found: dict) -> None:
    """Deleted entries left behind in a record's unused tail, at 4-byte steps as TSK looks."""
    at = (start + 3) & ~3
    if at + _HEADER.size > stop or not block[at:stop].strip(b"\0"):
        return   # the usual case: nothing left behind
    while at + _HEADER.size <= stop:
        inode, rec_len, name_len, _ = _HEADER.unpack_from(block, at)
        if inode and name_len and rec_len >= _HEADER.size + name_len \
                and at + _HEADER.size + name_len <= stop:
            at += _entry(block, at, inode, name_len, found)
        else:
            at += 4
