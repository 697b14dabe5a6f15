"""Every structural field of a compiled set checked on open, so that a file whose checksums are
valid but whose header was crafted (or written by a bug) is refused in one line instead of
failing later with a KeyError, a negative shift or an index out of range. The checksums prove
that the bytes are the ones written; this proves that what was written is a set.

Checked: the header's shape and the type of every field (SetInfo, labels, per-signal specs,
statistics); every array's dtype, shape and bounds (store.py maps them); per signal, that the
columns have one row per entry, the digest words are sorted and the bucket index is exactly
the one compile.bucket_index makes of them (each start proved by its neighbours); label codes
within the labels; string indices within the pool, and the pool's offsets and UTF-8. Costs a
few passes over the digest words (tens of ms at 10 million entries).

A sealed set (sealed.py) is checked the same way: its key, its fingerprint width, and per
sealed signal each filter's category, seed and geometry (which must be the one its entry count
gives) and the length of its packed cells; its prefilter sizes sorted and distinct; its sealed
block digests' prefilter (likewise), tags (sorted) and one encrypted record a tag."""

from __future__ import annotations

import dataclasses
from typing import Dict

import numpy as np

from .. import signals
from ..errors import HashSetError
from . import fuse
from .compile import NONE32, bucket_bits, key_length

# The unsigned integer dtypes compile writes, as numpy spells them in the header.
U1, U2, U4, U8 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
COLUMN_DTYPES = {
    "hi": {U8}, "bucket": {U4, U8}, "rest": {U1}, "size": {U4, U8}, "sizes": {U4, U8},
    "category": {U1, U2}, "series": {U4}, "name": {U4}, "id": {U4}, "value": {U4},
    "quality": {U1},
}
SPEC_FIELDS = {"rows": int, "key_bytes": int, "distinct": int, "sized": int, "all_sized": bool,
               "bucket_bits": int, "bucket_largest": int}
STATS_FIELDS = {"rows_read": int, "duplicate_values": int, "duplicate_examples": list,
                "conflicting_values": int}


class Inconsistent(ValueError):
    pass


def _need(condition, what: str) -> None:
    if not condition:
        raise Inconsistent(what)


def _typed(value, kind, what: str) -> None:
    # bool is an int to isinstance; a count must be a real int and a flag a real bool.
    ok = type(value) is kind if kind in (int, bool) else isinstance(value, kind)
    _need(ok, f"{what} is not {'a whole number' if kind is int else kind.__name__}")
    if kind is int:
        _need(value >= 0, f"{what} is negative")


def check(path, header, arrays: Dict[str, np.ndarray], info_type) -> None:
    """Raise HashSetError naming what is inconsistent; return when the set is sound."""
    try:
        _check(header, arrays, info_type)
    except Inconsistent as exc:
        raise HashSetError(f"{path}: compiled set is inconsistent: {exc}") from None


def _check(header, arrays, info_type) -> None:
    _need(isinstance(header, dict), "the header is not an object")
    for key, kind in (("info", dict), ("signals", dict), ("labels", list), ("arrays", dict)):
        _need(isinstance(header.get(key), kind), f"header field {key} is missing or wrong")
    labels = header["labels"]
    _need(all(isinstance(x, str) for x in labels), "a category label is not text")
    _check_info(header["info"], info_type)
    strings = _check_strings(arrays)
    expected = {"strings.offsets", "strings.blob"}
    for signal, spec in header["signals"].items():
        expected |= _check_signal(signal, spec, arrays, len(labels), strings)
    form = header.get("form")
    _need(form in (None, "sealed"), "the set is of a form this triage does not know")
    _need((form == "sealed") == (header["info"].get("sealed") is not None),
          "the set's info and its form disagree on whether it is sealed")
    if form == "sealed":
        expected |= _check_sealed(header.get("sealed"), header["signals"], arrays, len(labels))
    unknown = set(arrays) - expected
    _need(not unknown, f"{len(unknown)} array(s) no signal uses")


