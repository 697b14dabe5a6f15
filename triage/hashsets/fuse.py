"""Binary fuse filters (Graf and Lemire, "Binary Fuse Filters: Fast and Smaller Than Xor
Filters", 2022), built and queried with numpy, with fingerprints of any width from 1 to 32 bits.

A filter holds about 1.125 cells a key (3-wise, spatially coupled segments). A key answers
"present" when the XOR of its three cells equals its fingerprint: a key that was added always
does; any other key does with probability 2**-bits (the false-positive rate), because its
fingerprint is uniform and independent of the cells it reads.

Keys come in already hashed to uniform random bits (sealed.py's keyed AES): two 64-bit words
per key. `lo` places the key: XORed with the filter's own seed on the first try (uniform words
need no more, and a lookup then costs ~9 numpy steps less), and after a failed peel mixed with
a new seed (MurmurHash3's finaliser), which re-draws every position: an XOR alone would not,
as two keys equal in the few bits a small filter's positions use share their cells under every
XOR. `hi`, XORed with the seed, gives the fingerprint. Filters of the same keys with different
seeds are unrelated. The Python bindings were not used: pyxorfilter hashes `str(item)`
and has only 8- and 16-bit fingerprints, and 1e-9 needs 30 bits.

Construction peels the 3-hypergraph round by round: every cell holding exactly one key gives
that key up at once (one numpy step a round), then keys are assigned in reverse peeling order,
a round at a time. Within a round no key reads another's free cell, so a whole round is one
vectorised assignment (see `_assign`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

ARITY = 3
MAX_SEGMENT_LENGTH = 1 << 18
MAX_BITS = 32
TRIES = 64           # a failed peel (rare: a few in a thousand for big filters) tries a new seed

_U64 = np.uint64
_M1, _M2 = _U64(0xFF51AFD7ED558CCD), _U64(0xC4CEB9FE1A85EC53)
_MASK64 = (1 << 64) - 1


def mix(words: np.ndarray, seed: int) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser of (word + seed): a bijection that spreads every input
    bit over the output (wrapping arithmetic is intended)."""
    x = words + _U64(seed)
    x ^= x >> _U64(33)
    x *= _M1
    x ^= x >> _U64(33)
    x *= _M2
    x ^= x >> _U64(33)
    return x


def mix_one(word: int, seed: int) -> int:
    """`mix` of one word, in plain integers (one lookup need not pay numpy's per-call cost)."""
    x = (word + seed) & _MASK64
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & _MASK64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & _MASK64
    return x ^ (x >> 33)


