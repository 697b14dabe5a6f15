"""`triage batch` against a shell loop of `triage scan` over the same evidence items (issue 17):
20 fixture-sized images and 2 larger ones, one compiled MD5 set. And the batch's ways of using
the cores, side by side in the same run (the issue asks which is faster):

* a Dask worker per core, daemonic as Dask starts them, each task one scan judging its files
  in a thread (one core a task, nothing forked): the default;
* a non-daemonic worker per core, each scan forking one judging process, as `triage scan
  --workers 1` does;
* one non-daemonic worker, its scan forking the scan's own pool of one process per core.

Every contender must give each item the same hits (checked). Prints Markdown tables.

    python benchmarks/batch.py                 # 2 large images of 5,000 files, 600 MB each
    python benchmarks/batch.py --scale 0.2     # quick
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List

from common import (DATA, REPO, Timing, build_ext4, generate_tree, print_machine, rounds, run,
                    table, warm)

TRIAGE = [sys.executable, "-m", "triage"]
SMALL = ("ext4.raw", "fat16.raw", "ntfs.raw", "exfat.raw")   # 8 to 16 MiB each
SMALL_ITEMS = 20
LISTED_PER_TREE = 40
CORES = os.cpu_count() or 2


def build(scale: float) -> Dict[str, object]:
    """The items (paths, in the order given to every contender) and the compiled set."""
    root = DATA / f"batch-s{scale:g}"
    small = root / "small"
    small.mkdir(parents=True, exist_ok=True)
    items: List[Path] = []
    for i in range(SMALL_ITEMS):
        name = SMALL[i % len(SMALL)]
        item = small / f"{i + 1:02d}-{name}"
        if not item.exists():
            with gzip.open(REPO / "fixtures" / "images" / f"{name}.gz") as src, \
                    open(item, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        items.append(item)
    listed = []
    for seed in (17, 18):
        tree = generate_tree(root / f"tree{seed}", files=int(5000 * scale),
                             total=int(600e6 * scale), sigma=1.5, seed=seed)
        items.append(build_ext4(tree, root / f"large{seed}.raw"))
        files = sorted(p for p in tree.rglob("*") if p.is_file() and p.stat().st_size)
        listed += random.Random(seed).sample(files, LISTED_PER_TREE)
    source, compiled = root / "set.md5", root / "set.tset"
    text = "".join(f"{hashlib.md5(p.read_bytes()).hexdigest()}  {p.name}\n" for p in listed)
    if not compiled.exists() or source.read_text() != text:
        source.write_text(text)
        run(TRIAGE + ["hashset", "import", str(source), "-o", str(compiled), "--name", "bench"])
    return {"items": items, "set": compiled, "planted": len(listed)}


def contenders(items: List[Path], hashset: Path, out: Path) -> Dict[str, Callable[[], Timing]]:
    paths = [str(p) for p in items]
    loop = "; ".join(
        f"{' '.join(TRIAGE)} scan {p} --hashset {hashset} -o {out / 'loop' / Path(p).name} -q "
        f"|| [ $? = 1 ]" for p in paths)

    def batch(folder: str, **options) -> Timing:
        """The batch as the command runs it, with settings the command does not offer."""
        code = ("from pathlib import Path; from triage.batch.runner import BatchRequest, run; "
                f"run(BatchRequest(sources={paths!r}, hashsets=[{str(hashset)!r}], "
                f"casedir=Path({str(out / folder)!r}), **{options!r}))")
        return run([sys.executable, "-c", code])

    return {
        "shell loop of `triage scan` (default workers: one per core)":
            lambda: run(f"set -e; {loop}", shell=True),
        "`triage batch`: daemonic workers, one per core, each scan judging in a thread "
        "(default)":
            lambda: run(TRIAGE + ["batch", *paths, "--hashset", str(hashset), "-q",
                                  "-o", str(out / "batch")]),
        "non-daemonic workers, one per core, each scan forking one judging process":
            lambda: batch("forked", daemon=False),
        f"one non-daemonic worker, its scan forking the scan's own pool of {CORES}":
            lambda: batch("pool", daemon=False, cluster_workers=1, workers=CORES),
    }


FOLDERS = ("loop", "batch", "forked", "pool")


def hits(folder: Path) -> Dict[str, int]:
    """Hits per item, from each item's report.json."""
    return {report.parent.name: json.loads(report.read_text())["summary"]["hits"]
            for report in sorted(folder.glob("*/report.json"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = build(args.scale)
    items, hashset = data["items"], data["set"]
    media = sum(p.stat().st_size for p in items)
    print(f"{len(items)} items, {media / 1e9:.2f} GB of media ({SMALL_ITEMS} fixture images of "
          f"8-16 MiB, 2 ext4 images of {items[-1].stat().st_size / 1e6:,.0f} MB); a compiled "
          f"set of {data['planted']} MD5s of files on the large images")
    print_machine()
    with tempfile.TemporaryDirectory(prefix="triage-bench-batch-") as tmp:
        out = Path(tmp)
        runs = contenders(items, hashset, out)

        def fresh(name: str) -> None:
            for folder in FOLDERS:
                shutil.rmtree(out / folder, ignore_errors=True)
            (out / "loop").mkdir()
            warm(*items, hashset)

        seen: Dict[str, Dict[str, int]] = {}
        totals: Dict[str, dict] = {}

        def checked(name: str, folder: str):
            def go() -> Timing:
                timing = runs[name]()
                seen[name] = hits(out / folder)
                case = out / folder / "case.json"
                if case.exists():
                    totals[name] = json.loads(case.read_text())["totals"]
                return timing
            return go

        timed = rounds({name: checked(name, folder) for name, folder in zip(runs, FOLDERS)},
                       args.repeat, fresh)
    reference = next(iter(seen.values()))
    assert len(reference) == len(items) and sum(reference.values()) == data["planted"], reference
    for name, found in seen.items():
        if found != reference:
            sys.exit(f"benchmark: {name} found other hits than the shell loop: {found}")
    loop = next(iter(timed.values())).seconds
    rows = [(name, t.seconds, t.cores, loop / t.seconds,
             media / 1e6 / t.seconds / CORES,
             totals[name]["bytes_read"] / 1e6 / t.seconds / CORES if name in totals else "")
            for name, t in timed.items()]
    print(table(("contender", "seconds", "CPU cores busy", "speed vs the loop",
                 "MB/s of media a core", "MB/s read a core"), rows,
                title=f"Median of {args.repeat} interleaved rounds; every contender found the "
                      f"same {sum(reference.values())} hits in the same items"))


if __name__ == "__main__":
    main()
