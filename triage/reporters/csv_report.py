"""report.csv: one row per finding, its kind in the first column (`finding`), safe to open in
a spreadsheet.

`file`: a hit, one row per file, so filtering on it counts the hits.
A hit is a file: its other names (hard links, deleted names its inode had) share its row in
`other_names`. A hit's matches share its row too: `matches` holds one `signal:set:category:distance` token per
matched set entry, `; `-separated, and `matched_ids` / `matched_values` the entry's source ID
and stored value in the same order (`-` where there is none); `categories` names each category
once ("1 child abuse material (CAM)"). A match in a sealed set is marked in
`sealed_false_positive_rate`: the set holds keyed fingerprints, so the match is right but for
that design rate (the unsealed set confirms it); empty for a match by digest.

`fragment` (`--blocks`): a reference file whose 4 KiB blocks were found on the media, one row
per reference file, set and owner: `reference_md5`, `blocks_matched` of `blocks_total`, `runs`
(`offset+length`, `; `-separated, in media order) in bytes from the start of the media, or,
where `runs_within` is `volume`, of the volume's own bytes (behind a decryption or LVM layer), the
set in `matches` (`block:set:category:0`) and `categories`; `path`, `inode` and `allocated` are
those of the file-system object that claims the first block, empty when none does.

`sampling` (`--sample`): what the sample proves, in `statement`, one row for the scan and one
per evidence item (`clusters_read` of `clusters_total` 4 KiB windows). `time_budget`: the
budget and whether it was spent. `not_scanned`: an evidence item a stopped scan did not
finish."""

from __future__ import annotations

import csv
import io

from ..safetext import visible
from ..verdict import category_title
from . import register
from .coverage import budget_statement, stop_statement, unscanned

LOCATION = ["evidence", "volume_index", "volume_offset", "path", "inode", "allocated", "size",
            "mtime", "atime", "ctime", "crtime", "md5", "sha1", "sha256"]
COLUMNS = ["finding"] + LOCATION + [
    "other_names", "categories", "series", "matches", "matched_ids", "matched_values",
    "sealed_false_positive_rate", "reference_md5", "blocks_matched", "blocks_total", "runs",
    "runs_within", "clusters_read", "clusters_total", "statement"]
SEPARATOR = "; "

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Spreadsheets run a cell that starts with = + - @ (or tab/CR before one) as a formula:
    `=HYPERLINK(...)` in a file name would become a live link. A leading apostrophe makes the
    cell plain text in Excel, LibreOffice and Google Sheets."""
    if isinstance(value, str):
        value = visible(value)
        if value.startswith(_FORMULA_START):
            return "'" + value
    return value


def _joined(values) -> str:
    return SEPARATOR.join(dict.fromkeys(v for v in values if v))


def match_cells(hit: dict, hashsets) -> dict:
    matches = hit["matches"]
    ids = [m.get("id") for m in matches]
    return {
        "categories": _joined(category_title(m["category"], hashsets) for m in matches
                              if m["category"]),
        "series": _joined(m["series"] for m in matches),
        "matches": SEPARATOR.join(f"{m['signal']}:{m['set']}:{m['category'] or '-'}:"
                                  f"{m['distance']}" for m in matches),
        "matched_ids": SEPARATOR.join(i or "-" for i in ids) if any(ids) else "",
        "matched_values": SEPARATOR.join(m["value"] or "-" for m in matches),
        "sealed_false_positive_rate": _sealed_rate(matches),
    }


def _sealed_rate(matches) -> str:
    """The design false-positive rate of a hit's sealed matches (the largest, if several
    sets), empty when every match is by digest."""
    rates = [m["false_positive_rate"] for m in matches if m.get("sealed")]
    return repr(max(rates)) if rates else ""


def _name(name: dict) -> str:
    """Another name of a hit, with its state when it is not a live name."""
    state = "reallocated" if name["realloc"] else None if name["allocated"] else "deleted"
    return f"{name['path']} ({state})" if state else name["path"]


@register("csv", "report.csv")
def render(report: dict) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows(report):
        writer.writerow([neutralise(row.get(c)) for c in COLUMNS])
    # A BOM so Excel reads UTF-8 names correctly instead of guessing a code page.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def rows(report: dict):
    """Every row as a dict of its cells: the hits, then the fragments, then what the scan
    covered."""
    for hit in report["hits"]:
        volume = hit.get("volume") or {}
        yield {**hit, "finding": "file", "volume_index": volume.get("index"),
               "volume_offset": volume.get("offset"),
               "other_names": SEPARATOR.join(_name(n) for n in hit["other_names"]),
               **match_cells(hit, report["hashsets"])}
    for f in report.get("fragments") or []:
        yield _fragment(f, report["hashsets"])
    sampling = report.get("sampling")
    if sampling:
        yield {"finding": "sampling", "clusters_read": sampling["clusters_read"],
               "clusters_total": sampling["clusters_total"], "statement": sampling["statement"]}
        for ev in sampling["evidence"]:
            yield {"finding": "sampling", "evidence": ev["evidence"],
                   "clusters_read": ev["clusters_read"], "clusters_total": ev["clusters_total"],
                   "statement": "known material found in the sample" if ev["found"] else
                   "nothing known found in the sample"}
    budget = budget_statement(report)
    if budget:
        yield {"finding": "time_budget", "statement": budget}
    for path in unscanned(report):
        yield {"finding": "not_scanned", "evidence": path, "statement": stop_statement(report)}


def _fragment(f: dict, hashsets) -> dict:
    volume, owner = f["volume"] or {}, f["owner"] or {}
    return {"finding": "fragment", "evidence": f["evidence"],
            "volume_index": volume.get("index"), "volume_offset": volume.get("offset"),
            "path": owner.get("path"), "inode": owner.get("inode"),
            "allocated": owner.get("allocated"),
            "categories": category_title(f["category"], hashsets) if f["category"] else "",
            "matches": f"block:{f['set']}:{f['category'] or '-'}:0",
            "reference_md5": f["reference_md5"], "blocks_matched": f["blocks_matched"],
            "blocks_total": f["blocks_total"],
            "runs": SEPARATOR.join(f"{r['offset']}+{r['length']}" for r in f["runs"]),
            "runs_within": f.get("within", "media")}
