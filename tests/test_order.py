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
    wrapped = [(n, f) for n, f in enumerate(items)]
    assert [f.name for _, f in media_order(wrapped, lambda item: item[1])] == [
        "d", "a", "b", "c", "x", "y"]


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
