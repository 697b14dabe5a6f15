"""Sealed sets: a set whose exact digests cannot be read back, only tested.

Each exact signal (md5, sha1, sha256, ...) of each category becomes one binary fuse filter
(fuse.py) of keyed fingerprints: a digest is first turned into 128 pseudo-random bits by
AES-128 under a key drawn at random for this sealed set (CBC-MAC over the digest's fixed
length: a pseudo-random function), and only those bits place and fingerprint it. The filter
stores XORs of fingerprints, so the file holds no digest and no function of one that could be
listed; what it can do is answer "is this digest in category C", wrongly "yes" at the design
false-positive rate (2**-bits per filter asked). The key is stored in the set: whoever holds
it can test any digest they have (a file they hold, a list they hold), as the scan does. The
same list sealed twice gives unrelated bytes (another key, other seeds).

Perceptual hashes (PDQ, pHash, ...) are not reversible to pictures and stay as compiled
(without the entries' file names); opaque values (PhotoDNA) are dropped, as they cannot be
computed here and PhotoDNA hashes have been shown to be partly invertible. Sizes are kept for
the scan's prefilter only when asked (`--keep-sizes`): a list of file sizes says little, but
it is something. See docs/fieldkit.md, "What a sealed set reveals".

Block digests (`hashset build --blocks`) are sealed too (SealedBlocks), so a sealed set still
serves `scan --blocks` and `--sample`. Each block's 16-byte key (XXH3-64 and BLAKE2b-64 of its
bytes) is known only through the same keyed function: a binary fuse filter of the keyed XXH3
halves (PREFILTER_BITS wide: the sweep asks it of every window of the media), then, for a
window it lets through, a 128-bit keyed tag of the full key, which must equal a stored one: a
confirmation as strong as the compiled set's comparison of the 128-bit key. The reference
file's MD5 and the block's number, which a fragment reports, are stored encrypted under a pad
drawn from the same keyed function of the block's key: readable by whoever holds the block's
bytes, and by no one else. Every input to the keyed function is 32 bytes (what is hashed, then
a domain byte and a counter), so CBC-MAC stays a pseudo-random function across its uses."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, replace
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from .. import signals
from ..errors import HashSetError
from . import fuse, store
from .blockindex import SIGNAL as BLOCKS, BlockRef, parse_id
from .compile import NONE32, Strings

FORM = "sealed"
KEY_BYTES = 16
DEFAULT_FPR = 1e-9
BLOCK = 16
# Columns of a perceptual signal that a sealed set keeps (never `name`: a set's file names can
# describe the pictures).
KEPT_COLUMNS = ("hi", "bucket", "rest", "size", "sizes", "category", "series", "id", "quality",
                "value")
STRING_COLUMNS = ("series", "id", "value")   # value: a vpdq frame line
# The block prefilter's fingerprint width: one window of the media in 65,536 that holds no
# listed block goes on to the full key's confirmation (a BLAKE2b and a tag lookup).
PREFILTER_BITS = 16
# What follows the hashed bytes in the keyed function's 32-byte input, by use.
PREFILTER, TAG, PAD_LOW, PAD_HIGH = 1, 2, 3, 4
PAYLOAD = 32     # md5 (16), block number (u32), file size (u64), category code (u16), 0 (u16)
NO_SIZE = (1 << 64) - 1


def bits_for(fpr: float) -> int:
    """Fingerprint bits whose false-positive rate (2**-bits) is at most `fpr`."""
    if not 2.0 ** -fuse.MAX_BITS <= fpr <= 0.5:
        raise ValueError(f"false-positive rate {fpr:g} is outside {2.0 ** -fuse.MAX_BITS:.2g} "
                         f"to 0.5")
    return max(1, math.ceil(-math.log2(fpr) - 1e-12))


class Keyed:
    """The keyed pseudo-random function: digest -> (lo, hi), two 64-bit words."""

    def __init__(self, key: bytes):
        if len(key) != KEY_BYTES:
            raise ValueError("a sealed set's key is 16 bytes")
        # `cryptography` is loaded only for a sealed set
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())
        self._one = None          # (process id, encryptor) for one digest at a time

    def words(self, digests: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """CBC-MAC of each row of `digests` (uint8, n x length, zero-padded to whole blocks):
        a block column at a time, so each step is one AES pass over every row."""
        n, length = digests.shape
        blocks = -(-length // BLOCK)
        padded = np.zeros((n, blocks * BLOCK), np.uint8)
        padded[:, :length] = digests
        encrypt = self._cipher.encryptor()
        if length == BLOCK:           # MD5: one block, no padding, no chaining
            pair = np.frombuffer(encrypt.update(np.ascontiguousarray(digests).data), "<u8")
            return pair[0::2].astype(np.uint64), pair[1::2].astype(np.uint64)
        state = np.zeros((n, BLOCK), np.uint8)
        for b in range(blocks):
            state = state ^ padded[:, b * BLOCK:(b + 1) * BLOCK]
            state = np.frombuffer(encrypt.update(state.tobytes()), np.uint8).reshape(n, BLOCK)
        pair = state.view("<u8")
        return pair[:, 0].astype(np.uint64), pair[:, 1].astype(np.uint64)

    def words_one(self, digest: bytes) -> Tuple[int, int]:
        # ECB keeps no state between blocks: one encryptor serves every call of a process
        # (made again after a fork, as OpenSSL contexts are not shared across processes).
        if self._one is None or self._one[0] != os.getpid():
            self._one = (os.getpid(), self._cipher.encryptor())
        encrypt = self._one[1]
        state = bytes(BLOCK)
        padded = digest + bytes(-len(digest) % BLOCK)
        for b in range(0, len(padded), BLOCK):
            state = encrypt.update(bytes(x ^ y for x, y in zip(state, padded[b:b + BLOCK])))
        return int.from_bytes(state[:8], "little"), int.from_bytes(state[8:], "little")


# -- sealing ----------------------------------------------------------------------------------

def seal(hs, output, fpr: float = DEFAULT_FPR, keep_sizes: bool = False,
         key: Optional[bytes] = None) -> dict:
    """Write a sealed copy of the open set `hs` to `output`; returns the sealed set's info."""
    if hs.sealed is not None:
        raise HashSetError(f"{hs.path}: already sealed")
    bits = bits_for(fpr)
    key = os.urandom(KEY_BYTES) if key is None else key
    keyed = Keyed(key)
    seeds = _seeds()
    strings = Strings()
    arrays: Dict[str, np.ndarray] = {}
    sealed_specs: Dict[str, dict] = {}
    kept_specs: Dict[str, dict] = {}
    categories: Dict[str, int] = {}
    counts: Dict[str, int] = {}
    sized: Dict[str, int] = {}
    labels = [None] + list(hs.labels)
    blocks: Optional[dict] = None
    for signal in sorted(hs.signals):
        kind = signals.get(signal).kind
        if kind == "exact":
            spec = _seal_signal(hs, signal, keyed, bits, seeds, keep_sizes, arrays)
            sealed_specs[signal] = spec
            counts[signal] = hs.info.signals.get(signal, 0)
            if spec["prefilter"]:
                sized[signal] = hs.info.sized.get(signal, 0)
            for f in spec["filters"]:
                label = labels[f["category"]]
                if label is not None:
                    categories[label] = categories.get(label, 0) + f["entries"]
        elif kind in ("perceptual", "video"):
            spec = hs.spec(signal)
            if not keep_sizes:
                spec = dict(spec, sized=0, all_sized=False)
            kept_specs[signal] = spec
            _keep_signal(hs, signal, strings, arrays, keep_sizes)
            counts[signal] = hs.info.signals.get(signal, 0)
            if keep_sizes and signal in hs.info.sized:
                sized[signal] = hs.info.sized[signal]
            code = hs.column(signal, "category")
            if code is not None:
                for c, n in zip(*np.unique(code, return_counts=True)):
                    if c:
                        categories[labels[c]] = categories.get(labels[c], 0) + int(n)
        elif kind == "block":
            blocks = _seal_blocks(hs, keyed, seeds, arrays)
            counts[signal] = hs.info.signals.get(signal, 0)
            for code, n in blocks.pop("categories").items():
                if code:
                    categories[labels[code]] = categories.get(labels[code], 0) + n
        # opaque signals (PhotoDNA) are left out: see the module's note
    arrays.update(strings.arrays())
    entries = sum(f["entries"] for s in sealed_specs.values() for f in s["filters"]) + \
        sum(spec["rows"] for spec in kept_specs.values()) + \
        (blocks["entries"] if blocks is not None else 0)
    info = replace(
        hs.info, entries=entries, signals=counts, sized=sized,
        categories={k: categories[k] for k in sorted(categories)},
        stats={s: dict(v, duplicate_examples=[]) for s, v in hs.info.stats.items()
               if s in counts},
        signer=None,
        sealed={"fingerprint_bits": bits, "false_positive_rate": 2.0 ** -bits,
                "requested_rate": fpr, "sizes_kept": bool(keep_sizes),
                **({"block_prefilter_bits": PREFILTER_BITS} if blocks is not None else {})})
    header = {"form": FORM, "info": asdict(info), "labels": list(hs.labels),
              "signals": kept_specs,
              "sealed": {"key": key.hex(), "bits": bits, "signals": sealed_specs}}
    if blocks is not None:
        header["sealed"]["blocks"] = blocks
    store.write(output, header, arrays)
    return header["info"]


