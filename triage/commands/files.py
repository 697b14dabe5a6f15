"""`triage files`: every file entry of an evidence item, one JSON object a line."""

from __future__ import annotations

import os
import sys
from functools import partial
from typing import Dict, Iterator, List, Sequence

import click
from tqdm import tqdm

from ..errors import EXIT_CLEAN, EXIT_INCOMPLETE, READ_ERRORS, one_line
from ..evidence import open_evidence
from ..hashing import chunks, digest_stream
from ..jsonout import dumps
from ..progress import progress_bar
from ..records import ScanError
from ..safetext import visible
from ..workers import Workers, batches
from .options import evidence_access, signal_list


@click.command()
@click.argument("evidence", type=click.Path(exists=False))
@evidence_access
@click.option("--hash", "hashes", default=None, metavar="ALGOS", callback=signal_list("exact"),
              help="Digests to compute in one pass, e.g. md5,sha1,sha256.")
@click.option("--no-deleted", is_flag=True, help="Only allocated files.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Files hashed in parallel (default: one per CPU).")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
def files(evidence, hashes, no_deleted, workers, progress):
    """List every file of EVIDENCE (disk image, E01, split raw, device or folder): allocated and
    deleted files of every partition and file system, NTFS streams as `path:stream`.

    One JSON object a line with evidence, volume, path, inode, allocated, size, times and the
    requested hashes, in a stable order. A part that cannot be read becomes a line with an
    "error" key (also shown on stderr) and the listing goes on; the exit code is then 3. A
    deleted file recovered only in part carries "recovered": the bytes its hashes cover."""
    errors = 0
    with open_evidence(evidence) as ev, progress_bar(progress, unit=" files") as bar:
        items = ev.entries(deleted=not no_deleted)
        if hashes:
            pool = Workers(partial(describe_once, hashes=hashes), workers or os.cpu_count() or 2)
            work = batches(_marked(items), lambda marked: getattr(marked[0], "size", 0))
            outputs = _reused((out for _, results in pool.map(work) for out in results), hashes)
        else:
            pool, outputs = None, (describe(item, ()) for item in items)
        try:
            for records in outputs:
                for record in records:
                    sys.stdout.write(dumps(record) + "\n")
                    if "error" in record:
                        errors += 1
                        _warn(record)
                bar.update(1)
        finally:
            if pool is not None:
                pool.close()
    return EXIT_INCOMPLETE if errors else EXIT_CLEAN


def _marked(items) -> Iterator[tuple]:
    """(item, content key or None, whether that content was listed before under another name:
    a hard link, a deleted name whose inode a live file now owns)."""
    seen = set()
    for item in items:
        if isinstance(item, ScanError):
            yield item, None, False
            continue
        key = item.content_key()
        yield item, key, key in seen
        seen.add(key)


def describe_once(marked: tuple, hashes: Sequence[str]) -> tuple:
    """describe(), reading a content only under its first name."""
    item, key, again = marked
    return key, again, describe(item, () if again else hashes)


def _reused(outputs, hashes: Sequence[str]) -> Iterator[List[dict]]:
    """The records of each item, another name of a content given the digests read under its
    first (which comes before it: outputs keep the walk's order)."""
    digests: Dict[tuple, dict] = {}
    for key, again, records in outputs:
        if key is not None:
            if again:
                records[0].update(digests[key])
            else:
                digests[key] = {k: records[0].get(k) for k in (*hashes, "recovered")
                                if k in records[0]}
        yield records


def describe(item, hashes: Sequence[str]) -> List[dict]:
    """The JSON objects one listed item prints: a file (with its hashes), an error, or both
    when a file's content cannot be read."""
    if isinstance(item, ScanError):
        return [_error_record(item)]
    record = item.to_dict()
    if not hashes:
        return [record]
    try:
        with item.open() as reader:
            counted = _Counted(chunks(reader))
            record.update(digest_stream(counted, hashes))
    except READ_ERRORS as exc:
        record.update({name: None for name in hashes})
        problem = ScanError(item.evidence, f"read failed: {one_line(exc)}", item.volume,
                            item.path, item.inode)
        return [record, _error_record(problem)]
    if counted.total < item.size:
        # a deleted file recovered in part: the hashes cover what was there
        record["recovered"] = counted.total
    return [record]


class _Counted:
    def __init__(self, blocks):
        self.blocks, self.total = blocks, 0

    def __iter__(self):
        for block in self.blocks:
            self.total += len(block)
            yield block


def _error_record(error: ScanError) -> dict:
    record = error.to_dict()
    record["error"] = record.pop("reason")
    return record


def _warn(record: dict) -> None:
    volume = record.get("volume")
    where = record.get("path") or (f"volume {volume['index']}" if volume else "")
    tqdm.write(visible(f"triage: warning: {record['evidence']}: {where}: {record['error']}"),
               file=sys.stderr)
