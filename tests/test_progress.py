"""The scan's progress bar: what it is told is what it shows."""

import time

from triage.progress import BarProgress


def test_the_bar_shows_what_the_scan_told_it_once_it_redraws(capsys):
    bar = BarProgress(shown=True)
    bar.add_total(3, 300)
    bar.start()
    try:
        bar.advance(1, 100)
        bar.advance(1, 100, read=250, hit=True)   # a hit read whole: 150 more on both sides
        bar.add_total(1, 50)
        bar.totals_known()
        bar.advance(1, 50)
        deadline = time.monotonic() + 10
        while bar._bar.n != 400 and time.monotonic() < deadline:
            time.sleep(0.01)
        with bar._lock:
            shown = (bar._bar.n, bar._bar.total, bar._bar.postfix)
    finally:
        bar.close()
    assert shown == (400, 500, "3/4 files, 1 hit")


def test_a_hidden_bar_is_told_nothing_and_draws_nothing(capsys):
    bar = BarProgress(shown=False)
    bar.add_total(3, 300)
    bar.start()
    bar.advance(1, 100, hit=True)
    bar.totals_known()
    bar.close()
    assert bar._bar is None and capsys.readouterr().err == ""
