"""Benchmark: the compiled hash-set store against a Python set of hex strings and an SQLite
WITHOUT ROWID table, side by side in one run, on a generated list of N MD5s with sizes and
categories (default 10 million, the issue's target size).

    python benchmarks/hashset_store.py [--n 10000000] [--batch 100000] [--workdir DIR]

Each contender runs in its own process so peak memory (ru_maxrss) is its own. Reported: import
time, bytes on disk per entry, open time (to the first answer being possible), batch lookup
rate (half the queries hit), peak memory; and each peer's figures as ratios to triage's."""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CATEGORIES = np.array(["1", "2", "3", "4", "0"])
CATEGORY_WEIGHTS = [0.35, 0.25, 0.1, 0.1, 0.2]


def generate(path: Path, n: int, seed: int = 1) -> None:
    """A CSV `md5,size,category` with realistic image/video sizes (log-normal, ~150 KB median)."""
    rng = np.random.default_rng(seed)
    step = 1_000_000
    with open(path, "w") as f:
        f.write("md5,size,category\n")
        for start in range(0, n, step):
            m = min(step, n - start)
            digests = rng.integers(0, 256, (m, 16), dtype=np.uint8)
            sizes = np.clip(rng.lognormal(12, 1.5, m), 1, 4e9).astype(np.int64)
            cats = CATEGORIES[rng.choice(len(CATEGORIES), m, p=CATEGORY_WEIGHTS)]
            hexes = [d.hex() for d in map(bytes, digests)]
            f.writelines(f"{h},{s},{c}\n" for h, s, c in zip(hexes, sizes.tolist(), cats))


