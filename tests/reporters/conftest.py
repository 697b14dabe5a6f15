"""Real scans the reporter tests share, with the hits they must report.

`hit_scan`: mbr.E01 (E01 header, FAT16, NTFS, ext4, FAT32 and an unreadable partition), ext4.raw
(the `<script>` and bidi-override names) and a folder of names with control characters, against
a set built from the fixtures' Sleuth Kit truth. `photo_scan`: a rotated copy of a photo found
by PDQ, for the perceptual fields (distance, variant, quality). `demo_scan`: the README's demo
(a VICS alert set with MediaIDs, exact and near-duplicate hits, an NSRL known-good set), every
format written; `interrupted_demo`: its results database marked interrupted, re-rendered."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import FIXTURES, load_truth, run_triage

ALL_FORMATS = "json,csv,html,dfxml,case"
# The file names the alert set gives its entries: set names can describe the content, so no
# report may carry them (test_html).
ENTRY_NAME = "set-entry-name-"
DEMO = FIXTURES / "demo"
CASE = {"case_number": "CASE-42", "examiner": "E. Xaminer", "evidence_id": "EX-7"}
# Names a folder can hold and XML 1.0 cannot (C0 controls, ESC), or only just can (newline,
# tab, DEL, NEL); a backslash beside a control character tests the escape of the escape.
FOLDER_NAMES = ["ctl\x01bell\x07esc\x1b[31m.txt", "back\\x41slash\x02.txt", "new\nline.txt",
                "tab\tdel\x7fnel\x85.txt", "rlo\u202egpj.exe"]
PHOTO = FIXTURES / "vectors" / "pdq" / "threatexchange" / "dih" / "bridge-1-original.jpg"


@dataclass
class Scan:
    outdir: Path
    report: dict
    expected: dict        # (evidence, volume offset or None, path, inode) -> truth-like record
    contents: list        # the bytes of every hit file, for the no-content checks
    hashset_sources: list

    def rerender(self, tmp_path: Path) -> dict:
        """`triage report render` on a copy of the scan's folder: the reports it writes."""
        copy = tmp_path / "copy"
        shutil.copytree(self.outdir, copy)
        for report in copy.glob("report.*"):
            report.unlink()
        run = run_triage("report", "render", copy, "--format", "dfxml,case")
        assert run.code == 0, run.stderr
        return {p.name: p.read_bytes() for p in copy.glob("report.*")}

    def holds_no_content(self, data: bytes) -> bool:
        """No 65-byte window of any hit file (longer than any hex digest) is in `data`."""
        window = 65
        grams = {data[i:i + window] for i in range(len(data) - window + 1)}
        return not any(content[i:i + window] in grams for content in self.contents
                       for i in range(len(content) - window + 1))


def _planted(files):
    """Two allocated and one deleted file with unique content on every readable volume."""
    md5s = [f["md5"] for f in files]
    chosen = []
    for offset in sorted({f["volume_offset"] for f in files}):
        usable = [f for f in files if f["volume_offset"] == offset and f["md5"]
                  and f["size"] > 64 and md5s.count(f["md5"]) == 1
                  and not f["path"].startswith("/$")]
        chosen += [f for f in usable if f["allocated"]][:2] + \
                  [f for f in usable if not f["allocated"]][:1]
    return chosen


