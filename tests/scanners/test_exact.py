"""The exact matcher's plan lookup: the distinct rows of a chunk's size masks."""

import numpy as np

from triage.scanners.exact import _distinct_rows


def test_distinct_rows_are_numpys_for_any_width():
    """Rows packed to byte strings give the rows and inverse np.unique(axis=0) gives, across
    byte boundaries (1, 8, 9 and 70 columns), with rows that differ only in their last,
    zero-padded byte, and for an empty chunk."""
    rng = np.random.default_rng(15)
    for width in (1, 3, 8, 9, 17, 70):
        masks = rng.random((300, width)) < 0.3
        masks[0], masks[1] = False, False
        masks[1, -1] = True
        rows, which = _distinct_rows(masks)
        expected = np.unique(masks.astype(np.uint8), axis=0)
        assert sorted(map(tuple, rows.tolist())) == sorted(map(tuple, expected.astype(bool)
                                                                .tolist()))
        assert (rows[which.reshape(-1)] == masks).all()
        rows, which = _distinct_rows(masks[:0])
        assert rows.shape == (0, width) and len(which) == 0
