"""The sub-file fingerprints: the same value from a whole stream (build) and from 8 KiB read at
a file's ends (scan), seekable reader or not; each digest pinned to its known value."""

import hashlib
import io
import random

import xxhash

import pytest

from triage import reading, signals
from triage.signals.exact import FINGERPRINT

PRINTS = ("edges", "edges-xxh3")


class Unseekable(io.RawIOBase):
    def __init__(self, data):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        return self._data.readinto(buffer)


@pytest.mark.parametrize("name", PRINTS)
@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 8191, 8192, 8193, 12288, 100_003])
def test_the_stream_and_the_ends_give_one_value(size, name):
    data = random.Random(size).randbytes(size)
    fingerprint = signals.get(name).from_edges
    streamed = signals.get(name).new()
    for i in range(0, size, 3000):   # blocks that straddle the 4 KiB marks
        streamed.update(data[i:i + 3000])
    head, tail = reading.edges(io.BytesIO(data), size)
    assert len(head) + len(tail) == min(size, 8192)
    assert head + tail == data[:4096] + data[max(4096, size - 4096):]
    assert fingerprint(head, tail, size) == streamed.hexdigest()
    assert reading.edges(Unseekable(data), size) == (head, tail)


@pytest.mark.parametrize("name", PRINTS)
def test_the_size_and_both_ends_count(name):
    fingerprint = signals.get(name).from_edges
    data = bytes(20_000)
    base = fingerprint(data[:4096], data[-4096:], 20_000)
    assert fingerprint(data[:4096], data[-4096:], 20_001) != base
    assert fingerprint(b"\1" + data[1:4096], data[-4096:], 20_000) != base
    assert fingerprint(data[:4096], data[-4096:-1] + b"\1", 20_000) != base
    assert signals.get(name).parse(base.upper()) == base
    assert signals.get(name).partial and not signals.get("md5").partial
    assert signals.get(name).key_from_edges(data[:4096], data[-4096:], 20_000).hex() == base


def test_each_fingerprint_is_its_digest_of_the_size_and_the_ends():
    """Pinned values: sets built by any version must keep matching, so neither digest may
    change. Each is its algorithm over the size's 8 bytes (little-endian), then the ends."""
    data = random.Random(7).randbytes(10_000)
    head, tail = data[:4096], data[-4096:]
    stream = (10_000).to_bytes(8, "little") + head + tail
    assert signals.get("edges").from_edges(head, tail, 10_000) == \
        hashlib.blake2b(stream, digest_size=16).hexdigest()
    assert signals.get("edges-xxh3").from_edges(head, tail, 10_000) == \
        xxhash.xxh3_128_hexdigest(stream)
    assert signals.get("edges").from_edges(head, tail, 10_000) == \
        "ff7715819c69b1242376e90e3d8e1e83"
    assert signals.get("edges-xxh3").from_edges(head, tail, 10_000) == \
        "dde86af4b586f1c7b080716b63f383d7"


def test_build_stores_the_fast_fingerprint_and_both_screen():
    assert FINGERPRINT == "edges-xxh3"
    empty = {signals.get(name).new().hexdigest() for name in PRINTS}
    assert len(empty) == 2   # the empty file's value differs: each is trivial in its own signal
    for name in PRINTS:
        assert signals.get(name).new().hexdigest() in signals.get(name).trivial


@pytest.mark.parametrize("size", [0, 100, 4097, 8192, 20_000, 65_536, 66_000, 69_632, 69_633,
                                  200_000])
@pytest.mark.parametrize("first", [4096, 65_536])
def test_a_longer_head_gives_the_same_tail(size, first):
    """The judge reads a container's 64 KiB sniff head and the fingerprint's ends in one go:
    the tail is cut from that head when it lies there, read on when it straddles its end."""
    data = random.Random(size).randbytes(size)
    for reader in (io.BytesIO(data), Unseekable(data)):
        head, tail = reading.edges(reader, size, first)
        assert head == data[:min(size, first)]
        assert tail == data[max(4096, size - 4096):]
