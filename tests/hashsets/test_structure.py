"""Compiled sets whose checksums are valid but whose structure was crafted: every one is refused
on open with one HashSetError line (issue 10 #11: RecursionError, KeyError, TypeError,
IndexError, negative shift before)."""

import copy
import hashlib
import json
import struct

import numpy as np
import pytest

from support import FIXTURES, run_triage
from triage.errors import HashSetError
from triage.hashsets import HashSet, compile_sources, store, structure
from triage.hashsets.compile import bucket_bits, bucket_index

SOURCE = FIXTURES / "hashsets" / "synthetic" / "vics-2.0-case.json"   # md5, sha1, pdq, photodna


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    out = tmp_path_factory.mktemp("structure") / "set.tset"
    compile_sources([SOURCE], out)
    return out.read_bytes()


def split(data: bytes):
    _, version, _, header_len, data_len, _, _ = store.PREFIX.unpack_from(data)
    header = json.loads(data[store.PREFIX.size:store.PREFIX.size + header_len])
    start = store._align(store.PREFIX.size + header_len)
    return version, header, bytearray(data[start:start + data_len])


def join(version, header, payload: bytes, blob: bytes = None) -> bytes:
    """A set file with valid checksums around whatever header and data it is given."""
    blob = json.dumps(header).encode() if blob is None else blob
    start = store._align(store.PREFIX.size + len(blob))
    prefix = store.PREFIX.pack(store.MAGIC, version, 0, len(blob), len(payload),
                               hashlib.sha256(blob).digest(), hashlib.sha256(payload).digest())
    return prefix + blob + b"\0" * (start - store.PREFIX.size - len(blob)) + bytes(payload)


def array(header, payload, name):
    spec = header["arrays"][name]
    dtype = np.dtype(spec["dtype"])
    n = int(np.prod(spec["shape"]))
    view = np.frombuffer(payload, dtype, n, spec["offset"]).reshape(spec["shape"])
    return view, spec["offset"]


def poke(header, payload, name, index, value):
    view, offset = array(header, payload, name)
    payload[offset + index * view.dtype.itemsize:offset + (index + 1) * view.dtype.itemsize] = \
        np.array([value], view.dtype).tobytes()


HEADER_MUTATIONS = {
    "kind": lambda h: h["info"].update(kind="friendly"),
    "entries a string": lambda h: h["info"].update(entries="many"),
    "entries negative": lambda h: h["info"].update(entries=-1),
    "info signals a list": lambda h: h["info"].update(signals=[]),
    "source not an object": lambda h: h["info"].update(sources=[1]),
    "unknown info field": lambda h: h["info"].update(colour="red"),
    "name missing": lambda h: h["info"].pop("name"),
    "label not text": lambda h: h.update(labels=[1, 2, 3]),
    "labels emptied": lambda h: h.update(labels=[]),
    "bucket_bits 70": lambda h: h["signals"]["md5"].update(bucket_bits=70),
    "bucket_bits negative": lambda h: h["signals"]["md5"].update(bucket_bits=-3),
    "bucket_bits text": lambda h: h["signals"]["md5"].update(bucket_bits="a"),
    "bucket_largest huge": lambda h: h["signals"]["md5"].update(bucket_largest=10 ** 30),
    "key_bytes": lambda h: h["signals"]["md5"].update(key_bytes=8),
    "rows": lambda h: h["signals"]["md5"].update(rows=5),
    "all_sized without sizes": lambda h: h["signals"]["sha256"].update(all_sized=True),
    "rows missing": lambda h: h["signals"]["md5"].pop("rows"),
    "unknown signal": lambda h: h["signals"].update(tlsh=dict(h["signals"]["md5"])),
    "signals a list": lambda h: h.update(signals=[]),
    "object dtype": lambda h: h["arrays"]["md5.hi"].update(dtype="|O"),
    "float dtype": lambda h: h["arrays"]["md5.hi"].update(dtype="<f8"),
    "wrong unsigned dtype": lambda h: h["arrays"]["md5.hi"].update(dtype="<u4"),
    "negative shape": lambda h: h["arrays"]["md5.hi"].update(shape=[-1]),
    "huge shape": lambda h: h["arrays"]["md5.hi"].update(shape=[10 ** 20]),
    "shape text": lambda h: h["arrays"]["md5.hi"].update(shape="x"),
    "negative offset": lambda h: h["arrays"]["md5.hi"].update(offset=-4096),
    "offset past the end": lambda h: h["arrays"]["md5.hi"].update(offset=1 << 40),
    "arrays missing": lambda h: h.pop("arrays"),
    "array dropped": lambda h: h["arrays"].pop("md5.bucket"),
    "extra array": lambda h: h["arrays"].update({"md5.extra": h["arrays"]["md5.hi"]}),
    "duplicate example not text": lambda h: h["info"]["stats"]["md5"].update(
        duplicate_examples=[1]),
    "header a list": lambda h: h.clear() or h.update(x=1),
}


