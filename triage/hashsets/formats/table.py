"""Delimited tables with a header row whose columns name the hash kinds (md5, sha1, sha256, pdq,
phash, size, category, series, name, id; any case, any separators), as Griffeye, ICSE and CAID
tooling export them. Also the engine of the NSRL RDS 2 and HashKeeper readers, which are
tables with a fixed header."""

from __future__ import annotations

import csv
from pathlib import Path
from itertools import chain
from typing import BinaryIO, Dict, Iterable, Iterator, List, Optional, Union

import numpy as np

from .. import categories
from ..compile import NO_QUALITY
from ..limits import MAX_LINE, size_text
from ..problems import Problem, SourceError
from ..textio import HEAD, encoding_of, lines, text_reader, too_long
from . import blocks
from .base import Columns, Format, Item, register
from .blocks import decimals, distinct, hex_digests, texts
from .fields import entries, field_of, signal_of

DELIMITERS = "\t,;|"
csv.field_size_limit(MAX_LINE)      # a field may be as long as a line (csv's default: 128 KiB)


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


def delimiter_of(header: str) -> str:
    return max(DELIMITERS, key=header.count)


class Layout:
    """What a header says: the delimiter and, decided once, which column is which (per row
    only the cells are touched). `mapping` fixes how header names map to fields (columns it
    does not name are ignored); otherwise headers are recognised by name."""

    def __init__(self, header_line: str, mapping: Optional[Dict[str, str]] = None,
                 delimiter: Optional[str] = None):
        self.delimiter = delimiter or delimiter_of(header_line)
        header = next(csv.reader([header_line], delimiter=self.delimiter), [])
        fields = [mapping.get(h.strip()) if mapping is not None else field_of(h)
                  for h in header]
        self.width = len(fields)
        self.sized = "size" in fields
        self.hashes = [(i, f) for i, f in enumerate(fields) if f is not None and signal_of(f) == f]
        attrs = {f: i for i, f in enumerate(fields) if f is not None and signal_of(f) != f}
        self.size, self.category, self.series, self.name, self.quality, self.id = (
            attrs.get(k) for k in ("size", "category", "series", "name", "quality", "id"))


def row_items(row: List[str], where: int, layout: Layout,
              category: Optional[str]) -> Iterator[Item]:
    """The items of one csv row (`where` is its line number)."""
    if len(row) != layout.width:
        if any(cell.strip() for cell in row):
            yield where, Problem(where, f"expected {layout.width} fields, got {len(row)}")
        return
    values = {f: row[i] for i, f in layout.hashes if row[i]}
    if not values:
        if any(cell.strip() for cell in row):
            yield where, Problem(where, "no hash in this row")
        return
    size = None if layout.size is None else row[layout.size]
    if layout.sized and not size.strip():
        yield where, Problem(where, "size missing", "missing-size", "warning")
    yield from entries(
        where, values, size=size,
        category=(None if layout.category is None else row[layout.category]) or category,
        series=None if layout.series is None else row[layout.series],
        name=None if layout.name is None else row[layout.name] or None,
        quality=None if layout.quality is None else row[layout.quality],
        id=None if layout.id is None else row[layout.id])


def rows_items(text: Iterable[str], first_line: int, layout: Layout,
               category: Optional[str]) -> Iterator[Item]:
    """The items of the csv rows in `text` (lines, each within the line bound), whose first
    line is line `first_line`."""
    rows = csv.reader(text, delimiter=layout.delimiter)
    try:
        for row in rows:
            yield from row_items(row, rows.line_num + first_line - 1, layout, category)
    except csv.Error:
        # A quoted field left open runs to the field bound; nothing after it can be placed.
        raise SourceError(rows.line_num + first_line, "quoted field longer than "
                          f"{size_text(MAX_LINE)} (limit), reading stopped") from None


def read_rows(raw: BinaryIO, mapping: Optional[Dict[str, str]] = None,
              category: Optional[str] = None) -> Iterator[Item]:
    """Stream a table whose first row is a header, one row at a time. `category` labels rows
    that carry none."""
    with raw:
        text = text_reader(raw)
        layout = Layout(next(lines(text), ""), mapping)
        yield from rows_items(lines(text, 2), 2, layout, category)


def read_rows_bulk(raw: BinaryIO, mapping: Optional[Dict[str, str]] = None,
                   category: Optional[str] = None,
                   block_size: int = blocks.BLOCK) -> Iterator[Union[Item, Columns]]:
    """`read_rows`, with blocks of clean rows as Columns. UTF-8 streams only (UTF-16 and
    bare-CR files are read per line). Quoted fields are read in bulk while every quote sits at
    a field's edge; a block where one does not (a field running over lines, a `""` escape) is
    read per line from there to the end, as a quoted field may run on."""
    head = raw.peek(HEAD)[:HEAD]
    encoding = encoding_of(head)
    if encoding not in ("utf-8", "utf-8-sig") or b"\r" in head.replace(b"\r\n", b""):
        yield from read_rows(raw, mapping, category)
        return
    with raw:
        header = raw.readline(MAX_LINE + 1)
        if len(header) > MAX_LINE:
            raise too_long(1)
        layout = Layout(header.decode(encoding, "replace").replace("\r\n", "\n"), mapping)
        bulk = _bulk_layout(layout)
        parts = blocks.blocks(raw, 2, block_size)
        for number, _, block in parts:
            parsed = blocks.Lines.of(block)
            quotes = None if parsed is None else quoted_cells(parsed, layout.delimiter)
            if quotes is False:
                text = chain.from_iterable(lines(blocks.text_of(b), n) for n, _, b in
                                           chain([(number, 0, block)], parts))
                yield from rows_items(text, number, layout, category)
                return
            columns = _parse_block(parsed, layout, category, quotes) if bulk and parsed \
                else None
            if columns is None:
                yield from rows_items(lines(blocks.text_of(block), number), number, layout,
                                      category)
            elif columns.rows:
                yield columns


