"""Block digests (issue 15): a digest of every 4 KiB block of a reference file, aligned to the
file's start, so pieces of it are recognised on the media wherever a file system left them
(deleted, partly overwritten, in unallocated space), as Garfinkel's hashdb does.

A block's key is 16 bytes: XXH3-64 of the block (big-endian: the store sorts on it, and a sweep
computes it for every block of a disk at memory speed) followed by the first 8 bytes of its
BLAKE2b, which confirms a candidate. Blocks that identify nothing are never stored
(`probative`): constant blocks, blocks of low entropy, and blocks that repeat a short
pattern; `hashset build --blocks` also drops blocks shared by many reference files and blocks
of a known-good block set."""

from __future__ import annotations

import hashlib
from typing import List, Tuple

import numpy as np
import xxhash

from .base import Signal, register

BLOCK = 4096
MIN_ENTROPY = 3.0     # bits a byte: text is ~4.5, compressed pictures ~7.9, runs and padding less
PERIODS = tuple(1 << k for k in range(1, 12))   # 2 .. 2048 bytes
_xxh3 = xxhash.xxh3_64_intdigest
# The fast half of a block's key (XXH3-64) as an integer: the C function itself, since a sweep
# calls it for every window of a disk.
quick = _xxh3


def confirm(block) -> bytes:
    """The confirming half of a block's key."""
    return hashlib.blake2b(block, digest_size=8).digest()


def key(block) -> bytes:
    return _xxh3(block).to_bytes(8, "big") + confirm(block)


def probative(block) -> bool:
    """Whether a 4 KiB block can say anything about which file it came from: not constant,
    not of low byte entropy, not a pattern of 2 to 2,048 bytes repeated."""
    data = np.frombuffer(block, np.uint8)
    counts = np.bincount(data, minlength=256)
    if counts.max() == len(data):
        return False
    p = counts[counts > 0] / len(data)
    if -(p * np.log2(p)).sum() < MIN_ENTROPY:
        return False
    raw = bytes(block)
    return not any(raw[:-n] == raw[n:] for n in PERIODS)


class BlockHasher:
    """Every full, probative 4 KiB block of a stream (aligned to its start), as (index, key);
    `hexdigest` gives them as `index:key` tokens separated by spaces (a file's blocks are many
    values, carried through the one read that computes every other signal)."""

    def __init__(self):
        self._pending = bytearray()
        self._index = 0
        self.blocks: List[Tuple[int, bytes]] = []

    def update(self, data) -> None:
        self._pending += data
        whole = len(self._pending) // BLOCK * BLOCK
        view = memoryview(bytes(self._pending[:whole]))
        del self._pending[:whole]
        for start in range(0, whole, BLOCK):
            block = view[start:start + BLOCK]
            if probative(block):
                self.blocks.append((self._index, key(block)))
            self._index += 1

    @property
    def total(self) -> int:
        """Full blocks seen, probative or not."""
        return self._index

    def hexdigest(self) -> str:
        return " ".join(f"{i}:{k.hex()}" for i, k in self.blocks)


@register
class Block(Signal):
    """A 4 KiB block of a reference file. Matched by `triage scan --blocks` on the media, never
    as a file's digest."""

    name = "block"
    kind = "block"
    hex_length = 32

    @classmethod
    def new(cls):
        return BlockHasher()

    @staticmethod
    def total(size: int) -> int:
        """The full blocks of a file of `size` bytes: what a fragment's fraction counts."""
        return size // BLOCK
