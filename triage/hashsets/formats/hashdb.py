"""hashdb 3 JSON (`hashdb export`, `hashdb import`; NPS-DEEP/hashdb): one JSON object a line,
`#` lines are comments. A source line `{"file_hash", "filesize", "file_type", "zero_count",
"nonprobative_count", "name_pairs": [repository, filename, ...]}` describes a file by its MD5:
it becomes an md5 entry with that size, named by its first filename. A block line
`{"block_hash", "k_entropy", "block_label", "source_sub_counts": [file_hash, count, ...]}` is an
MD5 of one hash block (512 bytes by default) of those files: triage's block sets key a 4 KiB
block by XXH3-64 and BLAKE2b-64 of its bytes, which no MD5 of it gives, so block lines are
counted in one warning, never imported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Optional

from ..problems import Problem
from ..textio import numbered_lines
from .base import Format, Item, register
from .fields import entries

_KEYS = ('{"file_hash"', '{"block_hash"')


def _first_record(text: str) -> Optional[str]:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    return None


@register
class HashdbJSON(Format):
    name = "hashdb-json"
    priority = 18       # before VICS: JSON too, but one object a line with hashdb's keys

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        first = _first_record(text)
        return first is not None and first.replace(" ", "").startswith(_KEYS)

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        blocks = 0
        with open(path, "rb") as raw:
            for number, line in numbered_lines(raw):
                text = line.strip()
                if not text or text.startswith("#"):
                    continue
                try:
                    record = json.loads(text)
                except ValueError:
                    yield number, Problem(number, "not a JSON object")
                    continue
                if not isinstance(record, dict):
                    yield number, Problem(number, "not a JSON object")
                elif "block_hash" in record:
                    blocks += 1
                elif "file_hash" in record:
                    if signal not in (None, "md5"):
                        continue
                    yield from _source(number, record)
                else:
                    yield number, Problem(number, "neither a file_hash nor a block_hash record")
        if blocks:
            yield "", Problem("", f"{blocks:,} block hash record(s) not imported: they are MD5s "
                                  f"of hash blocks (hashdb), and triage's block sets key a 4 KiB "
                                  f"block by XXH3-64 and BLAKE2b-64 of its bytes, which an MD5 "
                                  f"cannot give", code="unsupported", severity="warning")


def _source(number: int, record: dict) -> Iterator[Item]:
    pairs = record.get("name_pairs")
    name = None
    if isinstance(pairs, list) and len(pairs) >= 2 and isinstance(pairs[1], str):
        name = pairs[1]
    value = record["file_hash"]
    if not isinstance(value, str):
        yield number, Problem(number, "file_hash is not text")
        return
    size = record.get("filesize")
    if size is not None and not isinstance(size, (int, str)):
        yield number, Problem(number, "size is not a whole number of bytes")
        size = None
    yield from entries(number, {"md5": value}, size=size, name=name)
