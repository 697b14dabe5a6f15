"""Telling a container by its head: a reader's marks (what libmagic's own rules look at) let a
head that shows none pass without asking libmagic; every kind still reaches its reader."""

from __future__ import annotations

import io
import os
import tarfile

import magic
import pytest

from triage import containers
from triage.containers.compressed import TarReader


def _tar_head(name: str = "a.txt", data: bytes = b"hello") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _as_v7(head: bytes) -> bytes:
    """The same header as an old (v7) tar writes it: no magic, its checksum made again."""
    block = bytearray(head[:512])
    block[257:265] = bytes(8)
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\x00 " % sum(block)
    return bytes(block) + head[512:]


def test_a_head_no_reader_marks_is_no_container_and_libmagic_is_not_asked(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("libmagic asked about a head no container begins with")
    monkeypatch.setattr(magic, "from_buffer", refuse)
    for head in (os.urandom(65536), b"\x00" * 65536, b"plain text\n" * 100,
                 b"\xff\xd8\xff\xe0" + os.urandom(4000)):
        assert containers.detect(head) is None


def test_marked_heads_reach_their_readers():
    assert containers.detect(_tar_head()).name == "tar"
    v7 = _as_v7(_tar_head())
    assert TarReader().marked(v7) and not v7.startswith(b"ustar", 257)
    broken = bytearray(v7)
    broken[0] ^= 1            # a header whose checksum fails is no tar
    assert not TarReader().marked(bytes(broken))


@pytest.mark.parametrize("head,kind", [
    (b"PK\x05\x06" + bytes(18), "zip"),                       # an empty zip
    (b"\x1f\x8b\x08\x00" + bytes(6) + b"\x03\x00" + bytes(8), "compressed"),
    (b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(24), "7z"),
])
def test_each_mark_leads_to_libmagic_and_the_kind(head, kind):
    found = containers.detect(head)
    assert found is not None and found.name == kind


def test_the_one_pass_over_marks_says_what_each_reader_says():
    """detect() first asks whether any reader's mark is there, every plain mark at one offset
    in a single startswith: for every mark of every reader, and for heads showing none, the
    answer is the readers' own, one by one."""
    containers.names()   # every reader registered
    heads = [os.urandom(65536), bytes(65536), _tar_head(), _as_v7(_tar_head()), b"PK\x03"]
    for reader in containers.READERS.values():
        for at, mark in reader.marks or ():
            heads.append(bytes(at) + mark + os.urandom(64))
            heads.append(bytes(at) + mark[:-1])   # cut one byte short
    for head in heads:
        each = any(reader.marked(head) for reader in containers.READERS.values())
        assert containers._MARKS.any(head) is each, head[:16]


def test_a_reader_registered_later_is_screened_too(monkeypatch):
    containers.names()

    class Late(containers.ContainerReader):
        name = "late-test-kind"
        marks = ((12, b"LATE!"),)

    monkeypatch.setitem(containers.READERS._entries, Late.name, Late())
    assert containers._MARKS.any(bytes(12) + b"LATE!" + bytes(100))
    monkeypatch.delitem(containers.READERS._entries, Late.name)
    assert not containers._MARKS.any(bytes(12) + b"LATE!" + bytes(100))
