"""blockindex: the lookups a block sweep makes of a compiled set's block digests."""

import numpy as np

from triage.hashsets.blockindex import OpenBlocks, TopBits


class _Set:
    """The one column OpenBlocks reads of a compiled set: the sorted XXH3 halves."""

    def __init__(self, hi):
        self.hi = hi

    def column(self, signal, name):
        assert (signal, name) == ("block", "hi")
        return self.hi


def test_the_top_bits_pass_every_listed_value_and_few_others():
    rng = np.random.default_rng(7)
    listed = np.sort(rng.integers(0, 2 ** 64 - 1, 50_000, dtype=np.uint64))
    table = TopBits(listed)
    assert table.bits == 20                     # 16 slots a listed value: 2 ** 20 >= 800,000
    assert table(listed).all()
    others = rng.integers(0, 2 ** 64 - 1, 200_000, dtype=np.uint64)
    passed = table(others).mean()
    assert 0.02 < passed < 0.07                 # about 1 - e^(-1/16) = 6 %, less for collisions


def test_candidates_are_exactly_the_listed_values_asked():
    rng = np.random.default_rng(8)
    listed = np.unique(rng.integers(0, 2 ** 64 - 1, 3_000, dtype=np.uint64))
    asked = rng.integers(0, 2 ** 64 - 1, 100_000, dtype=np.uint64)
    planted = rng.choice(len(asked), 250, replace=False)
    asked[planted] = listed[rng.integers(0, len(listed), 250)]
    asked[:3] = [listed[0], listed[-1], np.uint64(2 ** 64 - 1)]   # the ends of the range
    expected = np.flatnonzero(np.isin(asked, listed))
    found = OpenBlocks(_Set(listed)).candidates(asked)
    assert found.tolist() == expected.tolist()
    assert set(planted.tolist()) | {0, 1} <= set(found.tolist())
    assert OpenBlocks(_Set(listed[:0])).candidates(asked).tolist() == []
