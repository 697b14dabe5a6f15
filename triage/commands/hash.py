"""`triage hash`: the signals of loose files, for building sets and for checking one file."""

from __future__ import annotations

import os
import stat
import sys
from functools import partial
from typing import Dict, Optional

import click
from tqdm import tqdm

from .. import reading, signals
from ..workers import BATCH_COST, ordered
from ..errors import EXIT_CLEAN, EXIT_INCOMPLETE, one_line
from ..jsonout import dumps
from ..progress import progress_bar
from ..safetext import visible
from .options import signal_list

DEFAULT = "md5,sha1,sha256,pdq,phash"


@click.command("hash")
@click.argument("paths", metavar="FILE...", nargs=-1, required=True,
                type=click.Path(dir_okay=False))
@click.option("--signal", "names", default=DEFAULT, show_default=True, metavar="SIGNALS",
              callback=signal_list(), help="Signals to compute, e.g. pdq,phash,md5.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object a line: path, one key per signal, pdq_quality (and error, "
                   "warnings when there are).")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
def hash_command(paths, names, as_json, progress):
    """Compute SIGNALS for each FILE: cryptographic digests of any file, perceptual hashes
    (pdq, phash, dhash, ahash, whash and their 256-bit forms) of images, recognised by content.

    Plain output is one `SIGNAL (FILE) = VALUE` line each (the BSD tag format); with --json a
    perceptual signal of a file that is not an image is null. A file that cannot be read, an
    image that cannot be decoded or one too large to decode is reported on stderr and the
    others go on; the exit code is then 3. What an image library warns about a file is
    reported on stderr too, and does not change the exit code."""
    for name in names:
        if not signals.get(name).computable:
            raise click.BadParameter(f"{name} cannot be computed here", param_hint="--signal")
    failures = 0
    # Files are read and hashed in one process per CPU, printed in the order given.
    records = ordered(partial(hash_file, names=names), paths, _cost)
    for record in progress_bar(progress, iterable=records, total=len(paths), unit=" files"):
        path = record["path"]
        reasons = record.get("warnings", [])
        if "error" in record:
            failures += 1
            reasons = [record["error"]] + reasons
        for reason in reasons:
            tqdm.write(visible(f"triage: warning: {path}: {reason}"), file=sys.stderr)
        click.echo(dumps(record) if as_json else _plain(record, names))
    return EXIT_INCOMPLETE if failures else EXIT_CLEAN


def _cost(path: str) -> int:
    """A picture is a batch of its own; other files cost what they read (workers.batches)."""
    if reading.likely_picture(path):
        return BATCH_COST
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def hash_file(path: str, names) -> Dict[str, Optional[object]]:
    """`{"path", <signal>: hex or None, "pdq_quality"?, "error"?, "warnings"?}` for one file,
    read once (reading.read) for all of them."""
    exact = [n for n in names if signals.get(n).kind == "exact"]
    perceptual = [n for n in names if signals.get(n).kind == "perceptual"]
    record: Dict[str, Optional[object]] = {"path": path}
    record.update({n: None for n in names})
    if "pdq" in perceptual:
        record["pdq_quality"] = None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            record["error"] = "not a regular file"   # a FIFO or device would block or never end
            return record
        with open(path, "rb") as reader:
            contents = reading.read(reader, exact, pictures=bool(perceptual),
                                    size=os.fstat(reader.fileno()).st_size)
    except OSError as exc:
        record["error"] = f"cannot read: {one_line(exc)}"
        return record
    record.update(contents.digests)
    if contents.too_large:
        record["error"] = f"image larger than {reading.MAX_IMAGE_BYTES} bytes: not decoded"
    elif contents.data is not None:
        _perceive(contents.data, perceptual, record)
    return record


def _perceive(data: bytes, names, record) -> None:
    """The perceptual values of a picture as found (canonical: at full size, no enlarged or
    reduced copy), decoded and hashed within one budget (each hash started before its
    deadline), into `record`; or its error."""
    from ..imaging import ImageDecodeError, decode
    from ..library_warnings import collected
    from ..scanners.perceptual import canonical, full_size_budget
    budget = full_size_budget()
    values: Dict[str, object] = {}
    with collected() as said:
        try:
            for h in canonical(decode(data, budget), names, budget):
                values[h.signal] = h.value
                if h.quality is not None:
                    values[f"{h.signal}_quality"] = h.quality
            record.update(values)
        except ImageDecodeError as exc:
            record["error"] = exc.reason()
        except MemoryError:   # the decoded picture itself: up to 4 bytes a pixel
            record["error"] = "image not hashed: out of memory"
    if said:
        record["warnings"] = [f"image library warning: {w}" for w in said]


def _plain(record, names) -> str:
    path = visible(record["path"])
    lines = [f"{name.upper()} ({path}) = {record[name]}" for name in names
             if record[name] is not None]
    if record.get("pdq_quality") is not None:
        lines.append(f"PDQ-QUALITY ({path}) = {record['pdq_quality']}")
    return "\n".join(lines) if lines else f"# {path}: {record.get('error', 'not an image')}"
