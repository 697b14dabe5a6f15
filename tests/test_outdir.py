"""The output folder of a scan: a resume continues only the same scan (same evidence, same sets
by content, same case details and options), one process at a time, and a scan stopped by a
signal or a full disk leaves a folder that `--resume` finishes."""

from __future__ import annotations

import hashlib
import json
import resource
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from support import run_triage, start_triage, wait_for_done
from triage.outdir import Lock
from triage.progress import Progress
from triage.scan import ScanRequest, scan as run_scan

# Enough that a scan stopped once its first batch of folders is home has batches left that
# no worker has begun (a shared walk's batch holds about shared_walk.WALK_BATCH_NAMES names)
FILES = 3000
FOLDERS = 20


def _content(i: int) -> bytes:
    return f"file {i} ".encode() * (40 + i % 300)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A folder of FILES files, a compiled MD5 set listing every 50th, the full scan's hits."""
    base = tmp_path_factory.mktemp("outdir")
    folder = base / "evidence"
    for i in range(FILES):
        sub = folder / f"d{i % FOLDERS}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:05d}.bin").write_bytes(_content(i))
    source = base / "alert.md5"
    source.write_text("".join(f"{hashlib.md5(_content(i)).hexdigest()}  f{i:05d}.bin\n"
                              for i in range(0, FILES, 50)))
    compiled = base / "alert.set"
    assert run_triage("hashset", "import", source, "-o", compiled).code == 0
    return {"folder": folder, "source": source, "set": compiled, "base": base,
            "hits": sorted(f"/d{i % FOLDERS}/f{i:05d}.bin" for i in range(0, FILES, 50))}


class _StopAfter(Progress):
    """Interrupts the scan (as Ctrl-C does) once `files` verdicts have come back."""

    def __init__(self, files: int):
        self.left = files

    def advance(self, files, planned, read=None, hit=False):
        self.left -= files
        if self.left <= 0:
            raise KeyboardInterrupt


def _interrupted(corpus, out, after=300, **request):
    outcome = run_scan(ScanRequest(evidence=[str(corpus["folder"])], hashsets=[str(corpus["set"])],
                                   outdir=out, workers=1, **request), _StopAfter(after))
    assert not outcome.complete and outcome.exit_code == 130
    return outcome


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def _hit_paths(out: Path) -> list:
    return sorted(h["path"] for h in _report(out)["hits"])


CASE = {"case_number": "C-1", "examiner": "E X", "evidence_id": "EX-9", "notes": None}


def test_a_plain_resume_keeps_the_case_details_of_the_first_run(corpus, tmp_path):
    out = tmp_path / "out"
    _interrupted(corpus, out, case=CASE)
    run = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out, "--resume",
                     "-q")
    assert run.code == 1, run.stderr
    report = _report(out)
    assert report["case"] == CASE and report["complete"] is True
    assert _hit_paths(out) == corpus["hits"]


def test_a_resume_naming_other_case_details_is_refused_naming_the_field(corpus, tmp_path):
    out = tmp_path / "out"
    _interrupted(corpus, out, case=CASE)
    run = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out, "--resume",
                     "--case-number", "C-2")
    assert run.code == 2
    assert run.stderr.splitlines() == [
        f"triage: error: {out}: --case-number differs from the scan being resumed ('C-1'); a "
        f"resume continues the scan as it started (or start again with --force)"]
    same = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out, "--resume",
                      "--case-number", "C-1", "--examiner", "E X", "-q")
    assert same.code == 1 and _report(out)["case"] == CASE


def test_options_that_change_findings_are_kept_and_checked_too(corpus, tmp_path):
    out = tmp_path / "out"
    _interrupted(corpus, out, deleted=False, thresholds={"pdq": 20})
    other = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out,
                       "--resume", "--threshold", "pdq=31")
    assert other.code == 2 and "--threshold differs from the scan being resumed" in other.stderr
    run = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out, "--resume",
                     "-q")
    assert run.code == 1
    assert _report(out)["options"]["deleted"] is False
    assert _report(out)["options"]["thresholds"] == {"pdq": 20}


