"""The one registry every pluggable family uses (signals, hash-set formats, reporters,
containers): a name maps to one entry, and registering a name twice is a programming error
caught at import time, never a silent replacement."""

from __future__ import annotations

from typing import Callable, Dict, Generic, Iterator, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """An ordered name -> entry mapping that refuses duplicates."""

    def __init__(self, family: str):
        self.family = family
        self._entries: Dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.family} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def register(self, name_of: Callable[[T], str] = lambda entry: entry.name):
        """A decorator registering a class (or any object) under `name_of(entry)`."""
        def wrap(entry: T) -> T:
            return self.add(name_of(entry), entry)
        return wrap

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def get(self, name: str, default=None):
        return self._entries.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self):
        return self._entries.items()

    def values(self):
        return self._entries.values()

    def keys(self):
        return self._entries.keys()
