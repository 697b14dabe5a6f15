"""Import: read any number of sources, whatever their formats, into one compiled set."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional

from .. import __version__
from ..errors import HashSetError
from ..hashing import chunks, digest_stream
from ..progress import progress_bar
from ..safetext import path_text
from ..records import ScanError, SetEntry
from . import categories, store
from .compile import Compiler
from .formats import detect
from .formats.base import Columns
from .problems import Problem, SourceError

ProblemSink = Callable[[Path, Problem], None]
KINDS = ("alert", "known-good")


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return digest_stream(chunks(f), ["sha256"])["sha256"]


def now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class Tally:
    """What reading sources gave: `records` read (lines, rows, JSON records that held
    anything: blanks, comments and headers are not records), `skipped` (records that gave no
    entry because of a problem), `problems` (malformed values and records, skipped or not)."""

    records: int = 0
    skipped: int = 0
    problems: int = 0
    _where: object = None
    _entry: bool = False
    _trouble: bool = False

    def entry(self, where) -> None:
        self._at(where)
        self._entry = True

    def problem(self, problem: Problem) -> None:
        self.note(problem)
        if problem.where != "":        # "" is the file as a whole, not one of its records
            self._at(problem.where)
            self._trouble = True

    def note(self, problem: Problem) -> None:
        """A problem that costs no record: a warning about a record a block holds whole."""
        self.problems += problem.severity == "error" or problem.code == "malformed"

    def block(self, rows: int) -> None:
        self.close()
        self.records += rows

    def close(self) -> None:
        if self._where is not None:
            self.records += 1
            self.skipped += self._trouble and not self._entry
        self._where, self._entry, self._trouble = None, False, False

    def _at(self, where) -> None:
        # A reader gives a record's items one after another, so a new place is a new record.
        if where != self._where:
            self.close()
            self._where = where


def read_into(compiler: Compiler, path: Path, fmt, *, signal=None, category=None,
              on_problem: Optional[ProblemSink] = None, progress=None,
              tally: Optional[Tally] = None) -> Tally:
    """Feed one source to the compiler; returns (or adds to) its tally. A source that cannot
    be read on (a bound passed, a broken structure) raises HashSetError naming the file."""
    tally = Tally() if tally is None else tally
    pending = 0
    try:
        for record in fmt.read_bulk(path, signal):
            if isinstance(record, Columns):
                pending += compiler.add_columns(record, category)
                tally.block(record.rows)
                for problem in record.problems:
                    tally.note(problem)
                    if on_problem is not None:
                        on_problem(path, problem)
            elif isinstance(record[1], SetEntry):
                item = record[1]
                if category is not None and item.category is None:
                    item = replace(item, category=category)
                compiler.add(item)
                tally.entry(record[0])
                pending += 1
            else:
                tally.problem(record[1])
                if on_problem is not None:
                    on_problem(path, record[1])
            if progress is not None and pending >= 65536:
                progress.update(pending)
                pending = 0
    except SourceError as exc:
        raise exc.at(path) from None
    tally.close()
    if progress is not None:
        progress.update(pending)
    return tally


def compile_sources(sources: Iterable, out, *, name: Optional[str] = None,
                    version: Optional[str] = None, kind: Optional[str] = None,
                    category: Optional[str] = None, scheme: Optional[str] = None,
                    signal: Optional[str] = None, thresholds: Optional[Dict[str, int]] = None,
                    on_problem: Optional[ProblemSink] = None, progress: bool = False) -> None:
    """Read every source and write one compiled set to `out`. A source that cannot be read
    at all raises HashSetError; a bad record is passed to `on_problem` and skipped."""
    if kind is not None and kind not in KINDS:
        raise HashSetError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    sources = [path for source in sources for path in _files(Path(source))]
    for source in sources:
        if _same_file(source, out):   # the compiled set would replace its own source
            raise HashSetError(f"{out}: is also a source; write the set to another file")
    compiler = Compiler()
    described: List[dict] = []
    records = []
    tally = Tally()
    with progress_bar(None if progress else False, desc="import", unit=" entries",
                      unit_scale=True) as bar:
        for source in sources:
            path = Path(source)
            fmt = detect(path)
            try:
                if fmt.source(path) != path:
                    path = fmt.source(path)
                    fmt = detect(path)
                facts = fmt.describe(path)
            except SourceError as exc:
                raise exc.at(path) from None
            facts.setdefault("kind", fmt.kind)
            facts.setdefault("scheme", fmt.scheme)
            described.append(facts)
            records.append({"path": path_text(str(path)), "sha256": sha256_of(path), "format": fmt.name})
            read_into(compiler, path, fmt, signal=signal, category=category,
                      on_problem=on_problem, progress=bar if progress else None, tally=tally)
    # sets merged keep their sub-file screening only when every reference file of every source
    # has its fingerprint: one without would be screened out unread
    write_set(compiler, out, described=described, sources=records, tally=tally,
              name=name, version=version, kind=kind, scheme=scheme, thresholds=thresholds,
              fingerprinted=bool(described) and all(f.get("fingerprinted") for f in described))


def _files(source: Path) -> List[Path]:
    """A source file, or every regular file under a source folder (a folder of vPDQ hash
    files, one a video), sorted, symlinks not followed; an empty folder is an error."""
    if not source.is_dir():
        return [source]
    from .build import walk
    found = []
    for item in walk(source):
        if isinstance(item, ScanError):
            raise HashSetError(f"{source}{item.path}: {item.reason}")
        found.append(item[0])
    if not found:
        raise HashSetError(f"{source}: an empty folder")
    return found


def _same_file(a: Path, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:   # either does not exist (yet): not the same file
        return False


def write_set(compiler: Compiler, out, *, described: List[dict], sources: List[dict],
              tally: "Tally", name=None, version=None, kind=None, scheme=None,
              thresholds=None, fingerprinted: bool = False) -> None:
    """Finish a compiler's columns and write them with the set's metadata. Set-level facts
    the caller does not give come from what the sources said (`described`) or their labels."""
    tally.close()
    specs, arrays = compiler.finish()
    labels = compiler.label_list()
    if scheme is None:
        fixed = [f["scheme"] for f in described if f.get("scheme")]
        scheme = categories.combine(fixed) if fixed else categories.detect(labels)
    if kind is None:
        by_nature = bool(described) and all(f.get("kind") == "known-good" for f in described)
        kind = "known-good" if by_nature or categories.is_known_good(scheme, labels) else "alert"
    names = [f.get("name") for f in described if f.get("name")]
    versions = [f.get("version") for f in described if f.get("version")]
    category_counts = _category_counts(arrays, specs, labels)
    info = {
        "name": name or (names[0] if len(names) == 1 else None)
                or (Path(sources[0]["path"]).stem if sources else "empty"),
        "version": version or (versions[0] if len(versions) == 1 else None),
        "kind": kind,
        "entries": sum(s["rows"] for s in specs.values()),
        "signals": {sig: s["distinct"] for sig, s in specs.items()},
        "categories": category_counts,
        "sources": sources,
        "imported": now(),
        "tool_version": __version__,
        "category_scheme": scheme,
        "thresholds": dict(thresholds or {}),
        "sized": {sig: s["sized"] for sig, s in specs.items()},
        "problems": tally.problems,
        "records": tally.records,
        "skipped": tally.skipped,
        "stats": {sig: s.pop("stats") for sig, s in specs.items()},
        "fingerprinted": fingerprinted,
    }
    store.write(out, {"info": info, "signals": specs, "labels": labels}, arrays)


def _category_counts(arrays, specs, labels) -> Dict[str, int]:
    import numpy as np
    counts: Dict[str, int] = {}
    for sig, spec in specs.items():
        codes = arrays.get(f"{sig}.category")
        if codes is None:
            continue
        for code, n in zip(*np.unique(codes, return_counts=True)):
            if code:
                label = labels[int(code) - 1]
                counts[label] = counts.get(label, 0) + int(n)
    return dict(sorted(counts.items()))
