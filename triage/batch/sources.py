"""What a batch scans: the SOURCES given, resolved into evidence items.

A source is an evidence item (any file or device `triage scan` reads), a folder of evidence
items (each found by content, in name order, subfolders included: E01 and split raw sets by
their first segment, raw images, ...; other files are listed as skipped), or a CSV manifest
(`path,evidence_id,notes`, optional `kind` = `folder` to scan a folder as one tree, optional
`credential_file`). A manifest is told by content: text whose first line is a header naming a
`path` column.

Each item gets an evidence id, which is also the name of its folder in the case: the manifest's,
or the item's file name, made unique by `-2`, `-3`, ... . Bad input (a missing path, a bad
manifest row) is one error naming the place, before any scan starts."""

from __future__ import annotations

import csv
import io
import os
import stat
from dataclasses import asdict, dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Set

from ..errors import EvidenceError, TriageError
from ..evidence import open_evidence
from ..evidence.folder import regular_files
from ..records import ScanError
from ..safetext import path_text, visible

COLUMNS = ("path", "evidence_id", "notes", "kind", "credential_file")
KINDS = ("", "folder")
# Names in the case folder that are the case's own, not an item's.
RESERVED = ("case.json", "case.html", "case.csv", "manifest.json", "batch.json", "sets")
MAX_ID_BYTES = 200
_SNIFF = 64 << 10


@dataclass
class Item:
    path: str                              # absolute
    evidence_id: str
    source: str                            # what named it: an argument, MANIFEST:LINE, a folder
    notes: Optional[str] = None
    kind: Optional[str] = None             # "folder": a folder scanned as one tree
    credential_file: Optional[str] = None  # absolute; never read here beyond a check
    explicit_id: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Found:
    items: List[Item] = field(default_factory=list)
    skipped: List[dict] = field(default_factory=list)   # {"path", "reason"}: not evidence
    folders: List[str] = field(default_factory=list)    # every folder read: never written to


def resolve(sources: Sequence[str]) -> Found:
    found = Found()
    for source in sources:
        path = os.path.abspath(source)
        try:
            st = os.stat(path)
        except OSError as exc:
            raise TriageError(f"{source}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(st.st_mode):
            _folder_of_items(path, source, {}, found)
        elif stat.S_ISREG(st.st_mode) and _is_manifest(path):
            _manifest(path, found)
        else:
            found.items.append(Item(path, "", source))
    _check_distinct(found.items)
    assign_ids(found.items)
    return found


# --- folders of evidence items -----------------------------------------------------------------

def _folder_of_items(folder: str, source: str, extra: dict, found: Found) -> None:
    """Every evidence item in `folder`, found by content; the other segments of a set are
    part of its first, and files that are no disk image are listed as skipped."""
    claimed: Set[str] = set()
    found.folders.append(folder)
    for path in _files(folder):
        if os.path.realpath(path) in claimed:
            continue
        try:
            with open_evidence(path) as ev:
                kind, segments = ev.kind, ev.segments
        except EvidenceError as exc:
            found.skipped.append({"path": path_text(path), "reason": _reason(exc, path)})
            continue
        if kind == "file":   # a loose picture or video beside the images
            found.skipped.append({"path": path_text(path), "reason": "a loose picture or "
                                  "video, not a disk image (scan its folder with kind=folder)"})
            continue
        claimed.update(os.path.realpath(s) for s in segments)
        found.items.append(Item(path, "", f"{source} (folder)", **extra))


def _files(folder: str) -> Iterator[str]:
    """Regular files under `folder`, as a scan of it lists them (names sorted in each folder,
    symlinks not followed); a part that cannot be listed stops the batch, named."""
    for item in regular_files(folder):
        if isinstance(item, ScanError):
            raise TriageError(f"{path_text(folder)}{item.path}: {item.reason}")
        yield item[0]


def _reason(exc: EvidenceError, path: str) -> str:
    text = str(exc)
    return text[len(path) + 2:] if text.startswith(path + ": ") else text


# --- manifests -------------------------------------------------------------------------------

def _is_manifest(path: str) -> bool:
    """Text whose first line is a CSV header naming a `path` column. A .csv file that is not
    one is an error rather than an evidence item: it was surely meant as a manifest."""
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF)
    except OSError as exc:
        raise TriageError(f"{path_text(path)}: {exc.strerror or exc}") from None
    first = head.split(b"\n", 1)[0]
    header = None
    if b"\0" not in first:
        try:
            header = _header(next(csv.reader([first.decode("utf-8-sig").rstrip("\r")])))
        except (UnicodeDecodeError, StopIteration, csv.Error):
            header = None
    if header and "path" in header:
        return True
    if path.lower().endswith(".csv"):
        raise TriageError(f"{path_text(path)}:1: not a batch manifest: its first line must be "
                          f"a header with a 'path' column ({', '.join(COLUMNS)})")
    return False


def _header(fields) -> List[str]:
    return [f.strip().lower() for f in fields]


