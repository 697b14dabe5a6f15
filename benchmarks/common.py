"""Shared helpers of the evidence and scan benchmarks: deterministic test trees and images
(built once, cached under the bench-data folder), the page-cache warm-up every contender gets,
timed runs of commands, the CPU's own hashing limit, machine facts and the results table."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

DATA = Path(os.environ.get("TRIAGE_BENCH_DATA", "/work/bench-data"))
REPO = Path(__file__).resolve().parents[1]
# This checkout's triage, in this process and in every `python -m triage` it starts, whatever
# copy of the package happens to be installed.
sys.path.insert(0, str(REPO))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
CHUNK = 1 << 20            # triage's own read size (triage.hashing.CHUNK)
POOL = 64 << 20            # random bytes every file's content is cut from
MiB = float(1 << 20)


# --- test data -------------------------------------------------------------------------------

def file_sizes(files: int, total: int, sigma: float, seed: int) -> np.ndarray:
    """`files` log-normal sizes (a disk's mix: many small files, a few very large ones) whose
    expected sum is `total`; about 1 % are empty, as on real disks."""
    rng = np.random.default_rng(seed)
    mu = np.log(total / files) - sigma ** 2 / 2          # a log-normal's mean is e^(mu+s^2/2)
    sizes = rng.lognormal(mu, sigma, files).astype(np.int64)
    sizes[rng.random(files) < 0.01] = 0
    return sizes


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _built_from(out: Path, source: Path):
    """(whether OUT is already built from SOURCE as it is now, SOURCE's stamp): each derived item
    records its source's stamp, so a rebuilt source rebuilds what was made from it."""
    params = json.loads(_stamp(source).read_text())
    done = out.exists() and _stamp(out).exists() and json.loads(_stamp(out).read_text()) == params
    return done, params


def generate_tree(root: Path, files: int, total: int, sigma: float, seed: int) -> Path:
    """A folder of `files` files in nested folders (about 100 a folder), content cut from one
    seeded random pool with the file's number in front, so every file is distinct and the same
    seed gives the same bytes. Built once: a stamp beside the tree records what it holds."""
    params = {"files": files, "total": total, "sigma": sigma, "seed": seed, "version": 1}
    stamp = _stamp(root)
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return root
    if root.exists():
        shutil.rmtree(root)
    sizes = file_sizes(files, total, sigma, seed)
    pool = np.random.default_rng(seed + 1).bytes(POOL)
    pool = memoryview(pool + pool)     # a slice may wrap past the end
    offsets = np.random.default_rng(seed + 2).integers(0, POOL, files)
    exts = (".jpg", ".png", ".txt", ".dll", ".pdf", ".mp4", ".docx", ".bin")
    for i, (size, offset) in enumerate(zip(sizes.tolist(), offsets.tolist())):
        folder = root / f"d{i // 10000:03d}" / f"s{i // 100 % 100:02d}"
        if i % 100 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"f{i:07d}{exts[i % len(exts)]}", "wb") as f:
            head = f"{seed}:{i}:".encode()[:size]
            f.write(head)
            left = size - len(head)
            while left > 0:
                n = min(left, POOL)
                f.write(pool[offset:offset + n])
                left -= n
    stamp.write_text(json.dumps(params))
    return root


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def build_ext4(tree: Path, image: Path) -> Path:
    """An ext4 image made by `mkfs.ext4 -d` from the tree (no mount needed); cached."""
    done, source = _built_from(image, tree)
    if done:
        return image
    payload = tree_bytes(tree)
    count = sum(1 for _ in tree.rglob("*"))
    # Room for the data rounded up to blocks, inode tables, the journal and some slack.
    size_mib = int((payload + count * 4096) * 1.15 / MiB) + 128
    image.unlink(missing_ok=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-N", str(count + 1024),
                    "-d", str(tree), str(image), f"{size_mib}M"], check=True)
    _stamp(image).write_text(json.dumps(source))
    return image


