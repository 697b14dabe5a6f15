"""Hash sets: read every real-world format, compile once into a fast memory-mapped store,
validate and diff them.

    from triage.hashsets import load
    with load(path) as hs:            # a compiled set or any supported source file
        hs.lookup("md5", [digest])
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from ..errors import HashSetError

__all__ = ["HashSet", "SetInfo", "compile_sources", "load"]


def __getattr__(name):
    # Loaded when first asked: the text formats' readers when a source is compiled, not for a
    # compiled set (a scan's start-up); the store (numpy) not for checksums.begin, which runs
    # before a command's modules load.
    if name in ("HashSet", "SetInfo"):
        from . import hashset
        return getattr(hashset, name)
    if name == "compile_sources":
        from .importer import compile_sources
        return compile_sources
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load(path, verify: bool = True, trust=None, later: bool = False, **options) -> HashSet:
    """Open a compiled or sealed set, or compile a source file (format detected from content)
    into a temporary store and open that. `trust`: raw Ed25519 public keys, one of which must
    have signed the set (a source file is never signed). `later`: a compiled set's data is
    checked in a thread (HashSet.verified). `options` go to compile_sources (name, kind,
    signal...)."""
    from .hashset import HashSet
    from .store import is_store
    path = Path(path)
    try:
        # a FIFO would hold the open until a writer came, and a pipe cannot be read twice (its
        # head here, then the set): a set is a regular file
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise HashSetError(f"{path}: not a regular file (a hash set is read from a file, "
                               f"not a folder, pipe or device)")
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise HashSetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if is_store(head):
        return HashSet(path, verify, trust, later)
    if trust is not None:
        raise HashSetError(f"{path}: not signed (a source list, not a compiled set), and "
                           f"--trust accepts only sets signed by a trusted key")
    from .importer import compile_sources
    fd, tmp = tempfile.mkstemp(prefix="triage-set-", suffix=".tset")
    os.close(fd)
    try:
        compile_sources([path], tmp, **options)
        hs = HashSet(tmp, verify=False)
    finally:
        os.unlink(tmp)   # the mapping stays valid; the file is gone when the set closes
    hs.path = path
    return hs
