"""HashKeeper `.hsh` hash sets (quoted CSV, upper-case MD5) and the `.hke` set description
beside them, which names the set and says whether it is notable (alert) or known (good).

An `.hke` holds no hashes: given alone, it stands for its set, so the `.hsh` of the same name
beside it is read (`Format.source`); without one it is refused, saying so."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator, Optional

from ..problems import SourceError
from ..textio import lines, text_reader
from .base import Format, Item, register
from .table import first_line, read_rows, read_rows_bulk

HEADER = ["file_id", "hashset_id", "file_name", "directory", "hash", "file_size"]
DESCRIPTION = ["hashset_id", "name", "vendor", "package", "version"]
COLUMNS = {"file_name": "name", "hash": "md5", "file_size": "size"}


def _cells(text: str) -> list:
    return [c.strip().lower() for c in next(csv.reader([first_line(text)]), [])]


def _beside(path: Path, suffixes) -> Optional[Path]:
    return next((p for p in (path.with_suffix(s) for s in suffixes) if p.is_file()), None)


def description(hke: Path) -> dict:
    """What an .hke says of its set: name, version, and kind from notable_flag. Its first
    data row only, each line within the line bound."""
    with open(hke, "rb") as raw:
        rows = list(csv.DictReader(line for _, line in zip(range(2), lines(text_reader(raw)))))
    if not rows:
        return {}
    row = {str(k).strip().lower(): v for k, v in rows[0].items() if k is not None}
    text = {k: v.strip() if isinstance(v, str) else "" for k, v in row.items()}
    facts = {"name": text.get("name") or None, "version": text.get("version") or None}
    if text.get("notable_flag") in ("0", "1"):
        facts["kind"] = "alert" if text["notable_flag"] == "1" else "known-good"
    return {k: v for k, v in facts.items() if v}


@register
class HashKeeper(Format):
    name = "hashkeeper"
    priority = 20

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        return _cells(text)[:len(HEADER)] == HEADER

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        return read_rows(open(path, "rb"), COLUMNS)

    @classmethod
    def read_bulk(cls, path: Path, signal: Optional[str] = None):
        return read_rows_bulk(open(path, "rb"), COLUMNS)

    @classmethod
    def describe(cls, path: Path) -> dict:
        hke = _beside(path, (".hke", ".HKE"))
        return {} if hke is None else description(hke)


@register
class HashKeeperDescription(Format):
    """An .hke given as a source: its set is the .hsh beside it."""

    name = "hashkeeper-hke"
    priority = 20

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        return _cells(text)[:len(DESCRIPTION)] == DESCRIPTION

    @classmethod
    def source(cls, path: Path) -> Path:
        hsh = _beside(path, (".hsh", ".HSH"))
        if hsh is None:
            raise SourceError("", "a HashKeeper set description (.hke) holds no hashes; they "
                                  f"are in {path.with_suffix('.hsh').name} beside it, which "
                                  "is not there")
        return hsh
