"""`triage hash`: the signals of loose files, for building sets and for checking one file."""

from __future__ import annotations

import os
import stat
import sys
from typing import Dict, Optional

import click
from tqdm import tqdm

from .. import signals
from ..errors import EXIT_CLEAN, EXIT_INCOMPLETE, one_line
from ..hashing import chunks, digest_stream
from ..imaging import HEAD, ImageDecodeError, decode, sniff
from ..jsonout import dumps
from ..progress import progress_bar
from ..safetext import visible
from ..scanners.judge import MAX_IMAGE_BYTES
from .options import signal_list

DEFAULT = "md5,sha1,sha256,pdq,phash"


@click.command("hash")
@click.argument("paths", metavar="FILE...", nargs=-1, required=True,
                type=click.Path(dir_okay=False))
@click.option("--signal", "names", default=DEFAULT, show_default=True, metavar="SIGNALS",
              callback=signal_list(), help="Signals to compute, e.g. pdq,phash,md5.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object a line: path, one key per signal, pdq_quality.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
def hash_command(paths, names, as_json, progress):
    """Compute SIGNALS for each FILE: cryptographic digests of any file, perceptual hashes
    (pdq, phash, dhash, ahash, whash and their 256-bit forms) of images, recognised by content.

    Plain output is one `SIGNAL (FILE) = VALUE` line each (the BSD tag format); with --json a
    perceptual signal of a file that is not an image is null. A file that cannot be read, an
    image that cannot be decoded or one too large to decode is reported on stderr and the
    others go on; the exit code is then 3."""
    for name in names:
        if not signals.get(name).computable:
            raise click.BadParameter(f"{name} cannot be computed here", param_hint="--signal")
    failures = 0
    for path in progress_bar(progress, iterable=paths, unit=" files"):
        record = hash_file(path, names)
        if "error" in record:
            failures += 1
            tqdm.write(visible(f"triage: warning: {path}: {record['error']}"), file=sys.stderr)
        click.echo(dumps(record) if as_json else _plain(record, names))
    return EXIT_INCOMPLETE if failures else EXIT_CLEAN


def hash_file(path: str, names) -> Dict[str, Optional[object]]:
    """`{"path", <signal>: hex or None, "pdq_quality"?, "error"?}` for one file."""
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
            head = reader.read(HEAD)
            image = bool(perceptual) and sniff(head) is not None
            if image and os.fstat(reader.fileno()).st_size > MAX_IMAGE_BYTES:
                record["error"] = f"image larger than {MAX_IMAGE_BYTES} bytes: not decoded"
                image = False
            content = bytearray(head) if image else None

            def blocks():
                yield head
                for block in chunks(reader):
                    if content is not None:
                        content.extend(block)
                    yield block

            record.update(digest_stream(blocks(), exact))
    except OSError as exc:
        record["error"] = f"cannot read: {one_line(exc)}"
        return record
    if content is not None:
        reason = _perceive(content, perceptual, record)
        if reason:
            record["error"] = reason
    return record


def _perceive(content: bytearray, names, record) -> Optional[str]:
    try:
        image = decode(bytes(content))
    except ImageDecodeError as exc:
        return f"image not decoded: {exc}"
    for name in names:
        h = signals.get(name).compute(image)
        record[name] = h.value
        if h.quality is not None:
            record[f"{name}_quality"] = h.quality
    return None


def _plain(record, names) -> str:
    path = visible(record["path"])
    lines = [f"{name.upper()} ({path}) = {record[name]}" for name in names
             if record[name] is not None]
    if record.get("pdq_quality") is not None:
        lines.append(f"PDQ-QUALITY ({path}) = {record['pdq_quality']}")
    return "\n".join(lines) if lines else f"# {path}: {record.get('error', 'not an image')}"
