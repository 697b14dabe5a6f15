"""Exact-radius Hamming search: every stored hash within distance r of a query, never a miss.

Three interchangeable indexes over uint8 rows (one hash a row):
  * `BruteForce`: numpy popcount over everything; the reference the others are tested against.
  * `MultiIndexHash`: multi-index hashing (Norouzi, Punjani and Fleet, 2012) on numpy. The
    hash is cut into m 16-bit substrings with one bucket table each; by the pigeonhole
    principle a hash within r differs from the query in at most floor(r/m) bits of some
    substring (the paper's tighter form of it is used), so probing every key within that many
    flips of each query substring finds every candidate, which the full distance confirms.
  * `FaissMultiHash`: faiss's IndexBinaryMultiHash (what Meta's matcher uses), set up with the
    same pigeonhole bound so that it too is exact.

`build` returns the one benchmarks/perceptual_index.py chose (see docs/perceptual.md)."""

from __future__ import annotations

from itertools import combinations
from typing import List, Optional, Tuple

import numpy as np

Result = Tuple[np.ndarray, np.ndarray]   # (rows ascending, their distances)

_SUB = 16          # fewest bits of one substring: 65,536 buckets a table
_MAX_SUB = 22
_BATCH = 32        # queries searched together: small enough that the arrays stay in cache


