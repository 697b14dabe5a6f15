"""Telling a container by its head: a reader's marks (what libmagic's own rules look at) let a
head that shows none pass without asking libmagic; every kind still reaches its reader."""

from __future__ import annotations

import io
import os
import shutil

import magic
import pytest

from archive_fixtures import as_v7 as _as_v7, tar_head as _tar_head
from support import Counting
from triage import containers
from triage.containers.compressed import TarReader


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


# --- the probe: a 4 KiB head (and ISO's mark by a seek) tells most files are no container ---

def _probe(data: bytes):
    source = Counting(data)
    head = source.read(containers.PROBE)
    maybe, peeked = containers.probe(source, len(data), head)
    return maybe, peeked, source.handed


def test_the_probe_tells_no_container_from_4_kib_and_iso_s_marks(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("libmagic asked by the probe")
    monkeypatch.setattr(magic, "from_buffer", refuse)
    # under 32 KiB: the head alone; over it, one read of ISO 9660's three marks (32,769 to
    # 36,870): 8,197 bytes of a 100 KB file, not the 64 KiB head
    assert _probe(os.urandom(20_000)) == (False, 0, 4096)
    assert _probe(os.urandom(100_000)) == (False, 36_870 - 32_769, 4096 + 36_870 - 32_769)
    assert _probe(b"\xff\xd8\xff\xe0" + os.urandom(200_000))[0] is False
    assert _probe(b"tiny file")[:2] == (False, 0)
    assert _probe(b"tiny")[:2] == (False, 0)              # under MIN_SIZE: none at all


@pytest.mark.parametrize("at", [32769, 34817, 36865])
def test_the_probe_finds_iso_s_mark_by_a_seek(at, tmp_path):
    data = bytearray(os.urandom(40_000))
    data[at:at + 5] = b"CD001"
    assert _probe(bytes(data))[0] is True
    # a folder's file, as a file object and as the batch screen's bare descriptor: one
    # positioned read of the marks' 4,101 bytes
    (tmp_path / "iso").write_bytes(data)
    with io.FileIO(tmp_path / "iso", "rb") as f:
        head = os.pread(f.fileno(), containers.PROBE, 0)
        assert containers.probe(f, len(data), head) == (True, 36870 - 32769)
        assert containers.probe(f.fileno(), len(data), head) == (True, 36870 - 32769)
        data[at:at + 5] = b"CD002"
        (tmp_path / "iso").write_bytes(data)   # the same file, rewritten in place
        assert containers.probe(f.fileno(), len(data), head) == (False, 36870 - 32769)


def test_the_probe_never_passes_over_what_detect_tells(collection):
    """Every file of the archive collection that detect() names a container (on its 64 KiB
    head) the probe leaves to detect(); the loose pictures it rules out."""
    folder, _ = collection
    told = {}
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        kind = containers.detect(data[:containers.SNIFF])
        told[path.name] = (kind.name if kind else None, _probe(data)[0])
    assert told["disc.iso"] == ("iso9660", True)
    assert told["loose.jpg"] == (None, False)
    assert all(maybe for kind, maybe in told.values() if kind), told
    assert sum(1 for kind, _ in told.values() if kind) == len(told) - 1


def _judged(folder, hashset, archives=True):
    from triage.evidence import open_evidence
    from triage.hashsets import load
    from triage.scanners import Judge
    with load(hashset) as hs, open_evidence(str(folder)) as ev:
        judge = Judge([hs], archives=containers.Bounds() if archives else None)
        return {e.path: judge(e) for e in ev.entries()}


def test_a_file_read_only_to_tell_a_container_costs_its_4_kib_head(tmp_path, collection):
    """With archives on, a file no set could match by its size is opened only to tell a
    container: 4 KiB, ISO's marks and its last 4 KiB (an appended zip's end record), not a
    64 KiB head (which cost archives-on most of a screened scan's reading); a container found
    so is still opened."""
    folder = tmp_path / "ev"
    folder.mkdir()
    (folder / "other.bin").write_bytes(os.urandom(100_000))
    shutil.copy(collection[0] / "deflate.zip", folder / "deflate.zip")
    shutil.copy(collection[0] / "disc.iso", folder / "disc.iso")
    hashset = tmp_path / "set.csv"
    hashset.write_text("md5,size\n" + "0" * 32 + ",7\n")
    verdicts = _judged(folder, hashset)
    other = verdicts["/other.bin"]
    assert (other.status, other.bytes_read) == ("skipped", 4096 + 36_870 - 32_769 + 4096)
    for name in ("deflate.zip", "disc.iso"):
        assert {c.entry.member.member_path for c in verdicts[f"/{name}"].children} >= {
            "other.jpg", "notes.txt"}, name
    assert _judged(folder, hashset, archives=False)["/other.bin"].bytes_read == 0


def test_a_screened_file_is_told_no_container_from_its_screening_read(tmp_path):
    """A file screened by its sub-file fingerprint is told from the head screening read, in
    the same open: clean with nothing more read than the screen and ISO's marks."""
    from triage.hashsets.build import build_set
    ref, folder = tmp_path / "ref", tmp_path / "ev"
    ref.mkdir()
    folder.mkdir()
    (ref / "r.bin").write_bytes(os.urandom(50_000))
    (folder / "other.bin").write_bytes(os.urandom(50_000))
    build_set(ref, tmp_path / "ref.tset", names=("md5", "edges"))
    on = _judged(folder, tmp_path / "ref.tset")["/other.bin"]
    off = _judged(folder, tmp_path / "ref.tset", archives=False)["/other.bin"]
    assert (off.status, off.bytes_read) == ("clean", 8192)
    assert (on.status, on.bytes_read) == ("clean", 8192 + 36_870 - 32_769)


def _marked(head: bytes) -> bool:
    return containers.any_mark(head, containers.marks())


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
        assert _marked(head) is each, head[:16]


def test_a_reader_registered_later_is_screened_too(monkeypatch):
    containers.names()

    class Late(containers.ContainerReader):
        name = "late-test-kind"
        marks = ((12, b"LATE!"),)

    monkeypatch.setitem(containers.READERS._entries, Late.name, Late())
    assert _marked(bytes(12) + b"LATE!" + bytes(100))
    monkeypatch.delitem(containers.READERS._entries, Late.name)
    assert not _marked(bytes(12) + b"LATE!" + bytes(100))


def test_a_compressed_stream_certain_by_its_signature_is_told_as_libmagic_tells_it(
        collection, monkeypatch):
    """gzip (deflate), bzip2 (a block's or an empty stream's magic), xz and zstd by their whole
    signatures, without libmagic: the same reader as libmagic's answer gives, for streams
    written by each library (empty ones too), every file of the archive collection and of the
    fixtures; a text that only begins like bzip2 still goes to libmagic, and is none."""
    import bz2
    import gzip
    import lzma
    import zstandard
    from support import FIXTURES
    from triage.containers.compressed import CompressedReader
    heads = [make(data) for data in (b"", b"text " * 100, os.urandom(3000))
             for make in (gzip.compress, bz2.compress, lzma.compress,
                          zstandard.ZstdCompressor().compress)]
    heads += [path.read_bytes()[:containers.SNIFF] for folder in (collection[0], FIXTURES)
              for path in sorted(folder.rglob("*")) if path.is_file() and not path.is_symlink()]
    heads.append(b"BZh is how this text begins, and it is no bzip2 stream\n" * 20)
    ours = [containers.detect(head) for head in heads]
    assert CompressedReader().certain(heads[1]) and not CompressedReader().certain(heads[-1])
    asked = []
    monkeypatch.setattr(CompressedReader, "certain", lambda self, head: asked.append(1) and False)
    theirs = [containers.detect(head) for head in heads]
    assert [k and k.name for k in ours] == [k and k.name for k in theirs]
    assert [k and k.name for k in ours[:12]] == ["compressed"] * 12 and ours[-1] is None
    assert len(asked) > 20


@pytest.mark.parametrize("size, span", [(20_000, None), (32_773, None), (34_000, (32_769, 5)),
                                        (100_000, (32_769, 36_870 - 32_769)), (8, None)])
def test_what_the_probe_reads_past_its_head_is_known_before(size, span):
    """far_span says, before any read, what the probe then reads past a 4 KiB head."""
    assert containers.far_span(size, 4096) == span
    _, peeked, _ = _probe(os.urandom(size))
    assert peeked == (span[1] if span else 0)


class _Recording(io.BytesIO):
    def __init__(self, data, reads):
        super().__init__(data)
        self.reads = reads

    def read(self, size=-1):
        at = self.tell()
        block = super().read(size)
        self.reads.append((at, len(block)))
        return block


@pytest.mark.parametrize("size, spans", [
    (0, []), (3000, [(0, 3000)]), (20_000, [(0, 4096), (15_904, 4096)]),
    (100_000, [(0, 4096), (32_769, 4101), (95_904, 4096)])])
def test_what_probing_a_file_reads_is_known_before(size, spans):
    """probe_spans: what probe_entry reads of a file that is no container, before it reads."""
    from types import SimpleNamespace
    assert containers.probe_spans(size) == spans
    reads = []
    data = bytes(i * 7 % 251 for i in range(size))
    entry = SimpleNamespace(size=size, open=lambda: _Recording(data, reads))
    assert containers.probe_entry(entry)[0] is False
    assert [r for r in reads if r[1]] == spans
