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


def parse_id(ident: Optional[str]) -> Optional[Tuple[str, int]]:
    """(reference MD5, block number) of a block entry's ID; None when it is not one."""
    m = _ID.match(ident or "")
    return (m.group(1), int(m.group(2))) if m else None


class OpenBlocks:
    """A compiled set's block digests: a binary search of its sorted XXH3 halves, then the
    full key's rows."""

    def __init__(self, hs):
        self._hs = hs
        self._quick = hs.column(SIGNAL, "hi")

    def candidates(self, quick: np.ndarray) -> np.ndarray:
        """Indices of the XXH3 values (uint64) that some listed block has."""
        hi = self._quick
        where = np.searchsorted(hi, quick)
        hit = where < len(hi)
        hit[hit] = hi[where[hit]] == quick[hit]
        return np.flatnonzero(hit)

    def confirm(self, keys: Sequence[bytes]) -> List[Tuple[int, BlockRef]]:
        """(query index, reference) of every listed block whose full key is asked."""
        query, rows = self._hs.find(SIGNAL, list(keys))
        out = []
        for q, entry in zip(query.tolist(), self._hs.entries(SIGNAL, rows)):
            parsed = parse_id(entry.id)
            if parsed is not None:
                out.append((q, BlockRef(entry.category, parsed[0], parsed[1], entry.size)))
        return out