def _check_info(info: dict, info_type) -> None:
    fields = {f.name: f for f in dataclasses.fields(info_type)}
    _need(set(info) <= set(fields), "the set's info has fields this triage does not know")
    required = {n for n, f in fields.items() if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING}
    _need(required <= set(info), "the set's info lacks a required field")
    for name, kind in (("name", str), ("kind", str), ("imported", str), ("tool_version", str),
                       ("category_scheme", str), ("entries", int), ("problems", int),
                       ("records", int), ("skipped", int)):
        if name in info:
            _typed(info[name], kind, f"info.{name}")
    _need(info.get("version") is None or isinstance(info["version"], str),
          "info.version is not text")
    _need(info["kind"] in ("alert", "known-good"), "info.kind is neither alert nor known-good")
    for name in ("signals", "categories", "thresholds", "sized"):
        value = info.get(name, {})
        _need(isinstance(value, dict), f"info.{name} is not an object")
        for key, count in value.items():
            _typed(count, int, f"a count in info.{name}")
    sources = info.get("sources")
    _need(isinstance(sources, list), "info.sources is not a list")
    for source in sources:
        _need(isinstance(source, dict) and isinstance(source.get("path"), str)
              and isinstance(source.get("format"), str)
              and (source.get("sha256") is None or isinstance(source.get("sha256"), str)),
              "a source in info.sources lacks its path, format or digest")
    _need(type(info.get("fingerprinted", False)) is bool, "info.fingerprinted is not true or false")
    _need(info.get("signer") is None or isinstance(info["signer"], str),
          "info.signer is not text")
    sealed = info.get("sealed")
    _need(sealed is None or (isinstance(sealed, dict)
                             and type(sealed.get("fingerprint_bits")) is int
                             and type(sealed.get("false_positive_rate")) is float
                             and isinstance(sealed.get("sizes_kept"), bool)),
          "info.sealed is malformed")
    stats = info.get("stats", {})
    _need(isinstance(stats, dict), "info.stats is not an object")
    for signal, values in stats.items():
        _need(isinstance(values, dict), "info.stats holds something other than objects")
        for name, kind in STATS_FIELDS.items():
            if name in values:
                _typed(values[name], kind, f"info.stats.{name}")
        _need(all(isinstance(x, str) for x in values.get("duplicate_examples", [])),
              "a duplicate example is not text")


def _check_strings(arrays) -> int:
    offsets, blob = arrays.get("strings.offsets"), arrays.get("strings.blob")
    _need(offsets is not None and blob is not None, "the string pool is missing")
    _need(offsets.dtype == U8 and offsets.ndim == 1 and len(offsets) >= 1,
          "the string pool's offsets are malformed")
    _need(blob.dtype == U1 and blob.ndim == 1, "the string pool is malformed")
    _need(offsets[0] == 0 and offsets[-1] == len(blob) and
          (len(offsets) < 2 or (np.diff(offsets.astype(np.int64)) >= 0).all()),
          "the string pool's offsets do not run through it in order")
    data = blob.tobytes()
    try:
        data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise Inconsistent("the string pool is not UTF-8") from None
    starts = offsets[:-1][offsets[:-1] < offsets[1:]].astype(np.intp)
    _need(not ((blob.take(starts) & 0xC0) == 0x80).any(),
          "a string of the pool starts inside a character")
    return len(offsets) - 1


