"""The worker pool: batches, order, stop, and the thread fallback where it cannot fork."""

import os
import time
import threading
from functools import partial

import pytest

from triage import workers
from triage.workers import BATCH_COST, BATCH_FILES, Interrupted, Workers, batches


def test_batches_close_at_the_file_count_or_their_cost():
    half = BATCH_COST // 2
    sizes = [0] * (BATCH_FILES + 3) + [half, half, 7, BATCH_COST - 7, 5]
    got = list(batches(sizes, cost=lambda size: size))
    assert [len(b) for b in got] == [BATCH_FILES, 3 + 2, 2, 1]
    assert [x for b in got for x in b] == sizes      # nothing lost, nothing reordered


def test_no_items_no_batches():
    assert list(batches([], cost=len)) == []


def _square_and_pid(n):
    # 2 ms of work an item: one process alone would take 0.6 s over the 75 batches, time
    # enough for the other, forked at the start, to take its share on a loaded machine
    time.sleep(0.002)
    return n * n, os.getpid()


@pytest.fixture(params=["processes", "threads"])
def kind(request, monkeypatch):
    if request.param == "threads":       # what runs where the platform cannot fork
        monkeypatch.setattr(workers, "fork_context", lambda: None)
    elif workers.fork_context() is None:
        pytest.skip("no fork on this platform")
    return request.param


def test_results_come_back_in_order_from_every_worker(kind):
    pool = Workers(_square_and_pid, 2)
    try:
        out = list(pool.map(batches(range(1000), cost=lambda n: 0)))
    finally:
        pool.close()
    assert [n for batch, _ in out for n in batch] == list(range(1000))
    assert [r[0] for _, results in out for r in results] == [n * n for n in range(1000)]
    pids = {r[1] for _, results in out for r in results}
    if kind == "processes":
        assert os.getpid() not in pids
    else:
        assert pids == {os.getpid()}


def test_the_task_gets_what_entry_picks_out_of_each_item(kind):
    pool = Workers(_square_and_pid, 2)
    try:
        out = list(pool.map([[("a", 2), ("b", 3)]], entry=lambda item: item[1]))
    finally:
        pool.close()
    assert out[0][0] == [("a", 2), ("b", 3)]
    assert [r[0] for r in out[0][1]] == [4, 9]


def _stop_at(stop, limit, n):
    if n == limit:
        stop.set()
    if stop.is_set():
        raise Interrupted
    return n


def test_an_interrupted_batch_returns_what_it_finished_and_stop_keeps_completed_work(kind):
    stop = workers.stop_event()
    pool = Workers(partial(_stop_at, stop, 100), 1)   # one worker: a deterministic order
    done = []
    for batch, results in pool.map(batches(range(10 * BATCH_FILES), cost=lambda n: 0)):
        done += results
        if len(results) < len(batch):
            break
    done += [n for _, results in pool.stop() for n in results]
    # The batch holding item 100 stopped there and gave back what it had; batches already
    # queued behind it saw the stop and gave nothing; none ran twice.
    assert done == list(range(100))


class _SettlesEvens:
    """A task that settles a batch's even items as a whole (as the scan's sub-file screen
    does) and is called for the others alone."""

    def before(self, items):
        return {at: ("settled", n, os.getpid()) for at, n in enumerate(items) if n % 2 == 0}

    def __call__(self, n):
        return ("called", n, os.getpid())


def test_a_task_may_settle_part_of_each_batch_as_a_whole(kind):
    pool = Workers(_SettlesEvens(), 2)
    try:
        out = list(pool.map(batches(range(300), cost=lambda n: 0)))
    finally:
        pool.close()
    assert [r[:2] for _, results in out for r in results] == [
        ("settled" if n % 2 == 0 else "called", n) for n in range(300)]


def test_a_batch_interrupted_after_what_its_task_settled_keeps_only_what_came_before():
    stop = workers.stop_event()

    class Settles(_SettlesEvens):
        def __call__(self, n):
            return _stop_at(stop, 5, n)
    # 0, 2 and 4 settled as a whole; 1 and 3 judged; 5 stops it: 6 and 8 are not given,
    # so what comes back is a prefix of the batch, as _run records it
    assert [r if isinstance(r, int) else r[:2] for r in workers._run_batch(Settles(),
                                                                           list(range(10)))] \
        == [("settled", 0), 1, ("settled", 2), 3, ("settled", 4)]


