"""`triage inspect`: container facts, E01 header values and stored hashes, volumes."""

from __future__ import annotations

import shutil

import pytest

from support import load_truth


def volumes_of(info):
    return [(v["offset"], v["length"], v["fs_type"], v["block_size"]) for v in info["volumes"]]


def truth_volumes(truth):
    return [(v["offset"], v["length"], v["fs_type"], v["block_size"]) for v in truth["volumes"]]


@pytest.mark.parametrize("name", ["mbr.E01", "mbr-split.E01"])
def test_inspect_e01(images, triage, name):
    truth = load_truth(name)
    run = triage("inspect", images / name, "--json")
    assert run.code == 0, run.stderr
    info = run.json()
    assert info["container"] == "ewf"
    assert info["size"] == truth["media_size"]
    assert [s.rsplit("/", 1)[-1] for s in info["segments"]] == truth["segments"]
    assert info["partition_table"] == truth["partition_table"]
    ewf = truth["ewf"]
    for key in ("case_number", "evidence_number", "examiner", "description", "notes",
                "acquisition_date"):
        assert info["metadata"][key] == ewf[key], key
    assert info["stored_hashes"] == {"md5": ewf["md5"], "sha1": ewf["sha1"]}
    assert volumes_of(info) == truth_volumes(truth)
    unreadable = [v for v in info["volumes"] if v["fs_type"] is None]
    assert len(unreadable) == 1 and "no file system" in unreadable[0]["error"]
    files = {}
    for f in truth["files"]:
        files.setdefault(f["volume_offset"], []).append(f)
    for v in info["volumes"]:
        counts = info["counts"].get(str(v["index"]), {"allocated": 0, "deleted": 0})
        expected = files.get(v["offset"], [])
        assert counts["allocated"] == sum(f["allocated"] for f in expected)
        assert counts["deleted"] == sum(not f["allocated"] for f in expected)
    assert "checksum" in info["verification"]["note"]


@pytest.mark.parametrize("name", sorted(n for n in ["fat16.raw", "ntfs.raw", "gpt.raw",
                                                   "gpt.raw.000", "iso9660.iso"]))
def test_inspect_raw_volumes(images, triage, name):
    truth = load_truth(name)
    info = triage("inspect", images / name, "--json").json()
    assert info["container"] == truth["container"]
    assert info["size"] == truth["media_size"]
    assert info["partition_table"] == truth["partition_table"]
    assert volumes_of(info) == truth_volumes(truth)


def test_verify_matches_stored_hashes(images, triage):
    truth = load_truth("mbr.E01")
    run = triage("inspect", images / "mbr.E01", "--verify", "--json")
    assert run.code == 0, run.stderr
    hashes = run.json()["verification"]["hashes"]
    assert hashes["md5"] == {"stored": truth["md5"], "computed": truth["md5"], "match": True}
    assert hashes["sha1"] == {"stored": truth["sha1"], "computed": truth["sha1"], "match": True}


def test_verify_catches_a_damaged_chunk(images, triage, tmp_path):
    """pyewf returns zeros for a chunk whose checksum fails without raising: only the full
    re-hash shows the damage."""
    damaged = tmp_path / "mbr.E01"
    shutil.copyfile(images / "mbr.E01", damaged)
    data = bytearray(damaged.read_bytes())
    middle = len(data) // 2
    data[middle: middle + 64] = bytes(b ^ 0xFF for b in data[middle: middle + 64])
    damaged.write_bytes(bytes(data))
    run = triage("inspect", damaged, "--verify", "--json")
    assert run.code == 1, run.stderr
    md5 = run.json()["verification"]["hashes"]["md5"]
    assert md5["match"] is False and md5["stored"] == load_truth("mbr.E01")["md5"]


def test_inspect_text_output(images, triage):
    run = triage("inspect", images / "mbr.E01")
    assert run.code == 0
    assert "case-001" in run.stdout and "fat32" in run.stdout and "unreadable" in run.stdout


def test_inspect_folder(tmp_path, triage):
    (tmp_path / "a.txt").write_text("x" * 10)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("y" * 5)
    info = triage("inspect", tmp_path, "--json").json()
    assert info["container"] == "folder"
    assert info["counts"]["folder"] == {"allocated": 2, "deleted": 0, "bytes": 15, "errors": 0,
                                        "encrypted": 0, "encrypted_by": []}
