"""Bad evidence: one line naming the file and the reason, exit 2 when nothing can be opened; an
error entry (and the rest listed, exit 3) when part of it can. Never a traceback."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

import pytest

from support import FIXTURES, load_truth

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


GPT = load_truth("gpt.raw")


def add_gpt_entry(path, first_lba, last_lba):
    """Write a fourth GPT entry (a basic-data partition) and fix both CRCs, so the table
    stays valid for any reader (mmls shows it)."""
    data = bytearray(path.read_bytes())
    header = 512
    table = struct.unpack_from("<Q", data, header + 72)[0] * 512
    count, size = struct.unpack_from("<II", data, header + 80)
    slot = next(table + i * size for i in range(count) if not any(data[table + i * size:
                                                                       table + i * size + 16]))
    data[slot:slot + 16] = bytes.fromhex("A2A0D0EBE5B9334487C068B6B72699C7")  # basic data
    data[slot + 16:slot + 32] = bytes(range(1, 17))
    struct.pack_into("<QQ", data, slot + 32, first_lba, last_lba)
    struct.pack_into("<I", data, header + 88, zlib.crc32(bytes(data[table:table + count * size])))
    header_size = struct.unpack_from("<I", data, header + 12)[0]
    struct.pack_into("<I", data, header + 16, 0)
    struct.pack_into("<I", data, header + 16, zlib.crc32(bytes(data[header:header + header_size])))
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("command", ["files", "inspect"])
def test_a_gpt_entry_past_the_media_is_one_error_and_the_rest_is_read(images, triage, tmp_path,
                                                                      command):
    """An entry starting at LBA 2^62: 'internal error: OverflowError' before, and the three
    good partitions never read."""
    bad = writable_copy(images, "gpt.raw", tmp_path)
    add_gpt_entry(bad, 2 ** 62, 2 ** 62 + 100)
    if command == "inspect":
        run = triage("inspect", bad, "--json")
        assert run.code == 0, run.stderr
        volumes = run.json()["volumes"]
        assert [v["fs_type"] for v in volumes] == ["fat32", "ext4", "exfat", None]
        assert volumes[3]["offset"] == 2 ** 62 * 512
        assert "past the end of the media" in volumes[3]["error"]
        return
    run = triage("files", bad, "--hash", "md5")
    assert run.code == 3, run.stderr
    rows = run.lines()
    errors = [r for r in rows if "error" in r]
    assert [(e["volume"]["offset"], e["path"]) for e in errors] == [(2 ** 62 * 512, None)]
    assert errors[0]["error"] == (f"the volume starts at byte {2 ** 62 * 512:,}, past the end "
                                  f"of the media ({GPT['media_size']:,} bytes)")
    listed = {(r["volume"]["offset"], r["path"], r["md5"]) for r in rows if "error" not in r}
    assert listed == {(f["volume_offset"], f["path"], f["md5"]) for f in GPT["files"]}
    assert run.stderr.count("\n") == 1 and "internal error" not in run.stderr


def test_a_one_byte_image_names_the_evidence(triage, tmp_path):
    """Before: 'triage: error: triage: Img_Info_read: ...' (no evidence path, TSK's words)."""
    tiny = tmp_path / "tiny.raw"
    tiny.write_bytes(b"\x00")
    line = one_line_error(triage("files", tiny), tiny)
    assert line == (f"triage: error: {tiny}: no partition table or file system found "
                    f"(raw media of 1 byte)")


@pytest.mark.parametrize("missing", ["mbr-split.E03", "mbr-split.E05"])
def test_a_missing_ewf_segment_is_named(images, triage, tmp_path, missing):
    for seg in sorted(images.glob("mbr-split.E0*")):
        if seg.name != missing:
            shutil.copyfile(seg, tmp_path / seg.name)
    first = tmp_path / "mbr-split.E01"
    for command in ("files", "inspect"):
        line = one_line_error(triage(command, first), first)
        previous = f"mbr-split.E0{int(missing[-1]) - 1}"
        assert line.endswith(f": EWF segment {missing} is missing (the image cannot be read "
                             f"past {previous})"), line


def test_a_missing_split_raw_segment_is_named(images, triage, tmp_path):
    """Before, the series silently ended at the gap: a shorter disk, later volumes 'truncated'."""
    for seg in ("gpt.raw.000", "gpt.raw.002"):
        shutil.copyfile(images / seg, tmp_path / seg)
    first = tmp_path / "gpt.raw.000"
    line = one_line_error(triage("files", first), first)
    assert line.endswith(": split raw segment gpt.raw.001 is missing (the series goes on with "
                         "gpt.raw.002)")


def test_files_writes_valid_utf8_for_a_non_utf8_evidence_path(images, triage, tmp_path):
    """The evidence path came out as its raw bytes: stdout was not UTF-8 (nor JSON)."""
    folder = os.fsencode(tmp_path)
    image = os.path.join(folder, b"ev\xff.raw")
    shutil.copyfile(images / "fat16.raw", image)
    proc = subprocess.run([sys.executable, "-m", "triage", "files", image], capture_output=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode("utf-8").splitlines()           # strict: raises on raw bytes
    rows = [json.loads(line) for line in lines]
    assert len(rows) == len(load_truth("fat16.raw")["files"])
    assert {r["evidence"] for r in rows} == {os.fsdecode(folder) + "/ev\\xff.raw"}


DEMO_SET = FIXTURES / "demo" / "demo-alert.json"


def test_reading_an_image_leaves_its_access_time_alone(images, triage, tmp_path):
    """pytsk3 opened raw images itself, without O_NOATIME: each listing moved the image's atime;
    libewf opened an E01's segments itself: each open moved theirs."""
    split = [f"mbr-split.E0{n}" for n in range(1, 6)]
    for name in ("fat16.raw", "gpt.raw.000", "gpt.raw.001", "gpt.raw.002", *split):
        writable_copy(images, name, tmp_path)
        os.utime(tmp_path / name, (1_000_000_000, 1_000_000_000))
    for image, parts in (("fat16.raw", ["fat16.raw"]),
                         ("gpt.raw.000", ["gpt.raw.000", "gpt.raw.001", "gpt.raw.002"]),
                         ("mbr-split.E01", split)):
        before = [(tmp_path / p).stat().st_atime_ns for p in parts]
        assert triage("files", tmp_path / image, "--hash", "md5").code in (0, 3)
        assert triage("inspect", tmp_path / image, "--verify").code == 0
        assert triage("scan", tmp_path / image, "--hashset", DEMO_SET, "-o",
                      tmp_path / f"out-{image}", "-q").code in (0, 3)
        assert [(tmp_path / p).stat().st_atime_ns for p in parts] == before


def picture_bytes() -> bytes:
    from PIL import Image
    import io
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


# An MP4's first box as libmagic reads it ("video/mp4"); the rest need not play.
VIDEO = struct.pack(">I", 24) + b"ftypisom" + b"\0\0\x02\0" + b"isomiso2" + bytes(20_000)


@pytest.mark.parametrize("name,content,mime", [("photo.png", picture_bytes(), "image/png"),
                                               ("clip.mp4", VIDEO, "video/mp4")])
def test_a_loose_picture_or_video_is_one_file(triage, tmp_path, name, content, mime):
    """Before: 'no partition table or file system found'. Now listed as the one file of a
    folder holding it would be, and described as a file."""
    folder = tmp_path / "folder"
    folder.mkdir()
    loose = folder / name
    loose.write_bytes(content)
    run = triage("files", loose, "--hash", "md5,sha256")
    assert run.code == 0, run.stderr
    [row] = run.lines()
    assert (row["evidence"], row["path"], row["size"], row["allocated"], row["volume"]) == (
        str(loose), f"/{name}", len(content), True, None)
    assert (row["md5"], row["sha256"]) == (hashlib.md5(content).hexdigest(),
                                           hashlib.sha256(content).hexdigest())
    [as_folder] = triage("files", folder, "--hash", "md5,sha256").lines()
    assert {k: v for k, v in row.items() if k != "evidence"} == {
        k: v for k, v in as_folder.items() if k != "evidence"}
    info = triage("inspect", loose, "--json").json()
    assert (info["container"], info["size"], info["metadata"]) == ("file", len(content),
                                                                  {"mime_type": mime})
    assert info["counts"]["folder"]["allocated"] == 1


def test_anything_else_without_a_file_system_keeps_its_error(triage, tmp_path, images):
    """A damaged disk image must not pass for 'one file': only pictures and videos do."""
    for name, content in (("text.txt", b"plain text\n" * 1000),
                          ("zeros.img", bytes(1 << 20)),
                          ("wiped.raw", bytes(1 << 16) + (images / "fat16.raw").read_bytes()[1 << 16:])):
        bad = tmp_path / name
        bad.write_bytes(content)
        assert "no partition table or file system found" in one_line_error(
            triage("files", bad), bad)
