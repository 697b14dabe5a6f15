"""The batch's one progress bar on stderr: items finished of all, bytes read and hits so far,
fed by the scans' own progress (Dask events from the workers, tasks.TaskProgress) and by each
item's end (its report's count of hits replaces what its scans sent, which a resumed scan
only partly sends)."""

from __future__ import annotations

import threading
from typing import Dict, Optional

from ..progress import progress_bar


class BatchBar:
    def __init__(self, shown: Optional[bool], items: int):
        self._lock = threading.Lock()
        self._bar = progress_bar(shown, total=items, unit=" items", desc="batch")
        self.shown = not self._bar.disable
        self.items = 0                     # items ended
        self.failed = 0                    # of which failed
        self.bytes = 0                     # read so far
        self._live: Dict[str, int] = {}    # hits sent by an item's running scans
        self._hits = 0                     # hits of finished items

    def event(self, event) -> None:
        """A Dask event: (time, {"item", "files", "bytes", "hits"})."""
        _, message = event
        with self._lock:
            self.bytes += message.get("bytes", 0)
            item = message.get("item")
            self._live[item] = self._live.get(item, 0) + message.get("hits", 0)
            self._show()

    def item_done(self, evidence_id: str, hits: Optional[int]) -> None:
        """An item ended: with its report's hits, or None when it failed."""
        with self._lock:
            self._live.pop(evidence_id, None)
            if hits is None:
                self.failed += 1
            else:
                self._hits += hits
            self.items += 1
            self._bar.update(1)
            self._show()

    @property
    def hits(self) -> int:
        """Of the items ended, and those the running scans have sent so far."""
        return self._hits + sum(self._live.values())

    def _show(self) -> None:
        hits = self.hits
        failed = f", {self.failed} failed" if self.failed else ""
        self._bar.set_postfix_str(f"{self.bytes / 1e9:,.2f} GB read, {hits} "
                                  f"hit{'s' if hits != 1 else ''}{failed}")

    def close(self) -> None:
        with self._lock:
            self._bar.close()
