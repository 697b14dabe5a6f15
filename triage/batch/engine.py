"""The Dask cluster a batch runs on: a LocalCluster sized to this machine, or an existing
cluster reached by its scheduler's address. Dask schedules; this module only sets it up.

A worker per core, one task at a time each, and the workers daemonic as Dask starts them:
a daemonic process may not have children, so each scan judges its files in a thread of its
own process (triage.workers.fork_context) rather than forking the pool `triage scan` forks.
With one core a task, that was measured the fastest way (benchmarks/batch.py: 1.29 times as
fast as non-daemonic workers whose scans fork one judging process each, 1.19 times as fast as
one worker whose scan forks a pool of one process per core; docs/scaling.md), and a cluster of
one's own needs no setting for it. A task whose worker dies (killed, out of memory) is given
once more to another worker; a second death fails it (`allowed-failures: 1`): on a cluster of
one's own that is the scheduler's setting (docs/scaling.md)."""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Iterator, Optional

from ..errors import TriageError

# What a LocalCluster is started with; a cluster of one's own is configured by whoever
# starts it (DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1).
LOCAL_CONFIG = {
    "distributed.scheduler.allowed-failures": 1,
    # Dask's statistical profiler samples every thread of a worker 100 times a second: time
    # taken from the scans it watches, for a view nobody here looks at.
    "distributed.worker.profile.enabled": False,
    "distributed.worker.preload": ["triage.batch.worker"],
}


@contextmanager
def cluster(scheduler: Optional[str] = None, workers: Optional[int] = None,
            daemon: bool = True, dashboard: Optional[str] = None) -> Iterator:
    """A connected `distributed.Client`: to `scheduler` (tcp://HOST:8786) when given, else to
    a LocalCluster of `workers` processes (default: one per CPU), one task at a time each."""
    import dask
    from distributed import Client, LocalCluster
    with _quiet("distributed"), _quiet("tornado"):
        yield from _connected(dask, Client, LocalCluster, scheduler, workers, daemon, dashboard)


def _connected(dask, Client, LocalCluster, scheduler, workers, daemon, dashboard):
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise TriageError(f"{scheduler}: cannot reach the Dask scheduler: "
                              f"{' '.join(str(exc).split())}") from None
        try:
            yield client
        finally:
            client.close()
        return
    with dask.config.set({**LOCAL_CONFIG, "distributed.worker.daemon": daemon}):
        # Without a dashboard the scheduler still serves its health page: on a free port,
        # not on the dashboard's (another batch's may hold it).
        local = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                             processes=True, memory_limit=0, dashboard_address=dashboard,
                             scheduler_kwargs={"dashboard": dashboard is not None,
                                               "dashboard_address": dashboard or ":0"},
                             silence_logs=logging.CRITICAL)
        try:
            client = Client(local, set_as_default=False)
            try:
                yield client
            finally:
                client.close()
        finally:
            local.close()


@contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Dask's own log lines (a worker lost, a connection closed as the cluster stops) are for
    whoever runs Dask, not for the examiner: what they mean reaches the case report."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def slots(client) -> int:
    """Tasks the cluster runs at once."""
    return max(1, sum(client.nthreads().values()))


def dashboard_link(client) -> Optional[str]:
    """The dashboard's address, when the cluster serves one (bokeh installed)."""
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return None
    return client.dashboard_link
