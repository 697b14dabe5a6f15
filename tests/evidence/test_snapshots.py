"""Volume Shadow Copies (--vss): no Linux tool writes them, so a real store has not been read
here. What is tested, through a stand-in for libvshadow whose stores read real NTFS images:
each store becomes a volume (`p2/vss1`), its files are listed as `vss<n>:/path`, and only the
files that are not the live volume's own (same path, MFT entry, size and times) are listed."""

from __future__ import annotations

import datetime
import sys
import types

import pytest

from support import load_truth
from triage.evidence import open_evidence
from triage.evidence.access import Access


class FakeStore:
    def __init__(self, data: bytes, number: int):
        self.data, self.number = data, number

    def get_identifier(self):
        return f"0000000{self.number}-aaaa-4bbb-8ccc-dddddddddddd"

    def get_creation_time(self):
        return datetime.datetime(2024, 1, self.number, 12, 0, 0)

    def get_volume_size(self):
        return len(self.data)

    def read_buffer_at_offset(self, size, offset):
        return self.data[offset:offset + size]

    def close(self):
        pass


@pytest.fixture
def fake_vshadow(images, monkeypatch):
    live = (images / "ntfs.raw").read_bytes()
    mbr = load_truth("mbr.raw")
    ntfs = next(v for v in mbr["volumes"] if v["fs_type"] == "ntfs")
    with open(images / "mbr.raw", "rb") as f:
        f.seek(ntfs["offset"])
        other = f.read(ntfs["length"])
    stores = [FakeStore(live, 1), FakeStore(other, 2)]   # 1: as the live volume; 2: another

    class FakeVolume:
        def open_file_object(self, f):
            pass

        def get_number_of_stores(self):
            return len(stores)

        def get_store(self, i):
            return stores[i]

        def close(self):
            pass

    module = types.SimpleNamespace(volume=FakeVolume,
                                   check_volume_signature_file_object=lambda f: True)
    monkeypatch.setitem(sys.modules, "pyvshadow", module)
    return ntfs


def test_shadow_copies_list_only_what_differs_from_the_live_volume(images, fake_vshadow):
    path = str(images / "ntfs.raw")
    with open_evidence(path, Access()) as ev:     # without --vss: nothing more
        assert [v.index for v in ev.volumes] == [0]
    with open_evidence(path, Access(snapshots=True)) as ev:
        volumes = {v.path: v for v in ev.volumes}
        entries = [e for e in ev.entries() if hasattr(e, "open")]
    assert set(volumes) == {None, "vss1", "vss2"}
    assert volumes["vss2"].description == "vss2 > ntfs"
    assert volumes["vss2"].layers[0] == {
        "kind": "vss", "store": 2, "identifier": "00000002-aaaa-4bbb-8ccc-dddddddddddd",
        "created": "2024-01-02T12:00:00Z"}
    by_volume = {}
    for e in entries:
        by_volume.setdefault(e.volume.path, []).append(e.path)
    live_truth = load_truth("ntfs.raw")["files"]
    assert len(by_volume[None]) == len(live_truth)
    assert "vss1" not in by_volume          # the same bytes as the live volume: nothing new
    other_truth = [f for f in load_truth("mbr.raw")["files"]
                   if f["volume_offset"] == fake_vshadow["offset"]]
    assert sorted(by_volume["vss2"]) == sorted(f"vss2:{f['path']}" for f in other_truth)
