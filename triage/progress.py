"""The scan's progress bar on stderr: bytes (with rate and ETA once totals are known), files and
a live hit count."""

from __future__ import annotations

import sys
import threading

from tqdm import tqdm

from .scan import Progress


class BarProgress(Progress):
    def __init__(self, disable=None):
        self._lock = threading.Lock()
        self._files = self._files_total = self._hits = 0
        self._bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024,
                         file=sys.stderr, disable=disable, dynamic_ncols=True, leave=False,
                         desc="scanning")
        self.shown = not self._bar.disable

    def add_total(self, files: int, nbytes: int) -> None:
        with self._lock:
            self._files_total += files
            self._bar.total += nbytes
            self._show()

    def advance(self, files: int, nbytes: int, hit: bool = False) -> None:
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