def _seeds() -> Iterator[int]:
    rng = np.random.default_rng(int.from_bytes(os.urandom(16), "little"))
    while True:
        yield int(rng.integers(0, 1 << 63))


def _seal_signal(hs, signal, keyed: Keyed, bits: int, seeds, keep_sizes: bool,
                 arrays: Dict[str, np.ndarray]) -> dict:
    """One exact signal's filters (one a category, its distinct digests), their cells into
    `arrays`; returns the signal's sealed spec."""
    keys = hs.vectors(signal)
    codes = hs.column(signal, "category")
    codes = np.zeros(len(keys), np.uint16) if codes is None else np.asarray(codes)
    lo, hi = keyed.words(keys)
    filters = []
    for number, code in enumerate(np.unique(codes).tolist()):
        rows = np.flatnonzero(codes == code)
        # Rows are sorted by digest: a digest listed twice in one category is in adjacent rows.
        mine = keys[rows]
        distinct = np.ones(len(rows), bool)
        distinct[1:] = np.any(mine[1:] != mine[:-1], axis=1)
        rows = rows[distinct]
        built = fuse.build(lo[rows], hi[rows], bits, seeds)
        arrays[f"sealed.{signal}.{number}"] = built.words
        filters.append({"category": int(code), "entries": len(rows), "seed": built.seed,
                        "mixed": built.mixed,
                        "segment_length": built.shape.segment_length,
                        "segment_count": built.shape.segment_count})
    prefilter = bool(keep_sizes and hs.spec(signal).get("all_sized"))
    if prefilter:
        arrays[f"sealed.{signal}.sizes"] = np.asarray(hs.column(signal, "sizes"))
    return {"prefilter": prefilter, "filters": filters}


