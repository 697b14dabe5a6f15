"""Project VIC VICS JSON: 1.x (`odata.metadata` ending DataModels/1.x.xml) and 2.0
(`@odata.context`), both the hash-set shape (`value[]` of Media) and the case-export shape
(`value[].Media[]`). NIST's NSRL-CAID files are VICS 1.2 with Category 8 = known-good.

The file streams through jsonstream.Splitter, which finds each Media record's bytes within its
bounds (depth, record size) without parsing; msgspec then parses a whole chunk's records in one
call. A record that is not valid JSON is that record's problem (with its line and column) and
the rest is read; a broken structure stops the source with one line. `read_bulk` turns clean
runs of records into Columns (no Python object per entry), exactly as `read` would give them."""

from __future__ import annotations

import codecs
import json
import re
from itertools import repeat
from operator import attrgetter
from pathlib import Path
from typing import Any, BinaryIO, Iterator, List, Optional, Tuple, Union

import msgspec
import numpy as np

from .. import categories
from ..compile import NONE_SIZE
from ..problems import Problem
from ..textio import encoding_of, text_reader
from ...signals.vpdq import VPDQ
from . import blocks
from .base import Columns, Format, Item, register
from .fields import SIZE_LIMIT, entries, signal_of, source_id
from .jsonstream import Batch, Splitter

_MARK = re.compile(rb'"(?:odata\.metadata|@odata\.context)"\s*:')
_WS = b" \t\r\n"


