"""Benchmark of exact matching (issue 4): `triage scan` of a folder and of a raw ext4 image of it
against a 1 million entry MD5 set, side by side in one run with hashdeep's matching mode on the
same folder and the same hashes; then the worker pool, threads against processes.

    python benchmarks/scan_exact.py [--scale 1] [--repeat 3] [--part all|scan|pool|subfile] [--cold]
                                    [--ntfs]

Data (built once, cached under $TRIAGE_BENCH_DATA, default /work/bench-data):
  * a folder of 20,000 files, 3 GB (log-normal sizes, median ~20 KB, up to ~50 MB; seeded
    content, every file distinct) and an ext4 image of it (`mkfs.ext4 -d`);
  * 300 of its files (non-empty, chosen at random; MD5 and size from hashlib and stat, not
    from either tool) hidden among 1,000,000 random MD5s whose sizes follow the log-normal
    model of picture and video sizes that benchmarks/hashset_store.py uses (median ~160 KB);
  * the set twice: `set-sized.hashdeep`, hashdeep's known-file format (size,md5,filename), and
    `set-unsized.md5`, md5sum lines with no size (`HASH  name`); and, to show the size
    prefilter's best case, `set-best.hashdeep`, where the random entries claim sizes above
    4 GB that no file of the folder has, so only the planted files are read.
--scale multiplies the files, bytes, set entries and planted files (0.02 for a quick run).

Contenders, each run --repeat times interleaved round by round, the median kept, each run
after the same page-cache warm-up (every byte of its evidence and its set read once):
  * `hashdeep -c md5 -r -l -m -k set-sized.hashdeep .` in the folder, default threads (one per
    core). `-c md5` matters: without it hashdeep computes its default MD5 and SHA-256 and takes
    twice the CPU. hashdeep hashes every file whatever the known sizes (a known hash with
    another size is reported as a collision, after hashing), so it is the peer of both runs;
  * `md5deep -r -l -m set-unsized.md5 .`: the same family matching without sizes, for reference;
  * `triage scan EVIDENCE --hashset SET -q` (default workers: one per core) on the folder and on
    the image, given the set as the text file itself (compiled on every run, as hashdeep loads
    its file every run) and as a set compiled once with `triage hashset import` (how a lab
    works: compile once, scan many disks).
Every contender's matched files must be exactly the planted ones (checked).
Targets: triage >= 1.5x hashdeep's speed with the unsized set, >= 10x with the sized set.

The subfile part (issue 15) runs hashdeep, the sized set with and without sub-file
fingerprints (set-fingerprinted.tset) on the folder and the image, and the screen alone with
the least per-file Python (subfile_floor.py, on the folder): how much of the scan's time is
the reading and hashing the design calls for, and how much is the rest of the scan. With
--cold, each of its runs starts with every input out of the page cache instead (common.drop),
as a seized disk's scan does: the device's latency is then measured too. With --ntfs it
also scans an NTFS image of the folder (mkntfs, the tree copied in through ntfs-3g: root and
FUSE needed; cached) with the fingerprinted set.

The pool part first checks whether each reader (folder, raw image through pytsk3, E01 through
pyewf) releases the GIL while it reads and runs in two threads at once, then does the scan's own work on the folder, the raw
image and an E01 of it (walk in the main thread, judge every file with triage's Judge, record
every verdict in a results db in the main thread) in four arrangements: inline; the worker pool
of triage/workers.py (the one `triage scan` and `triage files --hash` use) running threads
(sharing the evidence handle; what it does where it cannot fork); the same threads each reading
through an evidence handle of its own; the pool's forked processes (each reading through its
own handles). The pools are fed the pool's own batches (64 files, or fewer adding up to
32 MiB to read)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (COLD, DATA, Timing, build_e01, build_ext4, build_ntfs, drop,  # noqa: E402
                    generate_tree, print_machine, round_ratios, rounds, run, table, warm)

FILES, BYTES, SIGMA, SEED = 20_000, 3_000_000_000, 2.0, 4
ENTRIES, PLANTED = 1_000_000, 300
TRIAGE = [sys.executable, "-m", "triage"]
CORES = os.cpu_count() or 1


# --- the sets --------------------------------------------------------------------------------

def make_sets(base: Path, tree: Path, entries: int, planted: int, seed: int = 5) -> dict:
    """The planted files (relative path -> md5) and the two set files; cached with a stamp."""
    stamp = base / "sets.json"
    params = {"tree": json.loads(tree.with_name(tree.name + ".json").read_text()),
              "entries": entries, "planted": planted, "seed": seed, "version": 2}
    if stamp.exists():
        saved = json.loads(stamp.read_text())
        if saved["params"] == params:
            return saved["planted"]
    rng = np.random.default_rng(seed)
    files = sorted(p for p in tree.rglob("*") if p.is_file() and p.stat().st_size > 0)
    chosen = [files[i] for i in sorted(rng.choice(len(files), planted, replace=False))]
    truth = {}
    rows = []
    for p in chosen:
        digest = hashlib.md5(p.read_bytes()).hexdigest()
        rel = "/" + p.relative_to(tree).as_posix()
        truth[rel] = digest
        rows.append((p.stat().st_size, digest, "planted" + rel))
    random_n = entries - planted
    digests = rng.integers(0, 256, (random_n, 16), dtype=np.uint8)
    sizes = np.clip(rng.lognormal(12, 1.5, random_n), 1, 4e9).astype(np.int64)
    rows += [(s, bytes(d).hex(), f"known/{i:07d}.jpg")
             for i, (s, d) in enumerate(zip(sizes.tolist(), digests))]
    order = rng.permutation(len(rows))      # the planted entries anywhere in the file
    with open(base / "set-sized.hashdeep", "w") as f:
        f.write("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n## benchmark set\n")
        f.writelines(f"{rows[i][0]},{rows[i][1]},{rows[i][2]}\n" for i in order)
    with open(base / "set-unsized.md5", "w") as f:
        f.writelines(f"{rows[i][1]}  {rows[i][2]}\n" for i in order)
    # The prefilter's best case: the random entries claim sizes no file of the folder has
    # (above 4 GB), so only the planted files are read.
    with open(base / "set-best.hashdeep", "w") as f:
        f.write("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n## benchmark set, best case\n")
        f.writelines(f"{rows[i][0] if i < planted else rows[i][0] + (4 << 30)},{rows[i][1]},"
                     f"{rows[i][2]}\n" for i in order)
    stamp.write_text(json.dumps({"params": params, "planted": truth}))
    return truth


def compile_set(source: Path) -> tuple:
    """Compiled afresh every run: the store format may have moved on since the last one."""
    out = source.with_suffix(".tset")
    out.unlink(missing_ok=True)
    return out, run(TRIAGE + ["hashset", "import", str(source), "-o", str(out)]).seconds


def set_facts(tset: Path, tree: Path) -> tuple:
    """How many of the folder's files, and bytes, have a size some set entry has: what the size
    prefilter must read."""
    from triage.hashsets import load
    with load(tset) as hs:
        sizes = [p.stat().st_size for p in tree.rglob("*") if p.is_file()]
        kept = [s for s in sizes if hs.may_match("md5", s)]
    return len(kept), len(sizes), sum(kept), sum(sizes)


# --- the run ---------------------------------------------------------------------------------

def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies files, bytes and set entries (default 1: 20,000 files, "
                         "3 GB, 1,000,000 entries)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each contender (median kept)")
    ap.add_argument("--part", choices=("all", "scan", "pool", "subfile"), default="all",
                    help="the side-by-side scan, the worker-pool comparison, both, or the "
                         "sub-file fingerprint comparison (issue 15)")
    ap.add_argument("--cold", action="store_true",
                    help="sub-file part: every contender starts with its inputs out of the "
                         "page cache (read from the device), not read once before")
    ap.add_argument("--ntfs", action="store_true",
                    help="sub-file part: also an NTFS image of the folder (needs root, FUSE)")
    args = ap.parse_args(argv)

    files, nbytes = max(100, round(FILES * args.scale)), int(BYTES * args.scale)
    entries, planted = max(1000, round(ENTRIES * args.scale)), max(10, round(PLANTED * args.scale))
    base = DATA / f"scan-s{args.scale:g}"
    base.mkdir(parents=True, exist_ok=True)
    print(f"data in {base}: building if needed ...", flush=True)
    tree = generate_tree(base / "folder", files, nbytes, SIGMA, SEED)
    image = build_ext4(tree, base / "ext4.img")
    truth = make_sets(base, tree, entries, planted)
    sized, unsized = base / "set-sized.hashdeep", base / "set-unsized.md5"
    sized_tset, sized_import = compile_set(sized)
    unsized_tset, unsized_import = compile_set(unsized)
    best_tset, _ = compile_set(base / "set-best.hashdeep")

    print("machine:")
    print_machine()
    print(f"command: python benchmarks/scan_exact.py --scale {args.scale:g} --repeat {args.repeat}"
          f" --part {args.part}{' --cold' if args.cold else ''}{' --ntfs' if args.ntfs else ''}")
    payload = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    kept, total, kept_bytes, _ = set_facts(sized_tset, tree)
    print(f"folder: {files:,} files, {payload / 1e9:.2f} GB; ext4 image {image.stat().st_size / 1e9:.2f}"
          f" GB; set: {entries:,} MD5s, {planted} of them files of the folder")
    print(f"size prefilter: {kept:,} of {total:,} files ({kept / total:.0%}), "
          f"{kept_bytes / 1e9:.2f} of {payload / 1e9:.2f} GB ({kept_bytes / payload:.0%}) have a "
          f"size the sized set lists")
    print(f"`triage hashset import` (once, before the runs): sized set {sized_import:.1f} s, "
          f"unsized set {unsized_import:.1f} s")

    if args.part in ("all", "subfile"):
        fingerprinted = fingerprinted_set(base, tree, truth, entries)
        ntfs = build_ntfs(tree, base / "ntfs.img") if args.ntfs else None
        subfile(base, tree, image, truth, payload, entries, args.repeat, sized, sized_tset,
                fingerprinted, args.cold, ntfs)
    if args.part in ("all", "scan"):
        side_by_side(base, tree, image, truth, payload, entries, args.repeat,
                     sized, unsized, sized_tset, unsized_tset, best_tset)
    if args.part in ("all", "pool"):
        evidences = {"folder": tree, "raw image": image, "E01 image": build_e01(image)}
        gil_check(evidences)
        pools(evidences, unsized_tset, sized_tset, args.repeat)


def side_by_side(base, tree, image, truth, payload, entries, repeat,
                 sized, unsized, sized_tset, unsized_tset, best_tset) -> None:
    count = sum(1 for p in tree.rglob("*") if p.is_file())
    out = base / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    contenders, inputs, found, outdirs = {}, {}, {}, {}

    def md5deep():
        with open(out / "md5deep.txt", "wb") as f:
            return run(["md5deep", "-r", "-l", "-m", str(unsized), "."], stdout=f, cwd=tree)

    peer = add_hashdeep(out, tree, sized, contenders, inputs, found)
    contenders["md5deep -m, unsized list"] = md5deep
    inputs["md5deep -m, unsized list"] = (tree, unsized)
    found["md5deep -m, unsized list"] = lambda: lines_found(out / "md5deep.txt")

    add_triage(out, (
        ("folder, unsized set (text)", tree, unsized),
        ("folder, unsized set (compiled)", tree, unsized_tset),
        ("image, unsized set (compiled)", image, unsized_tset),
        ("folder, sized set (hashdeep file)", tree, sized),
        ("folder, sized set (compiled)", tree, sized_tset),
        ("image, sized set (compiled)", image, sized_tset),
        ("folder, sized set, best case (compiled)", tree, best_tset),
        ("image, sized set, best case (compiled)", image, best_tset)),
        contenders, inputs, found, outdirs)
    best = rounds(contenders, repeat, lambda name: warm(*inputs[name]))
    check_found(found, truth)

    rows = result_rows(best, peer, outdirs, payload, [lambda s: s["files_hashed"]],
                       lambda name: ">= 1.5x" if "unsized" in name else ">= 10x")
    print(table(["contender", "seconds", "files read", "GB read", "CPU cores busy",
                 "vs hashdeep", "target"], rows,
                f"Exact scan, {payload / 1e9:.2f} GB in {count:,} files, {entries:,} MD5s"))


def fingerprinted_set(base: Path, tree: Path, truth: dict, entries: int, seed: int = 6) -> Path:
    """The realistic sized set with sub-file fingerprints (issue 15): the planted files built
    with `hashset build`'s own code (MD5, SHA-1, SHA-256 and the fingerprint `build` stores,
    edges-xxh3, of each, read from the files) among random stand-ins for the other reference files, each an MD5 and a fingerprint
    under one size, the sizes of set-sized.hashdeep (so the same 82 % of files share a size
    with some entry)."""
    from triage.hashsets.build import build_entries
    from triage.hashsets.compile import Compiler
    from triage.hashsets.importer import Tally, write_set
    from triage.records import SetEntry
    from triage.signals.exact import FINGERPRINT
    out = base / "set-fingerprinted.tset"
    stamp = base / "set-fingerprinted.json"
    params = {"sets": json.loads((base / "sets.json").read_text())["params"], "seed": seed,
              "version": 2}   # 2: edges-xxh3 (1: edges, BLAKE2b)
    if out.exists() and stamp.exists() and json.loads(stamp.read_text()) == params:
        return out
    links = link_planted(base / "planted-files", tree, truth)
    compiler, tally = Compiler(), Tally()
    for where, item in build_entries(links, ("md5", "sha1", "sha256", FINGERPRINT), "planted"):
        if isinstance(item, SetEntry):
            compiler.add(item)
            tally.entry(where)
    sizes = [int(line.split(",", 1)[0]) for line in open(base / "set-sized.hashdeep")
             if line[0].isdigit() and ",planted/" not in line]
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 256, (len(sizes), 32), dtype=np.uint8)
    for size, value in zip(sizes, values):
        compiler.add(SetEntry("md5", bytes(value[:16]).hex(), "random", None, size))
        compiler.add(SetEntry(FINGERPRINT, bytes(value[16:]).hex(), "random", None, size))
    write_set(compiler, out, described=[], sources=[], tally=tally, name="fingerprinted",
              fingerprinted=True)
    stamp.write_text(json.dumps(params))
    return out


# The least per-file Python for the fingerprinted folder scan's hits (subfile_floor.py): what
# of the scan's time is the reading and hashing the design calls for, and what is the rest.
FLOOR = "the screen alone, least Python (subfile_floor.py), folder"


def subfile(base, tree, image, truth, payload, entries, repeat, sized, sized_tset,
            fingerprinted, cold=False, ntfs=None) -> None:
    """Issue 15: the realistic sized set with and without sub-file fingerprints, against
    hashdeep's matching mode on the same folder, and the screen's floor in Python, in one
    run. `cold`: each run starts with its inputs' pages dropped (common.drop), where a seized
    disk's scan starts; else read once before (common.warm). `ntfs`: an NTFS image of the
    folder, also scanned with the fingerprinted set."""
    count = sum(1 for p in tree.rglob("*") if p.is_file())
    out = base / "out-subfile"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    contenders, inputs, found, outdirs = {}, {}, {}, {}
    peer = add_hashdeep(out, tree, sized, contenders, inputs, found)
    add_triage(out, (
        ("folder, sized set (compiled)", tree, sized_tset),
        ("image, sized set (compiled)", image, sized_tset),
        ("folder, fingerprinted set", tree, fingerprinted),
        ("image, fingerprinted set", image, fingerprinted),
        *([("NTFS image, fingerprinted set", ntfs, fingerprinted)] if ntfs else [])),
        contenders, inputs, found, outdirs)

    def floor():
        with open(out / "floor.txt", "wb") as f:
            return run([sys.executable, str(Path(__file__).with_name("subfile_floor.py")),
                        str(tree), str(fingerprinted)], stdout=f)
    contenders[FLOOR], inputs[FLOOR] = floor, (tree, fingerprinted)
    found[FLOOR] = lambda: set((out / "floor.txt").read_text().splitlines())
    every: dict = {}
    best = rounds(contenders, repeat,
                  lambda name: (drop if cold else warm)(*inputs[name]), every)
    check_found(found, truth)
    # files checked: hashed whole (sized set) or by their fingerprint (the rest is settled by
    # size; with archives on, every file's head is still read for a container)
    counts = [lambda s: s["files_seen"] - s["files_skipped"], lambda s: s["files_hashed"]]
    rows = result_rows(best, peer, outdirs, payload, counts,
                       lambda name: ">= 10x" if "fingerprinted" in name else "")
    for row in rows:
        if row[0] == FLOOR:   # it reads what the fingerprinted scan reads, less the probes
            row[2:5] = ["listed sizes", "let through", "-"]
    print(table(["contender", "seconds", "files checked", "files hashed whole", "GB read",
                 "CPU cores busy", "vs hashdeep", "target"], rows,
                f"Sub-file fingerprints, {payload / 1e9:.2f} GB in {count:,} files, "
                f"{entries:,} reference files, {'cold' if cold else 'warm'} page cache"))
    print(round_ratios(every, peer, [name for name in contenders if "fingerprinted" in name]))
    if cold and COLD:
        print(f"cold runs: at most {max(COLD):,} bytes of the inputs cached when each started")


def result_rows(best: dict, peer: str, outdirs: dict, payload: int, counts, target) -> list:
    """A table row a contender: its seconds, the file `counts` its report's summary gives (a
    peer reads every file), GB read, cores busy, speed against the peer and, for a triage
    contender, its `target(name)`."""
    rows = []
    for name, t in best.items():
        files, read, aim = ["every file"] * len(counts), payload, ""
        if name in outdirs:
            summary = json.loads((outdirs[name] / "report.json").read_text())["summary"]
            files, read, aim = [c(summary) for c in counts], summary["bytes_read"], target(name)
        rows.append([name, t.seconds, *files, read / 1e9, t.cores,
                     best[peer].seconds / t.seconds, aim])
    return rows


def add_hashdeep(out: Path, tree: Path, sized: Path, contenders, inputs, found) -> str:
    """The peer, `hashdeep -c md5 -r -l -m -k SET .` in the folder; returns its name."""
    def hashdeep():
        with open(out / "hashdeep.txt", "wb") as f:
            return run(["hashdeep", "-c", "md5", "-r", "-l", "-m", "-k", str(sized), "."],
                       stdout=f, cwd=tree)
    peer = "hashdeep -c md5 -m, sized known file"
    contenders[peer], inputs[peer] = hashdeep, (tree, sized)
    found[peer] = lambda: lines_found(out / "hashdeep.txt")
    return peer


def add_triage(out: Path, cases, contenders, inputs, found, outdirs) -> None:
    """A `triage scan EVIDENCE --hashset SET -q` contender for each (label, evidence, set)."""
    for i, (label, evidence, hashset) in enumerate(cases):
        name = f"triage scan {label}"
        outdirs[name] = outdir = out / f"triage-{i}"

        def triage(evidence=evidence, hashset=hashset, outdir=outdir):
            shutil.rmtree(outdir, ignore_errors=True)
            return run(TRIAGE + ["scan", str(evidence), "--hashset", str(hashset), "-o",
                                 str(outdir), "-q"])
        contenders[name], inputs[name] = triage, (evidence, hashset)
        found[name] = lambda outdir=outdir: report_found(outdir)


def check_found(found: dict, truth: dict) -> None:
    planted_paths = set(truth)
    for name, get in found.items():
        got = get()
        if got != planted_paths:
            sys.exit(f"benchmark: {name} matched {len(got)} files, not the {len(planted_paths)} "
                     f"planted ({len(got ^ planted_paths)} differ)")
    print(f"\ncheck: every contender matched exactly the {len(planted_paths)} planted files")


def link_planted(folder: Path, tree: Path, truth: dict) -> Path:
    """`folder` made afresh with a hard link to each planted file, at its path in the tree:
    the reference files a set is built from."""
    shutil.rmtree(folder, ignore_errors=True)
    for rel in truth:
        target = folder / rel.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(tree / rel.lstrip("/"), target)
    return folder


def lines_found(path: Path) -> set:
    return {line.rstrip("\n")[1:] for line in open(path) if line.startswith("./")}


def report_found(outdir: Path) -> set:
    report = json.loads((outdir / "report.json").read_text())
    return {hit["path"] for hit in report["hits"]}


# --- threads against processes ---------------------------------------------------------------

def gil_check(evidences: dict, seconds: float = 4.0) -> None:
    """Do the readers let other threads run? Two measures per reader:
    * a thread that sleeps 1 ms in a loop while another reads the largest file in one call,
      again and again: if the reads held the GIL, the sleeper would typically wake up late by
      half a read (the median is used: on a busy machine the worst case is the scheduler's);
    * reading many files for a few seconds in one thread, then in two threads with an evidence
      handle each (reads only, no hashing): twice the bytes means the reads run in parallel."""
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from triage.evidence import open_evidence
    from triage.records import ScanError

    def files(ev):
        return [e for e in ev.entries() if not isinstance(e, ScanError)]

    def spin(ev, start):
        todo = files(ev)
        todo = todo[start % len(todo):] + todo[:start % len(todo)]
        n, t0 = 0, time.perf_counter()
        for e in todo:
            with e.open() as r:
                while True:
                    block = r.read(1 << 20)
                    if not block:
                        break
                    n += len(block)
            if time.perf_counter() - t0 > seconds:
                break
        return n / (time.perf_counter() - t0)

    def sleeper_delay(entry):
        stop, late = threading.Event(), []

        def sleeper():
            while not stop.is_set():
                t = time.perf_counter()
                time.sleep(0.001)
                late.append(time.perf_counter() - t - 0.001)
        thread = threading.Thread(target=sleeper)
        thread.start()
        reads = []
        for _ in range(5):
            with entry.open() as r:
                t = time.perf_counter()
                r.read(entry.size)
                reads.append(time.perf_counter() - t)
        stop.set()
        thread.join()
        return min(reads), sorted(late)[len(late) // 2]

    rows = []
    for name, path in evidences.items():
        handles = [open_evidence(str(path)) for _ in range(2)]
        count = len(files(handles[0]))
        warm(path)
        read, late = sleeper_delay(max(files(handles[0]), key=lambda e: e.size))
        one = spin(handles[0], 0)
        with ThreadPoolExecutor(2) as pool:
            two = sum(pool.map(spin, handles, (0, count // 2)))
        for ev in handles:
            ev.close()
        rows.append([name, read * 1e3, late * 1e3, "yes" if late < read / 10 else "no",
                     one / 1e6, two / 1e6, two / one])
    print(table(["reader", "one read of the largest file (ms)", "sleeper's median delay (ms)",
                 "GIL released during reads", "reads, 1 thread (MB/s)",
                 "reads, 2 threads, a handle each (MB/s)", "2 threads / 1"], rows,
                "Do reads release the GIL?"))


_local = None


def _judge_in_own_handle(judge, entry):
    """Judge `entry` reading it through this thread's own evidence handle (TSK's image lock and
    media.py's lock around pyewf are per handle: threads sharing one take turns to read)."""
    import threading
    from dataclasses import replace
    from triage.evidence import open_evidence
    from triage.evidence.tsk_walk import TskReader
    global _local
    _local = _local or threading.local()
    if not hasattr(_local, "ev"):
        _local.ev = open_evidence(entry.evidence)
    if _local.ev.kind == "folder":
        return judge(entry)
    f = _local.ev._fs[entry.volume.index].open_meta(inode=entry.inode)
    verdict = judge(replace(entry, open=lambda: TskReader(f, entry.size)))
    verdict.entry = entry
    return verdict


def judge_all(evidence: Path, hashset: Path, how: str) -> Timing:
    """What `triage scan` does with each file, minus the CLI, the progress counter and the
    reports: walk in this thread, judge inline or in triage's worker pool (triage/workers.py,
    fed its own batches: 64 files or 32 MiB to read), record every verdict in a results db in
    this thread."""
    import tempfile
    from functools import partial
    from unittest import mock
    from triage import scan_pass, workers
    from triage.evidence import open_evidence
    from triage.hashsets import load
    from triage.records import ScanError
    from triage.results import Results, content_key, file_key
    from triage.scanners import Judge
    # The pool forks processes on Linux and runs threads where it cannot fork: with `fork_context`
    # answering "cannot", the same pool runs threads here.
    fork = workers.fork_context if how == "processes" else (lambda: None)
    cpu0 = time.process_time() + _children_cpu()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=DATA) as tmp, open_evidence(str(evidence)) as ev, \
            mock.patch.object(workers, "fork_context", fork):
        results = Results.create(Path(tmp))
        ev_id = results.add_evidence(str(evidence), {})
        judge = Judge([load(hashset)], stop=workers.stop_event())
        entries = (e for e in ev.entries() if not isinstance(e, ScanError))
        pool = None
        if how == "inline":
            verdicts = map(judge, entries)
        else:
            own = how == "threads, a handle each"
            pool = workers.Workers(partial(_judge_in_own_handle, judge) if own else judge, CORES)
            work = workers.batches(entries, lambda e: judge.planned_bytes(e.size))
            verdicts = (v for _, batch in pool.map(work) for v in batch)
        for v in verdicts:   # recorded as the scan records a verdict (one at a time here)
            scan_pass.record_all(results, ev_id, [(file_key(v.entry), content_key(v.entry), v)],
                             [])
        if pool is not None:
            pool.close()
        errors = results.summary().errors
        results.close()
    if errors:
        sys.exit(f"benchmark: {errors} files could not be judged ({how})")
    return Timing(time.perf_counter() - start, time.process_time() + _children_cpu() - cpu0)


def _children_cpu() -> float:
    import resource
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def pools(evidences: dict, unsized_tset, sized_tset, repeat) -> None:
    contenders, inputs = {}, {}
    for ev_name, evidence in evidences.items():
        for set_name, tset in (("unsized", unsized_tset), ("sized", sized_tset)):
            for how in ("inline", "threads", "threads, a handle each", "processes"):
                name = f"{ev_name}, {set_name} set, {how}"
                contenders[name] = lambda e=evidence, s=tset, h=how: judge_all(e, s, h)
                inputs[name] = (evidence, tset)
    best = rounds(contenders, repeat, lambda name: warm(*inputs[name]))
    rows = []
    for name, t in best.items():
        group = name.split(" set, ")[0] + " set"
        rows.append([name, t.seconds, t.cores, t.cpu, best[group + ", inline"].seconds / t.seconds,
                     best[group + ", threads"].seconds / t.seconds])
    print(table(["walk + judge + record", "seconds", "CPU cores busy", "CPU seconds",
                 "vs inline", "vs threads"], rows,
                f"Worker pool: {CORES} threads against {CORES} processes"))


if __name__ == "__main__":
    main()
