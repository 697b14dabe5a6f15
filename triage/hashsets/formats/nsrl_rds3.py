"""NIST NSRL RDS 3 SQLite databases: the full one, where FILE is a view over METADATA and its
friends, and the minimal one, where FILE is a table. Opened read-only and immutable, so the
database is never written (no journal, no -shm file). Known-good."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterator, Optional

from ...errors import HashSetError
from ..problems import Problem
from .base import Format, Item, register
from .fields import entries

MAGIC = b"SQLite format 3\x00"
COLUMNS = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "file_name": "name",
           "file_size": "size"}


def connect(path: Path) -> sqlite3.Connection:
    uri = Path(path).resolve().as_uri() + "?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True)


def file_columns(path: Path) -> list:
    try:
        with connect(path) as db:
            kinds = db.execute("SELECT type FROM sqlite_master WHERE lower(name) = 'file' "
                               "AND type IN ('table', 'view')").fetchall()
            if not kinds:
                return []
            return [row[1].lower() for row in db.execute("PRAGMA table_info(FILE)")]
    except sqlite3.DatabaseError:
        return []


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
        db = connect(path)
        try:
            rows = db.execute(f"SELECT {', '.join(present)} FROM FILE")
            for number, row in enumerate(rows, 1):
                where = f"row {number}"
                record = {COLUMNS[c]: v for c, v in zip(present, row)}
                if "size" in record and record["size"] is None:
                    yield where, Problem(where, "file_size missing", "missing-size", "warning")
                values = {k: v for k, v in record.items() if k not in ("name", "size")}
                yield from entries(where, values, size=record.get("size"),
                                   category="known-good", name=record.get("name"))
        except sqlite3.DatabaseError as exc:
            raise HashSetError(f"{path}: unreadable NSRL database: {exc}") from None
        finally:
            db.close()
