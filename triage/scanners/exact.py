"""Exact matching: which digests a file needs (size prefilter, then sub-file fingerprints), and
what they match."""

from __future__ import annotations

from typing import Dict, FrozenSet, Iterable, Iterator, List, Tuple

import numpy as np

from .. import signals
from ..records import Match


class ExactMatcher:
    def __init__(self, sets):
        self.sets = list(sets)
        exact = set(signals.of_kind("exact"))
        partial = {s for s in exact if signals.SIGNALS[s].partial}
        # Per set, the full digests it carries and, when every reference file of it has one
        # (info.fingerprinted), the sub-file fingerprints that decide whether a file is worth
        # reading whole: computed once, asked per file.
        self._carried = [(s, tuple(sorted(s.signals & (exact - partial))),
                          tuple(sorted(s.signals & partial)) if s.info.fingerprinted else ())
                         for s in self.sets]
        self.signals: FrozenSet[str] = frozenset(
            sig for _, sigs, _ in self._carried for sig in sigs)

    def plan(self, size: int) -> FrozenSet[str]:
        """The digests worth computing for a file of `size` bytes before anything else is read:
        a signal is skipped when every set carrying it lists sizes and none is this size
        (ClamAV's .hdb idea), or when its set screens files by fingerprint (see screens)."""
        return frozenset(sig for s, sigs, screen in self._carried if not screen
                         for sig in sigs if s.may_match(sig, size))

    def kinds_of(self, sizes: np.ndarray) -> Tuple[List[Tuple[FrozenSet[str], FrozenSet[str]]],
                                                   np.ndarray]:
        """(plan(size), screens(size)) of an array of sizes, from one lookup of the array per
        set and signal (a walk's chunk at a time): the distinct pairs they call for, and for
        each size the index of its own among them."""
        columns = [(sig, bool(screen), s.may_match_many(sig, sizes))
                   for s, sigs, screen in self._carried for sig in (screen or sigs)]
        if not columns:
            return [(frozenset(), frozenset())], np.zeros(len(sizes), np.intp)
        rows, which = _distinct_rows(np.stack([mask for _, _, mask in columns], axis=1))
        kinds = [(frozenset(sig for (sig, screen, _), on in zip(columns, row)
                            if on and not screen),
                  frozenset(sig for (sig, screen, _), on in zip(columns, row) if on and screen))
                 for row in rows.tolist()]
        return kinds, which.reshape(-1)

    def screens(self, size: int) -> FrozenSet[str]:
        """The sub-file fingerprints to compute first (8 KiB read) for a file of `size` bytes.
        A fingerprinted set whose fingerprints do not list this size lists no file of it."""
        return frozenset(f for s, _, screen in self._carried for f in screen
                         if s.may_match(f, size))

    def confirm(self, prints: Dict[str, str], size: int, report: Iterable[str] = ()
                ) -> FrozenSet[str]:
        """The full digests to compute once a file's fingerprints are known: those of every set
        that lists one of them, and `report` (the digests a hit's report carries) where an
        alert set does. A fingerprint is never a match: only what it lets through is hashed
        whole and looked up. A file an alert set's fingerprint lets through is most likely a
        hit, whose report digests are then taken in the one read, where a set of MD5s alone
        had the hit read whole again for its SHA-1 and SHA-256."""
        wanted = set()
        for s, sigs, screen in self._carried:
            if any(f in prints and s.contains(f, bytes.fromhex(prints[f])) for f in screen):
                wanted.update(sig for sig in sigs if s.may_match(sig, size))
                if s.info.kind == "alert":
                    wanted.update(report)
        return frozenset(wanted)

    def listed(self, fingerprint: str, keys: List[bytes]) -> np.ndarray:
        """For a batch of files' `fingerprint` values (its keys, 16 bytes each), whether any
        set that screens by it lists each: what confirm() tells a file at a time, with one
        lookup a set for the batch."""
        found = np.zeros(len(keys), bool)
        for s, _, screen in self._carried:
            if fingerprint in screen and keys:
                found[s.find_categories(fingerprint, keys)[0]] = True
        return found

    def match(self, digests: Dict[str, str]) -> List[Match]:
        found = []
        for s, sigs, _ in self._carried:
            for sig in sigs:
                if sig not in digests:
                    continue
                for entry in s.lookup(sig, [bytes.fromhex(digests[sig])])[0]:
                    found.append(Match(signal=sig, set=s.info.name, kind=s.info.kind,
                                       category=entry.category, series=entry.series,
                                       value=entry.value, id=entry.id,
                                       false_positive_rate=s.false_positive_rate(sig)))
        return list(dict.fromkeys(found))  # the same entry listed twice in a set is one match


def _distinct_rows(masks: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """np.unique(masks, axis=0, return_inverse=True) for a 2-D bool array, its rows packed to
    fixed-width byte strings first. numpy's own axis=0 path views bool rows as a structured
    dtype, whose comparison runs Python code and turns any exception raised meanwhile into
    "TypeError: Cannot compare structured arrays": the time budget's BudgetSpent, raised by
    SIGALRM in this (the walking) thread, came out so in one CI run (a review reproduced it,
    one interrupt in five). Byte strings take the plain 1-D path, all in C."""
    width = masks.shape[1]
    packed = np.ascontiguousarray(np.packbits(masks, axis=1))
    size = packed.shape[1]
    keys, which = np.unique(packed.view(f"S{size}").ravel(), return_inverse=True)
    # unpacked from the array, not from keys.tolist(), which drops trailing zero bytes
    rows = np.unpackbits(keys.view(np.uint8).reshape(len(keys), size), axis=1, count=width)
    return rows.astype(bool), which

