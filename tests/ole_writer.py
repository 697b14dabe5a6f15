"""A minimal writer of OLE2 compound files (MS-CFB version 3, 512-byte sectors) for the tests:
nothing here writes Thumbs.db. Streams only, in the root storage, each at least 4,096 bytes
(the mini-stream cutoff: smaller streams would belong in a mini stream this writer does not
make; shorter data is padded with zeros). Sibling entries form a chain to the right, which
readers walk like any red-black tree."""

from __future__ import annotations

import struct
from typing import Dict

SECTOR = 512
FREE, END, FATSECT, NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
CUTOFF = 4096


def _entry(name: str, kind: int, child: int, right: int, start: int, size: int) -> bytes:
    encoded = (name.encode("utf-16-le") + b"\0\0") if name else b""
    return struct.pack("<64sHBBIII16sI8s8sIII", encoded.ljust(64, b"\0"), len(encoded), kind,
                       1, NOSTREAM, right, child, bytes(16), 0, bytes(8), bytes(8), start, size,
                       0)


def compound_file(streams: Dict[str, bytes]) -> bytes:
    streams = {name: data.ljust(CUTOFF, b"\0") for name, data in streams.items()}
    entries = 1 + len(streams)
    dir_sectors = -(-entries * 128 // SECTOR)
    data_sectors = sum(-(-len(d) // SECTOR) for d in streams.values())
    fat_sectors = 1
    while fat_sectors * (SECTOR // 4) < fat_sectors + dir_sectors + data_sectors:
        fat_sectors += 1
    fat = [FATSECT] * fat_sectors
    dir_start = len(fat)
    fat += list(range(dir_start + 1, dir_start + dir_sectors)) + [END]
    directory = []
    body = b""
    names = list(streams)
    for i, name in enumerate(names):
        data = streams[name]
        start = len(fat)
        count = -(-len(data) // SECTOR)
        fat += list(range(start + 1, start + count)) + [END]
        right = i + 2 if i + 1 < len(names) else NOSTREAM
        directory.append(_entry(name, 2, NOSTREAM, right, start, len(data)))
        body += data.ljust(count * SECTOR, b"\0")
    root = _entry("Root Entry", 5, 1 if names else NOSTREAM, NOSTREAM, END, 0)
    dir_bytes = (root + b"".join(directory)).ljust(dir_sectors * SECTOR, b"\0")
    fat += [FREE] * (fat_sectors * SECTOR // 4 - len(fat))
    difat = list(range(fat_sectors)) + [FREE] * (109 - fat_sectors)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
              + struct.pack("<HHHHH6sIIIIIIIII", 0x3E, 3, 0xFFFE, 9, 6, bytes(6), 0,
                            fat_sectors, dir_start, 0, CUTOFF, END, 0, END, 0)
              + struct.pack("<109I", *difat))
    assert len(header) == SECTOR
    return header + struct.pack(f"<{len(fat)}I", *fat) + dir_bytes + body
