"""HashKeeper `.hsh` hash sets (quoted CSV, upper-case MD5) and the `.hke` set description
beside them, which names the set and says whether it is notable (alert) or known (good)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator, Optional

from ..textio import text_reader
from .base import Format, Item, register
from .table import first_line, read_rows, read_rows_bulk

HEADER = ["file_id", "hashset_id", "file_name", "directory", "hash", "file_size"]
COLUMNS = {"file_name": "name", "hash": "md5", "file_size": "size"}


@register
class HashKeeper(Format):
    name = "hashkeeper"
    priority = 20

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        cells = [c.strip() for c in next(csv.reader([first_line(text)]), [])]
        return cells[:len(HEADER)] == HEADER

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        return read_rows(open(path, "rb"), COLUMNS)

    @classmethod
    def read_bulk(cls, path: Path, signal: Optional[str] = None):
        return read_rows_bulk(open(path, "rb"), COLUMNS)

    @classmethod
    def describe(cls, path: Path) -> dict:
        hke = next((p for p in (path.with_suffix(".hke"), path.with_suffix(".HKE"))
                    if p.is_file()), None)
        if hke is None:
            return {}
        with open(hke, "rb") as raw:
            rows = list(csv.DictReader(text_reader(raw)))
        if not rows:
            return {}
        row = rows[0]
        facts = {"name": (row.get("name") or "").strip() or None,
                 "version": (row.get("version") or "").strip() or None}
        notable = (row.get("notable_flag") or "").strip()
        if notable in ("0", "1"):
            facts["kind"] = "alert" if notable == "1" else "known-good"
        return {k: v for k, v in facts.items() if v}
