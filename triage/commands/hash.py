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
from .options import PathArg, signal_list, video_frames_option

DEFAULT = "md5,sha1,sha256,pdq,phash"


@click.command("hash")
@click.argument("paths", metavar="FILE...", nargs=-1, required=True,
                type=PathArg(dir_okay=False))
@click.option("--signal", "names", default=DEFAULT, show_default=True, metavar="SIGNALS",
              callback=signal_list(), help="Signals to compute, e.g. pdq,phash,md5.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object a line: path, one key per signal, pdq_quality (and error, "
                   "warnings when there are); vpdq is a list of vPDQ lines.")
@video_frames_option
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
def hash_command(paths, names, as_json, progress, video_frames):
    """Compute SIGNALS for each FILE: cryptographic digests of any file, perceptual hashes
    (pdq, phash, dhash, ahash, whash and their 256-bit forms) of images, recognised by content.

    Plain output is one `SIGNAL (FILE) = VALUE` line each (the BSD tag format); with --json a
    perceptual signal of a file that is not an image is null. A file that cannot be read, an
    image that cannot be decoded or one too large to decode is reported on stderr and the
    others go on; the exit code is then 3. What an image library warns about a file is
    reported on stderr too, and does not change the exit code.

    vpdq hashes a video (or an animated GIF, APNG, WebP) frame by frame: its value is vPDQ's
    text, one `frame,quality,pdq_hex,timestamp` line a frame; with vpdq alone the plain output
    is exactly that text (a file `hashset import` reads), after a `# FILE` line when several
    files are given."""
    for name in names:
        if not signals.get(name).computable:
            raise click.BadParameter(f"{name} cannot be computed here", param_hint="--signal")
    failures = 0
    # Files are read and hashed in one process per CPU, printed in the order given.
    records = ordered(partial(hash_file, names=names,
                             video_frames=video_frames or "second"), paths, _cost)
    for record in progress_bar(progress, iterable=records, total=len(paths), unit=" files"):
        path = record["path"]
        reasons = record.get("warnings", [])
        if "error" in record:
            failures += 1
            reasons = [record["error"]] + reasons
        for reason in reasons:
            tqdm.write(visible(f"triage: warning: {path}: {reason}"), file=sys.stderr)
        click.echo(dumps(record) if as_json else _plain(record, names, len(paths) > 1))
    return EXIT_INCOMPLETE if failures else EXIT_CLEAN


def _cost(path: str) -> int:
    """A picture is a batch of its own; other files cost what they read (workers.batches)."""
    if reading.likely_picture(path):
        return BATCH_COST
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def hash_file(path: str, names, video_frames: str = "second"
              ) -> Dict[str, Optional[object]]:
    """`{"path", <signal>: hex or None, "pdq_quality"?, "error"?, "warnings"?}` for one file,
    read once (reading.read) for all of them (a video's frames are decoded from it after)."""
    exact = [n for n in names if signals.get(n).kind == "exact"]
    perceptual = [n for n in names if signals.get(n).kind == "perceptual"]
    video = "vpdq" in names
    record: Dict[str, Optional[object]] = {"path": path}
    record.update({n: None for n in names})
    if "pdq" in perceptual:
        record["pdq_quality"] = None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            record["error"] = "not a regular file"   # a FIFO or device would block or never end
            return record
        with open(path, "rb") as reader:
            contents = reading.read(reader, exact, pictures=bool(perceptual) or video,
                                    videos=video, size=os.fstat(reader.fileno()).st_size)
        record.update(contents.digests)
        if contents.too_large and perceptual:
            record["error"] = f"image larger than {reading.MAX_IMAGE_BYTES} bytes: not decoded"
        elif contents.data is not None and perceptual:
            _perceive(contents.data, perceptual, record)
        if video:
            _watch(path, contents, video_frames, record)
    except OSError as exc:
        record["error"] = f"cannot read: {one_line(exc)}"
    return record


def _watch(path: str, contents, frames: str, record) -> None:
    """The vPDQ lines of a video (or an animated picture), into `record`; or its error."""
    from ..video import VideoDecodeError, hash_video, is_animated
    if contents.video is None and not (contents.data is not None and is_animated(contents.data)):
        return
    try:
        with open(path, "rb") as source:
            hashed = hash_video(source, frames)
    except VideoDecodeError as exc:
        record["error"] = exc.reason()
        return
    record["vpdq"] = [f.line() for f in hashed.frames]
    if hashed.warnings:
        record["warnings"] = record.get("warnings", []) + hashed.warnings


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


def _plain(record, names, several: bool = False) -> str:
    path = visible(record["path"])
    if tuple(names) == ("vpdq",) and record["vpdq"] is not None:
        frames = record["vpdq"]
        return "\n".join(([f"# {path}"] if several else []) + frames) if frames else \
            f"# {path}: no frame of quality 50 or more"
    lines = [f"{name.upper()} ({path}) = {record[name]}" for name in names
             if record[name] is not None and name != "vpdq"]
    lines += [f"VPDQ ({path}) = {line}" for line in record.get("vpdq") or ()]
    if record.get("pdq_quality") is not None:
        lines.append(f"PDQ-QUALITY ({path}) = {record['pdq_quality']}")
    return "\n".join(lines) if lines else f"# {path}: {record.get('error', 'not an image')}"