def queries(path: Path, n: int, count: int, seed: int = 2):
    """`count` digests, half taken from the list (hits), half random (misses)."""
    rng = np.random.default_rng(seed)
    hit_rows = set(rng.choice(n, count // 2, replace=False).tolist())
    hits = []
    with open(path) as f:
        next(f)
        for i, line in enumerate(f):
            if i in hit_rows:
                hits.append(bytes.fromhex(line[:32]))
    misses = [bytes(d) for d in rng.integers(0, 256, (count - len(hits), 16), dtype=np.uint8)]
    mixed = hits + misses
    rng.shuffle(mixed)
    return mixed, len(hits)


def peak_mib() -> float:
    # VmHWM, not ru_maxrss: the latter survives exec and would report the parent's peak.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def triage_store(source: Path, work: Path, digests, batch: int) -> dict:
    from triage.hashsets import HashSet, compile_sources
    out = work / "set.tset"
    t = time.perf_counter()
    compile_sources([source], out)
    imported = time.perf_counter() - t
    t = time.perf_counter()
    hs = HashSet(out)
    opened = time.perf_counter() - t
    t = time.perf_counter()
    found = 0
    for i in range(0, len(digests), batch):
        found += sum(bool(x) for x in hs.lookup("md5", digests[i:i + batch]))
    looked = time.perf_counter() - t
    misses = [d[::-1] for d in digests]     # reversed: as random, absent but by a 2**-64 chance
    t = time.perf_counter()
    for i in range(0, len(misses), batch):
        hs.lookup("md5", misses[i:i + batch])
    missed = time.perf_counter() - t
    t = time.perf_counter()
    for size in range(0, 200_000, 2):
        hs.may_match("md5", size)
    prefilter = (time.perf_counter() - t) / 100_000
    entries = hs.info.entries
    hs.close()
    return {"import_s": imported, "bytes": out.stat().st_size, "entries": entries,
            "open_s": opened, "lookups_per_s": len(digests) / looked, "found": found,
            "miss_lookups_per_s": len(misses) / missed,
            "may_match_us": prefilter * 1e6, "peak_mib": peak_mib()}


def python_set(source: Path, work: Path, digests, batch: int) -> dict:
    t = time.perf_counter()
    with open(source) as f:
        next(f)
        known = {line[:32] for line in f}
    imported = time.perf_counter() - t
    t = time.perf_counter()
    found = sum(d.hex() in known for d in digests)
    looked = time.perf_counter() - t
    # Nothing on disk: "open" is the import itself, every run.
    return {"import_s": imported, "bytes": None, "entries": len(known), "open_s": imported,
            "lookups_per_s": len(digests) / looked, "found": found, "peak_mib": peak_mib()}


def sqlite_table(source: Path, work: Path, digests, batch: int) -> dict:
    db_path = work / "set.sqlite"
    db_path.unlink(missing_ok=True)
    t = time.perf_counter()
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    # The same digest may sit under several categories, as in the store: key (md5, category).
    db.execute("CREATE TABLE entry (md5 BLOB, size INTEGER, category TEXT, "
               "PRIMARY KEY (md5, category)) WITHOUT ROWID")
    with open(source) as f:
        next(f)
        rows = ((bytes.fromhex(ln[:32]), int(s), c.rstrip("\n"))
                for ln, s, c in (line.split(",") for line in f))
        db.executemany("INSERT OR IGNORE INTO entry VALUES (?, ?, ?)", rows)
    db.commit()
    db.close()
    imported = time.perf_counter() - t
    t = time.perf_counter()
    db = sqlite3.connect(db_path)
    db.execute("SELECT 1 FROM entry LIMIT 1").fetchall()
    opened = time.perf_counter() - t
    t = time.perf_counter()
    found = 0
    query = "SELECT size, category FROM entry WHERE md5 = ?"
    for d in digests:
        found += bool(db.execute(query, (d,)).fetchall())
    looked = time.perf_counter() - t
    entries = db.execute("SELECT count(*) FROM entry").fetchone()[0]
    db.close()
    return {"import_s": imported, "bytes": db_path.stat().st_size, "entries": entries,
            "open_s": opened, "lookups_per_s": len(digests) / looked, "found": found,
            "peak_mib": peak_mib()}


CONTENDERS = {"triage": triage_store, "python-set": python_set, "sqlite": sqlite_table}


def _run(name, source, work, digests, batch, queue):
    queue.put(CONTENDERS[name](Path(source), Path(work), digests, batch))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="triage-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    source = work / f"md5-{args.n}.csv"
    if not source.exists():
        t = time.perf_counter()
        generate(source, args.n)
        print(f"generated {args.n:,} MD5s in {time.perf_counter() - t:.1f} s: {source}",
              file=sys.stderr)
    digests, hits = queries(source, args.n, args.queries)
    results = {}
    ctx = mp.get_context("spawn")
    for name in CONTENDERS:
        queue = ctx.Queue()
        proc = ctx.Process(target=_run, args=(name, str(source), str(work), digests,
                                              args.batch, queue))
        proc.start()
        results[name] = queue.get()
        proc.join()
        print(f"{name}: {json.dumps(results[name])}", file=sys.stderr)
    report(results, args.n, hits, args.queries)


def report(results: dict, n: int, hits: int, total: int) -> None:
    base = results["triage"]
    print(f"\n{n:,} MD5 entries with size and category; {total:,} lookups, {hits:,} hits\n")
    rows = [
        ("import (s)", "import_s", "{:.1f}", "lower"),
        ("bytes per entry", "bytes_per_entry", "{:.1f}", "lower"),
        ("open (s)", "open_s", "{:.3f}", "lower"),
        ("lookups per second", "lookups_per_s", "{:,.0f}", "higher"),
        ("peak memory (MiB)", "peak_mib", "{:,.0f}", "lower"),
    ]
    for r in results.values():
        r["bytes_per_entry"] = r["bytes"] / r["entries"] if r["bytes"] else None
    names = list(results)
    print("| measure | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for label, key, fmt, better in rows:
        cells = []
        for name in names:
            value = results[name][key]
            if value is None:
                cells.append("n/a")
                continue
            cell = fmt.format(value)
            if name != "triage" and base[key]:
                cell += f" ({value / base[key]:.2f}x)"
            cells.append(cell)
        print(f"| {label} | " + " | ".join(cells) + " |")
    for name, r in results.items():
        assert r["found"] == hits, f"{name} found {r['found']} of {hits} hits"
    print(f"\ntriage, queries that all miss (a scan's usual case): "
          f"{base['miss_lookups_per_s']:,.0f} lookups per second; "
          f"may_match: {base['may_match_us']:.2f} us a call. Ratios are peer / triage.")


if __name__ == "__main__":
    main()
