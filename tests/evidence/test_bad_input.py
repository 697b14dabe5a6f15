"""Bad evidence: one line naming the file and the reason, exit 2 when nothing can be opened; an
error entry (and the rest listed, exit 3) when part of it can. Never a traceback."""

from __future__ import annotations

import os
import shutil

import pytest

from support import load_truth

MBR = load_truth("mbr.raw")


def one_line_error(run, path):
    assert run.code == 2
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("triage: error: ") and str(path) in lines[0]
    assert "Traceback" not in run.stderr
    return lines[0]


def writable_copy(images, name, tmp_path):
    target = tmp_path / name
    shutil.copyfile(images / name, target)
    target.chmod(0o644)
    return target


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


@pytest.mark.parametrize("command", ["files", "inspect"])
def test_missing_path(triage, tmp_path, command):
    missing = tmp_path / "no-such-image.E01"
    assert "No such file or directory" in one_line_error(triage(command, missing), missing)


def test_random_bytes(triage, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(os.urandom(3 * 1024 * 1024))
    assert "no partition table or file system found" in one_line_error(
        triage("files", junk), junk)


def test_empty_file(triage, tmp_path):
    empty = tmp_path / "empty.dd"
    empty.write_bytes(b"")
    assert "empty" in one_line_error(triage("files", empty), empty)


@pytest.mark.parametrize("command", ["files", "inspect", "scan"])
def test_a_fifo_or_character_device_is_refused_without_waiting(triage, tmp_path, command):
    """Opening a FIFO for reading would wait for a writer forever (the run has a timeout)."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    listed = tmp_path / "set.md5"
    listed.write_text("d41d8cd98f00b204e9800998ecf8427f  a\n")
    extra = ["--hashset", listed, "-o", tmp_path / "out"] if command == "scan" else []
    for path in (fifo, "/dev/zero"):
        line = one_line_error(triage(command, path, *extra), path)
        assert line.endswith("not a regular file, block device or folder")


def test_truncated_e01(triage, images, tmp_path):
    data = (images / "mbr.E01").read_bytes()
    cut = tmp_path / "cut.E01"
    cut.write_bytes(data[: len(data) // 2])
    assert "truncated" in one_line_error(triage("files", cut), cut)


def test_missing_ewf_segment(triage, images, tmp_path):
    for seg in sorted(images.glob("mbr-split.E0*")):
        if seg.name != "mbr-split.E03":
            shutil.copyfile(seg, tmp_path / seg.name)
    first = tmp_path / "mbr-split.E01"
    one_line_error(triage("files", first), first)


def test_corrupt_partition_table(triage, images, tmp_path):
    bad = writable_copy(images, "mbr.raw", tmp_path)
    patch(bad, 446, b"\xff" * 64)   # all four entries garbage, boot signature kept
    line = one_line_error(triage("files", bad), bad)
    assert "partition table may be corrupt" in line


def test_corrupt_superblock_lists_the_other_volumes(triage, images, tmp_path):
    ext4 = next(v for v in MBR["volumes"] if v["fs_type"] == "ext4")
    bad = writable_copy(images, "mbr.raw", tmp_path)
    patch(bad, ext4["offset"] + 1024, bytes(1024))
    run = triage("files", bad)
    assert run.code == 3
    rows = run.lines()
    errors = [r for r in rows if "error" in r]
    assert {e["volume"]["offset"] for e in errors} == {
        ext4["offset"], *(v["offset"] for v in MBR["volumes"] if v["fs_type"] is None)}
    listed = {(r["volume"]["offset"], r["path"]) for r in rows if "error" not in r}
    expected = {(f["volume_offset"], f["path"]) for f in MBR["files"]
                if f["volume_offset"] != ext4["offset"]}
    assert listed == expected
    assert "Traceback" not in run.stderr


def test_image_cut_inside_a_partition(triage, images, tmp_path):
    """Cut inside the ext4 partition: earlier volumes are listed in full, the cut one is
    flagged as truncated, and whatever lies beyond cannot be claimed as read."""
    ext4 = next(v for v in MBR["volumes"] if v["fs_type"] == "ext4")
    cut_at = ext4["offset"] + 4 * 1024 * 1024
    cut = tmp_path / "cut.raw"
    with open(images / "mbr.raw", "rb") as src:
        cut.write_bytes(src.read(cut_at))
    run = triage("files", cut, "--hash", "md5")
    assert run.code == 3
    rows = run.lines()
    truncated = [r for r in rows if "truncated image" in r.get("error", "")]
    assert [r["volume"]["offset"] for r in truncated][0] == ext4["offset"]
    before = {(f["volume_offset"], f["path"], f["md5"]) for f in MBR["files"]
              if f["volume_offset"] < ext4["offset"] and f.get("icat_error") is None}
    listed = {(r["volume"]["offset"], r["path"], r.get("md5")) for r in rows if "error" not in r}
    assert before <= listed
    assert "Traceback" not in run.stderr


def test_directory_loop_terminates(triage, images, tmp_path):
    """A FAT directory entry pointing back at its own folder must not loop the walk."""
    bad = writable_copy(images, "fat16.raw", tmp_path)
    data = bytearray(bad.read_bytes())
    bps = int.from_bytes(data[11:13], "little")
    spc = data[13]
    reserved = int.from_bytes(data[14:16], "little")
    fats = data[16]
    root_entries = int.from_bytes(data[17:19], "little")
    fat_sectors = int.from_bytes(data[22:24], "little")
    root = (reserved + fats * fat_sectors) * bps
    data_start = root + root_entries * 32

    def entries(offset, count):
        for i in range(count):
            yield offset + 32 * i, data[offset + 32 * i: offset + 32 * i + 32]

    folder = next((off, e) for off, e in entries(root, root_entries)
                  if e[11] == 0x10 and e[0] not in (0x00, 0xE5) and e[:1] != b".")
    cluster = int.from_bytes(folder[1][26:28], "little")
    start = data_start + (cluster - 2) * spc * bps
    victim = next(off for off, e in entries(start, spc * bps // 32)
                  if e[0] not in (0x00, 0xE5, 0x2E) and e[11] not in (0x0F, 0x10))
    data[victim + 11] = 0x10                              # now a folder...
    data[victim + 26: victim + 28] = cluster.to_bytes(2, "little")   # ...that is its parent
    data[victim + 28: victim + 32] = bytes(4)
    bad.write_bytes(bytes(data))
    run = triage("files", bad, timeout=60)
    assert run.code == 0, run.stderr     # the walk cuts the loop: no error record
    rows = [r for r in run.lines() if "error" not in r]
    keys = [(r["path"], r["inode"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert max(r["path"].count("/") for r in rows) <= 5
