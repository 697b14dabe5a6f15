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


def test_an_interrupt_while_plans_are_made_stays_an_interrupt():
    """The time budget raises BudgetSpent (a KeyboardInterrupt) from SIGALRM in the walking
    thread, wherever it is: inside the plans' distinct rows it must come out as itself
    (numpy's structured-row path turned it into a TypeError, or swallowed it, one interrupt in
    five on rows this few: np.unique(masks, axis=0) fails here)."""
    import signal
    import time
    from collections import Counter

    class Spent(KeyboardInterrupt):
        pass

    def spent(signum, frame):
        raise Spent()
    rng = np.random.default_rng(5)
    masks = rng.random((50, 3)) < 0.5   # small: the alarm lands in numpy's promotion often
    previous = signal.signal(signal.SIGALRM, spent)
    caught = []
    try:
        for delay in np.linspace(1e-4, 1e-3, 1000):
            try:   # one alarm a round, within it: the loop outlasts the longest delay
                signal.setitimer(signal.ITIMER_REAL, float(delay))
                deadline = time.monotonic() + 0.05
                while time.monotonic() < deadline:
                    _distinct_rows(masks)
                caught.append("lost")   # raised, and swallowed on the way
            except Spent:
                caught.append("spent")
            except Exception as exc:   # noqa: BLE001 - what numpy made of it
                caught.append(type(exc).__name__)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert Counter(caught) == {"spent": 1000}
