"""Project VIC VICS JSON: 1.x (`odata.metadata` ending DataModels/1.x.xml) and 2.0
(`@odata.context`), both the hash-set shape (`value[]` of Media) and the case-export shape
(`value[].Media[]`). Streamed with ijson, one Media record at a time, so multi-GB exports never
sit in memory. NIST's NSRL-CAID files are VICS 1.2 with Category 8 = known-good."""

from __future__ import annotations

import re
from pathlib import Path
from typing import BinaryIO, Iterator, Optional

import ijson

from ...errors import HashSetError
from ..problems import Problem
from ..textio import encoding_of, text_reader
from .base import Format, Item, register
from .fields import entries, signal_of

_MARK = re.compile(rb'"(?:odata\.metadata|@odata\.context)"\s*:')
HASHSET = "value.item"
CASE = "value.item.Media.item"


def _open(path: Path) -> BinaryIO:
    raw = open(path, "rb")
    head = raw.peek(4)[:4]
    if encoding_of(head).startswith("utf-16"):
        return text_reader(raw)          # ijson re-encodes text streams itself
    if head.startswith(b"\xef\xbb\xbf"):
        raw.read(3)
    return raw


def records_prefix(path: Path) -> str:
    """Which shape this file has, from its first record only."""
    with _open(path) as f:
        try:
            for prefix, event, _ in ijson.parse(f):
                if prefix == "value.item.Media" and event == "start_array":
                    return CASE
                if prefix == "value.item" and event == "end_map":
                    return HASHSET
                if prefix == "value" and event == "end_array":
                    return HASHSET
        except ijson.JSONError as exc:
            raise HashSetError(f"{path}: invalid JSON: {exc}") from None
    raise HashSetError(f"{path}: VICS JSON without a value array")


def record_entries(where: str, media: dict) -> Iterator[Item]:
    fields = {k.lower(): v for k, v in media.items() if isinstance(k, str)}
    values = {}
    quality = None
    for key, value in fields.items():
        signal = signal_of(key)
        if signal and isinstance(value, str):
            values[signal] = value
    for alt in fields.get("alternativehashes") or []:
        if not isinstance(alt, dict):
            continue
        alt = {k.lower(): v for k, v in alt.items()}
        kind, value = str(alt.get("hashname") or ""), alt.get("hashvalue")
        signal = signal_of(kind)
        if signal is None:
            yield where, Problem(where, f"alternative hash {kind!r} is not supported",
                                 "unsupported", "warning")
        elif isinstance(value, str):
            values.setdefault(signal, value)
            quality = alt.get("quality", quality)
    if not values:
        yield where, Problem(where, "record has no hash")
        return
    name = fields.get("filename")
    files = fields.get("mediafiles")
    if not name and isinstance(files, list) and files and isinstance(files[0], dict):
        name = files[0].get("FileName")
    size = fields.get("mediasize")
    if size is None or size == "":
        yield where, Problem(where, "MediaSize missing", "missing-size", "warning")
    yield from entries(where, values, size=size, category=fields.get("category"),
                       series=fields.get("series") if isinstance(fields.get("series"), str)
                       else None, name=name if isinstance(name, str) else None,
                       quality=quality, id=_media_id(fields))


def _media_id(fields: dict):
    """The record's MediaID (or ID). NIST's NSRL-CAID files give every record MediaID 0: that
    identifies nothing, so 0 is no ID."""
    found = fields.get("mediaid", fields.get("id"))
    return None if found in (0, "0") else found


@register
class Vics(Format):
    name = "vics"
    priority = 20
    scheme = "vics"

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        if not text.lstrip().startswith("{"):
            return False
        encoding = encoding_of(head)
        probe = head if encoding.startswith("utf-8") else text.encode("utf-8")
        return bool(_MARK.search(probe))

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        prefix = records_prefix(path)
        number = 0
        with _open(path) as f:
            try:
                for number, media in enumerate(ijson.items(f, prefix, use_float=True), 1):
                    where = f"record {number}"
                    if not isinstance(media, dict):
                        yield where, Problem(where, "record is not an object")
                        continue
                    yield from record_entries(where, media)
            except ijson.JSONError as exc:
                where = f"record {number + 1}"
                yield where, Problem(where, f"invalid JSON, reading stopped: {exc}")
