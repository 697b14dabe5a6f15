"""Hash-set source formats, one module each, detected from content rather than extension."""

from __future__ import annotations

from pathlib import Path
from typing import Type

from ...errors import HashSetError
from ..textio import HEAD, head_text
from .base import FORMATS, Format, Item, in_detection_order, register
from . import compiled, encase, nsrl_rds3, nsrl_rds2, vics, hashdeep, hashkeeper, table, plain  # noqa: F401,E402
from . import vpdq, dfxml, hashdb  # noqa: F401,E402

__all__ = ["FORMATS", "Format", "Item", "detect", "register"]


def detect(path) -> Type[Format]:
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD)
    except OSError as exc:
        raise HashSetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if not head:
        raise HashSetError(f"{path}: empty file")
    text = head_text(head)
    for fmt in in_detection_order():
        if fmt.sniff(path, head, text):
            return fmt
    raise HashSetError(f"{path}: not a hash-set format triage knows")
