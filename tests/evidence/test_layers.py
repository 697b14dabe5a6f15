"""Layered evidence (virtual disks, LVM, LUKS, APFS, HFS+, XFS, a superfloppy) against truth
written by tools that are not triage (fixtures/build_layers.py): The Sleuth Kit's CLI on the
bytes it reads directly (the raw disk a virtual disk was made from, the file system before it
was encrypted, the image at a logical volume's extent offset), and dfVFS's VolumeScanner with
the fixture's credentials."""

from __future__ import annotations

import json

import pytest

from support import FIXTURES

LAYER_TRUTH = FIXTURES / "truth" / "layers"
NAMES = sorted(p.name[:-5] for p in LAYER_TRUTH.glob("*.json"))
DIGESTS = "md5,sha1,sha256"


def truth_of(name: str) -> dict:
    return json.loads((LAYER_TRUTH / f"{name}.json").read_text(encoding="utf-8"))


def listing(triage, images, name, *extra):
    truth = truth_of(name)
    args = ["files", images / name, "--hash", DIGESTS, *extra]
    for credential in truth["credentials"]:
        args += ["--credential", credential]
    out = triage(*args)
    return truth, out, [r for r in out.lines() if "error" not in r], \
        [r for r in out.lines() if "error" in r]


def volumes_of(triage, images, name) -> list:
    truth = truth_of(name)
    args = ["inspect", "--json", images / name]
    for credential in truth["credentials"]:
        args += ["--credential", credential]
    run = triage(*args)
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
