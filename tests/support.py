"""Helpers the tests share: paths of the committed fixtures, their Sleuth Kit ground truth, and a
way to run the real `triage` command."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import struct
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
IMAGES = FIXTURES / "images"
TRUTH = FIXTURES / "truth"


def slow_scale() -> float:
    """Size multiplier for @pytest.mark.slow checks: 1 is the small CI size; an examiner
    validating a release sets TRIAGE_SLOW_SCALE=100 (or more) for the full-size run."""
    return float(os.environ.get("TRIAGE_SLOW_SCALE", "1"))


def build_script(script: str = "build_images.py"):
    """fixtures/build_images.py (or another fixture builder) as a module (what it planted
    where, the derived images' patches). Importing it has no side effects; loaded once."""
    import importlib.util
    name = "fixtures_" + script[:-3]
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FIXTURES / script)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module   # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


def cipher_like(size: int, seed: int = 0) -> bytes:
    """Bytes as an encrypted volume holds them: random-looking, with no file type, and the same
    every run. os.urandom's are given a type by libmagic about once in a hundred (a DOS
    executable, zlib...), which made a test that expects them flagged fail as often."""
    return random.Random(seed).randbytes(size)


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


def start_triage(*args, **popen) -> subprocess.Popen:
    """The real command line started in a child process that a test may stop (Ctrl-C, SIGTERM,
    kill -9), its output piped. SIGINT is set back to the default in the child: a test run
    started in the background of a non-interactive shell (`nohup bash -c 'pytest' &`) has it
    ignored, the child would inherit that and run to the end, as a user's would, rightly."""
    return subprocess.Popen([sys.executable, "-m", "triage", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_interruptible, **popen)


def _interruptible() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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


def ewf_chunks(segments):
    """Every chunk of an EWF-E01 image, in media order: (segment path, first byte in the
    segment file, end, compressed), from each segment's table sections (libyal's EWF format:
    a table entry is the chunk's offset from the table's base, its top bit set when the chunk
    is compressed; a table's chunks lie in the sectors section just before it)."""
    chunks = []
    for segment in segments:
        data = Path(segment).read_bytes()
        at = 13
        while True:
            kind = data[at:at + 16].rstrip(b"\0").decode()
            next_at, _ = struct.unpack_from("<QQ", data, at + 16)
            if kind == "table":
                count, _, base = struct.unpack_from("<IIQ", data, at + 76)
                entries = struct.unpack_from(f"<{count}I", data, at + 76 + 24)
                starts = [base + (e & 0x7FFFFFFF) for e in entries] + [at]
                for i, entry in enumerate(entries):
                    chunks.append((Path(segment), starts[i], starts[i + 1],
                                   bool(entry & 0x80000000)))
            if kind in ("done", "next") or next_at <= at:
                break
            at = next_at
    return chunks


def wait_for_done(outdir: Path, count: int, timeout: float = 60) -> None:
    """Wait until a running scan has recorded `count` file verdicts in OUTDIR's results
    database (read-only, and closed each time: an open reader would keep the scan from
    checkpointing its database)."""
    import sqlite3
    import time
    from contextlib import closing
    db = Path(outdir) / "results.sqlite"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if db.exists():
            try:
                with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
                    if conn.execute("SELECT COUNT(*) FROM done").fetchone()[0] >= count:
                        return
            except sqlite3.Error:
                pass
        time.sleep(0.02)
    raise AssertionError("the scan made no progress")


class AskedReader(io.BytesIO):
    """A file's reader that records in `events` what is asked of it ahead of reading
    (("ask", name, offset, length)) and its closing (("close", name), once); `warm`: whether
    it says its bytes are in the page cache (triage.prefetch.cached)."""

    def __init__(self, name: str, events: list, warm: bool = False, data: bytes = b""):
        super().__init__(data)
        self.name, self.events, self.warm = name, events, warm

    def prefetch(self, at: int, length: int) -> None:
        self.events.append(("ask", self.name, at, length))

    def cached(self, offset: int) -> bool:
        return self.warm

    def close(self) -> None:
        if not self.closed:
            self.events.append(("close", self.name))
        super().close()


class Counting(io.BytesIO):
    """A reader that counts the bytes handed out."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.handed = 0

    def read(self, size=-1):
        block = super().read(size)
        self.handed += len(block)
        return block


def nest(root, levels: int, files: dict) -> None:
    """Folders `levels` deep under root, each named by 60 characters, made a folder at a time
    (openat: the whole path soon passes PATH_MAX); files[depth] = (name, content) written at
    that depth."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for depth in range(levels + 1):
            if depth in files:
                name, content = files[depth]
                out = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
                os.write(out, content)
                os.close(out)
            if depth < levels:
                os.mkdir(f"{depth:03d}" + "d" * 57, dir_fd=fd)
                below = os.open(f"{depth:03d}" + "d" * 57, os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = below
    finally:
        os.close(fd)


@contextmanager
def proc_mounted(folder: Path):
    """A proc file system mounted at `folder` (made here) for the block, as `/` holds `/proc`;
    the test is skipped where none can be mounted (not root)."""
    folder.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["mount", "-t", "proc", "proc", str(folder)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a proc file system here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@contextmanager
def mounted_ntfs(image: Path, size: int, *options: str):
    """A new NTFS image of `size` bytes at `image` (mkntfs, 4 KiB clusters), mounted through a
    loop device by ntfs-3g with `options` while the block runs (its unmount then waits for
    every write); the mount point is given. Skips the test where a tool, a loop device or the
    mount is missing."""
    import shutil
    if not all(shutil.which(t) for t in ("mkntfs", "ntfs-3g", "setfattr", "losetup")):
        pytest.skip("ntfs-3g, attr (setfattr) or losetup is not installed")
    with open(image, "wb") as f:
        f.truncate(size)
    subprocess.run(["mkntfs", "-F", "-Q", "-q", "-c", "4096", str(image)], check=True,
                   capture_output=True)
    loop = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True,
                          text=True)
    if loop.returncode != 0:
        pytest.skip(f"no loop device here: {loop.stderr.strip()}")
    device, mountpoint = loop.stdout.strip(), image.with_name(image.name + ".mnt")
    mountpoint.mkdir()
    try:
        mounted = subprocess.run(["ntfs-3g", *(["-o", ",".join(options)] if options else []),
                                  device, str(mountpoint)], capture_output=True, text=True)
        if mounted.returncode != 0:
            pytest.skip(f"ntfs-3g cannot mount here: {mounted.stderr.strip()}")
        try:
            yield mountpoint
        finally:
            subprocess.run(["umount", str(mountpoint)], check=True)
    finally:
        subprocess.run(["losetup", "--detach", device], check=False)

