"""Paths whose bytes are not UTF-8 (a seized disk's folder names, an image copied from another
system) go through every command: shown as `\\xff` wherever a file name read from evidence would
be, while the path itself still opens the file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from support import run_triage
from triage.jsonout import dumps
from triage.safetext import path_text, shell_word, visible

RAW = os.fsdecode(b"ev\xff.raw")
FOLDER = os.fsdecode(b"dir\xe9")
SET = os.fsdecode(b"set\xe9.md5")


def test_path_text_shows_the_bytes_of_a_path_that_are_not_utf8():
    assert path_text(RAW) == "ev\\xff.raw"
    assert path_text("caf\u00e9.jpg") == "caf\u00e9.jpg"
    assert visible(os.fsdecode(b"a\xe9\nb")) == "a\\xe9\\x0ab"
    assert json.loads(dumps({"p": RAW})) == {"p": "ev\\xff.raw"}
    assert shell_word(RAW) == "$'ev\\xff.raw'"
    assert subprocess.run(["bash", "-c", f"printf %s {shell_word(RAW)}"],
                          capture_output=True).stdout == b"ev\xff.raw"


@pytest.fixture
def hostile(tmp_path, images):
    """An image, a folder and a set named by bytes that are not UTF-8; the set lists one file
    of each evidence item."""
    base = os.fsencode(tmp_path)
    raw = os.path.join(base, b"ev\xff.raw")
    shutil.copyfile(images / "fat16.raw", raw)
    folder = os.path.join(base, b"dir\xe9")
    os.mkdir(folder)
    content = b"a known file in a folder whose name is not UTF-8\n"
    with open(os.path.join(folder, b"a\xffb.bin"), "wb") as f:
        f.write(content)
    from support import load_truth
    fat = next(f for f in load_truth("fat16.raw")["files"] if f["allocated"] and f["size"] > 100
               and f.get("md5"))
    with open(os.path.join(base, b"set\xe9.md5"), "w") as f:
        f.write(f"{hashlib.md5(content).hexdigest()}  known\n{fat['md5']}  fat\n")
    return {"raw": os.fsdecode(raw), "folder": os.fsdecode(folder),
            "set": os.fsdecode(os.path.join(base, b"set\xe9.md5")), "fat": fat, "base": tmp_path}


def _lines_are_utf8(text: bytes) -> str:
    return text.decode("utf-8")     # raises if any output is not valid UTF-8


def test_a_scan_of_evidence_and_sets_with_such_names_reports_them_visibly(hostile, tmp_path):
    out = os.path.join(os.fsdecode(tmp_path), os.fsdecode(b"out\xe9"))
    run = subprocess.run([sys.executable, "-m", "triage", "scan", hostile["raw"],
                          hostile["folder"], "--hashset", hostile["set"], "-o", out],
                         capture_output=True)
    assert run.returncode == 1, run.stderr
    stdout = _lines_are_utf8(run.stdout)
    assert "HITS FOUND: 2 files" in stdout and "out\\xe9" in stdout
    report = json.loads(open(os.path.join(out, "report.json"), encoding="utf-8").read())
    shown = {h["evidence"]: h["path"] for h in report["hits"]}
    assert shown == {path_text(hostile["raw"]): hostile["fat"]["path"],
                     path_text(hostile["folder"]): "/a\\xffb.bin"}
    assert [e["path"] for e in report["evidence"]] == [path_text(hostile["raw"]),
                                                      path_text(hostile["folder"])]
    assert report["hashsets"][0]["sources"][0]["path"] == path_text(hostile["set"])
    for name in ("report.html", "report.csv", "manifest.json"):
        _lines_are_utf8(open(os.path.join(out, name), "rb").read())


def test_resume_of_such_a_scan_continues_it(hostile, tmp_path):
    from triage.progress import Progress
    from triage.scan import ScanRequest, scan

    class StopAtOnce(Progress):
        def advance(self, files, planned, read=None, hit=False):
            raise KeyboardInterrupt

    out = tmp_path / "out"
    first = scan(ScanRequest(evidence=[hostile["raw"]], hashsets=[hostile["set"]], outdir=out,
                             workers=1), StopAtOnce())
    assert not first.complete
    again = subprocess.run([sys.executable, "-m", "triage", "scan", hostile["raw"], "--hashset",
                            hostile["set"], "-o", str(out), "--resume", "-q"],
                           capture_output=True)
    assert again.returncode == 1, again.stderr
    report = json.loads((out / "report.json").read_text("utf-8"))
    assert report["complete"] is True and [h["path"] for h in report["hits"]] == [
        hostile["fat"]["path"]]


@pytest.mark.parametrize("command", [
    ("files",), ("inspect",), ("scan", "--hashset", "SET", "-o", "OUT"), ("hash",)])
def test_every_command_names_a_missing_path_visibly_in_one_line(command, tmp_path):
    missing = os.path.join(os.fsdecode(tmp_path), os.fsdecode(b"gone\xff"))
    args = [a.replace("SET", missing).replace("OUT", str(tmp_path / "o")) for a in command]
    run = subprocess.run([sys.executable, "-m", "triage", command[0], missing, *args[1:]],
                         capture_output=True)
    err = _lines_are_utf8(run.stderr)
    assert run.returncode in ((3,) if command[0] == "hash" else (2,)), err
    assert "gone\\xff" in err and "internal error" not in err
    assert len(err.splitlines()) == 1


def test_files_inspect_hash_and_hashset_info_show_such_names(hostile, tmp_path):
    files = subprocess.run([sys.executable, "-m", "triage", "files", hostile["folder"], "--hash",
                            "md5"], capture_output=True)
    (line,) = _lines_are_utf8(files.stdout).splitlines()
    assert json.loads(line)["path"] == "/a\\xffb.bin"
    assert json.loads(line)["evidence"] == path_text(hostile["folder"])
    inspect = subprocess.run([sys.executable, "-m", "triage", "inspect", hostile["raw"]],
                             capture_output=True)
    assert inspect.returncode == 0 and "ev\\xff.raw" in _lines_are_utf8(inspect.stdout)
    one = os.path.join(hostile["folder"], os.fsdecode(b"a\xffb.bin"))
    hashed = subprocess.run([sys.executable, "-m", "triage", "hash", one, "--signal", "md5"],
                            capture_output=True)
    assert _lines_are_utf8(hashed.stdout).startswith("MD5 (") and "a\\xffb.bin" in \
        hashed.stdout.decode()
    compiled = os.path.join(os.fsdecode(tmp_path), os.fsdecode(b"s\xe9.tset"))
    imported = subprocess.run([sys.executable, "-m", "triage", "hashset", "import",
                               hostile["set"], "-o", compiled], capture_output=True)
    assert imported.returncode == 0, imported.stderr
    assert "set\\xe9" in _lines_are_utf8(imported.stdout)
    info = run_triage("hashset", "info", compiled, "--json")
    assert info.json()["sources"][0]["path"] == path_text(hostile["set"])
