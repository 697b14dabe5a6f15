"""Delimited tables with a header row whose columns name the hash kinds (md5, sha1, sha256, pdq,
phash, size, category, series, name; any case, any separators), as Griffeye, ICSE and CAID
tooling export them. Also the engine of the NSRL RDS 2 and HashKeeper readers, which are
tables with a fixed header."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import BinaryIO, Dict, Iterator, List, Optional

from ..problems import Problem
from ..textio import text_reader
from .base import Format, Item, register
from .fields import entries, field_of, signal_of

DELIMITERS = "\t,;|"
csv.field_size_limit(sys.maxsize)   # NSRL file names can exceed csv's 128 KiB default


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def delimiter_of(header: str) -> str:
    return max(DELIMITERS, key=header.count)


def read_rows(raw: BinaryIO, mapping: Optional[Dict[str, str]] = None,
              category: Optional[str] = None) -> Iterator[Item]:
    """Stream a table whose first row is a header. `mapping` fixes how header names map to
    fields (columns it does not name are ignored); otherwise headers are recognised by name.
    `category` labels rows that carry none."""
    with raw:
        text = text_reader(raw)
        header_line = text.readline()
        delimiter = delimiter_of(header_line)
        header = next(csv.reader([header_line], delimiter=delimiter), [])
        fields = [mapping.get(h.strip()) if mapping is not None else field_of(h)
                  for h in header]
        sized = "size" in fields
        # Column roles are decided once: per row only the cells are touched.
        hashes = [(i, f) for i, f in enumerate(fields) if f is not None and signal_of(f) == f]
        attrs = {f: i for i, f in enumerate(fields) if f is not None and signal_of(f) != f}
        size_at, cat_at, series_at, name_at, quality_at = (
            attrs.get(k) for k in ("size", "category", "series", "name", "quality"))
        width = len(fields)
        rows = csv.reader(text, delimiter=delimiter)
        for row in rows:
            if len(row) != width:
                if not any(cell.strip() for cell in row):
                    continue
                where = rows.line_num + 1
                yield where, Problem(where, f"expected {width} fields, got {len(row)}")
                continue
            where = rows.line_num + 1
            values = {f: row[i] for i, f in hashes if row[i]}
            if not values:
                if any(cell.strip() for cell in row):
                    yield where, Problem(where, "no hash in this row")
                continue
            size = None if size_at is None else row[size_at]
            if sized and not size.strip():
                yield where, Problem(where, "size missing", "missing-size", "warning")
            yield from entries(
                where, values, size=size,
                category=(None if cat_at is None else row[cat_at]) or category,
                series=None if series_at is None else row[series_at],
                name=None if name_at is None else row[name_at] or None,
                quality=None if quality_at is None else row[quality_at])


def header_fields(text: str) -> List[Optional[str]]:
    line = first_line(text)
    return [field_of(h) for h in next(csv.reader([line], delimiter=delimiter_of(line)), [])]


@register
class Table(Format):
    name = "table"
    priority = 80

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        line = first_line(text)
        if not any(d in line for d in DELIMITERS):
            return False
        cells = next(csv.reader([line], delimiter=delimiter_of(line)), [])
        return any(signal_of(c) for c in cells)

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        return read_rows(open(path, "rb"))

