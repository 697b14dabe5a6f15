"""The walk's two listers give the same entries: the compiled one (_tskwalk.c against the
system's libtsk) and pytsk3's, on every fixture image and on the derived images whose patched
entries (a file named '..', a name holding a NUL) take the walk's rarer paths."""

from __future__ import annotations

import hashlib
import os
import pickle

import pytest

from support import build_script, load_truth, truth_names
from triage.evidence import open_evidence, tsk_walk
from triage.records import FileEntry, Volume, quick_maker

HEADERS = "/usr/include/tsk/libtsk.h"


def test_the_compiled_lister_is_built_where_libtsk_is_installed():
    """CI installs libtsk-dev (.ci/run), so there the helper must have been built: a silently
    skipped build would leave only the slow path."""
    if not os.path.exists(HEADERS):
        pytest.skip("libtsk-dev is not installed: the pure-Python path is the only one")
    assert tsk_walk._tskwalk is not None


def _listing(path, compiled: bool, monkeypatch) -> list:
    """Every record, with what equality leaves out of a FileEntry (how its content opens)."""
    with monkeypatch.context() as m:
        if not compiled:
            m.setattr(tsk_walk, "_tskwalk", None)
        used = []
        real = tsk_walk._lister
        m.setattr(tsk_walk, "_lister", lambda *a: used.append(real(*a)) or used[-1])
        with open_evidence(str(path)) as ev:
            records = []
            for item in ev.entries():
                opened = getattr(item, "open", None)
                extra = None
                if isinstance(opened, tsk_walk.TskOpener):
                    extra = (opened.locator, opened.size, opened.short_ok, opened.geometry,
                             opened.first_offset(), opened.extents())
                records.append((type(item).__name__, item, extra))
            kinds = {type(lister).__name__ for lister in used}
            return records, kinds


def _images(images) -> list:
    names = []
    for name in truth_names():
        names.append(images / load_truth(name)["segments"][0])
    return sorted(set(names))


def _derived(images, tmp_path) -> list:
    build = build_script()
    made = []
    for name, derived in sorted(build.DERIVED.items()):
        base = load_truth(derived.base)
        image = tmp_path / name
        image.write_bytes(build.derive(derived, (images / base["segments"][0]).read_bytes()))
        made.append(image)
    return made


@pytest.mark.skipif(tsk_walk._tskwalk is None, reason="the compiled lister is not built")
def test_both_listers_give_the_same_entries(images, tmp_path, monkeypatch):
    compiled_used = 0
    for path in _images(images) + _derived(images, tmp_path):
        fast, fast_kinds = _listing(path, True, monkeypatch)
        slow, slow_kinds = _listing(path, False, monkeypatch)
        assert "_CompiledLister" not in slow_kinds
        compiled_used += "_CompiledLister" in fast_kinds
        assert len(fast) == len(slow), path.name
        for a, b in zip(fast, slow):
            assert a == b, path.name
            if a[0] == "FileEntry":   # the fields equality leaves out compare too
                assert (a[1].open is None) == (b[1].open is None)
    # ext4, NTFS and the GPT, MBR and split images with their ext/NTFS volumes, the derived ones
    assert compiled_used >= 6


@pytest.mark.skipif(tsk_walk._tskwalk is None, reason="the compiled lister is not built")
def test_compiled_listing_reads_the_same_content(images):
    """An entry of the compiled walk opens by address: same bytes as fls/icat's truth."""
    truth = load_truth("ntfs.raw")
    checked = 0
    with open_evidence(str(images / truth["segments"][0])) as ev:
        entries = {e.path: e for e in ev.entries() if isinstance(e, FileEntry)}
        for t in truth["files"]:
            e = entries.get(t["path"])
            if e is None or not t.get("md5") or not e.size:
                continue
            with e.open() as reader:
                assert hashlib.md5(reader.read()).hexdigest() == t["md5"], t["path"]
            checked += 1
    assert checked >= 5
    # and its opener still pickles as its locator alone (a worker reopens it by address)
    state = pickle.loads(pickle.dumps(next(iter(entries.values())).open)).__dict__
    assert state["_file"] is None and state["_fs"] is None


