"""The reader contract and the registry of source formats.

A format is a small class: `sniff` says from the first bytes whether a file is one of its own,
`read` streams `(where, SetEntry | Problem)` pairs without ever holding the file whole, and
`describe` gives what the file says about the set as a whole (kind, scheme, name)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Dict, Iterator, List, Optional, Tuple, Type, Union

from ...records import SetEntry
from ..problems import Problem

Item = Tuple[Union[str, int], Union[SetEntry, Problem]]


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
    def describe(cls, path: Path) -> dict:
        """Set-level facts the file carries: any of name, version, kind, scheme."""
        return {}


FORMATS: Dict[str, Type[Format]] = {}


def register(cls: Type[Format]) -> Type[Format]:
    FORMATS[cls.name] = cls
    return cls


def in_detection_order() -> List[Type[Format]]:
    return sorted(FORMATS.values(), key=lambda f: f.priority)