def _inputs(head: np.ndarray, use: int, counter: Optional[np.ndarray] = None) -> np.ndarray:
    """The keyed function's 32-byte inputs: `head` (n, <= 16 bytes) zero-padded to 16, then
    the use and a 32-bit counter (little-endian)."""
    rows = np.zeros((len(head), 32), np.uint8)
    rows[:, :head.shape[1]] = head
    rows[:, 16] = use
    if counter is not None:
        rows[:, 17:21] = counter.astype("<u4").view(np.uint8).reshape(-1, 4)
    return rows


def _words(keyed: Keyed, rows: np.ndarray) -> np.ndarray:
    """The keyed function of each row as 16 bytes (n, 16)."""
    lo, hi = keyed.words(rows)
    return np.stack([lo, hi], axis=1).astype("<u8").view(np.uint8).reshape(len(rows), 16)


def _pads(keyed: Keyed, keys: np.ndarray, ordinals: np.ndarray) -> np.ndarray:
    """The 32-byte pad of each (block key, ordinal among the records of that key)."""
    return np.hstack([_words(keyed, _inputs(keys, PAD_LOW, ordinals)),
                      _words(keyed, _inputs(keys, PAD_HIGH, ordinals))])


def quick_bytes(quick: np.ndarray) -> np.ndarray:
    """XXH3 halves (uint64) as the big-endian bytes a block key starts with."""
    return np.ascontiguousarray(quick, dtype=np.uint64).astype(">u8").view(np.uint8) \
        .reshape(len(quick), 8)


