"""A file entry that crosses into a worker process is reopened from its Locator through the
process's own Handles, made by the worker pool and closed when the process's work ends (before,
a module-global cache in tsk_walk, never closed, reached through an import cycle and a private
attribute)."""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import replace

import pytest

from support import load_truth
from triage import workers
from triage.evidence import open_evidence
from triage.evidence.reopen import Handles, Locator, installed
from triage.evidence.tsk_walk import ReopenError
from triage.workers import Workers, batches


def entries_of(image):
    ev = open_evidence(str(image))
    return ev, [e for e in ev.entries() if hasattr(e, "open") and e.size]


def digest(entry) -> str:
    with entry.open() as reader:
        return hashlib.sha256(reader.read()).hexdigest()


def test_an_entry_pickles_as_its_locator(images):
    ev, entries = entries_of(images / "ntfs.raw")
    with ev:
        stream = next(e for e in entries if e.path == "/Users/Public/Documents/tiny.txt:secret")
        opener = pickle.loads(pickle.dumps(stream.open))
    assert opener.locator == Locator(str(images / "ntfs.raw"), 0, stream.inode, stream.attribute)
    assert stream.attribute is not None and opener._file is None and opener._media is None


def test_a_moved_entry_reads_the_same_bytes_through_the_installed_handles(images, monkeypatch):
    truth = {f["path"]: f["sha256"] for f in load_truth("mbr.E01")["files"]}
    ev, entries = entries_of(images / "mbr.E01")
    with ev:
        moved = [pickle.loads(pickle.dumps(e)) for e in entries
                 if e.path in ("/random.bin", "/Users/report.txt:Zone.Identifier", "/etc/hostname")]
    assert len(moved) == 3
    monkeypatch.setattr("triage.evidence.reopen._installed", None)
    with pytest.raises(ReopenError):
        moved[0].open()                    # a bug to surface, not an unreadable file
    opened = []

    def counting(path):
        opened.append(path)
        return open_evidence(path)

    with Handles(counting).install() as handles:
        assert installed() is handles
        assert {e.path: digest(e) for e in moved} == {e.path: truth[e.path] for e in moved}
    assert opened == [str(images / "mbr.E01")]          # one handle for all three
    assert handles._open == {}                          # closed


def test_close_closes_every_evidence_and_a_later_use_reopens(images):
    closed = []

    class Recording:
        def __init__(self, path):
            self.ev = open_evidence(path)

        def file_system(self, index):
            return self.ev.file_system(index)

        @property
        def media(self):
            return self.ev.media

        def close(self):
            closed.append(self)
            self.ev.close()

    handles = Handles(Recording)
    first = handles.evidence(str(images / "fat16.raw"))
    assert handles.evidence(str(images / "fat16.raw")) is first
    handles.evidence(str(images / "ext4.raw"))
    handles.close()
    assert len(closed) == 2 and first in closed
    assert handles.evidence(str(images / "fat16.raw")) is not first
    handles.close()


def _read(entry):
    return entry.path, digest(entry), os.getpid()


def test_worker_processes_reopen_once_and_close_when_their_work_ends(images, tmp_path,
                                                                     monkeypatch):
    if workers.fork_context() is None:
        pytest.skip("no fork on this platform")
    record = tmp_path / "closed"
    original = Handles.close

    def recording_close(self):
        if self._open:
            with open(record, "a") as f:
                f.write(f"{os.getpid()} {len(self._open)}\n")
        original(self)

    monkeypatch.setattr(Handles, "close", recording_close)   # inherited by the forked workers
    truth = {f["path"]: f["sha256"] for f in load_truth("mbr.E01")["files"]
             if f.get("icat_error") is None}
    ev, entries = entries_of(images / "mbr.E01")
    with ev:
        pool = Workers(_read, 2)
        try:
            out = [r for _, results in pool.map(batches(entries, cost=lambda e: 4 << 20))
                   for r in results]
        finally:
            pool.close()
    assert {path: sha for path, sha, _ in out} == {e.path: truth[e.path] for e in entries
                                                   if e.path in truth}
    readers = {pid for _, _, pid in out}
    assert os.getpid() not in readers
    closes = [line.split() for line in record.read_text().splitlines()]
    # Each worker that read closed its one handle on the evidence when the pool shut it down.
    assert {int(pid) for pid, _ in closes} == readers
    assert all(count == "1" for _, count in closes)


def test_content_key_groups_the_names_of_one_content(images, tmp_path):
    """What the scan groups to read shared content once: hard links and a reallocated name with
    the live file on its inode share a key; a stream or another file do not. A folder's file is
    keyed by its path, or where it has other names by its device and inode (inode numbers
    repeat across the mounts a folder may span)."""
    ev, entries = entries_of(images / "ext4.raw")
    with ev:
        keys = {e.path: e.content_key() for e in entries}
    assert keys["/home/user/docs/report.txt"] == keys["/home/user/report-link.txt"]
    assert keys["/home/user/draft.txt"] == keys["/newer.txt"] == (
        str(images / "ext4.raw"), 0, 21, None)
    assert len(set(keys.values())) == len(keys) - 2
    ev, entries = entries_of(images / "ntfs.raw")
    with ev:
        keys = {e.path: e.content_key() for e in entries}
    base, stream = (keys["/Users/Public/Documents/tiny.txt"],
                    keys["/Users/Public/Documents/tiny.txt:secret"])
    assert base[:3] == stream[:3] and base[3] is None and stream[3] is not None
    (tmp_path / "a").write_text("x")
    os.link(tmp_path / "a", tmp_path / "b")
    (tmp_path / "c").write_text("x")
    folder = open_evidence(str(tmp_path))
    found = {e.path: e.content_key() for e in folder.entries()}
    st = os.stat(tmp_path / "a")
    inode = (str(tmp_path), None, st.st_dev, st.st_ino, 1, divmod(st.st_mtime_ns, 10**9))
    assert found == {"/a": inode, "/b": inode, "/c": (str(tmp_path), None, "/c", None)}
    # a file system that gives two files one inode number (a broken FUSE or network one):
    # told apart by size or mtime, so neither is passed by as the other's name
    a = next(e for e in folder.entries() if e.path == "/a")
    assert replace(a, path="/x", size=2).content_key() != a.content_key()
    assert replace(a, path="/y", times=((1, 0),) + a.times[1:]).content_key() != \
        a.content_key()
    pickle.loads(pickle.dumps(keys))   # picklable, for the worker processes
