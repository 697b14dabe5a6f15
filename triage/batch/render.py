"""case.json, case.html and case.csv from the case report (case.build), sealed with the
batch record in CASEDIR/manifest.json. Evidence ids and paths are attacker-controlled text
(file names): the HTML escapes them and shows hidden characters, the CSV neutralises cells a
spreadsheet would run as formulas, as the item reports do."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import List

from ..atomic import write_all
from ..jsonout import dumps
from ..reporters.csv_report import neutralise
# The item reports' page style and table helpers, so both pages read alike.
from ..reporters.html_report import CSS, _dl, _table, esc, number, plural, size_text
from ..reporters.manifest import write_manifest
from ..verdict import category_title
from .case import DONE, FAILED

CSV_COLUMNS = ["evidence_id", "path", "status", "verdict", "exit_code", "hits",
               "hits_by_category", "files_seen", "files_hashed", "bytes_read", "media_size",
               "errors", "warnings", "parts", "reason", "report", "notes"]


def write(folder: Path, case: dict, sealed: List[Path]) -> List[Path]:
    """Write the three case files (all or none), then the manifest over them and `sealed`."""
    files = {folder / "case.json": (dumps(case, indent=2) + "\n").encode("utf-8"),
             folder / "case.html": html(case), folder / "case.csv": table(case)}
    write_all(files)
    written = list(files)
    return written + [write_manifest(folder, written + list(sealed))]


def table(case: dict) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for item in case["items"]:
        coverage = item.get("coverage") or {}
        row = {**item, **{k: coverage.get(k) for k in ("files_seen", "files_hashed",
                                                         "bytes_read", "media_size")},
               "hits_by_category": "; ".join(f"{k}: {v}" for k, v in
                                             (item.get("hits_by_category") or {}).items())}
        writer.writerow([neutralise(row.get(c)) for c in CSV_COLUMNS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def html(case: dict) -> bytes:
    verdict, t = case["verdict"], case["totals"]
    details = "".join(f'<div class="detail">{esc(d)}</div>' for d in verdict["details"])
    cats = "".join(f"<li>{esc(category_title(k, case['hashsets']))}: {plural(v, 'file')}</li>"
                   for k, v in t["hits_by_category"].items())
    listed = f"<ul>{cats}</ul>" if cats else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>triage case report {esc(case['case'].get('case_number') or '')}</title>
<style>{CSS}</style></head>
<body>
<h1>triage case report</h1>
<div class="verdict {esc(verdict['tone'])}">{esc(verdict['headline'])}{listed}{details}</div>
<p class="lead">This report lists verdicts, counts and metadata only. It contains no images,
thumbnails or file content; each item's own report lists its hits.</p>
<section id="case"><h2>Case</h2>{_case(case)}</section>
<section id="totals"><h2>Totals</h2>{_totals(t)}</section>
<section id="items"><h2>Evidence items ({len(case['items']):,})</h2>{_items(case)}</section>
<section id="skipped"><h2>Files not scanned as evidence ({len(case['skipped']):,})</h2>
{_table(["File", "Why"], [(esc(s['path']), esc(s['reason'])) for s in case['skipped']])}
</section>
<section id="hashsets"><h2>Hash sets</h2>{_hashsets(case)}</section>
<footer>{esc(case['tool']['name'])} {esc(case['tool']['version'])} &middot; case report format
{esc(case['format_version'])}</footer>
</body></html>
"""
    return page.encode("utf-8")


def _case(case: dict) -> str:
    complete = ("yes" if case["complete"] else
                f'<span class="bad">no: {esc(case["stopped"])}; resume with --resume</span>')
    pairs = [("Case number", esc(case["case"]["case_number"])),
             ("Examiner", esc(case["case"]["examiner"])), ("Started", esc(case["started"])),
             ("Finished", esc(case["finished"])), ("Complete", complete)]
    return _dl(pairs)


def _totals(t: dict) -> str:
    rows = [("Evidence items", number(t["items"])), ("Scanned", number(t["done"])),
            ("Could not be scanned", number(t["failed"])),
            ("Not finished", number(t["not_finished"])),
            ("Items with hits", number(t["with_hits"])), ("Hits (files)", number(t["hits"])),
            ("Items partly unreadable", number(t["partly_unreadable"])),
            ("Files seen", number(t["files_seen"])), ("Read", size_text(t["bytes_read"])),
            ("Media", size_text(t["media_bytes"])), ("Unreadable items", number(t["errors"])),
            ("Warnings", number(t["warnings"]))]
    return _table(["What", "Count"], [(esc(k), v) for k, v in rows], numeric=(1,),
                  cls="compact")


def _items(case: dict) -> str:
    rows = []
    for item in case["items"]:
        link = item.get("html") or item.get("report")
        name = esc(item["evidence_id"])
        if link and item["status"] == DONE:
            name = f'<a href="{esc(link)}">{name}</a>'
        if item["status"] == DONE:
            cov = item["coverage"]
            verdict = esc(item["headline"])
            cats = "<br>".join(f"{esc(category_title(k, case['hashsets']))}: {number(v)}"
                               for k, v in item["hits_by_category"].items())
            facts = (number(item["hits"]), cats or "&ndash;", number(cov["files_seen"]),
                     size_text(cov["bytes_read"]), number(item["errors"]))
        else:
            verdict = (f'<span class="bad">could not be scanned: {esc(item["reason"])}</span>'
                       if item["status"] == FAILED else '<span class="warn">not finished</span>')
            facts = ("&ndash;",) * 5
        rows.append((f"{name}<br><code>{esc(item['path'])}</code>", verdict, *facts,
                     number(item["parts"])))
    return _table(["Evidence", "Verdict", "Hits", "By category", "Files seen", "Read",
                  "Unreadable", "Parts"], rows)


def _hashsets(case: dict) -> str:
    rows = [(esc(hs.get("name")), esc(hs.get("version")), esc(hs.get("kind")),
             number(hs.get("entries")),
             "<br>".join(f"<code>{esc(s.get('path'))}</code> sha256 {esc(s.get('sha256'))}"
                         for s in hs.get("sources") or []))
            for hs in case["hashsets"]]
    return _table(["Name", "Version", "Kind", "Entries", "Sources"], rows)