def test_threads_share_the_callers_objects(monkeypatch):
    monkeypatch.setattr(workers, "fork_context", lambda: None)
    seen = []
    lock = threading.Lock()

    def note(n):
        with lock:
            seen.append(n)
        return n

    pool = Workers(note, 2)
    try:
        list(pool.map([[1, 2], [3]]))
    finally:
        pool.close()
    assert sorted(seen) == [1, 2, 3]


def test_the_batches_go_on_being_made_while_the_oldest_is_at_work(kind):
    """AHEAD batches a worker are handed out before the first one's results are waited for."""
    release, made = workers.stop_event(), []

    def items():
        for n in range(100 * BATCH_FILES):
            if n % BATCH_FILES == 0:
                made.append(n)
            yield n
    pool = Workers(partial(_held_until, release), 2)
    try:
        waiting = threading.Thread(target=lambda: made.append(list(pool.map(
            batches(items(), cost=lambda n: 0)))))
        waiting.start()
        deadline = time.monotonic() + 60
        while len(made) < workers.AHEAD * 2 + 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)   # had it gone on, more would be made by now
        assert len(made) == workers.AHEAD * 2 + 1   # handed out, the oldest waited for
        release.set()
        waiting.join(60)
        assert [n for batch, _ in made[-1] for n in batch] == list(range(100 * BATCH_FILES))
    finally:
        release.set()
        pool.close()


def _held_until(event, n):
    event.wait(60)
    return n


def test_ordered_keeps_the_order_and_shares_the_work(kind):
    out = list(workers.ordered(_square_and_pid, range(300), cost=lambda n: BATCH_COST // 4,
                               count=2))
    assert [r[0] for r in out] == [n * n for n in range(300)]
    if kind == "processes":
        assert len({r[1] for r in out}) == 2 and os.getpid() not in {r[1] for r in out}


def test_ordered_runs_here_with_one_worker_or_one_item():
    assert {pid for _, pid in workers.ordered(_square_and_pid, range(5), len, count=1)} == {
        os.getpid()}
    assert list(workers.ordered(_square_and_pid, [3], len)) == [(9, os.getpid())]
    assert list(workers.ordered(_square_and_pid, [], len)) == []


