"""Binary fuse filters: every key added is found, at every size and fingerprint width; absent
keys are found at the design rate 2**-bits; one lookup and a batch agree."""

from __future__ import annotations

import math

import numpy as np
import pytest

from triage.hashsets import fuse


def keys(n, seed):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 2 ** 64, n, dtype=np.uint64),
            rng.integers(0, 2 ** 64, n, dtype=np.uint64))


def seeds(seed=0):
    rng = np.random.default_rng(seed)
    while True:
        yield int(rng.integers(0, 1 << 63))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 100, 1000, 50_000])
def test_every_key_added_is_found(n):
    lo, hi = keys(n, n)
    f = fuse.build(lo, hi, 16, seeds(n))
    assert f.contains(lo, hi).all()
    assert all(f.contains_one(int(a), int(b)) for a, b in zip(lo[:300], hi[:300]))
    assert f.shape == fuse.Shape.of(n)
    assert len(f.words) == fuse.words_needed(f.shape.cells, 16)


@pytest.mark.parametrize("bits", range(1, 33))
def test_packing_keeps_every_cell_at_every_width(bits):
    rng = np.random.default_rng(bits)
    cells = rng.integers(0, 1 << bits, 5000, dtype=np.uint64)
    words = fuse.pack(cells, bits)
    index = np.arange(len(cells), dtype=np.uint64)
    assert np.array_equal(fuse.cell_values(words, index, bits), cells)
    assert [fuse.cell_value(words, i, bits) for i in range(0, 5000, 97)] == \
        cells[::97].tolist()


def test_absent_keys_are_found_at_the_design_rate():
    """12-bit fingerprints, 400,000 absent keys: expected 97.7 false positives; the count must
    lie within 5 standard deviations (binomial) of it."""
    lo, hi = keys(20_000, 1)
    f = fuse.build(lo, hi, 12, seeds(1))
    qlo, qhi = keys(400_000, 2)
    found = int(f.contains(qlo, qhi).sum())
    expected = 400_000 * 2.0 ** -12
    assert abs(found - expected) < 5 * math.sqrt(expected), found
    sample = [f.contains_one(int(a), int(b)) for a, b in zip(qlo[:3000], qhi[:3000])]
    assert sample == f.contains(qlo[:3000], qhi[:3000]).tolist()


def test_the_same_keys_under_another_seed_give_unrelated_cells():
    lo, hi = keys(1000, 3)
    a, b = fuse.build(lo, hi, 30, seeds(1)), fuse.build(lo, hi, 30, seeds(2))
    assert a.seed != b.seed
    assert np.mean(a.words == b.words) < 0.01


def test_repeated_keys_cannot_be_built():
    lo, hi = keys(100, 4)
    lo[1], hi[1] = lo[0], hi[0]
    with pytest.raises(ValueError, match="could not build"):
        fuse.build(lo, hi, 8, seeds())


def test_fingerprint_widths_outside_1_to_32_are_refused():
    lo, hi = keys(10, 5)
    for bits in (0, 33):
        with pytest.raises(ValueError, match="1 to 32"):
            fuse.build(lo, hi, bits, seeds())


def test_a_big_filter_takes_at_most_4_25_bytes_a_key_at_30_bits():
    """From a million keys on, 1.125 cells a key and the segments' slack: 30 bits * 1.131."""
    lo, hi = keys(1_000_000, 6)
    f = fuse.build(lo, hi, 30, seeds(6))
    assert f.contains(lo[:1000], hi[:1000]).all()
    assert f.words.nbytes / 1_000_000 <= 4.25


def test_small_filters_of_keys_alike_in_the_placing_bits_still_build():
    """Keys equal in every bit a small filter's positions use (the top and the lowest bits)
    share their three cells: only a seed that re-draws every position (a mix, not an XOR)
    gets past them. 200 such filters of 150 keys, each with such a pair, all build."""
    for n in range(200):
        lo, hi = keys(150, 100 + n)
        lo[1] = lo[0] ^ np.uint64(1 << 24)      # differs only in a bit no position uses
        f = fuse.build(lo, hi, 20, seeds(n))
        assert f.mixed and f.contains(lo, hi).all()
        assert all(f.contains_one(int(a), int(b)) for a, b in zip(lo[:5], hi[:5]))
