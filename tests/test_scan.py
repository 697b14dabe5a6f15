"""`triage scan` end to end on the fixture images, with sets built from their Sleuth Kit truth:
exactly the planted hits, in every partition, allocated and deleted, E01 and raw alike."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from support import REPO, load_truth, sha256_file, start_triage, wait_for_done
from triage.containers import MIN_SIZE, PROBE

SCHEMA = json.loads((REPO / "triage" / "schemas" / "report.schema.json").read_text())
MBR = load_truth("mbr.raw")
CATEGORIES = ["1", "2", "3"]


EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def readable(files):
    """Files with content (NTFS's $BadClus:$Bad has a size but reads empty)."""
    return [f for f in files if f.get("icat_error") is None and f["size"] > 0
            and f["md5"] != EMPTY_MD5]


def pick(files, allocated, count, exclude=()):
    """Files with content unique in the image, so a planted hash identifies one file."""
    md5s = [f["md5"] for f in files]
    chosen = [f for f in readable(files) if f["allocated"] == allocated
              and md5s.count(f["md5"]) == 1 and f["md5"] not in exclude
              and not f["path"].startswith("/$")]
    return chosen[:count]


def plant(files):
    """One deleted and two allocated files on every readable volume of the image."""
    planted = []
    for volume in (v for v in MBR["volumes"] if v["fs_type"]):
        on_volume = [f for f in files if f["volume_offset"] == volume["offset"]]
        planted += pick(on_volume, True, 2) + pick(on_volume, False, 1)
    return planted


def write_alert_csv(path: Path, files, categories=CATEGORIES) -> dict:
    with open(path, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["MD5", "SHA1", "FileSize", "Category", "FileName"])
        expected = {}
        for i, f in enumerate(files):
            cat = categories[i % len(categories)]
            w.writerow([f["md5"].upper(), f["sha1"], f["size"], cat, f"ref-{i}"])
            expected[f["md5"]] = cat
    return expected


def write_known_good(path: Path, files):
    """hashdeep's known-file format: it carries sizes, so the size prefilter applies."""
    lines = ["%%%% HASHDEEP-1.0\n", "%%%% size,md5,filename\n", "## known-good test set\n"]
    lines += [f"{f['size']},{f['md5']},{Path(f['path']).name}\n" for f in files]
    path.write_text("".join(lines))


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sets")
    planted = plant(MBR["files"])
    alert = folder / "alert.csv"
    expected = write_alert_csv(alert, planted)
    # known-good: content that is not planted, some of it on several volumes (like NSRL's)
    known = list({f["md5"]: f for f in readable(MBR["files"])
                  if f["allocated"] and f["md5"] not in expected}.values())[:6]
    source = folder / "known.hashdeep"
    write_known_good(source, known)
    compiled = folder / "known-good.set"
    from support import run_triage
    run = run_triage("hashset", "import", source, "-o", compiled, "--kind", "known-good",
                     "--name", "known-good-test")
    assert run.code == 0, run.stderr
    return {"alert": alert, "known": compiled, "planted": planted, "categories": expected,
            "known_files": known}


def scan(triage, evidence, sets, outdir, *extra):
    args = ["scan", *evidence, "--hashset", sets["alert"], "--hashset", sets["known"],
            "-o", outdir, "--case-number", "CASE-1", "--examiner", "E. Xaminer",
            "--evidence-id", "EX-7", *extra]
    return triage(*args)


def hit_keys(report):
    return {(h["volume"]["offset"], h["path"], h["inode"]) for h in report["hits"]}


@pytest.mark.parametrize("image", ["mbr.raw", "mbr.E01", "mbr-split.E01"])
def test_scan_reports_exactly_the_planted_hits(images, triage, sets, tmp_path, image):
    run = scan(triage, [images / image], sets, tmp_path / "out", "--json")
    assert run.code == 1, run.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    planted = {(f["volume_offset"], f["path"], f["inode"]): f for f in sets["planted"]}
    assert hit_keys(report) == set(planted)
    assert {p[0] for p in planted} == {v["offset"] for v in MBR["volumes"] if v["fs_type"]}
    assert {f["allocated"] for f in planted.values()} == {True, False}
    for hit in report["hits"]:
        truth = planted[(hit["volume"]["offset"], hit["path"], hit["inode"])]
        assert (hit["md5"], hit["sha1"], hit["sha256"]) == (truth["md5"], truth["sha1"],
                                                           truth["sha256"])
        assert (hit["size"], hit["allocated"]) == (truth["size"], truth["allocated"])
        assert [(m["signal"], m["set"], m["kind"], m["category"]) for m in hit["matches"]] == [
            ("md5", "alert", "alert", sets["categories"][truth["md5"]]),
            ("sha1", "alert", "alert", sets["categories"][truth["md5"]])]
    s = report["summary"]
    readable_files = [f for f in MBR["files"]]
    assert s["files_seen"] == len(readable_files)
    assert s["hits"] == len(planted)
    by_cat = {}
    for md5, cat in sets["categories"].items():
        by_cat[cat] = by_cat.get(cat, 0) + 1
    assert s["hits_by_category"] == dict(sorted(by_cat.items()))
    known_md5 = {f["md5"] for f in sets["known_files"]}
    assert s["files_known"] == sum(f["md5"] in known_md5 for f in MBR["files"])
    assert not known_md5 & {h["md5"] for h in report["hits"]}
    # the size prefilter: only files whose size is in the alert set are read
    sizes = {f["size"] for f in sets["planted"] + sets["known_files"]}
    assert s["files_hashed"] == sum(f["size"] in sizes for f in MBR["files"])
    assert s["files_skipped"] == s["files_seen"] - s["files_hashed"]
    assert s["errors"] == 1            # the partition with no file system
    assert report["case"] == {"case_number": "CASE-1", "examiner": "E. Xaminer",
                              "evidence_id": "EX-7", "notes": None}
    assert report["complete"] is True
    outcome = run.json()
    assert outcome["exit_code"] == 1 and outcome["summary"]["hits"] == len(planted)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert {f["name"] for f in manifest["files"]} == {"report.json", "report.csv",
                                                      "report.html", "results.sqlite"}


def test_e01_provenance_in_report(images, triage, sets, tmp_path):
    scan(triage, [images / "mbr.E01"], sets, tmp_path / "out", "-q")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    (ev,) = report["evidence"]
    truth = load_truth("mbr.E01")
    assert ev["container"] == "ewf" and ev["size"] == truth["media_size"]
    assert ev["metadata"]["case_number"] == truth["ewf"]["case_number"]
    assert ev["stored_hashes"] == {"md5": truth["md5"], "sha1": truth["sha1"]}
    seen = sum(v["counts"]["files_seen"] for v in ev["volumes"])
    assert seen == len(truth["files"])
    (alert, known) = report["hashsets"]
    assert alert["kind"] == "alert" and known["kind"] == "known-good"
    assert alert["entries"] == 2 * len(sets["planted"])
    assert alert["sources"][0]["sha256"] == hashlib.sha256(sets["alert"].read_bytes()).hexdigest()


@pytest.mark.parametrize("image, code, verdict", [
    ("fat16.raw", 0, "NO HITS: no known material found"),
    ("mbr.raw", 3, "NO HITS, BUT COVERAGE WAS NOT TOTAL"),   # one partition has no file system
])
def test_scans_without_hits(images, triage, tmp_path, image, code, verdict):
    unrelated = tmp_path / "unrelated.md5"
    unrelated.write_text("0123456789abcdef0123456789abcdef  nothing\n")
    run = triage("scan", images / image, "--hashset", unrelated, "-o", tmp_path / "o")
    assert run.code == code, run.stderr
    assert run.stdout.startswith(verdict)


def test_unreadable_set_exits_two_before_scanning(images, triage, tmp_path):
    bad = tmp_path / "broken.set"
    bad.write_bytes(b"TRIAGEHS" + bytes(100))
    run = triage("scan", images / "fat16.raw", "--hashset", bad, "-o", tmp_path / "o")
    assert run.code == 2
    assert len(run.stderr.strip().splitlines()) == 1 and str(bad) in run.stderr
    assert not (tmp_path / "o").exists()


def test_an_output_folder_that_cannot_be_made_exits_two_before_scanning(images, triage, sets,
                                                                       tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"x")
    out = blocker / "out"
    run = scan(triage, [images / "fat16.raw"], sets, out)
    assert run.code == 2
    assert run.stderr == f"triage: error: {out}: cannot create the output folder: " \
                         "Not a directory\n"


def test_never_writes_into_a_scanned_folder(triage, sets, tmp_path):
    """Run from inside the evidence without -o, the default output folder would land in it."""
    evidence = tmp_path / "seized"
    (evidence / "docs").mkdir(parents=True)
    (evidence / "docs" / "a.txt").write_bytes(b"evidence content\n")
    before = {p: sha256_file(p) for p in evidence.rglob("*") if p.is_file()}
    run = triage("scan", ".", "--hashset", sets["alert"], cwd=evidence)
    assert run.code == 2
    assert "inside the evidence folder" in run.stderr and run.stderr.count("\n") == 1
    inner = triage("scan", evidence, "--hashset", sets["alert"], "-o", evidence / "docs" / "out")
    assert inner.code == 2 and "inside the evidence folder" in inner.stderr
    assert {p: sha256_file(p) for p in evidence.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in evidence.rglob("*")) == ["a.txt", "docs"]


def test_refuses_to_overwrite_a_finished_scan(images, triage, sets, tmp_path):
    assert scan(triage, [images / "fat16.raw"], sets, tmp_path / "o", "-q").code == 1
    again = scan(triage, [images / "fat16.raw"], sets, tmp_path / "o", "-q")
    assert again.code == 2 and "--force" in again.stderr
    assert scan(triage, [images / "fat16.raw"], sets, tmp_path / "o", "-q", "--force").code \
        == 1


def test_hostile_names_come_out_inert(images, triage, tmp_path):
    """Names are attacker-controlled: a CSV formula stays text, an HTML tag stays text, a bidi
    override is shown, not obeyed."""
    hostile = [f for name in ("fat16.raw", "ext4.raw") for f in load_truth(name)["files"]
               if any(c in f["path"] for c in "=<\u202e+")]
    assert len(hostile) >= 4
    alert = tmp_path / "hostile.csv"
    write_alert_csv(alert, hostile)
    run = triage("scan", images / "fat16.raw", images / "ext4.raw", "--hashset", alert,
                 "-o", tmp_path / "o", "-q")
    assert run.code == 1
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert {h["path"] for h in report["hits"]} >= {f["path"] for f in hostile}
    rows = list(csv.reader((tmp_path / "o" / "report.csv").read_text("utf-8-sig").splitlines()))
    paths = [r[rows[0].index("path")] for r in rows[1:]]
    assert all(not p.startswith(("=", "+", "-", "@")) for p in paths)
    assert "'=SUM(A1).txt".lstrip("'") in " ".join(paths)
    assert any(p.startswith("'/") or p.startswith("/") for p in paths)
    page = (tmp_path / "o" / "report.html").read_text()
    assert "<script" not in page.lower()
    assert "&lt;script&gt;" in page
    assert "\u202e" not in page and "&lt;U+202E&gt;" in page
    raw_json = (tmp_path / "o" / "report.json").read_text()
    assert "\u202e" not in raw_json and "\\u202e" in raw_json


def test_reports_hold_no_content(images, triage, tmp_path):
    """No byte sequence of any hit file longer than its hashes appears in any output."""
    files = [f for f in load_truth("fat16.raw")["files"] if f["allocated"] and f["size"] > 64
             and f.get("md5")]
    alert = tmp_path / "a.csv"
    write_alert_csv(alert, files)
    assert triage("scan", images / "fat16.raw", "--hashset", alert, "-o", tmp_path / "o",
                  "-q").code == 1
    sys.path.insert(0, str(REPO))
    from triage.evidence import open_evidence
    contents = []
    with open_evidence(str(images / "fat16.raw")) as ev:
        wanted = {f["path"] for f in files}
        for e in ev.entries():
            if getattr(e, "path", None) in wanted and e.allocated:
                with e.open() as r:
                    contents.append(r.read())
    assert len(contents) == len(files)
    window = 65  # longer than the longest hash (SHA-256 in hex)
    for out in (tmp_path / "o").iterdir():
        data = out.read_bytes()
        grams = {data[i:i + window] for i in range(len(data) - window + 1)}
        for content in contents:
            assert not any(content[i:i + window] in grams
                           for i in range(0, len(content) - window + 1)), out.name


def _folder_with_files(root: Path, count: int):
    root.mkdir()
    for i in range(count):
        (root / f"d{i % 20:02d}").mkdir(exist_ok=True)
        (root / f"d{i % 20:02d}" / f"f{i:05d}.bin").write_bytes(
            (f"file {i} ".encode() * (50 + i % 400)))


def _hits_of(outdir):
    report = json.loads((outdir / "report.json").read_text())
    return sorted((h["path"], h["md5"]) for h in report["hits"]), report


@pytest.fixture(scope="module")
def resumable(tmp_path_factory):
    base = tmp_path_factory.mktemp("resume")
    folder = base / "evidence"
    _folder_with_files(folder, 3000)
    lines = []
    for i in range(0, 3000, 97):
        data = f"file {i} ".encode() * (50 + i % 400)
        lines.append(f"{hashlib.md5(data).hexdigest()}  f{i:05d}.bin\n")
    alert = base / "alert.md5"
    alert.write_text("".join(lines))
    from support import run_triage
    full = base / "full"
    assert run_triage("scan", folder, "--hashset", alert, "-o", full, "-q").code == 1
    return folder, alert, _hits_of(full)[0]


def _start(folder, alert, outdir, *extra):
    return start_triage("scan", folder, "--hashset", alert, "-o", outdir, "-q", "--workers", "1",
                        *extra)


def test_kill_9_then_resume_gives_the_same_hits(resumable, tmp_path, triage):
    folder, alert, expected = resumable
    out = tmp_path / "killed"
    proc = _start(folder, alert, out)
    wait_for_done(out, 300)
    proc.kill()
    proc.wait()
    with sqlite3.connect(out / "results.sqlite") as conn:
        done_before = conn.execute("SELECT COUNT(*) FROM done").fetchone()[0]
    assert 0 < done_before < 3000
    run = triage("scan", folder, "--hashset", alert, "-o", out, "--resume", "--json")
    assert run.code == 1, run.stderr
    hits, report = _hits_of(out)
    assert hits == expected
    assert report["complete"] is True and report["summary"]["files_seen"] == 3000


def test_ctrl_c_writes_a_partial_report_and_resume_completes(resumable, tmp_path, triage):
    import signal
    folder, alert, expected = resumable
    out = tmp_path / "interrupted"
    proc = _start(folder, alert, out)
    wait_for_done(out, 300)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    partial = json.loads((out / "report.json").read_text())
    assert partial["complete"] is False
    assert 0 < partial["summary"]["files_seen"] < 3000
    assert set(map(tuple, [(h["path"], h["md5"]) for h in partial["hits"]])) <= set(expected)
    run = triage("scan", folder, "--hashset", alert, "-o", out, "--resume", "-q")
    assert run.code == 1
    assert _hits_of(out)[0] == expected


def test_report_render_reproduces_the_reports(images, triage, sets, tmp_path):
    out = tmp_path / "o"
    assert scan(triage, [images / "fat16.raw"], sets, out, "-q").code == 1
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name.startswith("report.")}
    for p in out.glob("report.*"):
        p.unlink()
    run = triage("report", "render", out)
    assert run.code == 0, run.stderr
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.name.startswith("report.")}
    assert after == before


