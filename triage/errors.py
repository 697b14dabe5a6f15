"""Errors that reach the user as one line and an exit code, never as a traceback."""

from __future__ import annotations

import errno

# Exit codes, as clamscan's: see README "Exit codes".
EXIT_CLEAN = 0
EXIT_HITS = 1
EXIT_UNUSABLE = 2
EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130     # Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143      # SIGTERM (128 + SIGTERM)


# What reading evidence can raise: OS errors, and the RuntimeError pytsk3 turns a failed read
# inside a Python image class (EWF, split raw) into.
READ_ERRORS = (OSError, RuntimeError)


class DamagedMedia(OSError):
    """Content that lies in a chunk of the media whose stored checksum does not match its data
    (what `ewfverify` calls a sector validation error): its bytes are not the evidence's. Says
    where, so a scan can list the damaged ranges beside the files over them."""

    def __init__(self, offset: int, length: int):
        self.offset, self.length = offset, length
        super().__init__(errno.EIO, f"damaged EWF chunk at media bytes {offset:,}-"
                                    f"{offset + length - 1:,} (checksum mismatch)")


class TriageError(Exception):
    """A problem the user can fix: bad input, unreadable evidence or set. `str()` is the line
    printed; it names the file and the reason and never quotes file content."""

    exit_code = EXIT_UNUSABLE

    def __init__(self, message: str, exit_code: int = EXIT_UNUSABLE):
        super().__init__(message)
        self.exit_code = exit_code


class EvidenceError(TriageError):
    """The evidence item as a whole cannot be opened."""


class HashSetError(TriageError):
    """A hash set (compiled or source) cannot be read."""


def one_line(exc: BaseException) -> str:
    """The most specific line of a library's error (libewf and TSK errors run to several lines,
    most general first), or the exception's type when it says nothing."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