def quoted_cells(lines: "blocks.Lines", delimiter: str):
    """Where a block's quotes are: None when it has none; False when they are not all at the
    edges of fields (an opening quote right after a delimiter or the line's start, its
    closing quote on the same line right before a delimiter or the line's end, nothing
    between them but other bytes: how csv reads them is then not plain); else the running
    count of quotes (int32 per byte), whose parity tells what lies inside a quoted field."""
    arr = lines.arr
    is_quote = arr == ord('"')
    at = np.flatnonzero(is_quote)
    if not len(at):
        return None
    if len(at) % 2:
        return False
    opening, closing = at[0::2], at[1::2]
    sep = ord(delimiter)
    before = arr.take(opening - 1, mode="clip")
    after = arr.take(closing + 1, mode="clip")
    starts_ok = (opening == 0) | (before == sep) | (before == 10)
    ends_ok = (closing == len(arr) - 1) | (after == sep) | (after == 10)
    if not (starts_ok.all() and ends_ok.all()):
        return False
    running = np.cumsum(is_quote, dtype=np.int32)
    if (running.take(lines.ends - 1, mode="clip") & 1).any():    # a field over a line end
        return False
    return running


def _bulk_layout(layout: Layout) -> bool:
    """Whether rows of this layout can be parsed in bulk: every hash column a hex signal with
    the plain hex rule, each signal in one column only."""
    names = [f for _, f in layout.hashes]
    return bool(names) and len(set(names)) == len(names) and all(map(blocks.hex_length, names))


def _parse_block(lines: "blocks.Lines", layout: Layout, category: Optional[str],
                 quotes=None, rest: bool = False) -> Optional[Columns]:
    """The block's rows as Columns, or None unless every row is one `row_items` reads whole:
    the right number of fields, at least one hash, every hash exactly hex, a size of 1-18
    digits where the table has sizes, a quality of 0-100. `quotes`: the quoted fields
    (quoted_cells), whose delimiters are text and whose quotes are not. `rest`: the last field
    runs to the end of the line, delimiters and all (hashdeep's file names)."""
    arr = lines.arr
    keep = lines.ends > lines.starts                  # csv skips empty lines
    starts, ends = lines.starts[keep], lines.ends[keep]
    m = len(starts)
    if not m:
        return Columns(0, {})
    cuts = np.flatnonzero(arr == ord(layout.delimiter))
    if quotes is not None:
        cuts = cuts[(quotes.take(cuts) & 1) == 0]      # an odd count before: inside quotes
    if rest:
        # The first width - 1 delimiters of each row; a row with fewer is not whole.
        row = np.searchsorted(starts, cuts, side="right") - 1
        first = np.searchsorted(row, np.arange(m))
        rank = np.arange(len(cuts)) - first.take(row, mode="clip")
        if (np.bincount(row[row >= 0], minlength=m)[:m] < layout.width - 1).any():
            return None
        cuts = cuts[(row >= 0) & (rank < layout.width - 1)]
    # Each row must hold exactly width - 1 delimiters, all inside the row.
    if len(cuts) != m * (layout.width - 1):
        return None
    cuts = cuts.reshape(m, layout.width - 1)
    if layout.width > 1 and ((cuts[:, 0] < starts).any() or (cuts[:, -1] >= ends).any()):
        return None
    cell_starts = np.column_stack([starts, cuts + 1])
    cell_ends = np.column_stack([cuts, ends])
    if quotes is not None:
        # A quoted field: its text lies between its quotes.
        quoted = (arr.take(cell_starts, mode="clip") == ord('"')) & (cell_ends > cell_starts)
        cell_starts[quoted] += 1
        cell_ends[quoted] -= 1

    def cell(i):
        return cell_starts[:, i], cell_ends[:, i]

    digests = {}
    hashed = np.zeros(m, bool)
    for i, signal in layout.hashes:
        s, e = cell(i)
        length = blocks.hex_length(signal)
        filled = e > s
        if ((e - s)[filled] != length).any():
            return None
        keys = hex_digests(arr, s[filled], length)
        if keys is None:
            return None
        digests[signal] = (keys, None if filled.all() else np.flatnonzero(filled))
        hashed |= filled
    if not hashed.all():
        return None
    columns = Columns(m, digests)
    if layout.size is not None:
        columns.size = decimals(arr, *cell(layout.size), digits=18)
        if columns.size is None:
            return None
    if layout.quality is not None:
        s, e = cell(layout.quality)
        filled = e > s
        values = decimals(arr, s[filled], e[filled], digits=3)
        if values is None or (values > 100).any():
            return None
        columns.quality = np.full(m, NO_QUALITY, np.uint8)
        columns.quality[filled] = values
    try:
        if layout.category is not None:
            values, columns.category = distinct(lines.data, arr, *cell(layout.category))
            columns.labels = [categories.label(v.decode("utf-8", "replace") or category)
                              for v in values]
        elif category is not None:
            columns.labels = [categories.label(category)]
            columns.category = np.zeros(m, np.intp)
    except ValueError:        # a value that is no label: the per-line path reports its row
        return None
    if layout.series is not None:
        columns.series = [v.strip() or None for v in texts(lines.data, *cell(layout.series))]
    if layout.name is not None:
        columns.name = [v or None for v in texts(lines.data, *cell(layout.name))]
    if layout.id is not None:
        columns.id = [v.strip() or None for v in texts(lines.data, *cell(layout.id))]
    return columns


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

    @classmethod
    def read_bulk(cls, path: Path, signal: Optional[str] = None):
        return read_rows_bulk(open(path, "rb"))

