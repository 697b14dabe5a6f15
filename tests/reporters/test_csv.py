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


def test_every_row_says_its_kind_and_a_scan_without_blocks_has_only_files(demo_scan):
    found = rows((demo_scan.outdir / "report.csv").read_bytes())
    assert {r["finding"] for r in found} == {"file"}
    assert all(r[c] == "" for r in found for c in ("sealed_false_positive_rate", "runs",
                                                    "reference_md5", "statement"))


def test_fragments_are_rows_with_their_runs_and_reference(block_scan, block_evidence):
    found = rows((block_scan.outdir / "report.csv").read_bytes())
    assert [r["finding"] for r in found] == ["file", "fragment", "fragment", "sampling",
                                             "sampling", "time_budget"]
    image = str(block_evidence.image)
    fragments = {r["reference_md5"]: r for r in found if r["finding"] == "fragment"}
    assert set(fragments) == {block_evidence.md5("live"), block_evidence.md5("loose")}
    live, loose = fragments[block_evidence.md5("live")], fragments[block_evidence.md5("loose")]
    (run,) = block_evidence.runs("live")
    assert {k: live[k] for k in ("evidence", "volume_index", "volume_offset", "path", "inode",
                                 "allocated", "blocks_matched", "blocks_total", "runs",
                                 "matches", "categories", "md5", "size")} == {
        "evidence": image, "volume_index": "0", "volume_offset": "0", "path": "/b.jpg",
        "inode": "12", "allocated": "True", "blocks_matched": "10", "blocks_total": "10",
        "runs": f"{run['offset']}+40960", "matches": "block:ref:1:0",
        "categories": TITLES["1"], "md5": "", "size": ""}
    assert block_evidence.runs("loose") == [{"offset": block_evidence.loose_at,
                                             "length": 12 * 4096}]
    assert (loose["runs"], loose["path"], loose["inode"], loose["allocated"],
            loose["blocks_matched"], loose["blocks_total"]) == (
        f"{block_evidence.loose_at}+49152", "", "", "", "12", "12")
    (hit,) = [r for r in found if r["finding"] == "file"]
    assert (hit["path"], hit["md5"], hit["sealed_false_positive_rate"]) == (
        "/b.jpg", block_evidence.md5("live"), "")


def test_sampling_and_the_time_budget_are_rows(block_scan, block_evidence):
    found = rows((block_scan.outdir / "report.csv").read_bytes())
    s = block_scan.report["sampling"]
    scan_row, item_row = [r for r in found if r["finding"] == "sampling"]
    assert (scan_row["evidence"], scan_row["clusters_total"], scan_row["statement"]) == (
        "", "2048", "known material found by sampling: the media was then scanned in full")
    assert int(scan_row["clusters_read"]) == s["clusters_read"] >= 1
    assert (item_row["evidence"], item_row["clusters_total"], item_row["statement"]) == (
        str(block_evidence.image), "2048", "known material found in the sample")
    (budget,) = [r for r in found if r["finding"] == "time_budget"]
    elapsed = block_scan.report["time_budget"]["elapsed"]
    assert budget["statement"] == (f"time budget of 3600 s not spent: the scan took "
                                   f"{elapsed:.1f} s")


def test_a_stopped_scan_names_the_items_it_did_not_finish(block_scan):
    report = copy.deepcopy(block_scan.report)
    report.update(complete=False, stopped="budget",
                  time_budget={"seconds": 0.5, "spent": True, "elapsed": 0.52})
    report["evidence"][0]["scanned"] = False
    found = rows(render(report))
    assert [(r["finding"], r["evidence"], r["statement"]) for r in found[-2:]] == [
        ("time_budget", "", "time budget of 0.5 s spent after 0.5 s: the scan stopped there "
                            "and is not complete"),
        ("not_scanned", report["evidence"][0]["path"],
         "stopped when its time budget was spent: only part of the evidence was scanned")]


def test_a_sealed_match_is_marked_with_its_false_positive_rate(sealed_block_scan):
    found = rows((sealed_block_scan.outdir / "report.csv").read_bytes())
    (hit,) = [r for r in found if r["finding"] == "file"]
    rates = {m["false_positive_rate"] for m in sealed_block_scan.report["hits"][0]["matches"]}
    assert rates == {2.0 ** -30}
    assert hit["sealed_false_positive_rate"] == repr(2.0 ** -30) == "9.313225746154785e-10"
