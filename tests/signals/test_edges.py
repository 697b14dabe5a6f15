"""The sub-file fingerprint: the same value from a whole stream (build) and from 8 KiB read at
a file's ends (scan), seekable reader or not."""

import io
import random

import pytest

from triage import reading, signals
from triage.signals.exact import fingerprint


class Unseekable(io.RawIOBase):
    def __init__(self, data):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        return self._data.readinto(buffer)


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 8191, 8192, 8193, 12288, 100_003])
def test_the_stream_and_the_ends_give_one_value(size):
    data = random.Random(size).randbytes(size)
    streamed = signals.get("edges").new()
    for i in range(0, size, 3000):   # blocks that straddle the 4 KiB marks
        streamed.update(data[i:i + 3000])
    head, tail = reading.edges(io.BytesIO(data), size)
    assert len(head) + len(tail) == min(size, 8192)
    assert head + tail == data[:4096] + data[max(4096, size - 4096):]
    assert fingerprint(head, tail, size) == streamed.hexdigest()
    assert reading.edges(Unseekable(data), size) == (head, tail)


def test_the_size_and_both_ends_count():
    data = bytes(20_000)
    base = fingerprint(data[:4096], data[-4096:], 20_000)
    assert fingerprint(data[:4096], data[-4096:], 20_001) != base
    assert fingerprint(b"\1" + data[1:4096], data[-4096:], 20_000) != base
    assert fingerprint(data[:4096], data[-4096:-1] + b"\1", 20_000) != base
    assert signals.get("edges").parse(base.upper()) == base
    assert signals.get("edges").partial and not signals.get("md5").partial


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
