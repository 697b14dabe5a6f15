"""The lookups `scan --blocks` and `--sample` make of a set's block digests, answered the same
by a compiled set (its sorted keys) and a sealed one (sealed.SealedBlocks: keyed filters and
tags): which windows of the media may hold a listed block (by the fast XXH3 half of a block's
key alone), and, for those, which reference files' blocks they are (by the full 16-byte key).

A block entry's ID is `MD5:INDEX`, the reference file's MD5 and the block's number in it
(hashset build --blocks); its size is the reference file's."""

from __future__ import annotations

import re
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

SIGNAL = "block"
_ID = re.compile(r"^([0-9a-f]{32}):([0-9]+)$")


class BlockRef(NamedTuple):
    """Which reference file a listed block belongs to, and where in it."""
    category: Optional[str]
    md5: str
    index: int
    size: Optional[int]


class TopBits:
    """Whether each XXH3 value may be listed, from a table of the listed values' top bits: one
    gather a window, where a binary search of the sorted values costs a cache miss a step (the
    search was 40 % of a warm sweep's CPU). About one unlisted value in 16 passes, and is then
    searched."""

    def __init__(self, listed: np.ndarray):
        self.bits = int(np.clip(np.ceil(np.log2(max(len(listed), 1) * 16)), 16, 26))
        self._shift = np.uint64(64 - self.bits)
        self._table = np.zeros(1 << self.bits, bool)
        self._table[np.asarray(listed, np.uint64) >> self._shift] = True

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return self._table[values >> self._shift]


def parse_id(ident: Optional[str]) -> Optional[Tuple[str, int]]:
    """(reference MD5, block number) of a block entry's ID; None when it is not one."""
    m = _ID.match(ident or "")
    return (m.group(1), int(m.group(2))) if m else None


class OpenBlocks:
    """A compiled set's block digests: a table of their XXH3 halves' top bits, then a binary
    search of the sorted halves for what passes it, then the full key's rows."""

    def __init__(self, hs):
        self._hs = hs
        self._quick = hs.column(SIGNAL, "hi")
        self._listed = TopBits(self._quick)

    def candidates(self, quick: np.ndarray) -> np.ndarray:
        """Indices of the XXH3 values (uint64) that some listed block has."""
        hi = self._quick
        maybe = np.flatnonzero(self._listed(quick))
        where = np.searchsorted(hi, quick[maybe])
        hit = where < len(hi)
        hit[hit] = hi[where[hit]] == quick[maybe][hit]
        return maybe[hit]

    def confirm(self, keys: Sequence[bytes]) -> List[Tuple[int, BlockRef]]:
        """(query index, reference) of every listed block whose full key is asked."""
        query, rows = self._hs.find(SIGNAL, list(keys))
        out = []
        for q, entry in zip(query.tolist(), self._hs.entries(SIGNAL, rows)):
            parsed = parse_id(entry.id)
            if parsed is not None:
                out.append((q, BlockRef(entry.category, parsed[0], parsed[1], entry.size)))
        return out
