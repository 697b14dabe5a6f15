"""hashdeep's known-file format: `%%%% HASHDEEP-1.0`, then `%%%% size,<algos>,filename`, `##`
comments, one file a line. Algorithms triage does not know (tiger, whirlpool) are skipped.

`read_bulk` parses blocks of file lines with the table reader's column parser (comma
delimited, no quoting, the file name running to the end of the line, commas and all); a block
holding a `%%%%` or `##` line, or any line the bulk parser cannot take whole, is read per line
with the same column header in force, so problems keep their lines."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator, Optional, Tuple, Union

from ..problems import Problem
from ..textio import numbered_lines
from . import blocks
from .base import Columns, Format, Item, register
from .fields import entries, field_of
from .table import Layout, _parse_block

MAGIC = "%%%% HASHDEEP-1.0"


class _Header:
    """The `%%%%` column header in force: the columns by name, and the same as a table
    Layout for the bulk parser (None until a header is read, or when it is unusable)."""

    def __init__(self):
        self.columns = None
        self.layout = None

    def read(self, spec: str) -> bool:
        columns = [field_of(c) or c.strip().lower() for c in spec.split(",")]
        if "size" not in columns or columns[-1] != "name":
            self.columns = self.layout = None
            return False
        self.columns = columns
        layout = Layout(spec, delimiter=",")
        names = [f for _, f in layout.hashes]
        usable = layout.width == len(columns) and names and len(set(names)) == len(names) \
            and all(map(blocks.hex_length, names))
        self.layout = layout if usable else None
        return True


def read_lines(lines: Iterable[Tuple[int, str]], header: _Header) -> Iterator[Item]:
    for number, line in lines:
        where = number
        if line.startswith("%%%%"):
            spec = line[4:].strip()
            if spec.upper().startswith("HASHDEEP"):
                continue
            if not header.read(spec):
                yield where, Problem(where, "header must start with size and end with filename")
            continue
        if not line.strip() or line.startswith("##"):
            continue
        columns = header.columns
        if columns is None:
            yield where, Problem(where, "file line before the %%%% column header")
            continue
        # The file name is last and may itself hold commas.
        fields = line.split(",", len(columns) - 1)
        if len(fields) != len(columns):
            yield where, Problem(where, f"expected {len(columns)} fields, got {len(fields)}")
            continue
        row = dict(zip(columns, fields))
        values = {c: row[c] for c in columns if c not in ("size", "name") and field_of(c) == c}
        if not row["size"].strip():
            yield where, Problem(where, "size missing", "missing-size", "warning")
        yield from entries(where, values, size=row["size"], name=row["name"] or None)


def _directives(block: bytes) -> bool:
    """Whether a block holds a `%%%%` header or `##` comment line (or a line the per-line
    reader skips for starting so)."""
    return block[:1] in (b"%", b"#") or b"\n%" in block or b"\n#" in block \
        or b"\r%" in block or b"\r#" in block


def read_bulk(path: Path, block_size: int = blocks.BLOCK) -> Iterator[Union[Item, Columns]]:
    header = _Header()
    with open(path, "rb") as raw:
        parts = blocks.utf8_blocks(raw, 1, block_size)
        if parts is None:
            yield from read_lines(numbered_lines(raw), header)
            return
        for number, _, block in parts:
            columns = None
            if header.layout is not None and not _directives(block):
                parsed = blocks.Lines.of(block)
                if parsed is not None:
                    columns = _parse_block(parsed, header.layout, None, rest=True)
            if columns is None:
                yield from read_lines(blocks.numbered(block, number), header)
            elif columns.rows:
                yield columns


@register
class Hashdeep(Format):
    name = "hashdeep"
    priority = 20

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        return text.lstrip().startswith(MAGIC)

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        with open(path, "rb") as raw:
            yield from read_lines(numbered_lines(raw), _Header())

    @classmethod
    def read_bulk(cls, path: Path, signal: Optional[str] = None) -> Iterator[Union[Item, Columns]]:
        return read_bulk(path)
