"""What the libraries that decode and hash pictures (Pillow, pillow_heif, imagehash, numpy) or
open archives and documents (libarchive, pypdf) say while handling one file, collected as
one-line reasons for that file's record instead of printed on stderr.

Python's `warnings.catch_warnings` swaps module-wide state and is not safe across threads (the
scan's workers are threads where the platform cannot fork), so this installs one router per
process, kept in place across callers that swap the state back (a test runner): a warning, or
a Pillow log record at WARNING and above, goes to the list of the thread collecting, else
where it went before."""

from __future__ import annotations

import logging
import re
import threading
import warnings
from contextlib import contextmanager
from typing import Iterator, List, Optional

_MAX_REASON = 160
_local = threading.local()
_lock = threading.Lock()
_previous = None

# Every warning reaches the router each time (the default shows one message once per place, so
# the second file with the same problem would get no record), except those Python itself hides
# (about our own code, not the file: deprecations, imports, unclosed resources), and those a
# caller settles itself (`ignore`).
_ignored: List[type] = [DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                        ResourceWarning]


def _template(record: logging.LogRecord) -> str:
    """A record's message with its values left out: a document library's values can be the
    document's own text (an outline's title, a header's bytes), which no record may carry."""
    return _PLACEHOLDER.sub("...", str(record.msg)).replace("%%", "%")


_PLACEHOLDER = re.compile(r"%(\([^)]*\))?[-#0 +]*\d*(\.\d+)?[sdrifxXeEgGc]")

# The loggers routed, each with what a record of it becomes: the picture libraries' values are
# sizes and tag numbers, and libarchive-c's (libarchive's warnings on an archive's headers)
# its own text, kept; pypdf's, left out (_template).
_LOGGERS = {"PIL": logging.LogRecord.getMessage, "pillow_heif": logging.LogRecord.getMessage,
            "libarchive": logging.LogRecord.getMessage, "pypdf": _template}


def _sink() -> Optional[List[str]]:
    return getattr(_local, "sink", None)


def _reason(category: str, message: str) -> str:
    """One line, printable, short: library messages name a codec problem (a tag number, a
    size), and are cut before they could carry more."""
    text = " ".join(str(message).split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    return f"{category}: {text}"[:_MAX_REASON]


def _show(message, category, filename, lineno, file=None, line=None):
    sink = _sink()
    if sink is None:
        return _previous(message, category, filename, lineno, file, line)
    reason = _reason(category.__name__, message)
    if reason not in sink:
        sink.append(reason)
    return None


class _ToSink(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        message = _LOGGERS.get(record.name.split(".")[0], logging.LogRecord.getMessage)(record)
        sink = _sink()
        if sink is None:
            if not _handled_elsewhere(record.name):   # as if this handler were not there
                logging.lastResort.handle(logging.makeLogRecord(
                    {**record.__dict__, "msg": message, "args": None}))
            return
        reason = _reason(record.name, message)
        if reason not in sink:
            sink.append(reason)


_handler = _ToSink(logging.WARNING)


def _handled_elsewhere(name: str) -> bool:
    """Whether a record of logger `name` reaches a handler other than ours."""
    logger: Optional[logging.Logger] = logging.getLogger(name)
    while logger is not None:
        if any(h is not _handler for h in logger.handlers):
            return True
        logger = logger.parent if logger.propagate else None
    return False


def ignore(category: type) -> None:
    """Never collect nor show warnings of `category`: for one whose matter the caller settles
    itself (Pillow's decompression-bomb warning, below the pixel cap that imaging applies)."""
    with _lock:
        if category not in _ignored:
            _ignored.append(category)
    warnings.simplefilter("ignore", category)


def install() -> None:
    """Put the router and the filters in place (again, if something swapped them out)."""
    global _previous
    with _lock:
        if warnings.showwarning is not _show:
            _previous = warnings.showwarning
            warnings.showwarning = _show
        wanted = [("ignore", None, c, None, 0) for c in _ignored] + [
            ("always", None, Warning, None, 0)]
        if warnings.filters[:len(wanted)] != wanted:
            # simplefilter moves an entry already there to the front: no duplicates
            for action, _, category, _, _ in reversed(wanted):
                warnings.simplefilter(action, category)
        for logger_name in _LOGGERS:
            logger = logging.getLogger(logger_name)
            if _handler not in logger.handlers:
                logger.addHandler(_handler)


@contextmanager
def collected() -> Iterator[List[str]]:
    """The reasons the libraries gave while the block ran in this thread, each once, in order.
    A block nested in it collects its own (a picture's in a PDF are the picture's, not the
    PDF's)."""
    install()
    outer = _sink()
    _local.sink = []
    try:
        yield _local.sink
    finally:
        _local.sink = outer
