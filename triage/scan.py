"""The scan pipeline: evidence in, file entries to a pool of workers, verdicts into the results
database as they come, reports out at the end (or at an interruption)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from collections import deque
from contextlib import contextmanager
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from . import TOOL_NAME, __version__, containers, environment, shared_walk, signals
from .errors import TriageError
from .evidence import Evidence, open_evidence
from .evidence.media import in_image_read
from .hashsets import load as load_hashset
from .order import likely, media_order
from .outdir import CASE_FLAGS, check_outside_evidence, evidence_identity, prepare, set_identity
from .progress import Progress
from .records import FileEntry, ScanError
from .scope import Scope, walk as scope_walk
from .evidence.folder import Lister, Task, tasks as folder_tasks
from .reporters import REPORTERS, build as build_report, render_all, write_manifest
from .results import Results, Summary, content_key, file_key
from .sampling import DEFAULT_MIN_AMOUNT
from .scanners import Judge, Verdict
from .verdict import Verdict as ScanVerdict, of_report
from .workers import (STOP_GRACE, Batcher, Interrupted, Workers, batches, before_fork,
                      detach, fork_context, not_examined, stop_event)


@dataclass
class ScanRequest:
    evidence: Sequence[str]
    hashsets: Sequence[str]
    outdir: Path
    formats: Sequence[str] = ("json", "csv", "html")
    # Case details and options as given; None: not given (a new scan takes the default, a
    # resume the first run's value).
    case: Dict[str, Optional[str]] = field(default_factory=dict)
    workers: int = 0                     # 0: one per CPU
    resume: bool = False
    force: bool = False
    deleted: Optional[bool] = None
    thresholds: Optional[Dict[str, int]] = None
    video: Optional[dict] = None         # scanners.video.VideoOptions: frames, match shares
    archives: Optional[bool] = None      # open containers (archives, compressed files)
    bounds: containers.Bounds = field(default_factory=containers.Bounds)   # ... within these
    trust: Optional[Sequence[bytes]] = None   # public keys one of which must sign every set
    signer: Optional[object] = None           # signing.Signer: manifest.json -> manifest.sig
    blocks: Optional[bool] = None             # also sweep the media for reference blocks
    sample: Optional[float] = None            # --sample CONFIDENCE (sampling.py)
    min_amount: Optional[int] = None          # --min-amount BYTES (20 MiB with --sample)
    time_budget: Optional[float] = None       # --time-budget, seconds
    started: Optional[float] = None           # time.monotonic() the budget counts from (now)
    # Part of the item only (triage batch splits a large one): no reports are written, the
    # results database is merged into the item's (Results.absorb, then conclude).
    scope: Optional[Scope] = None


# Files settled by their size alone, written to the results database together.
UNREAD_BATCH = 256
# Entries of the walk whose plans (by size) are made together (Judge.learn).
PLAN_CHUNK = 512

DEFAULT_OPTIONS = {"deleted": True, "thresholds": {}, "video": {}, "archives": True,
                   "blocks": False, "sample": None, "min_amount": None}


@dataclass
class ScanOutcome:
    outdir: Path
    summary: Summary
    complete: bool
    exit_code: int
    reports: List[Path]
    elapsed: float
    hashsets: List[dict] = field(default_factory=list)   # as the report lists them
    verdict: Optional[ScanVerdict] = None                # what the report says
    stopped: Optional[str] = None                        # why not complete (report's `stopped`)

    @property
    def resumable(self) -> bool:
        """Whether --resume would examine more: not after a sample that found nothing (its
        draw is done; a scan without --sample examines everything)."""
        return not self.complete and self.stopped != "sampled"


class Terminated(KeyboardInterrupt):
    """SIGTERM: stop as at Ctrl-C, with a partial report."""


class BudgetSpent(KeyboardInterrupt):
    """--time-budget spent: stop as at Ctrl-C, with a partial report; exit 3 without hits.
    `grace`: how long the workers may take to stop, within the budget's reserve."""

    def __init__(self, grace: float):
        super().__init__()
        self.grace = grace


