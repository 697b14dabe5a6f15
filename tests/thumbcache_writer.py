"""A writer of Windows thumbcache_*.db files for the tests, from the same public description
the reader follows (libyal libwtcdb's format document): no real cache can be fetched here.
Checksums are written as zero (their CRC-64 polynomial is not documented; neither the reader
nor dissect.thumbcache checks them)."""

from __future__ import annotations

import struct
from typing import Iterable, Tuple


def entry(version: int, ident: str, data: bytes, extension: str = "") -> bytes:
    name = ident.encode("utf-16-le")
    padding = (-len(name) - len(data)) % 8
    if version == 20:
        ext = extension.encode("utf-16-le")[:6].ljust(8, b"\0")
        header_size = 56
        fields = struct.pack("<8s3I4x8x8x", ext, len(name), padding, len(data))
    elif version == 21:
        header_size = 48
        fields = struct.pack("<3I4x8x8x", len(name), padding, len(data))
    else:
        header_size = 56
        fields = struct.pack("<3I4x8x8x8x", len(name), padding, len(data))
    size = header_size + len(name) + padding + len(data)
    entry_hash = int(ident, 16).to_bytes(8, "little") if ident else bytes(8)
    head = b"CMMM" + struct.pack("<I", size) + entry_hash + fields
    assert len(head) == header_size, (version, len(head))
    return head + name + bytes(padding) + data


def cache(version: int, cache_type: int, entries: Iterable[Tuple[str, bytes]],
          extension: str = "jpg") -> bytes:
    body = b"".join(entry(version, ident, data, extension) for ident, data in entries)
    count = sum(1 for _ in entries) if not isinstance(entries, list) else len(entries)
    # one empty entry after the last, the "first available" slot Windows leaves
    free = entry(version, "", b"")
    header = b"CMMM" + struct.pack("<5I", version, cache_type, 24, 24 + len(body), count)
    return header + body + free
