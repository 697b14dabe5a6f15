"""Progress bars on stderr: the scan's (bytes, with rate and ETA once totals are known, files
and a live hit count) and the plain counters of the other commands."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from tqdm import tqdm


def progress_bar(shown: Optional[bool] = None, **options) -> "tqdm":
    """A bar on stderr that is gone when done; `shown` None means only on a terminal."""
    from tqdm import tqdm   # noqa: F811 - here: ~25 ms of a start that may draw no bar
    # No tqdm monitor thread: worker processes are forked while a bar is open, and a process
    # that forks should have no other thread (a lock one holds stays held in the child).
    tqdm.monitor_interval = 0
    return tqdm(file=sys.stderr, leave=False, dynamic_ncols=True,
                disable=None if shown is None else not shown, **options)


class Progress:
    """What the scan tells whoever watches it; the CLI draws it, tests ignore it.

    Bytes count what will be read: a file's planned bytes (what its plan reads for certain)
    when it is counted, and when it is done the larger of those and what was really read
    (a picture found behind its head, a hit read again for the report) on both sides, so the
    share done only grows."""

    shown = False   # nobody watching: the totals (a second walk) are not worth counting

    def start(self) -> None: ...
    def add_total(self, files: int, nbytes: int) -> None: ...
    def totals_known(self) -> None: ...
    def advance(self, files: int, planned: int, read: Optional[int] = None,
                hit: bool = False) -> None: ...
    def close(self) -> None: ...


class BarProgress(Progress):
    """Bytes, files and hits, with a share done and an ETA only once the totals are known
    (before, the share would fall as the count grows); redrawn several times a second even
    while a large file is being read, so the display never looks frozen. What the scan tells
    it is only added up as it comes, and given to the bar when it is drawn: updating the bar
    for every file cost the scan's walking process ~3 us a file."""

    REDRAW = 0.25   # seconds

    def __init__(self, shown: Optional[bool] = None):
        self._lock = threading.Lock()
        self._files = self._files_total = self._hits = 0
        self._bytes_total = 0
        self._unshown = 0     # bytes done since the bar was last given them
        self._known = False
        self._closed = threading.Event()
        # smoothing=0: the rate is the average since the start, so the ETA does not swing
        # with every burst of small or large files.
        self.shown = sys.stderr.isatty() if shown is None else shown   # as tqdm decides
        self._bar = progress_bar(True, total=None, unit="B", unit_scale=True,
                                 unit_divisor=1024, desc="scanning",
                                 smoothing=0) if self.shown else None

    def start(self) -> None:
        """Begin redrawing; called once worker processes are forked (a thread must not exist
        when a process forks)."""
        if self.shown:
            threading.Thread(target=self._redraw, name="progress", daemon=True).start()

    def _redraw(self) -> None:
        while not self._closed.wait(self.REDRAW):
            with self._lock:
                self._draw()

    def _draw(self) -> None:
        """The bar brought up to what it was told, and drawn (under the lock)."""
        if self._known:
            self._bar.total = self._bytes_total
        of = f"/{self._files_total:,}" if self._known else f" (counting {self._files_total:,})"
        self._bar.set_postfix_str(f"{self._files:,}{of} files, "
                                  f"{self._hits} hit{'s' if self._hits != 1 else ''}",
                                  refresh=False)
        self._bar.update(self._unshown)
        self._unshown = 0
        self._bar.refresh()

    def add_total(self, files: int, nbytes: int) -> None:
        if not self.shown:   # called per file: a hidden bar costs nothing
            return
        with self._lock:
            self._files_total += files
            self._bytes_total += nbytes

    def totals_known(self) -> None:
        if not self.shown:
            return
        with self._lock:
            self._known = True
            self._draw()

    def advance(self, files: int, planned: int, read: Optional[int] = None,
                hit: bool = False) -> None:
        if not self.shown:
            return
        extra = max(0, (read or 0) - planned)
        with self._lock:
            self._files += files
            self._hits += hit
            self._bytes_total += extra
            self._unshown += planned + extra

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            if self._bar is not None:
                self._bar.close()