def _check_signal(signal, spec, arrays, labels: int, strings: int) -> set:
    _need(isinstance(signal, str) and signal in signals.SIGNALS,
          "a signal this triage does not know")
    _need(isinstance(spec, dict), f"{signal}: its spec is not an object")
    for name, kind in SPEC_FIELDS.items():
        _need(name in spec, f"{signal}: spec lacks {name}")
        _typed(spec[name], kind, f"{signal}.{name}")
    rows = spec["rows"]
    _need(spec["key_bytes"] == key_length(signal), f"{signal}: digest length is wrong")
    _need(spec["distinct"] <= rows and spec["sized"] <= rows,
          f"{signal}: more distinct or sized values than rows")
    names = {f"{signal}.{c}" for c in COLUMN_DTYPES if f"{signal}.{c}" in arrays}

    def column(name, rows_=rows, width=None):
        array = arrays.get(f"{signal}.{name}")
        if array is None:
            return None
        _need(array.dtype in COLUMN_DTYPES[name], f"{signal}.{name} has the wrong type")
        shape = (rows_,) if width is None else (rows_, width)
        _need(array.shape == shape, f"{signal}.{name} has the wrong shape")
        return array

    hi = column("hi")
    _need(hi is not None, f"{signal}: digest words missing")
    _need(not len(hi) or (hi[1:] >= hi[:-1]).all(), f"{signal}: digests are not sorted")
    bucket = arrays.get(f"{signal}.bucket")
    _need(bucket is not None and bucket.dtype in COLUMN_DTYPES["bucket"] and bucket.ndim == 1,
          f"{signal}: bucket index missing or malformed")
    bits = bucket_bits(len(hi))
    _need(spec["bucket_bits"] == bits
          and spec["bucket_largest"] == _bucket_largest(hi, bucket, bits),
          f"{signal}: the bucket index does not match the digests")
    rest_width = spec["key_bytes"] - 8
    rest = column("rest", width=rest_width) if rest_width > 0 else None
    _need((rest is not None) == (rest_width > 0), f"{signal}: digest tails missing or extra")
    size, sizes = column("size"), arrays.get(f"{signal}.sizes")
    _need((size is None) == (sizes is None), f"{signal}: sizes without their index")
    if sizes is not None:
        _need(sizes.dtype == size.dtype and sizes.ndim == 1, f"{signal}.sizes is malformed")
        _need(not len(sizes) or (sizes[1:] > sizes[:-1]).all(),
              f"{signal}.sizes is not sorted and distinct")
    _need(not spec["all_sized"] or (sizes is not None and len(sizes) and rows),
          f"{signal}: said to be sized throughout, without sizes")
    category = column("category")
    _need(category is None or not rows or int(category.max()) <= labels,
          f"{signal}: a category code beyond the labels")
    for name in ("series", "name", "id", "value"):
        codes = column(name)
        if codes is not None and rows:
            used = codes[codes != NONE32]
            _need(not len(used) or int(used.max()) < strings,
                  f"{signal}.{name}: a string index beyond the pool")
    kept = signals.get(signal).keeps_value
    _need((arrays.get(f"{signal}.value") is not None) == (kept and rows > 0),
          f"{signal}: stored values missing or extra")
    column("quality")
    return names


def _bucket_largest(hi: np.ndarray, starts: np.ndarray, bits: int) -> int:
    """The fullest bucket of `starts` where it is the index compile.bucket_index makes of the
    sorted words `hi` (the rows whose top `bits` bits are b start at starts[b]), else -1.
    Each start is proved by its neighbours alone: the word at it is in its bucket or a later
    one, the word before it in an earlier one. A bucket a few words, not a search a bucket:
    0.8 ms of a million words where making the index again took 4 (two of them in every
    scan's start)."""
    n = len(hi)
    if len(starts) != (1 << bits) + 1 or starts[0] != 0 or starts[-1] != n:
        return -1
    sizes = np.diff(starts.astype(np.int64))   # a start past 2**63 turns negative here
    if (sizes < 0).any():
        return -1
    if n:   # every start within 0..n now
        at = starts[:-1].astype(np.intp)
        bounds = np.arange(1 << bits, dtype=np.uint64) << np.uint64(64 - bits)
        above = (at == n) | (hi.take(np.minimum(at, n - 1)) >= bounds)
        below = (at == 0) | (hi.take(np.maximum(at - 1, 0)) < bounds)
        if not (above & below).all():
            return -1
    return int(sizes.max())


