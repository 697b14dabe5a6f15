"""Timestamps in the one form every output uses: UTC ISO 8601 with a trailing Z."""

from __future__ import annotations

import os
import time
from typing import Optional

_pinned = False


def pin_utc() -> None:
    """Make the process's local time UTC.

    The Sleuth Kit converts FAT and exFAT local timestamps, and libewf formats E01 acquisition
    dates, with the C library's local time zone. Pinning it makes every output the same on every
    examiner's machine (as `TZ=UTC fls` does), instead of depending on where the tool runs."""
    global _pinned
    if not _pinned:
        os.environ["TZ"] = "UTC"
        time.tzset()
        _pinned = True


def iso(seconds: Optional[float], nanos: int = 0) -> Optional[str]:
    """Seconds since the epoch (and optional nanoseconds) to ISO 8601; 0 or None means unset."""
    if not seconds and not nanos:
        return None
    # gmtime and %-formatting: a listing formats four stamps a file, and this is 3x cheaper
    # than datetime's strftime, which was most of the walk's time (benchmarks/README.md).
    try:
        t = time.gmtime(int(seconds))
    except (OverflowError, OSError, ValueError):
        return None  # a corrupt timestamp is absent information, not a reason to stop
    if not 1 <= t.tm_year <= 9999:
        return None
    stamp = "%04d-%02d-%02dT%02d:%02d:%02d" % t[:6]
    if nanos:
        stamp += f".{nanos:09d}".rstrip("0")
    return stamp + "Z"