VECTORS = REPO / "fixtures" / "vectors" / "pdq" / "threatexchange"


def test_perceptual_hits_with_variant_and_distance(tmp_path, triage):
    """Re-saved, shrunk and rotated copies of a listed picture are found by PDQ; an unrelated
    picture is not; a corrupt image is an error record and the scan goes on; a picture already
    settled by its MD5 (known-good) is never decoded."""
    from PIL import Image
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    original = VECTORS / "dih" / "bridge-1-original.jpg"
    shutil.copyfile(VECTORS / "bridge-mods" / "shrink-a-lot.jpg", evidence / "small.jpg")
    shutil.copyfile(VECTORS / "dih" / "bridge-2-rotate-90.jpg", evidence / "turned.jpg")
    shutil.copyfile(VECTORS / "pen-and-coaster.png", evidence / "unrelated.png")
    Image.open(original).save(evidence / "recompressed.jpg", quality=40)
    good = sorted((VECTORS / "misc-images").iterdir())[0]
    shutil.copyfile(good, evidence / f"known{good.suffix}")
    data = original.read_bytes()
    (evidence / "broken.jpg").write_bytes(data[: len(data) // 3])
    pdq = triage("hash", original, "--signal", "pdq", "--json").lines()[0]["pdq"]
    alert = tmp_path / "alert.csv"
    alert.write_text(f"pdq,category,series\n{pdq},1,bridge\n")
    known = tmp_path / "known.hashdeep"
    known.write_text("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n"
                     f"{good.stat().st_size},{hashlib.md5(good.read_bytes()).hexdigest()},k\n")
    compiled = tmp_path / "known.set"
    assert triage("hashset", "import", known, "-o", compiled, "--kind", "known-good").code == 0
    run = triage("scan", evidence, "--hashset", alert, "--hashset", compiled,
                 "-o", tmp_path / "out", "-q")
    assert run.code == 1, run.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    hits = {h["path"]: h for h in report["hits"]}
    assert set(hits) == {"/small.jpg", "/turned.jpg", "/recompressed.jpg"}
    for hit in hits.values():
        (m,) = hit["matches"]
        assert (m["signal"], m["category"], m["series"], m["kind"]) == ("pdq", "1", "bridge",
                                                                       "alert")
        assert 0 <= m["distance"] <= 31 and m["quality"] >= 50
        assert len(hit["pdq"]) == 64 and len(hit["sha256"]) == 64
    assert hits["/turned.jpg"]["matches"][0]["variant"] != "original"
    assert hits["/small.jpg"]["matches"][0]["variant"] == "original"
    s = report["summary"]
    assert s["files_known"] == 1
    assert s["images_decoded"] == 4       # six images less the known-good and the broken one
    assert [e["path"] for e in report["errors"]] == ["/broken.jpg"]
    assert "image not decoded" in report["errors"][0]["reason"]


DEMO = REPO / "fixtures" / "demo"


def test_demo_scan_gives_the_expected_report(tmp_path, triage):
    """The README's first command: the demo E01 against a VICS alert set and an NSRL known-good
    set gives exactly the planted exact and perceptual hits (expected.json was computed by the
    demo's build from what it wrote and from fls, never typed)."""
    expected = json.loads((DEMO / "expected.json").read_text())
    run = triage("scan", DEMO / "demo.E01", "--hashset", DEMO / "demo-alert.json",
                 "--hashset", DEMO / "demo-known-good.txt", "-o", tmp_path / "out")
    assert run.code == expected["exit_code"] == 1, run.stderr
    assert run.stdout.startswith("HITS FOUND: 7 files")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)

    def key(h):
        return (h["volume"]["offset"], h["path"], h["inode"])

    got = {key(h): h for h in report["hits"]}
    want = {key(h): h for h in expected["hits"] + expected["near_duplicates"]}
    assert set(got) == set(want)
    for k, w in want.items():
        h = got[k]
        assert (h["allocated"], h["size"], h["md5"], h["sha1"], h["sha256"]) == (
            w["allocated"], w["size"], w["md5"], w["sha1"], w["sha256"])
        assert sorted({m["signal"] for m in h["matches"]}) == sorted(w["signals"])
        assert sorted({m["category"] for m in h["matches"]}) == sorted(w["categories"])
        if "pdq_distance" in w:
            (m,) = h["matches"]
            # expected.json carries the listed PDQ; the report carries the file's own
            from triage.signals import get
            assert m["distance"] == w["pdq_distance"] == get("pdq").distance(h["pdq"], w["pdq"])
    for field, value in expected["summary"].items():
        assert report["summary"][field] == value, field
    assert report["evidence"][0]["metadata"]["case_number"] == "DEMO-2026-001"


def test_unreadable_file_is_an_error_record_and_the_scan_goes_on(images, triage, tmp_path):
    """An image cut in the middle of a file's content: that file becomes an error record (its
    hash could not be checked), every other planted hit is still found."""
    files = {f["path"]: f for f in MBR["files"]}
    fat16 = next(v["offset"] for v in MBR["volumes"] if v["fs_type"] == "fat16")
    fat32 = next(v["offset"] for v in MBR["volumes"] if v["fs_type"] == "fat32")
    random_bin = next(f for f in MBR["files"] if f["volume_offset"] == fat32
                      and f["size"] > 1 << 20)
    other = next(f for f in readable(MBR["files"]) if f["volume_offset"] == fat16
                 and f["allocated"] and not f["path"].startswith("/$"))
    import pytsk3
    img = pytsk3.Img_Info(str(images / "mbr.raw"))
    fs = pytsk3.FS_Info(img, offset=fat32)
    first_run = next(r for attr in fs.open_meta(inode=random_bin["inode"]) for r in attr)
    cut_at = fat32 + first_run.addr * fs.info.block_size + 4096
    cut = tmp_path / "cut.raw"
    with open(images / "mbr.raw", "rb") as src:
        cut.write_bytes(src.read(cut_at))
    alert = tmp_path / "alert.csv"
    write_alert_csv(alert, [random_bin, other])
    run = triage("scan", cut, "--hashset", alert, "-o", tmp_path / "out", "-q")
    assert run.code == 1, run.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [h["path"] for h in report["hits"]] == [other["path"]]
    unreadable = [e for e in report["errors"] if e["path"] == random_bin["path"]]
    assert len(unreadable) == 1 and "read failed" in unreadable[0]["reason"]
    assert unreadable[0]["volume"]["offset"] == fat32 and unreadable[0]["inode"] == \
        random_bin["inode"]
    assert files[other["path"]]["md5"] == report["hits"][0]["md5"]


def _scan_judging_after(monkeypatch, before, evidence, alert, out):
    """scan() in this process, in two workers forked with the judge calling `before(entry)`
    first (what a crashing library or a read that never returns does to one file); its
    outcome and report."""
    from triage.scan import ScanRequest, scan
    from triage.scanners.judge import Judge
    judge = Judge.__call__

    def judging(self, entry):
        before(entry)
        return judge(self, entry)
    monkeypatch.setattr(Judge, "__call__", judging)
    outcome = scan(ScanRequest(evidence=[str(evidence)], hashsets=[str(alert)], outdir=out,
                               workers=2))
    return outcome, json.loads((out / "report.json").read_text())


def _walked_here(monkeypatch, shared: bool) -> None:
    """The folder walked by the workers (shared_walk), or by the main process alone."""
    from triage import scan_pass
    if not shared:
        monkeypatch.setattr(scan_pass.shared_walk, "applies", lambda *args: False)


def _tried(log: Path, path: str) -> None:
    """Note a try at judging `path` in `log` (from any process)."""
    with open(log, "a") as f:
        f.write(path + "\n")


@pytest.mark.parametrize("shared", [True, False], ids=["shared walk", "walk here"])
def test_a_file_that_crashes_its_worker_is_an_error_and_the_scan_goes_on(tmp_path,
                                                                          monkeypatch, shared):
    """A C library can crash on a corrupt structure and take its worker process down, and the
    batches the other workers had out with it. Those are judged again a file at a time; the
    file that takes a worker down again is an error record, every other file is judged, and
    the scan ends complete, the workers walking the folder or not."""
    _walked_here(monkeypatch, shared)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for i in range(200):
        (evidence / f"f{i:03d}.bin").write_bytes(f"content {i}\n".encode() * (i + 1))
    alert = tmp_path / "alert.md5"
    alert.write_text(hashlib.md5(b"content 5\n" * 6).hexdigest() + "  f005.bin\n" +
                     hashlib.md5(b"content 150\n" * 151).hexdigest() + "  f150.bin\n")

    def crash_on(entry):
        if entry.path in ("/f199.bin", "/f100.bin"):
            os._exit(1)

    outcome, report = _scan_judging_after(monkeypatch, crash_on, evidence, alert,
                                          tmp_path / "out")
    assert (outcome.complete, outcome.exit_code) == (True, 1)
    assert sorted(h["path"] for h in report["hits"]) == ["/f005.bin", "/f150.bin"]
    assert report["summary"]["files_seen"] == 200
    assert sorted((e["path"], e["reason"]) for e in report["errors"]) == [
        (p, "not examined: the worker process judging it died (a library crashed on its "
            "content)") for p in ("/f100.bin", "/f199.bin")]


@pytest.mark.parametrize("shared", [True, False], ids=["shared walk", "walk here"])
def test_unattended_a_file_stuck_in_a_read_is_an_error_and_the_scan_ends(tmp_path,
                                                                         monkeypatch, shared):
    """No Ctrl-C and no budget (a batch on a cluster, a scan left overnight): a read that
    never returns held the scan for ever. Its worker, still for STALL seconds, is stopped, the
    file is an error record that says why, and every other file is judged. The file is tried
    twice in a walk of the main process (its batch, then alone), three times in a shared walk
    (its folder's batch, then one to a batch, then alone: running its folder alone as well
    made four), so a hung read holds the scan that many times STALL."""
    import time as clock
    from triage import workers
    if workers.fork_context() is None:
        pytest.skip("no fork on this platform: threads cannot be stopped")
    _walked_here(monkeypatch, shared)
    tries = tmp_path / "tries.log"
    monkeypatch.setattr(workers, "STALL", 1.0)
    monkeypatch.setattr(workers, "WATCH", 0.1)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for i in range(40):
        (evidence / f"f{i:02d}.bin").write_bytes(f"content {i}\n".encode() * (i + 1))
    (evidence / "stuck.bin").write_bytes(b"never read")
    alert = tmp_path / "alert.md5"
    alert.write_text(hashlib.md5(b"content 5\n" * 6).hexdigest() + "  f05.bin\n")

    def stuck_on(entry):
        if entry.path == "/stuck.bin":
            _tried(tries, entry.path)
            clock.sleep(3600)   # deaf to everything, as a read in the kernel is

    outcome, report = _scan_judging_after(monkeypatch, stuck_on, evidence, alert,
                                          tmp_path / "out")
    assert (outcome.complete, outcome.exit_code) == (True, 1)
    assert [h["path"] for h in report["hits"]] == ["/f05.bin"]
    assert report["summary"]["files_seen"] == 41
    assert [(e["path"], e["reason"]) for e in report["errors"]] == [
        ("/stuck.bin", "not examined: no read returned for 1 s (a hung device or mount); the "
                       "worker process judging it was stopped")]
    assert tries.read_text().split() == ["/stuck.bin"] * (3 if shared else 2)


# A scan whose judge never returns from one file, as a read on a hung network mount never
# does (the budget's alarm works in a main thread only: the scan runs in a process of its own).
STUCK_SCAN = """
import sys, time
from triage.scanners.judge import Judge
judge = Judge.__call__
def stuck_on(self, entry):
    if entry.path == "/stuck.bin":
        time.sleep(3600)   # deaf to the stop event, as a read in the kernel is
    return judge(self, entry)
Judge.__call__ = stuck_on
from triage.cli import main
main(sys.argv[1:])
"""


def test_a_spent_budget_ends_the_scan_though_a_worker_is_stuck_in_a_read(tmp_path):
    """A worker stuck in a read never sees the stop: the budget's stop kills it after half the
    budget's reserve, and the scan ends with what the other batches found. Before, the scan
    waited for that worker for ever."""
    import subprocess
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for i in range(600):   # batches of 256 files: the third holds the stuck file, last
        (evidence / f"f{i:03d}.bin").write_bytes(f"content {i}\n".encode() * (i + 1))
    (evidence / "stuck.bin").write_bytes(b"never read")
    alert = tmp_path / "alert.md5"
    alert.write_text(hashlib.md5(b"content 5\n" * 6).hexdigest() + "  f005.bin\n")
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-c", STUCK_SCAN, "scan", str(evidence), "--hashset",
                          str(alert), "-o", str(out), "--workers", "2", "--time-budget", "4s",
                          "-q"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    assert (report["complete"], report["summary"]["files_seen"]) == (False, 512)
    assert [h["path"] for h in report["hits"]] == ["/f005.bin"]


def test_workers_ended_after_a_crash_leave_no_traceback(tmp_path, monkeypatch, capfd):
    """When a worker dies the pool ends the others with SIGTERM: they end quietly, as a
    process does, not through the scan's own SIGTERM handler they were forked with (which
    printed a traceback from each, and could leave the pool's shutdown waiting on one)."""
    import os
    from triage.scan import ScanRequest, scan
    from triage.scanners.judge import Judge
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for i in range(800):
        (evidence / f"f{i:03d}.bin").write_bytes(f"content {i}\n".encode() * (i + 1))
    alert = tmp_path / "alert.md5"
    alert.write_text(hashlib.md5(b"content 5\n" * 6).hexdigest() + "  f005.bin\n")
    judge = Judge.__call__

    def crash_on(self, entry):
        if entry.path in ("/f199.bin", "/f450.bin", "/f700.bin"):
            os._exit(1)
        return judge(self, entry)

    monkeypatch.setattr(Judge, "__call__", crash_on)
    outcome = scan(ScanRequest(evidence=[str(evidence)], hashsets=[str(alert)],
                               outdir=tmp_path / "out", workers=3))
    assert (outcome.complete, outcome.exit_code, outcome.summary.files_seen) == (True, 1, 800)
    assert outcome.summary.errors == 3
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Terminated" not in err


@pytest.mark.parametrize("kind", ["processes", "threads"])
def test_the_progress_bar_ends_at_its_totals(images, sets, tmp_path, monkeypatch, kind):
    """The bar's totals come from a second walk (in a process of its own, or a thread where the
    platform cannot fork); what the scan advances must add up to them exactly, hits (read
    twice) and unread files included, or the bar ends short or overshoots."""
    import threading
    from triage import scan as scan_module, workers
    from triage.scan import Progress, ScanRequest, scan as run_scan
    if kind == "threads":
        monkeypatch.setattr(workers, "fork_context", lambda: None)
        monkeypatch.setattr(scan_module, "fork_context", lambda: None)

    class Recorder(Progress):
        shown = True

        def __init__(self):
            self.lock = threading.Lock()
            self.total = [0, 0]
            self.done = [0, 0]
            self.hits = self.extra = 0

        def add_total(self, files, nbytes):
            with self.lock:
                self.total = [self.total[0] + files, self.total[1] + nbytes]

        def advance(self, files, planned, read=None, hit=False):
            # The scan stops the count when it ends: keep the scan behind the count, or a
            # count slower than this small scan (a thread sharing the GIL) is cut short.
            deadline = time.monotonic() + 30
            while self.total[0] < self.done[0] + files and time.monotonic() < deadline:
                time.sleep(0.001)
            extra = max(0, (read or 0) - planned)   # found to need more: both sides grow
            with self.lock:
                self.done = [self.done[0] + files, self.done[1] + planned + extra]
                self.total[1] += extra
                self.extra += extra
                self.hits += hit

    progress = Recorder()
    outcome = run_scan(ScanRequest(evidence=[str(images / "mbr.raw")],
                                   hashsets=[str(sets["alert"]), str(sets["known"])],
                                   outdir=tmp_path / "out", workers=2), progress)
    sizes = {f["size"] for f in sets["planted"] + sets["known_files"]}
    # every other file's first 4 KiB is read, to tell an archive by its content
    planned = sum(f["size"] if f["size"] in sizes else
                  min(f["size"], PROBE) if f["size"] >= MIN_SIZE else 0 for f in MBR["files"])
    assert progress.total == progress.done == [len(MBR["files"]), planned + progress.extra]
    # the extra is the hits read again for the digests their set did not need
    # (less the planned heads of files that read empty, as $BadClus:$Bad does)
    unread = sum(min(f["size"], PROBE) for f in MBR["files"] if not readable([f])
                 and f["size"] not in sizes and f["size"] >= MIN_SIZE)
    assert progress.extra == outcome.summary.bytes_read - planned + unread > 0
    assert progress.hits == outcome.summary.hits == len(sets["planted"])


def test_several_evidence_items_in_one_scan_and_resume(images, triage, sets, tmp_path,
                                                       monkeypatch):
    """An examiner's batch: two images in one run, each with its own provenance and hits; a
    resume of the finished scan (after a crash at the very end) judges nothing again."""
    gpt = load_truth("gpt.raw")
    big = next(f for f in gpt["files"] if f["path"] == "/big.bin")
    alert = tmp_path / "alert.csv"
    write_alert_csv(alert, sets["planted"] + [big])
    both = [images / "mbr.raw", images / "gpt.raw"]
    out = tmp_path / "out"
    run = triage("scan", *both, "--hashset", alert, "-o", out, "--json")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    assert [Path(e["path"]).name for e in report["evidence"]] == ["mbr.raw", "gpt.raw"]
    assert [e["partition_table"] for e in report["evidence"]] == ["dos", "gpt"]
    by_image = {}
    for hit in report["hits"]:
        by_image.setdefault(Path(hit["evidence"]).name, set()).add(hit["path"])
    listed = {f["md5"] for f in sets["planted"]} | {big["md5"]}
    on_gpt = {f["path"] for f in gpt["files"] if f["md5"] in listed}
    assert "/big.bin" in on_gpt and len(on_gpt) == 2    # and a copy of a file planted on mbr
    assert by_image == {"mbr.raw": {f["path"] for f in sets["planted"]}, "gpt.raw": on_gpt}
    assert report["summary"]["files_seen"] == len(MBR["files"]) + len(gpt["files"])
    assert report["summary"]["hits"] == len(sets["planted"]) + len(on_gpt)

    with sqlite3.connect(out / "results.sqlite") as conn:
        conn.execute("UPDATE scan SET value = 'false' WHERE key = 'complete'")
    from triage.scan import ScanRequest, scan as run_scan
    from triage.scanners.judge import Judge

    def judged_again(self, entry):
        raise AssertionError(f"{entry.path} judged again")

    monkeypatch.setattr(Judge, "__call__", judged_again)
    monkeypatch.setattr(Judge, "needs_read",
                        lambda self, size: pytest.fail("a file settled by its size again"))
    outcome = run_scan(ScanRequest(evidence=[str(p) for p in both], hashsets=[str(alert)],
                                   outdir=out, resume=True))
    assert outcome.complete and outcome.exit_code == 1
    resumed = json.loads((out / "report.json").read_text())
    assert resumed["complete"] is True and resumed["hits"] == report["hits"]


def test_a_file_under_several_names_is_one_hit_under_its_own_name(images, tmp_path, triage):
    """ext4.raw: /newer.txt owns inode 21, which the deleted /home/user/draft.txt named before
    (fls: "(realloc)"); /home/user/report-link.txt is a hard link of docs/report.txt. Each file
    is read once, is one hit, and is shown under its live name with its other names beside."""
    ext4 = load_truth("ext4.raw")
    by_path = {f["path"]: f for f in ext4["files"]}
    newer, report_txt = by_path["/newer.txt"], by_path["/home/user/docs/report.txt"]
    alert = tmp_path / "alert.md5"
    alert.write_text(f"{newer['md5']}  newer\n{report_txt['md5']}  report\n")
    out = tmp_path / "out"
    run = triage("scan", images / "ext4.raw", "--hashset", alert, "-o", out, "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    hits = {h["path"]: h for h in report["hits"]}
    assert sorted(hits) == ["/home/user/docs/report.txt", "/newer.txt"]
    assert hits["/newer.txt"]["allocated"] is True and hits["/newer.txt"]["realloc"] is False
    assert hits["/newer.txt"]["other_names"] == [
        {"path": "/home/user/draft.txt", "allocated": False, "realloc": True}]
    assert hits["/home/user/docs/report.txt"]["other_names"] == [
        {"path": "/home/user/report-link.txt", "allocated": True, "realloc": False}]
    s = report["summary"]
    assert s["hits"] == 2 and s["other_names"] == 2
    assert s["files_seen"] == len(ext4["files"]) - 2
    # every content read once (a set without sizes reads all), the two hits too: each is
    # shorter than the 64 KiB head, which gives the digests an MD5 set lacks; the other names
    # not at all
    others = {"/home/user/draft.txt", "/home/user/report-link.txt"}
    assert max(newer["size"], report_txt["size"]) < 64 * 1024
    assert s["bytes_read"] == sum(f.get("recovered", f["size"]) for f in ext4["files"]
                                  if f["path"] not in others)
    rows = (out / "report.csv").read_text("utf-8-sig").splitlines()
    assert len(rows) == 1 + 2                       # one row per file, not per name


def test_a_folders_hard_links_are_one_file_read_once_as_an_images_are(tmp_path, triage):
    """A mounted drive's hard links (rsnapshot and Time Machine trees hold thousands) were
    each read and each a hit; as in an image, a content is read once, one hit under its first
    name, its other names beside it. A copy (another inode) stays a file of its own."""
    evidence = tmp_path / "evidence"
    (evidence / "docs").mkdir(parents=True)
    data = b"known content\n" * 100
    (evidence / "docs" / "report.txt").write_bytes(data)
    os.link(evidence / "docs" / "report.txt", evidence / "report-link.txt")
    (evidence / "copy.txt").write_bytes(data)
    alert = tmp_path / "alert.md5"
    alert.write_text(f"{hashlib.md5(data).hexdigest()}  report\n")
    out = tmp_path / "out"
    run = triage("scan", evidence, "--hashset", alert, "-o", out, "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    hits = {h["path"]: h for h in report["hits"]}
    assert sorted(hits) == ["/copy.txt", "/docs/report.txt"]
    assert hits["/docs/report.txt"]["other_names"] == [
        {"path": "/report-link.txt", "allocated": True, "realloc": False}]
    assert hits["/copy.txt"]["other_names"] == []
    s = report["summary"]
    assert (s["files_seen"], s["other_names"], s["hits"]) == (2, 1, 2)
    # each content read once, its report's SHA-1 and SHA-256 taken from the same bytes
    assert s["bytes_read"] == 2 * len(data)
    listed = triage("files", evidence, "--hash", "md5")
    assert listed.code == 0, listed.stderr
    # in the walk's order (a folder's files before its folders), each name with its digest
    assert [(r["path"], r["md5"]) for r in map(json.loads, listed.stdout.splitlines())] == [
        (path, hashlib.md5(data).hexdigest())
        for path in ("/copy.txt", "/report-link.txt", "/docs/report.txt")]


def test_an_interruption_mid_batch_keeps_every_file_settled_and_resume_ends_it(tmp_path,
                                                                             monkeypatch):
    """Files settled by their size alone in a walk of the main process (a disk image's, a
    part's) are written a batch at a time (scan_pass.UNREAD_BATCH): an interruption between two
    writes still records each file settled before it, exactly those, and the resume judges
    only the rest."""
    from triage import scan as scan_module, scan_pass
    from triage.scan import ScanRequest, scan as run_scan
    from triage.scanners.judge import Judge
    monkeypatch.setattr(scan_pass.shared_walk, "applies", lambda *args: False)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    files = 3 * scan_pass.UNREAD_BATCH // 2   # the interruption falls inside a batch
    for i in range(files):
        (evidence / f"f{i:04d}.bin").write_bytes(b"x" * (i + 1))   # sizes 1 .. files
    listed = {7: b"x" * 7, 300: b"x" * 300}    # two sizes the set lists, with their MD5s
    alert = tmp_path / "alert.hashdeep"
    alert.write_text("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n" + "".join(
        f"{n},{hashlib.md5(data).hexdigest()},f\n" for n, data in listed.items()) +
        f"{files + 10},{'0' * 32},absent\n")
    stop_after = files - 20
    walk = scan_pass.scope_walk

    def interrupted(ev, scope, deleted):
        for n, item in enumerate(walk(ev, scope, deleted)):
            if n == stop_after:
                raise KeyboardInterrupt()
            yield item

    monkeypatch.setattr(scan_pass, "scope_walk", interrupted)
    out = tmp_path / "out"
    first = run_scan(ScanRequest(evidence=[str(evidence)], hashsets=[str(alert)], outdir=out,
                                 workers=2, archives=False))
    assert not first.complete
    with sqlite3.connect(out / "results.sqlite") as conn:
        skipped = conn.execute("SELECT COUNT(*) FROM done WHERE status = 'skipped'").fetchone()
    # walked in name order: f0000 .. f(stop_after - 1), of which f0006 and f0299 are read
    assert skipped[0] == stop_after - 2

    monkeypatch.setattr(scan_pass, "scope_walk", walk)
    judged = []
    judge = Judge.__call__

    def counted(self, entry):
        judged.append(entry.path)
        return judge(self, entry)

    monkeypatch.setattr(Judge, "__call__", counted)
    monkeypatch.setattr("triage.workers.fork_context", lambda: None)   # judged in this process
    monkeypatch.setattr(scan_module, "fork_context", lambda: None)
    done = run_scan(ScanRequest(evidence=[str(evidence)], hashsets=[str(alert)], outdir=out,
                                resume=True))
    assert done.complete and done.exit_code == 1
    assert done.summary.files_seen == files and done.summary.files_skipped == files - 2
    assert done.summary.hits == 2   # both sizes listed hold the listed bytes
    # what the first run settled is not judged again (f0006 and f0299 were, before the stop)
    assert set(judged) <= {"/f0006.bin", "/f0299.bin"}


def test_a_set_whose_data_fails_its_checksum_is_refused_before_anything_is_written(
        tmp_path, triage):
    """The set's data is checksummed while the scan opens its evidence (store.Pending): a
    flipped bit still stops the scan with one line before its output folder is made."""
    from triage.hashsets import compile_sources
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "known.bin").write_bytes(b"known\n")
    source = tmp_path / "alert.md5"
    source.write_text(hashlib.md5(b"known\n").hexdigest() + "  known.bin\n")
    sound, bad = tmp_path / "alert.tset", tmp_path / "bad.tset"
    compile_sources([source], sound)
    data = bytearray(sound.read_bytes())
    data[-1] ^= 1   # the last byte of the data
    bad.write_bytes(bytes(data))
    run = triage("scan", evidence, "--hashset", sound, "--hashset", bad, "-o", tmp_path / "out")
    assert run.code == 2
    assert run.stderr == (f"triage: error: {bad}: compiled set data is corrupted (checksum "
                          f"mismatch)\n")
    assert not (tmp_path / "out").exists()
    assert triage("scan", evidence, "--hashset", sound, "-o", tmp_path / "out").code == 1


def test_the_same_evidence_given_twice_is_refused_before_anything_is_written(tmp_path, triage):
    """Before, the second walk of one folder recorded each of its files as another name of the
    first walk's (the summary: no file seen, 51 other names, one hit)."""
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "known.bin").write_bytes(b"known\n")
    (tmp_path / "alias").symlink_to(evidence)
    alert = tmp_path / "alert.md5"
    alert.write_text(hashlib.md5(b"known\n").hexdigest() + "  known.bin\n")
    for second in (evidence, tmp_path / "alias"):
        run = triage("scan", evidence, second, "--hashset", alert, "-o", tmp_path / "out")
        assert run.code == 2
        assert run.stderr == f"triage: error: {second}: given twice ({evidence} and {second})\n"
        assert not (tmp_path / "out").exists()
    # a set: opened twice, listed twice in the report
    (tmp_path / "again.md5").symlink_to(alert)
    for command in (("scan", evidence), ("batch", evidence)):
        run = triage(*command, "--hashset", alert, "--hashset", tmp_path / "again.md5", "-o",
                     tmp_path / "out")
        assert run.code == 2
        assert run.stderr == (f"triage: error: {tmp_path / 'again.md5'}: given twice ({alert} "
                              f"and {tmp_path / 'again.md5'})\n")
        assert not (tmp_path / "out").exists()
