"""Cryptographic digests: a file matches only when every byte is the same."""

from __future__ import annotations

import hashlib
from typing import ClassVar, Tuple

import xxhash

from .base import ClassValue, Signal, register


def _trivial(cls) -> frozenset:
    # The empty file and all-zero blocks of common sizes: they match countless innocent files.
    blocks = [b""] + [bytes(n) for n in (512, 4096, 1 << 20)]
    return frozenset(hashlib.new(cls.algorithm, b).hexdigest() for b in blocks)


class DigestSignal(Signal):
    kind = "exact"
    algorithm: ClassVar[str]
    trivial = ClassValue(_trivial)

    @classmethod
    def new(cls):
        return hashlib.new(cls.algorithm)


@register
class MD5(DigestSignal):
    name = "md5"
    algorithm = "md5"
    hex_length = 32


@register
class SHA1(DigestSignal):
    name = "sha1"
    algorithm = "sha1"
    hex_length = 40


@register
class SHA256(DigestSignal):
    name = "sha256"
    algorithm = "sha256"
    hex_length = 64


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


class _EdgeHasher:
    """A fingerprint computed from a whole stream (as `hashset build` reads a file): the first
    4 KiB kept, then a rolling window of the last 4 KiB after them."""

    def __init__(self, signal):
        self._signal = signal
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
        return self._signal.from_edges(bytes(self._head), bytes(self._tail), self._size)


def _trivial_edges(signal) -> frozenset:
    """The fingerprints of the empty file and of all-zero files of common sizes."""
    out = set()
    for n in (0, 512, 4096, 1 << 20):
        h = signal.new()
        h.update(bytes(n))
        out.add(h.hexdigest())
    return frozenset(out)


class _Fingerprint(Signal):
    """A sub-file fingerprint: a 128-bit digest of a file's size (8 bytes, little-endian), its
    first 4 KiB and its last 4 KiB (what lies beyond the first 4 KiB of them): 8 KiB of a file
    and its size. Never a hit on its own: a scan reads a file whole only when its fingerprint
    is listed, and reports it only when a full digest matches. Each digest is a signal of its
    own, so a set says which one its values are."""

    kind = "exact"
    partial = True
    hex_length = 32
    trivial = ClassValue(_trivial_edges)

    @classmethod
    def new(cls):
        return _EdgeHasher(cls)

    @staticmethod
    def key_of(edges: bytes) -> bytes:
        """The fingerprint, its 16 bytes, of a file's size (8 bytes, little-endian), head and
        tail read as one bytes object (what the batch screen reads: one call a file)."""
        raise NotImplementedError

    @classmethod
    def key_from_edges(cls, head: bytes, tail: bytes, size: int) -> bytes:
        """The fingerprint as a set stores it: its 16 bytes."""
        return cls.key_of(size.to_bytes(8, "little") + head + tail)

    @classmethod
    def from_edges(cls, head: bytes, tail: bytes, size: int) -> str:
        return cls.key_from_edges(head, tail, size).hex()


@register
class Edges(_Fingerprint):
    """BLAKE2b-128: the first fingerprint (sets built before `edges-xxh3` carry it)."""

    name = "edges"

    @staticmethod
    def key_of(edges: bytes) -> bytes:
        return hashlib.blake2b(edges, digest_size=16).digest()


@register
class EdgesXXH3(_Fingerprint):
    """XXH3-128: what `hashset build` stores by default. It takes 0.3 us for 8 KiB where
    BLAKE2b takes 9-14, the largest part of screening a file once read. A fingerprint only
    picks files to hash whole, which a cryptographic digest then confirms, so a
    non-cryptographic one costs nothing in trust: a collision made on purpose buys a full
    read, never a hit."""

    name = "edges-xxh3"

    key_of = staticmethod(xxhash.xxh3_128_digest)


FINGERPRINT = EdgesXXH3.name   # the fingerprint `hashset build` stores by default
