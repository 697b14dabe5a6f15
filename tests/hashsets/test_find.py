"""HashSet.find (bucket index, then a fixed-length binary search) against a plain dict, on a set
built to have what trips such searches: digests sharing their first 8 bytes, one digest under
several categories, the lowest and highest digests, empty buckets, digests ending in 00."""

import numpy as np
import pytest

from triage.hashsets import HashSet
from triage.hashsets.compile import Compiler
from triage.hashsets.importer import Tally, write_set
from triage.records import SetEntry


@pytest.fixture(scope="module")
def tricky(tmp_path_factory):
    rng = np.random.default_rng(11)
    digests = {"md5": [bytes(16), b"\xff" * 16], "sha1": [bytes(20), b"\xff" * 20]}
    compiler = Compiler()
    for signal, length in (("md5", 16), ("sha1", 20)):
        keys = [bytes(k) for k in rng.integers(0, 256, (3000, length), dtype=np.uint8)]
        shared = [keys[0][:8] + bytes(k) for k in rng.integers(0, 256, (20, length - 8),
                                                                  dtype=np.uint8)]
        ending_00 = [k[:-1] + b"\0" for k in keys[1:50]]
        digests[signal] += keys + shared + ending_00
        for i, key in enumerate(digests[signal]):
            compiler.add(SetEntry(signal, key.hex(), str(i % 3), size=i))
            if i % 7 == 0:          # the same digest under another category
                compiler.add(SetEntry(signal, key.hex(), "9", size=i))
    out = tmp_path_factory.mktemp("find") / "tricky.tset"
    write_set(compiler, out, described=[], sources=[], tally=Tally())
    with HashSet(out) as hs:
        yield hs, digests


def expected_pairs(hs, signal, queries):
    rows = {}
    for row, key in enumerate(hs.vectors(signal)):
        rows.setdefault(bytes(key), []).append(row)
    pairs = [(q, row) for q, key in enumerate(queries) for row in rows.get(key, [])]
    return [q for q, _ in pairs], [r for _, r in pairs]


@pytest.mark.parametrize("signal,length", [("md5", 16), ("sha1", 20)])
def test_find_equals_a_dict(tricky, signal, length):
    hs, digests = tricky
    rng = np.random.default_rng(12)
    known = digests[signal]
    near_misses = [k[:8] + bytes(length - 8) for k in known[:100]]          # shared prefix
    randoms = [bytes(k) for k in rng.integers(0, 256, (500, length), dtype=np.uint8)]
    queries = known + near_misses + randoms + known[:10]                    # repeats too
    order = rng.permutation(len(queries))
    queries = [queries[i] for i in order]
    q_idx, rows = hs.find(signal, queries)
    want_q, want_rows = expected_pairs(hs, signal, queries)
    assert q_idx.tolist() == want_q and rows.tolist() == want_rows
    # every stored row found, one digest under two categories as two rows
    assert len(set(rows.tolist())) == hs.rows(signal)
    as_array = np.frombuffer(b"".join(queries), np.uint8).reshape(-1, length)
    q2, rows2 = hs.find(signal, as_array)
    assert q2.tolist() == want_q and rows2.tolist() == want_rows


def test_lookup_builds_the_entries_of_find(tricky):
    hs, digests = tricky
    key = digests["md5"][7]                                  # i % 7 == 0: two categories
    found = hs.lookup("md5", [bytes(16), key, b"\1" * 16])
    # one digest's rows in the order of their category codes, given as labels first appear
    assert [e.category for e in found[1]] == ["9", "1"]
    assert {e.value for e in found[1]} == {key.hex()} and found[1][0].size == 7
    assert found[0][0].value == "00" * 16 and found[2] == []


def test_bucket_index_bounds_every_row(tricky):
    hs, _ = tricky
    spec = hs.spec("md5")
    hi, starts = hs.column("md5", "hi"), hs.column("md5", "bucket")
    bits = spec["bucket_bits"]
    assert len(starts) == (1 << bits) + 1 and starts[0] == 0 and starts[-1] == len(hi)
    bucket_of_row = np.repeat(np.arange(1 << bits), np.diff(starts.astype(np.int64)))
    assert (hi >> np.uint64(64 - bits)).tolist() == bucket_of_row.tolist()
    assert spec["bucket_largest"] == int(np.diff(starts.astype(np.int64)).max())
    # under a byte of index per row
    assert starts.nbytes < hs.rows("md5") * 1.1


def test_find_rejects_wrong_shapes(tricky):
    hs, _ = tricky
    with pytest.raises(ValueError, match=r"uint8 array \(n, 16\)"):
        hs.find("md5", np.zeros((3, 20), np.uint8))
    with pytest.raises(ValueError, match="16 bytes"):
        hs.find("md5", [bytes(16), bytes(15)])