class _Utf8:
    """A UTF-16 source re-encoded as UTF-8 as it is read (the splitter reads bytes)."""

    def __init__(self, raw: BinaryIO):
        self._text = text_reader(raw)

    def read(self, size: int) -> bytes:
        return self._text.read(size // 2).encode("utf-8", "surrogatepass")

    def close(self) -> None:
        self._text.close()

    def __enter__(self) -> "_Utf8":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open(path: Path):
    raw = open(path, "rb")
    head = raw.peek(4)[:4]
    if encoding_of(head).startswith("utf-16"):
        return _Utf8(raw)
    if head.startswith(codecs.BOM_UTF8):
        raw.read(3)
    return raw


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _one(batch: Batch, start: int, end: int, where: str):
    """One record's value, or a Problem saying where its JSON goes wrong (never what it says).
    msgspec refuses a few things JSON allows (a lone surrogate escape, a number past 64 bits);
    Python's parser takes those."""
    raw = batch.data[start:end]
    try:
        return _GENERIC.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        pass
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        at = start + len(text[:exc.pos].encode("utf-8", "surrogatepass"))
        return Problem(where, f"invalid JSON at {batch.position.text(at)}: {exc.msg}")
    except ValueError as exc:          # NaN, Infinity, a number of thousands of digits
        reason = str(exc) if "JSON number" in str(exc) else "a number too long to read"
        return Problem(where, f"invalid JSON in the record at "
                              f"{batch.position.text(start)}: {reason}")


def parse(batch: Batch) -> Tuple[list, List[Tuple[str, object]]]:
    """(the batch's records, problems between them). Records come back as parsed values or,
    for a record whose JSON is bad, a Problem. One msgspec call for the whole batch when it is
    sound; record by record otherwise."""
    count = len(batch.spans)
    try:
        found = _GENERIC.decode(b"[" + batch.region() + b"]")
    except (msgspec.DecodeError, msgspec.ValidationError):
        found = None
    if found is not None and len(found) == count:
        return found, []
    records, between = [], []
    spans = batch.spans.tolist()
    for i, (start, end) in enumerate(spans):
        number = batch.first + i
        if i:
            gap = batch.data[spans[i - 1][1]:start]
            if gap.strip(_WS) != b",":
                at = spans[i - 1][1] + len(gap) - len(gap.lstrip(_WS))
                between.append((number, Problem("", "something other than a record between "
                                                f"records at {batch.position.text(at)}")))
        records.append(_one(batch, start, end, f"record {number}"))
    return records, between


def _name(name, files):
    if not name and isinstance(files, list) and files and isinstance(files[0], dict):
        name = files[0].get("FileName")
    return name if isinstance(name, str) else None


def record_entries(where: str, media) -> Iterator[Item]:
    if isinstance(media, Problem):
        yield where, media
        return
    if not isinstance(media, dict):
        yield where, Problem(where, "record is not an object")
        return
    fields = {k.lower(): v for k, v in media.items()}
    values = {}
    quality = None
    for key, value in fields.items():
        signal = signal_of(key)
        if signal and isinstance(value, str):
            values[signal] = value
    alternatives = fields.get("alternativehashes")
    for alt in alternatives if isinstance(alternatives, list) else []:
        if not isinstance(alt, dict):
            continue
        alt = {k.lower(): v for k, v in alt.items()}
        kind, value = alt.get("hashname"), alt.get("hashvalue")
        signal = signal_of(kind) if isinstance(kind, str) else None
        if signal is None:
            yield where, Problem(where, "alternative hash of a kind triage does not read",
                                 "unsupported", "warning")
        elif isinstance(value, str):
            values.setdefault(signal, value)
            quality = alt.get("quality", quality)
    video = values.pop("vpdq", None)
    if not values and video is None:
        yield where, Problem(where, "record has no hash")
        return
    size = fields.get("mediasize")
    if size is None or size == "":
        yield where, Problem(where, "MediaSize missing", "missing-size", "warning")
    series = fields.get("series")
    facts = dict(size=size, category=fields.get("category"),
                 series=series if isinstance(series, str) else None,
                 name=_name(fields.get("filename"), fields.get("mediafiles")),
                 id=media_id(fields.get("mediaid", fields.get("id"))))
    if values:
        yield from entries(where, values, quality=quality, **facts)
    if video is not None:
        yield from video_entries(where, video, facts)


def video_entries(where: str, text: str, facts: dict) -> Iterator[Item]:
    """A video's vPDQ hash carried as an AlternativeHash (HashName "vPDQ", HashValue its
    vPDQ text, frames separated by new lines or semicolons): one entry per frame, all under
    the record's MediaID (or, without one, the digest of the vPDQ text)."""
    from ...scanners.video import reference_id
    frames = [line.strip() for line in text.replace(";", "\n").splitlines() if line.strip()]
    good = []
    for line in frames:
        try:
            good.append(VPDQ.parse(line))
        except ValueError as exc:
            yield where, Problem(where, str(exc))
    if facts["id"] is None and good:
        facts = dict(facts, id=reference_id(good))
    for line in good:
        yield from entries(where, {"vpdq": line}, **facts)


def media_id(found):
    """A record's MediaID (or ID) as its ID. NIST's NSRL-CAID files give every record MediaID 0:
    that identifies nothing, so 0 is no ID."""
    if isinstance(found, bool) or not isinstance(found, (str, int, float)) or found in (0, "0"):
        return None
    return source_id(found)


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
        return _read(path, bulk=False)

    @classmethod
    def read_bulk(cls, path: Path, signal: Optional[str] = None) -> Iterator[Union[Item, Columns]]:
        return _read(path, bulk=True)


def _read(path: Path, bulk: bool) -> Iterator[Union[Item, Columns]]:
    with _open(path) as stream:
        for part in Splitter(stream):
            if isinstance(part, Problem):
                yield part.where, part
                continue
            columns = typed_columns(part) if bulk else None
            if columns is not None:
                yield columns
                continue
            records, between = parse(part)
            columns = columns_of(records, part.first) if bulk and not between else None
            if columns is not None:
                yield columns
                continue
            gaps = iter(between)
            gap = next(gaps, None)
            for number, media in enumerate(records, part.first):
                while gap is not None and gap[0] == number:
                    yield "", gap[1]
                    gap = next(gaps, None)
                yield from record_entries(f"record {number}", media)


# -- the bulk path ------------------------------------------------------------------------------

_GENERIC = msgspec.json.Decoder()
ROLES = ("category", "mediasize", "series", "filename", "mediafiles", "mediaid", "id")
_NO_FILES = object()      # MediaFiles absent or unusable: the record's FileName stays as it is


class _File(msgspec.Struct, gc=False):
    FileName: Optional[str] = None


# gc=False: these hold only strings and numbers, never a cycle, and a million of them tracked
# by the cycle collector cost a third of the decoding.
class _Media(msgspec.Struct, forbid_unknown_fields=True, gc=False, rename={
        "odata_id": "odata.id", "odata_edit_link": "odata.editLink", "at_odata_id": "@odata.id",
        "files_link": "MediaFiles@odata.navigationLinkUrl"}):
    """A Media record as VICS spells it, for the typed fast path: only records whose every key
    is one of these, spelled so, with these types, are decoded this way (any other key or type
    is a ValidationError and the batch goes the generic way). So a variant spelling ("md5",
    "Sha-1") can never be missed: record_entries reads those."""

    MD5: Optional[str] = None
    SHA1: Optional[str] = None
    SHA256: Optional[str] = None
    MediaSize: Union[int, str, None] = None
    Category: Union[int, str, None] = None
    Series: Optional[str] = None
    FileName: Optional[str] = None
    MediaFiles: Optional[Tuple[_File, ...]] = None
    MediaID: Any = None           # kept as the entry's ID (media_id)
    # Read and ignored by record_entries: parsed as anything (no string is kept).
    IsPrecategorized: Any = None
    IsDistributed: Any = None
    VictimIdentified: Any = None
    OffenderIdentified: Any = None
    Tags: Any = None
    Comments: Any = None
    Exifs: Any = None
    SubCategories: Any = None
    odata_id: Any = None
    odata_edit_link: Any = None
    at_odata_id: Any = None
    files_link: Any = None


_TYPED = msgspec.json.Decoder(List[_Media])
_SIGNALS = (("md5", "MD5"), ("sha1", "SHA1"), ("sha256", "SHA256"))


def typed_columns(batch: Batch) -> Optional[Columns]:
    """The batch as Columns by the typed decoder, or None when a record does not fit it."""
    region = batch.region()
    try:
        media = _TYPED.decode(b"[" + region + b"]")
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    m = len(media)
    if m != len(batch.spans):
        return None
    # A key missing from the bytes is in no record (unless spelled with \u escapes): its
    # column is all None and need not be gathered.
    escaped = b"\\u" in region

    def column(name):
        if not escaped and b'"' + name.encode() + b'"' not in region:
            return None
        values = list(map(attrgetter(name), media))
        return None if values.count(None) == m else values

    hashes = {signal: column(field) for signal, field in _SIGNALS}
    files = column("MediaFiles")
    names = column("FileName")
    if files is not None:
        files = [f[0].FileName if f else _NO_FILES for f in files]
        if names is None:
            names, files = [f if f is not _NO_FILES else None for f in files], None
    return _assemble(m, batch.first, {k: v for k, v in hashes.items() if v is not None},
                     column("MediaSize") or [None] * m, column("Category") or [None] * m,
                     column("Series"), names, files, column("MediaID"))


def columns_of(records: list, first: int) -> Optional[Columns]:
    """The records as Columns when every one is a plain Media object that record_entries would
    read without an error (hex hashes of the bulk signals, whole sizes, plain categories, no
    AlternativeHashes); None otherwise, and the caller reads them one by one. Each column is
    gathered in one pass of C (map over dict.get), not a Python loop per record."""
    m = len(records)
    if not m or set(map(type, records)) != {dict}:
        return None
    keys = set().union(*records)
    lower = {k: k.lower() for k in keys}
    if len(set(lower.values())) != len(keys) or "alternativehashes" in lower.values():
        return None
    by_role = {}
    hashes = {}
    for key, low in lower.items():
        signal = signal_of(low)
        if signal:
            if signal in hashes or not blocks.hex_length(signal):
                return None
            hashes[signal] = key
        elif low in ROLES:
            by_role[low] = key

    def column(role_or_key):
        key = by_role.get(role_or_key, role_or_key)
        return list(map(dict.get, records, repeat(key, m))) if key in keys else None

    files = column("mediafiles")
    if files is not None:
        files = [f[0].get("FileName") if f.__class__ is list and f and f[0].__class__ is dict
                 else _NO_FILES for f in files]
    series = column("series")
    if series is not None:
        series = [x if x.__class__ is str else None for x in series]
    ids = column("mediaid") if "mediaid" in by_role else column("id")
    return _assemble(m, first, {signal: column(key) for signal, key in hashes.items()},
                     column("mediasize") or [None] * m, column("category") or [None] * m,
                     series, column("filename"), files, ids)


def _assemble(m: int, first: int, hashes: dict, sizes: list, category: list,
              series: Optional[list], names: Optional[list],
              file_names: Optional[list], ids: Optional[list] = None) -> Optional[Columns]:
    """Columns from per-record lists of raw values, read as record_entries reads them, or
    None when a value is one that record_entries would report (so the caller reads the
    records one by one and reports it). Missing sizes are record_entries' warnings, carried
    in the Columns."""
    if not hashes:
        return None
    digests, hashed = {}, np.zeros(m, bool)
    for signal, values in hashes.items():
        found = _digests(values, blocks.hex_length(signal))
        if found is None:
            return None
        keys, present = found
        if len(keys):
            digests[signal] = (keys, None if present.all() else np.flatnonzero(present))
        hashed |= present
    if not hashed.all():
        return None
    columns = Columns(m, digests)
    found = _sizes(sizes)
    if found is None:
        return None
    columns.size, missing = found
    columns.problems = [Problem(f"record {first + i}", "MediaSize missing", "missing-size",
                                "warning") for i in missing]
    labelled = _labels(category)
    if labelled is None:
        return None
    columns.labels, columns.category = labelled
    if series is not None:
        columns.series = [categories.printable(x).strip() or None if x is not None else None
                          for x in series]
    if file_names is not None:
        names = names or [None] * m
        names = [f if not n and f is not _NO_FILES else n for n, f in zip(names, file_names)]
    if names is not None:
        columns.name = [n if n.__class__ is str else None for n in names]
    if ids is not None:
        if set(map(type, ids)) <= {int, type(None)}:     # the common case, read in C
            columns.id = [str(i) if i else None for i in ids]
        else:
            columns.id = list(map(media_id, ids))
    return columns


def _digests(values: list, length: int):
    """(digests of the present values as uint8 rows, which rows have one), or None unless
    every value is absent, blank (record_entries skips those) or exactly `length` hex digits.
    Values that are not strings are ignored, as record_entries ignores them."""
    if set(map(type, values)) != {str}:
        values = [v if v.__class__ is str else "" for v in values]
    widths = np.fromiter(map(len, values), np.int64, len(values))
    present = widths > 0
    if (widths[present] != length).any():
        return None
    joined = "".join(values)
    if not joined.isascii():
        return None
    arr = np.frombuffer(joined.encode("ascii"), np.uint8)
    keys = blocks.hex_digests(arr, np.arange(0, len(arr), length), length)
    return None if keys is None else (keys, present)


def _sizes(values: list):
    """(uint64 sizes, NONE_SIZE where absent; the rows with none), or None unless each is a
    whole number of bytes (an int, or a string of 1-18 ASCII digits) or absent."""
    kinds = set(map(type, values))
    if kinds == {int}:
        try:
            sizes = np.array(values, np.int64)
        except OverflowError:
            return None
        return (None if len(sizes) and sizes.min() < 0 else sizes.astype(np.uint64)), []
    if not kinds <= {int, str, type(None)}:
        return None
    out = np.full(len(values), NONE_SIZE, np.uint64)
    missing, rows, numbers = [], [], []
    for i, v in enumerate(values):
        if v.__class__ is int:
            if not 0 <= v < SIZE_LIMIT:
                return None
        elif v:
            if not (v.isascii() and v.isdigit() and len(v) < 19):
                return None
            v = int(v)
        else:
            missing.append(i)
            continue
        numbers.append(v)
        rows.append(i)
    if numbers:
        out[rows] = np.array(numbers, np.uint64)
    return out, missing


def _labels(values: list):
    """(distinct normalised labels in order of first appearance, each record's index into
    them) as Columns wants them, or None when a value is neither an int, a string nor absent,
    or is no label."""
    kinds = set(map(type, values))
    if not kinds <= {int, str, type(None)}:        # bool, float, list, object
        return None
    if kinds == {int} and len(values):
        try:
            numbers = np.array(values, np.int64)
        except OverflowError:
            return None
        distinct, first, inverse = np.unique(numbers, return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return [str(v) for v in distinct[order].tolist()], rank[inverse.ravel()]
    index: dict = {}
    codes = [index.setdefault(v, len(index)) for v in values]
    try:
        labels = [categories.label(v) for v in index]
    except ValueError:
        return None
    return labels, np.array(codes, np.intp)
