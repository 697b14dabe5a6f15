"""The signal registry: every kind of value a hash set can carry, and how to handle it.

Modelled on python-threatexchange's SignalType: each signal is a small class that says what it
applies to, how to validate a stored value, and how values compare. Everything else in triage
asks this registry instead of branching on signal names."""

from __future__ import annotations

import re
from typing import ClassVar, Dict, Type

_HEX = re.compile(r"[0-9a-f]+\Z")


class Signal:
    name: ClassVar[str]
    kind: ClassVar[str]            # "exact", "perceptual" or "opaque" (stored, never computed)
    hex_length: ClassVar[int] = 0  # hex characters of a value; 0 when not hex
    computable: ClassVar[bool] = True
    # Values so common they identify nothing (the empty file, an all-zero block, a flat image).
    trivial: ClassVar[frozenset] = frozenset()

    @classmethod
    def parse(cls, text: str) -> str:
        """Normalise a stored value to lower-case hex, or raise ValueError saying why not."""
        value = text.strip().lower()
        if len(value) != cls.hex_length:
            raise ValueError(
                f"{cls.name} must be {cls.hex_length} hex characters, got {len(value)}")
        if not _HEX.match(value):
            raise ValueError(f"{cls.name} value is not hexadecimal")
        return value

    @classmethod
    def is_valid(cls, text: str) -> bool:
        try:
            cls.parse(text)
        except ValueError:
            return False
        return True

    @classmethod
    def to_bytes(cls, value: str) -> bytes:
        return bytes.fromhex(value)

    @classmethod
    def byte_length(cls) -> int:
        return cls.hex_length // 2


SIGNALS: Dict[str, Type[Signal]] = {}


def register(cls: Type[Signal]) -> Type[Signal]:
    SIGNALS[cls.name] = cls
    return cls


def get(name: str) -> Type[Signal]:
    try:
        return SIGNALS[name.lower()]
    except KeyError:
        known = ", ".join(sorted(SIGNALS))
        raise ValueError(f"unknown signal {name!r} (known: {known})") from None


def of_kind(kind: str) -> list:
    return sorted(name for name, cls in SIGNALS.items() if cls.kind == kind)
