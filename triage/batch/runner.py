"""A batch from start to end: the sources resolved into items, the hash sets made ready, the
case folder opened (new or resumed), every unfinished item given to the Dask cluster as tasks
(a large one planned, then split into parts merged at the end), each ending recorded as it
comes, and the case report written, also when the batch is stopped (Ctrl-C, SIGTERM).

The order of work: the largest items first (a large item's plan first of all), so that the one
huge disk does not start last and leave the cluster idle at the end."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from ..errors import EvidenceError, TriageError
from ..evidence import open_evidence
from ..outdir import check_outside_evidence
from ..results import Results
from ..scan import Terminated, now, refuse_repeats, terminate_as_interrupt
from . import case as case_report, engine, render, sets as batch_sets, sources, state, tasks
from .case import DONE, FAILED, ItemResult
from .merge import PARTS, part_dir
from .progress import BatchBar

# A large item is split into parts of about this much work, at least: below it, the start-up
# of a part costs more than its share of the work.
MIN_PART_BYTES = 256 << 20
# Parts to aim for per task slot of the cluster, over the whole batch: enough that the last
# parts of a large item finish together with the small items.
PARTS_PER_SLOT = 4


@dataclass
class BatchRequest:
    sources: Sequence[str]
    hashsets: Sequence[str]
    casedir: Path
    formats: Sequence[str] = ("json", "csv", "html")
    case_number: Optional[str] = None
    examiner: Optional[str] = None
    deleted: Optional[bool] = None              # None: not given (default, or as resumed)
    thresholds: Optional[Dict[str, int]] = None
    resume: bool = False
    force: bool = False
    workers: int = 1                            # files judged in parallel within each task
    scheduler: Optional[str] = None             # tcp://HOST:8786; None: a LocalCluster
    cluster_workers: Optional[int] = None       # LocalCluster processes (default: CPUs)
    split_size: Optional[int] = None            # bytes of work a part; None: from the batch
    daemon: bool = True                         # LocalCluster workers daemonic: judging in
                                                # threads; False: scans fork their pool
    dashboard: Optional[str] = None             # LocalCluster dashboard address, e.g. ":8787"


@dataclass
class BatchOutcome:
    casedir: Path
    case: dict
    exit_code: int
    elapsed: float
    files: List[Path] = field(default_factory=list)


class Display:
    """What the command shows while the batch runs; nothing by default."""

    def bar(self, items: int) -> Optional[BatchBar]:
        return None

    def dashboard(self, link: str) -> None: ...
    def item(self, entry: dict) -> None: ...


def run(req: BatchRequest, display: Optional[Display] = None,
        connect: Callable = engine.cluster) -> BatchOutcome:
    display = display or Display()
    started_at, started = time.monotonic(), now()
    refuse_repeats(req.hashsets)   # before the sources are listed, which can take a while
    found = sources.resolve(req.sources)
    if not found.items:
        raise TriageError(f"{', '.join(req.sources)}: no evidence items found"
                          f"{_skipped_hint(found.skipped)}")
    casedir = Path(req.casedir).absolute()
    check_outside_evidence(casedir, found.folders)
    with batch_sets.staging() as staged:
        ready = batch_sets.prepare(req.hashsets, Path(staged))
        case = state.open_case(
            casedir, resume=req.resume, force=req.force,
            items=[i.to_dict() for i in found.items], skipped=found.skipped,
            sets=[r.identity for r in ready],
            settings=state.settings_given(req.case_number, req.examiner, req.deleted,
                                          req.thresholds))
        try:
            batch_sets.settle(ready, casedir / state.SETS)
        except BaseException:
            case.close()
            raise
    try:
        with terminate_as_interrupt():
            results, stopped = _drive(req, case, ready, display, connect)
        report = case_report.build(
            results, case=case.settings, hashsets=[r.case_entry() for r in ready],
            skipped=case.record["skipped"], formats=req.formats, started=started,
            finished=now(), stopped=stopped)
        files = render.write(casedir, report, [casedir / state.BATCH])
    finally:
        case.close()
    return BatchOutcome(casedir, report, report["exit_code"], time.monotonic() - started_at,
                        files)


def _skipped_hint(skipped: List[dict]) -> str:
    if not skipped:
        return ""
    first = skipped[0]
    return (f" ({len(skipped):,} file(s) are no evidence item, e.g. {first['path']}: "
            f"{first['reason']})")


def _drive(req: BatchRequest, case: state.Case, ready, display: Display, connect):
    """Every item to its end or to a stop: (ItemResult per item, in case order; why the
    batch stopped, or None)."""
    results = {item["evidence_id"]: ItemResult(item) for item in case.items}
    todo = []
    for item in case.items:
        ended = _ended_before_start(case, item)
        if ended is not None:
            results[item["evidence_id"]] = ended
        else:
            todo.append(item)
    bar = display.bar(len(case.items))
    stopped = None
    try:
        for result in results.values():
            if result.status != case_report.NOT_FINISHED:
                _ended(result, bar, display, req.formats)
        if todo:
            with connect(req.scheduler, req.cluster_workers, req.daemon, req.dashboard) as client:
                link = engine.dashboard_link(client)
                if link:
                    display.dashboard(link)
                _Batch(req, case, ready, client, display, bar, results).run(todo)
    except Terminated:
        stopped = "terminated"
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        if bar is not None:
            bar.close()
    return [results[item["evidence_id"]] for item in case.items], stopped


def _hits(result: ItemResult) -> Optional[int]:
    return None if result.outcome is None else result.outcome["report"]["summary"]["hits"]


def _ended_before_start(case: state.Case, item: dict) -> Optional[ItemResult]:
    """An item finished by an earlier run of the batch (its report sealed), or one that
    cannot be opened at all (it fails now, without a task). Notes the container and size of
    the others, which decide whether an item is split."""
    folder = case.item_dir(item)
    recorded = Results.peek(folder)
    if recorded and recorded.get("complete") and (folder / "manifest.json").is_file():
        if (folder / PARTS).is_dir():    # a merge stopped before it removed them
            shutil.rmtree(folder / PARTS)
        return ItemResult(item, tasks.outcome(folder, len(item.get("parts") or []) or 1),
                          status=DONE)
    try:
        with open_evidence(os.path.abspath(item["path"])) as ev:
            item["container"], item["size"] = ev.kind, ev.size
    except EvidenceError as exc:
        return ItemResult(item, reason=str(exc), status=FAILED)
    return None


class _Batch:
    """The items' tasks on one cluster, and their endings as they come."""

    def __init__(self, req: BatchRequest, case: state.Case, ready, client, display: Display,
                 bar: Optional[BatchBar], results: Dict[str, ItemResult]):
        self.req, self.case, self.client, self.display = req, case, client, display
        self.bar, self.results = bar, results
        self.token = uuid.uuid4().hex[:12]
        settings = case.settings
        self.job = tasks.Job(
            hashsets=[r.path for r in ready], formats=list(req.formats),
            case={"case_number": settings["case_number"], "examiner": settings["examiner"]},
            deleted=settings["deleted"], thresholds=settings["thresholds"],
            workers=req.workers,
            topic=f"triage-batch-{self.token}" if bar is not None and bar.shown else None)
        self.roles: Dict[tuple, tuple] = {}  # key of a watched future -> (role, item)
        self.parts: Dict[str, List] = {}     # an item's part futures, held until it ends
        self.count = 0

    def run(self, todo: List[dict]) -> None:
        from distributed import as_completed
        if self.job.topic:
            self.client.subscribe_topic(self.job.topic, self.bar.event)
        split = self.req.split_size or self._auto_split(todo)
        self.pending = as_completed(loop=self.client.loop)
        try:
            for item in sorted(todo, key=lambda i: -(i.get("size") or 0)):
                self._start(item, split)
            for future in self.pending:
                self._ended(future, split)
        except BaseException:
            held = [f for futures in self.parts.values() for f in futures]
            self.client.cancel(list(self.pending.futures) + held, force=True)
            raise

    def _auto_split(self, todo: List[dict]) -> int:
        total = sum(i.get("size") or 0 for i in self.case.items)
        return max(MIN_PART_BYTES, -(-total // (PARTS_PER_SLOT * engine.slots(self.client))))

    def _start(self, item: dict, split: int) -> None:
        parts = item.get("parts")
        if parts is not None and len(parts) > 1:
            self._submit_parts(item, parts)
        elif parts is None and item.get("container") != "file" and (
                item.get("container") == "folder" or (item.get("size") or 0) > split):
            self._submit("plan", item, tasks.plan, self.job, item, split, priority=2 ** 40)
        else:
            self._submit("item", item, tasks.scan_item, self.job, item, self._dir(item))

    def _dir(self, item: dict) -> str:
        return str(self.case.item_dir(item))

    def _submit(self, role: str, item: dict, fn, *args, priority: Optional[int] = None,
                watch: bool = True):
        self.count += 1
        # Dask groups tasks by the key's first element (the dashboard's bars): by role.
        key = (f"triage-{role}-{self.token}", item["evidence_id"], self.count)
        future = self.client.submit(fn, *args, key=key, pure=False,
                                    priority=priority if priority is not None else
                                    (item.get("size") or 0) >> 20)
        if watch:
            self.roles[key] = (role, item)
            self.pending.add(future)
        return future

    def _submit_parts(self, item: dict, parts: List[dict]) -> None:
        folder = self.case.item_dir(item)
        futures = []
        for index, scope in enumerate(parts):
            recorded = Results.peek(part_dir(folder, index))
            if recorded and recorded.get("complete"):
                continue   # finished by an earlier run
            futures.append(self._submit("part", item, tasks.scan_part, self.job, item,
                                        str(folder), index, scope, watch=False))
        self.parts[item["evidence_id"]] = futures
        self._submit("merge", item, tasks.merge_item, self.job, item, str(folder), len(parts),
                     *futures)

    def _ended(self, future, split: int) -> None:
        role, item = self.roles.pop(future.key)
        if future.status != "finished":
            self._end(ItemResult(item, reason=failure(future), status=FAILED))
            return
        result = future.result()
        if role == "plan":
            item["parts"] = result
            self.case.save()
            self._start(item, split)
            return
        self._end(ItemResult(item, result, status=DONE))

    def _end(self, result: ItemResult) -> None:
        self.results[result.item["evidence_id"]] = result
        self.parts.pop(result.item["evidence_id"], None)
        _ended(result, self.bar, self.display, self.req.formats)


def _ended(result: ItemResult, bar: Optional[BatchBar], display: Display, formats) -> None:
    if bar is not None:
        bar.item_done(result.item["evidence_id"], _hits(result))
    display.item(case_report.item_entry(result, formats))


def failure(future) -> str:
    """Why a task failed, in one line."""
    from distributed import KilledWorker
    exc = future.exception() if future.status == "error" else None
    if isinstance(exc, KilledWorker):
        return ("the Dask worker running it died twice (killed, or out of memory); what it "
                "recorded is kept, and --resume continues it")
    if isinstance(exc, TriageError):
        return str(exc)
    if exc is None:
        return f"its task ended as {future.status}"
    return f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}"
