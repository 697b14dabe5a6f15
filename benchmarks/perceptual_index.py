"""Exact-radius Hamming search at scale: triage's numpy multi-index hashing against faiss's
IndexBinaryMultiHash and numpy brute force, side by side in one run, one thread each.

    python benchmarks/perceptual_index.py [--n 1000000] [--queries 10000] [--radius 31]

Hashes are uniform random 256-bit rows (PDQ's bits are balanced by construction: each is one
side of the median). Half the queries are stored hashes with 0..radius+8 bits flipped, so
that matches near the radius exist; half are random. Brute force runs on a sample of the
queries (it would take minutes on all) and every index is checked against it; the two
indexes are checked against each other on every query."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")   # faiss would take every core; numpy takes one

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from triage.hamming import BruteForce, FaissMultiHash, MultiIndexHash  # noqa: E402


class RowBruteForce:
    """The first numpy brute force anyone writes: popcount of every row, summed per row."""

    def __init__(self, vectors):
        self.words = np.ascontiguousarray(vectors).view(np.uint64)

    def search(self, queries, radius):
        out = []
        for q in np.ascontiguousarray(queries).view(np.uint64):
            d = np.bitwise_count(self.words ^ q).sum(axis=1, dtype=np.int32)
            rows = np.flatnonzero(d <= radius)
            out.append((rows, d[rows]))
        return out


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def make(n, queries, radius, seed=1):
    rng = np.random.default_rng(seed)
    vectors = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    q = rng.integers(0, 256, (queries, 32), dtype=np.uint8)
    near = queries // 2
    bits = np.unpackbits(vectors[rng.integers(0, n, near)], axis=1)
    for row, flips in zip(bits, rng.integers(0, radius + 9, near)):
        row[rng.choice(256, flips, replace=False)] ^= 1
    q[:near] = np.packbits(bits, axis=1)
    return vectors, q


def same(a, b):
    return all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(a, b))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--radius", type=int, default=31)
    parser.add_argument("--brute-queries", type=int, default=200)
    args = parser.parse_args(argv)
    vectors, queries = make(args.n, args.queries, args.radius)
    sample = queries[:args.brute_queries // 2].tolist() + queries[-args.brute_queries // 2:].tolist()
    sample = np.array(sample, dtype=np.uint8)

    rows = []
    results = {}
    brutes = (RowBruteForce, BruteForce)
    for name, cls in (("numpy brute force, row popcount", RowBruteForce),
                      ("numpy brute force, word columns (triage.hamming)", BruteForce),
                      ("triage MIH (numpy)", MultiIndexHash),
                      ("faiss IndexBinaryMultiHash", FaissMultiHash)):
        before = rss()
        started = time.perf_counter()
        index = cls(vectors)
        build = time.perf_counter() - started
        memory = rss() - before
        if hasattr(index, "nbytes"):
            memory = index.nbytes()   # exact, where the index can count its own arrays
        elif cls is RowBruteForce:
            memory = index.words.nbytes
        q = sample if cls in brutes else queries
        started = time.perf_counter()
        found = index.search(q, args.radius)
        per_query = (time.perf_counter() - started) / len(q)
        check = found if cls in brutes else index.search(sample, args.radius)
        results[name] = (found, check)
        rows.append([name, build, per_query, memory / args.n, len(q),
                     sum(len(r) for r, _ in found)])
        del index

    brute = results["numpy brute force, word columns (triage.hamming)"][0]
    exact = {name: same(check, brute) for name, (_, check) in results.items()}
    agree = same(results["triage MIH (numpy)"][0], results["faiss IndexBinaryMultiHash"][0])
    base, fast = rows[0][2], rows[1][2]
    print(f"# {args.n:,} hashes of 256 bits, {args.queries:,} queries at radius {args.radius}, "
          f"one thread\n")
    print("| index | build (s) | per query (ms) | vs row brute force | vs column brute force "
          "| bytes a hash | queries timed | matches | equal to brute force |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, build, per_query, per_hash, nq, matches in rows:
        print(f"| {name} | {build:.2f} | {per_query * 1e3:.3f} | {base / per_query:.1f}x | "
              f"{fast / per_query:.1f}x | {per_hash:.0f} | {nq:,} | {matches:,} | "
              f"{exact[name]} |")
    print(f"\nMIH and faiss return identical results on all {args.queries:,} queries: {agree}")
    crossover(args.radius)


def crossover(radius, queries=20, repeats=20):
    """Small sets, searched the way the matcher searches them (about 20 hashes an image at
    once): where does the index stop paying for itself?"""
    rng = np.random.default_rng(0)
    print(f"\n{queries} queries at once, radius {radius}: per call (ms), build (ms)\n")
    print("| hashes | brute force | MIH | MIH build |")
    print("|---|---|---|---|")
    for n in (256, 1024, 4096, 16384, 65536):
        vectors = rng.integers(0, 256, (n, 32), dtype=np.uint8)
        q = rng.integers(0, 256, (queries, 32), dtype=np.uint8)
        row = []
        for cls in (BruteForce, MultiIndexHash):
            started = time.perf_counter()
            index = cls(vectors)
            build = time.perf_counter() - started
            index.search(q, radius)
            started = time.perf_counter()
            for _ in range(repeats):
                index.search(q, radius)
            row.append((time.perf_counter() - started) / repeats)
        print(f"| {n:,} | {row[0] * 1e3:.2f} | {row[1] * 1e3:.2f} | {build * 1e3:.0f} |")


if __name__ == "__main__":
    main()
