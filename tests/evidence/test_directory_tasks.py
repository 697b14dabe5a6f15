"""An image's walk by directory (Evidence.directory_tasks, evidence.DirLister, what a shared
walk hands the workers): every directory's own listing, put together, gives what the walk
gives, entry for entry; images it cannot share are walked whole."""

import subprocess

import pytest

from triage.evidence import DirLister, open_evidence
from triage.evidence.tsk_walk import DirTask
from triage.records import FileEntry, ScanError


def _by_directory(ev):
    tasks, items = [], []
    lister = DirLister(lambda path: ev)
    try:
        for item in ev.directory_tasks():
            if isinstance(item, DirTask):
                tasks.append(item)
                items += list(lister.entries(item))
            else:
                items.append(item)
    finally:
        lister.close()
    return tasks, items


def _shown(item):
    # repr: every field of an entry (its reader aside) or of an error
    return type(item).__name__, repr(item)


@pytest.mark.parametrize("name", ["ext4.raw", "fat16.raw", "exfat.raw", "gpt.raw",
                                  "ext4.vmdk"])
def test_the_directories_listings_give_the_walk_s_entries(images, name):
    with open_evidence(str(images / name)) as ev:
        assert ev.shares_walk()
        walked = list(ev.entries(runs=True))
        tasks, items = _by_directory(ev)
    assert sorted(map(_shown, items)) == sorted(map(_shown, walked))
    assert len({(t.volume, t.inode) for t in tasks}) == len(tasks)   # each directory once
    assert tasks[0].path == "" and all(t.parent != t.inode or t.path == "" for t in tasks)
    assert sum(isinstance(i, FileEntry) for i in items) == \
        sum(isinstance(i, FileEntry) for i in walked) > 0


def test_hard_links_carry_their_volume_and_deleted_names_their_inode(tmp_path):
    """An inode with other names gives each of its entries `device` (its volume), as a
    folder's hard links carry their device, in both listers' entries."""
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "one.txt").write_bytes(b"linked\n")
    (src / "two.txt").hardlink_to(src / "a" / "one.txt")
    (src / "three.txt").write_bytes(b"alone\n")
    image = tmp_path / "ext4.img"
    with open(image, "wb") as f:
        f.truncate(8 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-d", str(src), str(image)], check=True)
    with open_evidence(str(image)) as ev:
        walked = {e.path: e for e in ev.entries() if isinstance(e, FileEntry)}
        _, items = _by_directory(ev)
    assert {p: e.device for p, e in walked.items()} == {
        "/a/one.txt": 0, "/two.txt": 0, "/three.txt": None}
    assert sorted(map(_shown, items)) == sorted(map(_shown, walked.values()))
    assert not any(isinstance(i, ScanError) for i in items)


@pytest.mark.parametrize("name", ["mbr.E01", "iso9660.iso", "lvm.raw"])
def test_images_it_cannot_share_are_walked_whole(images, name):
    """NTFS (named streams; a short name counts as a link), ISO 9660, a logical volume behind
    a layer: the scan's main process walks them as before."""
    with open_evidence(str(images / name)) as ev:
        assert not ev.shares_walk()
