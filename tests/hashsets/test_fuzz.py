"""Fuzzing every hash-set reader (issue 10, "Make it stay fixed"): a seeded mutator over the real
example sets and the synthetic fixtures, each mutant given to `triage hashset import`, and to
`validate` and `info`, through the real entry point under an address-space limit and a time
limit per command. Every command must end with its documented exit code (import and info: 0
or 2; validate: 0, 1 or 2), each stderr line one whole message (a problem, a summary or the
one error), and never `internal error`.

The CI size is a few dozen mutants per format; `@pytest.mark.slow` runs more, scaled by
TRIAGE_SLOW_SCALE (100 for a release check)."""

from __future__ import annotations

import json
import random
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import FIXTURES, REPO, slow_scale
from triage.hashsets import compile_sources

DRIVER = Path(__file__).with_name("fuzz_driver.py")
MEMORY = 2 << 30                 # address space of the process running every command
SECONDS = 20                     # per command
SHARED = next((p for p in (REPO.parent / "shared" / "hashsets", Path("/work/shared/hashsets"))
               if p.is_dir()), None)
SEED_DIRS = [FIXTURES / "hashsets" / "real", FIXTURES / "hashsets" / "synthetic"] + \
    ([SHARED] if SHARED else [])
TOKENS = [b"[", b"{", b"[" * 300, b"{" * 300, b'"', b"\\", b"\\ud800", b"\\udc00",
          "\u00b2".encode(), "\u0663".encode(), b"\x00", b"\r", b"\n\n\n", b",", b",,", b";",
          b"\t", b"NaN", b"1e400", b"-1", b"99999999999999999999999", b'""', b"PK\x03\x04",
          b"%%%% size,md5,filename\n", b"##", b"\xff\xfe", b"\xef\xbb\xbf", b"\xc3\x28",
          b'"value":[', b'"Media":[', b"}", b"]", b"]}", b"0" * 32, b"F" * 40]
MESSAGE = re.compile(r"triage: (error|warning): |triage: \d+ more problem\(s\) not shown|"
                     r"\d+ finding\(s\) in \d+ set\(s\)$")


def seeds():
    found = {}
    for folder in SEED_DIRS:
        for path in sorted(folder.iterdir()):
            if path.suffix not in (".md", ".py") and path.name not in found:
                found[path.name] = path
    return list(found.values())


def mutate(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(data) + 1)
        op = rng.randrange(7)
        if op == 0 and data:                                  # flip bytes
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif op == 1:                                         # delete a span
            del data[at:at + rng.randint(1, 200)]
        elif op == 2:                                         # repeat a span
            span = bytes(data[at:at + rng.randint(1, 120)])
            data[at:at] = span * rng.randint(2, 50)
        elif op == 3:                                         # a hostile token
            data[at:at] = rng.choice(TOKENS)
        elif op == 4:                                         # cut short
            del data[at:]
        elif op == 5:                                         # a digit made non-ASCII
            digits = [m.start() for m in re.finditer(rb"[0-9]", bytes(data[:4096]))]
            if digits:
                i = rng.choice(digits)
                data[i:i + 1] = "\u00b2".encode()
        else:                                                 # random bytes
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return bytes(data)


def jobs_for(tmp_path: Path, per_seed: int, seed: int):
    rng = random.Random(seed)
    sources = seeds()
    compiled = tmp_path / "compiled.tset"
    compile_sources([FIXTURES / "hashsets" / "synthetic" / "vics-2.0-case.json"], compiled)
    sources.append(compiled)
    jobs = []
    for source in sources:
        data = source.read_bytes()
        for i in range(per_seed):
            folder = tmp_path / f"{source.name}-{i}"
            folder.mkdir()
            path = folder / source.name
            path.write_bytes(mutate(data, rng))
            if source.suffix == ".hke":               # its set is the .hsh beside it
                shutil.copy(source.with_suffix(".hsh"), folder)
            out = folder / "out.tset"
            jobs.append(["hashset", "import", str(path), "-o", str(out), "--no-progress"])
            if i % 2 == 0:
                jobs.append(["hashset", "validate", str(path)])
            if i % 3 == 0:
                jobs.append(["hashset", "info", str(path), "--json"])
            jobs.append(["hashset", "info", str(out)])          # the set import wrote, if any
    return jobs


def run_all(jobs):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    proc = subprocess.run([sys.executable, str(DRIVER), str(SECONDS)], input=json.dumps(jobs),
                          capture_output=True, text=True, preexec_fn=limit,
                          timeout=SECONDS * len(jobs) + 60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def check(results, jobs):
    assert len(results) == len(jobs)
    for result in results:
        args, code, stderr = result["args"], result["code"], result["stderr"]
        what = f"{' '.join(args)} -> {code}: {stderr[-600:]!r}"
        assert not result["timed_out"], what
        assert "internal error" not in stderr and "Traceback" not in stderr, what
        allowed = {0, 1, 2} if args[1] == "validate" else {0, 2}
        if args[1] == "info" and args[2].endswith("out.tset"):
            out = Path(args[2])
            allowed = {0} if out.exists() else {2}
        assert code in allowed, what
        lines = stderr.splitlines()
        assert all(MESSAGE.match(line) for line in lines), what
        assert len(lines) <= 23, what
        if code == 2:
            assert lines and lines[-1].startswith("triage: error: "), what


def test_every_reader_survives_mutants(tmp_path):
    jobs = jobs_for(tmp_path, per_seed=5, seed=20260101)
    check(run_all(jobs), jobs)


@pytest.mark.slow
def test_every_reader_survives_many_mutants(tmp_path):
    jobs = jobs_for(tmp_path, per_seed=max(1, int(8 * slow_scale())), seed=7)
    check(run_all(jobs), jobs)
