"""The batch screen's reads of a file by position (judge._edges_at, and its C twin: a folder's
descriptor, one run of a raw image) give what the judge's reads through a reader give
(reading.edges and containers.probe): the same edges, bytes read and container answer."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from types import SimpleNamespace

import pytest
import xxhash

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
def screen_at(request):
    """What reads a chunk of files for the batch screen (judge._screen_many): _edges.c's
    screen where it is built, else judge._screen_at."""
    return judge._screen_at if request.param == "python" else _compiled_screen_at()


def _compiled_screen_at():
    _compiled()
    return judge._compiled_screen_at


def test_the_screen_reads_by_its_compiled_function_where_built_in_chunks():
    assert judge._screen_many is (judge._screen_at if judge._edges_c is None else
                                  judge._compiled_screen_at)


MODES = (judge.SCREEN_EDGES, judge.SCREEN_SNIFFED, judge.SCREEN_PROBED)


def _expected(path, size: int, mode: int):
    """The screen's answer of a file, from reads through a reader: its edges and container
    answer (judge._edges), or what tells a container (containers.probe_source)."""
    with open(path, "rb") as reader:
        if mode == judge.SCREEN_PROBED:
            maybe, read, _ = containers.probe_source(reader, size)
            return read, maybe, None
        head, tail, read, maybe, _ = judge._edges(reader, size, mode == judge.SCREEN_SNIFFED)
    return read, maybe, None if maybe else size.to_bytes(8, "little") + head + tail


def test_a_chunk_read_by_position_answers_as_reads_through_a_reader(laid_out, screen_at):
    """Every file in every mode, in one call: in one run of a raw image (strictly) and each
    on its own descriptor (as a folder's); the edges given are what a fingerprint digests."""
    root, files, places = laid_out
    names = sorted(files) * len(MODES)
    modes = [mode for mode in MODES for _ in sorted(files)]
    sizes = [len(files[name]) for name in names]
    expected = [_expected(root / name, len(files[name]), mode)
                for name, mode in zip(names, modes)]
    blob = os.open(root / "blob", os.O_RDONLY)
    try:
        assert screen_at([blob] * len(names), [places[name] for name in names], sizes, modes,
                         True) == expected
    finally:
        os.close(blob)
    own = {name: os.open(root / name, os.O_RDONLY) for name in files}
    try:
        assert screen_at([own[name] for name in names], [0] * len(names), sizes, modes,
                         False) == expected
    finally:
        for fd in own.values():
            os.close(fd)
    # a folder's files by their paths (opened there, as folder.open_descriptor opens them),
    # one that is gone among them
    assert screen_at([str(root / name) for name in names] + [str(root / "gone")],
                     [0] * (len(names) + 1), sizes + [100], modes + [judge.SCREEN_EDGES],
                     False) == expected + [None]
    told = {(name, mode): answer[:2] for name, mode, answer in zip(names, modes, expected)}
    # not all one: marks, ISO's past the head, appended, none; edges, far marks and tails read
    sniffed, probed = judge.SCREEN_SNIFFED, judge.SCREEN_PROBED
    assert told[("iso-mark", sniffed)] == (4096 + 4096 + 4101, True)
    assert told[("iso-mark", judge.SCREEN_EDGES)] == (4096 + 4096, False)
    assert told[("appended-zip", sniffed)][1] is True
    assert told[("random-50000", sniffed)] == (4096 + 4096 + 4101, False)
    assert told[("random-8", sniffed)] == (8, False)
    assert told[("eocd-twice", sniffed)][1] is False
    assert {("iso-mark", True, 4096 + 4101), ("appended-zip", True, 4096 + 4096),
            ("zip", True, len(files["zip"])), ("gzip-head", True, 4096), ("random-8", False, 8),
            ("random-50000", False, 4096 + 4101 + 4096), ("random-4097", False, 4096 + 4096),
            ("eocd-only", True, 22), ("eocd-twice", False, 4096 + 4096)} <= \
        {(name, maybe, read) for (name, mode), (read, maybe) in told.items() if mode == probed}


def test_the_edges_given_are_digested_as_key_from_edges_digests_them(laid_out):
    """A fingerprint's key_of, of the edges the screen gives, is key_from_edges of the file's
    head, tail and size, for each fingerprint signal."""
    from triage import signals
    root, files, _ = laid_out
    for name in ("random-1", "random-4096", "random-8193", "random-50000", "zip"):
        size = len(files[name])
        with open(root / name, "rb") as reader:
            head, tail, _, _, _ = judge._edges(reader, size, False)
        edges = _expected(root / name, size, judge.SCREEN_EDGES)[2]
        # the digests sets store: each library's, of the size's 8 bytes, the head and the tail
        streamed = {"edges": hashlib.blake2b(size.to_bytes(8, "little"), digest_size=16),
                    "edges-xxh3": xxhash.xxh3_128(size.to_bytes(8, "little"))}
        for signal in ("edges", "edges-xxh3"):
            kind = signals.get(signal)
            assert kind.key_of(edges) == kind.key_from_edges(head, tail, size), (name, signal)
            assert kind.key_of(edges).hex() == kind.from_edges(head, tail, size)
            streamed[signal].update(head)
            streamed[signal].update(tail)
            assert kind.key_of(edges) == streamed[signal].digest(), (name, signal)


def test_a_read_that_fails_is_a_files_answer_none_and_the_chunk_goes_on(cut, laid_out,
                                                                        screen_at):
    """A file the media ends inside (by its run), or whose read fails: None, and the next file
    of the chunk is read; a folder's file that shrank is taken as a reader reads it."""
    fd, data, path = cut
    root, files, _ = laid_out
    good = os.open(root / "random-50000", os.O_RDONLY)
    try:
        for mode in MODES:
            assert screen_at([fd, fd, -1, good], [0, 28_000, 0, 0],
                             [len(data), 4_000, 100, 50_000], [mode] * 4, True) == \
                [None, None, None, _expected(root / "random-50000", 50_000, mode)]
            assert screen_at([fd, -1], [0, 0], [len(data), 100], [mode] * 2, False) == \
                [_expected(path, len(data), mode), None]
    finally:
        os.close(good)


def test_the_compiled_chunk_raises_what_is_not_a_reads_error_and_refuses_bad_columns(cut):
    _compiled()
    fd, data, _ = cut
    spec = judge._spec()
    with pytest.raises(OSError, match="the media ends inside the file"):
        judge._edges_c.screen([fd], [0], [len(data)], bytes([0]), True, spec, ())
    with pytest.raises(ValueError):
        judge._edges_c.screen([fd, fd], [0], [len(data)], bytes([0]), True, spec, OSError)
    with pytest.raises(ValueError):
        judge._edges_c.screen([fd], [0], [len(data)], bytes([3]), True, spec, OSError)
    with pytest.raises(ValueError):
        judge._edges_c.screen([1 << 40], [0], [len(data)], bytes([0]), True, spec, OSError)
    assert judge._edges_c.screen([], [], [], b"", True, spec, OSError) == []


def test_a_plan_says_what_the_batch_screen_reads_of_a_file():
    """Plan.screen: its edges where fingerprints alone are called for (sniffed where it may
    open a container), a look for a container's marks where that alone is; None where the
    judge reads more (a full digest, a picture, a video's head) or nothing."""
    from triage.signals.exact import FINGERPRINT
    none, prints, md5 = frozenset(), frozenset({FINGERPRINT}), frozenset({"md5"})
    of = judge.Plan.of
    assert of(100_000, none, prints, False, False).screen == judge.SCREEN_EDGES
    assert of(100_000, none, prints, False, True).screen == judge.SCREEN_SNIFFED
    assert of(100_000, none, prints, False, True, video=True).screen == judge.SCREEN_SNIFFED
    assert of(100_000, none, none, False, True).screen == judge.SCREEN_PROBED
    assert of(100_000, none, none, False, True, video=True).screen is None
    assert of(100_000, md5, prints, False, False).screen is None
    assert of(100_000, none, prints, True, False).screen is None
    assert of(100_000, md5, none, False, True).screen is None
    assert of(100_000, none, none, False, False).screen is None


def test_the_screen_reads_a_chunk_of_sources_of_every_kind_in_order_and_closes_them(
        laid_out):
    """judge._screened: files opened as a folder's descriptors, places in a raw image and
    readers, mixed, read `chunk` at a time: each file's answer once, as read alone, and every
    source closed."""
    root, files, places = laid_out
    names = ["random-50000", "zip", "iso-mark", "random-8", "appended-zip", "random-4097",
             "eocd-only"]
    modes = [judge.SCREEN_SNIFFED, judge.SCREEN_SNIFFED, judge.SCREEN_EDGES,
             judge.SCREEN_PROBED, judge.SCREEN_PROBED, judge.SCREEN_EDGES,
             judge.SCREEN_SNIFFED]
    blob = os.open(root / "blob", os.O_RDONLY)
    try:
        opened, readers, fds = [], [], []
        for at, (name, mode) in enumerate(zip(names, modes)):
            size = len(files[name])
            if at % 3 == 0:
                fds.append(os.open(root / name, os.O_RDONLY))
                source = fds[-1]
            elif at % 3 == 1:
                source = judge._At(blob, places[name], size)
            else:
                readers.append(open(root / name, "rb"))
                source = readers[-1]
            plan = judge.Plan(frozenset(), frozenset(), False, False, True, 0, mode)
            opened.append((at, SimpleNamespace(size=size), source, plan))
        expected = [_expected(root / name, len(files[name]), mode)
                    for name, mode in zip(names, modes)]
        answers = list(judge._screened(iter(opened), chunk=3))
        for fd in fds:   # closed (looked at before anything else is opened)
            with pytest.raises(OSError):
                os.fstat(fd)
        assert all(reader.closed for reader in readers)
        answers.sort(key=lambda answer: answer[0])
        assert [(at, plan.screen) for at, plan, _ in answers] == list(enumerate(modes))
        assert [answer for _, _, answer in answers] == expected
    finally:
        os.close(blob)


@pytest.mark.parametrize("warm", [True, False])
def test_a_batch_is_screened_alike_in_place_and_through_opened_sources(laid_out, tmp_path,
                                                                        monkeypatch, warm):
    """judge._screen_all: a folder's files, found in the page cache, read by their paths in
    chunks, and otherwise (a cold cache, a path too long to be opened whole, a file that is
    not a folder's) opened and asked for one by one: the same answer of each file either way,
    in any mix; a file gone since it was listed is not read here."""
    from triage.evidence import folder as folder_module
    root, files, _ = laid_out
    deep = tmp_path / ("d" * 200) / ("e" * 200) / ("f" * 200) / ("g" * 200) / ("h" * 200)
    deep.mkdir(parents=True)
    (deep / "deep.bin").write_bytes(files["random-50000"])
    named = [(root / name, len(data)) for name, data in sorted(files.items())]
    named += [(deep / "deep.bin", 50_000), (root / "gone", 100)]
    modes = [(judge.SCREEN_EDGES, judge.SCREEN_SNIFFED, judge.SCREEN_PROBED)[i % 3]
             for i in range(len(named))]
    items = []
    for at, ((path, size), mode) in enumerate(zip(named, modes)):
        entry = SimpleNamespace(size=size, open=folder_module.OsFile(str(path)))
        items.append((at, entry, judge.Plan(frozenset(), frozenset(), False, False, True, 0,
                                            mode)))
    # a reader of another kind among them
    reader_entry = SimpleNamespace(size=len(files["zip"]),
                                   open=lambda: open(root / "zip", "rb"))
    items.append((len(items), reader_entry,
                  judge.Plan(frozenset(), frozenset(), False, False, True, 0,
                             judge.SCREEN_SNIFFED)))
    looked = []
    monkeypatch.setattr(judge, "in_cache", lambda fd, offset: looked.append(fd) or warm)
    answers = list(judge._screen_all(items, chunk=5))
    # each file answered once (the gone one, if at all, with None: not read here)
    assert sorted(at for at, _, _ in answers if at != len(named) - 1) == \
        [at for at, _, _ in items if at != len(named) - 1]
    assert all(answer is None for at, _, answer in answers if at == len(named) - 1)
    assert all(plan is items[at][2] for at, plan, _ in answers)
    expected = {at: _expected(path, size, mode)
                for at, ((path, size), mode) in enumerate(zip(named[:-1], modes))}
    expected[len(named)] = _expected(root / "zip", len(files["zip"]), judge.SCREEN_SNIFFED)
    assert {at: answer for at, _, answer in answers if answer is not None} == expected
    assert looked   # the cache was looked at


class _OddReader(containers.ContainerReader):
    """A reader that tests a head itself, in Python: the screen calls it with the head."""

    name = "odd-test"

    def marked(self, head: bytes) -> bool:
        return head[200:207] == b"ODDMARK" and len(head) > 300


def test_a_reader_that_tests_a_head_itself_is_asked_with_the_head(tmp_path, monkeypatch,
                                                                   screen_at):
    """A reader whose `marked` is Python's is given the head as bytes (the compiled screen
    makes them only for it; tar's own test it runs on the bytes as they are): the same
    answers as through a reader, its mark found or not."""
    monkeypatch.setitem(containers.READERS._entries, _OddReader.name, _OddReader())
    assert any(type(reader) is _OddReader for reader in containers.marks().others)
    body = bytearray(os.urandom(20_000))
    body[200:207] = b"ODDMARK"
    files = {"odd": bytes(body), "short-odd": bytes(body[:250]), "plain": os.urandom(20_000),
             "tar": archive_fixtures.tar_head() + os.urandom(9_000)}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    names = sorted(files)
    modes = [judge.SCREEN_SNIFFED] * len(names)
    answers = screen_at([str(tmp_path / name) for name in names], [0] * len(names),
                        [len(files[name]) for name in names], modes, False)
    assert answers == [_expected(tmp_path / name, len(files[name]), judge.SCREEN_SNIFFED)
                       for name in names]
    assert {name: answer[1] for name, answer in zip(names, answers)} == {
        "odd": True, "short-odd": False, "plain": False, "tar": True}


def test_a_folder_file_whose_name_is_not_utf8_is_read_by_its_path(tmp_path, screen_at):
    """A path as Python holds a name that is not UTF-8 (its bytes as surrogate escapes) opens
    the file it names, in C as in os.open."""
    data = os.urandom(9_000)
    path = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.bin")
    with open(os.fsencode(path), "wb") as out:
        out.write(data)
    assert screen_at([path], [0], [len(data)], [judge.SCREEN_EDGES], False) == [
        (8192, False, len(data).to_bytes(8, "little") + data[:4096] + data[-4096:])]
