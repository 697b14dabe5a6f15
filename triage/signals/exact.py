"""Cryptographic digests: a file matches only when every byte is the same."""

from __future__ import annotations

import hashlib
from typing import ClassVar, Tuple

from .base import Signal, register


class DigestSignal(Signal):
    kind = "exact"
    algorithm: ClassVar[str]

    @classmethod
    def new(cls):
        return hashlib.new(cls.algorithm)


def _trivial(algorithm: str) -> frozenset:
    # The empty file and all-zero blocks of common sizes: they match countless innocent files.
    blocks = [b""] + [bytes(n) for n in (512, 4096, 1 << 20)]
    return frozenset(hashlib.new(algorithm, b).hexdigest() for b in blocks)


@register
class MD5(DigestSignal):
    name = "md5"
    algorithm = "md5"
    hex_length = 32
    trivial = _trivial("md5")


@register
class SHA1(DigestSignal):
    name = "sha1"
    algorithm = "sha1"
    hex_length = 40
    trivial = _trivial("sha1")


@register
class SHA256(DigestSignal):
    name = "sha256"
    algorithm = "sha256"
    hex_length = 64
    trivial = _trivial("sha256")


@register
class PhotoDNA(Signal):
    """Microsoft's licensed perceptual hash: carried by VICS sets, counted and reported, but it
    cannot be computed here, so it never matches anything."""

    name = "photodna"
    kind = "opaque"
    computable = False
    keeps_value = True

    @classmethod
    def key(cls, value: str) -> bytes:
        # Not hex: keyed by the SHA-256 of its text.
        return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()

    @classmethod
    def parse(cls, text: str) -> str:
        value = text.strip()
        if not value:
            raise ValueError("photodna value is empty")
        return value


EDGE = 4096   # bytes read at each end of a file for its sub-file fingerprint


def edge_span(size: int) -> Tuple[int, int]:
    """Where a file's tail lies for its fingerprint: [start, size). The head is [0, min(size,
    EDGE)); the tail never overlaps it, so a file of 8 KiB or less is read whole."""
    return max(EDGE, size - EDGE), size


def fingerprint(head: bytes, tail: bytes, size: int) -> str:
    """BLAKE2b-128 of the size (8 bytes, little-endian), the first 4 KiB and the last 4 KiB
    (what lies beyond the first 4 KiB of them)."""
    return fingerprint_key(head, tail, size).hex()


def fingerprint_key(head: bytes, tail: bytes, size: int) -> bytes:
    """fingerprint() as the set stores it: its 16 bytes."""
    h = hashlib.blake2b(size.to_bytes(8, "little"), digest_size=16)
    h.update(head)
    h.update(tail)
    return h.digest()


class _EdgeHasher:
    """The fingerprint computed from a whole stream (as `hashset build` reads a file): the
    first 4 KiB kept, then a rolling window of the last 4 KiB after them."""

    def __init__(self):
        self._head = bytearray()
        self._tail = bytearray()
        self._size = 0

    def update(self, block) -> None:
        block = memoryview(block)
        self._size += len(block)
        room = EDGE - len(self._head)
        if room > 0:
            self._head += block[:room]
            block = block[room:]
        if len(block) >= EDGE:
            self._tail = bytearray(block[-EDGE:])
        elif len(block):
            self._tail += block
            del self._tail[:-EDGE]

    def hexdigest(self) -> str:
        return fingerprint(bytes(self._head), bytes(self._tail), self._size)


def _trivial_edges() -> frozenset:
    out = set()
    for n in (0, 512, 4096, 1 << 20):
        h = _EdgeHasher()
        h.update(bytes(n))
        out.add(h.hexdigest())
    return frozenset(out)


@register
class Edges(Signal):
    """The sub-file fingerprint: 8 KiB of a file (its first and last 4 KiB) and its size. Never
    a hit on its own: a scan reads a file whole only when its fingerprint is listed, and
    reports it only when a full digest matches."""

    name = "edges"
    kind = "exact"
    partial = True
    hex_length = 32
    trivial = _trivial_edges()

    @classmethod
    def new(cls):
        return _EdgeHasher()

    @classmethod
    def from_edges(cls, head: bytes, tail: bytes, size: int) -> str:
        return fingerprint(head, tail, size)

    @classmethod
    def key_from_edges(cls, head: bytes, tail: bytes, size: int) -> bytes:
        return fingerprint_key(head, tail, size)
