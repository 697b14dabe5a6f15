"""Reopening a file of an image in another process: a picklable `Locator` says where its
content is, and one `Handles` object per process holds that process's own open evidence.

A TSK file or an EWF handle cannot cross a process boundary (and a forked copy would share file
offsets with its parent), so a worker process opens the evidence again, once, and reads every
file it is given through that one handle. The worker pool (triage.workers) makes the process's
`Handles`, installs it, and closes it when the process's work ends."""

from __future__ import annotations

from typing import Callable, Dict, NamedTuple, Optional, Tuple


class Locator(NamedTuple):
    """Where a file's content is, in terms any process can open again. (A tuple: one is made
    for every file listed, and a frozen dataclass costs several times as much to make.)"""

    evidence: str                                # the evidence path as opened
    volume: int                                  # Volume.index
    inode: int                                   # TSK meta address
    attribute: Optional[Tuple[int, int]] = None  # (type, id) of a named stream; None: default data


class Handles:
    """One process's open evidence, by path: each opened on first use with `opener` (the
    package's open_evidence), all closed by close(). Not shared between processes."""

    def __init__(self, opener: Callable[[str], object]):
        self._opener = opener
        self._open: Dict[str, object] = {}

    def evidence(self, path: str):
        handle = self._open.get(path)
        if handle is None:
            handle = self._open[path] = self._opener(path)
        return handle

    def open_file(self, locator: Locator):
        """(TSK file, media) of the located file, through this process's handle."""
        ev = self.evidence(locator.evidence)
        return ev.file_system(locator.volume).open_meta(inode=locator.inode), ev.media

    def close(self) -> None:
        handles, self._open = self._open, {}
        for handle in handles.values():
            handle.close()

    def install(self) -> "Handles":
        """Make this the process's handles for openers that arrive without their TSK file."""
        global _installed
        _installed = self
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# The process's Handles, set by install() (the worker pool does it in each worker process):
# a reference to the explicit object, which its owner closes, not a cache of its own.
_installed: Optional[Handles] = None


def installed() -> Optional[Handles]:
    return _installed
