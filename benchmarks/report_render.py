"""Benchmark of the reports of a scan with many hits: a seized disk full of known material gives
tens of thousands, and every one is a row of report.json, report.csv and report.html.

    python benchmarks/report_render.py [--scale 1] [--repeat 3]

Data (built once, cached under $TRIAGE_BENCH_DATA, default /work/bench-data): a folder of
20,000 small files (log-normal sizes, median ~1 KB; seeded content, every file distinct) and a
hashdeep known-file set listing every one of them, so every file is a hit. One `triage scan` of
the folder makes the results database the renders read.

Contenders, each run --repeat times interleaved round by round, the median kept:
  * `hashdeep -c md5 -r -l -m -k SET .`: the peer, which matches the same files and writes a
    line for each (its whole run, the reading and hashing included);
  * the scan itself (walk, judging, results database and the three reports);
  * `triage report render OUT --format F` for json, csv and html alone, and the three
    together (what the scan writes), each from the same results database.
The table gives each run's time and its time per hit."""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, generate_tree, print_machine, rounds, run, table, warm  # noqa: E402

FILES, BYTES, SIGMA, SEED = 20_000, 40_000_000, 1.0, 9
TRIAGE = [sys.executable, "-m", "triage"]


def make_set(tree: Path, out: Path) -> int:
    """A hashdeep known-file set of every file of the tree; how many it lists."""
    files = sorted(p for p in tree.rglob("*") if p.is_file())
    with open(out, "w") as f:
        f.write("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n## every file a hit\n")
        for p in files:
            data = p.read_bytes()
            f.write(f"{len(data)},{hashlib.md5(data).hexdigest()},{p.relative_to(tree)}\n")
    return len(files)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies the files and bytes (default 1: 20,000 files)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each contender (median kept)")
    args = ap.parse_args(argv)
    base = DATA / f"reports-s{args.scale:g}"
    base.mkdir(parents=True, exist_ok=True)
    tree = generate_tree(base / "folder", max(1, int(FILES * args.scale)),
                         max(1, int(BYTES * args.scale)), SIGMA, SEED)
    known = base / "every-file.hashdeep"
    hits = make_set(tree, known)
    out = base / "out"
    print_machine()
    print(f"command: python benchmarks/report_render.py --scale {args.scale:g} "
          f"--repeat {args.repeat}")
    print(f"folder: {hits:,} files, every one listed in the set")

    def scan():
        shutil.rmtree(out, ignore_errors=True)
        return run(TRIAGE + ["scan", str(tree), "--hashset", str(known), "-o", str(out), "-q"])

    scan()   # the results database the renders read
    contenders = {
        "hashdeep -c md5 -m, every file matched": lambda: run(
            f"hashdeep -c md5 -r -l -m -k {known} . > /dev/null", shell=True, cwd=tree),
        "triage scan (walk, judge, results, 3 reports)": scan,
    }
    for formats in ("json", "csv", "html", "json,csv,html"):
        contenders[f"triage report render --format {formats}"] = (
            lambda formats=formats: run(TRIAGE + ["report", "render", str(out),
                                                  "--format", formats]))
    timings = rounds(contenders, args.repeat, lambda name: warm(tree, known))
    rows = [(name, t.seconds, t.seconds / hits * 1e6) for name, t in timings.items()]
    print(table(["contender", "seconds", "us a hit"], rows,
                f"Reports of {hits:,} hits"))


if __name__ == "__main__":
    main()
