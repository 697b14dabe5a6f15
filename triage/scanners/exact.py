"""Exact matching: which digests a file needs (size prefilter), and what they match."""

from __future__ import annotations

from typing import Dict, FrozenSet, List

from .. import signals
from ..records import Match


class ExactMatcher:
    def __init__(self, sets):
        self.sets = list(sets)
        exact = set(signals.of_kind("exact"))
        # Per set, the exact signals it carries: computed once, asked per file.
        self._carried = [(s, tuple(sorted(s.signals & exact))) for s in self.sets]
        self.signals: FrozenSet[str] = frozenset(sig for _, sigs in self._carried for sig in sigs)

    def plan(self, size: int) -> FrozenSet[str]:
        """The digests worth computing for a file of `size` bytes: a signal is skipped when every
        set carrying it lists sizes and none is this size (ClamAV's .hdb idea)."""
        return frozenset(sig for s, sigs in self._carried for sig in sigs if s.may_match(sig, size))

    def match(self, digests: Dict[str, str]) -> List[Match]:
        found = []
        for s, sigs in self._carried:
            for sig in sigs:
                if sig not in digests:
                    continue
                for entry in s.lookup(sig, [bytes.fromhex(digests[sig])])[0]:
                    found.append(Match(signal=sig, set=s.info.name, kind=s.info.kind,
                                       category=entry.category, series=entry.series,
                                       value=entry.value, id=entry.id,
                                       false_positive_rate=s.false_positive_rate(sig)))
        return list(dict.fromkeys(found))  # the same entry listed twice in a set is one match
