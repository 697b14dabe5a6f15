"""`triage files`: every file entry of an evidence item, one JSON object a line."""

from __future__ import annotations

import sys

import click
from tqdm import tqdm

from ..errors import EXIT_CLEAN, EXIT_INCOMPLETE, READ_ERRORS, one_line
from ..evidence import open_evidence
from ..hashing import chunks, digest_stream
from ..jsonout import dumps
from ..records import ScanError
from ..safetext import visible
from .options import signal_list


@click.command()
@click.argument("evidence", type=click.Path(exists=False))
@click.option("--hash", "hashes", default=None, metavar="ALGOS", callback=signal_list("exact"),
              help="Digests to compute in one pass, e.g. md5,sha1,sha256.")
@click.option("--no-deleted", is_flag=True, help="Only allocated files.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
def files(evidence, hashes, no_deleted, progress):
    """List every file of EVIDENCE (disk image, E01, split raw, device or folder): allocated and
    deleted files of every partition and file system, NTFS streams as `path:stream`.

    One JSON object a line with evidence, volume, path, inode, allocated, size, times and the
    requested hashes. A part that cannot be read becomes a line with an "error" key (also shown
    on stderr) and the listing goes on; the exit code is then 3."""
    errors = 0
    out = sys.stdout
    with open_evidence(evidence) as ev, tqdm(
        unit=" files", disable=not progress if progress is not None else None,
        file=sys.stderr, leave=False, dynamic_ncols=True,
    ) as bar:
        for item in ev.entries(deleted=not no_deleted):
            if isinstance(item, ScanError):
                errors += 1
                _report_error(out, item)
                continue
            record = item.to_dict()
            if hashes:
                try:
                    with item.open() as reader:
                        counted = _Counted(chunks(reader))
                        record.update(digest_stream(counted, hashes))
                    if counted.total < item.size:
                        # a deleted file recovered in part: the hashes cover what was there
                        record["recovered"] = counted.total
                except READ_ERRORS as exc:
                    record.update({name: None for name in hashes})
                    errors += 1
                    _report_error(out, ScanError(item.evidence, f"read failed: {one_line(exc)}",
                                                 item.volume, item.path, item.inode))
            out.write(dumps(record) + "\n")
            bar.update(1)
    return EXIT_INCOMPLETE if errors else EXIT_CLEAN


class _Counted:
    def __init__(self, blocks):
        self.blocks, self.total = blocks, 0

    def __iter__(self):
        for block in self.blocks:
            self.total += len(block)
            yield block


def _report_error(out, error: ScanError) -> None:
    record = error.to_dict()
    record["error"] = record.pop("reason")
    out.write(dumps(record) + "\n")
    where = error.path or (f"volume {error.volume.index}" if error.volume else "")
    tqdm.write(visible(f"triage: warning: {error.evidence}: {where}: {error.reason}"),
               file=sys.stderr)
