"""A scan of part of an item (triage.scope), and parts merged into the item's results database:
the merged report is the report of a scan of the whole item (hits, other names, errors,
summary, evidence counts), wherever the cuts fall."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from support import FIXTURES, load_truth
from triage.batch.merge import merge_parts, part_dir
from triage.batch.plan import cut, plan_item
from triage.errors import TriageError
from triage.evidence import open_evidence
from triage.hashsets import compile_sources
from triage.records import ScanError
from triage.results import DB_NAME, Results
from triage.scan import ScanRequest, scan
from triage.scope import Range, Scope, walk

DEMO = FIXTURES / "demo"
# What a split must not change; times, the environment and the tool's run aside.
SAME = ("case", "options", "complete", "stopped", "evidence", "hashsets", "summary", "hits",
        "errors", "warnings")


def _md5_set(tmp_path: Path, name: str, files) -> str:
    """A compiled alert set of the files' MD5s (compiled once: every part opens the same)."""
    source = tmp_path / f"{name}.md5"
    source.write_text("".join(f"{f['md5']}  f{i}\n" for i, f in enumerate(files)))
    out = tmp_path / f"{name}.tset"
    compile_sources([source], out)
    return str(out)


def _whole_and_split(tmp_path: Path, evidence: str, sets, parts, **options):
    case = {"evidence_id": "EX-1", "case_number": "C-9"}
    whole = tmp_path / "whole"
    scan(ScanRequest([evidence], sets, whole, formats=["json"], case=case, workers=1, **options))
    split = tmp_path / "split"
    for index, scope in enumerate(parts):
        outcome = scan(ScanRequest([evidence], sets, part_dir(split, index), formats=["json"],
                                   case=case, workers=1, scope=scope, **options))
        assert outcome.reports == []
        assert sorted(p.name for p in part_dir(split, index).iterdir()
                      if not p.name.startswith(DB_NAME)) == []
    merge_parts(split, len(parts), ["json"])
    assert not (split / "parts").exists()
    reports = [json.loads((d / "report.json").read_text()) for d in (whole, split)]
    return reports


def _assert_same(whole: dict, split: dict) -> None:
    for key in SAME:
        assert split[key] == whole[key], key


def test_a_volume_cut_at_every_file_merges_to_the_whole_scan(images, tmp_path):
    """ext4.raw holds a hard link and a deleted name whose inode a live file now owns: wherever
    the cut falls between two names of one file, it is read once and listed once."""
    truth = load_truth("ext4.raw")
    sets = [_md5_set(tmp_path, "all", [f for f in truth["files"] if f["size"]])]
    with open_evidence(str(images / "ext4.raw")) as ev:
        count = sum(not isinstance(e, ScanError) for e in ev.entries())
    parts = cut({0: [1] * count}, 1)
    assert [s.ranges[0].stop for s in parts] == [*range(1, count), None]
    whole, split = _whole_and_split(tmp_path, str(images / "ext4.raw"), sets, parts)
    _assert_same(whole, split)
    assert whole["summary"]["other_names"] == 2 and whole["summary"]["hits"] >= 2
    assert any(h["other_names"] for h in split["hits"])


def test_volumes_and_ranges_of_a_disk_with_an_unreadable_volume(images, tmp_path):
    """mbr.raw: five volumes (one without a file system: its error belongs to one part)."""
    truth = load_truth("mbr.raw")
    sets = [_md5_set(tmp_path, "all", [f for f in truth["files"] if f["size"]])]
    evidence = str(images / "mbr.raw")
    parts = [Scope.from_dict(p) for p in plan_item(evidence, sets, True, None, 2 << 20)]
    assert len(parts) > 3
    assert any(len(s.ranges) > 1 for s in parts)                       # small volumes together
    assert any(s.ranges[0].start > 0 for s in parts)                   # a volume cut in ranges
    whole, split = _whole_and_split(tmp_path, evidence, sets, parts)
    _assert_same(whole, split)
    assert whole["summary"]["errors"] == 1 and whole["summary"]["hits"] > 20
    # what reads as nothing ($BadClus:$Bad, a FAT volume label, orphans whose clusters are
    # gone): the set lists the empty file's MD5, a warning on each, no hit
    empty = [w["path"] for w in whole["warnings"] if "the value of the empty file" in w["reason"]]
    assert "/$BadClus:$Bad" in empty and "/MBRFAT16    (Volume Label Entry)" in empty


def test_perceptual_hits_and_known_good_split_as_planned(tmp_path):
    sets = [str(DEMO / "demo-alert.json"), str(DEMO / "demo-known-good.txt")]
    compiled = []
    for i, source in enumerate(sets):
        compile_sources([source], tmp_path / f"{i}.tset")
        compiled.append(str(tmp_path / f"{i}.tset"))
    parts = [Scope.from_dict(p) for p in plan_item(str(DEMO / "demo.E01"), compiled, True,
                                                   None, 600_000)]
    assert len(parts) == 5
    whole, split = _whole_and_split(tmp_path, str(DEMO / "demo.E01"), compiled, parts)
    _assert_same(whole, split)
    assert whole["summary"]["hits"] == 7 and whole["summary"]["files_known"] == 9


