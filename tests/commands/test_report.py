"""`triage report render`: writes the asked reports again from the results database, removes
the reports of other formats an earlier render left, and seals exactly what is there."""

from __future__ import annotations

import hashlib
import json

from support import FIXTURES, run_triage

DEMO = FIXTURES / "demo"
EVERY = {"report.json", "report.csv", "report.html", "report.dfxml", "report.jsonld"}


def sealed(outdir) -> dict:
    manifest = json.loads((outdir / "manifest.json").read_text("utf-8"))
    for f in manifest["files"]:
        assert hashlib.sha256((outdir / f["name"]).read_bytes()).hexdigest() == f["sha256"]
    return {f["name"] for f in manifest["files"]}


def test_render_removes_the_reports_it_was_not_asked_for(tmp_path):
    out = tmp_path / "out"
    run = run_triage("scan", DEMO / "demo.E01", "--hashset", DEMO / "demo-alert.json",
                     "--format", ",".join(("json", "csv", "html", "dfxml", "case")), "-o", out,
                     "-q")
    assert run.code == 1, run.stderr
    assert sealed(out) == EVERY | {"results.sqlite"}
    # What triage did not write stays, whatever its name.
    (out / "notes.txt").write_text("the examiner's own notes\n")
    (out / "report.csv.bak").write_text("a copy the examiner kept\n")
    before = (out / "report.html").read_bytes()

    run = run_triage("report", "render", out, "--format", "html")
    assert run.code == 0, run.stderr
    assert run.stdout.splitlines() == [str(out / n) for n in
                                       ("report.json", "report.html", "manifest.json")]
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json", "notes.txt", "report.csv.bak", "report.html", "report.json",
        "results.sqlite"]
    assert sealed(out) == {"report.json", "report.html", "results.sqlite"}
    assert (out / "report.html").read_bytes() == before

    run = run_triage("report", "render", out, "--format", "csv,dfxml")
    assert run.code == 0, run.stderr
    assert sealed(out) == {"report.json", "report.csv", "report.dfxml", "results.sqlite"}
    assert not (out / "report.html").exists() and (out / "notes.txt").exists()


def test_render_without_a_results_database_is_one_line(tmp_path):
    (tmp_path / "report.csv").write_text("not ours to remove\n")
    run = run_triage("report", "render", tmp_path, "--format", "html")
    assert run.code == 2 and run.stderr.count("\n") == 1 and "results" in run.stderr
    assert (tmp_path / "report.csv").read_text() == "not ours to remove\n"


def test_render_waits_for_no_scan_in_the_folder(tmp_path):
    """Reports are never rendered from a database a scan is still writing."""
    from triage.outdir import Lock
    out = tmp_path / "busy"
    assert run_triage("scan", DEMO / "demo.E01", "--hashset", DEMO / "demo-alert.json", "-o",
                      out, "-q").code == 1
    with Lock(out):
        run = run_triage("report", "render", out)
    assert run.code == 2
    assert run.stderr.splitlines() == [
        f"triage: error: {out}: another triage process is using this output folder; wait for "
        f"it to finish"]
    assert run_triage("report", "render", out).code == 0
