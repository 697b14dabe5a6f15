"""`triage batch` on a LocalCluster of 2 worker processes: per item the hits of `triage scan` of
that item, split items merged to the same report, a killed worker's task retried (and failed
after a second death while the rest completes), an unreadable item failed, resume after kill -9
of the whole batch giving the same case report, Ctrl-C writing an incomplete case report."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import jsonschema
import pytest

from support import FIXTURES, REPO, load_truth, run_triage, sha256_file, wait_for_done
from triage.batch import engine
from triage.batch.runner import BatchRequest, run
from triage.scan import ScanRequest, scan

DEMO = FIXTURES / "demo"
CASE_SCHEMA = json.loads((REPO / "triage" / "schemas" / "case.schema.json").read_text())
REPORT_SCHEMA = json.loads((REPO / "triage" / "schemas" / "report.schema.json").read_text())
# What a batch must give as `triage scan` gives it; times, environment and the sets' import
# time (the batch compiles each source set once) aside.
SAME = ("options", "complete", "stopped", "evidence", "summary", "hits", "errors", "warnings")
SPLIT = 6 << 20      # splits mbr.raw (120 MiB of media) and demo.E01 (57 MiB) into parts


@pytest.fixture(scope="module")
def cluster():
    with engine.cluster(None, 2) as client:
        yield client


@pytest.fixture(scope="module")
def alert(tmp_path_factory):
    """MD5s of files on every image: both names of ext4's hard link, a file on each volume of
    mbr.raw, an NTFS alternate data stream."""
    chosen = []
    for name, count in (("ext4.raw", 3), ("fat16.raw", 2), ("ntfs.raw", 6), ("mbr.raw", 40)):
        files = [f for f in load_truth(name)["files"] if f["size"] and f.get("md5")
                 and not f["path"].startswith("/$")]   # NTFS's own files are on every NTFS
        chosen += files[:count:2] if name == "mbr.raw" else files[:count]
    path = tmp_path_factory.mktemp("sets") / "alert.md5"
    path.write_text("".join(f"{f['md5']}  ref-{i}\n" for i, f in enumerate(chosen)))
    return path


def _sets(alert):
    return [str(alert), str(DEMO / "demo-alert.json"), str(DEMO / "demo-known-good.txt")]


def _batch(cluster, sources, sets, casedir, **options):
    request = BatchRequest(sources=[str(s) for s in sources], hashsets=sets, casedir=casedir,
                           case_number="C-17", examiner="E. Xaminer", **options)
    outcome = run(request, connect=lambda *args: nullcontext(cluster))
    jsonschema.validate(outcome.case, CASE_SCHEMA)
    return outcome


def _report(folder: Path) -> dict:
    report = json.loads((folder / "report.json").read_text())
    jsonschema.validate(report, REPORT_SCHEMA)
    return report


def _items(outcome) -> dict:
    return {item["evidence_id"]: item for item in outcome.case["items"]}


@pytest.fixture(scope="module")
def single(images, alert, tmp_path_factory):
    """`triage scan` of each item on its own, as the batch names it."""
    folder = tmp_path_factory.mktemp("single")

    def scan(path: Path, evidence_id: str) -> dict:
        out = folder / evidence_id
        if not out.exists():
            run = run_triage("scan", path, *[a for s in _sets(alert) for a in ("--hashset", s)],
                             "-o", out, "--evidence-id", evidence_id, "--case-number", "C-17",
                             "--examiner", "E. Xaminer", "-q")
            assert run.code in (0, 1, 3), run.stderr
        return _report(out)
    return scan


@pytest.fixture(scope="module")
def fixture_batch(cluster, images, alert, tmp_path_factory):
    sources = [images / n for n in ("mbr.raw", "ext4.raw", "fat16.raw", "ntfs.raw")] + [
        DEMO / "demo.E01"]
    casedir = tmp_path_factory.mktemp("case") / "case"
    return _batch(cluster, sources, _sets(alert), casedir, split_size=SPLIT), sources


def test_every_item_has_the_hits_of_triage_scan_of_it(fixture_batch, single):
    outcome, sources = fixture_batch
    items = _items(outcome)
    assert list(items) == ["mbr.raw", "ext4.raw", "fat16.raw", "ntfs.raw", "demo.E01"]
    for source in sources:
        item = items[source.name]
        mine = _report(outcome.casedir / source.name)
        theirs = single(source, source.name)
        for key in SAME:
            assert mine[key] == theirs[key], (source.name, key)
        assert mine["case"] == theirs["case"] == {"case_number": "C-17",
                                                  "examiner": "E. Xaminer",
                                                  "evidence_id": source.name, "notes": None}
        assert [{k: v for k, v in hs.items() if k != "imported"} for hs in mine["hashsets"]] \
            == [{k: v for k, v in hs.items() if k != "imported"} for hs in theirs["hashsets"]]
        assert item["hits"] == theirs["summary"]["hits"] > 0
        assert item["status"] == "done" and item["report"] == f"{source.name}/report.json"
    # the large items were split, and merged to the report of the whole
    assert items["mbr.raw"]["parts"] > 1 and items["demo.E01"]["parts"] > 1
    assert items["fat16.raw"]["parts"] == 1
    assert items["ext4.raw"]["coverage"]["other_names"] == 2
    assert outcome.exit_code == 1
    t = outcome.case["totals"]
    assert t["hits"] == sum(i["hits"] for i in items.values())
    assert t["items"] == t["done"] == 5 and t["failed"] == 0
    assert outcome.case["hashsets"][1]["name"] == "demo-alert"


def test_the_case_folder_holds_the_case_report_sealed(fixture_batch):
    outcome, _ = fixture_batch
    folder = outcome.casedir
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == {
        name: sha256_file(folder / name) for name in ("case.json", "case.html", "case.csv",
                                                      "batch.json")}
    assert not (folder / "mbr.raw" / "parts").exists()
    assert sorted(p.name for p in (folder / "mbr.raw").iterdir()) == [
        "manifest.json", "report.csv", "report.html", "report.json", "results.sqlite"]
    page = (folder / "case.html").read_text()
    assert 'href="mbr.raw/report.html"' in page and "HITS FOUND in 5 of 5 items" in page
    rows = (folder / "case.csv").read_text("utf-8-sig").splitlines()
    assert len(rows) == 1 + 5


def _kill_worker_running(cluster, key_part: str, folder: Path, done: int, timeout=120,
                         not_on=()):
    """SIGKILL the worker process running the task whose key holds `key_part` (on a worker
    other than those of `not_on`), once its scan has recorded `done` verdicts; the address
    it ran on."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for address, keys in cluster.processing().items():
            if address not in not_on and any(key_part in str(k) for k in keys):
                try:
                    pid = cluster.run(os.getpid, workers=[address])[address]
                except OSError:    # a worker on its way out, that the scheduler still lists
                    continue
                wait_for_done(folder, done, timeout=timeout)
                os.kill(pid, signal.SIGKILL)
                return address
        time.sleep(0.02)
    raise AssertionError("the task never ran")


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """A folder of 500 distinct pictures, each decoded and hashed (the PDQ of demo-alert.json
    makes every picture a candidate): a scan long enough to be killed in the middle, twice.
    A manifest names it as one tree; an MD5 set lists three of the pictures."""
    import hashlib
    import numpy as np
    from PIL import Image
    root = tmp_path_factory.mktemp("pictures")
    folder = root / "camera"
    folder.mkdir()
    rng = np.random.default_rng(17)
    for i in range(500):
        noise = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
        Image.fromarray(noise).resize((256, 256)).save(folder / f"p{i:04d}.jpg", quality=80)
    listed = root / "listed.md5"
    listed.write_text("".join(f"{hashlib.md5((folder / f'p{i:04d}.jpg').read_bytes()).hexdigest()}"
                              f"  p{i}\n" for i in (7, 250, 499)))
    manifest = root / "manifest.csv"
    manifest.write_text(f"path,evidence_id,kind\n{folder},pics,folder\n")
    return {"folder": folder, "manifest": manifest,
            "sets": [str(listed), str(DEMO / "demo-alert.json")]}