# Of a time budget, what is kept back for stopping the workers (each sees the stop event
# within one read) and writing the reports: 3 %, at most a second.
BUDGET_RESERVE = 0.03


def outside_image_reads(handler):
    """A signal handler that raises only outside a Python image read called back from TSK
    (where TSK would turn its exception into a read error and the walk go on): a signal that
    lands there is sent again 10 ms later."""
    def deferring(signum, frame):
        if in_image_read(frame):
            threading.Timer(0.01, os.kill, (os.getpid(), signum)).start()
            return
        handler(signum, frame)
    return deferring


@contextmanager
def _budget(seconds: Optional[float], started: float):
    """Raise BudgetSpent in this (the main) thread when `seconds` from `started` (the
    command's start) are nearly spent: the scan then stops as it does at Ctrl-C (workers told
    to stop, what they finished kept) and writes its reports within the reserve."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    reserve = min(1.0, BUDGET_RESERVE * seconds)

    @outside_image_reads
    def spent(signum, frame):
        raise BudgetSpent(grace=reserve / 2)   # the other half writes the reports
    left = seconds - reserve - (time.monotonic() - started)
    previous = signal.signal(signal.SIGALRM, spent)
    signal.setitimer(signal.ITIMER_REAL, max(left, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def scan(req: ScanRequest, progress: Optional[Progress] = None) -> ScanOutcome:
    progress = progress or Progress()
    started = time.monotonic() if req.started is None else req.started
    # Everything that can make the scan impossible is checked before any long work starts.
    refuse_repeats(req.hashsets)
    # Each set's data is checksummed in a thread while the rest of the start goes on (tens of
    # ms a set); all of it has passed before the output folder is made.
    sets = [load_hashset(p, trust=req.trust, later=True, progress=progress.shown)
            for p in req.hashsets]
    if (req.blocks or req.sample) and not any("block" in s.signals for s in sets):
        for s in sets:
            s.close()
        raise TriageError(f"{'--sample' if req.sample else '--blocks'} needs a set with block "
                          f"digests (made with `triage hashset build --blocks`)")
    try:
        check_outside_evidence(Path(req.outdir), req.evidence)
        evidences = _open_all(req.evidence)
    except BaseException:
        for s in sets:
            s.close()
        raise
    try:
        described = environment.describe()
        for s in sets:
            s.verified()
        prepared = prepare(
            Path(req.outdir), resume=req.resume, force=req.force,
            report_names=[r.filename for r in REPORTERS.values()],
            identity=_identity(evidences, sets, req.scope),
            case={k: req.case.get(k) for k in CASE_FLAGS},
            options={"deleted": req.deleted, "thresholds": req.thresholds, "video": req.video,
                     "archives": req.archives, "blocks": req.blocks, "sample": req.sample,
                     "min_amount": req.min_amount},
            defaults={**DEFAULT_OPTIONS,
                      "min_amount": DEFAULT_MIN_AMOUNT if req.sample else None})
    except BaseException:
        for item in [*evidences, *sets]:
            item.close()
        raise
    try:
        with terminate_as_interrupt():
            return _scan(req, prepared, sets, evidences, progress, started, described)
    finally:
        prepared.lock.release()
        for s in sets:
            s.close()


def _identity(evidences, sets, scope: Optional[Scope]) -> dict:
    identity = {"evidence": [evidence_identity(ev) for ev in evidences],
                "hashsets": [set_identity(set_info(s)) for s in sets]}
    if scope is not None:
        identity["scope"] = scope.to_dict()
    return identity


def _scan(req: ScanRequest, prepared, sets, evidences, progress: Progress,
          started: float, described: dict) -> ScanOutcome:
    """`described`: the environment the scan runs in (environment.describe)."""
    results, options = prepared.results, prepared.options
    stop = stop_event()
    # A scan resumed from before containers were opened has no "archives": it opens none.
    judge = Judge(sets, options["thresholds"], stop=stop, video=options["video"],
                  archives=req.bounds if options.get("archives") else None)
    totals = (_Totals(req.evidence, judge, options["deleted"], progress, stop)
              if progress.shown and req.scope is None else None)
    sweeper = None
    if options.get("blocks") or options.get("sample"):
        from .sweep import Sweeper
        sweeper = Sweeper(sets, evidences, stop)
    # files a resumed scan recorded before: known to the workers, which a shared walk skips
    # them in (loaded before they fork)
    done = results.done_keys() if req.resume else set()
    workers = Workers(_Tasks(judge, sweeper, done), req.workers or os.cpu_count() or 2,
                      crashed=_Tasks.crashed)
    stopped = None
    crashed = False
    ids = {}
    try:
        results.set("tool", {"name": TOOL_NAME, "version": __version__})
        results.set("environment", described)
        results.set("options", {**options, "formats": list(req.formats)})
        if results.get("started") is None:
            results.set("started", now())
        results.set("complete", False)
        if req.scope is not None:
            results.set("scope", req.scope.to_dict())
        results.set_hashsets([set_info(s) for s in sets])
        ids = {ev.path: results.add_evidence(ev.name, ev.describe()) for ev in evidences}
        results.commit()
        progress.start()
        if totals is not None:
            totals.listen()
        with _budget(req.time_budget, started):
            if options.get("sample") and not _sample(options, evidences, ids, results,
                                                     sweeper, stop):
                stopped = "sampled"    # nothing found in the sample: the scan stops there
            else:
                _run(evidences, ids, results, judge, options["deleted"], req.resume, progress,
                     workers, req.scope, first=likely if req.time_budget else None, done=done)
                if options.get("blocks") or options.get("sample"):
                    _sweep(evidences, ids, results, sets, workers)
    except BudgetSpent:
        stopped = "budget"
    except Terminated:
        stopped = "terminated"
    except KeyboardInterrupt:
        stopped = "interrupted"
    except BrokenProcessPool:
        # A worker died (a C library crashing on a corrupt structure): keep what was found,
        # write the partial report, then say so.
        stopped, crashed = "interrupted", True
    except sqlite3.Error as exc:
        results.abandon()
        raise TriageError(f"{results.path}: cannot write: {exc}; what was recorded before is "
                          f"kept: free space, then run the same command with --resume") from None
    finally:
        stop.set()
        workers.close()
        progress.close()
        # Damage this process met itself (walking, opening volumes); the workers' came back
        # with their verdicts.
        damaged = {ids.get(ev.path): ev.damaged() for ev in evidences} if ids else {}
        for ev in evidences:
            ev.close()
    for ev_id, ranges in damaged.items():
        for d in ranges:
            results.add_damage(ev_id, d["offset"], d["length"])
    if req.time_budget is not None:
        results.set("time_budget", {"seconds": req.time_budget,
                                    "spent": stopped == "budget",
                                    "elapsed": round(time.monotonic() - started, 3)})
    report, reports, summary = conclude(results, Path(req.outdir), req.formats, stopped,
                                        render=req.scope is None, signer=req.signer)
    if crashed:
        raise TriageError(f"a worker process died while reading the evidence; the partial "
                          f"report is in {req.outdir} (complete: false); `--resume` continues")
    verdict = of_report(report)
    return ScanOutcome(req.outdir, summary, stopped is None, verdict.exit_code, reports,
                       time.monotonic() - started, report["hashsets"], verdict, stopped)


def conclude(results: Results, outdir: Path, formats, stopped: Optional[str],
             render: bool = True, signer=None) -> tuple:
    """End a scan (or a merge of its parts): write the reports, then mark the scan finished
    (complete unless `stopped` says why not), close the database and seal it with the reports
    in the manifest. A scan whose reports could not be written stays unfinished in its
    database, so --resume writes them. `render` False (a part of a scan): the database alone.
    Returns the canonical report, the files written and the summary."""
    try:
        results.set("complete", stopped is None)
        results.set("stopped", stopped)
        results.set("finished", now())
        report = build_report(results)
        reports = render_all(results, outdir, formats, report) if render else []
        results.commit()
    except BaseException:
        results.abandon()
        raise
    summary = Summary(**report["summary"])   # the report's own: counted once (a table scan)
    results.close()
    if render:
        reports += write_manifest(outdir, reports + [results.path], signer)
    return report, reports, summary


@contextmanager
def terminate_as_interrupt():
    """SIGTERM (a shutdown, `kill`, a batch system's time limit) stops the scan the way Ctrl-C
    does: what was found is kept and the partial report written."""
    @outside_image_reads
    def terminate(signum, frame):
        raise Terminated()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, terminate)
    # Ctrl-C as Python raises it, but never inside an image read (see outside_image_reads)
    interrupt = signal.getsignal(signal.SIGINT)
    wrapped = interrupt is signal.default_int_handler
    if wrapped:
        signal.signal(signal.SIGINT, outside_image_reads(interrupt))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        if wrapped:
            signal.signal(signal.SIGINT, interrupt)


def _open_all(paths: Sequence[str]) -> List[Evidence]:
    refuse_repeats(paths)
    opened: List[Evidence] = []
    try:
        for path in paths:
            opened.append(open_evidence(os.path.abspath(path)))
    except TriageError:
        for ev in opened:
            ev.close()
        raise
    return opened


def refuse_repeats(paths: Sequence[str]) -> None:
    """The same file given twice (the same path, or another reached through a link): evidence
    would be walked twice into one results database, the second walk recording every file as
    another name of what the first judged (the summary then counted no file seen); a set
    would be opened twice and listed twice in the report."""
    seen: Dict[str, str] = {}
    for path in paths:
        real = os.path.realpath(path)
        if real in seen:
            raise TriageError(f"{path}: given twice ({seen[real]} and {path})")   # as batch
        seen[real] = path


def set_info(hs) -> dict:
    info = asdict(hs.info)
    info["unmatchable_signals"] = sorted(
        s for s in hs.signals if s not in signals.SIGNALS or not signals.SIGNALS[s].computable)
    return info


def _run(evidences, ids, results: Results, judge: Judge, deleted: bool, resume: bool,
         progress: Progress, workers: Workers, scope: Optional[Scope] = None, first=None,
         done=frozenset()):
    """`first` (a test of an entry): read the files it picks in a first walk of each evidence
    item, then the rest in a second (a time budget spends itself on the likeliest first).
    `done`: the keys of the files a resumed scan recorded before."""
    # Content judged (or on its way to a worker) under its first name: another name of it (a
    # hard link, a deleted name whose inode a live file now owns) is listed, not read again.
    judged = results.judged_contents() if resume else set()
    finished = {e["path"] for e in results.evidence() if e["finished"]} if resume else set()

    taken = set()   # keys the first walk dealt with: the second passes them by, unrecorded
    # Files settled by their size alone (never opened): recorded a batch at a time, and
    # before anything else is (an interruption included), so nothing settled is lost.
    unread: List[tuple] = []
    unread_ev = [None]

    def flush():
        if unread:
            results.record_many(unread_ev[0], unread)
            unread.clear()

    def pending(walked, ev_id, only=None):
        """(key, content, entry) of every file not judged yet of `walked` ((entry or walk
        error, whether it is the scope's own), in walk order); errors of the walk and other
        names of judged content recorded on the way. `only`: a first walk, of the entries
        it picks alone (the walk's errors are left to the second)."""
        for chunk in _chunks(walked, PLAN_CHUNK):
            judge.learn([item.size for item, own in chunk
                         if own and not isinstance(item, ScanError)])
            yield from chunk_pending(ev_id, chunk, only)

    def chunk_pending(ev_id, chunk, only):
        """pending's own work, on a chunk of the walk whose plans are made."""
        for item, own in chunk:
            if not own:   # before the scope's range: its content is judged by another part
                if not isinstance(item, ScanError):
                    judged.add(content_key(item))
                continue
            if isinstance(item, ScanError):
                if only is None:
                    results.add_error(ev_id, item.to_dict())
                continue
            if only is not None and not only(item):
                continue
            key = file_key(item)
            if key in taken:
                continue
            if only is not None:
                taken.add(key)
            if key in done:
                progress.advance(1, judge.planned_bytes(item.size))
                continue
            content = content_key(item)
            if content in judged:
                results.record_name(ev_id, key, content, _volume(item), item.to_dict())
                progress.advance(1, 0)
                continue
            judged.add(content)
            if not judge.needs_read(item.size):   # settled by its size here: no worker trip
                if unread_ev[0] != ev_id:
                    flush()
                    unread_ev[0] = ev_id
                unread.append((key, _volume(item), "skipped", 0, False, False, content))
                if len(unread) >= UNREAD_BATCH:
                    flush()
                progress.advance(1, 0)
                continue
            yield key, content, item

    def record(ev_id, batch, verdicts):
        flush()
        settled, plain = [], []
        files = planned = seen = 0   # of the rows: told the bar at once
        for (key, content, item), verdict in zip(batch, verdicts):
            if type(verdict) is tuple:   # Verdict.brief(), as _Tasks sends it home
                status, read, hashed, decoded = verdict
                plain.append((key, _volume(item), status, read, hashed, decoded, content))
                share = judge.planned_bytes(item.size)
                files, planned, seen = files + 1, planned + share, seen + max(share, read)
                continue
            if verdict.entry is None:   # sent home without it (_Tasks)
                verdict.entry = item
            take(key, content, verdict, settled)
        if files:
            progress.advance(files, planned, seen)
        _record_all(results, ev_id, settled, plain)

    def take(key, content, verdict, settled: list) -> None:
        """A whole verdict (with its entry) into `settled`, for _record_all, and counted."""
        # A container's children with it, in the batch's one transaction: the container
        # marked done means all of them are, so a resume that finds it done skips them.
        for child in verdict.children:
            settled.append((file_key(child.entry), content_key(child.entry), child))
        if verdict.children:   # counted as they come: the totals' walk cannot see them
            progress.add_total(len(verdict.children), 0)
            for child in verdict.children:
                progress.advance(1, 0, hit=child.is_hit)
        settled.append((key, content, verdict))
        progress.advance(1, judge.planned_bytes(verdict.entry.size), verdict.bytes_read,
                         hit=verdict.is_hit)

    def shared(ev, ev_id) -> None:
        """A folder walked by the workers (shared_walk): its folders handed out in batches,
        what they leave to this process taken in walk order (`left`): entries, folders to
        list here and the outcomes of files with other names, the entries batched and judged
        as any walk's."""
        left: deque = deque()   # iterables of entries, and _Linked outcomes, in walk order
        lister = Lister()       # for the folders listed here (Settled.relist)
        batcher = Batcher(lambda item: judge.cost(item[2]))

        def tasks():
            for item in folder_tasks(ev.path, ev.name):
                if isinstance(item, ScanError):
                    results.add_error(ev_id, item.to_dict())
                else:
                    yield item

        def entry_batches(last: bool = False):
            """Full batches of what is left so far; `last`, the partial one after them."""
            while left:
                items = left.popleft()
                if type(items) is _Linked:
                    decide(ev_id, items)
                    continue
                yield from batcher.add(pending(((item, True) for item in items), ev_id))
            if last:
                yield from batcher.rest()

        def work():
            for batch in batches(tasks(), shared_walk.cost):
                yield from entry_batches()
                yield batch
            yield from entry_batches(last=True)

        try:
            source = work()
            while True:
                for batch, outcomes in workers.map(source, entry=_sent):
                    landed(ev, ev_id, batch, outcomes, left, lister)
                if not left:   # else what the last batches left: judged in a round more
                    break
                source = entry_batches(last=True)
        except BaseException:
            # stopping: the outcomes already come home are kept; entries left are not judged
            for items in left:
                if type(items) is _Linked:
                    decide(ev_id, items)
            raise
        finally:
            lister.close()

    def decide(ev_id, linked) -> None:
        """Outcomes of files with other names (shared_walk.Settled.linked), recorded in walk
        order: the first name of a content met is the one judged, the others its names."""
        flush()
        settled, rows = [], []
        for key, content, entry, outcome in linked:
            if content in judged:   # another name of it came first: its verdict stands
                results.record_name(ev_id, key, content, None, entry.to_dict())
                progress.advance(1, 0)
                continue
            judged.add(content)
            if type(outcome) is tuple:
                status, read, hashed, decoded = outcome
                rows.append((key, None, status, read, hashed, decoded, content))
                share = judge.planned_bytes(entry.size)
                progress.advance(1, share, max(share, read))
            else:
                take(key, content, outcome, settled)
        _record_all(results, ev_id, settled, rows)

    def walked(ev, ev_id) -> None:
        """Any evidence walked by this process, its entries batched to the workers. `first`:
        the entries it picks first, then the rest."""
        for only in ((first, None) if first is not None else (None,)):
            todo = pending(scope_walk(ev, scope, deleted), ev_id, only)
            if ev.media is not None:   # a folder's files have no place on a media to sort by
                todo = media_order(todo, lambda item: item[2])
            work = batches(todo, lambda item: judge.cost(item[2]))
            for batch, verdicts in workers.map(work, entry=_sent):
                record(ev_id, batch, verdicts)

    def landed(ev, ev_id, batch, outcomes, left=None, lister=None) -> None:
        """A batch's results recorded: a batch of entries' verdicts (record), or of a shared
        walk's folders (shared_walk.Settled), with what they leave queued on `left` in walk
        order (None: the scan is stopping; nothing more is judged, and the outcomes of files
        with other names are recorded at once)."""
        if type(batch[0]) is not Task:
            record(ev_id, batch, outcomes)
            return
        flush()
        settled, rows = [], []
        for task, got in zip(batch, outcomes):
            for error in got.errors:
                results.add_error(ev_id, error.to_dict())
            for found in got.met:
                ev.met(found)
            rows += got.rows
            for key, content, verdict in got.verdicts:
                take(key, content, verdict, settled)
            progress.advance(got.files, got.planned, got.seen)
            if left is None:
                decide(ev_id, got.linked)
                continue
            if got.relist:
                left.append(ev.noting(lister.entries(task)))
            if got.left:
                left.append(got.left)
            if got.linked:
                left.append(_Linked(got.linked))
        _record_all(results, ev_id, settled, rows)

    ev_id = ev = None
    try:
        for ev in evidences:
            ev_id = ids[ev.path]
            if ev.name in finished:
                continue
            if shared_walk.applies(ev, scope, first):
                shared(ev, ev_id)
            else:
                walked(ev, ev_id)
            flush()
            # described again once walked: the disk images met on the way (container_files)
            results.add_evidence(ev.name, ev.describe())
            results.finish_evidence(ev_id)
    except BaseException as stopped:
        judge.stop.set()
        # Keep every verdict that did complete: nothing already found is lost.
        flush()
        for batch, outcomes in workers.stop(getattr(stopped, "grace", STOP_GRACE)):
            landed(ev, ev_id, batch, outcomes)
        results.commit()
        raise


class _Linked(list):
    """Outcomes of files with other names a batch of folders gave (shared_walk.Settled.linked),
    queued to be decided in walk order."""


def _sent(item):
    """What a batch's item sends a worker: an entry's, its FileEntry; a folder, its Task."""
    return item if type(item) is Task else item[2]


class _Tasks:
    """The worker pool's task: a file entry goes to the judge, a piece of media (when the
    media is also swept) to the sweeper, a batch of folders to a shared walk (shared_walk.
    settle): one pool, forked once, for all. A file's verdict comes back without its entry,
    which the main process holds already (`_run.record` puts it back): unpickling each entry
    again was the larger part of a verdict's trip home. A verdict that is no more than its row
    comes back as that row (Verdict.brief)."""

    def __init__(self, judge, sweeper=None, done=frozenset()):
        self.judge, self.sweeper, self.stop = judge, sweeper, judge.stop
        self.done = done   # keys of the files a resumed scan recorded before
        # id(entry) -> (entry, bytes settle_screened read of it): merged, not replaced, as a
        # pool of threads shares one task; holding the entry keeps its id its own
        self._spent: Dict[int, tuple] = {}

    def before(self, items) -> dict:
        """A batch's plans made together (as the walk's, Judge.learn): a worker process has
        its own judge, whose plans the main process's do not reach. Then the files their
        sub-file fingerprints settle, settled together (Judge.settle_screened): their
        briefs, by position. A batch of folders is settled whole."""
        if type(items[0]) is Task:
            return shared_walk.settle(items, self.judge, self.done)
        files = [item for item in items if isinstance(item, FileEntry)]
        self.judge.learn([item.size for item in files])
        if len(files) != len(items):   # a batch of the block sweep's pieces and files
            return {}
        settled, spent = self.judge.settle_screened(files)
        self._spent.update((id(files[at]), (files[at], read)) for at, read in spent.items())
        self.judge.ask_ahead([entry for at, entry in enumerate(files)
                              if at not in settled and at not in spent])
        return settled

    def __call__(self, item):
        if type(item) is Task:   # a folder `before` did not reach: the scan is stopping
            raise Interrupted()
        if not isinstance(item, FileEntry):
            return self.sweeper(item)
        verdict = self.judge(item)
        spent = self._spent.pop(id(item), None)
        if spent is not None and spent[0] is item:   # what the batch's screen read of it
            verdict.bytes_read += spent[1]
        brief = verdict.brief()
        if brief is not None:
            return brief
        if verdict.entry is item:
            verdict.entry = None
        return verdict

    @staticmethod
    def crashed(item, stalled: Optional[float] = None):
        """What stands for a file whose judging took its worker process down, or left it
        stuck in a read for `stalled` seconds (workers.Workers found it by running it alone):
        an error record, and the scan goes on. A folder of a shared walk is listed again by
        the main process, its files judged one batch at a time (so the one to blame is found
        as above). A piece of the block sweep has none: the scan stops there, with its partial
        report."""
        if type(item) is Task:
            return shared_walk.Settled(relist=True)
        if not isinstance(item, FileEntry):
            return None
        return Verdict(item, "error", errors=[not_examined("judging", stalled)])


SAMPLE_COMMIT = 1024     # windows read between two records of a sample's progress
NOT_SAMPLED = ("not sampled: a folder has no media of its own (its files are scanned in full; "
               "give the device or an image of it to sample)")


def _sample(options, evidences, ids, results: Results, sweeper, stop) -> bool:
    """`--sample`: random windows of each evidence item's media checked against the block
    sets (sampling.py); the `sampling` facts recorded. True when a listed block was found (the
    scan then goes on in full). A resumed scan continues the same draw: its seed and the
    windows each item has had read are kept in the results database as it goes (the
    internal key "sample_state"), so no window is drawn afresh and none counted twice."""
    from . import sampling
    confidence, min_amount = options["sample"], options["min_amount"]
    state = results.get("sample_state") or {"seed": sampling.new_seed(), "evidence": {}}
    items = state["evidence"]

    def keep():
        results.set("sample_state", state)
        results.commit()
    keep()
    try:
        for ev in evidences:
            if ev.media is None:
                results.add_error(ids[ev.path], ScanError(ev.name, NOT_SAMPLED).to_dict(),
                                  severity="warning")
                continue
            if any(f["done"] and f["found"] for f in items.values()):
                continue
            before = items.get(ev.name)
            if before is not None and before["done"]:
                continue

            def tell(read, name=ev.name):
                items[name] = {"read": read, "done": False, "found": False}
                if read % SAMPLE_COMMIT == 0:
                    keep()
            fact, found = sampling.sample_evidence(
                ev, sweeper, confidence, min_amount, rng=sampling.rng_for(state["seed"], ev.name),
                stop=stop, done=before["read"] if before else 0, tell=tell)
            items[ev.name] = {"read": fact["clusters_read"], "done": True, "found": found,
                              "fact": fact}
    finally:
        keep()
    facts = [items[ev.name]["fact"] for ev in evidences
             if ev.name in items and items[ev.name]["done"]]
    summary = sampling.summary(facts, confidence, min_amount)
    results.set("sampling", summary)
    results.commit()
    return summary is None or summary["found"]


def _sweep(evidences, ids, results: Results, sets, workers: Workers) -> None:
    """`--blocks`: each evidence item's media swept for reference blocks (sweep.py), its
    fragments kept as it is done (a resumed scan sweeps only the items not done)."""
    from .sweep import sweep
    found = list(results.get("fragments") or [])
    swept = set(results.get("swept") or [])
    todo = [ev for ev in evidences if ev.name not in swept]
    for ev, fragments, errors in sweep(todo, sets, workers):
        for error in errors:
            results.add_error(ids[ev.path], error.to_dict())
        found += fragments
        swept.add(ev.name)
        results.set("fragments", found)
        results.set("swept", sorted(swept))
        results.commit()


def _chunks(items, size: int):
    """Lists of `size` consecutive items. A chunk cut short by an exception of the items (a
    Ctrl-C in the walk) is given before the exception is, so every item that was produced is
    dealt with, as one at a time would be."""
    items, chunk = iter(items), []
    while True:
        try:
            item = next(items)
        except StopIteration:
            break
        except BaseException:
            if chunk:
                yield chunk
            raise
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _volume(entry) -> Optional[int]:
    return None if entry.volume is None else entry.volume.index


def _record_all(results: Results, ev_id: int, settled, rows: List[tuple]) -> None:
    """The verdicts of (key, content, verdict) in one write (Results.record_many) with `rows`
    (the files whose verdict is its row alone), with their errors, warnings, damaged ranges
    and findings."""
    findings = []
    for key, content, verdict in settled:
        entry = verdict.entry
        if verdict.status == "same":   # another name of a member (a tar hard link)
            results.record_name(ev_id, key, content, _volume(entry), entry.to_dict())
            continue
        for severity, reasons in (("error", verdict.errors), ("warning", verdict.warnings)):
            for reason in reasons:
                problem = ScanError(entry.evidence, reason, entry.volume, entry.path,
                                    entry.inode)
                results.add_error(ev_id, problem.to_dict(), severity=severity)
        if verdict.is_hit:
            findings.append((content, {"entry": entry.to_dict(), "hashes": verdict.hashes,
                                       "matches": [m.to_dict() for m in verdict.matches]}))
        for offset, length in verdict.damaged:
            results.add_damage(ev_id, offset, length)
        rows.append((key, _volume(entry), verdict.status, verdict.bytes_read, verdict.hashed,
                     verdict.decoded, content))
    results.record_many(ev_id, rows, findings)


class _Totals:
    """The progress bar's totals (files, and bytes that will be read) for its ETA, from a second
    walk of the metadata while the scan streams from its own. The walk runs in a process of its
    own where the platform forks: in a thread of this one it took the GIL from the scan's walk
    (a scan that reads little ran 1.8x slower with a bar than without). Totals come back over a
    pipe, passed to the bar by a thread that mostly waits."""

    def __init__(self, paths, judge: Judge, deleted: bool, progress: Progress, stop):
        fork = fork_context()
        self._progress = progress
        self._totals, sender = multiprocessing.Pipe(duplex=False)
        args = (paths, judge, deleted, stop, sender, fork is not None)
        if fork is not None:
            # Forked now, before the worker pool and before any thread of ours exists.
            before_fork()
            fork.Process(target=_count, args=args, name="count", daemon=True).start()
            sender.close()   # the counting process holds the sending end
        else:
            threading.Thread(target=_count, args=args, name="count", daemon=True).start()

    def listen(self) -> None:
        """Pass totals on to the bar as they come (once the worker pool has forked)."""
        threading.Thread(target=self._pass_on, name="totals", daemon=True).start()

    def _pass_on(self) -> None:
        try:
            while True:
                counted = self._totals.recv()
                if counted is None:   # the count reached the end
                    self._progress.totals_known()
                    return
                self._progress.add_total(*counted)
        except (EOFError, OSError):   # the count stopped short, or the scan is over
            return


COUNT_CHUNK = 1000   # files counted between two of the totals' messages


def _count(paths, judge: Judge, deleted: bool, stop, totals, forked: bool) -> None:
    if forked:
        detach()
    try:
        for path in paths:
            with open_evidence(os.path.abspath(path)) as ev:
                for sizes in _chunks(ev.sizes(deleted=deleted), COUNT_CHUNK):
                    if stop.is_set():
                        return
                    judge.learn(sizes)
                    totals.send((len(sizes), sum(map(judge.planned_bytes, sizes))))
        totals.send(None)
    except Exception:  # totals are a courtesy; the scan itself reports real errors
        return
    finally:
        totals.close()
