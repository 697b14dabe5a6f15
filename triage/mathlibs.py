"""numpy's BLAS (OpenBLAS) kept to one thread. triage spreads its work over a process per core
already, and the pool of threads OpenBLAS starts per core only fights those processes for the
cores: nothing triage computes is a matrix large enough to gain from them."""

from __future__ import annotations

import os
import sys

# What each library reads as it loads; threadpoolctl sets those loaded already.
THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


# The file names of math libraries that run threads of their own (OpenBLAS, OpenMP's, MKL's,
# BLIS): threadpoolctl's, as a process's mappings name them.
_THREADED = (b"openblas", b"gomp", b"iomp", b"libmkl", b"blis")
# Where numpy's wheel keeps its own OpenBLAS.
_NUMPY_OWN = (b"/numpy.libs/", b"/numpy/.libs/")

_numpy_at_one = False   # numpy loaded after before_numpy, with its OpenBLAS at one thread


def before_numpy() -> None:
    """For a command's own process, before numpy loads: OpenBLAS starts a thread per core as
    it loads, which spin for a while. On 2 cores they cost a scan's start 0.08 CPU-s, taken
    from the walk and the workers (a sub-file scan of the benchmark folder: 1.13 -> 1.04 s).
    Only OpenBLAS's: OpenMP's threads start when a parallel region first runs (faiss's search
    in `hashset` commands), and are wanted there. A value the user set stands."""
    global _numpy_at_one
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    _numpy_at_one = "numpy" not in sys.modules and os.environ["OPENBLAS_NUM_THREADS"] == "1"


def one_thread() -> None:
    """For a worker process (one per core): every math library to one thread, those loaded
    already (numpy, by the parent) included. The query's PDQ (a few small matrix products a
    picture) cost 2 to 5 times the CPU with OpenBLAS's threads spinning beside another
    worker's."""
    for name in THREADS:
        os.environ[name] = "1"          # for a library not loaded yet
    if _numpy_at_one and _only_numpy_s():
        return   # one thread already: threadpoolctl's import and look took 3.7 ms a worker
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)                # for those loaded already


def _only_numpy_s() -> bool:
    """Whether the one threaded math library this process has loaded is numpy's own (an exact
    scan's: faiss, for one, brings its OpenBLAS and OpenMP's), as /proc/self/maps tells; False
    where it cannot tell."""
    try:   # bytes: a mapped file's name need not be UTF-8 (a set named so, mapped)
        with open("/proc/self/maps", "rb") as maps:
            paths = {line.rstrip(b"\n").rsplit(b" ", 1)[-1] for line in maps if b"/" in line}
    except OSError:
        return False
    return all(any(own in path for own in _NUMPY_OWN) for path in paths
               if any(name in path.rsplit(b"/", 1)[-1] for name in _THREADED))
