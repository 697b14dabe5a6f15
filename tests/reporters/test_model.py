"""The canonical report (reporters.model): valid against the schema, each match saying what it
matched; a results database written before matches carried that still renders."""

from __future__ import annotations

import json
import shutil
import sqlite3

import jsonschema

from support import REPO, run_triage

SCHEMA = json.loads((REPO / "triage" / "schemas" / "report.schema.json").read_text("utf-8"))


def test_every_report_is_valid_and_its_matches_name_id_and_value(hit_scan, photo_scan,
                                                                  demo_scan):
    for scan in (hit_scan, photo_scan, demo_scan):
        jsonschema.validate(scan.report, SCHEMA)
        for hit in scan.report["hits"]:
            for m in hit["matches"]:
                assert m["value"] and "name" not in m
                if m["distance"] == 0 and m["signal"] in ("md5", "sha1", "sha256"):
                    assert m["value"] == hit[m["signal"]]
    (near,) = demo_scan.expected["near_duplicates"]
    (hit,) = [h for h in demo_scan.report["hits"] if h["path"] == near["path"]]
    assert hit["matches"] == [{
        "signal": "pdq", "set": "demo-alert", "kind": "alert", "category": "2",
        "series": None, "id": "3", "value": near["pdq"], "distance": near["pdq_distance"],
        "variant": "original", "quality": 100}]
    assert {m["id"] for h in hit_scan.report["hits"] for m in h["matches"]} == {None}


def test_a_database_from_before_matches_said_what_they_matched(demo_scan, tmp_path):
    out = tmp_path / "old"
    shutil.copytree(demo_scan.outdir, out)
    with sqlite3.connect(out / "results.sqlite") as conn:
        for key, matches in conn.execute("SELECT key, matches FROM findings").fetchall():
            old = [{k: v for k, v in m.items() if k not in ("id", "value")}
                   for m in json.loads(matches)]
            conn.execute("UPDATE findings SET matches = ? WHERE key = ?", (json.dumps(old), key))
    conn.close()
    run = run_triage("report", "render", out, "--format", "json,csv,html,dfxml,case")
    assert run.code == 0, run.stderr
    report = json.loads((out / "report.json").read_text("utf-8"))
    jsonschema.validate(report, SCHEMA)
    for hit in report["hits"]:
        assert [(m["id"], m["value"]) for m in hit["matches"]] == [
            (None, None if m["signal"] == "pdq" else hit[m["signal"]]) for m in hit["matches"]]
