"""Cryptographic digests: a file matches only when every byte is the same."""

from __future__ import annotations

import hashlib
from typing import ClassVar

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
