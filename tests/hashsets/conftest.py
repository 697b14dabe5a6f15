"""The hash-set tests' runner of the real command under limits: address space (RLIMIT_AS) and
wall time, so a reader that would balloon or hang fails the test instead of the machine; and
a real set compiled (`compiled`)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from support import FIXTURES
from triage.hashsets import compile_sources

REAL_SOURCE = FIXTURES / "hashsets" / "real" / "Z00236.hsh"   # 6,994 MD5s with sizes


@pytest.fixture
def compiled(tmp_path):
    """A real set (REAL_SOURCE), compiled."""
    out = tmp_path / "z.tset"
    compile_sources([REAL_SOURCE], out)
    return out

# numpy, the extension modules and the interpreter take ~0.5 GiB of address space before a
# byte of a set is read; 1.5 GiB leaves a source's reading well under a gigabyte.
MEMORY = 1536 << 20
SECONDS = 60


@dataclass
class Bounded:
    code: int
    stdout: str
    stderr: str
    seconds: float

    def lines(self):
        return self.stderr.splitlines()


def run_bounded(*args, memory: int = MEMORY, seconds: float = SECONDS) -> Bounded:
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "triage", *map(str, args)],
                          capture_output=True, text=True, timeout=seconds, preexec_fn=limit,
                          errors="replace", env={**os.environ, "TRIAGE_DEBUG": ""})
    return Bounded(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


@pytest.fixture
def bounded():
    return run_bounded
