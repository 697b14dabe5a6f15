"""Helpers the tests share: paths of the committed fixtures, their Sleuth Kit ground truth, and a
way to run the real `triage` command."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
IMAGES = FIXTURES / "images"
TRUTH = FIXTURES / "truth"


def slow_scale() -> float:
    """Size multiplier for @pytest.mark.slow checks: 1 is the small CI size; an examiner
    validating a release sets TRIAGE_SLOW_SCALE=100 (or more) for the full-size run."""
    return float(os.environ.get("TRIAGE_SLOW_SCALE", "1"))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_truth(name: str) -> dict:
    return json.loads((TRUTH / f"{name}.json").read_text(encoding="utf-8"))


def truth_names() -> list:
    return sorted(p.name[:-len(".json")] for p in TRUTH.glob("*.json")) if TRUTH.is_dir() else []


class Run:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def lines(self) -> list:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def json(self):
        return json.loads(self.stdout)


def run_triage(*args, cwd=None, env=None, timeout=300) -> Run:
    """The real command line, in a child process, as a user runs it."""
    proc = subprocess.run([sys.executable, "-m", "triage", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    # `internal error` is reserved for bugs: no input any test gives may produce it.
    assert "internal error" not in proc.stderr, proc.stderr
    return Run(proc)


def ewf_sections(path: Path):
    """(type, payload) of each section of an EWF-E01 segment file."""
    data = path.read_bytes()
    at = 13   # after the file header
    while True:
        kind = data[at:at + 16].rstrip(b"\0").decode()
        next_at, size = struct.unpack_from("<QQ", data, at + 16)
        yield kind, data[at + 76:at + size]
        if kind in ("done", "next") or next_at <= at:
            return
        at = next_at
