"""Compile a stream of SetEntry values into sorted, packed, de-duplicated columns.

Each signal gets its own columns, sorted by digest so lookups are binary searches:
`hi` (the first 8 digest bytes as a native uint64, so searchsorted runs on plain integers and a
digest ending in 00 compares right), `rest` (the remaining bytes, uint8), and only the
attribute columns the set actually uses: `size` (uint32 when every size fits, else uint64),
`sizes` (the distinct sizes, for the size prefilter), `category` (a code into the set's label
list), `series`, `name` and `value` (indices into one string pool), `quality` (uint8)."""

from __future__ import annotations

import hashlib
from array import array
from typing import Dict, List, Optional

import numpy as np

from .. import signals
from ..records import SetEntry

NONE32 = 0xFFFFFFFF
NO_QUALITY = 255
EXAMPLES = 5


def key_length(signal: str) -> int:
    # Opaque values (PhotoDNA) are not hex: they are keyed by the SHA-256 of their text.
    return signals.get(signal).byte_length() or 32


def size_dtype(largest: int):
    return np.uint32 if largest < NONE32 else np.uint64


class Strings:
    """A pool of distinct strings (series, names, opaque values) referenced by index."""

    def __init__(self):
        self.index: Dict[str, int] = {}

    def add(self, text: Optional[str]) -> int:
        if text is None:
            return NONE32
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.index)
        return found

    def arrays(self) -> Dict[str, np.ndarray]:
        encoded = [s.encode("utf-8", "surrogatepass") for s in self.index]
        offsets = np.zeros(len(encoded) + 1, np.uint64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        return {"strings.offsets": offsets,
                "strings.blob": np.frombuffer(b"".join(encoded), np.uint8)}


class SignalBuffer:
    """Appends of one signal's rows, in compact typed arrays (a Python object per row would
    cost ~20x the memory of the digest itself)."""

    def __init__(self, signal: str):
        self.signal = signal
        self.length = key_length(signal)
        self.opaque = signals.get(signal).hex_length == 0
        self.keys = bytearray()
        self.size = array("Q")
        self.category = array("H")
        self.series = array("I")
        self.name = array("I")
        self.value = array("I")
        self.quality = array("B")


class Compiler:
    def __init__(self):
        self.buffers: Dict[str, SignalBuffer] = {}
        self.labels: Dict[str, int] = {}        # label -> code; code 0 means "no category"
        self.strings = Strings()

    def add(self, entry: SetEntry) -> None:
        buf = self.buffers.get(entry.signal)
        if buf is None:
            buf = self.buffers[entry.signal] = SignalBuffer(entry.signal)
        if buf.opaque:
            buf.keys += hashlib.sha256(entry.value.encode("utf-8", "surrogatepass")).digest()
            buf.value.append(self.strings.add(entry.value))
        else:
            buf.keys += bytes.fromhex(entry.value)
        buf.size.append(NONE_SIZE if entry.size is None else entry.size)
        label = entry.category
        if label is None:
            buf.category.append(0)
        else:
            code = self.labels.get(label)
            if code is None:
                code = self.labels[label] = len(self.labels) + 1
            buf.category.append(code)
        buf.series.append(NONE32 if entry.series is None else self.strings.add(entry.series))
        buf.name.append(NONE32 if entry.name is None else self.strings.add(entry.name))
        buf.quality.append(NO_QUALITY if entry.quality is None else entry.quality)

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
    padded = np.zeros((n, -(-length // 8) * 8), np.uint8)
    padded[:, :length] = keys
    return padded.view(">u8").astype(np.uint64)


def finish_signal(buf: SignalBuffer, cat_dtype):
    n = len(buf.size)
    keys = np.frombuffer(bytes(buf.keys), np.uint8).reshape(n, buf.length)
    words = _words(keys)
    attrs = {
        "size": np.frombuffer(buf.size, np.uint64),
        "category": np.frombuffer(buf.category, np.uint16).astype(cat_dtype),
        "series": np.frombuffer(buf.series, np.uint32),
        "name": np.frombuffer(buf.name, np.uint32),
        "value": np.frombuffer(buf.value, np.uint32) if buf.opaque else None,
        "quality": np.frombuffer(buf.quality, np.uint8),
    }
    attrs = {k: v for k, v in attrs.items() if v is not None}
    sort_keys = [attrs[k] for k in ("quality", "name", "series", "value", "size", "category")
                 if k in attrs]
    order = np.lexsort(sort_keys + [words[:, i] for i in range(words.shape[1] - 1, -1, -1)])
    words = words[order]
    keys = keys[order]
    attrs = {k: v[order] for k, v in attrs.items()}

    # Rows read vs rows kept: identical rows collapse; the same digest under other attributes
    # (another category, name or size) stays as a row of its own.
    new_key = np.ones(n, bool)
    if n > 1:
        new_key[1:] = np.any(words[1:] != words[:-1], axis=1)
    same_row = ~new_key.copy()
    for col in attrs.values():
        same_row[1:] &= col[1:] == col[:-1]
    run = np.cumsum(new_key) - 1
    repeated = np.unique(run[~new_key])
    conflicting = np.unique(run[~new_key & (np.r_[0, np.diff(attrs["category"].astype(np.int32))] != 0)])
    stats = {
        "rows_read": int(n),
        "duplicate_values": int(repeated.size),
        "duplicate_examples": [keys[np.flatnonzero(new_key)[r]].tobytes().hex()
                               for r in repeated[:EXAMPLES]],
        "conflicting_values": int(conflicting.size),
    }
    keep = ~same_row
    keys, words = keys[keep], words[keep]
    attrs = {k: v[keep] for k, v in attrs.items()}
    rows = int(keep.sum())

    columns = {"hi": np.ascontiguousarray(words[:, 0])}
    if buf.length > 8:
        columns["rest"] = np.ascontiguousarray(keys[:, 8:])
    sizes = attrs["size"]
    has_size = sizes != NONE_SIZE
    if has_size.any():
        known = sizes[has_size]
        dtype = size_dtype(int(known.max()))
        stored = sizes.copy()
        stored[~has_size] = np.iinfo(dtype).max
        columns["size"] = stored.astype(dtype)
        columns["sizes"] = np.unique(known).astype(dtype)
    if attrs["category"].any():
        columns["category"] = attrs["category"]
    for name in ("series", "name", "value"):
        if name in attrs and (attrs[name] != NONE32).any():
            columns[name] = attrs[name]
    if (attrs["quality"] != NO_QUALITY).any():
        columns["quality"] = attrs["quality"]
    spec = {
        "rows": rows,
        "key_bytes": buf.length,
        "distinct": int(np.count_nonzero(new_key[keep])),
        "sized": int(has_size.sum()),
        "all_sized": bool(rows and has_size.all()),
        "stats": stats,
    }
    return spec, columns
