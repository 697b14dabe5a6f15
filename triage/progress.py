"""Progress bars on stderr: the scan's (bytes, with rate and ETA once totals are known, files
and a live hit count) and the plain counters of the other commands."""

from __future__ import annotations

import sys
import threading
from typing import Optional

from tqdm import tqdm

# No tqdm monitor thread: worker processes are forked while a bar is open, and a process that
# forks should have no other thread (a lock one holds stays held in the child).
tqdm.monitor_interval = 0


def progress_bar(shown: Optional[bool] = None, **options) -> tqdm:
    """A bar on stderr that is gone when done; `shown` None means only on a terminal."""
    return tqdm(file=sys.stderr, leave=False, dynamic_ncols=True,
                disable=None if shown is None else not shown, **options)


class Progress:
    """What the scan tells whoever watches it; the CLI draws it, tests ignore it."""

    shown = False   # nobody watching: the totals (a second walk) are not worth counting

    def add_total(self, files: int, nbytes: int) -> None: ...
    def advance(self, files: int, nbytes: int, hit: bool = False) -> None: ...
    def close(self) -> None: ...


class BarProgress(Progress):
    def __init__(self, shown: Optional[bool] = None):
        self._lock = threading.Lock()
        self._files = self._files_total = self._hits = 0
        self._bar = progress_bar(shown, total=0, unit="B", unit_scale=True, unit_divisor=1024,
                                 desc="scanning")
        self.shown = not self._bar.disable

    def add_total(self, files: int, nbytes: int) -> None:
        if not self.shown:   # called per file: a hidden bar costs nothing
            return
        with self._lock:
            self._files_total += files
            self._bar.total += nbytes
            self._show()

    def advance(self, files: int, nbytes: int, hit: bool = False) -> None:
        if not self.shown:
            return
        with self._lock:
            self._files += files
            self._hits += int(hit)
            self._bar.update(nbytes)
            self._show()

    def _show(self) -> None:
        self._bar.set_postfix_str(f"{self._files:,}/{self._files_total:,} files, "
                                  f"{self._hits} hit{'s' if self._hits != 1 else ''}",
                                  refresh=False)

    def close(self) -> None:
        self._bar.close()
