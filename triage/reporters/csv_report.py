"""report.csv: one row per hit, so a spreadsheet's row count is the count of hits; safe to open
in a spreadsheet.

A hit is a file: its other names (hard links, deleted names its inode had) share its row in
`other_names`. A hit's matches share its row too: `matches` holds one `signal:set:category:distance` token per
matched set entry, `; `-separated, and `matched_ids` / `matched_values` the entry's source ID
and stored value in the same order (`-` where there is none); `categories` names each category
once ("1 child abuse material (CAM)")."""

from __future__ import annotations

import csv
import io

from ..safetext import visible
from ..verdict import category_title
from . import register

LOCATION = ["evidence", "volume_index", "volume_offset", "path", "inode", "allocated", "size",
            "mtime", "atime", "ctime", "crtime", "md5", "sha1", "sha256"]
COLUMNS = LOCATION + ["other_names", "categories", "series", "matches", "matched_ids",
                      "matched_values"]
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
    }


def _name(name: dict) -> str:
    """Another name of a hit, with its state when it is not a live name."""
    state = "reallocated" if name["realloc"] else None if name["allocated"] else "deleted"
    return f"{name['path']} ({state})" if state else name["path"]


@register("csv", "report.csv")
def render(report: dict) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for hit in report["hits"]:
        volume = hit.get("volume") or {}
        row = {**hit, "volume_index": volume.get("index"), "volume_offset": volume.get("offset"),
               "other_names": SEPARATOR.join(_name(n) for n in hit["other_names"]),
               **match_cells(hit, report["hashsets"])}
        writer.writerow([neutralise(row.get(c)) for c in COLUMNS])
    # A BOM so Excel reads UTF-8 names correctly instead of guessing a code page.
    return ("\ufeff" + out.getvalue()).encode("utf-8")
