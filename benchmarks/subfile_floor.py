"""The floor of the sub-file screen in Python (issue 15): the least per-file work that gives the
same hits as `triage scan FOLDER --hashset FINGERPRINTED-SET`, none of the scan's bookkeeping.

    python benchmarks/subfile_floor.py FOLDER SET [--workers 2] > matched.txt

The folder is walked with scandir; a file whose size the set lists (one lookup for all sizes)
has its first and last 4 KiB read and fingerprinted by triage's own fingerprint signal, the
fingerprint looked up; a file it lets through is MD5'd whole and looked up. Files are judged
in batches of 256 in forked processes, as the scan's are. Prints the matched files' paths
as the scan's report gives them (`/` and the path under FOLDER), one a line.

Left out, against the scan: no file entries, keys, results database, progress or reports, no
container probe (every file's head is looked at by the scan for an archive), no other digests
of a hit. What stays is the reading and hashing the issue's design calls for: scan_exact.py
runs this beside the scan to show how much of the scan's time is that, and how much is the
rest."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from triage.hashsets import load  # noqa: E402
from triage import signals  # noqa: E402
from triage.signals.exact import EDGE, edge_span  # noqa: E402

BATCH = 256
_set = None
_print = None   # the set's fingerprint signal (edges-xxh3, or edges in an older set)


def walk(root: str):
    """(path, size) of every regular file under root, links not followed."""
    folders = [root]
    while folders:
        with os.scandir(folders.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    yield entry.path, entry.stat(follow_symlinks=False).st_size


def judge(batch):
    """The paths of a batch that match the set's MD5s."""
    matched = []
    for path, size in batch:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            head = os.pread(fd, min(size, EDGE), 0)
            start, end = edge_span(size)
            tail = os.pread(fd, end - start, start) if end > start else b""
            if not _set.contains(_print.name, _print.key_from_edges(head, tail, size)):
                continue
            md5 = hashlib.md5()
            for block in iter(lambda: os.read(fd, 1 << 20), b""):
                md5.update(block)
        finally:
            os.close(fd)
        if _set.contains("md5", md5.digest()):
            matched.append(path)
    return matched


def main() -> None:
    global _set, _print
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder")
    ap.add_argument("set")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    _set = load(args.set)
    _print = next(signals.get(s) for s in sorted(_set.signals) if signals.get(s).partial)
    root = os.path.abspath(args.folder)
    files = list(walk(root))
    listed = _set.may_match_many(_print.name, np.array([size for _, size in files], np.int64))
    candidates = [f for f, keep in zip(files, listed.tolist()) if keep]
    batches = [candidates[i:i + BATCH] for i in range(0, len(candidates), BATCH)]
    with get_context("fork").Pool(args.workers) as pool:
        for matched in pool.imap(judge, batches):
            for path in matched:
                print("/" + os.path.relpath(path, root))


if __name__ == "__main__":
    main()
