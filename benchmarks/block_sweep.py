"""Benchmark of `triage scan --blocks` (issue 15): the sweep of a whole image for 4 KiB blocks
of reference files, against `cat IMAGE > /dev/null` of the same image in the same run, from the
page cache and from a cold cache.

    python benchmarks/block_sweep.py [--scale 1] [--repeat 3]

Data: scan_exact.py's (built once, cached under $TRIAGE_BENCH_DATA): the ext4 image of the
20,000-file, 2.8 GB folder, and a block set built with `triage hashset build --blocks --signal
md5` from the 300 planted files (hard links to them). Every planted file is then on the image
as a live file, so the sweep must report each (with at least one probative block) once, owned
by its own path, with every probative block found; that is checked. A finding of a planted
file's blocks owned by another file (the generated files share some blocks) is checked by
reading its runs' bytes from the image.

Contenders, interleaved round by round, the median of --repeat kept:
  * `cat IMAGE > /dev/null`, warm (the image read once before) and cold (its pages dropped
    first with posix_fadvise DONTNEED, which touches only this file's clean pages, and checked
    gone with `fincore`);
  * `triage scan IMAGE --hashset BLOCKSET --blocks -q` (default workers, one per core), warm
    and cold. The scan also judges the image's files against the set's MD5s (300 sizes: a few
    hundred files read), which is part of what a user waits for;
  * the sweep alone (sweep_only.py: the scan's sweep.sweep on its worker pool, no file pass,
    no report), warm and cold;
  * the same scan without `--blocks`, cold: the file pass alone, what the scan spends beside
    the sweep.
Targets: warm >= 1 GB/s; cold >= 0.8x cat's speed."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (COLD, DATA, build_ext4, drop, generate_tree, print_machine, rounds, run,  # noqa: E402
                    table, warm)
from scan_exact import BYTES, FILES, PLANTED, SEED, SIGMA, TRIAGE, link_planted, make_sets  # noqa: E402


def block_set(base: Path, tree: Path, truth: dict) -> Path:
    links = link_planted(base / "planted-blocks", tree, truth)
    out = base / "set-blocks.tset"
    out.unlink(missing_ok=True)
    run(TRIAGE + ["hashset", "build", str(links), "-o", str(out), "--blocks", "--signal", "md5",
                  "--no-progress"])
    return out


def expected(tree: Path, truth: dict) -> dict:
    """Each planted file's MD5 -> (path, probative full blocks), worked out from its bytes."""
    from triage.signals.blocks import BlockHasher
    out = {}
    for rel, md5 in truth.items():
        h = BlockHasher()
        h.update((tree / rel.lstrip("/")).read_bytes())
        if h.blocks:
            out[md5] = (rel, len({i for i, _ in h.blocks}))
    return out


def holds(image: Path, reference: Path, runs: list) -> bool:
    """Whether every 4 KiB of each run on the image is one of the reference file's full 4 KiB
    blocks (read from both, not from triage's report)."""
    data = reference.read_bytes()
    blocks = {data[i:i + 4096] for i in range(0, len(data) // 4096 * 4096, 4096)}
    with open(image, "rb") as f:
        for span in runs:
            f.seek(span["offset"])
            got = f.read(span["length"])
            if any(got[i:i + 4096] not in blocks for i in range(0, len(got), 4096)):
                return False
    return True


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    files, nbytes = max(100, round(FILES * args.scale)), int(BYTES * args.scale)
    planted = max(10, round(PLANTED * args.scale))
    base = DATA / f"scan-s{args.scale:g}"
    base.mkdir(parents=True, exist_ok=True)
    tree = generate_tree(base / "folder", files, nbytes, SIGMA, SEED)
    image = build_ext4(tree, base / "ext4.img")
    truth = make_sets(base, tree, max(1000, round(1_000_000 * args.scale)), planted)
    blocks = block_set(base, tree, truth)
    want = expected(tree, truth)
    size = image.stat().st_size
    print("machine:")
    print_machine()
    print(f"command: python benchmarks/block_sweep.py --scale {args.scale:g} --repeat "
          f"{args.repeat}")
    print(f"image: {size / 1e9:.2f} GB (ext4, {files:,} files); block set from {len(truth)} "
          f"planted files, {len(want)} of them with probative blocks")
    out = base / "out-sweep"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()

    def cat():
        return run(f"cat {image} > /dev/null", shell=True)

    def scan(outdir=out / "scan", sweep=True):
        shutil.rmtree(outdir, ignore_errors=True)
        return run(TRIAGE + ["scan", str(image), "--hashset", str(blocks), "-o", str(outdir),
                             "-q"] + (["--blocks"] if sweep else []))
    def sweep_only():
        return run([sys.executable, str(Path(__file__).with_name("sweep_only.py")), str(image),
                    str(blocks)])
    contenders = {"cat, warm": cat, "triage scan --blocks, warm": scan,
                  "the sweep alone, warm": sweep_only,
                  "cat, cold": cat, "triage scan --blocks, cold": scan,
                  "the sweep alone, cold": sweep_only,
                  "triage scan (files only), cold": lambda: scan(out / "files", sweep=False)}
    best = rounds(contenders, args.repeat,
                  lambda name: drop(image) if "cold" in name else warm(image, blocks))
    report = json.loads((out / "scan" / "report.json").read_text())
    got: dict = {}
    for f in report["fragments"]:
        got.setdefault(f["reference_md5"], []).append(f)
    others = []
    for md5, (rel, count) in want.items():
        own = [f for f in got.get(md5, []) if (f["owner"] or {}).get("path") == rel]
        if len(own) != 1 or own[0]["blocks_matched"] != count:
            sys.exit(f"benchmark: planted {rel} not found whole by the sweep ({own})")
        others += [(rel, f) for f in got[md5] if f is not own[0]]
    if set(got) != set(want):
        sys.exit(f"benchmark: {len(set(got) - set(want))} fragments of no planted file")
    for rel, f in others:     # another place holding a planted file's blocks: really there?
        if not holds(image, tree / rel.lstrip("/"), f["runs"]):
            sys.exit(f"benchmark: a fragment of {rel} where its blocks are not: {f}")
    print(f"\ncheck: the sweep found every planted file's probative blocks ({len(want)} files), "
          f"each owned by its own path, and nothing else but {len(others)} other file(s) "
          f"holding blocks of one (each run's bytes checked: "
          f"{'; '.join(sorted({(f['owner'] or {}).get('path') or 'unallocated' for _, f in others}))})")
    rows = []
    for name, t in best.items():
        peer = best["cat, cold" if "cold" in name else "cat, warm"]
        rows.append([name, t.seconds, size / t.seconds / 1e9, t.cores,
                     peer.seconds / t.seconds])
    print(table(["contender", "seconds", "GB/s", "CPU cores busy", "vs cat"], rows,
                f"Block sweep of a {size / 1e9:.2f} GB image"))
    if COLD:
        print(f"cold runs: at most {max(COLD):,} bytes of the image cached when each started "
              f"(fincore)")


if __name__ == "__main__":
    main()
