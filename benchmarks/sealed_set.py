"""Benchmark: a sealed set (`triage hashset seal`) side by side with the compiled set it was
sealed from, on a generated list of N MD5s with sizes and categories (default 2.2 million, the
issue's size).

    python benchmarks/sealed_set.py [--n 2200000] [--absent 10000000] [--files 3000]

Reported, sealed and compiled side by side, with ratios:
- bytes on disk per entry (sealed at the default 1e-9, and with --keep-sizes);
- seal time (after import);
- batch lookup rate (`find_categories`: 100,000 digests a call, half of them in the set, the
  (query, category) pairs back as arrays), best of 3; and the one-digest-a-call rate of
  `lookup` a scan uses (per file, SetEntry objects back);
- the false-positive rate measured: the set sealed at --fpr 1e-6 (20-bit fingerprints), then
  `--absent` digests that are not in it asked (each a lookup in each of the 5 category
  filters, so 5 x absent filter lookups), against the design rate 2^-20, with a 99.9%
  interval; and the same count at the default 1e-9 (expected ~0);
- a scan of a folder of `--files` random files, 60 of which are listed in the set: the hits of
  the compiled and the sealed set must be the same files.

The machine is shared: rates are noisy; the ratios are what to read."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from triage.hashsets import load  # noqa: E402

CATEGORIES = np.array(["1", "2", "3", "4", "0"])


def generate(path: Path, n: int, planted, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        f.write("md5,size,category\n")
        for md5, size in planted:
            f.write(f"{md5},{size},1\n")
        step = 500_000
        for start in range(0, n - len(planted), step):
            k = min(step, n - len(planted) - start)
            digests = rng.bytes(16 * k)
            sizes = rng.lognormal(12, 1.2, k).astype(np.int64) + 1
            cats = rng.choice(CATEGORIES, k, p=[0.35, 0.25, 0.1, 0.1, 0.2])
            f.write("".join(f"{digests[i * 16:(i + 1) * 16].hex()},{sizes[i]},{cats[i]}\n"
                            for i in range(k)))


def triage(*args) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "triage", *map(str, args)], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def rate(hs, digests, batch=100_000, rounds=3) -> float:
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for i in range(0, len(digests), batch):
            hs.find_categories("md5", digests[i:i + batch])
        best = max(best, len(digests) / (time.perf_counter() - started))
    return best


def single_rate(hs, digests) -> float:
    started = time.perf_counter()
    for d in digests:
        hs.lookup("md5", [d])
    return len(digests) / (time.perf_counter() - started)


def false_positives(hs, absent: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    found = 0
    step = 1_000_000
    for start in range(0, absent, step):
        k = min(step, absent - start)
        query = np.frombuffer(rng.bytes(16 * k), np.uint8).reshape(k, 16)
        found += len(hs.sealed.find("md5", query)[0])
    return found


def interval(count: int, trials: int, z: float = 3.29) -> tuple:
    """Wilson score interval (z 3.29: 99.9%)."""
    p = count / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / \
        (1 + z * z / trials)
    return max(0.0, centre - half), centre + half


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2_200_000)
    parser.add_argument("--absent", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="triage-sealed-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    # The evidence: random files, 60 of them listed in the set.
    rng = np.random.default_rng(7)
    folder = work / "evidence"
    folder.mkdir(exist_ok=True)
    planted = []
    for i in range(args.files):
        data = rng.bytes(int(rng.integers(2_000, 60_000)))
        (folder / f"f{i:05d}.bin").write_bytes(data)
        if i % (args.files // 60) == 0 and len(planted) < 60:
            planted.append((hashlib.md5(data).hexdigest(), len(data)))
    source = work / "list.csv"
    generate(source, args.n, planted)
    compiled, sealed, sized, weak = (work / n for n in
                                     ("set.tset", "set.sealed", "sized.sealed", "weak.sealed"))
    t_import = triage("hashset", "import", source, "-o", compiled)
    t_seal = triage("hashset", "seal", compiled, "-o", sealed)
    triage("hashset", "seal", compiled, "-o", sized, "--keep-sizes")
    triage("hashset", "seal", compiled, "-o", weak, "--fpr", "1e-6")
    out = {"n": args.n, "import_s": round(t_import, 2), "seal_s": round(t_seal, 2)}
    for name, path in (("compiled", compiled), ("sealed", sealed), ("sealed_sizes", sized)):
        out[f"{name}_bytes_per_entry"] = round(path.stat().st_size / args.n, 3)
        out[f"{name}_mb"] = round(path.stat().st_size / 1e6, 2)

    with load(compiled) as plain:
        keys = [bytes(k) for k in plain.vectors("md5")[::max(1, args.n // 50_000)]]
    qrng = np.random.default_rng(3)
    absent = [qrng.bytes(16) for _ in range(len(keys))]
    queries = [d for pair in zip(keys, absent) for d in pair] * 2   # half hits
    for name, path in (("compiled", compiled), ("sealed", sealed)):
        with load(path) as hs:
            hs.find_categories("md5", queries[:1000])   # first use: unpacked cells, caches
            out[f"{name}_batch_lookups_per_s"] = round(rate(hs, queries))
            out[f"{name}_single_lookups_per_s"] = round(single_rate(hs, queries[:20_000]))
            found = [len(x) for x in hs.lookup("md5", keys[:5000])]
            assert all(found), f"{name}: a listed digest was not found"
    out["sealed_vs_compiled_batch"] = round(out["sealed_batch_lookups_per_s"]
                                            / out["compiled_batch_lookups_per_s"], 2)
    out["sealed_vs_compiled_single"] = round(out["sealed_single_lookups_per_s"]
                                             / out["compiled_single_lookups_per_s"], 2)
    out["sealed_vs_compiled_bytes"] = round(out["sealed_bytes_per_entry"]
                                            / out["compiled_bytes_per_entry"], 3)

    with load(weak) as hs:
        filters = len(hs.sealed.filters["md5"])
        trials = args.absent * filters
        count = false_positives(hs, args.absent, 11)
        low, high = interval(count, trials)
        out["fpr_1e-6"] = {"bits": hs.sealed.bits, "design": 2.0 ** -hs.sealed.bits,
                           "filter_lookups": trials, "false_positives": count,
                           "measured": count / trials, "interval_99.9": [low, high],
                           "design_inside_interval": low <= 2.0 ** -hs.sealed.bits <= high}
    with load(sealed) as hs:
        count = false_positives(hs, args.absent, 12)
        out["fpr_1e-9"] = {"bits": hs.sealed.bits, "design": 2.0 ** -hs.sealed.bits,
                           "filter_lookups": trials, "false_positives": count,
                           "expected": trials * 2.0 ** -hs.sealed.bits}

    hits = {}
    for name, path in (("compiled", compiled), ("sealed", sealed), ("sealed_sizes", sized)):
        target = work / f"scan-{name}"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "triage", "scan", folder, "--hashset", path,
                        "-o", target, "--force", "-q"], check=False)
        out[f"scan_{name}_s"] = round(time.perf_counter() - started, 2)
        report = json.loads((target / "report.json").read_text())
        hits[name] = sorted((h["path"], h["md5"]) for h in report["hits"])
    out["scan_hits"] = {k: len(v) for k, v in hits.items()}
    out["scan_hits_equal"] = hits["compiled"] == hits["sealed"] == hits["sealed_sizes"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
