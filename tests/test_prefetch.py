"""Asking the OS for a file's bytes ahead of reading them (triage.prefetch): a hint on the
right descriptor and spans, never a read."""

from __future__ import annotations

import io
import os

from support import AskedReader
from triage import prefetch


def _asked(monkeypatch) -> list:
    asked = []
    monkeypatch.setattr(os, "posix_fadvise",
                        lambda fd, at, n, advice: asked.append((fd, at, n, advice)))
    return asked


def test_a_folder_file_is_asked_for_by_its_spans_and_nothing_read(tmp_path, monkeypatch):
    """A folder's file: one posix_fadvise(WILLNEED) a span, on its own descriptor, spans
    within GAP of each other as one, none for an empty span (a length of 0 would ask for the
    rest of the file); the reader is left where it was."""
    path = tmp_path / "f"
    path.write_bytes(bytes(100_000))
    asked = _asked(monkeypatch)
    with io.FileIO(path, "rb") as f:
        prefetch.prefetch(f, [(95_904, 4096), (0, 4096), (5904, 4096), (100_000, 0)])
        assert asked == [(f.fileno(), 0, 10_000, os.POSIX_FADV_WILLNEED),
                         (f.fileno(), 95_904, 4096, os.POSIX_FADV_WILLNEED)]
        assert f.tell() == 0
        # its bare descriptor (the batch screen's, folder.OsFile.descriptor): the same
        asked.clear()
        prefetch.prefetch(f.fileno(), [(0, 4096), (10_000, 0)])
        assert asked == [(f.fileno(), 0, 4096, os.POSIX_FADV_WILLNEED)]


def test_a_reader_with_a_way_of_its_own_is_asked_through_it_and_one_without_is_not(monkeypatch):
    """A file read by its runs has a prefetch of its own (it asks its image); an archive
    member's stream has none, and is left alone."""
    asked = _asked(monkeypatch)

    class Own(io.BytesIO):
        def prefetch(self, at, n):
            asked.append(("own", at, n))
    prefetch.prefetch(Own(b"x"), [(0, 1), (70_000, 2), (9, 0)])
    prefetch.prefetch(io.BytesIO(b"x"), [(0, 1)])
    assert asked == [("own", 0, 1), ("own", 70_000, 2)]


def test_spans_that_overlap_touch_or_lie_within_a_gap_are_asked_for_as_one():
    """prefetch.joined: a file's head, ISO 9660's marks and tail, a few KiB apart, are one
    request of the device; spans further apart stay apart, and an empty one is left out."""
    gap = prefetch.GAP
    assert prefetch.joined([]) == []
    assert prefetch.joined([(10, 0)]) == []
    assert prefetch.joined([(100, 50), (0, 100)]) == [(0, 150)]              # touching
    assert prefetch.joined([(0, 100), (50, 10)]) == [(0, 100)]               # within
    assert prefetch.joined([(0, 100), (100 + gap, 1)]) == [(0, 101 + gap)]   # a gap apart
    assert prefetch.joined([(0, 100), (101 + gap, 1)]) == [(0, 100), (101 + gap, 1)]
    spans = [(0, 4096), (32_769, 6148), (36_864, 4096)]   # a 40 KiB file: head, marks, tail
    assert prefetch.joined(spans) == [(0, 4096), (32_769, 8191)]
    assert prefetch.joined(spans, gap=1 << 15) == [(0, 40_960)]


def test_where_the_platform_cannot_ask_nothing_is_asked(tmp_path, monkeypatch):
    """macOS and Windows have no posix_fadvise: the scan reads the same, unhinted."""
    asked = _asked(monkeypatch)
    monkeypatch.setattr(prefetch, "_WILLNEED", None)
    path = tmp_path / "f"
    path.write_bytes(b"data")
    with io.FileIO(path, "rb") as f:
        prefetch.prefetch(f, [(0, 4)])
    assert asked == []


def test_a_file_in_the_page_cache_is_told_from_one_on_the_device_alone(tmp_path, monkeypatch):
    """cached(): a read that does not wait (RWF_NOWAIT) of one byte; True when it got it,
    False when the device would be waited for (EAGAIN) or that cannot be told (EOPNOTSUPP,
    a reader that is not a folder's file, a platform without RWF_NOWAIT). Nothing moves the
    reader."""
    import errno
    path = tmp_path / "f"
    path.write_bytes(b"some bytes")
    with io.FileIO(path, "rb") as f:
        assert prefetch.cached(f) is True   # just written: in the page cache
        assert prefetch.cached(f.fileno()) is True   # as a bare descriptor too
        asked = []

        def refuse(fd, buffers, offset, flags):
            asked.append((fd, offset, flags))
            raise OSError(code, os.strerror(code))
        monkeypatch.setattr(os, "preadv", refuse)
        for code in (errno.EAGAIN, errno.EOPNOTSUPP):
            assert prefetch.cached(f, 4) is False
        assert asked == [(f.fileno(), 4, os.RWF_NOWAIT)] * 2
        assert f.tell() == 0
    assert prefetch.cached(io.BytesIO(b"x")) is False

    class Own(io.BytesIO):
        def cached(self, offset):
            return offset == 7
    assert (prefetch.cached(Own(), 7), prefetch.cached(Own(), 8)) == (True, False)
    monkeypatch.setattr(prefetch, "_NOWAIT", None)
    with io.FileIO(path, "rb") as f:
        assert prefetch.cached(f) is False