def test_the_same_set_by_another_path_or_as_its_source_is_the_same_set(corpus, tmp_path,
                                                                      monkeypatch):
    out = tmp_path / "out"
    # the source, by a path relative to its folder
    monkeypatch.chdir(corpus["base"])
    outcome = run_scan(ScanRequest(evidence=[str(corpus["folder"])], hashsets=["alert.md5"],
                                   outdir=out, workers=1), _StopAfter(300))
    assert not outcome.complete
    monkeypatch.undo()
    copy = tmp_path / "elsewhere" / "renamed.txt"
    copy.parent.mkdir()
    copy.write_bytes(corpus["source"].read_bytes())
    run = run_triage("scan", corpus["folder"], "--hashset", copy, "-o", out, "--resume", "-q",
                     cwd=copy.parent)
    assert run.code == 1, run.stderr
    assert _hit_paths(out) == corpus["hits"]


def test_a_resume_with_other_evidence_or_other_sets_is_refused(corpus, tmp_path, images):
    out = tmp_path / "out"
    assert run_triage("scan", images / "fat16.raw", "--hashset", corpus["set"], "-o", out,
                      "-q").code == 0
    before = (out / "report.json").read_bytes()
    run = run_triage("scan", images / "ext4.raw", "--hashset", corpus["set"], "-o", out,
                     "--resume")
    assert run.code == 2
    assert run.stderr.splitlines() == [
        f"triage: error: {out}: the evidence differs from that of the scan being resumed; "
        f"resume needs the same (or start again with --force)"]
    other_set = tmp_path / "other.md5"
    other_set.write_text(f"{hashlib.md5(b'x').hexdigest()}  x\n")
    run = run_triage("scan", images / "fat16.raw", "--hashset", other_set, "-o", out,
                     "--resume")
    assert run.code == 2 and "the hash sets differ" in run.stderr
    assert (out / "report.json").read_bytes() == before      # nothing was touched


def test_an_image_copied_over_by_another_of_the_same_name_is_other_evidence(corpus, tmp_path,
                                                                          images):
    evidence = tmp_path / "disk.raw"
    evidence.write_bytes((images / "fat16.raw").read_bytes())
    out = tmp_path / "out"
    assert run_triage("scan", evidence, "--hashset", corpus["set"], "-o", out, "-q").code == 0
    evidence.chmod(0o644)
    evidence.write_bytes((images / "ext4.raw").read_bytes())
    run = run_triage("scan", evidence, "--hashset", corpus["set"], "-o", out, "--resume")
    assert run.code == 2 and "the evidence differs" in run.stderr


def test_resume_where_no_scan_was_started_says_so(corpus, tmp_path):
    run = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", tmp_path / "none",
                     "--resume")
    assert run.code == 2
    assert run.stderr.splitlines() == [
        f"triage: error: {tmp_path / 'none'}: no scan to resume here (results.sqlite is "
        f"missing); run without --resume to start one"]
    assert not (tmp_path / "none").exists()


def test_reports_of_an_earlier_scan_are_not_overwritten_without_force(corpus, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("an earlier report")
    run = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out)
    assert run.code == 2 and "already holds a scan (report.html)" in run.stderr
    assert (out / "report.html").read_text() == "an earlier report"
    (out / "report.dfxml").write_text("stale")
    forced = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out, "-q",
                        "--force")
    assert forced.code == 1
    assert not (out / "report.dfxml").exists()     # nothing of the replaced scan is left
    assert "an earlier report" not in (out / "report.html").read_text()


def test_a_second_process_on_the_same_output_folder_is_refused(corpus, tmp_path):
    out = tmp_path / "out"
    _interrupted(corpus, out)
    with Lock(out):
        run = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out,
                         "--resume")
    assert run.code == 2
    assert run.stderr.splitlines() == [
        f"triage: error: {out}: another triage process is using this output folder; wait "
        f"for it to finish"]
    again = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out,
                       "--resume", "-q")
    assert again.code == 1 and _hit_paths(out) == corpus["hits"]


def _start(corpus, out, *extra, **popen):
    return start_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out,
                        "--workers", "1", *extra, **popen)


