"""Run one task over many file entries in parallel: forked worker processes on Linux, threads
elsewhere. Entries travel in batches, so a worker process's round trip (pickling, two queue
hops) is paid per batch rather than per file.

Processes were measured 1.1 to 2.0 times as fast as threads on 2 cores (folder, raw and E01;
benchmarks/scan_exact.py, numbers in benchmarks/README.md): pytsk3 and pyewf release the GIL
while reading, but the per-file Python work around them does not, and reads through one shared
evidence handle take turns. A worker process reads through handles of its own: one
evidence.reopen.Handles a process, made when it starts and closed when its work ends."""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from multiprocessing.util import Finalize
from typing import Callable, Deque, Iterable, Iterator, List, Optional, Tuple

from . import mathlibs
from .evidence import open_evidence
from .evidence.reopen import Handles

# Files a batch at most: 256 files cheap to judge (screened by fingerprint, ~50 us each) are
# ~13 ms of a worker's time, and a batch's round trip is paid 4 times less often than at 64
# (measured 5-10 % of a screened scan's wall time).
BATCH_FILES = 256
# A batch also closes once its cost reaches this: the bytes it reads, and for pictures the work
# of decoding them (scanners.judge.Judge.cost), so that large files and pictures spread over
# every worker. 16 MiB is ~30 ms of hashing, or a handful of camera photos: a batch's own
# overhead (a pickle, two queue hops) stays near 1%, and even a folder of 30 photos makes
# several batches to share.
BATCH_COST = 16 << 20
# How long a stop waits for the batches at work to see the stop event (each does within a read)
# before it kills their worker processes: a read that never returns (a hung network mount, a
# device that stopped answering, a kernel file) would otherwise hold a Ctrl-C for ever.
STOP_GRACE = 5.0
# A worker process that has neither read a byte nor used the CPU for this long while a batch
# waits on it is stuck in a read that does not return: it is stopped, and the file it was on
# recorded as not examined (a failing disk that retries a sector still moves within this).
STALL = 300.0
WATCH = 5.0   # how often a wait for a batch looks at the worker processes' progress
# Batches handed out a worker before the oldest one's results are waited for: the walk goes on
# making batches while the workers work, and a worker that ends one finds the next waiting
# however unevenly the walk gives them (a directory's files listed at once, a window sorted by
# media offset). At 2 a worker, a screened scan's pass took 6-9 % longer than at 8.
AHEAD = 8


class Interrupted(Exception):
    """A task was asked to stop (the stop event is set) in the middle of an entry."""


def fork_context():
    """Forking hands each worker the task as it is (loaded hash sets included; a set compiled
    from a text file has no file left to reopen). macOS and Windows cannot fork safely, and a
    daemonic process (a Dask worker as Dask starts it by default) may not have children: there,
    threads."""
    if not sys.platform.startswith("linux") or multiprocessing.current_process().daemon:
        return None
    return multiprocessing.get_context("fork")


def before_fork() -> None:
    """Set the objects made so far (modules, loaded sets) aside from the cyclic collector:
    neither this process's collections nor a forked child's then walk them, and a child's
    do not write to (and so copy) the pages they share with this one."""
    gc.freeze()


def stop_event():
    """An event a task can poll to stop early, visible to the workers of either kind."""
    fork = fork_context()
    return fork.Event() if fork else threading.Event()


def batches(items: Iterable, cost: Callable[[object], int]) -> Iterator[list]:
    """Consecutive items grouped BATCH_FILES at a time, or fewer once their cost (bytes to
    read, or their equivalent in work) reaches BATCH_COST."""
    batcher = Batcher(cost)
    yield from batcher.add(items)
    yield from batcher.rest()


class Batcher:
    """batches() of items that come in bursts: each batch given as soon as it is full (add),
    the last, partial one when asked for (rest)."""

    def __init__(self, cost: Callable[[object], int]):
        self._cost = cost
        self._batch: list = []
        self._total = 0

    def add(self, items: Iterable) -> Iterator[list]:
        for item in items:
            self._batch.append(item)
            self._total += self._cost(item)
            if len(self._batch) >= BATCH_FILES or self._total >= BATCH_COST:
                yield from self.rest()

    def rest(self) -> Iterator[list]:
        if self._batch:
            batch, self._batch, self._total = self._batch, [], 0
            yield batch


