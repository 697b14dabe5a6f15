"""Files are read in the order their content starts on the media."""

import os
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from triage.evidence import open_evidence
from triage.order import media_order


@dataclass
class Fake:
    name: str
    open: object


class Placed:
    def __init__(self, offset):
        self.offset = offset

    def first_offset(self):
        return self.offset


def test_sorted_by_first_offset_within_each_window_unknown_last():
    items = [Fake("c", Placed(300)), Fake("x", object()), Fake("a", Placed(100)),
             Fake("y", object()), Fake("b", Placed(200)), Fake("d", Placed(50))]
    assert [i.name for i in media_order(items, window=10)] == ["d", "a", "b", "c", "x", "y"]
    assert [i.name for i in media_order(items, window=3)] == ["a", "c", "x", "d", "b", "y"]
    # windows of 1, 2, then 3: the first files go out at once
    assert [i.name for i in media_order(items, window=3, first=1)] == [
        "c", "a", "x", "d", "b", "y"]
    wrapped = [(n, f) for n, f in enumerate(items)]
    assert [f.name for _, f in media_order(wrapped, lambda item: item[1])] == [
        "d", "a", "b", "c", "x", "y"]


def test_the_windows_grow_from_a_batch_s_worth_to_their_largest():
    """The first files are given once FIRST_WINDOW of them are walked, not a whole window."""
    from triage.order import FIRST_WINDOW, WINDOW
    given, walked = [], []

    def walk():
        for n in range(3 * WINDOW):
            walked.append(n)
            yield Fake(str(n), Placed(-n))   # each window comes out reversed
    for item in media_order(walk()):
        given.append((int(item.name), len(walked)))
    sizes, at = [], 0
    while at < 3 * WINDOW:
        sizes.append(min(FIRST_WINDOW << len(sizes), WINDOW, 3 * WINDOW - at))
        at += sizes[-1]
    assert sizes[:2] == [FIRST_WINDOW, 2 * FIRST_WINDOW] and sizes[-2] == WINDOW
    assert given[0] == (FIRST_WINDOW - 1, FIRST_WINDOW)   # the first window's last, first
    ends = [sum(sizes[:i + 1]) for i in range(len(sizes))]
    assert [n for n, _ in given] == [n for start, end in zip([0] + ends, ends)
                                     for n in reversed(range(start, end))]


@pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="needs e2fsprogs")
def test_an_image_file_s_first_offset_is_where_its_content_starts(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(20):
        (tree / f"f{i:02}.bin").write_bytes(os.urandom(1000 + 5000 * i))
    image = tmp_path / "ext4.raw"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(tree), str(image), "4M"], check=True)
    raw = image.read_bytes()
    with open_evidence(str(image)) as ev:
        files = [e for e in ev.entries() if e.path.endswith(".bin")]
        offsets = [e.open.first_offset() for e in files]
        for e, offset in zip(files, offsets):
            assert raw[offset:offset + 64] == (tree / e.path[1:]).read_bytes()[:64]
        ordered = list(media_order(files))
        assert [e.open.first_offset() for e in ordered] == sorted(offsets)
