"""report.csv: one row per hit, so a spreadsheet's row count is the count of hits; a hit's
matches in one cell, with what each matched (the set entry's ID and stored value) and its
category by name; cells a spreadsheet would run stay text."""

from __future__ import annotations

import copy
import csv
import io
import json

from triage.reporters.csv_report import COLUMNS, render

TITLES = {"1": "1 child abuse material (CAM)", "2": "2 child exploitative / age difficult",
          "3": "3 CGI / animation"}


def rows(data: bytes) -> list:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    reader = csv.DictReader(io.StringIO(text[1:], newline=""))
    assert reader.fieldnames == COLUMNS
    return list(reader)


def test_one_row_per_hit(demo_scan, hit_scan):
    for scan in (demo_scan, hit_scan):
        found = rows((scan.outdir / "report.csv").read_bytes())
        assert len(found) == len(scan.report["hits"]) == scan.report["summary"]["hits"]
        assert [(r["evidence"], r["volume_index"], r["inode"]) for r in found] == [
            (h["evidence"], str((h["volume"] or {}).get("index", "")), str(h["inode"]))
            for h in scan.report["hits"]]
    # 7 for the demo's 7 hits (it was 13: one row per match)
    assert len(rows((demo_scan.outdir / "report.csv").read_bytes())) == 7


def test_the_matches_of_a_hit_share_its_row(demo_scan):
    alert = json.loads(demo_scan.hashset_sources[0].read_text("utf-8"))["value"]
    media_id = {r["MD5"].lower(): str(r["MediaID"]) for r in alert}
    by_path = {r["path"]: r for r in rows((demo_scan.outdir / "report.csv").read_bytes())}
    for hit in demo_scan.expected["hits"]:
        row, cat, ident = by_path[hit["path"]], hit["categories"][0], media_id[hit["md5"]]
        assert (row["categories"], row["matches"], row["matched_ids"], row["matched_values"],
                row["series"]) == (
            TITLES[cat], f"md5:demo-alert:{cat}:0; sha1:demo-alert:{cat}:0",
            f"{ident}; {ident}", f"{hit['md5']}; {hit['sha1']}", "")
    (near,) = demo_scan.expected["near_duplicates"]
    row = by_path[near["path"]]
    assert (row["categories"], row["matches"], row["matched_ids"], row["matched_values"]) == (
        TITLES["2"], f"pdq:demo-alert:2:{near['pdq_distance']}", "3", near["pdq"])


def test_a_set_without_ids_leaves_the_id_cell_empty(photo_scan):
    (row,) = rows((photo_scan.outdir / "report.csv").read_bytes())
    (match,) = photo_scan.report["hits"][0]["matches"]
    assert (row["categories"], row["series"], row["matched_ids"]) == ("CAT1", "bridge-series", "")
    assert row["matches"] == f"pdq:photos:CAT1:{match['distance']}"
    assert row["matched_values"] == match["value"] and len(match["value"]) == 64


def test_cells_a_spreadsheet_would_run_stay_text(demo_scan):
    report = copy.deepcopy(demo_scan.report)
    hit = report["hits"][0]
    hit["path"] = "=HYPERLINK(\"http://x\")"
    for m in hit["matches"]:
        m.update(category="+1", series="@SUM(A1)", id="-5")
    (row, *_) = rows(render(report))
    assert (row["path"], row["categories"], row["series"]) == (
        "'=HYPERLINK(\"http://x\")", "'+1", "'@SUM(A1)")
    assert row["matched_ids"] == "'" + "; ".join("-5" for _ in hit["matches"])
    assert row["matches"].startswith(hit["matches"][0]["signal"] + ":demo-alert:+1:")
