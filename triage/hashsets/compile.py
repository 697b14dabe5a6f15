"""Compile a stream of SetEntry values (or blocks of them as Columns, from bulk readers) into
sorted, packed, de-duplicated columns.

Each signal gets its own columns, sorted by digest so lookups are binary searches:
`hi` (the first 8 digest bytes as a native uint64, so searches run on plain integers and a
digest ending in 00 compares right), `bucket` (where each range of top bits of `hi` starts, so
a search starts in the right few rows), `rest` (the remaining bytes, uint8), and only the
attribute columns the set actually uses: `size` (uint32 when every size fits, else uint64),
`sizes` (the distinct sizes, for the size prefilter), `category` (a code into the set's label
list), `series`, `name`, `id` and `value` (indices into one string pool), `quality` (uint8)."""

from __future__ import annotations

from array import array
from collections import defaultdict
from itertools import chain, count
from typing import Dict, List, Optional

import numpy as np

from .. import signals
from ..records import SetEntry
from .problems import SourceError

NONE32 = 0xFFFFFFFF
MAX_LABELS = 0xFFFF - 1     # category codes are uint16, 0 meaning none
NO_QUALITY = 255
EXAMPLES = 5


def key_length(signal: str) -> int:
    # Opaque values (PhotoDNA) are not hex: they are keyed by the SHA-256 of their text.
    return signals.get(signal).byte_length() or 32


def size_dtype(largest: int):
    return np.uint32 if largest < NONE32 else np.uint64