def test_quick_maker_makes_what_the_dataclass_makes():
    volume = Volume(1, 512, 4096, "Linux (0x83)", "ext4", 4096)
    values = dict(evidence="e.raw", path="/a/b.jpg", size=7, allocated=False, volume=volume,
                  inode=12, times=((1, 2), (3, 4), (5, 6), (7, 8)), realloc=True,
                  attribute=(128, 3), open=len)
    quick, slow = quick_maker(FileEntry)(**values), FileEntry(**values)
    assert quick == slow and hash(quick) == hash(slow) and repr(quick) == repr(slow)
    assert quick.__dict__ == slow.__dict__ and quick.to_dict() == slow.to_dict()
    with pytest.raises(Exception):
        quick.path = "/other"   # still frozen


class _Interrupting:
    """An image whose reads raise KeyboardInterrupt once armed (as Ctrl-C, or the scan's time
    budget's alarm, lands in whatever Python code runs: here, a read the C lister called)."""

    def __init__(self, image, armed: bool):
        self._image, self.armed, self.interrupted = image, armed, 0

    def get_size(self):
        return self._image.get_size()

    def read(self, offset, size):
        if self.armed:
            self.interrupted += 1
            raise KeyboardInterrupt
        return self._image.read(offset, size)


@pytest.mark.skipif(tsk_walk._tskwalk is None, reason="the compiled lister is not built")
@pytest.mark.parametrize("when", ["opening", "listing"])
def test_an_interrupt_in_a_read_stops_the_compiled_walk(images, monkeypatch, when):
    """Before, the C lister's read callback cleared every exception: a KeyboardInterrupt (or
    the time budget's BudgetSpent) raised in a read was lost and the walk went on (the scan
    then ignored its --time-budget, exit 0: tests/test_sampling.py saw it under load)."""
    with open_evidence(str(images / load_truth("ext4.raw")["segments"][0])) as ev:
        volume = ev.volumes[0]
        fs = ev.file_system(volume.index)
        image = _Interrupting(fs.image, armed=when == "opening")
        monkeypatch.setattr(fs, "image", image)
        if when == "listing":
            # TSK's cache of 2 MiB may hold all a small image's walk reads: a fresh libtsk for
            # each directory, armed once it is open, so the listing itself reads and is stopped
            monkeypatch.setattr(tsk_walk, "_CompiledLister", _Uncached(tsk_walk._CompiledLister))
        with pytest.raises(KeyboardInterrupt):
            list(tsk_walk.walk(fs, volume, "x"))
        assert image.interrupted >= 1


def _Uncached(cls):
    class Uncached(cls):
        def open(self, addr, prefix):
            image = self._fs.image
            self._walker.close()
            image.armed = False
            self._walker = tsk_walk._tskwalk.Walker(image, image.get_size(),
                                                    self._fs.image_offset, self._fs.info.ftype)
            image.armed = True
            return super().open(addr, prefix)
    return Uncached


class _Meddling:
    """An image whose reads, called back from libtsk inside the walker's own open or list,
    try to close the walker and to open it again: what freed libtsk's image under it (ASan: a
    64 KiB write into freed memory) before the walker refused it."""

    def __init__(self, image, offset, ftype):
        self._image, self._offset, self._ftype = image, offset, ftype
        self.walker, self.refused = None, []

    def get_size(self):
        return self._image.get_size()

    def read(self, offset, size):
        if self.walker is not None:
            for meddle in (self.walker.close, lambda: self.walker.__init__(
                    self, self.get_size(), self._offset, self._ftype),
                    lambda: self.walker.list(2, False)):
                try:
                    meddle()
                except RuntimeError as exc:
                    self.refused.append(str(exc))
        return self._image.read(offset, size)


