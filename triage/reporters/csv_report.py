"""report.csv: one row per hit and matched set entry, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

from ..safetext import visible
from . import register

COLUMNS = ["evidence", "volume_index", "volume_offset", "path", "inode", "allocated", "size",
           "mtime", "atime", "ctime", "crtime", "md5", "sha1", "sha256", "signal", "set",
           "kind", "category", "series", "distance", "variant"]

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


@register("csv", "report.csv")
def render(report: dict) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for hit in report["hits"]:
        volume = hit.get("volume") or {}
        for match in hit["matches"]:
            row = {**hit, **match, "volume_index": volume.get("index"),
                   "volume_offset": volume.get("offset")}
            writer.writerow([neutralise(row.get(c)) for c in COLUMNS])
    # A BOM so Excel reads UTF-8 names correctly instead of guessing a code page.
    return ("\ufeff" + out.getvalue()).encode("utf-8")
