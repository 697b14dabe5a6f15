"""NIST NSRL RDS 3 SQLite databases: the full one, where FILE is a view over METADATA and its
friends, and the minimal one, where FILE is a table. Opened read-only and immutable, so the
database is never written (no journal, no -shm file). Known-good.

A database is a program as much as data: its FILE view can recurse or join without end. Every
connection is bounded (limits.py): no value longer than a line, no attached databases, a budget
of virtual-machine steps proportional to the file's size, and no more rows than the file has
bytes; past a bound the source is refused in one line."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Iterator, Optional

from ..limits import (MAX_LINE, SQL_ROWS_PER_BYTE, SQL_STEPS_FLOOR, SQL_STEPS_PER_BYTE,
                      size_text)
from ..problems import Problem, SourceError
from .base import Format, Item, register
from .fields import entries

MAGIC = b"SQLite format 3\x00"
COLUMNS = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "file_name": "name",
           "file_size": "size"}
STEP = 10_000        # VM instructions between two calls of the step counter


class Bounded:
    """A read-only connection whose queries stop once they have taken their step budget."""

    def __init__(self, path: Path):
        self.size = os.path.getsize(path)
        uri = Path(path).resolve().as_uri() + "?mode=ro&immutable=1"
        self.db = sqlite3.connect(uri, uri=True)
        self.db.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_LINE)
        self.db.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        self.db.execute("PRAGMA trusted_schema = OFF")   # views may not call risky functions
        self.budget = SQL_STEPS_FLOOR + SQL_STEPS_PER_BYTE * self.size
        self.steps = 0
        self.db.set_progress_handler(self._step, STEP)

    def _step(self) -> int:
        self.steps += STEP
        return self.steps > self.budget        # non-zero interrupts the running statement

    @property
    def spent(self) -> bool:
        return self.steps > self.budget

    def close(self) -> None:
        self.db.close()


def file_columns(path: Path) -> list:
    try:
        bounded = Bounded(path)
    except (sqlite3.Error, OSError):
        return []
    try:
        kinds = bounded.db.execute("SELECT type FROM sqlite_master WHERE lower(name) = 'file' "
                                   "AND type IN ('table', 'view')").fetchall()
        if not kinds:
            return []
        return [str(row[1]).lower() for row in bounded.db.execute("PRAGMA table_info(FILE)")]
    except (sqlite3.Error, MemoryError):
        return []
    finally:
        bounded.close()


@register
class NsrlRds3(Format):
    name = "nsrl-rds3"
    priority = 10
    kind = "known-good"
    scheme = "nsrl"

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        if not head.startswith(MAGIC):
            return False
        return bool(set(file_columns(path)) & {"md5", "sha1", "sha256"})

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        present = [c for c in COLUMNS if c in file_columns(path)]
        if not present:
            raise SourceError("", "the database's FILE table cannot be read")
        bounded = Bounded(path)
        rows_allowed = SQL_ROWS_PER_BYTE * bounded.size
        number = 0
        try:
            rows = bounded.db.execute(f"SELECT {', '.join(present)} FROM FILE")
            for number, row in enumerate(rows, 1):
                if number > rows_allowed:
                    raise SourceError(f"row {number}", "FILE yields more rows than the database "
                                      "has bytes: a view that invents rows (limit)")
                where = f"row {number}"
                record = {COLUMNS[c]: v for c, v in zip(present, row)}
                if "size" in record and record["size"] is None:
                    yield where, Problem(where, "file_size missing", "missing-size", "warning")
                values = {k: v for k, v in record.items() if k not in ("name", "size")}
                yield from entries(where, values, size=record.get("size"),
                                   category="known-good", name=record.get("name"))
        except (sqlite3.Error, MemoryError):
            where = f"row {number + 1}"
            if bounded.spent:
                raise SourceError(where, f"reading FILE took more than its step budget "
                                  f"({bounded.budget:,} SQLite steps for "
                                  f"{size_text(bounded.size)}; limit): a view that does not "
                                  "end") from None
            raise SourceError(where, "unreadable NSRL database (damaged, or a FILE view that "
                                     "cannot be evaluated), reading stopped") from None
        finally:
            bounded.close()
