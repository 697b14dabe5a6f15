"""`triage files` against The Sleuth Kit's own command-line tools (the truth files were written
by fls/icat/mmls when the fixtures were built), and against hashdeep for folders."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from support import TRUTH, build_script, load_truth, nest, sha256_file, truth_names

ALL = "md5,sha1,sha256"


def listing(run, image):
    out = run("files", image, "--hash", ALL)
    files = [r for r in out.lines() if "error" not in r]
    errors = [r for r in out.lines() if "error" in r]
    assert out.code == (3 if errors else 0), out.stderr
    return out, files, errors


def as_truth_rows(files):
    return {(f["volume"]["offset"], f["path"], f["inode"]): f for f in files}


def truth_rows(truth):
    return {(f["volume_offset"], f["path"], f["inode"]): f for f in truth["files"]}


@pytest.mark.parametrize("name", truth_names())
def test_listing_equals_sleuthkit(images, triage, name):
    truth = load_truth(name)
    out, files, errors = listing(triage, images / truth["segments"][0])
    mine, theirs = as_truth_rows(files), truth_rows(truth)
    assert len(mine) == len(files), "an entry was listed twice"
    assert set(mine) == set(theirs)
    for key, t in theirs.items():
        m = mine[key]
        assert (m["allocated"], m["realloc"], m["size"]) == (
            t["allocated"], t["realloc"], t["size"]), key
        if t.get("icat_error") is None:
            assert (m["md5"], m["sha1"], m["sha256"]) == (t["md5"], t["sha1"], t["sha256"]), key
        if not key[1].startswith("/$"):
            # Modification times must agree to the second. (Access times differ between TSK
            # 4.11's CLI and the 4.15 in pytsk3 for exFAT, which 4.15 reads with the time of
            # day; NTFS system files carry out-of-range stamps the two versions read apart.)
            assert (m["mtime"] or "")[:19] == (t["mtime"] or "")[:19], key
    unreadable = [v for v in truth["volumes"] if v["fs_type"] is None]
    assert len(errors) == len(unreadable)
    assert out.code == (3 if unreadable else 0)


def test_a_reallocated_name_reads_the_live_file_on_its_inode(images, triage):
    """fls lists a deleted name whose inode a live file now owns, marked (realloc): listed too,
    flagged, with the content icat gives for the inode (the live file's). Before, such names
    were dropped, so a renamed editor temp file was never seen."""
    rows = {r["path"]: r for r in triage("files", images / "ext4.raw", "--hash", "sha256").lines()}
    draft, newer = rows["/home/user/draft.txt"], rows["/newer.txt"]
    truth = {f["path"]: f for f in load_truth("ext4.raw")["files"]}
    assert (draft["realloc"], draft["allocated"], draft["inode"]) == (True, False, 21)
    assert (newer["realloc"], newer["allocated"], newer["inode"]) == (False, True, 21)
    assert draft["sha256"] == newer["sha256"] == truth["/home/user/draft.txt"]["sha256"]
    assert sum(r["realloc"] for r in rows.values()) == 1
    listed = triage("files", images / "ext4.raw", "--no-deleted").lines()
    assert not any(r["realloc"] for r in listed)


def test_fixtures_cover_the_planted_cases():
    """The comparison above is only as strong as what the images hold."""
    files = [f for name in truth_names() for f in load_truth(name)["files"]]
    assert any(not f["allocated"] for f in files)
    assert any(":" in f["path"].rsplit("/", 1)[-1] and not f["path"].startswith("/$")
               for f in files), "an NTFS alternate data stream"
    assert any(f["path"].startswith("/$OrphanFiles/") for f in files)
    assert any(f["size"] == 0 for f in files)
    assert any(f["size"] > 1 << 20 for f in files)
    assert any(not f["path"].isascii() for f in files)
    assert any(f["realloc"] for f in files)
    tables = {load_truth(n)["partition_table"] for n in truth_names()}
    assert {"dos", "gpt", None} <= tables


def _normalised(files):
    return sorted((f["volume"]["offset"], f["path"], f["inode"], f["allocated"], f["size"],
                   f.get("md5"), f.get("sha1"), f.get("sha256")) for f in files)


@pytest.mark.parametrize("other", ["mbr.E01", "mbr-split.E01"])
def test_ewf_forms_list_what_the_raw_image_lists(images, triage, other):
    _, raw, _ = listing(triage, images / "mbr.raw")
    _, ewf, _ = listing(triage, images / other)
    assert _normalised(ewf) == _normalised(raw)
    assert {f["evidence"] for f in ewf} == {str(images / other)}


def test_split_raw_lists_what_the_joined_image_lists(images, triage, tmp_path):
    segments = sorted(images.glob("gpt.raw.0*"))
    assert len(segments) >= 2
    joined = tmp_path / "gpt-joined.img"
    with open(joined, "wb") as out:
        for seg in segments:
            out.write(seg.read_bytes())
    _, split, _ = listing(triage, segments[0])
    _, whole, _ = listing(triage, joined)
    assert _normalised(split) == _normalised(whole)
    assert len(split) == len(load_truth("gpt.raw.000")["files"])


def test_no_deleted_lists_only_allocated(images, triage):
    out = triage("files", images / "fat16.raw", "--no-deleted")
    assert out.code == 0
    rows = out.lines()
    truth = load_truth("fat16.raw")["files"]
    assert sorted(r["path"] for r in rows) == sorted(f["path"] for f in truth if f["allocated"])


def test_partially_recovered_deleted_file_is_marked(images, triage):
    """A deleted FAT file whose later clusters were reused recovers in part, as icat does."""
    truth = {f["path"]: f for f in load_truth("fat16.raw")["files"]}
    rows = {r["path"]: r for r in triage("files", images / "fat16.raw", "--hash", "md5").lines()}
    partial = [p for p, r in rows.items() if "recovered" in r]
    assert partial, "the fixture plants a deleted file overwritten in part"
    for path in partial:
        assert not rows[path]["allocated"]
        assert rows[path]["recovered"] < rows[path]["size"]
        assert rows[path]["md5"] == truth[path]["md5"]


@pytest.mark.skipif(shutil.which("hashdeep") is None, reason="hashdeep is not installed")
def test_folder_listing_equals_hashdeep(tmp_path, triage):
    root = tmp_path / "evidence"
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a" / "Überraschung.txt").write_text("umlaut\n", encoding="utf-8")
    (root / "a" / "b" / "日本語.txt").write_bytes("japanese".encode() * 100)
    (root / "a" / "b" / "c" / "big.bin").write_bytes(bytes(range(256)) * 5000)
    (root / "empty.txt").write_bytes(b"")
    (root / "=SUM(A1).txt").write_text("formula lookalike")
    deep = subprocess.run(["hashdeep", "-r", "-c", "md5,sha256", "-l", "."], cwd=root,
                          capture_output=True, text=True, check=True, timeout=60).stdout
    # hashdeep itself hangs on a FIFO; triage must neither open one nor follow a link out.
    (root / "link").symlink_to("/etc/hostname")
    subprocess.run(["mkfifo", str(root / "a" / "fifo")], check=True)
    out = triage("files", root, "--hash", "md5,sha256", timeout=60)
    assert out.code == 0, out.stderr
    mine = {(r["path"], r["size"], r["md5"], r["sha256"]) for r in out.lines()}
    theirs = set()
    for line in deep.splitlines():
        if line.startswith(("%", "#")) or not line.strip():
            continue
        size, md5, sha256, name = line.split(",", 3)
        theirs.add(("/" + name[2:] if name.startswith("./") else "/" + name, int(size), md5,
                    sha256))
    assert mine == theirs
    assert len(mine) == 5


def test_files_nested_beyond_the_path_limit_are_listed_and_read_as_find_lists_them(
        tmp_path, triage):
    """Folders nested past the system's path limit (PATH_MAX, 4096 bytes): a known way to hide
    files from tools that walk by whole paths (hashdeep passes them by without a word). Every
    file is listed and read, with its digest, as `find` (which walks a folder at a time) lists
    them: one on each side of where the walk turns to descriptors, one at 7,700 bytes."""
    root = tmp_path / "evidence"
    root.mkdir()
    contents = {0: ("top.bin", b"top" * 100), 60: ("at-3700.bin", b"middle" * 2000),
                62: ("at-3800.bin", b"lower" * 3000), 125: ("bottom.bin", bytes(range(256)) * 40)}
    nest(root, 125, contents)
    found = subprocess.run(["find", ".", "-type", "f"], cwd=root, capture_output=True,
                           text=True, check=True).stdout.split()
    assert len(found) == 4 and max(map(len, found)) > 7600
    out = triage("files", root, "--hash", "md5", timeout=60)
    assert out.code == 0, out.stderr
    listed = {r["path"]: r["md5"] for r in out.lines()}
    want = {name: hashlib.md5(content).hexdigest() for name, content in contents.values()}
    assert sorted(listed) == sorted(path[1:] for path in found)
    assert {path.rsplit("/", 1)[1]: md5 for path, md5 in listed.items()} == want


def test_folders_nested_too_far_past_the_path_limit_are_one_error_each(tmp_path, monkeypatch):
    """Reaching a deep folder walks down from the path limit one folder at a time: past
    DEEP_LEVELS of them (here 3), a folder is one error and what is below it is not listed,
    rather than each deeper open costing more than the last."""
    from triage.evidence import folder
    from triage.records import ScanError
    monkeypatch.setattr(folder, "DEEP_LEVELS", 3)
    root = tmp_path / "evidence"
    root.mkdir()
    # the deepest folder reached as any path is (each level adds 61 bytes), then 3 more
    last = (folder.LONG_PATH - 1 - len(str(root))) // 61 + 3
    nest(root, last + 5, {last: ("reached.bin", b"r"), last + 1: ("beyond.bin", b"b")})
    walked = list(folder.walk(str(root), "ev"))
    files = [w.path.rsplit("/", 1)[1] for w in walked if not isinstance(w, ScanError)]
    errors = [w for w in walked if isinstance(w, ScanError)]
    assert files == ["reached.bin"]
    assert [e.reason for e in errors] == [
        "cannot list folder: nested more than 3 folders past the system's path limit: not "
        "examined"]
    assert errors[0].path.count("/") == last + 1
    with folder.open_readonly(str(root) + [w.path for w in walked
                                            if not isinstance(w, ScanError)][0]) as f:
        assert f.read() == b"r"


def test_a_deep_folder_is_opened_from_its_parent_s_descriptor(tmp_path, monkeypatch):
    """Each deep folder is opened in one step from its parent's descriptor, kept from its
    listing: the walk down a deep chain costs an open a folder, not one a folder for every
    folder above it past the path limit (a chain of 1,024 one-letter folders took 4.4 s)."""
    from triage.evidence import folder
    root = tmp_path / "evidence"
    root.mkdir()
    nest(root, 100, {100: ("bottom.bin", b"b")})
    deep = 100 - (folder.LONG_PATH - 256 - len(str(root))) // 61   # listed by descriptor
    opened, stepped = [], []   # every open; those from a parent's descriptor
    real_open = os.open

    def counted(*a, **k):
        (stepped if "dir_fd" in k else opened).append(a[0])
        return real_open(*a, **k)
    monkeypatch.setattr(os, "open", counted)
    walked = list(folder.walk(str(root), "ev"))
    assert [w.path.rsplit("/", 1)[1] for w in walked] == ["bottom.bin"]
    # a folder at a time: the compiled lister opens each one to list it, once
    assert 30 < deep - 1 <= len(stepped) <= deep + 10   # the first from its path
    assert len(opened) <= 101 + 10


def test_the_count_ahead_of_a_scan_gives_the_walk_s_sizes_in_its_order(images, tmp_path):
    """Evidence.sizes (the progress bar's totals) counts what entries() lists, a folder's
    without making entries: links, FIFOs and subfolders passed by, empty files counted."""
    from triage.evidence import open_evidence
    from triage.records import FileEntry
    root = tmp_path / "evidence"
    (root / "b" / "c").mkdir(parents=True)
    for name, size in (("z.bin", 3), ("b/c/x", 70_000), ("b/y", 0), ("a.txt", 12)):
        (root / name).write_bytes(b"s" * size)
    (root / "link").symlink_to(root / "z.bin")
    os.mkfifo(root / "b" / "fifo")
    for path, expected in ((root, [12, 3, 0, 70_000]), (images / "mbr.raw", None)):
        with open_evidence(str(path)) as ev:
            walked = [e.size for e in ev.entries() if isinstance(e, FileEntry)]
            counted = list(ev.sizes())
        assert counted == walked == (expected or walked) and len(walked) > 3


def test_folder_walk_leaves_access_times_alone(tmp_path, triage):
    root = tmp_path / "evidence"
    root.mkdir()
    target = root / "file.txt"
    target.write_text("content")
    os.utime(target, (1_000_000_000, 1_000_000_000))
    before = target.stat()
    assert triage("files", root, "--hash", "md5").code == 0
    after = target.stat()
    assert (after.st_atime_ns, after.st_mtime_ns) == (before.st_atime_ns, before.st_mtime_ns)


def test_listing_does_not_change_the_image(images, triage):
    image = images / "ntfs.raw"
    before = sha256_file(image)
    assert triage("files", image, "--hash", ALL).code == 0
    assert sha256_file(image) == before


DERIVED = sorted(build_script().DERIVED)


@pytest.mark.parametrize("name", DERIVED)
def test_derived_image_lists_the_truth_and_its_named_exceptions(images, triage, tmp_path, name):
    """A committed image with one directory entry patched (fixtures/build_images.py DERIVED):
    triage lists what fls lists of the patched copy, except where the truth names an exception:
    there it shows what triage must show (a file named '..' that fls skips; a name fls cuts at
    a NUL). Before, the '..' file was skipped like fls, and the NUL name was cut."""
    build = build_script()
    derived = build.DERIVED[name]
    truth = json.loads((TRUTH / "derived" / f"{name}.json").read_text(encoding="utf-8"))
    base = load_truth(derived.base)
    image = tmp_path / name
    image.write_bytes(build.derive(derived, (images / base["segments"][0]).read_bytes()))
    out, files, errors = listing(triage, image)
    assert not errors and out.code == 0, out.stderr
    expected = {(f["volume_offset"], f["path"], f["inode"]): f for f in truth["files"]}
    for exception in truth["exceptions"]:
        if exception["fls_path"] is not None:
            shown = next(k for k in expected if k[1] == exception["fls_path"])
            del expected[shown]
        t = exception["triage"]
        expected[(t["volume_offset"], t["path"], t["inode"])] = t
    mine = as_truth_rows(files)
    assert set(mine) == set(expected)
    for key, t in expected.items():
        assert (mine[key]["allocated"], mine[key]["size"], mine[key]["md5"],
                mine[key]["sha256"]) == (t["allocated"], t["size"], t["md5"], t["sha256"]), key