class Workers:
    """`task(entry)` over batches of entries, in `count` workers. Results come back in the
    order the batches went in; a batch stopped midway (Interrupted) returns the results it
    has.

    A worker process can die (a C library crashing on a corrupt structure), or be stopped stuck
    in a read (`_result`): every batch still out fails with it, the other workers' too. With
    `crashed` ((entry, stalled=None) -> the result that stands for it, or None where there is
    none), those batches are run again one entry at a time in a new pool, and an entry that
    takes a worker down again gets `crashed(entry, stalled=...)` (`stalled`: STALL when the
    worker was stopped stuck, else None): one bad file never stops the rest. Without it (or
    where it gives None), BrokenProcessPool is raised. `again(entry)`: whether an entry of
    such a batch is run again alone (default: every one); one that is not gets `crashed(entry)`
    at once (a shared walk's folder: the main process lists it and has its files judged one
    to a batch, where the folder run alone would have stalled once more, five minutes a
    hung read)."""

    def __init__(self, task: Callable, count: int,
                 crashed: Optional[Callable[..., object]] = None,
                 again: Callable[[object], bool] = lambda entry: True):
        self.count, self._task, self._crashed, self._again = count, task, crashed, again
        self._processes: List[multiprocessing.process.BaseProcess] = []
        self._stalled = False   # the pool broke because stuck workers were stopped
        self._pool = self._new_pool()
        self._pending: Deque[Tuple[list, list, Future]] = deque()

    def _new_pool(self):
        fork = fork_context()
        if fork is None:
            self._call = partial(_run_batch, self._task)
            return ThreadPoolExecutor(self.count, thread_name_prefix="worker")
        before_fork()
        others = set(multiprocessing.active_children())
        pool = ProcessPoolExecutor(self.count, fork, initializer=_start, initargs=(self._task,))
        # Fork them all now, before any other thread of ours starts: a child forked while
        # another thread holds a lock would inherit the lock held.
        pool.submit(int).result()
        self._processes = [p for p in multiprocessing.active_children() if p not in others]
        self._watch = _Watch()
        self._stalled = False
        self._call = _run_in_worker
        return pool

    def _result(self, future: Future):
        """future.result(), watching the worker processes meanwhile: when every one of them
        has stood still for STALL seconds (no byte read, no CPU used), the batch waited for
        is stuck in a read, and they are stopped (the pool breaks; `_isolate` finds which
        file it was). Threads cannot be stopped: they are waited for."""
        if not self._processes:
            return future.result()
        while True:
            try:
                return future.result(timeout=WATCH)
            except FuturesTimeout:
                stuck = self._watch.stuck(self._processes)
                for process in stuck:
                    self._stalled = True
                    process.kill()

    def map(self, batches: Iterable[list], entry: Callable = lambda item: item
            ) -> Iterator[Tuple[list, list]]:
        """(batch, results) for each batch, in order; `entry(item)` is what the task gets.
        AHEAD batches handed out a worker at most before the oldest is waited for."""
        for batch in batches:
            entries = list(map(entry, batch))
            self._pending.append((batch, entries, self._submit(entries)))
            while len(self._pending) > AHEAD * self.count:
                yield from self._next()
        while self._pending:
            yield from self._next()

    def _next(self) -> Iterator[Tuple[list, list]]:
        batch, _, future = self._pending[0]
        try:
            results = self._result(future)
        except BrokenProcessPool:
            if self._crashed is None:
                raise
            yield from self._isolate()
            return
        self._pending.popleft()
        yield batch, results

    def _isolate(self) -> Iterator[Tuple[list, list]]:
        """Every batch the dead worker took down with it, again, an entry at a time."""
        failed = list(self._pending)
        self._pending.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = self._new_pool()
        for batch, entries, _ in failed:
            results = []
            for one in entries:
                if self._crashed is not None and not self._again(one):
                    results.append(self._crashed(one))
                    continue
                try:
                    got = self._result(self._pool.submit(self._call, [one]))
                except BrokenProcessPool:
                    stand_in = self._crashed(one, stalled=STALL if self._stalled else None)
                    if stand_in is None:
                        raise
                    got = [stand_in]
                    self._pool.shutdown(wait=True)
                    self._pool = self._new_pool()
                results += got
                if len(got) < 1:     # stopped (Interrupted): the batch ends here
                    break
            yield batch, results

    def _submit(self, entries: list) -> Future:
        """A batch submitted; to a pool a worker's death broke before its failed batches were
        seen, a future failed as theirs: `_next` then judges it again with them."""
        try:
            return self._pool.submit(self._call, entries)
        except BrokenProcessPool as exc:
            failed: Future = Future()
            failed.set_exception(exc)
            return failed

    def stop(self, grace: float = STOP_GRACE) -> Iterator[Tuple[list, list]]:
        """Stop: cancel the batches not started, wait for those at work (their task is expected
        to see the stop event) `grace` seconds at most, and give back every batch that did
        complete."""
        self.close(grace)
        while self._pending:
            batch, _, future = self._pending.popleft()
            if future.done() and not future.cancelled() and future.exception() is None:
                yield batch, future.result()

    def close(self, grace: float = STOP_GRACE) -> None:
        """The pool shut down once the batches at work have ended, or after `grace` seconds,
        their worker processes killed (threads cannot be: they are waited for)."""
        futures = [future for _, _, future in self._pending]
        for future in futures:
            future.cancel()   # those not started
        if futures and wait(futures, timeout=grace).not_done:
            for process in self._processes:
                if process.is_alive():
                    process.kill()   # its batch is lost: a resumed scan judges it again
        self._pool.shutdown(wait=True, cancel_futures=True)


