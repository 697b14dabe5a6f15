"""Layered evidence (virtual disks, LVM, LUKS, APFS, HFS+, XFS, a superfloppy) against truth
written by tools that are not triage (fixtures/build_layers.py): The Sleuth Kit's CLI on the
bytes it reads directly (the raw disk a virtual disk was made from, the file system before it
was encrypted, the image at a logical volume's extent offset), and dfVFS's VolumeScanner with
the fixture's credentials."""

from __future__ import annotations

import json
import struct

import pytest

from support import FIXTURES

LAYER_TRUTH = FIXTURES / "truth" / "layers"
NAMES = sorted(p.name[:-5] for p in LAYER_TRUTH.glob("*.json"))
DIGESTS = "md5,sha1,sha256"


def truth_of(name: str) -> dict:
    return json.loads((LAYER_TRUTH / f"{name}.json").read_text(encoding="utf-8"))


_RUNS: dict = {}   # one `files` and one `inspect` per image for the whole module


def _once(triage, *args):
    key = tuple(map(str, args))
    if key not in _RUNS:
        _RUNS[key] = triage(*args)
    return _RUNS[key]


def listing(triage, images, name):
    truth = truth_of(name)
    # the file systems' own files, as TSK and dfVFS list them (not the members of archives
    # among them: APFS's .fseventsd logs are gzip files)
    args = ["files", images / name, "--hash", DIGESTS, "--no-archives"]
    for credential in truth["credentials"]:
        args += ["--credential", credential]
    out = _once(triage, *args)
    return truth, out, [r for r in out.lines() if "error" not in r], \
        [r for r in out.lines() if "error" in r]


def volumes_of(triage, images, name) -> list:
    truth = truth_of(name)
    args = ["inspect", "--json", images / name]
    for credential in truth["credentials"]:
        args += ["--credential", credential]
    run = _once(triage, *args)
    assert run.code == 0, run.stderr
    return run.json()["volumes"]


def selected(rows, volumes, selector) -> list:
    """The rows of the volume the truth names (by path, index or offset)."""
    if "path" in selector:
        wanted = [v["index"] for v in volumes if v.get("path") == selector["path"]]
    elif "index" in selector:
        wanted = [selector["index"]]
    else:
        wanted = [v["index"] for v in volumes
                  if v["offset"] == selector["offset"] and v["fs_type"]]
    assert len(wanted) == 1, (selector, volumes)
    return [r for r in rows if r["volume"]["index"] == wanted[0]]


def row_key(r):
    return (r["path"], r["inode"], r["allocated"], r["realloc"], r["size"])


@pytest.mark.parametrize("name", [n for n in NAMES if truth_of(n)["tsk"]])
def test_every_volume_equals_the_sleuthkit_on_the_same_bytes(images, triage, name):
    truth, out, files, errors = listing(triage, images, name)
    assert errors == [], errors
    assert out.code == 0, out.stderr
    volumes = volumes_of(triage, images, name)
    for part in truth["tsk"]:
        mine = {row_key(r): r for r in selected(files, volumes, part["volume"])}
        theirs = {row_key(t): t for t in part["files"]}
        assert set(mine) == set(theirs), part["read_from"]
        for key, t in theirs.items():
            if t["md5"] is not None:
                assert (mine[key]["md5"], mine[key]["sha1"], mine[key]["sha256"]) == (
                    t["md5"], t["sha1"], t["sha256"]), key


@pytest.mark.parametrize("name", [n for n in NAMES if "file_systems" in truth_of(n)["dfvfs"]])
def test_every_file_dfvfs_lists_is_listed_with_its_digests(images, triage, name):
    truth, out, files, errors = listing(triage, images, name)
    assert out.code == 0 and errors == [], out.stderr
    listed = {(r["path"], r["size"], r["md5"], r["sha256"]) for r in files if r["allocated"]}
    for fs in truth["dfvfs"]["file_systems"]:
        assert fs["files"], fs
        for f in fs["files"]:
            path = f["path"] + (f":{f['stream']}" if f["stream"] else "")
            assert (path, f["size"], f["md5"], f["sha256"]) in listed, path
    dfvfs_count = sum(len(fs["files"]) for fs in truth["dfvfs"]["file_systems"])
    libyal = [v for v in volumes_of(triage, images, name)
              if v["layers"] and v["layers"][-1].get("library", "").startswith("libfs")]
    if libyal:   # read by the same kind of library: nothing more, nothing less
        assert len([r for r in files if r["allocated"]]) == dfvfs_count


