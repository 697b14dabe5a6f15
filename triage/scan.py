"""The scan pipeline: evidence in, file entries to a pool of workers, verdicts into the results
database as they come (scan_pass), reports out at the end (or at an interruption)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from contextlib import contextmanager
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from . import TOOL_NAME, __version__, containers, environment, signals
from .errors import TriageError
from .evidence import Evidence, open_evidence
from .evidence.media import in_image_read
from .hashsets import load as load_hashset
from .order import likely
from .outdir import CASE_FLAGS, check_outside_evidence, evidence_identity, prepare, set_identity
from .progress import Progress
from .records import ScanError
from .scope import Scope
from .reporters import REPORTERS, build as build_report, render_all, write_manifest
from .results import Results, Summary
from .sampling import DEFAULT_MIN_AMOUNT
from .scan_pass import Pass, Tasks, chunks
from .scanners import Judge
from .verdict import Verdict as ScanVerdict, of_report
from .workers import Workers, before_fork, detach, fork_context, stop_event


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
    workers = Workers(Tasks(judge, sweeper, done), req.workers or os.cpu_count() or 2,
                      crashed=Tasks.crashed, again=Tasks.again)
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
                Pass(results, judge, progress, workers, options["deleted"], req.resume,
                     req.scope, first=likely if req.time_budget else None,
                     done=done).run(evidences, ids)
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
                for sizes in chunks(ev.sizes(deleted=deleted), COUNT_CHUNK):
                    if stop.is_set():
                        return
                    judge.learn(sizes)
                    totals.send((len(sizes), sum(map(judge.planned_bytes, sizes))))
        totals.send(None)
    except Exception:  # totals are a courtesy; the scan itself reports real errors
        return
    finally:
        totals.close()