def not_examined(doing: str, stalled: Optional[float] = None) -> str:
    """Why a file that `crashed` stands in for was not examined: its worker process died
    `doing` it, or (`stalled`, seconds) was stopped, stuck in a read."""
    if stalled is not None:
        return (f"not examined: no read returned for {stalled:g} s (a hung device or mount); "
                f"the worker process {doing} it was stopped")
    return (f"not examined: the worker process {doing} it died (a library crashed on its "
            f"content)")


class _Watch:
    """When each worker process was last seen to read or compute: its bytes read by system
    calls (/proc/PID/io `rchar`, page-cache hits included) and its CPU time (/proc/PID/stat).
    Where /proc is not there, no process is ever stuck."""

    def __init__(self):
        self._seen: dict = {}   # pid -> (activity, when it last changed)

    def stuck(self, processes) -> list:
        """The processes, when every live one has stood still for STALL seconds (one at work
        on a stuck read, the others idle, waiting for the batch the scan waits on); else []."""
        now, still = time.monotonic(), []
        alive = [p for p in processes if p.is_alive()]
        for process in alive:
            mark = _activity(process.pid)
            last = self._seen.get(process.pid)
            if mark is None or last is None or last[0] != mark:
                self._seen[process.pid] = (mark, now)
            elif now - last[1] >= STALL:
                still.append(process)
        return still if alive and len(still) == len(alive) else []


def _activity(pid: int) -> Optional[tuple]:
    try:
        with open(f"/proc/{pid}/io") as f:
            read = next(line for line in f if line.startswith("rchar:"))
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except (OSError, StopIteration):
        return None
    return read, fields[11], fields[12]   # utime, stime


def ordered(task: Callable, items: Iterable, cost: Callable[[object], int],
            count: Optional[int] = None) -> Iterator:
    """task(item) for every item, in `count` workers (one per CPU), the results in the items'
    order; the pool is shut down however the caller stops reading. With one worker, or one
    item, they are run here, with no pool to start."""
    count = count or os.cpu_count() or 1
    items = iter(items)
    first = next(items, _END)
    second = next(items, _END)
    if second is _END or count == 1:
        yield from map(task, (x for x in _chain(first, second, items) if x is not _END))
        return
    pool = Workers(task, count)
    try:
        for _, results in pool.map(batches(_chain(first, second, items), cost)):
            yield from results
    finally:
        pool.close()


_END = object()


def _chain(first, second, rest):
    yield first
    yield second
    yield from rest


_task: Optional[Callable] = None


def _start(task: Callable) -> None:
    global _task
    _task = task
    detach()
    mathlibs.one_thread()
    # Entries arrive pickled, without their TSK file: the process reopens the evidence once,
    # through this, and closes it when the pool shuts the process down.
    handles = Handles(open_evidence).install()
    Finalize(handles, handles.close, exitpriority=10)


def detach() -> None:
    """For a forked helper process: Ctrl-C is the main process's to handle (it stops helpers
    through their stop event), and on Linux the helper dies with the main process (kill -9)
    rather than wait for work forever. SIGTERM ends it at once, as the operating system ends
    a process: the handler it was forked with is the scan's (stop, write the partial report),
    with which a pool terminating its workers after a crash made each print a traceback, and
    one that held the call queue's lock could leave the pool's shutdown waiting forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_in_worker(entries: list) -> list:
    return _run_batch(_task, entries)


def _run_batch(task: Callable, entries: list) -> List:
    # what the task does for a batch as a whole: it may give the results of some entries
    # (by position), which it then is not called for
    before = getattr(task, "before", None)
    settled = (before(entries) if before is not None else None) or {}
    results = []
    for at, entry in enumerate(entries):
        if at in settled:
            results.append(settled[at])
            continue
        try:
            results.append(task(entry))
        except Interrupted:
            break
    return results