def _as_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.uint8)
    if vectors.ndim != 2 or vectors.shape[1] % 8:
        raise ValueError("hashes must be rows of a multiple of 64 bits")
    return vectors


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Hamming distance of two uint8 arrays of the same shape."""
    counts = np.bitwise_count(a.view(np.uint64) ^ b.view(np.uint64))
    # Adding the word columns is 2x faster than counts.sum(axis=1) over 4-wide rows.
    total = counts[:, 0].astype(np.int32)
    for word in range(1, counts.shape[1]):
        total += counts[:, word]
    return total


class BruteForce:
    """Every stored hash compared with every query. Words are stored column by column (one
    contiguous array per 64-bit word): numpy then streams each and never sums short rows,
    4x faster than `bitwise_count(rows ^ q).sum(axis=1)`."""

    def __init__(self, vectors: np.ndarray):
        self.vectors = _as_rows(vectors)
        self.columns = np.ascontiguousarray(self.vectors.view(np.uint64).T)

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, queries: np.ndarray, radius: int) -> List[Result]:
        results = []
        for q in _as_rows(queries).view(np.uint64):
            d = np.zeros(len(self.vectors), np.int32)
            for column, word in zip(self.columns, q):
                d += np.bitwise_count(column ^ word)
            rows = np.flatnonzero(d <= radius)
            results.append((rows, d[rows]))
        return results

    def nbytes(self) -> int:
        return self.columns.nbytes


def _flip_masks(bits: int, flips: int) -> np.ndarray:
    """Every `bits`-wide mask with at most `flips` bits set, zero first."""
    masks = [0]
    for k in range(1, flips + 1):
        masks += [sum(1 << i for i in c) for c in combinations(range(bits), k)]
    return np.array(masks, dtype=np.int64)


def substring_width(n: int) -> int:
    """Bits a bucket key: about log2(n), as Norouzi et al. advise (one hash a bucket on
    average). At a million hashes 20 bits searched 1.6x faster than 16, for 130 bytes a hash
    instead of 100 (docs/perceptual.md)."""
    return int(min(_MAX_SUB, max(_SUB, round(np.log2(max(n, 1))))))


class MultiIndexHash:
    def __init__(self, vectors: np.ndarray, width: Optional[int] = None):
        self.vectors = _as_rows(vectors)
        n, nbytes = self.vectors.shape
        self.width = width or substring_width(n)
        self.tables = nbytes * 8 // self.width      # any bits left over are not keyed
        words = self.vectors.view(">u8").astype(np.uint64)
        # One CSR bucket table per substring, all m stacked: rows sorted by key, and where each
        # key's run starts. Row ids are uint32 (4 billion hashes is beyond any set).
        self.rows = np.empty(self.tables * n, dtype=np.uint32)
        self.starts = np.empty((self.tables, (1 << self.width) + 1),
                               dtype=np.int32 if self.tables * n < 2 ** 31 else np.int64)
        for t in range(self.tables):
            keys = self._key(words, t)
            self.rows[t * n:(t + 1) * n] = np.argsort(keys, kind="stable")
            self.starts[t, 0] = t * n
            self.starts[t, 1:] = np.cumsum(np.bincount(keys, minlength=1 << self.width)) + t * n
        self._flat_starts = self.starts.reshape(-1)
        self._probes = {}

    def __len__(self) -> int:
        return len(self.vectors)

    def _key(self, words: np.ndarray, t: int) -> np.ndarray:
        """Bits [t*w, (t+1)*w) of each hash, most significant first, as int64."""
        word, offset = divmod(t * self.width, 64)
        mask = np.uint64((1 << self.width) - 1)
        spill = offset + self.width - 64
        if spill <= 0:
            key = words[:, word] >> np.uint64(-spill)
        else:   # the substring runs on into the next word
            key = (words[:, word] << np.uint64(spill)) | (words[:, word + 1] >>
                                                         np.uint64(64 - spill))
        return (key & mask).astype(np.int64)

    def _keys(self, vectors: np.ndarray) -> np.ndarray:
        words = vectors.view(">u8").astype(np.uint64)
        return np.stack([self._key(words, t) for t in range(self.tables)], axis=1)

    def nbytes(self) -> int:
        return self.vectors.nbytes + self.rows.nbytes + self.starts.nbytes

    def search(self, queries: np.ndarray, radius: int) -> List[Result]:
        queries = _as_rows(queries)
        if radius not in self._probes:
            self._probes[radius] = self._plan(radius)
        results = []
        for lo in range(0, len(queries), _BATCH):
            results += self._search(queries[lo:lo + _BATCH], radius, *self._probes[radius])
        return results

    def _plan(self, radius: int):
        """Which keys to probe: Norouzi et al.'s tighter pigeonhole. With radius = m*k + a, a
        hash within the radius differs by at most k bits in one of the first a+1 substrings,
        or by at most k-1 in one of the others (else it would differ by r+1 or more)."""
        k, a = divmod(radius, self.tables)
        table, mask = [], []
        for t in range(self.tables):
            flips = k if t <= a else k - 1
            if flips >= 0:
                masks = _flip_masks(self.width, flips)
                table.append(np.full(len(masks), t))
                mask.append(masks)
        table = np.concatenate(table)
        return table, np.concatenate(mask), table * ((1 << self.width) + 1)

    def _search(self, queries: np.ndarray, radius: int, table: np.ndarray, mask: np.ndarray,
                offset: np.ndarray) -> List[Result]:
        q = len(queries)
        # Every probe of every query, as a flat index into the stacked `starts`.
        keys = ((self._keys(queries)[:, table] ^ mask[None, :]) + offset[None, :]).ravel()
        begin, end = self._flat_starts[keys], self._flat_starts[keys + 1]
        lengths = end - begin
        # Expand the (begin, length) runs into one flat gather, without a Python loop.
        total = int(lengths.sum())
        flat = np.repeat(begin - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
        candidate = self.rows[flat]
        per_query = lengths.reshape(q, len(table)).sum(axis=1)
        who = np.repeat(np.arange(q), per_query)
        d = _distances(self.vectors[candidate], np.repeat(queries, per_query, axis=0))
        keep = d <= radius
        # A hash close in several substrings was found several times: keep it once.
        pair, first = np.unique(who[keep] * len(self.vectors) + candidate[keep],
                                return_index=True)
        who, candidate = np.divmod(pair, len(self.vectors))
        d = d[keep][first]
        cuts = np.searchsorted(who, np.arange(q + 1))
        return [(candidate[a:b], d[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]


class FaissMultiHash:
    def __init__(self, vectors: np.ndarray):
        import faiss   # heavy import: only when this index is used

        self.vectors = _as_rows(vectors)
        bits = self.vectors.shape[1] * 8
        self.tables = bits // _SUB
        self.index = faiss.IndexBinaryMultiHash(bits, self.tables, _SUB)
        self.index.add(self.vectors)

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, queries: np.ndarray, radius: int) -> List[Result]:
        # The same pigeonhole bound makes faiss exact; its radius is exclusive.
        self.index.nflip = radius // self.tables
        lims, distances, labels = self.index.range_search(_as_rows(queries), radius + 1)
        results = []
        for a, b in zip(lims[:-1], lims[1:]):
            order = np.argsort(labels[a:b], kind="stable")
            results.append((labels[a:b][order], distances[a:b][order].astype(np.int32)))
        return results


def build(vectors: np.ndarray) -> MultiIndexHash:
    """The index for these hashes: multi-index hashing, measured fastest from 256 hashes up
    (docs/perceptual.md); its 8 MB of bucket tables are the price for a tiny set."""
    return MultiIndexHash(vectors)