def test_a_folder_is_one_file_list_cut_in_ranges(tmp_path):
    folder = tmp_path / "seized"
    for i in range(12):
        (folder / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (folder / f"d{i % 3}" / f"f{i}.bin").write_bytes(bytes([i]) * (100 + i))
    (folder / "d1" / "locked").write_bytes(b"x")
    (folder / "d1" / "locked").chmod(0)
    files = [{"md5": __import__("hashlib").md5(bytes([i]) * (100 + i)).hexdigest()}
             for i in range(0, 12, 4)]
    sets = [_md5_set(tmp_path, "some", files)]
    parts = cut({None: [1] * 13}, 4)
    assert len(parts) == 4 and all(s.ranges[0].volume is None for s in parts)
    whole, split = _whole_and_split(tmp_path, str(folder), sets, parts)
    _assert_same(whole, split)
    assert whole["summary"]["hits"] == 3


def test_walk_gives_entries_before_a_range_as_not_its_own_and_stops_at_its_end(images):
    with open_evidence(str(images / "mbr.raw")) as ev:
        every = [e for e in ev.entries() if e.volume and e.volume.index == ev.volumes[1].index]
        index = ev.volumes[1].index
        seen = list(walk(ev, Scope((Range(index, 2, 5),)), True))
    assert [own for _, own in seen] == [False, False, True, True, True]
    assert [e.path for e, _ in seen] == [e.path for e in every[:5]]


def test_cut_balances_bytes_and_keeps_small_volumes_whole():
    scopes = cut({0: [10, 10], 1: [5], 2: [100, 1, 1, 100, 1, 1], 3: [0]}, 110)
    assert [s.to_dict()["ranges"] for s in scopes] == [
        [{"volume": 0, "start": 0, "stop": None}, {"volume": 1, "start": 0, "stop": None}],
        [{"volume": 2, "start": 0, "stop": 3}],
        [{"volume": 2, "start": 3, "stop": None}],
        [{"volume": 3, "start": 0, "stop": None}]]
    # one file larger than a part is one part of its own
    assert len(cut({0: [1000]}, 10)) == 1


def test_resuming_a_part_with_another_scope_is_refused(images, tmp_path):
    evidence = str(images / "fat16.raw")
    sets = [_md5_set(tmp_path, "none", [{"md5": "0" * 32}])]
    out = tmp_path / "part"
    scan(ScanRequest([evidence], sets, out, workers=1, scope=Scope((Range(0, 0, 3),))))
    with pytest.raises(TriageError, match="the part of the evidence differs"):
        scan(ScanRequest([evidence], sets, out, workers=1, resume=True,
                         scope=Scope((Range(0, 3, None),))))


def test_absorbing_a_part_twice_is_a_fault_not_a_duplicate(images, tmp_path):
    evidence = str(images / "fat16.raw")
    sets = [_md5_set(tmp_path, "none", [{"md5": "0" * 32}])]
    scan(ScanRequest([evidence], sets, tmp_path / "p", workers=1, scope=Scope((Range(0),))))
    merged = Results.create(tmp_path / "m")
    merged.absorb(tmp_path / "p" / DB_NAME)
    seen = merged.summary().files_seen
    assert seen > 0 and merged.evidence()[0]["finished"] is True
    with pytest.raises(sqlite3.IntegrityError):
        merged.absorb(tmp_path / "p" / DB_NAME)
    merged.abandon()


def test_disk_images_met_in_every_part_are_the_whole_scans(tmp_path):
    """Each part notes the disk images it walks past (container_files): merged, the list is the
    whole scan's, in walk order, each once; before, the last part's list won."""
    folder = tmp_path / "laptop"
    (folder / "VMs").mkdir(parents=True)
    ewf = b"EVF\x09\x0d\x0a\xff\x00" + bytes(100)
    for name in ("a.E01", "VMs/b.vmdk", "VMs/c.qcow2", "VMs/d.vhdx", "z.txt"):
        (folder / name).write_bytes(ewf + name.encode())
    sets = [_md5_set(tmp_path, "none", [{"md5": "0" * 32}])]
    parts = [Scope((Range(None, 0, 2),)), Scope((Range(None, 2, 4),)),
             Scope((Range(None, 4, None),))]
    whole, split = _whole_and_split(tmp_path, str(folder), sets, parts)
    _assert_same(whole, split)
    assert [c["path"] for c in split["evidence"][0]["container_files"]] == [
        "/a.E01", "/VMs/b.vmdk", "/VMs/c.qcow2", "/VMs/d.vhdx"]