def _manifest(path: str, found: Found) -> None:
    shown = path_text(path)
    base = os.path.dirname(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except UnicodeDecodeError as exc:
        raise TriageError(f"{shown}: not UTF-8 text (byte {exc.start:,})") from None
    except OSError as exc:
        raise TriageError(f"{shown}: {exc.strerror or exc}") from None
    reader = csv.reader(io.StringIO(text))
    try:
        columns = _header(next(reader))
        unknown = [c for c in columns if c not in COLUMNS]
        if unknown:
            raise TriageError(f"{shown}:1: unknown column {visible(unknown[0])!r} (known: "
                              f"{', '.join(COLUMNS)})")
        if len(set(columns)) != len(columns):
            raise TriageError(f"{shown}:1: a column is named twice")
        for fields in reader:
            where = f"{shown}:{reader.line_num}"
            if not any(f.strip() for f in fields):
                continue
            if len(fields) > len(columns):
                raise TriageError(f"{where}: {len(fields)} fields, but the header names "
                                  f"{len(columns)}")
            row = dict(zip(columns, (f.strip() for f in fields)))
            _row(row, base, where, found)
    except csv.Error as exc:
        raise TriageError(f"{shown}:{reader.line_num}: {exc}") from None


def _row(row: Dict[str, str], base: str, where: str, found: Found) -> None:
    if not row.get("path"):
        raise TriageError(f"{where}: no path")
    path = os.path.join(base, row["path"])
    kind = row.get("kind", "").lower()
    if kind not in KINDS:
        raise TriageError(f"{where}: kind {visible(row['kind'])!r} is not one of: folder "
                          f"(or empty)")
    try:
        st = os.stat(path)
    except OSError as exc:
        raise TriageError(f"{where}: {path_text(row['path'])}: {exc.strerror or exc}") from None
    credential = row.get("credential_file") or None
    if credential:
        credential = _credential_file(os.path.join(base, credential), where)
    extra = {"notes": row.get("notes") or None, "credential_file": credential}
    evidence_id = row.get("evidence_id") or ""
    if kind == "folder":
        if not stat.S_ISDIR(st.st_mode):
            raise TriageError(f"{where}: kind folder, but {path_text(row['path'])} is not a "
                              f"folder")
        found.items.append(Item(path, evidence_id, where, kind="folder", **extra,
                                explicit_id=bool(evidence_id)))
        found.folders.append(path)
    elif stat.S_ISDIR(st.st_mode):
        if evidence_id:
            raise TriageError(f"{where}: {path_text(row['path'])} is a folder of evidence "
                              f"items, which take their own ids; give kind=folder to scan it "
                              f"as one tree under this id")
        _folder_of_items(path, where, extra, found)
    else:
        found.items.append(Item(path, evidence_id, where, **extra,
                                explicit_id=bool(evidence_id)))
    if evidence_id:
        check_id(evidence_id, where)


def _credential_file(path: str, where: str) -> str:
    """A file of credentials must be there and readable; its content is the evidence layer's
    to read, never this module's."""
    try:
        with open(path, "rb"):
            pass
        if not os.path.isfile(path):
            raise IsADirectoryError(21, "not a regular file")
    except OSError as exc:
        raise TriageError(f"{where}: credential file {path_text(path)}: "
                          f"{exc.strerror or exc}") from None
    return path


# --- evidence ids ------------------------------------------------------------------------------

def check_id(evidence_id: str, where: str) -> None:
    """An id given is also a folder name: one plain name, not one of the case's own."""
    problem = None
    if evidence_id in (".", "..") or any(c in evidence_id for c in "/\\\0"):
        problem = "must be a plain name (no / or \\, not . or ..)"
    elif visible(evidence_id) != evidence_id:
        problem = "holds control or invisible characters"
    elif len(evidence_id.encode("utf-8", "surrogateescape")) > MAX_ID_BYTES:
        problem = f"is longer than {MAX_ID_BYTES} bytes"
    elif evidence_id.casefold() in RESERVED:
        problem = "is the name of one of the case's own files"
    if problem:
        raise TriageError(f"{where}: evidence_id {visible(evidence_id)!r} {problem}")


def assign_ids(items: List[Item]) -> None:
    """Ids given are kept (and must be unique); the others are the item's file name, with
    `-2`, `-3`, ... where that is taken (compared case-insensitively, so the case folder can
    be copied to any file system)."""
    taken: Dict[str, Item] = {}
    for item in items:
        if item.explicit_id:
            other = taken.get(item.evidence_id.casefold())
            if other is not None:
                raise TriageError(f"{item.source}: evidence_id {visible(item.evidence_id)!r} "
                                  f"is also given at {other.source}")
            taken[item.evidence_id.casefold()] = item
    for item in items:
        if item.explicit_id:
            continue
        name = os.path.basename(item.path.rstrip(os.sep)) or "evidence"
        candidate, n = name, 1
        while candidate.casefold() in taken or candidate.casefold() in RESERVED:
            n += 1
            candidate = f"{name}-{n}"
        item.evidence_id = candidate
        taken[candidate.casefold()] = item


def _check_distinct(items: List[Item]) -> None:
    seen: Dict[tuple, Item] = {}
    for item in items:
        key = (os.path.realpath(item.path), item.kind)
        if key in seen:
            raise TriageError(f"{path_text(item.path)}: given twice ({seen[key].source} and "
                              f"{item.source})")
        seen[key] = item
