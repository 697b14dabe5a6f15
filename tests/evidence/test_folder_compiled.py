"""A folder's two listers give the same entries: the compiled one (_oslist.c, Linux) and
os.scandir's, on a tree with the cases a walk meets (hard links, links, FIFOs, times before 1970,
names of every kind, a folder past the path limit, a name that is not UTF-8)."""

from __future__ import annotations

import errno
import os
import sys

import pytest

from support import nest
from triage.evidence import folder
from triage.records import FileEntry, ScanError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the compiled lister is Linux's")


def test_the_compiled_lister_is_built_on_linux():
    """The install builds it wherever a C compiler is (CI has one): a silently skipped build
    would leave only the slow path."""
    assert folder._oslist is not None


def _walked(root, compiled: bool, monkeypatch) -> tuple:
    """Every record of the walk, each entry with what equality leaves out (how it opens), and
    how many folders the compiled lister listed."""
    listed = []
    with monkeypatch.context() as m:
        if compiled:
            real = folder._oslist.list
            m.setattr(folder._oslist, "list",
                      lambda *a: listed.append(real(*a)) or listed[-1], raising=False)
        else:
            m.setattr(folder, "_oslist", None)
        records = [(item, item.open) if isinstance(item, FileEntry) else (item, None)
                   for item in folder.walk(str(root), "ev")]
    return records, sum(rows is not None for rows in listed)


def _tree(root):
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty").mkdir()
    files = {"a.bin": b"a" * 5000, "B.txt": b"", "sub/x": b"x" * 70_000, "sub/deeper/y": b"y",
             "caf\u00e9 \U0001f600.jpg": b"c", "new\nline": b"n", "back\\slash": b"b",
             "sub/.hidden": b"h"}
    for name, data in files.items():
        (root / name).write_bytes(data)
    os.utime(root / "a.bin", ns=(-86_400 * 10**9 - 5, 1_234_567_890_123_456_789))
    os.link(root / "sub" / "x", root / "sub" / "x-link")   # two names: the device is kept
    (root / "link").symlink_to(root / "a.bin")
    os.mkfifo(root / "sub" / "fifo")
    nest(root / "sub" / "deeper", 70, {70: ("bottom.bin", b"deep"), 66: ("mid", b"m")})


def test_the_compiled_and_the_scandir_listers_give_the_same_entries(tmp_path, monkeypatch):
    root = tmp_path / "evidence"
    root.mkdir()
    _tree(root)
    compiled, used = _walked(root, True, monkeypatch)
    plain, _ = _walked(root, False, monkeypatch)
    assert used > 70   # every folder but none: the deep chain's included
    assert compiled == plain
    assert [vars(item) for item, _ in compiled] == [vars(item) for item, _ in plain]
    paths = [item.path for item, _ in compiled]
    assert paths[:5] == ["/B.txt", "/a.bin", "/back\\slash", "/caf\u00e9 \U0001f600.jpg",
                         "/new\nline"]
    assert paths[5:9] == ["/sub/.hidden", "/sub/x", "/sub/x-link", "/sub/deeper/y"]
    assert paths[-2].endswith("/mid") and paths[-1].endswith("/bottom.bin")
    assert len(paths) == 11 and not any(isinstance(item, ScanError) for item, _ in compiled)
    by_path = {item.path: item for item, _ in compiled}
    st = os.stat(root / "sub" / "x")
    assert by_path["/sub/x"].device == by_path["/sub/x-link"].device == st.st_dev
    assert by_path["/sub/x"].inode == st.st_ino and by_path["/sub/x"].size == 70_000
    assert by_path["/a.bin"].device is None
    # (mtime, atime): utime's ns is (atime, mtime)
    assert by_path["/a.bin"].times[:2] == ((1_234_567_890, 123_456_789), (-86_401, 999_999_995))
    assert by_path["/a.bin"].open == folder.OsFile(str(root / "a.bin"), False)
    with by_path[paths[-1]].open() as f:   # past the path limit, opened by its path
        assert f.read() == b"deep"