@dataclass(frozen=True)
class Shape:
    """A filter's geometry, a function of its key count alone (so a reader can check it)."""

    entries: int
    segment_length: int
    segment_count: int

    @classmethod
    def of(cls, entries: int) -> "Shape":
        if entries <= 1:
            length = 4
        else:
            length = 1 << int(math.floor(math.log(entries) / math.log(3.33) + 2.25))
        length = min(length, MAX_SEGMENT_LENGTH)
        factor = 0 if entries <= 1 else max(1.125, 0.875 + 0.25 * math.log(1e6)
                                             / math.log(entries))
        capacity = 0 if entries <= 1 else round(entries * factor)
        count = max(-(-capacity // length) - (ARITY - 1), 1)
        return cls(entries, length, count)

    @property
    def cells(self) -> int:
        return (self.segment_count + ARITY - 1) * self.segment_length

    @property
    def span(self) -> int:
        """segment_count * segment_length: where a key's first cell may fall."""
        return self.segment_count * self.segment_length


def positions(h: np.ndarray, shape: Shape) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A key's three cells, one in each of three consecutive segments."""
    length = _U64(shape.segment_length)
    mask = _U64(shape.segment_length - 1)
    h0 = ((h >> _U64(32)) * _U64(shape.span)) >> _U64(32)
    h1 = (h0 + length) ^ ((h >> _U64(18)) & mask)
    h2 = (h0 + length + length) ^ (h & mask)
    # Every value is below 2**63: a view as int64, no copy, serves as numpy's index type.
    return h0.view(np.int64), h1.view(np.int64), h2.view(np.int64)


def positions_one(h: int, shape: Shape) -> Tuple[int, int, int]:
    length, mask = shape.segment_length, shape.segment_length - 1
    h0 = ((h >> 32) * shape.span) >> 32
    return h0, (h0 + length) ^ ((h >> 18) & mask), (h0 + 2 * length) ^ (h & mask)


def place(lo: np.ndarray, seed: int, mixed: bool) -> np.ndarray:
    """The words a filter places keys by: the keys' own (uniform) words XORed with the seed
    on the first try, a full mix with the seed on later ones (see the module's note)."""
    return mix(lo, seed) if mixed else lo ^ _U64(seed)


def place_one(lo: int, seed: int, mixed: bool) -> int:
    return mix_one(lo, seed) if mixed else lo ^ seed


def fingerprints(hi: np.ndarray, seed: int, bits: int) -> np.ndarray:
    return ((hi ^ _U64(seed)) >> _U64(64 - bits)).astype(np.uint32)


@dataclass
class Filter:
    shape: Shape
    bits: int
    seed: int
    words: np.ndarray       # the cells, `bits` bits each, packed into little-endian uint64
    mixed: bool = True      # keys placed by mix(lo, seed), else by lo ^ seed
    _cells: Optional[np.ndarray] = None

    CHUNK = 1 << 16         # queries a step: every temporary stays in the CPU's cache

    def contains(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Membership of many keys at once (bool array)."""
        cells = self.cells()
        found = np.empty(len(lo), bool)
        for start in range(0, len(lo), self.CHUNK):
            part = slice(start, start + self.CHUNK)
            a, b, c = positions(place(lo[part], self.seed, self.mixed), self.shape)
            value = cells.take(a) ^ cells.take(b) ^ cells.take(c)
            found[part] = value == fingerprints(hi[part], self.seed, self.bits)
        return found

    def contains_one(self, lo: int, hi: int) -> bool:
        found = 0
        for cell in positions_one(place_one(lo, self.seed, self.mixed), self.shape):
            found ^= cell_value(self.words, cell, self.bits)
        return found == (hi ^ self.seed) >> (64 - self.bits)

    def cells(self) -> np.ndarray:
        """The cells unpacked to one uint32 each (a gather then needs one read a cell, not
        two words and shifts): made on first batch use, kept in this process."""
        if self._cells is None:
            total = self.shape.cells
            out = np.empty(total, np.uint64)
            for start in range(0, total, 1 << 20):
                index = np.arange(start, min(start + (1 << 20), total), dtype=np.uint64)
                out[start:start + len(index)] = cell_values(self.words, index, self.bits)
            self._cells = out.astype(np.uint32)
        return self._cells


def words_needed(cells: int, bits: int) -> int:
    """Packed length in words: one spare word, so a read of a cell's two words never runs
    past the end."""
    return -(-cells * bits // 64) + 1


def cell_values(words: np.ndarray, cells: np.ndarray, bits: int) -> np.ndarray:
    at = cells.astype(np.uint64) * _U64(bits)
    index = (at >> _U64(6)).astype(np.intp)
    offset = at & _U64(63)
    low = words.take(index) >> offset
    # Two shifts: a shift by 64 (offset 0) is undefined in C, and numpy passes it through.
    high = (words.take(index + 1) << _U64(1)) << (_U64(63) - offset)
    return (low | high) & _U64((1 << bits) - 1)


def cell_value(words: np.ndarray, cell: int, bits: int) -> int:
    at = cell * bits
    index, offset = at >> 6, at & 63
    value = int(words[index]) >> offset
    if offset + bits > 64:
        value |= int(words[index + 1]) << (64 - offset)
    return value & ((1 << bits) - 1)


def pack(cells: np.ndarray, bits: int) -> np.ndarray:
    """Cells (uint64 values below 2**bits) as a bit stream, cell i at bits [i*bits, ...)."""
    out = np.zeros(words_needed(len(cells), bits) * 8, np.uint8)
    step = 1 << 20                       # a bounded slice at a time: bits * step bytes of bools
    for start in range(0, len(cells), step):
        chunk = cells[start:start + step]
        spread = ((chunk[:, None] >> np.arange(bits, dtype=np.uint64)) & _U64(1)).astype(np.uint8)
        packed = np.packbits(spread.ravel(), bitorder="little")
        # Each slice starts on a byte boundary only when start * bits is a multiple of 8:
        # slices are 2**20 cells, so it always is.
        first = start * bits // 8
        out[first:first + len(packed)] |= packed
    return out.view("<u8").astype(np.uint64)


def build(lo: np.ndarray, hi: np.ndarray, bits: int, seeds) -> Filter:
    """A filter of the distinct keys (lo, hi). `seeds` yields candidate seeds (random ones);
    raises ValueError if none of TRIES seeds peels (never seen; keys that repeat would)."""
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"fingerprints of {bits} bits: 1 to {MAX_BITS} are supported")
    shape = Shape.of(len(lo))
    for attempt in range(TRIES):
        seed, mixed = int(next(seeds)), attempt > 0
        cells = positions(place(lo, seed, mixed), shape)
        order = _peel(cells, shape.cells)
        if order is None:
            continue
        values = _assign(cells, order, fingerprints(hi, seed, bits), shape.cells)
        return Filter(shape, bits, seed, pack(values, bits), mixed)
    raise ValueError(f"could not build a filter of {len(lo)} keys in {TRIES} tries "
                     f"(repeated keys?)")


def _peel(cells, size: int) -> Optional[List[Tuple[np.ndarray, np.ndarray]]]:
    """Rounds of (keys, the cell each was peeled from), or None when some keys cannot be
    peeled (a 2-core remains). Per cell: how many keys are left in it, and the sum of their
    ids (where one is left, its id). Sums rather than the usual XOR, and no np.unique: numpy's
    add.at has a fast path that its bitwise_xor.at and unique lack (10x and 60x here)."""
    a, b, c = cells
    n = len(a)
    flat = np.concatenate([a, b, c])
    count = np.bincount(flat, minlength=size).astype(np.int64)
    alone = np.zeros(size, np.int64)
    np.add.at(alone, flat, np.tile(np.arange(n, dtype=np.int64), 3))
    del flat
    stamp = np.full(n, -1, np.int64)
    queue = np.flatnonzero(count == 1)
    rounds, peeled = [], 0
    while len(queue):
        ids = alone[queue]
        # A key alone in two of its cells at once is peeled once, from the last one seen.
        stamp[ids] = np.arange(len(ids))
        keep = stamp[ids] == np.arange(len(ids))
        ids, free = ids[keep], queue[keep]
        rounds.append((ids, free))
        peeled += len(ids)
        touched = np.concatenate([a[ids], b[ids], c[ids]])
        np.add.at(count, touched, np.full(len(touched), -1, np.int64))
        np.add.at(alone, touched, -np.tile(ids, 3))
        queue = touched[count[touched] == 1]
    return rounds if peeled == n else None


def _assign(cells, order, prints: np.ndarray, size: int) -> np.ndarray:
    """Cell values such that each key's three cells XOR to its fingerprint. Keys are set in
    the reverse of the order they were peeled: a key's other two cells are then final (every
    key peeled after it is set, and none peeled before it touches its cells), and its free
    cell is still zero. Keys of one round have distinct free cells and none reads another's
    free cell (that cell held only its own key), so a round is set in one step."""
    a, b, c = cells
    values = np.zeros(size, np.uint64)
    for ids, free in reversed(order):
        values[free] = prints[ids] ^ values[a[ids]] ^ values[b[ids]] ^ values[c[ids]]
    return values
