"""Options shared by the commands: an empty path is refused, never taken as the current
folder (an unset variable in a script, `triage scan "$DEVICE" -o "$CASE"`)."""

from __future__ import annotations

import hashlib

import pytest


@pytest.fixture
def folder(tmp_path):
    """The current folder of the commands below: a file the set lists, and the set."""
    (tmp_path / "known.bin").write_bytes(b"known content\n")
    (tmp_path / "set.md5").write_text(hashlib.md5(b"known content\n").hexdigest() + "  known\n")
    return tmp_path


@pytest.mark.parametrize("args, where", [
    (("scan", "", "--hashset", "set.md5", "-o", "{out}"),
     "scan: Invalid value for '[EVIDENCE]...'"),
    (("scan", "known.bin", "--hashset", "set.md5", "-o", ""),
     "scan: Invalid value for '-o' / '--outdir'"),
    (("scan", "known.bin", "--hashset", "", "-o", "{out}"), "scan: Invalid value for '--hashset'"),
    (("files", "", "--hash", "md5"), "files: Invalid value for 'EVIDENCE'"),
    (("inspect", ""), "inspect: Invalid value for 'EVIDENCE'"),
    (("batch", "", "--hashset", "set.md5", "-o", "{out}"), "batch: Invalid value for 'SOURCES...'"),
    (("hash", ""), "hash: Invalid value for 'FILE...'"),
    (("hashset", "info", ""), "hashset info: Invalid value for 'SET_OR_SOURCE'"),
])
def test_an_empty_path_is_refused_and_nothing_is_read_or_written(folder, tmp_path_factory, triage,
                                                                  args, where):
    # Before: `scan ""` scanned the current folder (exit 1, its hit), `-o ""` wrote the reports
    # into it, `files ""` listed it.
    out = tmp_path_factory.mktemp("elsewhere") / "out"
    before = sorted(p.name for p in folder.iterdir())
    run = triage(*(a.format(out=out) for a in args), cwd=folder)
    assert (run.code, run.stdout) == (2, "")
    assert run.stderr == f"triage: error: triage {where}: the path is empty\n"
    assert sorted(p.name for p in folder.iterdir()) == before
    assert not out.exists()
