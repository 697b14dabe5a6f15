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