def _check_sealed(sealed, kept: dict, arrays, labels: int) -> set:
    _need(isinstance(sealed, dict), "the sealed part of the header is missing")
    key, bits, specs = sealed.get("key"), sealed.get("bits"), sealed.get("signals")
    _need(isinstance(key, str) and len(key) == 32 and
          all(c in "0123456789abcdef" for c in key), "the sealed set's key is malformed")
    _need(type(bits) is int and 1 <= bits <= fuse.MAX_BITS,
          "the sealed set's fingerprint width is out of range")
    _need(isinstance(specs, dict), "the sealed signals are missing")
    names = _check_sealed_blocks(sealed.get("blocks"), kept, arrays)
    for signal, spec in specs.items():
        _need(isinstance(signal, str) and signal in signals.SIGNALS
              and signals.get(signal).kind == "exact" and signal not in kept,
              "a sealed signal that is not an exact one, or is also kept open")
        _need(isinstance(spec, dict) and isinstance(spec.get("prefilter"), bool)
              and isinstance(spec.get("filters"), list), f"{signal}: sealed spec is malformed")
        codes = set()
        for number, f in enumerate(spec["filters"]):
            _need(isinstance(f, dict), f"{signal}: a filter's spec is not an object")
            for field in ("category", "entries", "seed", "segment_length", "segment_count"):
                _typed(f.get(field), int, f"{signal}: filter {number} {field}")
            _need(f["category"] <= labels and f["category"] not in codes,
                  f"{signal}: filter {number}'s category is beyond the labels or repeated")
            codes.add(f["category"])
            _need(f["seed"] < 1 << 64, f"{signal}: filter {number}'s seed is out of range")
            _need(isinstance(f.get("mixed"), bool), f"{signal}: filter {number}'s placing is "
                                                    f"not said")
            shape = fuse.Shape.of(f["entries"])
            _need(f["segment_length"] == shape.segment_length
                  and f["segment_count"] == shape.segment_count,
                  f"{signal}: filter {number}'s geometry is not the one its entries give")
            name = f"sealed.{signal}.{number}"
            words = arrays.get(name)
            _need(words is not None and words.dtype == U8 and words.ndim == 1
                  and len(words) == fuse.words_needed(shape.cells, bits),
                  f"{signal}: filter {number}'s cells are missing or of the wrong length")
            names.add(name)
        if spec["prefilter"]:
            name = f"sealed.{signal}.sizes"
            sizes = arrays.get(name)
            _need(sizes is not None and sizes.dtype in (U4, U8) and sizes.ndim == 1
                  and len(sizes) and (sizes[1:] > sizes[:-1]).all(),
                  f"{signal}: sealed sizes missing, or not sorted and distinct")
            names.add(name)
    return names


def _check_sealed_blocks(spec, kept: dict, arrays) -> set:
    """The arrays a sealed set's block digests use (none without them)."""
    if spec is None:
        return set()
    _need(isinstance(spec, dict), "the sealed blocks' spec is not an object")
    _need("block" not in kept, "block digests both sealed and kept open")
    for field in ("entries", "distinct", "bits", "seed", "segment_length", "segment_count"):
        _typed(spec.get(field), int, f"sealed blocks' {field}")
    _need(isinstance(spec.get("mixed"), bool), "the sealed blocks' placing is not said")
    _need(1 <= spec["bits"] <= fuse.MAX_BITS and spec["seed"] < 1 << 64
          and spec["distinct"] <= spec["entries"],
          "the sealed blocks' prefilter width, seed or count is out of range")
    shape = fuse.Shape.of(spec["distinct"])
    _need((spec["segment_length"], spec["segment_count"]) == (shape.segment_length,
                                                              shape.segment_count),
          "the sealed blocks' prefilter geometry is not the one its entries give")
    words = arrays.get("sealed.block.prefilter")
    _need(words is not None and words.dtype == U8 and words.ndim == 1
          and len(words) == fuse.words_needed(shape.cells, spec["bits"]),
          "the sealed blocks' prefilter cells are missing or of the wrong length")
    n = spec["entries"]
    lo, hi = arrays.get("sealed.block.tag_lo"), arrays.get("sealed.block.tag_hi")
    payload = arrays.get("sealed.block.payload")
    _need(lo is not None and hi is not None and lo.dtype == U8 and hi.dtype == U8
          and lo.shape == hi.shape == (n,) and bool((lo[1:] >= lo[:-1]).all()),
          "the sealed blocks' tags are missing, of the wrong length or not sorted")
    _need(payload is not None and payload.dtype == U1 and payload.shape == (n, 32),
          "the sealed blocks' records are missing or of the wrong shape")
    return {"sealed.block.prefilter", "sealed.block.tag_lo", "sealed.block.tag_hi",
            "sealed.block.payload"}
