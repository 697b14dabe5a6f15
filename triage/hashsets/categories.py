"""Category schemes. Labels are stored as the source spells them (VICS "1", CAID "A", free text);
the set's metadata names the scheme so a label can be explained and known-good ones recognised."""

from __future__ import annotations

from typing import Dict, Iterable, Optional

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
    """Normalise a category as read from a source: ints and numeric strings to "1", blanks to
    None, everything else stripped."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit() and value[0] != "0":
        return value            # the common case, kept cheap: "1", "2", ...
    if isinstance(value, (int, float)):
        return str(int(value))
    text = str(value).strip()
    if not text:
        return None
    return str(int(text)) if text.isdigit() else text


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