@pytest.fixture(scope="session")
def hit_scan(images, tmp_path_factory) -> Scan:
    base = tmp_path_factory.mktemp("hit-scan")
    folder = base / "evidence"
    folder.mkdir()
    folder_files = []
    for i, name in enumerate(FOLDER_NAMES):
        data = f"content of folder file number {i} ".encode() * 8
        (folder / name).write_bytes(data)
        folder_files.append({"path": "/" + name, "inode": (folder / name).lstat().st_ino,
                             "size": len(data), "allocated": True,
                             "md5": hashlib.md5(data).hexdigest(),
                             "sha1": hashlib.sha1(data).hexdigest(),
                             "sha256": hashlib.sha256(data).hexdigest(), "content": data})
    mbr, ext4 = load_truth("mbr.E01"), load_truth("ext4.raw")
    hostile = [f for f in ext4["files"] if "<script>" in f["path"] or "\u202e" in f["path"]]
    assert len(hostile) == 2
    planted = _planted(mbr["files"]) + hostile + folder_files
    categories = {f["md5"]: str(i % 3 + 1) for i, f in enumerate(planted)}

    alert = base / "alert.csv"
    with open(alert, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["MD5", "SHA1", "FileSize", "Category", "FileName"])
        for i, f in enumerate(planted):
            writer.writerow([f["md5"], f["sha1"], f["size"], categories[f["md5"]],
                             f"{ENTRY_NAME}{i}.jpg"])

    evidence = {str(images / "mbr.E01"): mbr["files"], str(images / "ext4.raw"): ext4["files"],
                str(folder): folder_files}
    expected = {}
    for path, files in evidence.items():
        for f in files:
            if f.get("md5") in categories:
                key = (path, f.get("volume_offset"), f["path"], f.get("inode"))
                expected[key] = {**f, "category": categories[f["md5"]]}
    outdir = base / "out"
    run = run_triage("scan", *evidence, "--hashset", alert, "-o", outdir,
                     "--format", ALL_FORMATS,
                     *[a for k, v in CASE.items() for a in (f"--{k.replace('_', '-')}", v)],
                     "-q")
    assert run.code == 1, run.stderr
    report = json.loads((outdir / "report.json").read_text("utf-8"))
    return Scan(outdir, report, expected, _contents(report, folder_files), [alert])


def _contents(report, folder_files):
    """Every hit's bytes, read back through triage's own evidence layer (and the folder)."""
    from triage.evidence import open_evidence
    wanted = {(h["evidence"], (h["volume"] or {}).get("index"), h["path"], h["inode"])
              for h in report["hits"]}
    contents = [f["content"] for f in folder_files]
    for path in sorted({h["evidence"] for h in report["hits"] if h["volume"]}):
        with open_evidence(path) as ev:
            for e in ev.entries():
                key = (path, e.volume.index if e.volume else None, e.path, e.inode)
                if key in wanted:
                    with e.open() as reader:
                        contents.append(reader.read())
    assert len(contents) == len(report["hits"])
    return contents


@pytest.fixture(scope="session")
def photo_scan(tmp_path_factory) -> Scan:
    from PIL import Image
    base = tmp_path_factory.mktemp("photo-scan")
    (base / "evidence").mkdir()
    copy = base / "evidence" / "holiday\x03.jpg"
    with Image.open(PHOTO) as photo:
        photo.rotate(90, expand=True).resize((300, 400)).save(copy, quality=70)
    found = run_triage("hash", PHOTO, "--signal", "pdq,phash", "--json").json()
    source = base / "photos.csv"
    source.write_text(f"pdq,phash,category,series\n{found['pdq']},{found['phash']},CAT1,"
                      f"bridge-series\n")
    outdir = base / "out"
    run = run_triage("scan", base / "evidence", "--hashset", source, "-o", outdir,
                     "--format", ALL_FORMATS, "-q")
    assert run.code == 1, run.stderr
    report = json.loads((outdir / "report.json").read_text("utf-8"))
    return Scan(outdir, report, {}, [copy.read_bytes()], [source])


@pytest.fixture(scope="session")
def demo_scan(tmp_path_factory) -> Scan:
    outdir = tmp_path_factory.mktemp("demo-scan") / "out"
    run = run_triage("scan", DEMO / "demo.E01", "--hashset", DEMO / "demo-alert.json",
                     "--hashset", DEMO / "demo-known-good.txt", "-o", outdir, "--format",
                     ALL_FORMATS, "-q")
    assert run.code == 1, run.stderr
    report = json.loads((outdir / "report.json").read_text("utf-8"))
    expected = json.loads((DEMO / "expected.json").read_text("utf-8"))
    return Scan(outdir, report, expected, _contents(report, []),
                [DEMO / "demo-alert.json", DEMO / "demo-known-good.txt"])


@pytest.fixture(scope="session")
def interrupted_demo(demo_scan, tmp_path_factory) -> Path:
    """The demo's results database as an interrupted scan leaves it (`complete` false), its
    reports rendered again from it by `triage report render`."""
    import sqlite3
    outdir = tmp_path_factory.mktemp("interrupted") / "out"
    shutil.copytree(demo_scan.outdir, outdir)
    with sqlite3.connect(outdir / "results.sqlite") as conn:
        conn.execute("UPDATE scan SET value = 'false' WHERE key = 'complete'")
        conn.execute("UPDATE evidence SET finished = 0")
    conn.close()
    run = run_triage("report", "render", outdir, "--format", "json,csv,html")
    assert run.code == 0, run.stderr
    return outdir
