"""A walk shared among the scan's workers: a folder's, or a disk image's file systems'.

The main process lists the folders alone (evidence.folder.tasks: a stat a folder, none a
file), or an image's directories (Evidence.directory_tasks: the directories' rows, no entry
made), and hands them out in batches. A worker lists each folder's or directory's files as
the walk does (folder.Lister, evidence.DirLister: the walk's own step, compiled listers and
all), judges the cheap ones there (the sub-file screen, files settled by their size, files
read only to tell a container) and sends home their rows, compact: where the main process
walked, made every file's keys and sent its entry to a worker and back, it now records rows.

What must be decided in walk order, or spread over every worker, goes home as entries, which
the main process takes as it takes any walk's (scan_pass.Pass): other names of one content
(linked: a file with hard links, a deleted name; the first name met is the one judged), and
files costly to judge (a full digest past INLINE_COST, a picture, a likely archive), batched by
their cost. A folder of more than BIG_FOLDER names, or one whose worker died, is listed by the
main process instead (Settled.relist). Results come home in the tasks' order, so everything the
main process decides is decided in the tasks' order."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Dict, List

from .evidence import DirLister, container_file, open_evidence
from .evidence.folder import Lister, Task
from .evidence.reopen import Handles, installed
from .evidence.tsk_walk import DirTask
from .order import media_order
from .records import FileEntry
from .results import content_key, file_key, volume_index
from .workers import BATCH_COST, BATCH_FILES, Interrupted

# What a file may cost to be judged by the worker that listed it (Judge.cost: bytes to read):
# a name of a batch of folders then costs its worker at most what a file of a batch of
# entries does, so the work still spreads over every worker.
INLINE_COST = BATCH_COST // BATCH_FILES
# Names a batch of folders holds, about: twice a batch of entries. A worker asks the disk for
# twice the files at a time and sends home half as often: 3 % on the benchmark image, cold
# and warm, 1-1.5 % on its folder and the NTFS image, the same on a folder of a thousand files
# (interleaved rounds); four times was no better.
WALK_BATCH_NAMES = 2 * BATCH_FILES
# A folder of more names is listed by the main process, its files batched as entries: one
# worker would otherwise hold them all at once and judge them alone.
BIG_FOLDER = 8192


TASKS = (Task, DirTask)   # what a batch of a shared walk holds


def applies(evidence, scope, first, resume: bool = False) -> bool:
    """Whether `evidence` is walked so: scanned whole (no part of it: a scope), in the walk's
    order (no time budget's likeliest first); a folder, or an image whose walk may be shared
    (Evidence.shares_walk) in a scan not resumed (an image's deleted names are decided once
    its walk has ended: see linked())."""
    if scope is not None or first is not None:
        return False
    return evidence.kind == "folder" or not resume and evidence.shares_walk()


def linked(entry: FileEntry) -> bool:
    """Whether a file's content may have other names, which the main process decides among
    (the first met is judged, the others are its names): a file with hard links (`device`), or
    a deleted name of an image (its inode may be a live file's: `realloc`, or another deleted
    name's)."""
    return entry.device is not None or not entry.allocated


def cost(task: Task) -> int:
    """A Task's share of a batch (workers.batches): BATCH_COST for WALK_BATCH_NAMES names."""
    return task.names * (BATCH_COST // WALK_BATCH_NAMES)


@dataclass
class Settled:
    """What a worker made of one Task: the rows of the files it judged (Results.record_many's),
    whole verdicts where a row does not say it all (a hit, an error, a container's children),
    the files with other names it judged (`linked`: only the first name met counts as
    judged, which the main process decides), the walk's errors in their order, the entries
    left to the main process, the disk images met, and what the progress bar counts of the
    rows and of files done before (a resume)."""

    rows: List[tuple] = field(default_factory=list)
    verdicts: List[tuple] = field(default_factory=list)   # (key, content, Verdict)
    linked: List[tuple] = field(default_factory=list)     # (key, content, entry, brief or
    #                                                        Verdict)
    errors: List = field(default_factory=list)            # ScanError of the walk
    left: List[FileEntry] = field(default_factory=list)
    met: List[dict] = field(default_factory=list)         # Evidence.container_files'
    files: int = 0
    planned: int = 0
    seen: int = 0
    relist: bool = False   # listed by the main process instead (BIG_FOLDER, DirTask.here, a
    #                        worker's death)
    alone: bool = False    # ... after its batch took a worker down: its files one to a batch

    def count(self, planned: int, read: int) -> None:
        self.files += 1
        self.planned += planned
        self.seen += max(planned, read)

    def judged(self, key: bytes, content: bytes, entry: FileEntry, outcome, planned: int
               ) -> None:
        """A file's outcome: its brief (Verdict.brief) or its whole verdict."""
        if linked(entry):
            self.linked.append((key, content, entry, outcome))
        elif type(outcome) is not tuple:
            self.verdicts.append((key, content, outcome))
        else:
            status, read, hashed, decoded = outcome
            self.rows.append((key, volume_index(entry), status, read, hashed, decoded,
                              content))
            self.count(planned, read)


_local = threading.local()   # this thread's listers (a worker process has one thread at work)


def _lister(kind: type):
    """This thread's lister of tasks of `kind`: an image's opened through the process's
    evidence handles (a worker's), or handles of its own (a pool of threads)."""
    listers = getattr(_local, "listers", None)
    if listers is None:
        listers = _local.listers = {}
    lister = listers.get(kind)
    if lister is None:
        if kind is Task:
            lister = Lister()
        else:
            handles = installed() or Handles(open_evidence)
            lister = DirLister(handles.evidence)
        listers[kind] = lister
    return lister


def settle(tasks: List[Task], judge, done) -> Dict[int, Settled]:
    """Each Task's (or DirTask's) Settled, by position; a task not reached when the scan was
    stopped has none (and is walked again by a resumed scan). `done`: keys of the files a
    resumed scan has recorded."""
    lister = _lister(type(tasks[0]))
    out: Dict[int, Settled] = {}
    listed = []   # (its task's Settled, what its listing gave)
    for at, task in enumerate(tasks):
        if judge.stop.is_set():
            break
        if task.names > BIG_FOLDER or type(task) is DirTask and task.here:
            out[at] = Settled(relist=True)
            continue
        out[at] = Settled()
        listed.append((out[at], list(lister.entries(task))))
    # the plans of the batch's sizes made together: one lookup of the sets for the batch, not
    # one a folder (a worker's learn took 35 ms of CPU in 204 calls for the benchmark image)
    judge.learn([item.size for _, items in listed for item in items if type(item) is FileEntry])
    if not done:   # (a resumed scan's done files are not read: they are not asked for either)
        judge.ask_early(item for _, items in listed for item in items if type(item) is FileEntry)
    cheap = []   # (its task's Settled, key, content, entry, screenable, planned bytes) of
    #              the files judged here
    for settled, items in listed:
        for item in items:
            if type(item) is not FileEntry:
                settled.errors.append(item)
                continue
            _take(settled, item, judge, done, cheap)
    if type(tasks[0]) is DirTask:   # read in the order of the files' places on the media
        cheap = list(media_order(cheap, lambda item: item[3]))
    try:   # one stream: its reads asked of the OS a window ahead throughout (in chunks of
        #      BATCH_FILES, each chunk's first reads waited for the device: 3% of a cold scan)
        _judge(cheap, judge)
    except Interrupted:   # stopped: what was judged is kept, the rest judged on --resume
        pass
    return out


def _take(settled: Settled, entry: FileEntry, judge, done, cheap: list) -> None:
    """One listed file: counted when done before, settled by its size, kept to be judged
    here when cheap, else left to the main process. Which of them depends on its size and
    content alone where it has other names, so that all its names are dealt with alike."""
    found = container_file(entry)
    if found is not None:
        settled.met.append(found)
    key = file_key(entry)
    plan = judge.plan(entry.size)
    if key in done:
        settled.count(plan.planned, plan.planned)
        return
    if not plan.reads:
        settled.judged(key, content_key(entry), entry, ("skipped", 0, False, 0), 0)
        return
    screenable = judge.screenable(entry, plan)
    if screenable or not linked(entry) and judge.cost(entry) <= INLINE_COST:
        cheap.append((settled, key, content_key(entry), entry, screenable, plan.planned))
    else:
        settled.left.append(entry)


def _judge(cheap: list, judge) -> None:
    """The files a batch of tasks judges here (settle's `cheap`), judged as a worker judges a
    batch of entries (scan_pass.Tasks): those the sub-file screen settles together, the rest
    one at a time."""
    briefs, spent = judge.settle_batch([item[3] for item in cheap],
                                       [item[4] for item in cheap])
    for at, (settled, key, content, entry, _, planned) in enumerate(cheap):
        outcome = briefs.get(at)
        if outcome is None:
            verdict = judge(entry)
            verdict.bytes_read += spent.get(at, 0)
            outcome = verdict.brief() or verdict
        settled.judged(key, content, entry, outcome, planned)