def test_a_killed_workers_task_is_retried_on_another_and_resumes(cluster, pictures, tmp_path):
    casedir = tmp_path / "case"
    killed = []
    killer = threading.Thread(target=lambda: killed.append(
        _kill_worker_running(cluster, "triage-item", casedir / "pics", 30)))
    killer.start()
    outcome = _batch(cluster, [pictures["manifest"]], pictures["sets"], casedir)
    killer.join()
    assert killed, "no worker was killed"
    (item,) = outcome.case["items"]
    assert item["status"] == "done" and outcome.exit_code == 1
    mine = _report(casedir / "pics")
    single = tmp_path / "single"
    scan(ScanRequest([str(pictures["folder"])], pictures["sets"], single, workers=1,
                     case={"evidence_id": "pics", "case_number": "C-17",
                           "examiner": "E. Xaminer"}))
    theirs = _report(single)
    for key in SAME:
        assert mine[key] == theirs[key], key
    assert mine["summary"]["hits"] == 3 and mine["summary"]["images_decoded"] == 497


def test_a_task_whose_worker_dies_twice_fails_its_item_and_the_rest_completes(
        cluster, images, alert, pictures, tmp_path):
    casedir = tmp_path / "case"
    deaths = []

    def kill_twice():
        deaths.append(_kill_worker_running(cluster, "triage-item", casedir / "pics", 20))
        # the task starts again on the other worker, resuming what the first attempt recorded
        deaths.append(_kill_worker_running(cluster, "triage-item", casedir / "pics", 250,
                                           not_on=deaths))

    killer = threading.Thread(target=kill_twice)
    killer.start()
    outcome = _batch(cluster, [pictures["manifest"], images / "fat16.raw"],
                     [*pictures["sets"], str(alert)], casedir)
    killer.join()
    assert len(deaths) == 2 and deaths[0] != deaths[1]
    items = _items(outcome)
    assert items["pics"]["status"] == "failed"
    assert "died twice" in items["pics"]["reason"]
    assert items["fat16.raw"]["status"] == "done" and items["fat16.raw"]["hits"] == 2
    assert outcome.exit_code == 2
    assert outcome.case["verdict"]["headline"].startswith("1 OF 2 ITEMS COULD NOT BE SCANNED")
    with sqlite3.connect(casedir / "pics" / "results.sqlite") as db:   # kept for --resume
        assert 250 <= db.execute("SELECT COUNT(*) FROM done").fetchone()[0] < 500


