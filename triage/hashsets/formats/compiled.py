"""A compiled triage set read back as a source, so sets can be merged, validated and diffed
with the same code as any other format."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional

from .. import store
from .base import Format, Item, register


@register
class Compiled(Format):
    name = "triage"
    priority = 0

    @classmethod
    def sniff(cls, path: Path, head: bytes, text: str) -> bool:
        return store.is_store(head)

    @classmethod
    def describe(cls, path: Path) -> dict:
        from ..hashset import HashSet
        with HashSet(path) as hs:
            info = hs.info
            return {"name": info.name, "version": info.version, "kind": info.kind,
                    "scheme": info.category_scheme, "fingerprinted": info.fingerprinted}

    @classmethod
    def read(cls, path: Path, signal: Optional[str] = None) -> Iterator[Item]:
        from ..hashset import HashSet
        with HashSet(path) as hs:
            for number, entry in enumerate(hs.iter_entries(), 1):
                yield f"entry {number}", entry
