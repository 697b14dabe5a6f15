"""What runs on a Dask worker: `triage scan` of one item, of one part of a large item, the plan
of a large item's parts, and the merge of its parts. Each calls the scan as the command does
(triage.scan.scan); none reimplements any of it.

A task finds what an earlier attempt left in its folder (a worker killed under it, a batch
stopped and resumed) and continues it, as `triage scan --resume` does; a part or item already
finished is not scanned again. Tasks return small plain dicts."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from ..evidence.access import Access, installed, installing, read_credential_file
from ..progress import Progress
from ..results import Results
from ..scan import ScanRequest, scan
from ..scope import Scope
from ..verdict import of_report
from .merge import merge_parts, part_dir
from .plan import plan_item
from .worker import malloc_as_glibc


@dataclass
class Job:
    """What every task of one batch shares."""
    hashsets: List[str]                     # compiled sets, absolute paths
    formats: List[str]
    case: Dict[str, Optional[str]]          # case_number, examiner (an item adds its own)
    deleted: Optional[bool] = None
    thresholds: Optional[Dict[str, int]] = None
    workers: int = 1                        # files judged in parallel within one task
    topic: Optional[str] = None             # Dask event topic of the batch's progress

    def request(self, item: dict, outdir: Path, scope: Optional[Scope] = None) -> ScanRequest:
        state = Results.peek(outdir)
        return ScanRequest(
            evidence=[item["path"]], hashsets=self.hashsets, outdir=outdir,
            formats=self.formats,
            case={**self.case, "evidence_id": item["evidence_id"], "notes": item["notes"]},
            workers=self.workers,
            # What an earlier attempt recorded is continued; a database left before it
            # recorded what it scans holds nothing to keep.
            resume=bool(state and state.get("identity")), force=True,
            deleted=self.deleted, thresholds=self.thresholds, scope=scope)


def scan_item(job: Job, item: dict, outdir: str) -> dict:
    """`triage scan` of one whole item into its folder; the outcome read from its report."""
    outdir = Path(outdir)
    malloc_as_glibc()
    with credentials(item):
        scan(job.request(item, outdir), TaskProgress(job.topic, item["evidence_id"]))
    return outcome(outdir, parts=1)


def plan(job: Job, item: dict, part_bytes: int) -> List[dict]:
    with credentials(item):
        return plan_item(item["path"], job.hashsets, job.deleted is not False, job.thresholds,
                         part_bytes)


def scan_part(job: Job, item: dict, outdir: str, index: int, scope: dict) -> dict:
    """One part of a split item, into a results database of its own (no reports)."""
    folder = part_dir(Path(outdir), index)
    state = Results.peek(folder)
    if not (state and state.get("complete")):
        malloc_as_glibc()
        with credentials(item):
            scan(job.request(item, folder, Scope.from_dict(scope)),
                 TaskProgress(job.topic, item["evidence_id"]))
    return {"index": index}


def credentials(item: dict):
    """The item's credential file (a manifest's `credential_file` column) installed while its
    task runs: read on the worker, so no credential travels through Dask or stays behind. A
    worker runs one task at a time (one thread), as the process holds one set of credentials."""
    path = item.get("credential_file")
    return installing(Access(read_credential_file(path)) if path else installed())


def merge_item(job: Job, item: dict, outdir: str, count: int, *parts: dict) -> dict:
    """The item's database and reports from its finished parts (`parts`: their tasks'
    results, which make this task wait for them)."""
    merge_parts(Path(outdir), count, job.formats)
    return outcome(Path(outdir), parts=count)


def outcome(outdir: Path, parts: int) -> dict:
    """A finished item as the case report needs it, from its report.json."""
    report = json.loads((Path(outdir) / "report.json").read_text(encoding="utf-8"))
    verdict = of_report(report)
    return {"report": report_facts(report), "verdict": verdict.tone,
            "headline": verdict.headline, "exit_code": verdict.exit_code, "parts": parts}


def report_facts(report: dict) -> dict:
    """What the case report keeps of an item's report: no hit, no path of a file."""
    return {key: report.get(key) for key in ("summary", "complete", "stopped", "started",
                                             "finished")} | {
        "evidence": [{k: ev.get(k) for k in ("path", "container", "size", "damaged",
                                              "stored_hashes")} |
                     {"volumes": len(ev.get("volumes") or []),
                      "volumes_unread": sum(1 for v in ev.get("volumes") or []
                                            if not v.get("fs_type"))}
                     for ev in report.get("evidence", [])],
        "hashsets": [{k: hs.get(k) for k in ("name", "version", "kind", "entries",
                                             "category_scheme", "categories")}
                     for hs in report.get("hashsets", [])]}


class TaskProgress(Progress):
    """A scan's progress, sent from the worker to the batch's bar as Dask events: bytes read,
    files and hits since the last message, at most a few messages a second."""

    EVERY = 0.5   # seconds

    def __init__(self, topic: Optional[str], evidence_id: str):
        self._topic = topic
        self._item = evidence_id
        self._lock = threading.Lock()
        self._counts = {"files": 0, "bytes": 0, "hits": 0}
        self._sent = time.monotonic()
        self._worker = None
        if topic:
            try:
                from distributed import get_worker
                self._worker = get_worker()
            except ValueError:   # not on a Dask worker (called directly)
                self._worker = None

    def advance(self, files: int, planned: int, read: Optional[int] = None,
                hit: bool = False) -> None:
        if self._worker is None:
            return
        with self._lock:
            self._counts["files"] += files
            self._counts["bytes"] += read or 0
            self._counts["hits"] += int(hit)
            if time.monotonic() - self._sent >= self.EVERY:
                self._send()

    def close(self) -> None:
        if self._worker is None:
            return
        with self._lock:
            self._send()

    def _send(self) -> None:
        counts, self._counts = self._counts, {"files": 0, "bytes": 0, "hits": 0}
        self._sent = time.monotonic()
        if any(counts.values()):
            self._worker.log_event(self._topic, {**counts, "item": self._item})