def _blas_threads(_):
    import numpy  # noqa: F401 - loaded, as the perceptual matcher loads it
    from threadpoolctl import threadpool_info
    return sorted({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"})


def test_a_worker_process_runs_numpy_on_one_thread():
    """A worker per core already: BLAS threads on top (OpenBLAS starts one a core) spun beside
    the other worker and cost the query's PDQ 2 to 5 times its CPU."""
    if workers.fork_context() is None:
        pytest.skip("no fork on this platform")
    pool = Workers(_blas_threads, 2)
    try:
        out = list(pool.map([[0], [1]]))
    finally:
        pool.close()
    assert [results for _, results in out] == [[[1]], [[1]]]


def _collector(_):
    import gc
    return gc.get_freeze_count(), gc.get_threshold()[0]


def test_the_start_up_s_objects_are_set_aside_from_the_collector_before_the_workers_fork():
    """What was made before the pool (modules, loaded sets) is frozen: no collection in a
    worker walks it or copies its pages; the scan's own objects are collected as ever."""
    import gc
    if workers.fork_context() is None:
        pytest.skip("no fork on this platform")
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    pool = Workers(_collector, 1)
    try:
        [(_, [(frozen, young)])] = list(pool.map([[0]]))
    finally:
        pool.close()
        gc.unfreeze()
    assert frozen > 1000 and young == gc.get_threshold()[0]


def test_the_command_line_makes_young_collections_rarer():
    import gc
    from triage import cli
    before = gc.get_threshold()
    try:
        cli.main(["--version"])
    except SystemExit:
        pass
    finally:
        after = gc.get_threshold()
        gc.set_threshold(*before)
    assert after[0] == cli.GC_YOUNG == 50_000 and after[1:] == before[1:]


def test_a_crashed_worker_s_batches_run_again_an_entry_at_a_time():
    """The batches a dying worker takes down run again one entry at a time: the entry that
    crashes again gets its stand-in, the others their results. Where there is no stand-in
    (None: a piece of the block sweep), the pool's failure is raised, after the batches that
    completed."""
    from concurrent.futures.process import BrokenProcessPool

    def task(n):
        if n == 7:
            os._exit(1)
        return n * n
    pool = Workers(task, 2, crashed=lambda n, stalled=None: None)
    got = []
    with pytest.raises(BrokenProcessPool):
        for batch, results in pool.map([[1, 2, 3], [4, 5, 6], [7, 8]]):
            got.append(results)
    pool.close()
    assert got == [[1, 4, 9], [16, 25, 36]]
    pool = Workers(task, 2, crashed=lambda n, stalled=None: -n)
    assert [r for _, r in pool.map([[1, 2, 3], [7, 8], [4]])] == [[1, 4, 9], [-7, 64], [16]]
    pool.close()


@pytest.mark.parametrize("again", [True, False])
def test_an_entry_not_to_run_again_gets_its_stand_in_at_once(tmp_path, again):
    """`again`: an entry of a crashed batch that is not run again alone (a shared walk's
    folder: its files are, by the main process) gets crashed(entry) without another try; the
    batches' other entries run again as before."""
    tries = tmp_path / "tries"

    def task(n):
        if n == 70:
            with open(tries, "a") as f:
                f.write("tried\n")
            os._exit(1)
        return n * n
    pool = Workers(task, 2, crashed=lambda n, stalled=None: -n,
                   again=lambda n: again or n != 70)
    try:
        assert [r for _, r in pool.map([[1, 70, 2], [4]])] == [[1, -70, 4], [16]]
    finally:
        pool.close()
    assert tries.read_text().count("tried") == (2 if again else 1)


def test_a_batch_sent_to_a_pool_broken_before_its_failures_were_seen_runs_again():
    """A worker can die between two batches sent: the pool is then broken before the caller
    has seen any of its failed batches, and sending the next one fails at once. That batch is
    judged again with the others (it escaped as BrokenProcessPool and stopped the scan)."""
    def task(n):
        if n == 7:
            os._exit(1)
        return n * n
    pool = Workers(task, 2, crashed=lambda n, stalled=None: -n)

    def sent():
        yield [7, 8]
        deadline = time.monotonic() + 30
        while not pool._pool._broken and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pool._pool._broken
        yield [4, 5]
    try:
        assert [r for _, r in pool.map(sent())] == [[-7, 64], [16, 25]]
    finally:
        pool.close()


def _stuck_at(limit, n):
    if n == limit:   # a read that never returns (a hung mount): deaf to the stop event
        time.sleep(3600)
    return n


def test_a_stop_kills_a_worker_stuck_in_a_read_after_its_grace_and_keeps_what_completed():
    if workers.fork_context() is None:
        pytest.skip("no fork on this platform: threads cannot be killed")
    pool = Workers(partial(_stuck_at, 300), 2)
    got, stopped = [], []

    def scan():
        work = pool.map(batches(range(2 * BATCH_FILES), cost=lambda n: 0))
        got.extend(next(work)[1])        # the first batch, done; the second is stuck
        stopped.extend(r for _, results in pool.stop(grace=0.5) for r in results)
        pool.close()
    runner = threading.Thread(target=scan, daemon=True)
    runner.start()
    runner.join(120)
    # Before: the stop waited for the stuck batch, that is for ever.
    assert not runner.is_alive(), "the stop waited for a worker that never returns"
    assert got == list(range(BATCH_FILES))
    assert stopped == []
    assert not any(p.is_alive() for p in pool._processes)


def test_a_worker_stuck_in_a_read_is_stopped_and_its_entry_stood_in_for(monkeypatch):
    """Unattended (no Ctrl-C, no budget), a read that never returns held the pool for ever.
    When every worker process has stood still (no byte read, no CPU) for STALL seconds while
    a batch is waited for, they are stopped; the batch runs again an entry at a time, and the
    entry that sticks again gets its stand-in, told it stalled; the others their results."""
    if workers.fork_context() is None:
        pytest.skip("no fork on this platform: threads cannot be stopped")
    monkeypatch.setattr(workers, "STALL", 1.0)
    monkeypatch.setattr(workers, "WATCH", 0.1)
    calls = []
    pool = Workers(partial(_stuck_at, 5), 2,
                   crashed=lambda n, stalled=None: calls.append((n, stalled)) or -n)
    started = time.monotonic()
    try:
        got = [r for _, r in pool.map([[1, 2], [3, 4, 5, 6], [7]])]
    finally:
        pool.close()
    assert got == [[1, 2], [3, 4, -5, 6], [7]]
    assert calls == [(5, 1.0)]
    assert time.monotonic() - started < 60