def test_a_stream_is_given_in_order_each_file_asked_for_ahead(monkeypatch):
    """asked_ahead: every item given, in order, each once the `depth` after it were asked for
    (opened, prefetched, closed); a file that cannot be opened, or has nothing to read, passed
    over; each run of `depth` a prefetch.Run: a file found cached is not asked for, the run
    asks once one is not, and nothing more once WARM are."""
    monkeypatch.setattr(prefetch, "WARM", 2)
    events = []

    class Item:
        def __init__(self, name):
            self.name = name

        def open(self):
            if self.name == "gone":
                raise FileNotFoundError(self.name)
            if self.name == "torn":   # pytsk3 raises RuntimeError on a damaged structure
                raise RuntimeError(self.name)
            events.append(("open", self.name))
            return AskedReader(self.name, events, warm=self.name.startswith("warm"))

    names = ["a", "gone", "none", "warm", "b", "c", "warm1", "warm2", "d", "torn", "e", "f"]
    items = [Item(n) for n in names]
    given = prefetch.asked_ahead(iter(items), lambda item: [] if item.name == "none"
                                 else [(0, 10)], depth=3)
    first = next(given)
    assert first.name == "a"
    # runs of 3: (a, gone, none): a asked; (warm, b, c): warm is there already, b is not, so
    # the run asks from b on
    assert events == [("open", "a"), ("ask", "a", 0, 10), ("close", "a"),
                      ("open", "warm"), ("close", "warm")]
    events.clear()
    assert [item.name for item in given] == names[1:]
    assert events == [
        ("open", "b"), ("ask", "b", 0, 10), ("close", "b"),
        ("open", "c"), ("ask", "c", 0, 10), ("close", "c"),
        # (warm1, warm2, d): two found cached (WARM), so d is not even opened
        ("open", "warm1"), ("close", "warm1"), ("open", "warm2"), ("close", "warm2"),
        # (torn, e, f): decided again, by e, torn passed over
        ("open", "e"), ("ask", "e", 0, 10), ("close", "e"),
        ("open", "f"), ("ask", "f", 0, 10), ("close", "f")]


class _Place:
    """A file read by its own means (as a file read by its runs is): cached or not, and what
    it was asked for."""

    def __init__(self, cached: bool):
        self.is_cached, self.asked = cached, []

    def cached(self, offset):
        return self.is_cached

    def prefetch(self, offset, length):
        self.asked.append((offset, length))


def test_a_run_taken_for_warm_by_chance_asks_once_a_file_is_not_cached():
    """A run sorted by place starts with the files beside their directory, read ahead with
    it: four cached files make it warm, but it looks again at its 4th, 8th, 16th ... file
    after that, and asks for every file from the first one found not cached."""
    from triage.prefetch import Run
    run = Run()
    files = [_Place(cached=i < 6) for i in range(40)]
    for f in files:
        if not run.stopped or run.again():
            run.ask(f, [(0, 4096)])
    # warm after the first 4; looked at again at the 4th after that (files[7]), not cached:
    # asked for from there on
    assert [i for i, f in enumerate(files) if f.asked] == list(range(7, 40))
    warm = Run()
    cached = [_Place(cached=True) for _ in range(256)]
    looked = 0
    for f in cached:
        if not warm.stopped or warm.again():
            looked += 1
            warm.ask(f, [(0, 4096)])
    assert warm.stopped and not any(f.asked for f in cached)
    assert looked == 4 + 6   # the first four, then the 4th, 8th ... 128th of the 252 after


def test_the_files_a_warm_run_looks_at_are_told_by_their_count():
    """prefetch.looked_at(n): the positions a Run of n files found cached looks at, as it
    looks at them one file at a time (what the batch screen looks at before it reads a warm
    batch in place)."""
    from triage.prefetch import Run, looked_at
    for count in (0, 1, 3, 4, 5, 7, 8, 11, 12, 100, 256, 1000):
        run, looked = Run(), []
        for at in range(count):
            if not run.stopped or run.again():
                looked.append(at)
                run.ask(_Place(cached=True), [(0, 4096)])
        assert looked_at(count) == looked, count
    assert looked_at(256) == [0, 1, 2, 3, 7, 11, 19, 35, 67, 131]
