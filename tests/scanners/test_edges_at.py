"""The batch screen's reads of a file by position (judge._edges_at, and its C twin: a folder's
descriptor, one run of a raw image) give what the judge's reads through a reader give
(reading.edges and containers.probe): the same edges, bytes read and container answer."""

from __future__ import annotations

import io
import os
import zipfile

import pytest

import archive_fixtures
from triage import containers
from triage.scanners import judge


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("inner.txt", b"hello " * 100)
    return out.getvalue()


def _files(collection_folder) -> dict:
    """Files of the sizes around the edges' and the probe's bounds, with and without marks:
    the archive collection's, random bytes, ISO's mark past the head, an archive appended."""
    random = os.urandom(60_000)
    files = {f"random-{n}": random[:n] for n in (
        1, 8, 9, 100, 4095, 4096, 4097, 8191, 8192, 8193, 12_288, 32_773, 36_869, 36_870,
        36_871, 50_000)}
    iso = bytearray(random[:40_000])
    iso[32_769:32_774] = b"CD001"
    files["iso-mark"] = bytes(iso)
    files["zip"] = _zip()
    files["appended-zip"] = random[:20_000] + _zip()
    # a zip's end-of-central-directory signature that ends no zip: too near the end, a record
    # the file does not end with, one too near the end after one that is not
    eocd = b"PK\x05\x06"
    files["eocd-too-near-the-end"] = random[:9_000] + eocd + bytes(10)
    files["eocd-not-ending-the-file"] = random[:9_000] + eocd + bytes(30)
    files["eocd-twice"] = random[:9_000] + eocd + bytes(40) + eocd + bytes(10)
    files["eocd-only"] = eocd + bytes(18)
    files["gzip-head"] = b"\x1f\x8b" + random[:9_000]
    for path in sorted(collection_folder.iterdir()):
        if path.is_file():
            files[path.name] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def laid_out(tmp_path_factory):
    """Each file on its own, and all of them in one blob at odd offsets (a raw image's runs)."""
    root = tmp_path_factory.mktemp("edges-at")
    folder, _ = archive_fixtures.collection(tmp_path_factory)
    files = _files(folder)
    places, blob = {}, bytearray()
    for name, data in files.items():
        (root / name).write_bytes(data)
        blob += os.urandom(777)
        places[name] = len(blob)
        blob += data
    (root / "blob").write_bytes(bytes(blob))
    return root, files, places


def _through_a_reader(path, size, sniff):
    with open(path, "rb") as reader:
        return judge._edges(reader, size, sniff)


def _compiled():
    if judge._edges_c is None:
        pytest.skip("the compiled screen (_edges.c) is not built")
    return judge._compiled_edges_at


@pytest.fixture(params=["python", "compiled"])
def edges_at(request):
    return judge._edges_at if request.param == "python" else _compiled()


def test_the_screen_reads_by_its_compiled_function_where_built():
    assert judge._read_at is (judge._edges_at if judge._edges_c is None else
                              judge._compiled_edges_at)


@pytest.mark.parametrize("sniff", [True, False])
def test_reads_by_position_answer_as_reads_through_a_reader(laid_out, sniff, edges_at):
    root, files, places = laid_out
    told = set()
    blob = os.open(root / "blob", os.O_RDONLY)
    try:
        for name, data in files.items():
            expected = _through_a_reader(root / name, len(data), sniff)
            assert edges_at(blob, places[name], len(data), sniff, strict=True) == \
                expected, name
            own = os.open(root / name, os.O_RDONLY)
            try:
                assert edges_at(own, 0, len(data), sniff, strict=False) == expected, name
            finally:
                os.close(own)
            told.add((name, expected[3]))
    finally:
        os.close(blob)
    if sniff:   # the answers compared are not all one: marks, ISO's, appended, none
        assert {("iso-mark", True), ("appended-zip", True), ("zip", True),
                ("gzip-head", True), ("random-50000", False), ("random-8", False),
                ("eocd-too-near-the-end", False), ("eocd-not-ending-the-file", False),
                ("eocd-twice", False), ("eocd-only", True)} <= told
        own = os.open(root / "zip", os.O_RDONLY)
        try:   # told by its head's mark, not as appended
            assert edges_at(own, 0, len(files["zip"]), True, strict=False)[4] is None
        finally:
            os.close(own)
        appended = _through_a_reader(root / "appended-zip", len(files["appended-zip"]), True)
        assert appended[4] is containers.READERS["zip"]


@pytest.fixture
def cut(laid_out, tmp_path):
    """(descriptor, the whole file's bytes, path) of a file of which 30,000 bytes of 50,000
    remain: a run the media ends inside, or a folder's file that shrank since it was listed."""
    data = laid_out[1]["random-50000"]
    path = tmp_path / "cut"
    path.write_bytes(data[:30_000])
    fd = os.open(path, os.O_RDONLY)
    try:
        yield fd, data, path
    finally:
        os.close(fd)


