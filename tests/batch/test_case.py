"""The case report: the exit code over the case, its verdict's words, and the rendered files
(names escaped in HTML, formulas neutralised in CSV)."""

from __future__ import annotations

import csv
import io
import json

import jsonschema
import pytest

from support import REPO
from triage.batch.case import DONE, FAILED, NOT_FINISHED, ItemResult, build
from triage.batch.render import html, table

SCHEMA = json.loads((REPO / "triage" / "schemas" / "case.schema.json").read_text())


def _result(evidence_id, status=DONE, hits=0, errors=0, exit_code=None, reason=None):
    item = {"evidence_id": evidence_id, "path": f"/ev/{evidence_id}", "source": "arg",
            "notes": None, "parts": None}
    if status != DONE:
        return ItemResult(item, reason=reason, status=status)
    summary = {"files_seen": 10, "files_hashed": 4, "files_skipped": 6, "files_known": 0,
               "other_names": 0, "images_decoded": 0, "bytes_read": 1000, "hits": hits,
               "hits_by_category": {"1": hits} if hits else {}, "errors": errors,
               "warnings": 0}
    code = exit_code if exit_code is not None else 1 if hits else 3 if errors else 0
    report = {"summary": summary, "complete": True, "stopped": None, "started": "s",
              "finished": "f", "evidence": [{"path": item["path"], "container": "raw",
                                             "size": 5000, "damaged": [], "volumes": 1,
                                             "volumes_unread": 0, "stored_hashes": {}}],
              "hashsets": []}
    tone = "hits" if code == 1 else "partial" if code == 3 else "clean"
    return ItemResult(item, {"report": report, "verdict": tone, "headline": f"{tone} words",
                             "exit_code": code, "parts": 1}, status=DONE)


def _case(results, stopped=None):
    case = build(results, case={"case_number": "C-1", "examiner": "E"}, hashsets=[],
                 skipped=[], formats=["json", "html"], started="s", finished="f",
                 stopped=stopped)
    jsonschema.validate(case, SCHEMA)
    return case


@pytest.mark.parametrize("results, stopped, code, headline", [
    ([_result("a"), _result("b")], None, 0, "NO HITS in 2 items: no known material found"),
    ([_result("a"), _result("b", errors=2)], None, 3,
     "NO HITS, BUT COVERAGE WAS NOT TOTAL in 1 of 2 items"),
    ([_result("a", hits=3), _result("b", errors=2)], None, 1,
     "HITS FOUND in 1 of 2 items: 3 files match known material"),
    ([_result("a", hits=3), _result("b", FAILED, reason="b: cannot open")], None, 2,
     "1 OF 2 ITEMS COULD NOT BE SCANNED; hits in 1 of 2 items (3 files)"),
    ([_result("a", hits=1), _result("b", NOT_FINISHED)], "interrupted", 130,
     "INTERRUPTED: 1 of 2 items finished, hits in 1 of 2 items (1 file); the case is not "
     "complete"),
    ([_result("a"), _result("b", NOT_FINISHED)], "terminated", 143,
     "TERMINATED: 1 of 2 items finished; the case is not complete"),
])
def test_the_exit_code_over_the_case(results, stopped, code, headline):
    case = _case(results, stopped)
    assert case["exit_code"] == code
    assert case["verdict"]["headline"] == headline
    assert case["complete"] is (stopped is None)


def test_totals_and_failure_reasons():
    case = _case([_result("a", hits=3), _result("b", hits=1, errors=1),
                  _result("c", FAILED, reason="/ev/c: no partition table")])
    t = case["totals"]
    assert (t["items"], t["done"], t["failed"], t["with_hits"], t["hits"]) == (3, 2, 1, 2, 4)
    assert t["hits_by_category"] == {"1": 4} and t["files_seen"] == 20 and t["errors"] == 1
    assert case["verdict"]["details"] == ["c: /ev/c: no partition table"]
    (failed,) = [i for i in case["items"] if i["status"] == FAILED]
    assert failed["exit_code"] == 2 and failed["reason"] == "/ev/c: no partition table"
    assert case["items"][0]["report"] == "a/report.json"
    assert case["items"][0]["html"] == "a/report.html"


def test_names_are_escaped_in_html_and_neutralised_in_csv():
    hostile = "=HYPERLINK(\"x\")\u202egpj.E01<script>"
    case = _case([_result(hostile, hits=1)])
    page = html(case).decode()
    assert "<script>" not in page and "\u202e" not in page and "&lt;U+202E&gt;" in page
    assert "default-src 'none'" in page
    assert 'href="%3DHYPERLINK%28%22x%22%29%E2%80%AEgpj.E01%3Cscript%3E/report.html"' in page
    rows = list(csv.reader(io.StringIO(table(case).decode("utf-8-sig"))))
    assert rows[1][0].startswith("'=HYPERLINK") and "<U+202E>" in rows[1][0]
    assert rows[0][:6] == ["evidence_id", "path", "status", "verdict", "exit_code", "hits"]
