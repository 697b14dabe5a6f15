"""The signal registry: every kind of value a hash set can carry, and how to handle it.

Modelled on python-threatexchange's SignalType: each signal is a small class that says what it
applies to, how to validate a stored value, and how values compare. Everything else in triage
asks this registry instead of branching on signal names."""

from __future__ import annotations

import re
from typing import ClassVar, Type

from ..registry import Registry

_HEX = re.compile(r"[0-9a-f]+\Z")


class ClassValue:
    """A class attribute made on first use, then kept on the class it was asked of: for a
    value that costs at import (a digest signal's trivial values hash a MiB of zeros each:
    8 ms of every command's start, where only `hashset build` and `validate` ask for them).
    `make(cls)` makes it."""

    def __init__(self, make):
        self._make = make

    def __set_name__(self, owner, name: str) -> None:
        self._name = name

    def __get__(self, obj, owner):
        value = self._make(owner)
        setattr(owner, self._name, value)   # the class's own attribute from now on
        return value


class Signal:
    name: ClassVar[str]
    kind: ClassVar[str]            # "exact", "perceptual" or "opaque" (stored, never computed)
    hex_length: ClassVar[int] = 0  # hex characters of a value; 0 when not hex
    computable: ClassVar[bool] = True
    # Computed from part of a file (the sub-file fingerprint): it says which files are worth
    # reading whole, never that a file matches.
    partial: ClassVar[bool] = False
    # Values so common they identify nothing (the empty file, an all-zero block, a flat image).
    trivial: ClassVar[frozenset] = frozenset()
    # Whether a set keeps a value's text beside its key: opaque values, which are keyed by a
    # digest of the text, and values that say more than their key (a vpdq frame line).
    keeps_value: ClassVar[bool] = False

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
    def quality_of(cls, value: str):
        """The quality a parsed value carries in itself (a vpdq frame line), else None."""
        return None

    @classmethod
    def key(cls, value: str) -> bytes:
        """What a set sorts and searches a parsed value by."""
        return bytes.fromhex(value)

    @classmethod
    def byte_length(cls) -> int:
        return cls.hex_length // 2


SIGNALS: Registry[Type[Signal]] = Registry("signal")
register = SIGNALS.register()


def get(name: str) -> Type[Signal]:
    try:
        return SIGNALS[name.lower()]
    except KeyError:
        known = ", ".join(sorted(SIGNALS))
        raise ValueError(f"unknown signal {name!r} (known: {known})") from None


def of_kind(kind: str) -> list:
    return sorted(name for name, cls in SIGNALS.items() if cls.kind == kind)


def parse_threshold(text: str) -> tuple:
    """`SIGNAL=BITS` as given on a command line -> (signal name, radius). Only signals matched
    by distance take a radius, each within its own range (0..bits for a perceptual hash)."""
    name, sep, number = text.partition("=")
    name, number = name.strip().lower(), number.strip()
    if not sep or not name:
        raise ValueError(f"{text!r}: expected SIGNAL=BITS, e.g. pdq=31")
    cls = get(name)
    limit = getattr(cls, "bits", None)
    if limit is None:
        raise ValueError(f"{name} takes no radius (only signals matched by distance do: "
                         f"{', '.join(n for n, c in SIGNALS.items() if getattr(c, 'bits', None))})")
    if not (number.isascii() and number.isdigit()) or int(number) > limit:
        raise ValueError(f"{text!r}: the {name} radius must be a whole number of bits from 0 to "
                         f"{limit}")
    return name, int(number)