def test_the_chains_are_named_in_the_report(images, triage):
    lvm = {v.get("path"): v for v in volumes_of(triage, images, "lvm.raw")}
    home = lvm["p2/lvm:vg_triage/home"]
    assert home["description"] == "dos p2 > lvm:vg_triage/home > ext4"
    assert [layer["kind"] for layer in home["layers"]] == ["dos", "lvm", "ext4"]
    assert home["offset"] == 1 << 20 and home["length"] == 4 << 20
    luks = volumes_of(triage, images, "luks2-lvm.raw")
    assert [v["path"] for v in luks] == ["p4/luks2/lvm:vg_luks/root"]
    kinds = [layer["kind"] for layer in luks[0]["layers"]]
    assert kinds == ["gpt", "luks2", "lvm", "ext4"]
    assert luks[0]["layers"][1]["unlocked_with"] == "password"
    assert luks[0]["layers"][1]["locked"] is False
    apfs = volumes_of(triage, images, "apfs.raw")
    assert [(v["path"], v["fs_type"]) for v in apfs] == [("apfs:apfs_test", "apfs")]
    vhd = volumes_of(triage, images, "image-differential.vhd")
    assert vhd[0]["layers"][0] == {"kind": "vhd", "library": "libvhdi", "parents": "image.vhd"}


def test_a_superfloppy_gives_its_file_system_at_sector_0(images, triage):
    """mmls finds a DOS table in the FAT boot sector and fsstat a FAT at sector 0: both are
    listed, the stray partition without an error (its bytes are the FAT's)."""
    truth = truth_of("superfloppy.raw")
    assert truth["mmls"]["partition_table"] == "dos"
    volumes = volumes_of(triage, images, "superfloppy.raw")
    stray = [v for v in volumes if v["offset"] == truth["mmls"]["volumes"][0]["offset"]]
    fat = [v for v in volumes if v["offset"] == 0]
    assert len(stray) == 1 and stray[0]["error"] is None and stray[0]["fs_type"] is None
    assert len(fat) == 1 and fat[0]["fs_type"] == "fat16"


# --- bad input: one line, the rest scanned ---------------------------------------------------

def test_a_differencing_disk_without_its_parent_names_the_parent(images, triage, tmp_path):
    (tmp_path / "child.qcow2").write_bytes((images / "ext4-child.qcow2").read_bytes())
    run = triage("files", tmp_path / "child.qcow2")
    assert run.code == 2 and run.stdout == ""
    assert run.stderr.strip().splitlines() == [
        f"triage: error: {tmp_path / 'child.qcow2'}: differencing disk whose parent ext4.qcow2 "
        f"is missing (put it beside the child, or give it with --parent PATH)"]
    named = triage("files", tmp_path / "child.qcow2", "--parent", images / "ext4.qcow2")
    assert named.code == 0 and "/added-in-child.bin" in named.stdout
    refused = triage("files", images / "ext4.qcow2", "--parent", images / "ext4.qcow2")
    assert refused.code == 2 and "not a differencing virtual disk" in refused.stderr


def test_a_parent_chain_that_loops_is_refused(images, triage, tmp_path):
    data = bytearray((images / "ext4-child.qcow2").read_bytes())
    offset, size = struct.unpack_from(">QI", data, 8)
    assert data[offset:offset + size] == b"ext4.qcow2"
    data[offset:offset + size] = b"loop.qcow2"          # its own name: a loop
    (tmp_path / "loop.qcow2").write_bytes(data)
    run = triage("files", tmp_path / "loop.qcow2")
    assert run.code == 2 and "parent chain loops back to loop.qcow2" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_a_corrupt_vmdk_descriptor_is_one_line(tmp_path, triage):
    bad = tmp_path / "bad.vmdk"
    bad.write_text('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
                   'createType="monolithicFlat"\nRW 99999999999 FLAT "missing-flat.vmdk" 0\n')
    run = triage("files", bad)
    assert run.code == 2
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(f"triage: error: {bad}: cannot open the VMDK image: ")