def test_a_file_the_media_ends_inside_raises_by_its_run_and_is_taken_short_in_a_folder(
        cut, edges_at):
    fd, data, path = cut
    with pytest.raises(OSError, match="the media ends inside the file"):
        edges_at(fd, 0, len(data), True, strict=True)
    with pytest.raises(OSError, match="the media ends inside the file"):
        edges_at(fd, 28_000, 4_000, False, strict=True)
    # a folder's file that shrank since it was listed: what a reader reads of it
    for sniff in (True, False):
        assert edges_at(fd, 0, len(data), sniff, strict=False) == \
            _through_a_reader(path, len(data), sniff)
    with pytest.raises(OSError):   # a read that fails: its error, as os.pread's
        edges_at(-1, 0, 100, True, strict=False)
    short = edges_at(fd, 28_000, 4_000, True, strict=False)
    assert short == (data[28_000:30_000], b"", 2_000, True, None)   # told by the full read


def test_the_screen_reads_a_one_run_file_of_a_raw_image_in_place(images):
    """The batch screen opens a file in one run of a raw image as its place there (no reader
    made), reads it by position, asks the OS for its spans and sees the page cache through
    the image's descriptor; a file not in one run gets its reader."""
    from triage.evidence import open_evidence
    from triage.evidence.tsk_walk import TskOpener
    with open_evidence(str(images / "ext4.raw")) as ev:
        entries = [e for e in ev.entries(runs=True) if e.size and isinstance(e.open, TskOpener)]
        placed = [e for e in entries if e.open.place() is not None]
        assert placed and len(placed) >= len(entries) // 2
        entry = placed[0]
        fd, base = entry.open.place()
        with entry.open() as reader:
            whole = reader.read()
        assert os.pread(fd, entry.size, base) == whole
        at = judge._opened(entry)
        assert type(at) is judge._At and (at.fd, at.base, at.size) == (fd, base, entry.size)
        at.prefetch(0, 4096)
        assert at.cached(0)   # just read above
        assert judge._edges(at, entry.size, False)[0] == whole[:4096]
        # what tells a file read only for its container marks reads it by position too
        assert containers.probe_source(at, entry.size) == \
            containers.probe_source(io.BytesIO(whole), entry.size)
        assert at.read_at(10, entry.size - 4) == whole[-4:]
        cut = judge._At(fd, base, entry.size + os.fstat(fd).st_size)   # past the media's end
        with pytest.raises(OSError, match="the media ends inside the file"):
            cut.read_at(cut.size, 0)
        others = [e for e in entries if e.open.place() is None]   # runs not known: a reader
        assert len(others) == 3
        for other in others:
            opened = judge._opened(other)
            assert type(opened) is not judge._At
            opened.close()


@pytest.fixture(params=["python", "compiled"])
def probe(request, monkeypatch):
    """judge._probe as the screen calls it: by probe_at where _edges.c is built, else (and in
    the "python" case, with it hidden) by containers.probe_source."""
    if request.param == "compiled":
        _compiled()
    else:
        monkeypatch.setattr(judge, "_edges_c", None)
    return judge._probe


def test_a_probe_by_position_answers_as_probe_source_through_a_reader(laid_out, probe):
    """What tells a file read only for its container marks (its first PROBE bytes, ISO's
    marks, its last 4 KiB): the same answer, the same bytes read, whether the file is read
    through a reader, by position on a folder's descriptor or in one run of a raw image."""
    root, files, places = laid_out
    told = set()
    blob = os.open(root / "blob", os.O_RDONLY)
    try:
        for name, data in files.items():
            size = len(data)
            with open(root / name, "rb") as reader:
                expected = containers.probe_source(reader, size)
            assert probe(judge._At(blob, places[name], size), size) == expected, name
            own = os.open(root / name, os.O_RDONLY)
            try:
                assert probe(own, size) == expected, name
            finally:
                os.close(own)
            told.add((name, expected[0], expected[1]))
    finally:
        os.close(blob)
    zip_reader = containers.READERS["zip"]
    with open(root / "appended-zip", "rb") as reader:
        assert containers.probe_source(reader, len(files["appended-zip"]))[2] is zip_reader
    # marks, ISO's past the head, appended, none; heads, far marks and tails read (a file of
    # 5,000 bytes: its head and its last 4 KiB, which overlap)
    assert {("iso-mark", True, 4096 + 4101), ("appended-zip", True, 4096 + 4096),
            ("zip", True, len(files["zip"])), ("gzip-head", True, 4096), ("random-8", False, 8),
            ("random-50000", False, 4096 + 4101 + 4096), ("random-4097", False, 4096 + 4096),
            ("eocd-only", True, 22), ("eocd-twice", False, 4096 + 4096)} <= told


def test_a_probe_of_a_file_the_media_ends_inside_raises_by_its_run_and_is_taken_short_in_a_folder(
        cut, probe):
    fd, data, path = cut
    with pytest.raises(OSError, match="the media ends inside the file"):
        probe(judge._At(fd, 0, len(data)), len(data))
    with pytest.raises(OSError, match="the media ends inside the file"):
        probe(judge._At(fd, 28_000, 4_000), 4_000)
    # a folder's file that shrank since it was listed: what its reader reads of it
    with open(path, "rb") as reader:
        assert probe(fd, len(data)) == containers.probe_source(reader, len(data))
    with pytest.raises(OSError):   # a read that fails: its error, as os.pread's
        probe(-1, 100)
