"""The reader contract and the registry of source formats.

A format is a small class: `sniff` says from the first bytes whether a file is one of its own,
`read` streams `(where, SetEntry | Problem)` pairs without ever holding the file whole, and
`describe` gives what the file says about the set as a whole (kind, scheme, name).

Formats whose files run to millions of lines also offer `read_bulk`, which yields whole blocks
of clean lines as `Columns` (parsed with numpy, no Python object per record) and falls back to
`read`'s per-line items for any block it cannot parse cleanly, so problems keep their lines."""

from __future__ import annotations

from pathlib import Path
from dataclasses import dataclass, field
from typing import ClassVar, Dict, Iterator, List, Optional, Tuple, Type, Union

import numpy as np

from ...records import SetEntry
from ...registry import Registry
from ..problems import Problem

Item = Tuple[Union[str, int], Union[SetEntry, Problem]]


@dataclass
class Columns:
    """A block of source records, column by column: the entries they stand for are exactly
    those `read` would give for the same lines, in the same order (Compiler.add_columns)."""

    rows: int
    # signal -> (digests as uint8 rows (m, bytes), the record rows they come from, or None
    # when every record carries that signal)
    digests: Dict[str, Tuple[np.ndarray, Optional[np.ndarray]]]
    size: Optional[np.ndarray] = None         # uint64 per record, when the block has sizes
    labels: Optional[List[Optional[str]]] = None   # distinct normalised categories, first-seen order
    category: Optional[np.ndarray] = None     # per record: index into `labels`
    series: Optional[List[Optional[str]]] = None
    name: Optional[List[Optional[str]]] = None
    id: Optional[List[Optional[str]]] = None
    quality: Optional[np.ndarray] = None      # uint8 per record, 255 = none; perceptual signals only
    # Warnings about records the block holds whole (a missing size), as `read` gives them.
    problems: List[Problem] = field(default_factory=list)


class Format:
    name: ClassVar[str]
    kind: ClassVar[Optional[str]] = None      # "known-good" for sets that are so by nature
    scheme: ClassVar[Optional[str]] = None    # category scheme when the format fixes one
    # Detection order: binary magics first, self-describing text next, generic text last.
    priority: ClassVar[int] = 50

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        raise NotImplementedError

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        raise NotImplementedError

    @classmethod
    def read_bulk(cls, path: Path, signal: Optional[str] = None) -> Iterator[Union[Item, Columns]]:
        """What `read` gives, with runs of records as `Columns` where the format can."""
        return cls.read(path, signal)

    @classmethod
    def describe(cls, path: Path) -> dict:
        """Set-level facts the file carries: any of name, version, kind, scheme."""
        return {}

    @classmethod
    def source(cls, path: Path) -> Path:
        """The file that holds this source's records: itself, or (a description file such as
        HashKeeper's .hke) the file it describes, which is then read in its place."""
        return path


FORMATS: Registry[Type[Format]] = Registry("hash-set format")
register = FORMATS.register()


def in_detection_order() -> List[Type[Format]]:
    return sorted(FORMATS.values(), key=lambda f: f.priority)