def test_a_damaged_dmg_chunk_fails_its_files_and_the_rest_is_read(images, triage, tmp_path):
    data = bytearray((images / "hfsplus_zlib.dmg").read_bytes())
    streams = [i for i in range(len(data) - 1)
               if data[i] == 0x78 and data[i + 1] in (0x01, 0x5E, 0x9C, 0xDA)]
    for i in range(streams[5] + 4, streams[5] + 40):   # inside one compressed chunk
        data[i] ^= 0x55
    (tmp_path / "bad.dmg").write_bytes(data)
    truth = truth_of("hfsplus_zlib.dmg")["dfvfs"]["file_systems"][0]["files"]
    run = triage("files", tmp_path / "bad.dmg", "--hash", "md5")
    assert run.code == 3
    errors = [r for r in run.lines() if "error" in r]
    good = {r["path"]: r["md5"] for r in run.lines() if "error" not in r and r["md5"]}
    assert errors and all(r["error"].startswith("read failed: ") for r in errors)
    assert all(len(r["error"]) < 200 for r in errors)
    for f in truth:    # every file outside the damaged chunk reads as dfVFS read it
        path = f["path"] + (f":{f['stream']}" if f["stream"] else "")
        if path in good:
            assert good[path] == f["md5"]
    assert len(good) + len(errors) >= len(truth)


def test_disk_images_inside_a_folder_are_listed_not_opened(images, triage, tmp_path):
    folder = tmp_path / "laptop"
    (folder / "VMs").mkdir(parents=True)
    (folder / "VMs" / "win.vmdk").write_bytes((images / "ext4.vmdk").read_bytes())
    (folder / "case.E01").write_bytes(b"EVF\x09\x0d\x0a\xff\x00" + bytes(100))
    (folder / "notes.txt").write_text("x")
    # a raw image is whole sectors; a text file named .dd (Perl's Kwalify schemas) is not one
    (folder / "stick.dd").write_bytes((images / "superfloppy.raw").read_bytes())
    (folder / "distroprefs.dd").write_text("type: map\n" * 300)
    run = triage("inspect", "--json", folder)
    assert run.code == 0
    assert run.json()["container_files"] == [
        {"volume": None, "path": "/case.E01", "format": "ewf", "size": 108},
        {"volume": None, "path": "/stick.dd", "format": "raw",
         "size": (images / "superfloppy.raw").stat().st_size},
        {"volume": None, "path": "/VMs/win.vmdk", "format": "vmdk",
         "size": (images / "ext4.vmdk").stat().st_size}]
    alert = tmp_path / "set.txt"
    alert.write_text("0123456789abcdef0123456789abcdef  nothing\n")
    out = tmp_path / "o"
    scan = triage("scan", folder, "--hashset", alert, "-o", out)
    assert scan.code == 3 and "3 disk image file(s) inside" in scan.stdout
    report = json.loads((out / "report.json").read_text())
    assert [c["path"] for c in report["evidence"][0]["container_files"]] == [
        "/case.E01", "/stick.dd", "/VMs/win.vmdk"]
    assert report["summary"]["files_seen"] == 5     # judged as files all the same


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_layered_images_are_those_the_truth_describes(images, name):
    """The truth was written from these bytes (sha256 of the image as tests unpack it)."""
    import hashlib
    digest = hashlib.sha256((images / name).read_bytes()).hexdigest()
    assert digest == truth_of(name)["sha256"]


def test_inside_a_layer_a_file_system_at_0_wins_over_a_stray_table(images):
    """A decrypted or logical volume holding a superfloppy FAT (its boot sector also reads as
    an MBR) is that FAT, not a partition table with nothing readable in it."""
    from triage.evidence.access import Access
    from triage.evidence.chain import Link, Place
    from triage.evidence.layers import Explorer
    from triage.evidence.media import open_media
    from triage.evidence.sources import MediaSource
    path = str(images / "superfloppy.raw")
    media = open_media(path)
    try:
        explorer = Explorer(path, media, Access())
        explorer.explore(MediaSource(media), Place([Link("luks2", "luks2", "luks2")], 0, 0, ""))
        assert [(v.fs_type, v.path, v.error) for v in explorer.volumes] == [
            ("fat16", "luks2", None)]
    finally:
        media.close()