@pytest.mark.parametrize("signal,length", [("md5", 16), ("sha1", 20)])
def test_single_digest_lookups_equal_the_batch(tricky, signal, length):
    """The scan looks up one digest per file (a scalar path); it must agree with the batch."""
    hs, digests = tricky
    rng = np.random.default_rng(13)
    known = digests[signal]
    queries = known[:300] + [k[:8] + bytes(length - 8) for k in known[:50]] + \
        [bytes(k) for k in rng.integers(0, 256, (200, length), dtype=np.uint8)]
    batch = hs.lookup(signal, queries)
    assert [hs.lookup(signal, [q])[0] for q in queries] == batch
    assert [hs.contains(signal, q) for q in queries] == [bool(found) for found in batch]
    assert sum(map(bool, batch)) >= 300 and not all(batch)
    assert sum(len(found) for found in batch) > 300   # the repeated categories come back too


def test_sizes_asked_together_answer_as_one_at_a_time(tricky):
    """The walk asks a chunk's sizes in one call (may_match_many): the same answers as the
    scalar prefilter, for listed sizes, sizes between them, past the last, 0 and negative."""
    hs, digests = tricky
    listed = len(digests["md5"])     # sizes 0 .. listed - 1, each once
    sizes = np.array([-5, 0, 1, 7, listed - 1, listed, listed + 10, 2 ** 40, 3, 3],
                     np.int64)
    for signal in ("md5", "sha1", "sha256"):
        got = hs.may_match_many(signal, sizes).tolist()
        assert got == [hs.may_match(signal, int(n)) for n in sizes], signal
    assert hs.may_match_many("md5", sizes).tolist() == [False, True, True, True, True, False,
                                                        False, False, True, True]
    assert not hs.may_match_many("sha256", sizes).any()   # a signal the set does not carry


def test_the_size_bitmap_is_made_only_for_a_signal_asked_often_and_answers_the_same(
        tricky, monkeypatch):
    """A scan whose walk makes its plans together asks a worker's set one size at a time only
    for a fingerprint's hits: the 2 MiB bitmap (10-20 ms to make) waits for BITMAP_AFTER
    questions, and the answers are the same with it as without."""
    from triage.hashsets import hashset
    hs, digests = tricky
    monkeypatch.setattr(hashset, "BITMAP_AFTER", 20)
    listed = len(digests["md5"])
    sizes = [-5, 0, 1, 7, listed - 1, listed, listed + 10, 2 ** 40, 3] * 3
    before = [hs.may_match("md5", n) for n in sizes[:20]]
    assert "md5" not in hs._size_bits
    after = [hs.may_match("md5", n) for n in sizes]
    assert "md5" in hs._size_bits and "sha1" not in hs._size_bits
    assert before == after[:20] == [n in range(listed) for n in sizes[:20]]
    assert after == [n in range(listed) for n in sizes]


def test_entries_read_row_by_row_equal_the_gathered_ones(tmp_path):
    """A scan's hit asks for one row's entry, which is read element by element; a listing
    gathers many rows at once: every column (value, size or none, category, series, name, id,
    quality) comes back the same either way."""
    rng = np.random.default_rng(17)
    compiler = Compiler()
    for i, key in enumerate(rng.integers(0, 256, (40, 16), dtype=np.uint8)):
        compiler.add(SetEntry("md5", bytes(key).hex(), f"c{i % 3}" if i % 4 else None,
                              series=f"s{i % 5}" if i % 2 else None,
                              size=i * 100 if i % 3 else None, name=f"f{i}.jpg" if i % 6 else None,
                              id=f"id-{i}" if i % 7 else None))
    for i, key in enumerate(rng.integers(0, 256, (20, 32), dtype=np.uint8)):
        compiler.add(SetEntry("pdq", bytes(key).hex(), "c1", quality=50 + i if i % 2 else None,
                              name=f"p{i}.png"))
    out = tmp_path / "columns.tset"
    write_set(compiler, out, described=[], sources=[], tally=Tally())
    with HashSet(out) as hs:
        for signal in ("md5", "pdq"):
            n = hs.rows(signal)
            gathered = hs.entries(signal, np.arange(n, dtype=np.intp))
            assert len(gathered) == n > 8
            assert [hs.entries(signal, np.array([r], dtype=np.intp))[0] for r in range(n)] == \
                gathered
            assert [e for r in range(0, n, 5)
                    for e in hs.entries(signal, np.arange(r, min(r + 5, n), dtype=np.intp))] \
                == gathered
        md5 = hs.entries("md5", np.arange(hs.rows("md5"), dtype=np.intp))
        assert {e.size for e in md5} >= {None, 100} and {e.id for e in md5} >= {None, "id-1"}
        assert {e.quality for e in hs.entries("pdq", np.arange(20, dtype=np.intp))} >= {None, 51}
