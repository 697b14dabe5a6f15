"""Files read straight from the media by their runs (tsk_walk.RunReader): the same bytes as
TSK gives, only where TSK reads exactly the runs, and damage and short media still told."""

from __future__ import annotations

import hashlib
import pickle

import pytest

from support import mounted_ntfs
from triage.errors import DamagedMedia
from triage.evidence import open_evidence, reopen, tsk_walk
from triage.records import FileEntry

# (files the walk lists, files read by their runs): allocated files of ext and FAT volumes,
# and of NTFS where the compiled lister sees that a file's initialized size is its size
# (pytsk3 does not show it); none of exFAT (its valid data length may stop short).
COMPILED = tsk_walk._tskwalk is not None
EXPECTED = {"ext4.raw": (17, 13), "fat16.raw": (26, 16), "mbr.raw": (39, 10 if COMPILED else 5),
            "gpt.raw": (12, 3), "superfloppy.raw": (4, 3), "ntfs.raw": (39, 6 if COMPILED else 0),
            "exfat.raw": (9, 0)}


def _entries(ev, runs=True):
    """The walk's file entries, as a scan walks (runs=True: the compiled lister gives each
    live file's runs as it lists it)."""
    return [e for e in ev.entries(deleted=True, runs=runs)
            if isinstance(e, FileEntry) and isinstance(e.open, tsk_walk.TskOpener)]