def _seal_blocks(hs, keyed: Keyed, seeds, arrays: Dict[str, np.ndarray]) -> dict:
    """The block digests' prefilter, tags and encrypted references into `arrays`; returns
    their spec (with `categories`: entries per category code, taken out by the caller)."""
    keys = hs.vectors(BLOCKS)
    n = len(keys)
    entries = hs.entries(BLOCKS, np.arange(n))
    codes = hs.column(BLOCKS, "category")
    codes = np.zeros(n, np.uint16) if codes is None else np.asarray(codes, np.uint16)
    payload = np.zeros((n, PAYLOAD), np.uint8)
    for row, entry in enumerate(entries):
        parsed = parse_id(entry.id)
        if parsed is None:
            raise HashSetError(f"{hs.path}: block entry {row} does not name its reference file "
                               f"(MD5:block number): the set cannot be sealed")
        md5, index = parsed
        payload[row, :16] = np.frombuffer(bytes.fromhex(md5), np.uint8)
        payload[row, 16:20] = np.frombuffer(index.to_bytes(4, "little"), np.uint8)
        size = NO_SIZE if entry.size is None else entry.size
        payload[row, 20:28] = np.frombuffer(size.to_bytes(8, "little"), np.uint8)
        payload[row, 28:30] = np.frombuffer(int(codes[row]).to_bytes(2, "little"), np.uint8)
    # Rows are sorted by key: the records of one key are adjacent; each gets its own ordinal,
    # so no two records share a pad.
    first = np.ones(n, bool)
    first[1:] = np.any(keys[1:] != keys[:-1], axis=1)
    starts = np.flatnonzero(first)
    ordinals = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    cipher = payload ^ _pads(keyed, keys, ordinals)
    tags = _words(keyed, _inputs(keys, TAG)).view("<u8")
    order = np.lexsort((ordinals, tags[:, 1], tags[:, 0]))
    arrays["sealed.block.tag_lo"] = np.ascontiguousarray(tags[order, 0]).astype(np.uint64)
    arrays["sealed.block.tag_hi"] = np.ascontiguousarray(tags[order, 1]).astype(np.uint64)
    arrays["sealed.block.payload"] = np.ascontiguousarray(cipher[order])
    quick = np.unique(keys[:, :8].copy().view(">u8").ravel()).astype(np.uint64)
    lo, hi = keyed.words(_inputs(quick_bytes(quick), PREFILTER))
    built = fuse.build(lo, hi, PREFILTER_BITS, seeds)
    arrays["sealed.block.prefilter"] = built.words
    used, per = np.unique(codes, return_counts=True)
    return {"entries": n, "distinct": len(quick), "bits": PREFILTER_BITS, "seed": built.seed,
            "mixed": built.mixed, "segment_length": built.shape.segment_length,
            "segment_count": built.shape.segment_count,
            "categories": dict(zip(used.tolist(), per.tolist()))}


def _keep_signal(hs, signal: str, strings: Strings, arrays: Dict[str, np.ndarray],
                 keep_sizes: bool) -> None:
    """A perceptual signal's compiled columns (sizes only when asked), its strings moved to
    the sealed set's own pool (the source pool also holds names and the strings of sealed
    signals)."""
    for column in KEPT_COLUMNS:
        values = hs.column(signal, column)
        if values is None or (column in ("size", "sizes") and not keep_sizes):
            continue
        if column in STRING_COLUMNS:
            texts = (None if i == NONE32 else hs.string(i) for i in values.tolist())
            values = strings.add_many(texts, len(values))
        arrays[f"{signal}.{column}"] = np.asarray(values)


# -- reading ----------------------------------------------------------------------------------

