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
MAX_DIRECTORY = 64 << 20               # a corrupt size must not make this read a whole disk


def names_with_nul(directory, block_size: int) -> Dict[Tuple[int, bytes], bytes]:
    """{(inode, name up to the NUL): whole name} for the entries of one directory (a pytsk3
    file opened on the directory's inode). Empty when none holds a NUL or nothing reads."""
    try:
        size = min(int(directory.info.meta.size), MAX_DIRECTORY)
        data = directory.read_random(0, size) if size else b""
    except (OSError, RuntimeError, AttributeError):
        return {}
    return names_in(data, block_size)


def names_in(data: bytes, block_size: int) -> Dict[Tuple[int, bytes], bytes]:
    """names_with_nul() of a directory's bytes as read."""
    if block_size <= 0:
        return {}
    found: Dict[Tuple[int, bytes], bytes] = {}
    for start in range(0, len(data), block_size):
        _block(data, start, min(start + block_size, len(data)), found)
    return found


def _block(data: bytes, at: int, stop: int, found: dict) -> None:
    # One pass per entry at C speed where it can be (find, not slices): the walk pays this
    # for every ext directory.
    unpack, find = _HEADER.unpack_from, data.find
    while at + 8 <= stop:
        inode, rec_len, name_len, _ = unpack(data, at)
        if rec_len < 8 or rec_len & 3 or at + rec_len > stop:
            return   # not a chain TSK would follow either
        end = at + 8 + name_len
        if inode and name_len and end <= stop:
            cut = find(b"\0", at + 8, end)
            if cut > at + 8:
                found.setdefault((inode, data[at + 8:cut]), data[at + 8:end])
        used = (8 + name_len + 3) & ~3
        if rec_len - used >= 12:   # room for an older entry left behind
            _slack(data, at + used, at + rec_len, found)
        at += rec_len


def _slack(data: bytes, at: int, stop: int, found: dict) -> None:
    """Deleted entries left behind in a record's unused tail, at 4-byte steps as TSK looks."""
    if not data[at:stop].strip(b"\0"):
        return   # the usual case: nothing left behind
    while at + 8 <= stop:
        inode, rec_len, name_len, _ = _HEADER.unpack_from(data, at)
        end = at + 8 + name_len
        if inode and name_len and rec_len >= 8 + name_len and end <= stop:
            cut = data.find(b"\0", at + 8, end)
            if cut > at + 8:
                found.setdefault((inode, data[at + 8:cut]), data[at + 8:end])
            at += (8 + name_len + 3) & ~3
        else:
            at += 4
