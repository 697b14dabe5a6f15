"""The scan pipeline: evidence in, file entries to a pool of workers, verdicts into the results
database as they come, reports out at the end (or at an interruption)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import (FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor,
                                ThreadPoolExecutor, wait)
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from . import TOOL_NAME, __version__, environment
from .errors import (EXIT_CLEAN, EXIT_HITS, EXIT_INCOMPLETE, EXIT_INTERRUPTED, TriageError)
from .evidence import Evidence, open_evidence
from .hashsets import load as load_hashset
from .records import ScanError
from .reporters import render_all, write_manifest
from .results import Results, Summary, entry_key
from .scanners import Judge, Verdict
from .scanners.judge import Interrupted

REPORT_FORMAT_VERSION = "1.0"


@dataclass
class ScanRequest:
    evidence: Sequence[str]
    hashsets: Sequence[str]
    outdir: Path
    formats: Sequence[str] = ("json", "csv", "html")
    case: Dict[str, Optional[str]] = field(default_factory=dict)
    workers: int = 0                     # 0: one per CPU
    resume: bool = False
    force: bool = False
    deleted: bool = True
    thresholds: Dict[str, int] = field(default_factory=dict)


@dataclass
class ScanOutcome:
    outdir: Path
    summary: Summary
    complete: bool
    exit_code: int
    reports: List[Path]
    elapsed: float


class Progress:
    """What the pipeline tells whoever watches it; the CLI draws it, tests ignore it."""

    def add_total(self, files: int, nbytes: int) -> None: ...
    def advance(self, files: int, nbytes: int, hit: bool = False) -> None: ...
    def close(self) -> None: ...


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def scan(req: ScanRequest, progress: Optional[Progress] = None) -> ScanOutcome:
    progress = progress or Progress()
    started = time.monotonic()
    # Everything that can make the scan impossible is checked before any long work starts.
    sets = [load_hashset(p) for p in req.hashsets]
    evidences = _open_all(req.evidence)
    results = _prepare_outdir(req, sets)
    fork = _fork_context()
    stop = fork.Event() if fork else threading.Event()
    judge = Judge(sets, req.thresholds, stop=stop)
    workers = req.workers or os.cpu_count() or 2
    pool, judge_batch = _start_pool(workers, judge, fork)
    interrupted = False
    try:
        results.set("case", req.case)
        results.set("tool", {"name": TOOL_NAME, "version": __version__})
        results.set("environment", environment.describe())
        results.set("options", {"deleted": req.deleted, "thresholds": req.thresholds,
                                "formats": list(req.formats)})
        if results.get("started") is None:
            results.set("started", now())
        results.set("complete", False)
        results.set_hashsets([_set_info(s) for s in sets])
        ids = {ev.path: results.add_evidence(ev.path, ev.describe()) for ev in evidences}
        results.commit()
        counter = _Counter(req.evidence, judge, req.deleted, progress, stop)
        counter.start()
        _run(evidences, ids, results, judge, req, progress, stop, pool, judge_batch, workers)
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        progress.close()
        for ev in evidences:
            ev.close()
    complete = not interrupted
    results.set("complete", complete)
    results.set("finished", now())
    results.commit()
    reports = render_all(results, req.outdir, req.formats)
    summary = results.summary()
    results.close()
    reports.append(write_manifest(Path(req.outdir), reports + [results.path]))
    for s in sets:
        s.close()
    return ScanOutcome(req.outdir, summary, complete, exit_code(summary, complete), reports,
                       time.monotonic() - started)


def exit_code(summary: Summary, complete: bool) -> int:
    if not complete:
        return EXIT_INTERRUPTED
    if summary.hits:
        return EXIT_HITS
    return EXIT_INCOMPLETE if summary.errors else EXIT_CLEAN


def _open_all(paths: Sequence[str]) -> List[Evidence]:
    opened: List[Evidence] = []
    try:
        for path in paths:
            opened.append(open_evidence(os.path.abspath(path)))
    except TriageError:
        for ev in opened:
            ev.close()
        raise
    return opened


def _prepare_outdir(req: ScanRequest, sets) -> Results:
    outdir = Path(req.outdir)
    existing = (outdir / "results.sqlite").exists()
    if req.resume and existing:
        results = Results.open(outdir)
        before = [h.get("sources") for h in results.hashsets()]
        now_sets = [_set_info(s).get("sources") for s in sets]
        if before and before != now_sets:
            results.close()
            raise TriageError(f"{outdir}: the hash sets differ from those of the interrupted "
                              f"scan; resume needs the same sets (or start again with --force)")
        return results
    if existing or (outdir / "report.json").exists():
        if not req.force and not req.resume:
            raise TriageError(f"{outdir}: already holds a scan; use --resume to continue it or "
                              f"--force to replace it")
    return Results.create(outdir)


def _set_info(hs) -> dict:
    from dataclasses import asdict
    info = asdict(hs.info)
    info["unmatchable_signals"] = sorted(
        s for s in hs.signals if not _computable(s))
    return info


def _computable(signal: str) -> bool:
    from . import signals
    return signals.SIGNALS[signal].computable if signal in signals.SIGNALS else False


# Files go to the workers in batches, so that a worker process's round trip (pickling the
# entries and verdicts, two queue hops) is paid per batch rather than per file.
BATCH_FILES = 64
BATCH_BYTES = 32 << 20   # a batch also closes at this much to read, so large files spread out


def _fork_context():
    """Worker processes where they can be forked (Linux). Forking hands each worker the loaded
    sets and judge as they are (a set compiled from a text file has no file left to reopen);
    macOS and Windows cannot fork safely, and use threads."""
    return multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None


def _start_pool(workers: int, judge: Judge, fork) -> Tuple[Executor, Callable]:
    """The workers that judge files, and the call that judges a batch in one of them.

    Processes were measured 1.4 to 2.1 times as fast as threads on 2 cores (folder, raw and
    E01; benchmarks/scan_exact.py): with threads, the per-file Python work (walk, lookups,
    results) holds the GIL, and reads through one shared evidence handle take turns. A worker process reads through handles of
    its own (tsk_walk.TskOpener) and leaves Ctrl-C to this process."""
    if fork is None:
        return ThreadPoolExecutor(workers, thread_name_prefix="judge"), partial(_judge_batch, judge)
    pool = ProcessPoolExecutor(workers, fork, initializer=_worker_start, initargs=(judge,))
    # Fork them all now, before the progress counter's thread starts: a child forked while
    # another thread holds a lock would inherit the lock held.
    pool.submit(int).result()
    return pool, _judge_in_worker


_worker_judge: Optional[Judge] = None


def _worker_start(judge: Judge) -> None:
    global _worker_judge
    _worker_judge = judge
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:   # Linux: die with the scan (kill -9) rather than wait for work forever
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _judge_in_worker(entries: list) -> List[Verdict]:
    return _judge_batch(_worker_judge, entries)


def _judge_batch(judge: Judge, entries: list) -> List[Verdict]:
    """Judge files one after another. A scan stopped midway gets the verdicts done so far; the
    rest stay undone, for --resume."""
    verdicts = []
    for entry in entries:
        try:
            verdicts.append(judge(entry))
        except Interrupted:
            break
    return verdicts


def _run(evidences, ids, results: Results, judge: Judge, req: ScanRequest, progress, stop,
         pool: Executor, judge_batch: Callable, workers: int):
    done = results.done_keys() if req.resume else set()
    finished = {e["path"] for e in results.evidence() if e["finished"]} if req.resume else set()
    limit = workers * 2      # batches in flight: one at work and one waiting, per worker
    inflight: Dict[Future, list] = {}   # -> [(evidence id, key, entry)] of the batch

    def record(fut: Future) -> None:
        for (ev_id, key, _), verdict in zip(inflight.pop(fut), fut.result()):
            _record(results, ev_id, key, verdict, progress)

    def send(batch: list) -> None:
        inflight[pool.submit(judge_batch, [entry for _, _, entry in batch])] = batch
        while len(inflight) > limit:
            for fut in wait(list(inflight), return_when=FIRST_COMPLETED)[0]:
                record(fut)

    try:
        for ev in evidences:
            ev_id = ids[ev.path]
            if ev.path in finished:
                continue
            batch, to_read = [], 0
            for item in ev.entries(deleted=req.deleted):
                if isinstance(item, ScanError):
                    results.add_error(ev_id, item.to_dict())
                    continue
                key = entry_key(item.key())
                size = item.size if judge.needs_read(item.size) else 0
                if key in done:
                    progress.advance(1, size)
                    continue
                batch.append((ev_id, key, item))
                to_read += size
                if len(batch) >= BATCH_FILES or to_read >= BATCH_BYTES:
                    send(batch)
                    batch, to_read = [], 0
            if batch:
                send(batch)
            for fut in list(inflight):
                record(fut)
            results.finish_evidence(ev_id)
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        # Keep every verdict that did complete: nothing already found is lost.
        for fut in list(inflight):
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                record(fut)
        results.commit()
        raise


def _record(results: Results, ev_id: int, key: bytes, verdict: Verdict, progress) -> None:
    entry = verdict.entry
    volume = None if entry.volume is None else entry.volume.index
    for severity, reasons in (("error", verdict.errors), ("warning", verdict.warnings)):
        for reason in reasons:
            problem = ScanError(entry.evidence, reason, entry.volume, entry.path, entry.inode)
            results.add_error(ev_id, problem.to_dict(), severity=severity)
    finding = None
    if verdict.is_hit:
        finding = {"entry": entry.to_dict(), "hashes": verdict.hashes,
                   "matches": [m.to_dict() for m in verdict.matches]}
    results.record(ev_id, key, volume, verdict.status, verdict.bytes_read, verdict.hashed,
                   verdict.decoded, finding)
    progress.advance(1, verdict.bytes_read, hit=verdict.is_hit)


class _Counter(threading.Thread):
    """Walks the evidence a second time, metadata only, so the progress bar has totals (files,
    and bytes that will be read) and an ETA, while the scan itself streams from the first walk."""

    def __init__(self, paths, judge: Judge, deleted: bool, progress: Progress, stop):
        super().__init__(name="count", daemon=True)
        self.paths, self.judge, self.deleted = paths, judge, deleted
        self.progress, self.stop = progress, stop

    def run(self) -> None:
        for path in self.paths:
            try:
                with open_evidence(os.path.abspath(path)) as ev:
                    files = nbytes = 0
                    for item in ev.entries(deleted=self.deleted):
                        if self.stop.is_set():
                            return
                        if isinstance(item, ScanError):
                            continue
                        files += 1
                        if self.judge.needs_read(item.size):
                            nbytes += item.size
                        if files % 1000 == 0:
                            self.progress.add_total(files, nbytes)
                            files = nbytes = 0
                    self.progress.add_total(files, nbytes)
            except Exception:  # totals are a courtesy; the scan itself reports real errors
                return