def build_e01(image: Path) -> Path:
    """The image in EWF form (`ewfacquire`, deflate fast, 1.5 GB segments); cached."""
    target = image.with_suffix("")
    e01 = target.with_suffix(".E01")
    done, source = _built_from(e01, image)
    if done:
        return e01
    for old in image.parent.glob(target.name + ".E??"):
        old.unlink()
    subprocess.run(["ewfacquire", "-u", "-q", "-c", "deflate:fast", "-f", "encase6", "-C", "bench",
                    "-E", "bench", "-e", "bench", "-t", str(target), str(image)],
                   check=True, capture_output=True)
    _stamp(e01).write_text(json.dumps(source))
    return e01


def build_ntfs(tree: Path, image: Path) -> Path:
    """An NTFS image: mkntfs, then the tree copied in through an ntfs-3g mount (root and FUSE
    needed); cached."""
    done, source = _built_from(image, tree)
    if done:
        return image
    payload = tree_bytes(tree)
    count = sum(1 for _ in tree.rglob("*"))
    size = int((payload + count * 5120) * 1.2) + (256 << 20)
    image.unlink(missing_ok=True)
    with open(image, "wb") as f:
        f.truncate(size)
    subprocess.run(["mkntfs", "-q", "-F", "-Q", str(image)], check=True, capture_output=True)
    mnt = image.with_name(image.name + ".mnt")
    mnt.mkdir(exist_ok=True)
    subprocess.run(["ntfs-3g", "-o", "big_writes", str(image), str(mnt)], check=True)
    try:
        subprocess.run(["cp", "-r", "--no-preserve=all", f"{tree}/.", str(mnt)], check=True)
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
        mnt.rmdir()
    _stamp(image).write_text(json.dumps(source))
    return image


# --- fair timing -----------------------------------------------------------------------------

def warm(*paths: Path) -> None:
    """Read every byte of the inputs once, so every contender starts from the same warm page
    cache (the data fits in RAM); what is measured is then the tools, not the disk."""
    for path in paths:
        files = [path] if path.is_file() else (p for p in path.rglob("*") if p.is_file())
        for p in files:
            with open(p, "rb", buffering=0) as f:
                while f.read(8 << 20):
                    pass


def drop(*paths: Path) -> None:
    """Every file of the inputs out of the page cache, so a contender reads them from the
    device (`echo 3 > /proc/sys/vm/drop_caches` is refused in a container even to root;
    posix_fadvise DONTNEED drops a file's clean pages, after fsync has made them clean),
    checked with util-linux `fincore` where it is installed: a run that would start with
    more than 1 % of the inputs cached (another process reading them) stops the benchmark.
    File system metadata (inodes, folders) stays cached: every contender finds it so."""
    files = [p for path in paths
             for p in ([path] if path.is_file() else sorted(path.rglob("*"))) if p.is_file()]
    for p in files:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    if not shutil.which("fincore"):
        return
    resident = 0
    for i in range(0, len(files), 1000):
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES",
                              *map(str, files[i:i + 1000])], capture_output=True, text=True)
        resident += sum(int(n) for n in out.stdout.split())
    COLD.append(resident)
    total = sum(p.stat().st_size for p in files)
    if resident > total // 100:
        sys.exit(f"benchmark: {resident:,} bytes of {', '.join(map(str, paths))} still cached "
                 f"after dropping")


COLD: list = []     # bytes of the inputs found cached just before each cold run


@dataclass
class Timing:
    seconds: float                  # wall clock
    cpu: float                      # user + system seconds of the command and its children

    @property
    def cores(self) -> float:
        return self.cpu / self.seconds if self.seconds else 0.0


