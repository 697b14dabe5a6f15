"""An image's walk by directory (Evidence.directory_tasks, evidence.DirLister, what a shared
walk hands the workers): every directory's own listing, put together, gives what the walk
gives, entry for entry; images it cannot share are walked whole."""

import subprocess

import pytest

from support import mounted_ntfs

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
                                  "ext4.vmdk", "ntfs.raw", "mbr.E01"])
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


@pytest.mark.parametrize("name", ["ext4.raw", "ntfs.raw"])
def test_the_orphans_directory_is_left_to_the_main_process_and_listed_on_its_file_system(
        images, name):
    """TSK's virtual $OrphanFiles (its listing a search of every inode) is the one task marked
    `here`: listed by the main process with the DirLister whose file systems listed the
    directories (DirLister.traversal), which gives the same tasks and entries as a listing of
    their own."""
    with open_evidence(str(images / name)) as ev:
        tasks, items = _by_directory(ev)
        lister = DirLister(lambda path: ev)
        try:
            shared = list(ev.directory_tasks(lister=lister))
            here = [t for t in shared if isinstance(t, DirTask) and t.here]
            assert [t.path for t in here] == ["/$OrphanFiles"]
            assert [t._replace(here=False) for t in shared if isinstance(t, DirTask)] == \
                [t._replace(here=False) for t in tasks]
            orphans = list(lister.entries(here[0]))
        finally:
            lister.close()
    assert sorted(map(_shown, orphans)) == sorted(
        _shown(i) for i in items if isinstance(i, FileEntry) and
        i.path.startswith("/$OrphanFiles/"))


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


@pytest.mark.parametrize("name", ["iso9660.iso", "lvm.raw"])
def test_images_it_cannot_share_are_walked_whole(images, name):
    """ISO 9660, a logical volume behind a layer: the scan's main process walks them as
    before."""
    with open_evidence(str(images / name)) as ev:
        assert not ev.shares_walk()


@pytest.mark.parametrize("compiled", [True, False])
def test_an_ntfs_short_name_is_no_other_name_and_a_hard_link_is(tmp_path, monkeypatch,
                                                                 compiled):
    """An NTFS file's DOS (8.3) name is a $FILE_NAME of its own, which the MFT record's link
    count counts: a file with one is no file with other names (its entry carries no `device`),
    where two hard links are; in both listers' entries, the walk's and the directories'
    alike, with a named stream and a deleted file among them."""
    from triage.evidence import tsk_walk
    image = tmp_path / "ntfs.img"
    with mounted_ntfs(image, 16 << 20) as mnt:
        (mnt / "Long Folder Name").mkdir()
        (mnt / "Long Folder Name" / "first long name.txt").write_bytes(b"linked\n")
        (mnt / "second long name.txt").hardlink_to(mnt / "Long Folder Name" /
                                                   "first long name.txt")
        (mnt / "a long file name.txt").write_bytes(b"alone, with a short name\n")
        subprocess.run(["setfattr", "-n", "system.ntfs_dos_name", "-v", "ALONGF~1.TXT",
                        str(mnt / "a long file name.txt")], check=True)
        (mnt / "plain.txt").write_bytes(b"plain\n")
        subprocess.run(["setfattr", "-n", "user.secret", "-v", "a stream",
                        str(mnt / "plain.txt")], check=True)
        (mnt / "gone.txt").write_bytes(b"deleted\n")
        (mnt / "gone.txt").unlink()
    istat = subprocess.run(["istat", str(image), _inode(image, "a long file name.txt")],
                           capture_output=True, text=True, check=True).stdout
    assert "Links: 2" in istat and "ALONGF~1.TXT" in istat   # nlink counts the short name
    if not compiled:
        monkeypatch.setattr(tsk_walk, "_tskwalk", None)
    with open_evidence(str(image)) as ev:
        assert ev.shares_walk()
        walked = {e.path: e for e in ev.entries() if isinstance(e, FileEntry)
                  and not e.path.startswith("/$")}
        _, items = _by_directory(ev)
    assert {p: e.device for p, e in walked.items()} == {
        "/Long Folder Name/first long name.txt": 0, "/second long name.txt": 0,
        "/a long file name.txt": None, "/plain.txt": None, "/plain.txt:secret": None,
        "/gone.txt": None}
    assert not walked["/gone.txt"].allocated
    listed = [i for i in items if not (isinstance(i, FileEntry) and i.path.startswith("/$"))]
    assert sorted(map(_shown, listed)) == sorted(map(_shown, walked.values()))


def _inode(image, name: str) -> str:
    """The MFT entry of a file in the root of an NTFS image, as fls names it."""
    for line in subprocess.run(["fls", str(image)], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        kind, _, rest = line.partition(" ")
        address, _, shown = rest.partition(":\t")
        if shown == name:
            return address.split("-")[0]
    raise AssertionError(f"{name} not listed")
