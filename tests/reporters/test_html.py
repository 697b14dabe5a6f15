"""report.html: the verdict in the words the terminal uses (an interrupted scan says so), every
category by its name, hits grouped under their evidence item, what a near-duplicate matched,
evidence described in words with whether its media was verified; self-contained, names inert."""

from __future__ import annotations

import copy
import csv
import json

import lxml.html
import pytest

from triage.reporters.html_report import render
from triage.safetext import visible
from triage.verdict import decide

TITLES = {"1": "1 child abuse material (CAM)", "2": "2 child exploitative / age difficult",
          "3": "3 CGI / animation"}


def page(data) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(data if isinstance(data, bytes) else data.read_bytes())


def section(root, name: str):
    (found,) = root.xpath(f"//section[@id='{name}']")
    return found


def text(el) -> str:
    """The text as a reader sees it: a line break separates words."""
    for br in el.iter("br"):
        br.tail = " " + (br.tail or "")
    return " ".join(el.text_content().split())


def pairs(dl) -> dict:
    return {text(dt): text(dd) for dt, dd in zip(dl.findall("dt"), dl.findall("dd"))}


def table_rows(table) -> list:
    return [[text(td) for td in tr.findall("td")] for tr in table.xpath("./tbody/tr")]


def hit_bodies(root) -> dict:
    """Each hit's rows in the Hits section, by the path shown."""
    return {text(body.xpath("./tr[1]/td[1]")[0]): body
            for body in section(root, "hits").xpath(".//table[@class='hitlist']/tbody")}


def test_an_interrupted_scan_with_hits_says_so_in_the_verdict_box(interrupted_demo, demo_scan):
    report = json.loads((interrupted_demo / "report.json").read_text("utf-8"))
    assert report["complete"] is False and report["summary"]["hits"] == 7
    root = page(interrupted_demo / "report.html")
    (box,) = root.find_class("verdict")
    assert box.get("class") == "verdict hits"
    headline = box.text.strip()
    assert headline == ("HITS FOUND: 7 files match known material in the part scanned "
                        "(INTERRUPTED: the scan is not complete)")
    assert headline == decide(report["summary"], report["complete"]).headline   # the terminal's
    assert pairs(section(root, "case").find("dl"))["Complete"] == \
        "no: interrupted, only part of the evidence was scanned"
    assert pairs(section(root, "evidence").find("dl"))["Scanned"] == \
        "no: the scan stopped before this item was finished"
    # The same scan, complete, says neither.
    (box,) = page(demo_scan.outdir / "report.html").find_class("verdict")
    assert box.text.strip() == "HITS FOUND: 7 files match known material"


def test_categories_are_named_in_the_verdict_the_table_and_every_match(demo_scan):
    root = page(demo_scan.outdir / "report.html")
    (box,) = root.find_class("verdict")
    assert [text(li) for li in box.iter("li")] == [
        f"{TITLES['1']}: 3 files", f"{TITLES['2']}: 3 files", f"{TITLES['3']}: 1 file"]
    assert table_rows(section(root, "categories").find("table")) == [
        [TITLES["1"], "3"], [TITLES["2"], "3"], [TITLES["3"], "1"]]
    shown = {path: [text(c) for c in body.find_class("cat")]
             for path, body in hit_bodies(root).items()}
    assert shown == {h["path"]: [TITLES[m["category"]] for m in h["matches"][:1]]
                     for h in demo_scan.report["hits"]}


def test_hits_are_grouped_by_evidence_item(hit_scan):
    """One table per evidence item, titled in its head (repeated on every printed page it runs
    over) with the item, its number of hits and what it is; the rows do not repeat the item."""
    root = page(hit_scan.outdir / "report.html")
    report = hit_scan.report
    counts = {ev["path"]: sum(h["evidence"] == ev["path"] for h in report["hits"])
              for ev in report["evidence"]}
    tables = section(root, "hits").find_class("hitlist")
    titles = [table.xpath("./thead/tr[@class='group']/th")[0] for table in tables]
    assert [text(t.find_class("where")[0]) for t in titles] == [
        f"{visible(path)} ({n} hit{'s' if n != 1 else ''})" for path, n in counts.items() if n]
    assert [text(t.find_class("evidence-line")[0]) if t.find_class("evidence-line") else ""
            for t in titles] == [
        "EnCase image (E01) · 125,829,120 bytes (125.8 MB) · media not verified in this scan: "
        "run `triage inspect --verify` on it",
        "raw image · 16,777,216 bytes (16.8 MB) · media no stored hashes to verify against",
        "folder"]
    for path, table in zip(counts, tables):
        bodies = table.xpath("./tbody")
        assert len(bodies) == counts[path]
        assert not [b for b in bodies if visible(path) in text(b)]   # not repeated on each row
    assert set(hit_bodies(root)) == {visible(h["path"]) for h in report["hits"]}


def test_a_near_duplicate_says_what_it_matched(demo_scan):
    alert = json.loads((demo_scan.hashset_sources[0]).read_text("utf-8"))["value"]
    media_id = {r["MD5"].lower(): str(r["MediaID"]) for r in alert}
    (near,) = demo_scan.expected["near_duplicates"]
    bodies = hit_bodies(page(demo_scan.outdir / "report.html"))
    (match,) = bodies[near["path"]].find_class("match")
    assert text(match) == (f"{TITLES['2']} set demo-alert, entry ID 3 pdq distance "
                           f"{near['pdq_distance']} from the set's value {near['pdq']}")
    for hit in demo_scan.expected["hits"]:
        (match,) = bodies[hit["path"]].find_class("match")
        assert text(match) == (f"{TITLES[hit['categories'][0]]} set demo-alert, entry ID "
                               f"{media_id[hit['md5']]} md5, sha1 exact (same digest)")


