"""numpy's BLAS (OpenBLAS) kept to one thread. triage spreads its work over a process per core
already, and the pool of threads OpenBLAS starts per core only fights those processes for the
cores: nothing triage computes is a matrix large enough to gain from them."""

from __future__ import annotations

import os

# What each library reads as it loads; threadpoolctl sets those loaded already.
THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def before_numpy() -> None:
    """For a command's own process, before numpy loads: OpenBLAS starts a thread per core as
    it loads, which spin for a while. On 2 cores they cost a scan's start 0.08 CPU-s, taken
    from the walk and the workers (a sub-file scan of the benchmark folder: 1.13 -> 1.04 s).
    Only OpenBLAS's: OpenMP's threads start when a parallel region first runs (faiss's search
    in `hashset` commands), and are wanted there. A value the user set stands."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def one_thread() -> None:
    """For a worker process (one per core): every math library to one thread, those loaded
    already (numpy, by the parent) included. The query's PDQ (a few small matrix products a
    picture) cost 2 to 5 times the CPU with OpenBLAS's threads spinning beside another
    worker's."""
    for name in THREADS:
        os.environ[name] = "1"          # for a library not loaded yet
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)                # for those loaded already