def test_an_item_that_cannot_be_opened_fails_alone(cluster, images, alert, tmp_path):
    junk = tmp_path / "junk.dd"
    junk.write_bytes(os.urandom(1 << 20))
    outcome = _batch(cluster, [junk, images / "ext4.raw"], _sets(alert), tmp_path / "case")
    items = _items(outcome)
    assert items["junk.dd"]["status"] == "failed"
    assert items["junk.dd"]["reason"].startswith(f"{junk}: no partition table or file system")
    assert items["ext4.raw"]["hits"] == 3
    assert outcome.exit_code == 2


def _cli(*args, **popen):
    return subprocess.Popen([sys.executable, "-m", "triage", "batch", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **popen)


def _without_times(case: dict) -> dict:
    case = {k: v for k, v in case.items() if k not in ("started", "finished")}
    case["items"] = [{k: v for k, v in i.items() if k not in ("started", "finished")}
                     for i in case["items"]]
    case["hashsets"] = [{k: v for k, v in h.items() if k != "imported"}
                        for h in case["hashsets"]]
    return case


def test_resume_after_kill_9_of_the_whole_batch_gives_the_same_case_report(
        cluster, images, alert, tmp_path):
    sources = [images / "mbr.raw", DEMO / "demo.E01", images / "fat16.raw"]
    sets = [a for s in _sets(alert) for a in ("--hashset", s)]
    casedir = tmp_path / "case"
    common = [*sources, *sets, "-o", casedir, "--case-number", "C-17", "--examiner",
              "E. Xaminer", "--split-size", "6M", "--local-workers", "2"]
    proc = _cli(*common, "-q")
    try:
        deadline = time.time() + 240
        while not list(casedir.glob("*/manifest.json")) and time.time() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        finished = {p.parent.name: sha256_file(p.parent / "report.json")
                    for p in casedir.glob("*/manifest.json")}
        assert finished and len(finished) < 3
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert not (casedir / "case.json").exists()
    resumed = _cli(*common, "--resume", "--json")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 1, err
    assert "internal error" not in err
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(line["evidence_id"] for line in lines) == ["demo.E01", "fat16.raw", "mbr.raw"]
    for name, digest in finished.items():   # finished items are not scanned again
        assert sha256_file(casedir / name / "report.json") == digest
    again = _batch(cluster, sources, _sets(alert), tmp_path / "whole", split_size=6 << 20)
    case = json.loads((casedir / "case.json").read_text())
    assert case["complete"] is True
    assert _without_times(case) == _without_times(again.case)


def test_ctrl_c_writes_the_case_report_incomplete_and_says_how_to_resume(images, alert,
                                                                          tmp_path):
    casedir = tmp_path / "case"
    sets = [a for s in _sets(alert) for a in ("--hashset", s)]
    proc = _cli(images / "fat16.raw", DEMO / "demo.E01", *sets, "-o", casedir,
                "--local-workers", "1")
    wait_for_done(casedir / "demo.E01", 3, timeout=240)
    os.killpg(proc.pid, signal.SIGINT)    # as the terminal sends it: to every process
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err == "" or "Traceback" not in err
    case = json.loads((casedir / "case.json").read_text())
    jsonschema.validate(case, CASE_SCHEMA)
    assert case["complete"] is False and case["stopped"] == "interrupted"
    assert _items_by_id(case)["demo.E01"]["status"] == "not finished"
    assert out.splitlines()[0].startswith("INTERRUPTED: ")
    assert f"Resume with: triage batch {images / 'fat16.raw'}" in out and "--resume" in out


def _items_by_id(case: dict) -> dict:
    return {i["evidence_id"]: i for i in case["items"]}


def test_daemonic_workers_judge_in_threads_with_the_same_hits(images, alert, tmp_path):
    with engine.cluster(None, 2, daemon=True) as client:
        daemonic = client.run(lambda: __import__("multiprocessing").current_process().daemon)
        assert set(daemonic.values()) == {True}
        outcome = _batch(client, [images / "ext4.raw", images / "ntfs.raw"], _sets(alert),
                         tmp_path / "case", split_size=1 << 20)
    items = _items(outcome)
    assert (items["ext4.raw"]["hits"], items["ntfs.raw"]["hits"]) == (3, 6)
    assert items["ntfs.raw"]["parts"] > 1


def test_bad_input_is_one_line_before_any_work(images, alert, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,evidence_id\nnothere.E01,X\n")
    run = run_triage("batch", manifest, "--hashset", alert, "-o", tmp_path / "case")
    assert run.code == 2
    assert run.stderr == f"triage: error: {manifest}:2: nothere.E01: No such file or " \
                         f"directory\n"
    assert not (tmp_path / "case").exists()
    bad_set = tmp_path / "bad.set"
    bad_set.write_bytes(b"TRIAGEHS" + bytes(100))
    run = run_triage("batch", images / "fat16.raw", "--hashset", bad_set, "-o",
                     tmp_path / "case")
    assert run.code == 2 and len(run.stderr.splitlines()) == 1 and str(bad_set) in run.stderr
    assert not (tmp_path / "case").exists()


def test_a_case_folder_in_use_is_refused_without_force(cluster, images, alert, tmp_path):
    casedir = tmp_path / "case"
    first = _batch(cluster, [images / "fat16.raw"], _sets(alert), casedir)
    assert first.exit_code == 1
    run = run_triage("batch", images / "fat16.raw", "--hashset", alert, "-o", casedir)
    assert run.code == 2
    assert "already holds a batch or scans (case.json, case.html, case.csv and" in run.stderr
    again = _batch(cluster, [images / "ext4.raw"], _sets(alert), casedir, force=True)
    assert [i["evidence_id"] for i in again.case["items"]] == ["ext4.raw"]
    assert not (casedir / "fat16.raw" / "report.json").exists()
    run = run_triage("batch", images / "ext4.raw", "--hashset", DEMO / "demo-alert.json",
                     "-o", casedir, "--resume")
    assert run.code == 2 and "the hash sets differ from those of the batch" in run.stderr
