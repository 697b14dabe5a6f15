"""numpy's BLAS kept to one thread: in a command's own process (set before numpy loads), and
in every worker process."""

import json
import os
import subprocess
import sys

import pytest

from triage import mathlibs

# Runs a command as the `triage` entry point does, numpy loaded on the way (a set's `info`),
# then says how many threads each math library loaded in that process runs.
_PROGRAM = """
import json, sys
from triage.cli import main
try:
    main(["hashset", "info", sys.argv[1]])
except SystemExit:
    pass
from threadpoolctl import threadpool_info
print(json.dumps({i["internal_api"]: i["num_threads"] for i in threadpool_info()}))
"""


def _threads_after_a_command(tmp_path, env):
    listed = tmp_path / "set.md5"
    listed.write_text("d41d8cd98f00b204e9800998ecf8427e\n")
    run = subprocess.run([sys.executable, "-c", _PROGRAM, str(listed)], capture_output=True,
                         text=True, env=env, check=True)
    return json.loads(run.stdout.splitlines()[-1])


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS starts one thread per core")
def test_a_command_loads_openblas_with_one_thread_unless_the_user_set_how_many(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in mathlibs.THREADS}
    assert _threads_after_a_command(tmp_path, env) == {"openblas": 1}
    assert _threads_after_a_command(tmp_path, {**env, "OPENBLAS_NUM_THREADS": "2"}) == {
        "openblas": 2}


def test_before_numpy_leaves_a_value_the_user_set(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    mathlibs.before_numpy()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    mathlibs.before_numpy()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3"


# A command's process as a scan's: numpy loaded after before_numpy, perhaps faiss beside it;
# then a pool's worker says whether it needed threadpoolctl and how many threads each math
# library it holds runs.
_WORKER = """
import json, sys
from triage import mathlibs
mathlibs.before_numpy()
import numpy
if sys.argv[1] == "faiss":
    import faiss
from triage.workers import Workers

def report(_):
    in_worker = "threadpoolctl" in sys.modules
    from threadpoolctl import threadpool_info
    return in_worker, sorted({(i["internal_api"], i["num_threads"]) for i in threadpool_info()})

pool = Workers(report, 2)
try:
    print(json.dumps([results for _, results in pool.map([[0]])][0][0]))
finally:
    pool.close()
"""


def _worker_report(loaded: str):
    env = {k: v for k, v in os.environ.items() if k not in mathlibs.THREADS}
    run = subprocess.run([sys.executable, "-c", _WORKER, loaded], capture_output=True,
                         text=True, env=env, check=True)
    return json.loads(run.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork on Linux")
def test_a_worker_skips_threadpoolctl_where_numpy_s_blas_is_all_it_holds_and_at_one_thread():
    """An exact scan's worker holds numpy's OpenBLAS alone, loaded at one thread: nothing to
    limit, and threadpoolctl is not even imported. One whose process loaded faiss (its own
    OpenBLAS and OpenMP) has every library limited to one thread."""
    imported, threads = _worker_report("numpy")
    assert not imported and threads == [["openblas", 1]]
    imported, threads = _worker_report("faiss")
    assert imported and {n for _, n in threads} == {1} and {"openblas", "openmp"} <= {
        api for api, _ in threads}


def test_the_look_at_the_mappings_takes_a_mapped_file_whose_name_is_not_utf8(tmp_path):
    """A scan maps its sets, whose names may be any bytes: the look at /proc/self/maps
    (mathlibs._only_numpy_s) still answers, in a worker's start."""
    if not os.path.exists("/proc/self/maps"):
        pytest.skip("no /proc/self/maps here")
    program = (
        "import mmap, os, sys\n"
        "from triage import mathlibs\n"
        "mathlibs.before_numpy()\n"
        "import numpy\n"
        "fd = os.open(os.fsencode(sys.argv[1]) + b'/set\\xe9.tset', os.O_RDWR | os.O_CREAT)\n"
        "os.write(fd, bytes(4096))\n"
        "mapped = mmap.mmap(fd, 4096)\n"
        "print(mathlibs._only_numpy_s())\n")
    env = {k: v for k, v in os.environ.items() if k not in mathlibs.THREADS}
    run = subprocess.run([sys.executable, "-c", program, str(tmp_path)], capture_output=True,
                         text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "True"