def test_a_folder_with_a_name_that_is_not_utf8_is_listed_by_scandir_in_its_order(
        tmp_path, monkeypatch):
    """Python sorts such a name by its surrogate escapes (after every UTF-8 name of the same
    start), not by its bytes: the compiled lister leaves that folder to scandir, whole."""
    root = tmp_path / "evidence"
    (root / "odd").mkdir(parents=True)
    for name in (b"a\xff", b"a\xc3\xa9", b"b", b"a\xee\x80\x80"):
        with open(os.path.join(os.fsencode(root / "odd"), name), "wb") as f:
            f.write(name)
    (root / "plain.txt").write_bytes(b"p")
    compiled, used = _walked(root, True, monkeypatch)
    plain, _ = _walked(root, False, monkeypatch)
    assert used == 1   # the root; "odd" by scandir
    assert compiled == plain
    assert [item.path for item, _ in compiled] == [
        "/plain.txt", "/odd/a\u00e9", "/odd/a\\xff", "/odd/a\ue000", "/odd/b"]


def test_a_name_the_compiled_lister_could_not_stat_is_an_error_record(tmp_path, monkeypatch):
    """Its row (what fstatat failed with) becomes the record scandir's path makes of it."""
    root = tmp_path / "evidence"
    (root / "d").mkdir(parents=True)
    real = folder._oslist.list

    def failing(fd, path, shown, maker, limit):
        rows = real(fd, path, shown, maker, limit)
        return rows + [("e", "gone", errno.EACCES)] if shown == "/d/" else rows
    monkeypatch.setattr(folder._oslist, "list", failing)
    records = list(folder.walk(str(root), "ev"))
    assert records == [ScanError("ev", "cannot stat: Permission denied", path="/d/gone")]


def test_a_folder_the_compiled_lister_cannot_open_is_an_error_record(tmp_path, monkeypatch):
    root = tmp_path / "evidence"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f").write_bytes(b"f")
    real_open = os.open

    def refusing(path, *a, **k):
        if str(path).endswith(os.sep + "d"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, *a, **k)
    monkeypatch.setattr(os, "open", refusing)
    records = list(folder.walk(str(root), "ev"))
    assert records == [ScanError("ev", "cannot list folder: Permission denied", path="/d")]


def test_a_folder_s_entries_pickle_whole(tmp_path):
    """Entries travel to the worker processes a batch at a time: every field, and how the
    file opens (an OsFile, a link followed or not), comes back equal."""
    import pickle
    root = tmp_path / "evidence"
    root.mkdir()
    _tree(root)
    walked = [e for e in folder.walk(str(root), "ev") if isinstance(e, FileEntry)]
    given = folder.single(str(root / "link"), "ev")   # named by the examiner: followed
    back = pickle.loads(pickle.dumps(walked + [given], protocol=5))
    assert back == walked + [given] and len(back) == 12
    assert [vars(e) for e in back] == [vars(e) for e in walked + [given]]
    assert [type(e.open) for e in back] == [folder.OsFile] * 12
    assert back[-1].open.follow and not any(e.open.follow for e in back[:-1])
    with back[-1].open() as f:
        assert f.read() == b"a" * 5000


def test_a_folder_of_more_names_than_the_limit_is_listed_by_scandir(tmp_path, monkeypatch):
    """The compiled lister makes a folder's entries all at once: a folder of more names than
    COMPILED_LIMIT (a million files would hold over a GB) goes to scandir, an entry at a time,
    with the same entries."""
    root = tmp_path / "evidence"
    (root / "small").mkdir(parents=True)
    (root / "large").mkdir()
    for n in range(3):
        (root / "small" / f"s{n}").write_bytes(b"s")
    for n in range(6):
        (root / "large" / f"l{n}").write_bytes(b"l" * n)
    monkeypatch.setattr(folder, "COMPILED_LIMIT", 5)
    compiled, used = _walked(root, True, monkeypatch)
    plain, _ = _walked(root, False, monkeypatch)
    assert used == 2   # the root and "small"; "large" (6 names) by scandir
    assert compiled == plain and [item.path for item, _ in compiled] == [
        *(f"/large/l{n}" for n in range(6)), *(f"/small/s{n}" for n in range(3))]
