"""Turning the fields of one source record into SetEntry values: shared by every reader so a
hash, a size or a column name means the same thing in every format."""

from __future__ import annotations

import re
from typing import Dict, Iterator, Optional

from ... import signals
from ...records import SetEntry
from ..problems import Problem
from .. import categories
from .base import Item

_SEPARATORS = re.compile(r"[\s_\-./()]+")

# Column and key spellings seen in real exports, normalised (lower case, no separators).
FIELD_ALIASES = {
    "size": "size", "filesize": "size", "mediasize": "size", "bytes": "size", "length": "size",
    "category": "category", "cat": "category", "grade": "category", "caidcategory": "category",
    "series": "series", "seriesname": "series",
    "name": "name", "filename": "name", "file": "name", "path": "name", "filepath": "name",
    "id": "id", "mediaid": "id",
    "quality": "quality", "pdqquality": "quality",
}
SIGNAL_ALIASES = {"sha2": "sha256", "sha2256": "sha256"}
SIZE_LIMIT = 1 << 63


def normalise(header: str) -> str:
    return _SEPARATORS.sub("", header.strip().strip('"').lower())


def signal_of(header: str) -> Optional[str]:
    """The registered signal a column or algorithm name stands for ("SHA-1" -> "sha1")."""
    key = normalise(header)
    key = SIGNAL_ALIASES.get(key, key)
    return key if key in signals.SIGNALS else None


def field_of(header: str) -> Optional[str]:
    return signal_of(header) or FIELD_ALIASES.get(normalise(header))


def parse_size(text) -> Optional[int]:
    """A file size from an int or a string; None when blank; ValueError when not a size."""
    if text is None or text == "":
        return None
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    elif not isinstance(text, str):
        raise ValueError("size is not a whole number of bytes")
    else:
        digits = text.strip()
        if not digits:
            return None
        if not (digits.isascii() and digits.isdigit()):     # "²".isdigit() is true
            raise ValueError("size is not a whole number of bytes")
        if len(digits.lstrip("0")) > 19:
            raise ValueError("size out of range")
        value = int(digits)
    if value < 0 or value >= SIZE_LIMIT:
        raise ValueError("size out of range")
    return value


def source_id(value) -> Optional[str]:
    """A record's ID in its source as text (VICS MediaID is a number, an ID column text)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return categories.printable(str(value)).strip() or None


def parse_quality(text) -> Optional[int]:
    if isinstance(text, int) and not isinstance(text, bool) and 0 <= text <= 100:
        return text
    value = text.strip() if isinstance(text, str) else None
    if value == "":
        return None
    if not (value and value.isascii() and value.isdigit() and len(value) < 4
            and int(value) <= 100):
        raise ValueError("quality must be a whole number from 0 to 100")
    return int(value)


def entries(where: str, values: Dict[str, str], *, size=None, category=None, series=None,
            name=None, quality=None, id=None) -> Iterator[Item]:
    """One SetEntry per signal value of a record, or a Problem for each value that is not one.
    `size` and `quality` may be raw text; they are parsed here so every format words the same.
    This runs once per record of multi-million-record sets, hence the plain code."""
    if size.__class__ is str and size.isascii() and size.isdigit() and len(size) < 19:
        size = int(size)
    elif size is not None and (size.__class__ is not int or not 0 <= size < SIZE_LIMIT):
        try:
            size = parse_size(size)
        except ValueError as exc:
            yield where, Problem(where, str(exc))
            size = None
    if quality is not None:
        try:
            quality = parse_quality(quality)
        except ValueError as exc:
            yield where, Problem(where, str(exc))
            quality = None
    try:
        category = categories.label(category)
    except ValueError as exc:
        yield where, Problem(where, str(exc))
        category = None
    if isinstance(series, str):
        series = categories.printable(series).strip() or None
    else:
        series = None
    if name.__class__ is not str:      # a database or JSON may hold a number or bytes here
        name = None
    if id is not None:
        id = source_id(id)
    for signal, text in values.items():
        if text is None:
            continue
        cls = signals.SIGNALS[signal]
        try:
            value = cls.parse(text if isinstance(text, str) else str(text))
        except ValueError as exc:
            if isinstance(text, str) and not text.strip():
                continue
            yield where, Problem(where, str(exc))
            continue
        yield where, SetEntry(signal, value, category, series, size, name,
                              quality if cls.kind == "perceptual" else cls.quality_of(value),
                              id)
