"""hashdeep's known-file format: `%%%% HASHDEEP-1.0`, then `%%%% size,<algos>,filename`, `##`
comments, one file a line. Algorithms triage does not know (tiger, whirlpool) are skipped."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional

from ..problems import Problem
from ..textio import numbered_lines
from .base import Format, Item, register
from .fields import entries, field_of

MAGIC = "%%%% HASHDEEP-1.0"


@register
class Hashdeep(Format):
    name = "hashdeep"
    priority = 20

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        return text.lstrip().startswith(MAGIC)

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        columns = None
        with open(path, "rb") as raw:
            for number, line in numbered_lines(raw):
                where = number
                if line.startswith("%%%%"):
                    spec = line[4:].strip()
                    if spec.upper().startswith("HASHDEEP"):
                        continue
                    columns = [field_of(c) or c.strip().lower() for c in spec.split(",")]
                    if "size" not in columns or columns[-1] != "name":
                        yield where, Problem(where, "header must start with size and end with "
                                                    "filename")
                        columns = None
                    continue
                if not line.strip() or line.startswith("##"):
                    continue
                if columns is None:
                    yield where, Problem(where, "file line before the %%%% column header")
                    continue
                # The file name is last and may itself hold commas.
                fields = line.split(",", len(columns) - 1)
                if len(fields) != len(columns):
                    yield where, Problem(where, f"expected {len(columns)} fields, "
                                                f"got {len(fields)}")
                    continue
                row = dict(zip(columns, fields))
                values = {c: row[c] for c in columns if c not in ("size", "name")
                          and field_of(c) == c}
                if not row["size"].strip():
                    yield where, Problem(where, "size missing", "missing-size", "warning")
                yield from entries(where, values, size=row["size"], name=row["name"] or None)
