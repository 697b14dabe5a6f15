"""A scan's pass over its evidence: each item walked (by this process, or shared among the
workers: shared_walk), its files batched to the worker pool, and what comes home recorded in the
results database in walk order as it comes. scan.py sets the pass up and concludes it; Tasks is
what the pool's workers run."""

from __future__ import annotations

from collections import deque
from operator import itemgetter
from typing import Dict, List, Optional

from . import shared_walk
from .evidence import DirLister
from .evidence.folder import Lister, tasks as folder_tasks
from .order import media_order
from .progress import Progress
from .records import FileEntry, ScanError
from .results import Results, content_key, file_key, volume_index
from .scanners import Judge, Verdict
from .scope import Scope, walk as scope_walk
from .workers import STOP_GRACE, Batcher, Interrupted, Workers, batches, not_examined

# Files settled by their size alone, written to the results database together.
UNREAD_BATCH = 256
# Entries of the walk whose plans (by size) are made together (Judge.learn).
PLAN_CHUNK = 512


class Pass:
    """One pass over a scan's evidence. `first` (a test of an entry): read the files it picks
    in a first walk of each evidence item, then the rest in a second (a time budget spends
    itself on the likeliest first). `done`: the keys of the files a resumed scan recorded
    before."""

    def __init__(self, results: Results, judge: Judge, progress: Progress, workers: Workers,
                 deleted: bool = True, resume: bool = False, scope: Optional[Scope] = None,
                 first=None, done=frozenset()):
        self.results, self.judge, self.progress, self.workers = results, judge, progress, workers
        self.deleted, self.scope, self.first, self.done = deleted, scope, first, done
        self.resume = resume
        # Content judged (or on its way to a worker) under its first name: another name of it
        # (a hard link, a deleted name whose inode a live file now owns) is listed, not read
        # again.
        self.judged = results.judged_contents() if resume else set()
        self.finished = ({e["path"] for e in results.evidence() if e["finished"]}
                         if resume else set())
        self.taken = set()   # keys the first walk dealt with: the second passes them by
        # Files settled by their size alone (never opened): recorded a batch at a time, and
        # before anything else is (an interruption included), so nothing settled is lost.
        self.unread: List[tuple] = []
        self.unread_ev: Optional[int] = None
        # of a shared walk (shared): outcomes decided last, errors recorded
        self.last: List[tuple] = []
        self.told: set = set()

    def run(self, evidences, ids: Dict[str, int]) -> None:
        """Each evidence item walked and judged, and marked finished; stopped (an exception,
        a Ctrl-C), every verdict that did complete is recorded before the exception goes on:
        nothing already found is lost."""
        ev_id = ev = None
        try:
            for ev in evidences:
                ev_id = ids[ev.path]
                if ev.name in self.finished:
                    continue
                if shared_walk.applies(ev, self.scope, self.first, self.resume):
                    self.shared(ev, ev_id)
                else:
                    self.walked(ev, ev_id)
                self.flush()
                # described again once walked: the disk images met on the way (container_files)
                self.results.add_evidence(ev.name, ev.describe())
                self.results.finish_evidence(ev_id)
        except BaseException as stopped:
            self.judge.stop.set()
            self.flush()
            for batch, outcomes in self.workers.stop(getattr(stopped, "grace", STOP_GRACE)):
                self.landed(ev, ev_id, batch, outcomes)
            self.results.commit()
            raise

    def flush(self) -> None:
        if self.unread:
            self.results.record_many(self.unread_ev, self.unread)
            self.unread.clear()

    # --- the main process's walk ----------------------------------------------------------

    def walked(self, ev, ev_id: int) -> None:
        """Any evidence walked by this process, its entries batched to the workers. `first`:
        the entries it picks first, then the rest."""
        judge = self.judge
        for only in ((self.first, None) if self.first is not None else (None,)):
            todo = self.pending(scope_walk(ev, self.scope, self.deleted), ev_id, only)
            if ev.media is not None:   # a folder's files have no place on a media to sort by
                todo = media_order(todo, lambda item: item[2])
            work = batches(todo, lambda item: judge.cost(item[2]))
            for batch, verdicts in self.workers.map(work, entry=_sent):
                self.record(ev_id, batch, verdicts)

    def pending(self, walked, ev_id: int, only=None):
        """(key, content, entry) of every file not judged yet of `walked` ((entry or walk
        error, whether it is the scope's own), in walk order); errors of the walk and other
        names of judged content recorded on the way. `only`: a first walk, of the entries
        it picks alone (the walk's errors are left to the second)."""
        for chunk in chunks(walked, PLAN_CHUNK):
            self.judge.learn([item.size for item, own in chunk
                              if own and not isinstance(item, ScanError)])
            yield from self._chunk_pending(ev_id, chunk, only)

    def _chunk_pending(self, ev_id: int, chunk, only):
        """pending's own work, on a chunk of the walk whose plans are made."""
        results, judge, progress, judged = self.results, self.judge, self.progress, self.judged
        taken, done, unread = self.taken, self.done, self.unread
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
                results.record_name(ev_id, key, content, volume_index(item), item.to_dict())
                progress.advance(1, 0)
                continue
            judged.add(content)
            if not judge.needs_read(item.size):   # settled by its size here: no worker trip
                if self.unread_ev != ev_id:
                    self.flush()
                    self.unread_ev = ev_id
                unread.append((key, volume_index(item), "skipped", 0, False, False, content))
                if len(unread) >= UNREAD_BATCH:
                    self.flush()
                progress.advance(1, 0)
                continue
            yield key, content, item

    # --- a walk shared among the workers ---------------------------------------------------

    def shared(self, ev, ev_id: int) -> None:
        """A folder, or an image's file systems, walked by the workers (shared_walk): its
        folders or directories handed out in batches, what they leave to this process taken
        in walk order (`left`): entries, folders to list here and the outcomes of files with
        other names, the entries batched and judged as any walk's. An image's deleted names
        that a live file's inode now holds (realloc) are decided last: its live name, judged
        by a worker whenever it comes, is the one judged."""
        left: deque = deque()   # iterables of entries, and _Linked outcomes, in walk order
        folder = ev.kind == "folder"
        # for the folders listed here (Settled.relist)
        lister = Lister() if folder else DirLister(lambda path: ev)
        batcher = Batcher(lambda item: self.judge.cost(item[2]))
        self.last, self.told = [], set()

        def tasks():
            listed = folder_tasks(ev.path, ev.name) if folder else \
                ev.directory_tasks(self.deleted, lister)
            for item in listed:
                if isinstance(item, ScanError):
                    self.tell(ev_id, item)
                else:
                    yield item

        def entry_batches(last: bool = False):
            """Full batches of what is left so far; `last`, the partial one after them."""
            while left:
                items = left.popleft()
                if type(items) is _Linked:
                    self.decide(ev_id, items)
                    continue
                todo = self.pending(((item, True) for item in items), ev_id)
                if type(items) is _Alone:   # one to a batch: a file that breaks one is found
                    yield from ([one] for one in todo)
                    continue
                yield from batcher.add(todo)
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
                for batch, outcomes in self.workers.map(source, entry=_sent):
                    self.landed(ev, ev_id, batch, outcomes, left, lister)
                if not left:   # else what the last batches left: judged in a round more
                    break
                source = entry_batches(last=True)
        except BaseException:
            # stopping: the outcomes already come home are kept; entries left are not judged
            for items in left:
                if type(items) is _Linked:
                    self.decide(ev_id, items)
            raise
        finally:
            last, self.last = self.last, []
            self.decide(ev_id, last, at_last=True)
            lister.close()

    def tell(self, ev_id: int, error: ScanError) -> None:
        """A walk's error recorded once: an image's directories, listed by several workers,
        may each tell of one iOS backup's catalogue."""
        told = error.to_dict()
        mark = repr(sorted(told.items()))
        if mark not in self.told:
            self.told.add(mark)
            self.results.add_error(ev_id, told)

    def decide(self, ev_id: int, linked, at_last: bool = False) -> None:
        """Outcomes of files with other names (shared_walk.Settled.linked), recorded in walk
        order: the first name of a content met is the one judged, the others its names. A
        deleted name whose inode a live file holds now (realloc) is kept to be decided
        `at_last`, once the walk has ended."""
        self.flush()
        settled, rows = [], []
        for key, content, entry, outcome in linked:
            if entry.realloc and not at_last:
                self.last.append((key, content, entry, outcome))
                continue
            volume = volume_index(entry)
            if content in self.judged:   # another name of it came first: its verdict stands
                self.results.record_name(ev_id, key, content, volume, entry.to_dict())
                self.progress.advance(1, 0)
                continue
            self.judged.add(content)
            if type(outcome) is tuple:
                status, read, hashed, decoded = outcome
                rows.append((key, volume, status, read, hashed, decoded, content))
                share = self.judge.planned_bytes(entry.size)
                self.progress.advance(1, share, max(share, read))
            else:
                self.take(key, content, outcome, settled)
        record_all(self.results, ev_id, settled, rows)

    # --- what comes home ----------------------------------------------------------------------

    def landed(self, ev, ev_id: int, batch, outcomes, left=None, lister=None) -> None:
        """A batch's results recorded: a batch of entries' verdicts (record), or of a shared
        walk's folders (shared_walk.Settled), with what they leave queued on `left` in walk
        order (None: the scan is stopping; nothing more is judged, and the outcomes of files
        with other names are recorded at once)."""
        if type(batch[0]) not in shared_walk.TASKS:
            self.record(ev_id, batch, outcomes)
            return
        self.flush()
        settled, rows = [], []
        for task, got in zip(batch, outcomes):
            for error in got.errors:
                self.tell(ev_id, error)
            for found in got.met:
                ev.met(found)
            rows += got.rows
            # contents with one name: a deleted name decided last finds its live one judged
            self.judged.update(map(_CONTENT, got.rows))
            for key, content, verdict in got.verdicts:
                self.judged.add(content)
                self.take(key, content, verdict, settled)
            self.progress.advance(got.files, got.planned, got.seen)
            if left is None:
                self.decide(ev_id, got.linked, at_last=True)
                continue
            if got.relist:
                listed = ev.noting(lister.entries(task))
                left.append(_Alone(listed) if got.alone else listed)
            if got.left:
                left.append(got.left)
            if got.linked:
                left.append(_Linked(got.linked))
        record_all(self.results, ev_id, settled, rows)

    def record(self, ev_id: int, batch, verdicts) -> None:
        """A batch of entries' verdicts (or their briefs, Verdict.brief) recorded."""
        self.flush()
        judge = self.judge
        settled, plain = [], []
        files = planned = seen = 0   # of the rows: told the bar at once
        for (key, content, item), verdict in zip(batch, verdicts):
            if type(verdict) is tuple:   # Verdict.brief(), as Tasks sends it home
                status, read, hashed, decoded = verdict
                plain.append((key, volume_index(item), status, read, hashed, decoded, content))
                share = judge.planned_bytes(item.size)
                files, planned, seen = files + 1, planned + share, seen + max(share, read)
                continue
            if verdict.entry is None:   # sent home without it (Tasks)
                verdict.entry = item
            self.take(key, content, verdict, settled)
        if files:
            self.progress.advance(files, planned, seen)
        record_all(self.results, ev_id, settled, plain)

    def take(self, key, content, verdict, settled: list) -> None:
        """A whole verdict (with its entry) into `settled`, for record_all, and counted."""
        progress = self.progress
        # A container's children with it, in the batch's one transaction: the container
        # marked done means all of them are, so a resume that finds it done skips them.
        for child in verdict.children:
            settled.append((file_key(child.entry), content_key(child.entry), child))
        if verdict.children:   # counted as they come: the totals' walk cannot see them
            progress.add_total(len(verdict.children), 0)
            for child in verdict.children:
                progress.advance(1, 0, hit=child.is_hit)
        settled.append((key, content, verdict))
        progress.advance(1, self.judge.planned_bytes(verdict.entry.size), verdict.bytes_read,
                         hit=verdict.is_hit)