def test_sigterm_stops_like_ctrl_c_with_a_partial_report(corpus, tmp_path):
    out = tmp_path / "out"
    proc = _start(corpus, out, "-q")
    wait_for_done(out, 200)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert err == b""
    partial = _report(out)
    assert partial["complete"] is False and 0 < partial["summary"]["files_seen"] < FILES
    assert partial["stopped"] == "terminated"
    assert "(TERMINATED: the scan is not complete)" in (out / "report.html").read_text()
    run = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out, "--resume",
                     "-q")
    assert run.code == 1 and _hit_paths(out) == corpus["hits"]


def test_the_interruption_hint_is_a_command_that_resumes_when_pasted(corpus, tmp_path):
    out = tmp_path / "out dir"
    proc = _start(corpus, out, "--examiner", "E X")
    wait_for_done(out, 200)
    proc.send_signal(signal.SIGINT)
    stdout, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    (hint,) = [line for line in stdout.decode().splitlines() if line.startswith("Resume with: ")]
    command = hint[len("Resume with: "):]
    assert shlex.split(command) == [
        "triage", "scan", str(corpus["folder"]), "--hashset", str(corpus["set"]), "-o", str(out),
        "--workers", "1", "--examiner", "E X", "--resume"]
    bash = subprocess.run(["bash", "-c", command.replace("triage", f"{sys.executable} -m triage",
                                                         1)],
                          capture_output=True, text=True, timeout=300)
    assert bash.returncode == 1, bash.stderr
    assert _hit_paths(out) == corpus["hits"] and _report(out)["complete"] is True


def _limited(max_bytes):
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return limit


def test_reports_that_cannot_be_written_are_one_line_and_the_scan_stays_resumable(
        corpus, tmp_path, monkeypatch):
    """A full disk when only the reports are left to write: one line naming the report, no
    temporary file left, and the database does not claim a finished scan, so --resume writes
    the reports."""
    import errno
    import pathlib
    from triage.errors import TriageError
    out = tmp_path / "out"
    write_bytes = pathlib.Path.write_bytes

    def full(path, data):
        if path.name == "report.html.tmp":
            write_bytes(path, data[:100])            # a part written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_bytes(path, data)

    monkeypatch.setattr(pathlib.Path, "write_bytes", full)
    with pytest.raises(TriageError) as failed:
        run_scan(ScanRequest(evidence=[str(corpus["folder"])], hashsets=[str(corpus["set"])],
                             outdir=out, workers=1))
    monkeypatch.undo()
    assert str(failed.value) == f"{out / 'report.html'}: cannot write: No space left on device"
    # no .tmp left, and no report of the set written: none may claim a finished scan
    assert [p.name for p in out.iterdir() if not p.name.startswith("results.sqlite")] == []
    resumed = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out,
                         "--resume", "-q")
    assert resumed.code == 1, resumed.stderr
    assert _hit_paths(out) == corpus["hits"] and _report(out)["complete"] is True
    assert (out / "report.html").exists() and (out / "manifest.json").exists()


def test_a_database_that_cannot_grow_is_one_line_and_what_was_recorded_is_kept(corpus,
                                                                               tmp_path):
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "triage", "scan", str(corpus["folder"]),
                          "--hashset", str(corpus["set"]), "-o", str(out), "-q", "--workers",
                          "1"], capture_output=True, text=True, preexec_fn=_limited(150_000))
    assert run.returncode == 2
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"triage: error: {out / 'results.sqlite'}: cannot write: ")
    assert "--resume" in line
    resumed = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out,
                         "--resume", "-q")
    assert resumed.code == 1, resumed.stderr
    assert _hit_paths(out) == corpus["hits"]


@pytest.fixture
def small_disk(tmp_path):
    """A real 300 KiB file system (tmpfs), where the machine lets this process mount one."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)],
                          capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_really_full_disk_ends_in_one_line_and_resumes_elsewhere_with_the_same_hits(
        corpus, small_disk, tmp_path):
    out = small_disk / "out"
    run = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", out, "-q")
    assert run.code == 2
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"triage: error: {out}") and "cannot write" in line
    assert "internal error" not in line
    assert not list(out.glob("*.tmp"))
    moved = tmp_path / "moved"
    subprocess.run(["cp", "-a", str(out), str(moved)], check=True)
    resumed = run_triage("scan", corpus["folder"], "--hashset", corpus["set"], "-o", moved,
                         "--resume", "-q")
    assert resumed.code == 1, resumed.stderr
    assert _hit_paths(moved) == corpus["hits"]
