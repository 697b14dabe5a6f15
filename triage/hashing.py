"""Digest computation in one pass over a stream of bytes."""

from __future__ import annotations

from typing import BinaryIO, Dict, Iterable, Iterator

from . import signals

CHUNK = 1 << 20   # 1 MiB reads: large enough that syscall and TSK overhead vanish


def chunks(reader: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    while True:
        block = reader.read(size)
        if not block:
            return
        yield block


def digest_stream(blocks: Iterable[bytes], names: Iterable[str]) -> Dict[str, str]:
    """Feed every block to every requested digest once; return lower-case hex by signal name."""
    hashers = {name: signals.get(name).new() for name in names}
    for block in blocks:
        for h in hashers.values():
            h.update(block)
    return {name: h.hexdigest() for name, h in hashers.items()}