def run(cmd, stdout=subprocess.DEVNULL, shell: bool = False, cwd=None, env=None) -> Timing:
    """Run a command to completion and time it; a failure stops the benchmark."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd] if shell else cmd,
                          stdout=stdout, stderr=subprocess.PIPE, cwd=cwd, env=env)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):       # 1: hits found (triage scan), matches (hashdeep)
        sys.exit(f"benchmark: {cmd} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(seconds, cpu)


def rounds(contenders: Dict[str, Callable[[], Timing]], repeat: int,
           warmup: Callable[[str], None],
           every: Optional[Dict[str, List[Timing]]] = None) -> Dict[str, Timing]:
    """Each contender `repeat` times, interleaved round by round so drift in the machine's load
    hits all of them alike; each run after the same warm-up. The median run is kept; `every`,
    where given, gets each contender's runs in round order (for round_ratios)."""
    seen: Dict[str, List[Timing]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            warmup(name)
            seen[name].append(fn())
    if every is not None:
        every.update(seen)
    return {name: sorted(ts, key=lambda t: t.seconds)[len(ts) // 2] for name, ts in seen.items()}


def round_ratios(every: Dict[str, List[Timing]], peer: str, names: Sequence[str]) -> str:
    """The peer's time over each of `names`' in the same round, at the median and the least:
    a peer whose own time varies more than the contenders' (hashdeep's, by a third from day to
    day) moves the ratio of medians; within a round the machine's state is the same."""
    lines = [f"{peer}'s time over each contender's in the same round ({len(every[peer])} "
             f"rounds):"]
    for name in names:
        ratios = sorted(p.seconds / t.seconds for p, t in zip(every[peer], every[name]))
        lines.append(f"  {name}: {ratios[len(ratios) // 2]:.2f}x at the median, "
                     f"{ratios[0]:.2f}x at the least, {ratios[-1]:.2f}x at the most")
    return "\n".join(lines)


# --- the CPU's limit -------------------------------------------------------------------------

def _hash_bytes(names: Sequence[str], nbytes: int, ready, queue) -> None:
    data = os.urandom(POOL)                    # what is hashed does not change the speed
    view = memoryview(data)
    hashers = [hashlib.new(n) for n in names]
    ready.wait()
    start_cpu, start = time.process_time(), time.perf_counter()
    left = nbytes
    while left > 0:
        for i in range(0, min(left, POOL), CHUNK):
            block = view[i:i + CHUNK]
            for h in hashers:
                h.update(block)
        left -= POOL
    queue.put((time.perf_counter() - start, time.process_time() - start_cpu))


def cpu_limit(names: Sequence[str], nbytes: int, processes: int) -> Timing:
    """The time hashlib needs for `nbytes` bytes already in memory, every digest in `names` over
    each byte, in 1 MiB updates as triage does, shared by `processes` processes (processes,
    not threads, so nothing but the cores limits it). Run among the contenders, under the same
    machine load, it is the limit their hashing is held against."""
    ctx = mp.get_context("fork")
    queue, ready = ctx.Queue(), ctx.Barrier(processes + 1)
    share = -(-nbytes // processes)
    procs = [ctx.Process(target=_hash_bytes, args=(list(names), share, ready, queue))
             for _ in range(processes)]
    for p in procs:
        p.start()
    ready.wait()               # every buffer allocated: only the hashing is timed
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return Timing(max(r[0] for r in results), sum(r[1] for r in results))


# --- what the machine is, and the table ------------------------------------------------------

def machine() -> Dict[str, str]:
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in out.splitlines()
                     if line.startswith("Model name"))
    except (OSError, StopIteration):
        model = platform.processor()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30

    def version(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "missing"

    import ssl
    return {
        "cpu": f"{model}, {os.cpu_count()} cores",
        "memory": f"{mem:.0f} GiB",
        "python": platform.python_version() + ", " + ssl.OPENSSL_VERSION,
        "sleuthkit": version(["fls", "-V"]),
        "hashdeep": "hashdeep " + version(["hashdeep", "-V"]),
    }


def print_machine() -> None:
    for key, value in machine().items():
        print(f"  {key}: {value}")
    print(f"  bytecode: {compile_triage()}")


def compile_triage() -> str:
    """triage's modules compiled to bytecode, as `pip install` leaves them: where
    PYTHONDONTWRITEBYTECODE is set (as on these machines) and the tree is a checkout, every run
    would compile the package from source again (~0.15 s a start, which a real install does
    not pay)."""
    import compileall
    import triage
    folder = Path(triage.__file__).parent
    ok = compileall.compile_dir(str(folder), quiet=1)
    return f"{folder} compiled" if ok else f"{folder}: some modules failed to compile"


def table(headers: Sequence[str], rows: Sequence[Sequence], title: Optional[str] = None) -> str:
    """A Markdown table (it reads in a terminal and pastes into the README as it is)."""
    cells = [[str(c) for c in headers]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [] if title is None else [f"\n{title}\n"]
    fmt = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    lines.append(fmt(cells[0]))
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines.extend(fmt(r) for r in cells[1:])
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def median(values) -> float:
    return statistics.median(values)
