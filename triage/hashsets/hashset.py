"""A compiled hash set, opened: metadata, the size prefilter, batch exact lookups, and the
packed vectors the perceptual matcher searches."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from ..records import SetEntry
from . import sealed as sealing, store, structure
from .blockindex import SIGNAL as BLOCKS, OpenBlocks
from .compile import NO_QUALITY, NONE32, key_length


@dataclass
class SetInfo:
    name: str
    version: Optional[str]
    kind: str                              # "alert" | "known-good"
    entries: int                           # stored rows: one value of one signal each
    signals: Dict[str, int]                # signal -> distinct values
    categories: Dict[str, int]             # label -> entries
    sources: List[dict]                    # [{"path", "sha256", "format"}]
    imported: str                          # UTC ISO 8601
    tool_version: str
    category_scheme: str
    thresholds: Dict[str, int] = field(default_factory=dict)
    sized: Dict[str, int] = field(default_factory=dict)        # signal -> entries with a size
    problems: int = 0                      # malformed source records and values at import
    records: int = 0                       # source records read at import (lines, rows, ...)
    skipped: int = 0                       # of those, records that gave no entry (a problem)
    stats: Dict[str, dict] = field(default_factory=dict)       # signal -> import statistics
    # A sealed set's fingerprint bits, design false-positive rate, whether sizes were kept.
    sealed: Optional[dict] = None
    # Every reference file with a full digest also has a sub-file fingerprint (`edges-xxh3`,
    # or `edges` in sets built before it), so a scan may read 8 KiB of a file before deciding
    # to hash it whole (`hashset build`).
    fingerprinted: bool = False
    # The fingerprint of the key that signed the set file (read from its signature, never
    # from the header), None when unsigned.
    signer: Optional[str] = None

    def to_dict(self) -> dict:
        return asdict(self)


_SIZE_BITS = 24                    # a 2 MiB bitmap a sized signal
_SIZE_MASK = (1 << _SIZE_BITS) - 1
BITMAP_AFTER = 4096                # may_match questions of a signal before its bitmap is made


def size_bitmap(sizes: np.ndarray) -> bytes:
    """Bit (size mod 2**24) set for every listed size: a clear bit proves a size is not
    listed; a set bit needs the exact search (a million listed sizes set ~6% of the bits)."""
    present = np.zeros(1 << _SIZE_BITS, dtype=bool)
    present[(sizes & _SIZE_MASK).astype(np.intp)] = True
    return np.packbits(present, bitorder="little").tobytes()


class HashSet:
    """A compiled or a sealed set (store.py holds both forms): the scan's calls answer the same
    for both; a sealed set's exact signals refuse every call that would list their digests."""

    def __init__(self, path, verify: bool = True, trust=None, later: bool = False):
        """`later`: the data's checksum (and signature) are checked in a thread while the
        caller goes on; it calls verified() before it relies on an answer."""
        self.path = path
        header, self._arrays, self._mapped, signer, self._pending = store.open_mapped(
            path, verify, trust, later)
        try:
            structure.check(path, header, self._arrays, SetInfo)
        except BaseException:
            self.close()
            raise
        self._specs: Dict[str, dict] = header["signals"]
        self.labels: List[str] = header["labels"]
        self.info = SetInfo(**header["info"])
        self.info.signer = signer
        self.sealed = (sealing.SealedSignals(header, self._arrays)
                       if header.get("form") == sealing.FORM else None)
        self.signals = frozenset(s for s, spec in self._specs.items() if spec["rows"])
        # Per signal listed with a size throughout: its distinct sizes, for the prefilter.
        self._sizes = {s: self._arrays[f"{s}.sizes"] for s, spec in self._specs.items()
                       if spec["all_sized"]}
        if self.sealed is not None:
            self.signals |= self.sealed.signals
            self._sizes.update(self.sealed.sizes)
        self._vectors: Dict[str, np.ndarray] = {}
        self._size_bits: Dict[str, bytes] = {}   # built once much used, per sized signal
        self._unbitten: Dict[str, int] = {}       # questions asked so far, per signal
        self._one: Dict[str, tuple] = {}          # _find_one's arrays, per signal

    # -- the scan's calls ---------------------------------------------------------------------

    def may_match(self, signal: str, size: int) -> bool:
        if signal not in self.signals:
            return False
        sizes = self._sizes.get(signal)
        if sizes is None:
            return True
        if size < 0 or size > sizes[-1]:
            return False
        # Asked once per file (an archive's members): most answers are "no", and the bitmap
        # gives them in a fraction of a searchsorted's time (numpy's per-call cost, ~5 us).
        # It costs 10-20 ms to make, in each worker: not for the few questions a scan whose
        # walk made its plans together (may_match_many) asks, a fingerprint's hits.
        bits = self._size_bits.get(signal)
        if bits is None:
            asked = self._unbitten[signal] = self._unbitten.get(signal, 0) + 1
            if asked > BITMAP_AFTER:
                bits = self._size_bits[signal] = size_bitmap(sizes)
        if bits is not None:
            low = size & _SIZE_MASK
            if not bits[low >> 3] >> (low & 7) & 1:
                return False
        # The scalar must have the array's dtype, or numpy converts the whole array per call.
        i = sizes.searchsorted(sizes.dtype.type(size))
        return int(sizes[i]) == size

    def may_match_many(self, signal: str, sizes: np.ndarray) -> np.ndarray:
        """may_match for an array of sizes (int64) at once: one searchsorted for a chunk of
        the walk, where a call a file cost numpy's per-call overhead every time."""
        if signal not in self.signals:
            return np.zeros(len(sizes), bool)
        listed = self._sizes.get(signal)
        if listed is None:
            return np.ones(len(sizes), bool)
        if not len(listed):
            return np.zeros(len(sizes), bool)
        # within the listed range first: the sizes are stored in the narrowest type that
        # holds them, which a larger size would wrap around in
        valid = (sizes >= 0) & (sizes <= int(listed[-1]))
        query = np.where(valid, sizes, 0).astype(listed.dtype)
        at = np.minimum(listed.searchsorted(query), len(listed) - 1)
        return valid & (listed[at] == query)

    def find_categories(self, signal: str, digests) -> Tuple[np.ndarray, np.ndarray]:
        """Every (query index, category code) of a digest in the set, vectorised, in query
        order: "is this digest in category C" for a batch, the one question both forms
        answer (a compiled set from its rows, a sealed set from its filters). Codes index
        [None] + labels."""
        if signal not in self.signals:
            return np.zeros(0, np.intp), np.zeros(0, np.uint16)
        if self.sealed is not None and signal in self.sealed.filters:
            return self.sealed.find(signal, self._query(signal, digests))
        query, rows = self.find(signal, digests)
        codes = self.column(signal, "category")
        return query, (np.zeros(len(rows), np.uint16) if codes is None
                       else codes.take(rows).astype(np.uint16))

    def false_positive_rate(self, signal: str) -> Optional[float]:
        """The design rate at which one of `signal`'s filters wrongly says "in" (sealed sets),
        None where a match is exact."""
        if self.sealed is not None and signal in self.sealed.filters:
            return self.sealed.rate
        return None

    def blocks(self):
        """The block digests' lookups (blockindex: `candidates`, `confirm`), whichever form
        the set is; None when it has none."""
        if BLOCKS not in self.signals:
            return None
        if self.sealed is not None and self.sealed.blocks is not None:
            return self.sealed.blocks
        return OpenBlocks(self)

    def contains(self, signal: str, digest: bytes) -> bool:
        """Whether one digest is listed (a fingerprint's one question: no entry is made)."""
        if signal not in self.signals:
            return False
        if self.sealed is not None and signal in self.sealed.filters:
            return bool(self.sealed.codes_one(signal, self._query(signal, [digest])[0].tobytes()))
        return bool(self._find_one(signal, digest))

    def lookup(self, signal: str, digests: List[bytes]) -> List[List[SetEntry]]:
        found: List[List[SetEntry]] = [[] for _ in digests]
        if signal not in self.signals or not digests:
            return found
        if self.sealed is not None and signal in self.sealed.filters:
            return self._lookup_sealed(signal, digests)
        if len(digests) == 1:   # the scan asks once per file: numpy's per-call cost would dominate
            rows = self._find_one(signal, digests[0])
            return [self.entries(signal, np.array(rows, dtype=np.intp))] if rows else found
        query, rows = self.find(signal, self._query(signal, digests))
        for q, entry in zip(query.tolist(), self.entries(signal, rows)):
            found[q].append(entry)
        return found

    def vectors(self, signal: str) -> np.ndarray:
        """Every stored value of `signal` as uint8 rows (n, bytes), in the fixed row order that
        `entry(signal, row)` indexes."""
        self._listable(signal)
        cached = self._vectors.get(signal)
        if cached is None:
            cached = self._vectors[signal] = self._keys(signal)
        return cached

    def entry(self, signal: str, row: int) -> SetEntry:
        return self.entries(signal, np.array([row]))[0]

    def entries(self, signal: str, rows: np.ndarray) -> List[SetEntry]:
        """The entries behind many rows at once: each column is gathered in one step, or for
        a few rows (a scan's hit: one) read element by element, where numpy's cost a call
        was most of a hit's lookup."""
        self._listable(signal)
        a, prefix = self._arrays, f"{signal}."
        n = len(rows)
        at = rows.tolist() if n <= _FEW_ROWS else rows
        if prefix + "value" in a:
            values = [self.string(i) for i in _gathered(a[prefix + "value"], at)]
        elif type(at) is list:
            values = [self._key_at(signal, i).hex() for i in at]
        else:
            values = [k.hex() for k in map(bytes, self._gather_keys(signal, rows))]
        size = a.get(prefix + "size")
        if size is None:
            sizes = [None] * n
        else:
            missing = _largest(size.dtype)
            sizes = [None if s == missing else s for s in _gathered(size, at)]
        code = a.get(prefix + "category")
        labels = [None] + self.labels
        cats = [None] * n if code is None else [labels[c] for c in _gathered(code, at)]
        quality = a.get(prefix + "quality")
        quals = [None] * n if quality is None else \
            [None if q == NO_QUALITY else q for q in _gathered(quality, at)]
        series = self._texts(prefix + "series", at)
        names = self._texts(prefix + "name", at)
        ids = self._texts(prefix + "id", at)
        return [SetEntry(signal, v, c, se, sz, nm, q, i)
                for v, c, se, sz, nm, q, i in zip(values, cats, series, sizes, names, quals, ids)]

    def verified(self) -> None:
        """Return once the checks left to a thread (`later`) have passed; raise the
        HashSetError that names what they found wrong."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.wait()

    def close(self) -> None:
        if self._pending is not None:   # nothing of the set's outlives it
            self._pending.join()
        self._arrays = {}
        self._vectors = {}
        try:
            self._mapped.close()
        except BufferError:
            pass     # a caller still holds a view; the mapping goes when that view does

    def __enter__(self) -> "HashSet":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- for validate, diff and export --------------------------------------------------------

    def rows(self, signal: str) -> int:
        self._listable(signal)
        spec = self._specs.get(signal)
        return spec["rows"] if spec else 0

    def spec(self, signal: str) -> dict:
        return self._specs.get(signal, {})

    def column(self, signal: str, name: str) -> Optional[np.ndarray]:
        self._listable(signal)
        return self._arrays.get(f"{signal}.{name}")

    def words(self, signal: str) -> np.ndarray:
        """Digests as native uint64 words (n, w), in stored order, comparable across sets."""
        keys = self.vectors(signal)
        n, length = keys.shape
        padded = np.zeros((n, -(-length // 8) * 8), np.uint8)
        padded[:, :length] = keys
        return padded.view(">u8").astype(np.uint64)

    def iter_entries(self, signal: Optional[str] = None) -> Iterator[SetEntry]:
        for name in [signal] if signal else sorted(self.signals):
            self._listable(name)
            for row in range(self.rows(name)):
                yield self.entry(name, row)

    def find(self, signal: str, digests) -> Tuple[np.ndarray, np.ndarray]:
        """Every (query index, row) pair whose digests are equal, vectorised: the batch API.
        `digests` is a list of digests (bytes) or a uint8 array (n, bytes). Pairs come in query
        order, a query's rows in stored order; `entries(signal, rows)` turns rows into
        SetEntry values when they are wanted. Misses, the common case in a scan, cost one
        bucket read and a short binary search."""
        self._listable(signal)
        query = self._query(signal, digests)
        hi = self._arrays[f"{signal}.hi"]
        q_hi = np.ascontiguousarray(query[:, :8]).view(">u8").ravel().astype(np.uint64)
        lo = self._lower_bound(signal, hi, q_hi)
        hit = lo < len(hi)
        hit[hit] = hi.take(lo[hit]) == q_hi[hit]
        q_idx = np.flatnonzero(hit)
        rows = lo[q_idx]
        # Later rows with the same first 8 bytes (the digest under another category, or a
        # longer digest that differs further on) are rare: followed one step at a time.
        q_parts, row_parts = [q_idx], [rows]
        follow, at = q_idx, rows + 1
        while True:
            same = at < len(hi)
            same[same] = hi.take(at[same]) == q_hi.take(follow[same])
            if not same.any():
                break
            follow, at = follow[same], at[same]
            q_parts.append(follow)
            row_parts.append(at)
            at = at + 1
        if len(q_parts) > 1:
            q_idx, rows = np.concatenate(q_parts), np.concatenate(row_parts)
            by_query = np.lexsort((rows, q_idx))
            q_idx, rows = q_idx[by_query], rows[by_query]
        rest = self._arrays.get(f"{signal}.rest")
        if rest is not None and len(rows):
            word = _word_view(rest.shape[1])
            stored = rest.view(word).take(rows, axis=0)     # take: ~2x faster than [rows]
            asked = np.ascontiguousarray(query[:, 8:]).view(word).take(q_idx, axis=0)
            equal = np.all(stored == asked, axis=1)
            q_idx, rows = q_idx[equal], rows[equal]
        return q_idx, rows

    def _find_one(self, signal: str, digest: bytes) -> List[int]:
        """The rows equal to one digest: its bucket (a few rows), looked through as Python
        ints, then the rest of each row that shares the first 8 bytes. The same answer as find,
        without numpy's per-call cost: most digests a scan asks about are in no set, and are
        told so in about a microsecond."""
        one = self._one.get(signal)
        if one is None:
            spec = self._specs[signal]
            one = self._one[signal] = (spec["key_bytes"], self._arrays[f"{signal}.hi"],
                                       self._arrays[f"{signal}.bucket"],
                                       self._arrays.get(f"{signal}.rest"),
                                       64 - spec["bucket_bits"])
        length, hi, bucket, rest, shift = one
        if len(digest) != length:
            raise ValueError(f"{signal} digests must be {length} bytes each")
        word = int.from_bytes(digest[:8], "big")
        start, end = bucket[word >> shift: (word >> shift) + 2].tolist()
        words = hi[start:end].tolist()
        if word not in words:
            return []
        first = start + words.index(word)
        return [i for i in range(first, start + len(words)) if words[i - start] == word
                and (rest is None or rest[i].tobytes() == digest[8:])]

    def string(self, index: int) -> str:
        offsets = self._arrays["strings.offsets"]
        start, end = int(offsets[index]), int(offsets[index + 1])
        return self._arrays["strings.blob"][start:end].tobytes().decode("utf-8", "surrogatepass")

    # -- internals ----------------------------------------------------------------------------

    def _listable(self, signal: str) -> None:
        if self.sealed is not None and self.sealed.refuses(signal):
            raise sealing.refuse(self.path, signal)

    def _lookup_sealed(self, signal: str, digests) -> List[List[SetEntry]]:
        labels = [None] + self.labels
        query = self._query(signal, digests)
        found: List[List[SetEntry]] = [[] for _ in range(len(query))]
        if len(query) == 1:      # once per file in a scan: no numpy batch set-up
            pairs = [(0, c) for c in self.sealed.codes_one(signal, query[0].tobytes())]
        else:
            pairs = zip(*(a.tolist() for a in self.sealed.find(signal, query)))
        # The value is the digest asked about (the file's own): the set holds none to give.
        for q, code in pairs:
            found[q].append(SetEntry(signal, query[q].tobytes().hex(), labels[code]))
        return found

    def _query(self, signal: str, digests) -> np.ndarray:
        length = key_length(signal)
        if isinstance(digests, np.ndarray):
            if digests.dtype != np.uint8 or digests.ndim != 2 or digests.shape[1] != length:
                raise ValueError(f"{signal} digests must be a uint8 array (n, {length})")
            return np.ascontiguousarray(digests)
        if set(map(len, digests)) != {length}:
            raise ValueError(f"{signal} digests must be {length} bytes each")
        return np.frombuffer(b"".join(digests), np.uint8).reshape(len(digests), length)

    def _lower_bound(self, signal: str, hi: np.ndarray, q_hi: np.ndarray) -> np.ndarray:
        """For each query word, the first row whose word is not less: its bucket's bounds,
        then a branchless binary search of fixed length within them (every query takes the
        same steps, so each step is one numpy call over the whole batch)."""
        spec = self._specs[signal]
        bucket = self._arrays[f"{signal}.bucket"]
        b = (q_hi >> np.uint64(64 - spec["bucket_bits"])).astype(np.intp)
        base = bucket.take(b).astype(np.intp)
        size = bucket.take(b + 1).astype(np.intp) - base
        for _ in range(spec["bucket_largest"].bit_length()):
            half = size >> 1
            # clip: an empty bucket at the very end has base == len(hi); half is 0 there, so
            # whatever is read, base stays.
            probe = base + half
            base = np.where(hi.take(probe, mode="clip") < q_hi, probe, base)
            size -= half
        return base + ((size > 0) & (hi.take(base, mode="clip") < q_hi))

    def _keys(self, signal: str) -> np.ndarray:
        hi = self._arrays[f"{signal}.hi"]
        head = hi.astype(">u8").view(np.uint8).reshape(len(hi), 8)
        rest = self._arrays.get(f"{signal}.rest")
        return head if rest is None else np.hstack([head, rest])

    def _gather_keys(self, signal: str, rows: np.ndarray) -> np.ndarray:
        head = self._arrays[f"{signal}.hi"][rows].astype(">u8").view(np.uint8)
        head = head.reshape(len(rows), 8)
        rest = self._arrays.get(f"{signal}.rest")
        return head if rest is None else np.hstack([head, rest[rows]])

    def _key_at(self, signal: str, row: int) -> bytes:
        """The stored key of one row (what _gather_keys gives of many)."""
        rest = self._arrays.get(f"{signal}.rest")
        head = self._arrays[f"{signal}.hi"].item(row).to_bytes(8, "big")
        return head if rest is None else head + rest[row].tobytes()

    def _texts(self, column: str, rows) -> List[Optional[str]]:
        col = self._arrays.get(column)
        if col is None:
            return [None] * len(rows)
        return [None if i == NONE32 else self.string(i) for i in _gathered(col, rows)]


# Rows that entries() reads element by element rather than gathers with numpy.
_FEW_ROWS = 8


def _gathered(column: np.ndarray, rows) -> list:
    """`column`'s values at `rows` as Python values: rows given as a list (a few) one by
    one, as an array in one gather."""
    if type(rows) is list:
        return [column.item(i) for i in rows]
    return column[rows].tolist()


@lru_cache(maxsize=None)
def _largest(dtype: np.dtype) -> int:
    return int(np.iinfo(dtype).max)


def _word_view(width: int) -> np.dtype:
    """The widest unsigned integer that tiles `width` bytes: rows then compare in 1-3 words."""
    for size in (8, 4, 2):
        if width % size == 0:
            return np.dtype(f"u{size}")
    return np.dtype(np.uint8)
