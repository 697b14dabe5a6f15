"""The verdict of a scan and its exit code, decided in one place: the terminal, the HTML report
and the process exit code all say what this module says.

Works from the report's own plain data (the summary as a dict, `complete`, the hash sets), so
a report re-rendered from its results database gives the same words as the scan did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, List, Mapping, Optional

from .errors import EXIT_CLEAN, EXIT_HITS, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_TERMINATED
from .hashsets import categories

# tone: how a reader should take it at a glance (the HTML box's colour)
HITS, PARTIAL, CLEAN = "hits", "partial", "clean"

# A scan stopped by a signal exits as the shell reports that signal, hits or not; any other
# stop (a time budget) exits by what was found.
SIGNAL_EXITS = {"interrupted": EXIT_INTERRUPTED, "terminated": EXIT_TERMINATED}


@dataclass(frozen=True)
class Verdict:
    tone: str
    headline: str
    exit_code: int
    details: List[str] = field(default_factory=list)   # plain sentences under the headline


# How the headline names a stop that is not a signal.
STOP_WORDS = {"budget": "TIME BUDGET SPENT"}


def decide(summary: Mapping, complete: bool, stopped: Optional[str] = None,
           notes: Iterable[str] = (), fragments: int = 0,
           sampling: Optional[Mapping] = None) -> Verdict:
    """`summary` as in the report (hits, errors, ...); `stopped` says why an incomplete scan
    stopped ("interrupted" unless told otherwise); `notes` are coverage facts the headline
    must not hide (an encrypted volume left unread, a set that lost entries)."""
    hits, errors = summary.get("hits", 0), summary.get("errors", 0)
    stopped = stopped or "interrupted"
    details = list(notes)
    if hits or fragments:
        found = []
        if hits:
            found.append(f"{hits} file{'s' if hits != 1 else ''} match known material")
        if fragments:
            found.append(f"blocks of {fragments} known file{'s' if fragments != 1 else ''} "
                         f"found on the media (fragments)")
        headline = "HITS FOUND: " + "; ".join(found)
        if not complete:
            headline += (f" in the part scanned ({STOP_WORDS.get(stopped, stopped.upper())}: "
                         f"the scan is not complete)")
        elif errors:
            details.append(f"{errors:,} item(s) could not be read: coverage was not total")
        code = EXIT_HITS if complete else SIGNAL_EXITS.get(stopped, EXIT_HITS)
        return Verdict(HITS, headline, code, details)
    if stopped == "sampled" and sampling:
        # never "clean": a sample proves only what its statement says
        what, _, why = sampling["statement"].partition(" (")
        return Verdict(PARTIAL, what.upper() + (f" ({why}" if why else ""), EXIT_INCOMPLETE,
                       details)
    if not complete:
        return Verdict(PARTIAL, f"{STOP_WORDS.get(stopped, stopped.upper())}: no hits in the "
                       f"part scanned; the scan is not complete",
                       SIGNAL_EXITS.get(stopped, EXIT_INCOMPLETE), details)
    if errors or details:
        what = f": {errors:,} item(s) could not be read" if errors else " (see below)"
        return Verdict(PARTIAL, f"NO HITS, BUT COVERAGE WAS NOT TOTAL{what}", EXIT_INCOMPLETE,
                       details)
    return Verdict(CLEAN, "NO HITS: no known material found", EXIT_CLEAN, details)


def category_title(label: str, hashsets: Iterable[Mapping] = ()) -> str:
    """A category as a reader should see it: the label with its meaning in the scheme of the
    sets that use it, e.g. "1 child abuse material (CAM)"; the bare label when no set's scheme
    describes it."""
    for hs in hashsets:
        meaning = categories.describe(hs.get("category_scheme") or "", label)
        if meaning and label in (hs.get("categories") or {}):
            return f"{label} {meaning}"
    return label


def of_report(report: Mapping) -> Verdict:
    """The verdict of a report (the canonical dict every format renders)."""
    return decide(report["summary"], report["complete"], report.get("stopped"),
                  coverage_notes(report), len(report.get("fragments") or []),
                  report.get("sampling"))


# A set that lost more than this share of its source records at import cannot be trusted to
# have found what it should: the verdict says so.
LOST_SHARE = 0.5


ENCRYPTED_NAMES = {"bitlocker": "BitLocker", "filevault": "FileVault", "luks1": "LUKS1",
                   "luks2": "LUKS2", "apfs": "APFS"}
CREDENTIAL_HINTS = {
    "bitlocker": "its BitLocker recovery password (48 digits: --credential "
                 "recovery_password:...), password or startup key (.BEK file)",
    "filevault": "the user's password or the FileVault recovery key",
    "apfs": "the user's password or the FileVault recovery key",
}


def _locked_notes(ev: Mapping) -> List[str]:
    """Encrypted volumes left locked: part of the device was not examined."""
    out = []
    for volume in ev.get("volumes", []):
        locked = [layer for layer in volume.get("layers") or [] if layer.get("locked")]
        if not locked:
            continue
        layer = locked[-1]
        kind = layer.get("kind", "")
        name = ENCRYPTED_NAMES.get(kind, kind)
        ident = layer.get("id") or layer.get("uuid")
        what = CREDENTIAL_HINTS.get(kind, "its password or volume key")
        out.append(f"{ev.get('path')}: volume {volume.get('index')} "
                   f"({volume.get('path') or volume.get('description')}) is {name}-encrypted"
                   f"{f' ({ident})' if ident else ''} and no credential given opened it: that "
                   f"part of the device was NOT examined. Supply {what} with --credential "
                   f"(password:- asks for it) or --credential-file, and scan again")
    return out


def coverage_notes(report: Mapping) -> List[str]:
    """Facts about what was not examined that no verdict may hide."""
    notes = []
    for ev in report.get("evidence", []):
        notes += _locked_notes(ev)
        inside = ev.get("container_files") or []
        if inside:
            notes.append(f"{ev.get('path')}: {len(inside)} disk image file(s) inside (e.g. "
                         f"{inside[0].get('path')}, {inside[0].get('format')}) were not opened: "
                         f"each is an evidence item of its own; scan them too (listed as "
                         f"container_files in the report)")
        damaged = ev.get("damaged") or []
        if damaged:
            notes.append(f"{ev.get('path')}: {len(damaged)} damaged chunk(s) of the media (their "
                         f"stored checksum fails, as ewfverify reports): the files over them "
                         f"could not be checked")
    for hs in report.get("hashsets", []):
        skipped, records = hs.get("skipped") or 0, hs.get("records") or 0
        if skipped and skipped > LOST_SHARE * records:
            notes.append(f"hash set {hs.get('name')!r} lost most of its records at import "
                         f"({skipped:,} of {records:,} skipped): known material may have "
                         f"been missed; check it with `triage hashset validate`")
    return notes
