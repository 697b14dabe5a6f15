"""Category schemes. Labels are stored as the source spells them (VICS "1", CAID "A", free text);
the set's metadata names the scheme so a label can be explained and known-good ones recognised."""

from __future__ import annotations

import math
from typing import Dict, Iterable, Optional

MAX_LABEL = 256   # characters: a category is a short label, not a field of text

# Project VIC / VICS. Category 8 is NIST's addition for NSRL-CAID: known-good.
VICS = {
    "0": "uncategorised",
    "1": "child abuse material (CAM)",
    "2": "child exploitative / age difficult",
    "3": "CGI / animation",
    "4": "comparison images",
    "8": "known-good (NSRL-CAID)",
}
# UK CAID grading, as in the Sentencing Council's categories A-C.
CAID = {
    "A": "category A",
    "B": "category B",
    "C": "category C",
}
NSRL = {"known-good": "known software (NSRL RDS)"}

SCHEMES: Dict[str, Dict[str, str]] = {
    "vics": VICS,
    "dhs": {},       # the older DHS numbering: labels kept as given, no descriptions assumed
    "caid": CAID,
    "nsrl": NSRL,
    "free": {},
    "mixed": {},
}
KNOWN_GOOD = {"vics": {"8"}, "nsrl": {"known-good"}}


def label(value) -> Optional[str]:
    """Normalise a category as read from a source: ints and numeric strings (ASCII digits) to
    "1", blanks to None, other text stripped. ValueError for a value that is no label (an
    infinite or huge number, a list)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        if value.isascii() and value.isdigit() and value[0] != "0":
            return value        # the common case, kept cheap: "1", "2", ...
        text = printable(value).strip()
        if not text:
            return None
        if text.isascii() and text.isdigit():
            text = text.lstrip("0") or "0"
        if len(text) > MAX_LABEL:
            raise ValueError(f"category longer than {MAX_LABEL} characters")
        return text
    if isinstance(value, float) and math.isfinite(value):
        value = int(value)
    if isinstance(value, int) and abs(value) < 10 ** MAX_LABEL:
        return str(value)
    raise ValueError("category is neither a label nor a whole number")


def printable(text: str) -> str:
    """Text as it can be written anywhere: a lone surrogate (JSON's "\\ud800") becomes U+FFFD,
    as undecodable bytes do in every text reader."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def detect(labels: Iterable[str]) -> str:
    """The scheme a set of labels most plausibly follows; "free" when no known one fits."""
    found = {x for x in labels if x is not None}
    if not found:
        return "free"
    for scheme in ("vics", "caid"):
        if found <= set(SCHEMES[scheme]):
            return scheme
    if found <= {"known-good"}:
        return "nsrl"
    return "free"


def describe(scheme: str, value: str) -> str:
    return SCHEMES.get(scheme, {}).get(value, "")


def is_known_good(scheme: str, labels: Iterable[str]) -> bool:
    good = KNOWN_GOOD.get(scheme, set())
    found = set(labels)
    return bool(found) and found <= good


def combine(schemes: Iterable[str]) -> str:
    distinct = {s for s in schemes if s and s != "free"}
    if not distinct:
        return "free"
    return distinct.pop() if len(distinct) == 1 else "mixed"