class Strings:
    """A pool of distinct strings (series, names, IDs, opaque values) referenced by index, in
    the order of their first appearance."""

    def __init__(self):
        # Numbered as first seen by the dict itself (a counter as the default factory), so a
        # column of a million names is pooled by map() in C, not a Python call per string.
        # None is number 0: "no string"; a string's pool index is its number less one.
        self.index: Dict[Optional[str], int] = defaultdict(count().__next__)
        self.index[None]

    def add(self, text: Optional[str]) -> int:
        return NONE32 if text is None else self.index[text] - 1

    def add_many(self, texts, n: int) -> np.ndarray:
        """Pool indices of `n` strings (None: NONE32), exactly as add() of each in turn."""
        numbers = np.fromiter(map(self.index.__getitem__, texts), np.int64, n)
        return np.where(numbers == 0, NONE32, numbers - 1).astype(np.uint32)

    def arrays(self) -> Dict[str, np.ndarray]:
        encoded = [s.encode("utf-8", "surrogatepass") for s in self.index if s is not None]
        offsets = np.zeros(len(encoded) + 1, np.uint64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        return {"strings.offsets": offsets,
                "strings.blob": np.frombuffer(b"".join(encoded), np.uint8)}


class SignalBuffer:
    """One signal's rows in arrival order: entries added one by one go to compact typed arrays
    (a Python object per row would cost ~20x the memory of the digest itself), blocks of rows
    from bulk readers are kept as the numpy columns they came in."""

    def __init__(self, signal: str):
        self.signal = signal
        self.length = key_length(signal)
        self.keeps_value = signals.get(signal).keeps_value
        self.perceptual = signals.get(signal).kind == "perceptual"
        self.chunks: List[Dict[str, np.ndarray]] = []
        self._single()

    def _single(self) -> None:
        self.keys = bytearray()
        self.size = array("Q")
        self.category = array("H")
        self.series = array("I")
        self.name = array("I")
        self.id = array("I")
        self.value = array("I")
        self.quality = array("B")

    def append(self, chunk: Dict[str, np.ndarray]) -> None:
        self.flush()
        self.chunks.append(chunk)

    def flush(self) -> None:
        """Turn the rows added one by one into a chunk, so that a block appended after them
        keeps the source order (label codes and string indices depend on it)."""
        if not self.size:
            return
        chunk = {
            "keys": np.frombuffer(bytes(self.keys), np.uint8).reshape(-1, self.length),
            "size": np.frombuffer(self.size, np.uint64),
            "category": np.frombuffer(self.category, np.uint16),
            "series": np.frombuffer(self.series, np.uint32),
            "name": np.frombuffer(self.name, np.uint32),
            "id": np.frombuffer(self.id, np.uint32),
            "quality": np.frombuffer(self.quality, np.uint8),
        }
        if self.keeps_value:
            chunk["value"] = np.frombuffer(self.value, np.uint32)
        self.chunks.append(chunk)
        self._single()

    def columns(self) -> Dict[str, np.ndarray]:
        """Every row so far, column by column (a buffer exists only once it has a row)."""
        self.flush()
        if len(self.chunks) == 1:
            return self.chunks[0]
        return {k: np.concatenate([c[k] for c in self.chunks]) for k in self.chunks[0]}


class Compiler:
    def __init__(self):
        self.buffers: Dict[str, SignalBuffer] = {}
        self.labels: Dict[str, int] = {}        # label -> code; code 0 means "no category"
        self.strings = Strings()

    def add(self, entry: SetEntry) -> None:
        buf = self._buffer(entry.signal)
        buf.keys += signals.get(entry.signal).key(entry.value)
        if buf.keeps_value:
            buf.value.append(self.strings.add(entry.value))
        buf.size.append(NONE_SIZE if entry.size is None else entry.size)
        buf.category.append(self.code(entry.category))
        buf.series.append(NONE32 if entry.series is None else self.strings.add(entry.series))
        buf.name.append(NONE32 if entry.name is None else self.strings.add(entry.name))
        buf.id.append(NONE32 if entry.id is None else self.strings.add(entry.id))
        buf.quality.append(NO_QUALITY if entry.quality is None else entry.quality)

    def add_columns(self, block, category: Optional[str] = None) -> int:
        """Add a block of rows from a bulk reader (formats.base.Columns), exactly as if its
        entries had come one by one in row order; `category` labels rows that carry none.
        Returns the number of entries added."""
        n = block.rows
        labels = block.labels if block.category is not None else [None]
        lut = np.array([self.code(category if x is None else x) for x in labels], np.uint16)
        codes = lut[block.category] if block.category is not None else np.full(n, lut[0])
        series, names, ids = self._string_columns(block)
        added = 0
        for signal, (keys, rows) in block.digests.items():
            buf = self._buffer(signal)

            def take(column):
                return column if rows is None else column[rows]
            m = len(keys)
            buf.append({
                "keys": keys,
                "size": take(block.size) if block.size is not None
                else np.full(m, NONE_SIZE, np.uint64),
                "category": take(codes),
                "series": take(series),
                "name": take(names),
                "id": take(ids),
                "quality": take(block.quality) if block.quality is not None and buf.perceptual
                else np.full(m, NO_QUALITY, np.uint8),
            })
            added += m
        return added

    def code(self, label: Optional[str]) -> int:
        """The label's code, assigned in order of first appearance; 0 means no category."""
        if label is None:
            return 0
        code = self.labels.get(label)
        if code is None:
            if len(self.labels) >= MAX_LABELS:
                raise SourceError("", f"more than {MAX_LABELS:,} distinct categories (limit): "
                                      "not a category column")
            code = self.labels[label] = len(self.labels) + 1
        return code

    def _buffer(self, signal: str) -> SignalBuffer:
        buf = self.buffers.get(signal)
        if buf is None:
            buf = self.buffers[signal] = SignalBuffer(signal)
        return buf

    def _string_columns(self, block):
        """Pool indices of a block's series, names and ids, pooled row by row in that order,
        as `add` does, so the pool's order is the same on both paths."""
        n = block.rows
        columns = [c for c in (block.series, block.name, block.id) if c is not None]
        if not columns:
            none = np.full(n, NONE32, np.uint32)
            return none, none, none
        codes = self.strings.add_many(chain.from_iterable(zip(*columns)), n * len(columns))
        codes = codes.reshape(n, len(columns))
        given = iter(range(len(columns)))
        return tuple(codes[:, next(given)] if c is not None else np.full(n, NONE32, np.uint32)
                     for c in (block.series, block.name, block.id))

    def label_list(self) -> List[str]:
        return sorted(self.labels, key=self.labels.get)

    def finish(self):
        """(per-signal header dicts, arrays by name, statistics) ready for store.write."""
        arrays: Dict[str, np.ndarray] = {}
        header: Dict[str, dict] = {}
        cat_dtype = np.uint8 if len(self.labels) < 255 else np.uint16
        for signal in sorted(self.buffers):
            spec, columns = finish_signal(self.buffers[signal], cat_dtype)
            header[signal] = spec
            arrays.update({f"{signal}.{name}": col for name, col in columns.items()})
        arrays.update(self.strings.arrays())
        return header, arrays


NONE_SIZE = (1 << 64) - 1


def _words(keys: np.ndarray) -> np.ndarray:
    """Digests as big-endian uint64 words in native order: sorting the words sorts the bytes."""
    n, length = keys.shape
    if length % 8:
        padded = np.zeros((n, -(-length // 8) * 8), np.uint8)
        padded[:, :length] = keys
        keys = padded
    return np.ascontiguousarray(keys).view(">u8").astype(np.uint64)


def _order(first: np.ndarray, words: np.ndarray, sort_keys: List[np.ndarray]) -> np.ndarray:
    """The row order of one stable lexsort by the digest words, then by sort_keys (last
    first), ~8x faster at 10 M rows: an argsort of the first words, then the full lexsort only
    for rows whose first word is not unique (repeated digests; rare otherwise)."""
    order = np.argsort(first)
    ranked = first.take(order)
    tied = np.zeros(len(order), bool)
    tied[1:] = ranked[1:] == ranked[:-1]
    tied[:-1] |= tied[1:]
    at = np.flatnonzero(tied)
    if len(at):
        # In input order, so that lexsort's stability breaks full ties by input order, as one
        # lexsort over every row would; the first word keeps each run where argsort put it.
        rows = np.sort(order[at])
        keys = [k[rows] for k in sort_keys] + [words[rows, i] for i in
                                                range(words.shape[1] - 1, -1, -1)]
        order[at] = rows[np.lexsort(keys)]
    return order


def _distinct_sorted(values: np.ndarray) -> np.ndarray:
    """np.unique of an already sorted array (np.unique hashes or sorts again: far slower)."""
    keep = np.ones(len(values), bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def bucket_bits(rows: int) -> int:
    """The bits of a digest's first word that pick its bucket: about one bucket for 8 rows."""
    return max(1, rows.bit_length() - 3)


def bucket_index(hi: np.ndarray):
    """(starts, bits, largest): rows whose first word's top `bits` bits are b lie in
    hi[starts[b]:starts[b + 1]]. About one bucket for 8 rows (under 1 byte a row), so a lookup
    reads one bucket entry and a few neighbouring words instead of log2(n) scattered ones;
    `largest` (the fullest bucket) bounds the binary search within a bucket."""
    bits = bucket_bits(len(hi))
    bounds = np.arange(1 << bits, dtype=np.uint64) << np.uint64(64 - bits)
    starts = np.empty((1 << bits) + 1, np.uint32 if len(hi) < NONE32 else np.uint64)
    starts[:-1] = hi.searchsorted(bounds)
    starts[-1] = len(hi)
    return starts, bits, int(np.diff(starts).max())


# Attribute columns in sort priority, after the digest: rows of one digest come out in this
# order, and identical rows are next to each other so they collapse.
SORTED_BY = ("category", "size", "value", "series", "name", "id", "quality")


def finish_signal(buf: SignalBuffer, cat_dtype):
    attrs = dict(buf.columns())
    keys = attrs.pop("keys")
    n = len(keys)
    attrs["category"] = attrs["category"].astype(cat_dtype)
    # A column with one value throughout (no names, no quality...) neither orders nor
    # separates rows: only the others are sorted and compared.
    varying = {k: v for k, v in attrs.items() if n and (v != v[0]).any()}
    words = _words(keys)
    order = _order(np.ascontiguousarray(words[:, 0]), words,
                   [varying[k] for k in reversed(SORTED_BY) if k in varying])
    words = np.take(words, order, axis=0)
    varying = {k: v.take(order) for k, v in varying.items()}

    # Rows read vs rows kept: identical rows collapse; the same digest under other attributes
    # (another category, name or size) stays as a row of its own.
    new_key = np.ones(n, bool)
    if n > 1:
        new_key[1:] = np.any(words[1:] != words[:-1], axis=1)
    same_row = ~new_key
    for col in varying.values():
        same_row[1:] &= col[1:] == col[:-1]
    repeated = conflicting = np.zeros(0, np.intp)
    if not new_key.all():
        run = np.cumsum(new_key) - 1
        repeated = _distinct_sorted(run[~new_key])
        if "category" in varying:
            recategorised = np.r_[0, np.diff(varying["category"].astype(np.int32))] != 0
            conflicting = _distinct_sorted(run[~new_key & recategorised])
    firsts = order[np.flatnonzero(new_key)[repeated[:EXAMPLES]]]
    stats = {
        "rows_read": int(n),
        "duplicate_values": int(repeated.size),
        "duplicate_examples": [keys[row].tobytes().hex() for row in firsts],
        "conflicting_values": int(conflicting.size),
    }
    if same_row.any():
        kept = np.flatnonzero(~same_row)
        order, words, new_key = order[kept], np.take(words, kept, axis=0), new_key[kept]
        varying = {k: v.take(kept) for k, v in varying.items()}
    rows = len(order)
    attrs = {k: varying[k] if k in varying else np.full(rows, v[0] if n else 0, v.dtype)
             for k, v in attrs.items()}

    columns = {"hi": np.ascontiguousarray(words[:, 0])}
    columns["bucket"], bits, largest = bucket_index(columns["hi"])
    if buf.length > 8:
        columns["rest"] = np.take(keys[:, 8:], order, axis=0)
    sizes = attrs["size"]
    has_size = sizes != NONE_SIZE
    if has_size.any():
        everywhere = has_size.all()
        known = sizes if everywhere else sizes[has_size]
        dtype = size_dtype(int(known.max()))
        columns["size"] = sizes.astype(dtype)
        if not everywhere:
            columns["size"][~has_size] = np.iinfo(dtype).max
        columns["sizes"] = _distinct_sorted(np.sort(known)).astype(dtype)
    if attrs["category"].any():
        columns["category"] = attrs["category"]
    for name in ("series", "name", "id", "value"):
        if name in attrs and (attrs[name] != NONE32).any():
            columns[name] = attrs[name]
    if (attrs["quality"] != NO_QUALITY).any():
        columns["quality"] = attrs["quality"]
    spec = {
        "rows": rows,
        "key_bytes": buf.length,
        "distinct": int(np.count_nonzero(new_key)),
        "sized": int(has_size.sum()),
        "all_sized": bool(rows and has_size.all()),
        "bucket_bits": bits,
        "bucket_largest": largest,
        "stats": stats,
    }
    return spec, columns