def test_no_report_names_a_set_entry(hit_scan):
    """The alert set names each entry (a FileName column): set names can describe the content,
    so no report carries them, while it does say what was matched (IDs, values)."""
    with open(hit_scan.hashset_sources[0], newline="") as f:
        names = [row["FileName"] for row in csv.DictReader(f)]
    assert len(names) == len(hit_scan.report["hits"]) and names[0].endswith(".jpg")
    reports = sorted(hit_scan.outdir.glob("report.*"))
    assert [p.name for p in reports] == ["report.csv", "report.dfxml", "report.html",
                                         "report.json", "report.jsonld"]
    for path in reports:
        data = path.read_bytes()
        assert not [n for n in names if n.encode() in data], path.name


def test_the_evidence_is_described_in_words(demo_scan, hit_scan):
    ev = section(page(demo_scan.outdir / "report.html"), "evidence")
    media, header = ev.findall("dl")
    e = demo_scan.expected["evidence"]
    assert pairs(media) == {
        "Container": "EnCase image (E01)", "Media size": "59,768,832 bytes (59.8 MB)",
        "Partition table": "MBR (DOS)", "Stored MD5": e["md5"], "Stored SHA1": e["sha1"],
        "Media verified": "not verified in this scan: run `triage inspect --verify` on it",
        "Scanned": "yes"}
    assert pairs(header) == {
        "Case number": "DEMO-2026-001", "Description": "demo laptop disk",
        "Examiner": "Demo Examiner", "Evidence number": "EXHIBIT-1",
        "Notes": "harmless generated pictures", "Acquired": "2026-11-28T23:40:17Z",
        "System date at acquisition": "2026-11-28T23:40:17Z", "Acquisition OS": "Linux",
        "Acquisition software version": "20140813"}
    counts = [v["counts"] for v in demo_scan.report["evidence"][0]["volumes"]]
    assert table_rows(ev.find("table")) == [
        ["2", "Win95 FAT32 (0x0c)", "fat32", "1,048,576", "41,943,040", "512",
         *map(str, (counts[0][k] for k in ("files_seen", "hit", "known", "skipped", "error")))],
        ["3", "NTFS / exFAT (0x07)", "ntfs", "42,991,616", "16,777,216", "4,096",
         *map(str, (counts[1][k] for k in ("files_seen", "hit", "known", "skipped", "error")))]]
    assert [c["hit"] for c in counts] == [4, 3]
    for raw_key in ("acquisition_date", "evidence_number", "case_number", "stored_hashes"):
        assert raw_key not in text(ev)
    # A raw image has no stored hashes; a folder has no partition table.
    ev = section(page(hit_scan.outdir / "report.html"), "evidence")
    described = {text(h3).split(" ", 1)[1]: pairs(dl) for h3, dl in
                 zip(ev.findall("h3"), ev.xpath("./dl[dt='Container']"))}
    by_kind = {ev_["container"]: described[visible(ev_["path"])]
               for ev_ in hit_scan.report["evidence"]}
    assert by_kind["raw"]["Media verified"] == "no stored hashes to verify against"
    assert by_kind["ewf"]["Media size"] == "125,829,120 bytes (125.8 MB)"
    assert "Partition table" not in by_kind["folder"]


def test_a_verification_of_the_media_is_stated(demo_scan):
    report = copy.deepcopy(demo_scan.report)
    ev = report["evidence"][0]
    stored = ev["stored_hashes"]
    ev["verification"] = {"hashes": {
        "md5": {"stored": stored["md5"], "computed": stored["md5"], "match": True},
        "sha1": {"stored": stored["sha1"], "computed": "0" * 40, "match": False}},
        "note": "as `triage inspect --verify` records it"}
    media = section(page(render(report)), "evidence").find("dl")
    assert pairs(media)["Media verified"] == (
        f"verified in this scan: MD5 matches the stored hash; SHA1 DOES NOT MATCH the stored "
        f"hash (computed {'0' * 40})")


def test_the_page_is_self_contained_and_names_are_inert(hit_scan):
    raw = (hit_scan.outdir / "report.html").read_text("utf-8")
    lowered = raw.lower()
    for active in ("<script", "<img", "<link", "<iframe", " src=", "href=", "url(", "@import"):
        assert active not in lowered, active
    assert ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
            'style-src \'unsafe-inline\'">') in raw
    assert "&lt;script&gt;alert(1)&lt;\\script&gt;.txt" in raw
    assert "\u202e" not in raw and "/invoice&lt;U+202E&gt;txt.exe" in raw
    assert not any(c in raw for c in "\x01\x07\x1b\x7f\x85")
    assert "/ctl\\x01bell\\x07esc\\x1b[31m.txt" in raw


@pytest.mark.parametrize("name", ["report.html", "report.csv"])
def test_holds_no_content(hit_scan, photo_scan, demo_scan, name):
    for scan in (hit_scan, photo_scan, demo_scan):
        assert scan.holds_no_content((scan.outdir / name).read_bytes())