@pytest.mark.skipif(tsk_walk._tskwalk is None, reason="the compiled lister is not built")
def test_a_walker_refuses_to_be_closed_or_reopened_from_within_its_own_call(images):
    Walker = tsk_walk._tskwalk.Walker
    with open_evidence(str(images / load_truth("ext4.raw")["segments"][0])) as ev:
        volume = ev.volumes[0]
        fs = ev.file_system(volume.index)
        image = _Meddling(fs.image, fs.image_offset, fs.info.ftype)
        walker = Walker.__new__(Walker)
        image.walker = walker
        walker.__init__(image, image.get_size(), fs.image_offset, fs.info.ftype)
        opened = len(image.refused)
        rows, error, _, _ = walker.list(fs.info.root_inum, False)
        assert opened >= 3 and set(image.refused) == {
            "the walker is in use (called from within its own call)"}
        assert error is None and {r[0] for r in rows} >= {b"lost+found"}
        walker.close()
        with pytest.raises(ValueError, match="the walker is closed"):
            walker.list(fs.info.root_inum, False)


@pytest.mark.skipif(tsk_walk._tskwalk is None, reason="the compiled lister is not built")
def test_the_compiled_lister_loads_only_for_a_file_system(images, tmp_path):
    """It links libtsk and what that links: a folder's listing does without it, an image's
    file system loads it."""
    import subprocess
    import sys
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"a")
    check = ("import sys\n"
             "from triage.evidence import open_evidence\n"
             "with open_evidence(sys.argv[1]) as ev:\n"
             "    listed = sum(1 for _ in ev.entries())\n"
             "print(listed, 'triage.evidence._tskwalk' in sys.modules)\n")
    for path, loaded in ((folder, "False"), (images / "mbr.raw", "True")):
        out = subprocess.run([sys.executable, "-c", check, str(path)], capture_output=True,
                             text=True, check=True).stdout.split()
        assert int(out[0]) >= 1 and out[1] == loaded


def _tasks(path, compiled: bool, monkeypatch) -> list:
    with monkeypatch.context() as m:
        if not compiled:
            m.setattr(tsk_walk, "_tskwalk", None)
        with open_evidence(str(path)) as ev:
            return list(ev.directory_tasks())


@pytest.mark.skipif(tsk_walk._tskwalk is None, reason="the compiled lister is not built")
def test_both_listers_give_the_same_directories_and_counts_of_names(images, tmp_path,
                                                                     monkeypatch):
    """A traversal's compiled listing makes rows of what may be a directory alone and counts
    the rest: the same DirTasks (each directory's count of names included) and errors as
    pytsk3's listing of every name, on every image and its damaged copies."""
    tasks = 0
    for path in _images(images) + _derived(images, tmp_path):
        fast = _tasks(path, True, monkeypatch)
        assert fast == _tasks(path, False, monkeypatch), path.name
        tasks += sum(isinstance(t, tsk_walk.DirTask) for t in fast)
    assert tasks >= 100, tasks


@pytest.mark.skipif(tsk_walk._tskwalk is None, reason="the compiled lister is not built")
def test_a_traversal_s_rows_are_its_directories_and_its_count_every_name(images):
    with open_evidence(str(images / "ext4.raw")) as ev:
        fs = next(fs for _, fs in ev._file_systems(None) if fs is not None)
        lister = tsk_walk._lister(fs, False, True, None)
        try:
            root = fs.info.root_inum
            every = list(lister.open(root, "")[0])
            rows, names, _ = lister.subdirectories(root)
        finally:
            lister.close()
    assert names == len(every) and len(rows) < len(every)
    assert rows == [row for row in every if tsk_walk._is_dir(row[3], row[4])]
    assert {row[0] for row in rows} >= {b".", b"..", b"lost+found"}
