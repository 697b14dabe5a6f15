"""Validate a set (compiled or source) before it ships: every finding has a severity, a code,
where it is and how many values it concerns. Source sets are compiled in a temporary store
first, so the same vectorised checks run on both; reader problems keep their line numbers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List, Optional

import numpy as np

from .. import signals
from . import load
from .hashset import HashSet

EXAMPLES = 5
LOW_QUALITY = 50


@dataclass
class Finding:
    severity: str                 # "error" | "warning"
    code: str
    file: str
    message: str
    where: Optional[str] = None   # line, record or row in the source
    signal: Optional[str] = None
    count: int = 1
    examples: List[str] = field(default_factory=list)   # hash values, never file content

    def line(self) -> str:
        at = f"{self.file}:{self.where}" if self.where else self.file
        return f"{at}: {self.severity}: {self.message}"

    def to_dict(self) -> dict:
        return asdict(self)


def validate(path, known_good: Optional[HashSet] = None, progress: bool = False
             ) -> List[Finding]:
    """Findings for one set. Raises HashSetError when it cannot be read at all. `progress`:
    a bar while a source file is read (on a terminal)."""
    path = Path(path)
    problems: List[tuple] = []
    with load(path, on_problem=lambda source, problem: problems.append((source, problem)),
              progress=progress) as hs:
        # Each problem names the file it is in (an .hke's problems are its .hsh's).
        findings = [Finding(p.severity, p.code, str(source), p.reason, str(p.where) or None)
                    for source, p in problems]
        info = hs.info
        if not problems and info.problems:        # a compiled set remembers its import
            skipped = f" ({info.skipped:,} of {info.records:,} records skipped)" \
                if info.records else ""
            findings.append(Finding("warning", "malformed", str(path),
                                    f"{info.problems} problem(s) in the sources when this set "
                                    f"was imported{skipped}", count=info.problems))
        findings += check(hs, str(path), known_good)
    return findings


def check(hs: HashSet, file: str, known_good: Optional[HashSet] = None) -> List[Finding]:
    findings = []
    for signal in sorted(hs.signals):
        stats = hs.info.stats.get(signal, {})
        # A video's frames repeat their hash wherever its scene stands still: not a duplicate.
        if stats.get("duplicate_values") and signals.get(signal).kind != "video":
            n = stats["duplicate_values"]
            findings.append(Finding("warning", "duplicate", file,
                                    f"{n} {signal} value(s) listed more than once", None,
                                    signal, n, stats.get("duplicate_examples", [])))
        findings += _conflicts(hs, file, signal)
        findings += _trivial(hs, file, signal)
        if known_good is not None and signal in known_good.signals:
            findings += _known_good(hs, file, signal, known_good)
    return findings


def _conflicts(hs: HashSet, file: str, signal: str) -> List[Finding]:
    codes = hs.column(signal, "category")
    if codes is None or hs.rows(signal) < 2:
        return []
    keys = hs.vectors(signal)
    same_key = np.all(keys[1:] == keys[:-1], axis=1)
    differs = same_key & (codes[1:] != codes[:-1])
    rows = np.flatnonzero(differs) + 1
    if not len(rows):
        return []
    distinct = np.unique(keys[rows], axis=0)
    examples = [bytes(k).hex() for k in distinct[:EXAMPLES]]
    return [Finding("error", "conflicting-category", file,
                    f"{len(distinct)} {signal} value(s) listed under conflicting categories",
                    None, signal, len(distinct), examples)]


def _degenerate(value: str) -> bool:
    return set(value) <= {"0"} or set(value) <= {"f"}


def _trivial(hs: HashSet, file: str, signal: str) -> List[Finding]:
    cls = signals.get(signal)
    findings = []
    if cls.trivial and cls.hex_length:
        found = hs.lookup(signal, [bytes.fromhex(v) for v in sorted(cls.trivial)])
        values = sorted({e.value for hits in found for e in hits})
        if values:
            findings.append(Finding("error", "trivial", file,
                                    f"{len(values)} trivial {signal} value(s) (empty file or "
                                    "all-zero block): they match countless innocent files",
                                    None, signal, len(values), values[:EXAMPLES]))
    if cls.kind == "perceptual":
        keys = hs.vectors(signal)
        flat = np.all(keys == 0, axis=1) | np.all(keys == 0xFF, axis=1)
        if flat.any():
            values = sorted({bytes(k).hex() for k in keys[flat]})
            findings.append(Finding("error", "degenerate", file,
                                    f"{len(values)} degenerate {signal} value(s) (all zeros or "
                                    "all ones)", None, signal, len(values), values[:EXAMPLES]))
        quality = hs.column(signal, "quality")
        if quality is not None:
            low = (quality < LOW_QUALITY)
            if low.any():
                rows = np.flatnonzero(low)
                values = [e.value for e in hs.entries(signal, rows[:EXAMPLES])]
                findings.append(Finding("warning", "low-quality", file,
                                        f"{len(rows)} {signal} value(s) with quality below "
                                        f"{LOW_QUALITY}", None, signal, int(len(rows)), values))
    return findings


def _known_good(hs: HashSet, file: str, signal: str, known_good: HashSet) -> List[Finding]:
    keys = hs.vectors(signal)
    query, _ = known_good.find_categories(signal, keys)    # a sealed known-good set too
    rows = np.unique(query)
    if not len(rows):
        return []
    distinct = np.unique(keys[rows], axis=0)
    return [Finding("warning", "known-good", file,
                    f"{len(distinct)} {signal} value(s) are also in the known-good set "
                    f"{known_good.info.name}", None, signal, len(distinct),
                    [bytes(k).hex() for k in distinct[:EXAMPLES]])]