@pytest.mark.skipif(not COMPILED, reason="the compiled lister is not built")
def test_a_listing_is_given_no_runs_and_a_scan_walk_is(images):
    """Runs cost the lister a little a file: a walk that reads nothing (triage files) is not
    given them; a scan's walk is, for every live NTFS and ext file whose runs are all of it."""
    with open_evidence(str(images / "ntfs.raw")) as ev:
        assert [e.path for e in _entries(ev, runs=False) if e.open.runs] == []
        assert len([e for e in _entries(ev) if e.open.runs]) == EXPECTED["ntfs.raw"][1]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_files_read_by_their_runs_give_what_tsk_gives(images, name):
    listed = direct = 0
    with open_evidence(str(images / name)) as ev:
        for entry in _entries(ev):
            listed += 1
            opener = entry.open
            first = opener.first_offset()
            if opener.runs is None:
                continue
            direct += 1
            assert first == opener.runs[0][0]
            assert sum(length for _, length in opener.runs) == entry.size
            with entry.open() as reader:
                assert isinstance(reader, tsk_walk.RunReader)
                by_runs = reader.read()
                reader.seek(entry.size // 2)   # a read from the middle, as a tail's
                middle = reader.read(5000)
            runs, opener.runs = opener.runs, None
            with entry.open() as reader:
                assert isinstance(reader, tsk_walk.TskReader)
                by_tsk = reader.read()
            opener.runs = runs
            assert by_runs == by_tsk, entry.path
            assert middle == by_tsk[entry.size // 2:entry.size // 2 + 5000], entry.path
    assert (listed, direct) == EXPECTED[name]


def test_a_worker_reads_by_runs_without_reopening_the_file(images, monkeypatch):
    """The runs travel with the pickled entry: the worker reads the media through its own
    handle, and never asks TSK for the file."""
    with open_evidence(str(images / "ext4.raw")) as ev:
        entries = _entries(ev)
        wanted = {}
        for entry in entries:
            entry.open.first_offset()
            if entry.open.runs is not None:
                with entry.open() as reader:
                    wanted[entry.path] = hashlib.md5(reader.read()).hexdigest()
        travelled = pickle.loads(pickle.dumps(
            [e for e in entries if e.open.runs is not None]))
    assert len(travelled) == 13

    def no_reopen(self, locator):
        raise AssertionError("reopened through TSK")
    monkeypatch.setattr(reopen.Handles, "open_file", no_reopen)
    handles = reopen.Handles(open_evidence).install()
    try:
        for entry in travelled:
            with entry.open() as reader:
                assert hashlib.md5(reader.read()).hexdigest() == wanted[entry.path]
    finally:
        handles.close()
        monkeypatch.setattr(reopen, "_installed", None)


class _Media:
    """Media of 1 MiB of counting bytes, with damaged ranges as an EWF image reports them."""

    def __init__(self, size=1 << 20, damaged=()):
        self.size, self._damaged = size, list(damaged)
        self.data = bytes(i % 251 for i in range(size))

    def read(self, offset, length):
        return self.data[offset:offset + length]

    def damage_seen(self):
        return len(self._damaged)

    def damaged(self):
        return list(self._damaged)

    def descriptor(self):   # not a raw file: read through read()
        return None


def test_runs_are_read_in_the_files_order():
    media = _Media()
    reader = tsk_walk.RunReader(media, ((8192, 4096), (0, 4096), (65536, 100)), 8292)
    assert reader.read() == media.data[8192:12288] + media.data[0:4096] + \
        media.data[65536:65636]
    reader.seek(4000)
    assert reader.read(200) == media.data[12192:12288] + media.data[0:104]


def test_a_read_by_position_reads_as_seek_and_read_and_leaves_the_position():
    """read_at (streams.positioned: the batch screen's edges and container marks)."""
    from triage.reading import edges
    from triage.streams import positioned
    media = _Media()
    reader = tsk_walk.RunReader(media, ((8192, 4096), (0, 4096), (65536, 100)), 8292)
    whole = media.data[8192:12288] + media.data[0:4096] + media.data[65536:65636]
    reader.seek(123)
    for at, size in ((0, 4096), (4000, 200), (8192, 500), (8200, 4096), (9000, 10)):
        assert reader.read_at(size, at) == whole[at:at + size]
    assert reader.tell() == 123
    assert positioned(reader) == reader.read_at
    assert edges(reader, 8292) == (whole[:4096], whole[4196:8292])


def test_content_in_a_damaged_chunk_is_an_error_not_zeros():
    media = _Media(damaged=[(65536, 32768)])
    clean = tsk_walk.RunReader(media, ((0, 4096),), 4096)
    assert clean.read() == media.data[:4096]   # damage elsewhere: read as it is
    hurt = tsk_walk.RunReader(media, ((0, 4096), (70000, 4096)), 8192)
    with pytest.raises(DamagedMedia) as raised:
        hurt.read()
    assert (raised.value.offset, raised.value.length) == (65536, 32768)


def test_a_file_running_past_the_end_of_the_media_is_a_read_error():
    media = _Media(size=10000)
    reader = tsk_walk.RunReader(media, ((8192, 4096),), 4096)
    with pytest.raises(OSError, match="media ends inside the file"):
        reader.read()


def test_a_fragmented_file_reads_by_its_runs_as_written(tmp_path):
    """A FAT file written into the holes left by deleted ones lies in many runs: read by them,
    its bytes are the ones written (mtools wrote them; MD5 of the source)."""
    import shutil
    import subprocess
    if not (shutil.which("mkfs.vfat") and shutil.which("mcopy")):
        pytest.skip("dosfstools and mtools are not installed")
    image = tmp_path / "frag.img"
    image.write_bytes(bytes(4 << 20))
    subprocess.run(["mkfs.vfat", "-F", "16", "-s", "1", str(image)], check=True,
                   capture_output=True)
    small = tmp_path / "small.bin"
    small.write_bytes(bytes(range(256)) * 4)        # two 512-byte clusters each
    names = [f"::s{i}.bin" for i in range(40)]
    for name in names:
        subprocess.run(["mcopy", "-i", str(image), str(small), name], check=True)
    subprocess.run(["mdel", "-i", str(image), *names[::2]], check=True)
    big = tmp_path / "big.bin"
    big.write_bytes(hashlib.sha256(b"seed").digest() * 1500)   # 48,000 bytes, 94 clusters
    subprocess.run(["mcopy", "-i", str(image), str(big), "::big.bin"], check=True)
    with open_evidence(str(image)) as ev:
        (entry,) = [e for e in _entries(ev) if e.path == "/big.bin"]
        entry.open.first_offset()
        assert len(entry.open.runs) >= 20     # the 20 two-cluster holes, then the rest
        with entry.open() as reader:
            assert isinstance(reader, tsk_walk.RunReader)
            assert hashlib.md5(reader.read()).digest() == hashlib.md5(big.read_bytes()).digest()


@pytest.mark.skipif(not COMPILED, reason="the compiled lister (which sees NTFS's initialized "
                                         "size) is not built")
def test_ntfs_sparse_and_compressed_files_are_read_through_tsk(tmp_path):
    """On NTFS the compiled lister gives a plain file's runs; a sparse file (its holes read as
    zeros) and a compressed one (its runs hold compressed bytes) are read through TSK. Made
    with ntfs-3g through a loop device (its unmount then waits for every write), as the
    fixtures are; skipped where any of that is missing."""
    import subprocess
    image = tmp_path / "ntfs.img"
    plain = hashlib.sha256(b"plain").digest() * 9000               # 288,000 bytes
    compressible = b"a line that compresses well\n" * 20000
    with mounted_ntfs(image, 8 << 20, "compression") as mountpoint:
        (mountpoint / "plain.bin").write_bytes(plain)
        with open(mountpoint / "sparse.bin", "wb") as f:
            f.write(b"head" * 1000)
            f.seek(3_000_000)
            f.write(b"tail" * 1000)
        (mountpoint / "packed").mkdir()
        subprocess.run(["setfattr", "-n", "system.ntfs_attrib_be", "-v", "0x00000800",
                        str(mountpoint / "packed")], check=True)
        (mountpoint / "packed" / "comp.txt").write_bytes(compressible)
    sparse = b"head" * 1000 + bytes(3_000_000 - 4000) + b"tail" * 1000
    wanted = {"/plain.bin": (plain, tsk_walk.RunReader),
              "/sparse.bin": (sparse, tsk_walk.TskReader),
              "/packed/comp.txt": (compressible, tsk_walk.TskReader)}
    with open_evidence(str(image)) as ev:
        found = {e.path: e for e in _entries(ev) if e.path in wanted}
        assert set(found) == set(wanted)
        for path, (data, kind) in wanted.items():
            entry = found[path]
            entry.open.first_offset()
            with entry.open() as reader:
                assert isinstance(reader, kind), path
                assert hashlib.md5(reader.read()).digest() == hashlib.md5(data).digest(), path


class _Asked:
    """A media that records what is asked of it ahead of reading."""

    def __init__(self):
        self.asked = []

    def prefetch(self, offset, length):
        self.asked.append((offset, length))

    def cached(self, offset):
        self.asked.append(("cached", offset))
        return offset == 50_000


def test_a_span_of_a_file_is_asked_of_the_media_where_its_runs_put_it():
    """A span of a file read by its runs is asked of the media run by run, at the media's
    offsets, no further than the file's size, and nothing for a span past its end."""
    media = _Asked()
    reader = tsk_walk.RunReader(media, ((10_000, 4096), (50_000, 8192), (90_000, 4096)), 15_000)
    reader.prefetch(0, 4096)
    reader.prefetch(4000, 5000)              # from the end of the first run into the second
    reader.prefetch(11_000, 4096)            # the last run, cut at the file's size
    reader.prefetch(15_000, 4096)            # past the end: nothing
    assert media.asked == [(10_000, 4096), (14_000, 96), (50_000, 4904), (56_904, 1288),
                           (90_000, 2712)]
    assert reader.tell() == 0


def test_whether_a_file_byte_is_cached_is_asked_of_the_media_byte_that_holds_it():
    media = _Asked()
    reader = tsk_walk.RunReader(media, ((10_000, 4096), (50_000, 8192)), 12_000)
    assert [reader.cached(0), reader.cached(4096), reader.cached(4097), reader.cached(20_000)] \
        == [False, True, False, False]
    assert media.asked == [("cached", 10_000), ("cached", 50_000), ("cached", 50_001)]


def test_a_file_in_one_run_of_a_raw_image_is_read_by_the_image_s_descriptor(images, tmp_path):
    """OneRunReader: the same bytes by every read, a short image still an error, and only
    where the media is one raw file (an E01's files keep the media's reads)."""
    import os
    from triage.streams import positioned
    with open_evidence(str(images / "ext4.raw")) as ev:
        entries = [e for e in _entries(ev) if e.open.runs and len(e.open.runs) == 1]
        assert len(entries) >= 10
        for entry in entries:
            with entry.open() as reader:
                assert type(reader) is tsk_walk.OneRunReader
                whole = reader.read()
                reader.seek(entry.size // 3)
                assert reader.read(777) == whole[entry.size // 3:entry.size // 3 + 777]
                assert positioned(reader)(5000, 100) == whole[100:5100]
                assert reader.read_at(10, entry.size) == b""
            runs, entry.open.runs = entry.open.runs, None
            with entry.open() as tsk:   # TSK's own read of it
                assert tsk.read() == whole
            entry.open.runs = runs
    media = _Media(size=10000)
    assert type(tsk_walk.RunReader.of(media, ((0, 4096),), 4096)) is tsk_walk.RunReader
    cut = tmp_path / "cut.raw"
    cut.write_bytes(media.data)
    fd = os.open(cut, os.O_RDONLY)
    try:
        media.descriptor = lambda: fd
        short = tsk_walk.RunReader.of(media, ((8192, 4096),), 4096)
        assert type(short) is tsk_walk.OneRunReader
        assert short.read_at(100, 0) == media.data[8192:8292]
        with pytest.raises(OSError, match="media ends inside the file"):
            short.read()
    finally:
        os.close(fd)
