"""A compiled hash set, opened: metadata, the size prefilter, batch exact lookups, and the
packed vectors the perceptual matcher searches."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, Iterator, List, Optional

import numpy as np

from ..records import SetEntry
from . import store
from .compile import NO_QUALITY, NONE32


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
    problems: int = 0                      # source records that could not be read at import
    stats: Dict[str, dict] = field(default_factory=dict)       # signal -> import statistics

    def to_dict(self) -> dict:
        return asdict(self)


class HashSet:
    def __init__(self, path, verify: bool = True):
        self.path = path
        header, self._arrays, self._mapped = store.open_mapped(path, verify)
        self._specs: Dict[str, dict] = header["signals"]
        self.labels: List[str] = header["labels"]
        self.info = SetInfo(**header["info"])
        self.signals = frozenset(s for s, spec in self._specs.items() if spec["rows"])
        self._vectors: Dict[str, np.ndarray] = {}

    # -- the scan's calls ---------------------------------------------------------------------

    def may_match(self, signal: str, size: int) -> bool:
        spec = self._specs.get(signal)
        if spec is None or not spec["rows"]:
            return False
        if not spec["all_sized"]:
            return True
        sizes = self._arrays[f"{signal}.sizes"]
        if size < 0 or size > int(sizes[-1]):
            return False
        i = int(np.searchsorted(sizes, size))
        return int(sizes[i]) == size

    def lookup(self, signal: str, digests: List[bytes]) -> List[List[SetEntry]]:
        found: List[List[SetEntry]] = [[] for _ in digests]
        if signal not in self.signals or not digests:
            return found
        query, row = self.find(signal, self._query(signal, digests))
        for q, r in zip(query.tolist(), row.tolist()):
            found[q].append(self.entry(signal, r))
        return found

    def vectors(self, signal: str) -> np.ndarray:
        """Every stored value of `signal` as uint8 rows (n, bytes), in the fixed row order that
        `entry(signal, row)` indexes."""
        cached = self._vectors.get(signal)
        if cached is None:
            cached = self._vectors[signal] = self._keys(signal)
        return cached

    def entry(self, signal: str, row: int) -> SetEntry:
        a, prefix = self._arrays, f"{signal}."
        key = self._key_bytes(signal, row)
        value = self.string(int(a[prefix + "value"][row])) if prefix + "value" in a else key.hex()
        size = a.get(prefix + "size")
        size = None if size is None or size[row] == np.iinfo(size.dtype).max else int(size[row])
        code = a.get(prefix + "category")
        quality = a.get(prefix + "quality")
        return SetEntry(
            signal=signal,
            value=value,
            category=None if code is None or not code[row] else self.labels[int(code[row]) - 1],
            series=self._text(prefix + "series", row),
            size=size,
            name=self._text(prefix + "name", row),
            quality=None if quality is None or quality[row] == NO_QUALITY else int(quality[row]),
        )

    def close(self) -> None:
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
        spec = self._specs.get(signal)
        return spec["rows"] if spec else 0

    def spec(self, signal: str) -> dict:
        return self._specs.get(signal, {})

    def column(self, signal: str, name: str) -> Optional[np.ndarray]:
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
            for row in range(self.rows(name)):
                yield self.entry(name, row)

    def find(self, signal: str, query: np.ndarray):
        """Every (query index, row) pair whose digests are equal, vectorised: a binary search on
        the first 8 bytes, then a comparison of the rest for each candidate."""
        hi = self._arrays[f"{signal}.hi"]
        q_hi = np.ascontiguousarray(query[:, :8]).view(">u8").ravel().astype(np.uint64)
        lo = np.searchsorted(hi, q_hi, "left")
        count = np.searchsorted(hi, q_hi, "right") - lo
        q_idx = np.repeat(np.arange(len(query)), count)
        starts = np.repeat(lo - np.cumsum(count) + count, count)
        rows = np.arange(len(q_idx)) + starts
        rest = self._arrays.get(f"{signal}.rest")
        if rest is not None and len(rows):
            equal = np.all(rest[rows] == query[q_idx, 8:], axis=1)
            q_idx, rows = q_idx[equal], rows[equal]
        return q_idx, rows

    def string(self, index: int) -> str:
        offsets = self._arrays["strings.offsets"]
        start, end = int(offsets[index]), int(offsets[index + 1])
        return self._arrays["strings.blob"][start:end].tobytes().decode("utf-8", "surrogatepass")

    # -- internals ----------------------------------------------------------------------------

    def _query(self, signal: str, digests: List[bytes]) -> np.ndarray:
        length = self._specs[signal]["key_bytes"]
        joined = b"".join(digests)
        if len(joined) != length * len(digests) or any(len(d) != length for d in digests):
            raise ValueError(f"{signal} digests must be {length} bytes each")
        return np.frombuffer(joined, np.uint8).reshape(len(digests), length)

    def _keys(self, signal: str) -> np.ndarray:
        hi = self._arrays[f"{signal}.hi"]
        head = hi.astype(">u8").view(np.uint8).reshape(len(hi), 8)
        rest = self._arrays.get(f"{signal}.rest")
        return head if rest is None else np.hstack([head, rest])

    def _key_bytes(self, signal: str, row: int) -> bytes:
        head = int(self._arrays[f"{signal}.hi"][row]).to_bytes(8, "big")
        rest = self._arrays.get(f"{signal}.rest")
        return head if rest is None else head + rest[row].tobytes()

    def _text(self, column: str, row: int) -> Optional[str]:
        col = self._arrays.get(column)
        if col is None or col[row] == NONE32:
            return None
        return self.string(int(col[row]))
