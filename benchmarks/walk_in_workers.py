"""What a folder's scan could take if its workers walked the folder themselves (issue 15): a
bound for that redesign, measured with triage's own lister, judge, keys, results database and
reports.

    python benchmarks/walk_in_workers.py FOLDER SET OUTDIR [--workers 2] [--per-task 8]

Today the scan's main process walks the folder, makes every file's entry and keys, and sends
the entries to the workers a batch at a time. Here the main process lists the folders alone
(os.scandir) and hands them out, `--per-task` at a time; each worker lists its folders' files with the
compiled lister (`folder._children`), judges them as the scan's workers do (the batch screen,
then the judge for the rest), makes their keys and gives back their rows and findings, which
the main process records (`Results.record_many`). The reports are then built and rendered as
the scan's are. It prints its phases and what its summary counts, to compare with
`triage scan FOLDER --hashset SET` run beside it.

Left out, against the scan, so this bounds the redesign from below rather than measuring it:
no other names of one content (hard links), no resume, scope or time budget, no progress bar,
no errors of the walk or of a verdict recorded, no iOS backup's catalogue, no container's
children recorded, no damage."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from multiprocessing import get_context
from pathlib import Path

T0 = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from triage import containers, mathlibs  # noqa: E402
from triage.cli import collect_rarely  # noqa: E402
from triage.evidence import folder, open_evidence  # noqa: E402
from triage.hashsets import load  # noqa: E402
from triage.records import FileEntry  # noqa: E402
from triage.reporters import build, render_all  # noqa: E402
from triage.results import Results, file_key  # noqa: E402
from triage.scan import content_key  # noqa: E402
from triage.scanners import Judge  # noqa: E402
from triage.workers import BATCH_FILES  # noqa: E402

_root = ""
_judge = None
_maker = None


def folders(root: str) -> list:
    """Every folder under root, root included, in the walk's order (links not followed)."""
    found, pending = [], [root]
    while pending:
        here = pending.pop()
        found.append(here)
        pending.extend(sorted((e.path for e in os.scandir(here)
                               if e.is_dir(follow_symlinks=False)), reverse=True))
    return found


def task(given: list) -> tuple:
    """The rows (Results.record_many's) and findings of the files in the `given` folders
    (each one's own, not its subfolders')."""
    held = folder._Held()
    try:
        entries = [e for f in given for e in folder._children(_root, f, held, _maker)
                   if type(e) is FileEntry]
    finally:
        held.close()
    _judge.learn([e.size for e in entries])
    rows, findings = [], []
    for at in range(0, len(entries), BATCH_FILES):
        batch = entries[at:at + BATCH_FILES]
        settled, spent = _judge.settle_screened(batch)
        for i, entry in enumerate(batch):
            key, content = file_key(entry), content_key(entry)
            if i in settled:
                status, read, hashed, decoded = settled[i]
            elif not _judge.needs_read(entry.size):
                status, read, hashed, decoded = "skipped", 0, False, 0
            else:
                verdict = _judge(entry)
                status, hashed, decoded = verdict.status, verdict.hashed, verdict.decoded
                read = verdict.bytes_read + spent.get(i, 0)
                if verdict.is_hit:
                    findings.append((content, {
                        "entry": entry.to_dict(), "hashes": verdict.hashes,
                        "matches": [m.to_dict() for m in verdict.matches]}))
            rows.append((key, None, status, read, hashed, decoded, content))
    return rows, findings


def main() -> None:
    global _root, _judge, _maker
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder")
    ap.add_argument("set")
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--per-task", type=int, default=8, help="folders a worker is given at once")
    args = ap.parse_args()
    mathlibs.before_numpy()
    collect_rarely()
    _root = os.path.abspath(args.folder)
    _judge = Judge([load(args.set)], archives=containers.Bounds())
    _maker = (FileEntry, {**folder._ENTRY_DEFAULTS, "evidence": _root, "allocated": True},
              folder.OsFile)
    results = Results.create(args.outdir)
    with open_evidence(_root) as ev:
        ev_id = results.add_evidence(ev.name, ev.describe())
    results.commit()
    found = folders(_root)
    tasks = [found[i:i + args.per_task] for i in range(0, len(found), args.per_task)]
    gc.freeze()
    started = time.perf_counter()
    with get_context("fork").Pool(args.workers) as pool:
        for rows, findings in pool.imap_unordered(task, tasks):
            results.record_many(ev_id, rows, findings)
    walked = time.perf_counter()
    results.finish_evidence(ev_id)
    results.set("complete", True)
    render_all(results, args.outdir, ["json", "html", "csv"], build(results))
    summary = results.summary()
    results.close()
    ended = time.perf_counter()
    print(f"start {started - T0:.3f} s, pass {walked - started:.3f} s, end {ended - walked:.3f} s,"
          f" total {ended - T0:.3f} s; {summary.files_seen:,} files seen, "
          f"{summary.files_screened:,} screened, {summary.files_skipped:,} skipped, "
          f"{summary.hits:,} hits")


if __name__ == "__main__":
    main()
