"""An archive appended to another file (`cat holiday.jpg secret.zip > holiday.jpg`): the head
shows a picture (or anything), `unzip` still reads the archive from its end. The zip is made
with the real `zip` tool around a known photo; every way a scan reads a file (read whole,
screened by fingerprint, read only to tell a container, decoded as a picture) finds it, and so
does `triage files`."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest

from archive_fixtures import KNOWN, PHOTOS, UNRELATED
from support import run_triage
from triage import containers, reading

pytestmark = pytest.mark.skipif(shutil.which("zip") is None, reason="needs zip")


@pytest.fixture(scope="module")
def hidden(tmp_path_factory):
    """A zip holding one known photo, as the zip tool writes it."""
    folder = tmp_path_factory.mktemp("hidden")
    shutil.copy(PHOTOS / KNOWN[0], folder / "a.jpg")
    subprocess.run(["zip", "-q", "hidden.zip", "a.jpg"], cwd=folder, check=True)
    return (folder / "hidden.zip").read_bytes()


def _evidence(folder, hidden):
    """A picture, a file of noise and a short file, each with the zip after it; a plain
    picture; a file whose tail only looks like a zip's end record."""
    folder.mkdir()
    cover = (PHOTOS / UNRELATED[0]).read_bytes()
    (folder / "holiday.jpg").write_bytes(cover + hidden)
    (folder / "song.mp3").write_bytes(bytes(range(256)) * 400 + hidden)
    (folder / "short.bin").write_bytes(b"x" * 100 + hidden)
    (folder / "plain.jpg").write_bytes(cover)
    # an end record whose comment length does not reach the file's end: no archive
    (folder / "decoy.bin").write_bytes(bytes(5000) + b"PK\x05\x06" + bytes(16) + b"\x09\x00")
    return folder


def test_the_end_record_must_end_the_file(hidden):
    zip_reader = containers.appended(hidden[-reading.TAIL:], 10 ** 6)
    assert zip_reader is containers.READERS["zip"]
    assert containers.appended((b"cover" + hidden)[-reading.TAIL:], 10 ** 6) is zip_reader
    assert containers.appended(hidden[:-1][-reading.TAIL:], 10 ** 6) is None   # cut short
    assert containers.appended((hidden + b"!")[-reading.TAIL:], 10 ** 6) is None
    assert containers.appended(b"PK\x05\x06" + bytes(18), 10) is None   # no room for it
    assert containers.appended(b"", 0) is None


@pytest.mark.parametrize("how", ["exact", "sized", "fingerprinted", "built"])
def test_every_way_of_reading_finds_the_appended_archive(tmp_path, hidden, reference_set, how):
    """`exact`: an unsized MD5 list (every file read whole); `sized`: a hashdeep list of the
    photo's size only (the others read only to tell a container); `fingerprinted`: a set
    built with the fingerprint and MD5 only (files of a listed size screened); `built`: the
    reference set with PDQ (pictures decoded)."""
    ev = _evidence(tmp_path / "ev", hidden)
    known = (PHOTOS / KNOWN[0]).read_bytes()
    md5 = hashlib.md5(known).hexdigest()
    if how == "exact":
        hashset = tmp_path / "known.md5"
        hashset.write_text(f"{md5}  a.jpg\n")
    elif how == "sized":
        hashset = tmp_path / "known.hashdeep"
        hashset.write_text(f"%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n{len(known)},{md5},a\n")
    elif how == "fingerprinted":
        refs = tmp_path / "refs"
        refs.mkdir()
        (refs / "a.jpg").write_bytes(known)
        # a reference of song.mp3's size, so that it is screened by fingerprint
        (refs / "same-size.bin").write_bytes(b"r" * (ev / "song.mp3").stat().st_size)
        hashset = tmp_path / "fp.tset"
        built = run_triage("hashset", "build", refs, "-o", hashset, "--signal", "md5,edges")
        assert built.code == 0, built.stderr
    else:
        hashset = reference_set
    before = {p.name: p.read_bytes() for p in ev.iterdir()}
    run = run_triage("scan", ev, "--hashset", hashset, "-o", tmp_path / "out", "-q")
    assert run.code == 1, run.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert sorted(h["path"] for h in report["hits"]) == [
        "/holiday.jpg!/a.jpg", "/short.bin!/a.jpg", "/song.mp3!/a.jpg"]
    assert all(h["md5"] == md5 for h in report["hits"])
    assert report["errors"] == []
    assert {p.name: p.read_bytes() for p in ev.iterdir()} == before   # read only


def test_files_lists_the_appended_archives_members(tmp_path, hidden):
    ev = _evidence(tmp_path / "ev", hidden)
    run = run_triage("files", ev, "--hash", "md5")
    assert run.code == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    members = {d["path"]: d for d in lines if "!/" in d["path"]}
    assert sorted(members) == ["/holiday.jpg!/a.jpg", "/short.bin!/a.jpg", "/song.mp3!/a.jpg"]
    whole = {d["path"]: d["md5"] for d in lines if "!/" not in d["path"]}
    for path, member in members.items():
        assert member["md5"] == hashlib.md5((PHOTOS / KNOWN[0]).read_bytes()).hexdigest()
        assert member["container_md5"] == whole[path.split("!/")[0]]
