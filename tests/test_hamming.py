import os

import numpy as np
import pytest

from triage import hamming
from triage.hamming import BruteForce, FaissMultiHash, MultiIndexHash


def flip(row: np.ndarray, count: int, rng) -> np.ndarray:
    bits = np.unpackbits(row)
    bits[rng.choice(bits.size, count, replace=False)] ^= 1
    return np.packbits(bits)


def planted(n: int, nbytes: int, radius: int, seed: int = 7):
    """A random set, and queries at exactly radius-1, radius and radius+1 of known rows,
    plus random ones: the boundary is where an inexact index would show."""
    rng = np.random.default_rng(seed)
    vectors = rng.integers(0, 256, (n, nbytes), dtype=np.uint8)
    vectors[n // 2] = vectors[n // 3]                    # a duplicate: both must come back
    queries = [flip(vectors[rng.integers(n)], d, rng)
               for d in (0, max(radius - 1, 0), radius, radius, radius + 1, radius + 1)]
    queries.append(vectors[n // 3])
    queries += list(rng.integers(0, 256, (5, nbytes), dtype=np.uint8))
    return vectors, np.array(queries)


def same(a, b) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(a, b))


@pytest.mark.parametrize("kind", [MultiIndexHash, FaissMultiHash])
@pytest.mark.parametrize("nbytes,radius", [(32, 31), (32, 0), (32, 47), (32, 15), (32, 20),
                                           (32, 5), (8, 10), (8, 9), (8, 6), (8, 3)])
def test_index_returns_exactly_what_brute_force_returns(kind, nbytes, radius):
    vectors, queries = planted(5000, nbytes, radius)
    expected = BruteForce(vectors).search(queries, radius)
    got = kind(vectors).search(queries, radius)
    assert same(got, expected)
    # The planted queries at distance <= radius found their row; the ones beyond did not.
    assert [len(rows) > 0 for rows, _ in got[:4]] == [True] * 4


@pytest.mark.parametrize("width", [17, 20, 21])
@pytest.mark.parametrize("nbytes,radius", [(32, 31), (32, 12), (8, 10)])
def test_wider_substrings_are_exact_too(width, nbytes, radius):
    vectors, queries = planted(3000, nbytes, radius)
    index = MultiIndexHash(vectors, width=width)
    assert index.tables == nbytes * 8 // width
    assert same(index.search(queries, radius), BruteForce(vectors).search(queries, radius))


@pytest.mark.parametrize("width", [16, 19, 20, 21])
def test_substring_keys_are_the_bits_in_order(width):
    vectors, _ = planted(50, 32, 31)
    index = MultiIndexHash(vectors, width=width)
    bits = np.unpackbits(vectors, axis=1)
    weights = 1 << np.arange(width - 1, -1, -1)
    expected = np.stack([bits[:, t * width:(t + 1) * width] @ weights
                         for t in range(index.tables)], axis=1)
    assert np.array_equal(index._keys(vectors), expected)


def test_substring_width_grows_with_the_set():
    assert [hamming.substring_width(n) for n in (0, 10, 100_000, 1_000_000, 10 ** 9)] == [
        16, 16, 17, 20, 22]


def test_brute_force_values():
    vectors = np.array([[0] * 8, [255] * 8, [1] + [0] * 7, [3] + [0] * 7], dtype=np.uint8)
    (rows, distances), = BruteForce(vectors).search(np.zeros((1, 8), np.uint8), 2)
    assert rows.tolist() == [0, 2, 3] and distances.tolist() == [0, 1, 2]


def test_duplicates_and_exact_copies_are_all_returned():
    vectors, queries = planted(3000, 32, 31)
    rows, distances = MultiIndexHash(vectors).search(queries[6:7], 31)[0]
    assert rows.tolist() == [1000, 1500] and distances.tolist() == [0, 0]


def test_batches_larger_than_one_block_of_queries():
    rng = np.random.default_rng(3)
    vectors = rng.integers(0, 256, (4000, 32), dtype=np.uint8)
    queries = np.array([flip(v, 20, rng) for v in vectors[:600]])
    got = MultiIndexHash(vectors).search(queries, 31)
    assert [rows.tolist() for rows, _ in got] == [[i] for i in range(600)]
    assert {int(d[0]) for _, d in got} == {20}


def test_no_queries_and_empty_sets():
    vectors, _ = planted(3000, 32, 31)
    assert MultiIndexHash(vectors).search(np.zeros((0, 32), np.uint8), 31) == []
    empty = np.zeros((0, 32), np.uint8)
    for index in (BruteForce(empty), MultiIndexHash(empty), hamming.build(empty)):
        (rows, distances), = index.search(np.zeros((1, 32), np.uint8), 31)
        assert rows.size == 0 and distances.size == 0


def test_build_gives_the_multi_index_even_for_a_tiny_set():
    rng = np.random.default_rng(5)
    vectors = rng.integers(0, 256, (3, 32), np.uint8)
    index = hamming.build(vectors)
    assert isinstance(index, MultiIndexHash)
    (rows, distances), = index.search(vectors[1:2], 0)
    assert rows.tolist() == [1] and distances.tolist() == [0]


def test_rows_must_be_whole_64_bit_words():
    with pytest.raises(ValueError, match="multiple of 64 bits"):
        BruteForce(np.zeros((3, 5), np.uint8))


def test_probes_follow_the_tighter_pigeonhole_bound():
    index = MultiIndexHash(planted(3000, 32, 31)[0])
    table, mask, _ = index._plan(31)       # 31 = 16 x 1 + 15: every substring within 1 bit
    assert len(table) == 16 * 17
    table, mask, _ = index._plan(20)       # 20 = 16 x 1 + 4: five within 1, eleven exact
    assert len(table) == 5 * 17 + 11 and np.bincount(table).tolist() == [17] * 5 + [1] * 11
    table, _, _ = index._plan(5)           # six substrings exact, ten not probed
    assert table.tolist() == [0, 1, 2, 3, 4, 5]


def test_memory_is_codes_plus_four_bytes_a_table():
    vectors, _ = planted(10000, 32, 31)
    index = MultiIndexHash(vectors)
    assert (index.width, index.tables) == (16, 16)
    assert index.nbytes() == 10000 * (32 + 16 * 4) + 16 * 65537 * 4


@pytest.mark.slow
def test_large_random_set_against_brute_force():
    # TRIAGE_SLOW_SCALE=1 (CI) checks 20,000 hashes; 50 checks the benchmark's million.
    n = int(20_000 * float(os.environ.get("TRIAGE_SLOW_SCALE", "1")))
    rng = np.random.default_rng(11)
    vectors = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    queries = np.array([flip(vectors[i], int(rng.integers(0, 40)), rng)
                        for i in rng.integers(0, n, 200)]
                       + list(rng.integers(0, 256, (200, 32), dtype=np.uint8)))
    expected = BruteForce(vectors).search(queries, 31)
    assert same(MultiIndexHash(vectors).search(queries, 31), expected)
    assert same(FaissMultiHash(vectors).search(queries, 31), expected)
