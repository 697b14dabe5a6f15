"""A compiled set's data checksums, and how they are begun ahead.

A scan checks the SHA-256 of its sets' data before it relies on them: 50 ms for a set of 55
MB, in a thread of its own (hashlib lets go of the GIL). Begun where the set is loaded, it
ended after everything else a scan's start does, and the workers waited on it. `begin`
starts it as soon as a command's arguments name the set, while the command's own modules
load (0.1 s on one core, the other idle); the load then takes the digests it made.

Apart from store.py (which reads the rest of the file with numpy) so that `begin` costs no
import: only the file's fixed prefix is read here."""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import threading
from typing import Dict, Optional, Sequence, Tuple

MAGIC = b"TRIAGEHS"
PREFIX = struct.Struct("<8sIIQQ32s32s")
PAGE = 4096
# Each read and update waits for the GIL, which the import holds, and the buffer's pages are
# faulted in beside the import's own mappings: 4 MiB forked the workers ~10 ms sooner than 16
# (205 against 216 ms from the process's start, 6 runs each; the import 112 ms against 120),
# and 1 MiB or 256 KiB later again (more hand-overs of the GIL).
CHUNK = 1 << 22


def align(n: int) -> int:
    """`n` rounded up to a page: where a compiled set's data (and each array) starts."""
    return -(-n // PAGE) * PAGE


class Digests:
    """The SHA-256 of a compiled set's data, and with `whole` of everything before its end
    (what a signature covers), of one file as read through `fd` from `start`, `length` bytes."""

    def __init__(self, fd: int, start: int, length: int, whole: bool):
        self.data: Optional[bytes] = None      # None: the file ended early
        self.whole: Optional[bytes] = None
        everything = hashlib.sha256(os.pread(fd, start, 0)) if whole else None
        digest = hashlib.sha256()
        buffer = bytearray(CHUNK)
        with memoryview(buffer) as view:
            # reads rather than the mapping: ~20% faster (no page faults), and pages no lookup
            # touches are never mapped into this process
            while length and (count := os.preadv(fd, [view[:min(length, CHUNK)]], start)):
                digest.update(view[:count])
                if everything is not None:
                    everything.update(view[:count])
                length -= count
                start += count
        if not length:
            self.data = digest.digest()
            self.whole = everything.digest() if everything is not None else None


def _identity(st: os.stat_result) -> tuple:
    """What tells the same file, unchanged: a write changes its ctime, a replacement its inode."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class _Begun:
    """Digests being made in a thread, of one file's data as its prefix placed it."""

    def __init__(self, fd: int, start: int, length: int, whole: bool):
        self.span = (start, length, whole)
        self._digests: Optional[Digests] = None
        self._thread = threading.Thread(target=self._run, args=(fd,), daemon=True,
                                        name="set-checksum-ahead")
        self._thread.start()

    def _run(self, fd: int) -> None:
        try:
            self._digests = Digests(fd, *self.span)
        except Exception:   # noqa: BLE001 - never told here: the load reads the file again,
            pass            # and says what is wrong with it
        finally:
            os.close(fd)

    def digests(self) -> Optional[Digests]:
        self._thread.join()
        return self._digests


_begun: Dict[tuple, _Begun] = {}
_lock = threading.Lock()


def begin(paths: Sequence[str]) -> None:
    """Begin the digests of each of `paths` that is a compiled set, in threads. A path that is
    none (a FIFO, a device, a list of digests), or cannot be read, is passed over: its load
    says why."""
    for path in paths:
        try:   # not waiting for a FIFO's writer: only a regular file is begun
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except (OSError, ValueError):
            continue
        try:
            st = os.fstat(fd)
            prefix = os.pread(fd, PREFIX.size, 0) if stat.S_ISREG(st.st_mode) else b""
        except OSError:
            os.close(fd)
            continue
        if len(prefix) < PREFIX.size or not prefix.startswith(MAGIC):
            os.close(fd)
            continue
        trailer, header_len, data_len = PREFIX.unpack(prefix)[2:5]
        start = align(PREFIX.size + header_len)
        if start + data_len + trailer != st.st_size:   # a damaged prefix: its load refuses it
            os.close(fd)
            continue
        with _lock:
            if _identity(st) in _begun:
                os.close(fd)
                continue
            _begun[_identity(st)] = _Begun(fd, start, data_len, bool(trailer))


def digests(fd: int, start: int, length: int, whole: bool) -> Digests:
    """The Digests of the set read through `fd`: those begun ahead where the same file,
    unchanged since, was begun with the same span (each is taken once), else made now."""
    with _lock:
        begun = _begun.pop(_identity(os.fstat(fd)), None)
    if begun is not None and begun.span == (start, length, whole):
        made = begun.digests()
        if made is not None:
            return made
    return Digests(fd, start, length, whole)


def named_sets(args: Sequence[str]) -> Tuple[str, ...]:
    """The values of `--hashset` in a command's raw arguments (`--hashset P`, `--hashset=P`),
    before any parser has read them: what `begin` is given. A guess that costs only a look
    where it is wrong (a value that is no set)."""
    found = []
    for at, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--hashset" and at + 1 < len(args):
            found.append(args[at + 1])
        elif arg.startswith("--hashset="):
            found.append(arg.partition("=")[2])
    return tuple(found)
