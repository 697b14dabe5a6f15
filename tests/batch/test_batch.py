"""`triage batch` on a LocalCluster of 2 worker processes: per item the hits of `triage scan` of
that item, split items merged to the same report, a killed worker's task retried (and failed
after a second death while the rest completes), an unreadable item failed, resume after kill -9
of the whole batch giving the same case report, Ctrl-C writing an incomplete case report."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import shutil
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import jsonschema
import pytest

from support import (FIXTURES, REPO, load_truth, run_triage, sha256_file, slow_scale,
                     start_triage, wait_for_done)
from triage.batch import engine, tasks
from triage.batch.merge import part_dir
from triage.batch.progress import BatchBar
from triage.batch.runner import BatchRequest, Display, run
from triage.scan import ScanRequest, scan

DEMO = FIXTURES / "demo"
CASE_SCHEMA = json.loads((REPO / "triage" / "schemas" / "case.schema.json").read_text())
REPORT_SCHEMA = json.loads((REPO / "triage" / "schemas" / "report.schema.json").read_text())
# What a batch must give as `triage scan` gives it; times, environment and the sets' import
# time (the batch compiles each source set once) aside.
SAME = ("options", "complete", "stopped", "evidence", "summary", "hits", "errors", "warnings")
SPLIT = 12 << 20     # splits mbr.raw (120 MiB of media, 4 parts) and demo.E01 (57 MiB, 3 parts)
# Pictures of the folder killed twice while scanned (long enough to be killed in its middle).
PICTURES = int(300 * slow_scale())


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


def _batch(cluster, sources, sets, casedir, display=None, **options):
    request = BatchRequest(sources=[str(s) for s in sources], hashsets=sets, casedir=casedir,
                           case_number="C-17", examiner="E. Xaminer", **options)
    outcome = run(request, display, connect=lambda *args: nullcontext(cluster))
    jsonschema.validate(outcome.case, CASE_SCHEMA)
    return outcome


def _report(folder: Path) -> dict:
    report = json.loads((folder / "report.json").read_text())
    jsonschema.validate(report, REPORT_SCHEMA)
    return report


def _items(outcome) -> dict:
    return {item["evidence_id"]: item for item in outcome.case["items"]}


@pytest.fixture(scope="module")
def single(alert, tmp_path_factory):
    """The scan `triage scan` runs of each item on its own, as the batch names it."""
    folder = tmp_path_factory.mktemp("single")

    def one(path: Path, evidence_id: str) -> dict:
        out = folder / evidence_id
        if not out.exists():
            scan(ScanRequest([str(path)], _sets(alert), out, workers=1,
                             case={"evidence_id": evidence_id, "case_number": "C-17",
                                   "examiner": "E. Xaminer"}))
        return _report(out)
    return one


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


def _kill_worker_running(cluster, evidence_id: str, folder: Path, done: int, not_on=(),
                         timeout=120):
    """Once the scan into `folder` has recorded `done` verdicts, SIGKILL the worker process
    running a task of `evidence_id` (other than the workers of `not_on`); its address."""
    wait_for_done(folder, done, timeout=timeout)
    deadline = time.time() + timeout
    while time.time() < deadline:
        for address, keys in cluster.processing().items():
            if address not in not_on and any(isinstance(k, tuple) and k[1] == evidence_id
                                              for k in keys):
                try:
                    pid = cluster.run(os.getpid, workers=[address])[address]
                except OSError:    # a worker on its way out, that the scheduler still lists
                    continue
                os.kill(pid, signal.SIGKILL)
                return address
        time.sleep(0.02)
    raise AssertionError(f"no task of {evidence_id} was running")


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """A folder of distinct pictures, each decoded and hashed (the PDQ of demo-alert.json
    makes every picture a candidate): a scan long enough to be killed in the middle, twice.
    A manifest names it as one tree; an MD5 set lists three of the pictures."""
    import hashlib
    import numpy as np
    from PIL import Image
    root = tmp_path_factory.mktemp("pictures")
    folder = root / "camera"
    folder.mkdir()
    rng = np.random.default_rng(17)
    for i in range(PICTURES):
        noise = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
        Image.fromarray(noise).resize((256, 256)).save(folder / f"p{i:04d}.jpg", quality=80)
    listed = root / "listed.md5"
    listed.write_text("".join(f"{hashlib.md5((folder / f'p{i:04d}.jpg').read_bytes()).hexdigest()}"
                              f"  p{i}\n" for i in (7, PICTURES // 2, PICTURES - 1)))
    manifest = root / "manifest.csv"
    manifest.write_text(f"path,evidence_id,kind\n{folder},pics,folder\n")
    return {"folder": folder, "manifest": manifest,
            "sets": [str(listed), str(DEMO / "demo-alert.json")]}


@pytest.mark.slow
def test_a_task_whose_worker_dies_is_retried_once_then_fails_and_resume_finishes_it(
        cluster, images, alert, pictures, tmp_path):
    casedir = tmp_path / "case"
    sets = [*pictures["sets"], str(alert)]
    deaths = []

    def kill_twice():
        deaths.append(_kill_worker_running(cluster, "pics", casedir / "pics", 20))
        # the task starts again on the other worker, continuing what the first attempt recorded
        deaths.append(_kill_worker_running(cluster, "pics", casedir / "pics", PICTURES // 3,
                                           not_on=deaths))

    killer = threading.Thread(target=kill_twice)
    killer.start()
    outcome = _batch(cluster, [pictures["manifest"], images / "fat16.raw"], sets, casedir)
    killer.join()
    assert len(deaths) == 2 and deaths[0] != deaths[1]
    items = _items(outcome)
    assert items["pics"]["status"] == "failed"
    assert items["pics"]["reason"].startswith("the Dask worker running it died twice")
    assert items["fat16.raw"]["status"] == "done" and items["fat16.raw"]["hits"] == 2
    assert outcome.exit_code == 2
    assert outcome.case["verdict"]["headline"].startswith("1 OF 2 ITEMS COULD NOT BE SCANNED")
    with sqlite3.connect(casedir / "pics" / "results.sqlite") as db:   # kept for --resume
        kept = db.execute("SELECT COUNT(*) FROM done").fetchone()[0]
    assert PICTURES // 3 <= kept < PICTURES

    resumed = _batch(cluster, [pictures["manifest"], images / "fat16.raw"], sets, casedir,
                     resume=True)
    assert _items(resumed)["pics"]["status"] == "done" and resumed.exit_code == 1
    mine = _report(casedir / "pics")
    single = tmp_path / "single"
    scan(ScanRequest([str(pictures["folder"])], sets, single, workers=1,
                     case={"evidence_id": "pics", "case_number": "C-17",
                           "examiner": "E. Xaminer"}))
    theirs = _report(single)
    for key in SAME:
        assert mine[key] == theirs[key], key
    assert mine["summary"]["hits"] == 3
    assert mine["summary"]["images_decoded"] == PICTURES - 3


class _Shown(Display):
    """What the command shows: the one bar, and each item as it ends (--json's lines)."""

    def __init__(self):
        self.shown, self.lines = None, []

    def bar(self, items: int) -> BatchBar:
        self.shown = BatchBar(True, items)
        return self.shown

    def item(self, entry: dict) -> None:
        self.lines.append(entry)


def test_an_item_that_cannot_be_opened_fails_alone_and_the_bar_shows_both(cluster, images,
                                                                          alert, tmp_path):
    junk = tmp_path / "junk.dd"
    junk.write_bytes(os.urandom(1 << 20))
    display = _Shown()
    outcome = _batch(cluster, [junk, images / "ext4.raw"], _sets(alert), tmp_path / "case",
                     display)
    items = _items(outcome)
    assert items["junk.dd"]["status"] == "failed"
    assert items["junk.dd"]["reason"].startswith(f"{junk}: no partition table or file system")
    assert items["ext4.raw"]["hits"] == 3
    assert outcome.exit_code == 2
    assert [line["evidence_id"] for line in display.lines] == ["junk.dd", "ext4.raw"]
    assert display.lines == outcome.case["items"]
    bar = display.shown
    assert (bar.items, bar.hits, bar.failed) == (2, 3, 1)
    # the scan's own progress reached the bar from the worker, as Dask events
    deadline = time.time() + 10
    while bar.bytes < items["ext4.raw"]["coverage"]["bytes_read"] and time.time() < deadline:
        time.sleep(0.05)
    assert bar.bytes == items["ext4.raw"]["coverage"]["bytes_read"] > 0


def _cli(*args, **popen):
    return start_triage("batch", *args, text=True, start_new_session=True, **popen)


def _without_times(case: dict) -> dict:
    case = {k: v for k, v in case.items() if k not in ("started", "finished")}
    case["items"] = [{k: v for k, v in i.items() if k not in ("started", "finished")}
                     for i in case["items"]]
    case["hashsets"] = [{k: v for k, v in h.items() if k != "imported"}
                        for h in case["hashsets"]]
    return case


@pytest.mark.slow
def test_resume_after_kill_9_of_the_whole_batch_gives_the_same_case_report(fixture_batch,
                                                                           alert, tmp_path):
    whole, sources = fixture_batch
    sets = [a for s in _sets(alert) for a in ("--hashset", s)]
    casedir = tmp_path / "case"
    common = [*sources, *sets, "-o", casedir, "--case-number", "C-17", "--examiner",
              "E. Xaminer", "--split-size", "12M", "--local-workers", "2"]
    proc = _cli(*common, "-q")
    try:
        deadline = time.time() + 240
        while not list(casedir.glob("*/manifest.json")) and time.time() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        finished = {p.parent.name: sha256_file(p.parent / "report.json")
                    for p in casedir.glob("*/manifest.json")}
        assert finished and len(finished) < len(sources)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert not (casedir / "case.json").exists()
    resumed = _cli(*common, "--resume", "--json")
    out, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 1, err
    assert "internal error" not in err
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(line["evidence_id"] for line in lines) == sorted(s.name for s in sources)
    for name, digest in finished.items():   # finished items are not scanned again
        assert sha256_file(casedir / name / "report.json") == digest
    case = json.loads((casedir / "case.json").read_text())
    assert case["complete"] is True
    assert _without_times(case) == _without_times(whole.case)


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


class _Watching:
    """The shared cluster's client, noting the parts the batch submits; with `stop_before_merge`
    it waits for an item's parts, then stops the batch (Ctrl-C) as it submits their merge."""

    def __init__(self, client, stop_before_merge: bool = False):
        self.client, self.stop_before_merge, self.parts = client, stop_before_merge, []

    def __getattr__(self, name):
        return getattr(self.client, name)

    def submit(self, fn, *args, **kwargs):
        if fn is tasks.scan_part:
            self.parts.append(args[3])
        if fn is tasks.merge_item and self.stop_before_merge:
            self.client.gather(list(args[4:]))
            raise KeyboardInterrupt
        return self.client.submit(fn, *args, **kwargs)


def test_resume_scans_only_the_parts_not_finished(cluster, images, alert, single, tmp_path):
    casedir = tmp_path / "case"
    stopping = _Watching(cluster, stop_before_merge=True)
    stopped = _batch(stopping, [images / "ntfs.raw"], _sets(alert), casedir,
                     split_size=1 << 20)
    assert stopped.case["complete"] is False and stopped.exit_code == 130
    count = len(stopping.parts)
    assert count >= 3 and stopping.parts == list(range(count))
    assert not (casedir / "ntfs.raw" / "report.json").exists()
    shutil.rmtree(part_dir(casedir / "ntfs.raw", 1))     # as if stopped in its middle
    resuming = _Watching(cluster)
    resumed = _batch(resuming, [images / "ntfs.raw"], _sets(alert), casedir,
                     split_size=1 << 20, resume=True)
    assert resuming.parts == [1]
    assert resumed.case["complete"] is True and resumed.case["items"][0]["parts"] == count
    mine, theirs = _report(casedir / "ntfs.raw"), single(images / "ntfs.raw", "ntfs.raw")
    for key in SAME:
        assert mine[key] == theirs[key], key


def _forks(client) -> set:
    """Whether a scan on each worker of the cluster forks its judging processes."""
    return set(client.run(lambda: __import__("triage.workers").workers.fork_context()
                          is not None).values())


def test_by_default_scans_judge_in_threads_on_daemonic_workers_and_forked_the_same(
        cluster, images, alert, tmp_path):
    assert _forks(cluster) == {False}     # the module's cluster is the default one
    with engine.cluster(None, 2, daemon=False) as client:
        assert _forks(client) == {True}
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


def test_a_manifest_credential_file_opens_its_item_and_nothing_else(cluster, images, tmp_path):
    """luks1.raw and a copy: with the manifest's credential file its known.bin is a hit; without
    one the volume stays locked (exit 3): the credential is the item's, read on the worker."""
    truth = json.loads((FIXTURES / "truth" / "layers" / "luks1.raw.json").read_text())
    known = next(f for f in truth["tsk"][0]["files"] if f["path"] == "/known.bin")
    alert = tmp_path / "alert.md5"
    alert.write_text(f"{known['md5']}  known\n")
    secret = tmp_path / "luks.cred"
    secret.write_text("# the fixture's passphrase\n" + truth["credentials"][0] + "\n")
    copy = tmp_path / "luks1-copy.raw"   # an item is given once
    shutil.copyfile(images / "luks1.raw", copy)
    manifest = tmp_path / "items.csv"
    manifest.write_text("path,evidence_id,notes,credential_file\n"
                        f"{images / 'luks1.raw'},open,,{secret}\n"
                        f"{copy},locked,,\n")
    outcome = _batch(cluster, [manifest], [str(alert)], tmp_path / "case")
    items = _items(outcome)
    assert items["open"]["exit_code"] == 1 and items["locked"]["exit_code"] == 3
    opened = _report(tmp_path / "case" / "open")
    assert [(h["path"], h["volume"]["path"]) for h in opened["hits"]] == [("/known.bin", "luks1")]
    assert _report(tmp_path / "case" / "locked")["hits"] == []
    password = truth["credentials"][0].split(":", 1)[1]
    for path in (tmp_path / "case").rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