@pytest.mark.parametrize("name", sorted(HEADER_MUTATIONS))
def test_a_crafted_header_with_valid_checksums_is_one_error(original, tmp_path, name):
    version, header, payload = split(original)
    header = copy.deepcopy(header)
    HEADER_MUTATIONS[name](header)
    path = tmp_path / "crafted.tset"
    path.write_bytes(join(version, header, payload))
    with pytest.raises(HashSetError) as caught:
        HashSet(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)


def _md5_bucket_unsorted(h, p):
    poke(h, p, "md5.bucket", 1, 10 ** 6)


def _category_beyond_labels(h, p):
    poke(h, p, "md5.category", 0, 200)


def _name_beyond_pool(h, p):
    poke(h, p, "md5.name", 0, 10 ** 6)


def _hi_unsorted(h, p):
    view, _ = array(h, p, "md5.hi")
    poke(h, p, "md5.hi", 0, int(view[-1]) + 1)


def _offsets_backwards(h, p):
    poke(h, p, "strings.offsets", 1, 10 ** 6)


def _blob_not_utf8(h, p):
    _, offset = array(h, p, "strings.blob")
    p[offset] = 0xFF


DATA_MUTATIONS = [_md5_bucket_unsorted, _category_beyond_labels, _name_beyond_pool,
                  _hi_unsorted, _offsets_backwards, _blob_not_utf8]


@pytest.mark.parametrize("mutate", DATA_MUTATIONS, ids=lambda f: f.__name__.strip("_"))
def test_crafted_arrays_with_valid_checksums_are_one_error(original, tmp_path, mutate):
    version, header, payload = split(original)
    mutate(header, payload)
    path = tmp_path / "crafted.tset"
    path.write_bytes(join(version, header, payload))
    with pytest.raises(HashSetError, match="compiled set is inconsistent"):
        HashSet(path)


def test_a_deeply_nested_header_is_not_a_recursion_error(original, tmp_path):
    version, _, payload = split(original)
    path = tmp_path / "deep.tset"
    path.write_bytes(join(version, None, payload, blob=b"[" * 200_000))
    with pytest.raises(HashSetError, match="not valid JSON"):
        HashSet(path)


def test_a_header_length_past_the_file_is_refused(original, tmp_path):
    data = bytearray(original)
    struct.pack_into("<Q", data, 16, 1 << 50)
    path = tmp_path / "long.tset"
    path.write_bytes(bytes(data))
    with pytest.raises(HashSetError, match="header is truncated or corrupted"):
        HashSet(path)


def test_the_untouched_set_still_opens(original, tmp_path):
    version, header, payload = split(original)
    path = tmp_path / "same.tset"
    path.write_bytes(join(version, header, payload))
    with HashSet(path) as hs:
        assert sorted(hs.signals) == ["md5", "pdq", "photodna", "sha1", "sha256"]


def test_the_commands_say_it_in_one_line(original, tmp_path):
    version, header, payload = split(original)
    header["signals"]["md5"]["bucket_bits"] = 70
    path = tmp_path / "crafted.tset"
    path.write_bytes(join(version, header, payload))
    for args in (("hashset", "info", path), ("hashset", "validate", path),
                 ("hashset", "import", path, "-o", tmp_path / "again.tset")):
        run = run_triage(*args)
        assert run.code == 2
        assert run.stderr == f"triage: error: {path}: compiled set is inconsistent: md5: the " \
                             "bucket index does not match the digests\n"


@pytest.mark.parametrize("rows", [0, 1, 7, 8, 100, 5_000])
def test_a_bucket_index_is_proved_start_by_start_exactly_when_it_is_the_one_compile_makes(rows):
    """structure._bucket_largest accepts compile.bucket_index's index of sorted words, with
    its fullest bucket, and refuses any other: every start moved by one either way, starts
    swapped, past the rows, past 2**63, cut short."""
    rng = np.random.default_rng(rows)
    hi = np.sort(rng.integers(0, 2 ** 64, rows, dtype=np.uint64))
    if rows >= 8:   # words on bucket bounds, and repeated ones
        bits = bucket_bits(rows)
        hi[rows // 2] = np.uint64(5) << np.uint64(64 - bits)
        hi[rows // 2 + 1] = hi[rows // 2]
        hi = np.sort(hi)
    starts, bits, largest = bucket_index(hi)
    assert bits == bucket_bits(rows)
    assert structure._bucket_largest(hi, starts, bits) == largest
    assert structure._bucket_largest(hi, starts.astype(np.uint64), bits) == largest
    wrong = []
    for at in range(len(starts)):
        for step in (-1, 1):
            moved = starts.astype(np.int64)
            moved[at] += step
            if moved[at] >= 0:
                wrong.append(moved.astype(np.uint64))
    if len(starts) > 2:
        swapped = starts.copy()
        swapped[[1, 2]] = swapped[[2, 1]]
        wrong.append(swapped)
    huge = starts.astype(np.uint64)
    huge[len(huge) // 2] = np.uint64(2 ** 63 + 1)
    wrong += [huge, starts[:-1], starts + np.uint32(rows + 1)]
    for index in wrong:
        if index.shape == starts.shape and np.array_equal(index, starts):
            continue   # a step that lands where it was (repeated starts): the same index
        assert structure._bucket_largest(hi, index, bits) == -1, index