class SealedSignals:
    """The sealed part of an opened set: per exact signal, its filters (one a category) and
    the sizes its prefilter may use."""

    def __init__(self, header: dict, arrays: Dict[str, np.ndarray]):
        sealed = header["sealed"]
        self.bits = sealed["bits"]
        self.rate = 2.0 ** -self.bits
        self._keyed = Keyed(bytes.fromhex(sealed["key"]))
        self.filters: Dict[str, List[Tuple[int, fuse.Filter]]] = {}
        self.sizes: Dict[str, np.ndarray] = {}
        for signal, spec in sealed["signals"].items():
            self.filters[signal] = [
                (f["category"], fuse.Filter(
                    fuse.Shape(f["entries"], f["segment_length"], f["segment_count"]),
                    self.bits, f["seed"], arrays[f"sealed.{signal}.{i}"], f["mixed"]))
                for i, f in enumerate(spec["filters"])]
            if spec["prefilter"]:
                self.sizes[signal] = arrays[f"sealed.{signal}.sizes"]

        spec = sealed.get("blocks")
        self.blocks = (SealedBlocks(spec, arrays, self._keyed, header["labels"])
                       if spec is not None and spec["entries"] else None)

    @property
    def signals(self) -> frozenset:
        return frozenset([s for s, filters in self.filters.items()
                          if any(f.shape.entries for _, f in filters)]
                         + ([BLOCKS] if self.blocks is not None else []))

    def refuses(self, signal: str) -> bool:
        """Whether `signal` is sealed here (its values cannot be listed)."""
        return signal in self.filters or (signal == BLOCKS and self.blocks is not None)

    def find(self, signal: str, digests: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Every (query index, category code) whose filter says "in", vectorised, in query
        order: the batch API."""
        if not len(digests) or signal not in self.filters:
            return np.zeros(0, np.intp), np.zeros(0, np.uint16)
        lo, hi = self._keyed.words(digests)
        queries, codes = [], []
        for code, f in self.filters[signal]:
            q = np.flatnonzero(f.contains(lo, hi))
            queries.append(q)
            codes.append(np.full(len(q), code, np.uint16))
        query, code = np.concatenate(queries), np.concatenate(codes)
        order = np.argsort(query, kind="stable")
        return query[order], code[order]

    def codes_one(self, signal: str, digest: bytes) -> List[int]:
        lo, hi = self._keyed.words_one(digest)
        return [code for code, f in self.filters.get(signal, ()) if f.contains_one(lo, hi)]


class SealedBlocks:
    """A sealed set's block digests, answering blockindex's two questions: which windows may
    hold a listed block (the prefilter), and which reference files' blocks the full keys of
    those are (a tag that must match, and the reference decrypted with the block's pad)."""

    def __init__(self, spec: dict, arrays: Dict[str, np.ndarray], keyed: Keyed, labels):
        self._keyed = keyed
        self._labels = [None] + list(labels)
        self.prefilter = fuse.Filter(
            fuse.Shape(spec["distinct"], spec["segment_length"], spec["segment_count"]),
            spec["bits"], spec["seed"], arrays["sealed.block.prefilter"], spec["mixed"])
        self.rate = 2.0 ** -spec["bits"]
        self._tag_lo = arrays["sealed.block.tag_lo"]
        self._tag_hi = arrays["sealed.block.tag_hi"]
        self._payload = arrays["sealed.block.payload"]

    def candidates(self, quick: np.ndarray) -> np.ndarray:
        if not len(quick):
            return np.zeros(0, np.intp)
        lo, hi = self._keyed.words(_inputs(quick_bytes(quick), PREFILTER))
        return np.flatnonzero(self.prefilter.contains(lo, hi))

    def confirm(self, keys) -> List[Tuple[int, BlockRef]]:
        if not len(keys):
            return []
        asked = np.frombuffer(b"".join(keys), np.uint8).reshape(len(keys), 16)
        tags = _words(self._keyed, _inputs(asked, TAG)).view("<u8")
        start = np.searchsorted(self._tag_lo, tags[:, 0], "left")
        end = np.searchsorted(self._tag_lo, tags[:, 0], "right")
        out = []
        for q in np.flatnonzero(end > start).tolist():
            rows = [r for r in range(int(start[q]), int(end[q]))
                    if self._tag_hi[r] == tags[q, 1]]
            if not rows:
                continue
            pads = _pads(self._keyed, asked[[q] * len(rows)], np.arange(len(rows)))
            for row, pad in zip(rows, pads):
                ref = self._reference(self._payload[row] ^ pad)
                if ref is not None:
                    out.append((q, ref))
        return out

    def _reference(self, plain: np.ndarray) -> Optional[BlockRef]:
        """The decrypted record; None for one that does not decrypt to a record (a crafted
        or damaged set: never a match)."""
        raw = plain.tobytes()
        code = int.from_bytes(raw[28:30], "little")
        if raw[30:] != b"\0\0" or code >= len(self._labels):
            return None
        size = int.from_bytes(raw[20:28], "little")
        return BlockRef(self._labels[code], raw[:16].hex(), int.from_bytes(raw[16:20], "little"),
                        None if size == NO_SIZE else size)


def refuse(path, signal: str) -> HashSetError:
    return HashSetError(f"{path}: a sealed set cannot list, diff or export its {signal} "
                        f"digests: it only answers whether a digest is in it")
