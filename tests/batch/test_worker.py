"""A Dask worker's environment pins glibc's mmap threshold (MALLOC_TRIM_THRESHOLD_): the
scanning tasks give glibc's own ceilings back, so a picture's buffer comes from the heap."""

from __future__ import annotations

import subprocess
import sys

import pytest

# How many mmapped chunks a fresh 1 MiB allocation adds (mallinfo2's hblks), in a process
# started as Dask's nanny starts a worker.
PROBE = """
import ctypes, sys
from triage.batch.worker import malloc_as_glibc

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
if sys.argv[1] == "task":
    malloc_as_glibc()
before = libc.mallinfo2().hblks
block = libc.malloc(1 << 20)
print(libc.mallinfo2().hblks - before)
libc.free(ctypes.c_void_p(block))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize("where, mmapped", [("worker", "1"), ("task", "0")])
def test_a_scanning_task_takes_a_buffer_from_the_heap_not_a_fresh_mmap(where, mmapped):
    run = subprocess.run([sys.executable, "-c", PROBE, where], capture_output=True, text=True,
                         env={"MALLOC_TRIM_THRESHOLD_": "65536", "PATH": "/usr/bin:/bin"},
                         check=True)
    assert run.stdout.strip() == mmapped
