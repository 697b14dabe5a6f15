"""Read buffers' memory kept in the process (glibc's mallopt), set without starting a program."""

import ctypes
import subprocess
import sys

import pytest

from triage.evidence import memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_read_buffers_are_kept_without_starting_a_program(monkeypatch):
    """mallopt is taken from the C library the interpreter runs on, and set to the thresholds
    glibc settles at; no other program runs for it (ctypes.util.find_library started
    `ldconfig -p` at every scan's start)."""
    started, set_to = [], []

    def refuse(*args, **kwargs):
        started.append(args)
        raise OSError("no program may start here")

    class Recorded:
        def __init__(self, name):
            self._lib = real(name)

        @property
        def mallopt(self):
            def mallopt(option, value):
                set_to.append((option, value))
                return self._lib.mallopt(option, value)
            return mallopt
    real = ctypes.CDLL
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(ctypes, "CDLL", Recorded)
    monkeypatch.setattr(memory, "_done", False)
    memory.keep_read_buffers()
    assert started == []
    assert set_to == [(memory.M_MMAP_THRESHOLD, 32 << 20), (memory.M_TRIM_THRESHOLD, 64 << 20)]
