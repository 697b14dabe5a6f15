"""The canonical report (reporters.model): valid against the schema, each match saying what it
matched."""

from __future__ import annotations

import json

import jsonschema

from support import REPO

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