_CONTENT = itemgetter(6)   # a row's content key (Results.record_many's rows)


class _Linked(list):
    """Outcomes of files with other names a batch of folders gave (shared_walk.Settled.linked),
    queued to be decided in walk order."""


class _Alone(list):
    """The entries of a folder listed by this process after the batch it was in broke a
    worker (Tasks.crashed): judged one to a batch, so that the file to blame breaks one worker
    more at most, as it would have in a walk of this process."""


def _sent(item):
    """What a batch's item sends a worker: an entry's, its FileEntry; a folder or directory,
    its task."""
    return item if type(item) in shared_walk.TASKS else item[2]


class Tasks:
    """The worker pool's task: a file entry goes to the judge, a piece of media (when the
    media is also swept) to the sweeper, a batch of folders to a shared walk (shared_walk.
    settle): one pool, forked once, for all. A file's verdict comes back without its entry,
    which the main process holds already (Pass.record puts it back): unpickling each entry
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
        if type(items[0]) in shared_walk.TASKS:
            return shared_walk.settle(items, self.judge, self.done)
        files = [item for item in items if isinstance(item, FileEntry)]
        self.judge.learn([item.size for item in files])
        if len(files) != len(items):   # a batch of the block sweep's pieces and files
            return {}
        settled, spent = self.judge.settle_batch(files)
        self._spent.update((id(files[at]), (files[at], read)) for at, read in spent.items())
        return settled

    def __call__(self, item):
        if type(item) in shared_walk.TASKS:   # not reached by `before`: the scan is stopping
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
        an error record, and the scan goes on. A folder of a shared walk (not run alone:
        again) is listed again by the main process, its files judged one to a batch (so the
        one to blame is found as above, with one try more). A piece of the block sweep has
        none: the scan stops there, with its partial report."""
        if type(item) in shared_walk.TASKS:
            return shared_walk.Settled(relist=True, alone=True)
        if not isinstance(item, FileEntry):
            return None
        return Verdict(item, "error", errors=[not_examined("judging", stalled)])

    @staticmethod
    def again(item) -> bool:
        """Whether an item of a batch that broke a worker is run again alone: not a folder
        of a shared walk, which crashed() gives to the main process at once (run alone, a
        hung read in it would hold the scan STALL seconds more)."""
        return type(item) not in shared_walk.TASKS


def chunks(items, size: int):
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


def record_all(results: Results, ev_id: int, settled, rows: List[tuple]) -> None:
    """The verdicts of (key, content, verdict) in one write (Results.record_many) with `rows`
    (the files whose verdict is its row alone), with their errors, warnings, damaged ranges
    and findings."""
    findings = []
    for key, content, verdict in settled:
        entry = verdict.entry
        if verdict.status == "same":   # another name of a member (a tar hard link)
            results.record_name(ev_id, key, content, volume_index(entry), entry.to_dict())
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
        rows.append((key, volume_index(entry), verdict.status, verdict.bytes_read, verdict.hashed,
                     verdict.decoded, content))
    results.record_many(ev_id, rows, findings)
