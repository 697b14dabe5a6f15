"""`triage scan --sample CONFIDENCE --min-amount BYTES`: read uniformly random 4 KiB windows
of the media (at the positions a `--blocks` sweep would hash), check them against the block
sets, and stop after as many as prove, with the stated confidence, that no `min_amount` of
known material is stored there. On a hit the scan goes on to a full scan and sweep.

The number of windows (docs/sampling.md has the derivation): the media has N windows, of
which K = floor(min_amount / 4096) would hold a listed block if that much known material were
stored at cluster alignment. A sample of n distinct windows drawn uniformly misses all K with
probability

    P(miss) = C(N - K, n) / C(N, n) = prod_{i=0}^{n-1} (N - K - i) / (N - i)     (hypergeometric)

and n is the smallest number with P(miss) <= 1 - confidence."""

from __future__ import annotations

import hashlib
import math
import secrets
from typing import Callable, List, Optional, Tuple

import numpy as np

from .signals.blocks import BLOCK

DEFAULT_MIN_AMOUNT = 20 << 20


def miss_probability(population: int, known: int, n: int) -> float:
    """P(a uniform sample of n of `population` windows holds none of `known` ones)."""
    if known <= 0:
        return 1.0
    if n > population - known:
        return 0.0
    log = (math.lgamma(population - known + 1) - math.lgamma(population - known - n + 1)
           - math.lgamma(population + 1) + math.lgamma(population - n + 1))
    return math.exp(log)


def sample_size(population: int, known: int, confidence: float) -> int:
    """The smallest n whose miss probability is at most 1 - confidence (binary search: the
    probability falls as n grows). The whole population when even that is not enough."""
    if known <= 0:
        return population
    lo, hi = 0, population - known + 1 if population > known else population
    hi = min(hi, population)
    while lo < hi:
        mid = (lo + hi) // 2
        if miss_probability(population, known, mid) <= 1 - confidence:
            hi = mid
        else:
            lo = mid + 1
    return lo


def statement(confidence: float, min_amount: int, found: bool) -> str:
    if found:
        return "known material found by sampling: the media was then scanned in full"
    return (f"no known material found by sampling ({_percent(confidence)} confidence for "
            f"{_amount(min_amount)} or more)")


def _percent(confidence: float) -> str:
    text = f"{confidence * 100:.3f}".rstrip("0").rstrip(".")
    return f"{text} %"


def _amount(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n:,} bytes"


class Population:
    """Every window position of an evidence item's sweep (sweep.spans), numbered 0..N-1 in
    media order (then the volumes read through their layers, each in its own offsets), so a
    uniform draw of numbers is a uniform draw of windows."""

    def __init__(self, spans):
        self.spans = [s for s in spans if s.end - s.start >= BLOCK]
        counts = [(s.end - s.start - BLOCK) // s.step + 1 for s in self.spans]
        self._first = np.cumsum([0] + counts)
        self.size = int(self._first[-1])

    def offsets(self, numbers: np.ndarray) -> List[Tuple[int, object]]:
        """(media offset, span) of each window number, in the numbers' order."""
        which = np.searchsorted(self._first, numbers, side="right") - 1
        return [(self.spans[w].start + int(n - self._first[w]) * self.spans[w].step,
                 self.spans[w]) for n, w in zip(numbers.tolist(), which.tolist())]


def draw(population: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct window numbers, uniformly, sorted (the disk then seeks forward)."""
    n = min(n, population)
    return np.sort(rng.choice(population, size=n, replace=False))


def new_seed() -> int:
    """A scan's sampling seed: drawn once, kept in its results database, so that a resumed
    scan draws the same windows (63 bits: a JSON and SQLite integer)."""
    return secrets.randbits(63)


def rng_for(seed: int, evidence: str) -> np.random.Generator:
    """The generator of one evidence item's draw: the scan's seed and the item's name, so a
    resume draws the same windows for it whatever order the items are given in."""
    salt = hashlib.sha256(evidence.encode("utf-8", "surrogateescape")).digest()[:8]
    return np.random.default_rng([seed, int.from_bytes(salt, "big")])


def sample_evidence(ev, sweeper, confidence: float, min_amount: int, rng=None,
                    stop=None, done: int = 0,
                    tell: Optional[Callable[[int], None]] = None) -> Tuple[dict, bool]:
    """The `sampling` facts of one evidence item and whether a listed block was found.
    `done`: how many windows of this draw an interrupted run already read without a hit (the
    draw is the same for the same `rng` seed: they are not read again); `tell(read)` is
    called after each window read."""
    from .sweep import spans
    rng = rng if rng is not None else np.random.default_rng()
    planned, _ = spans(ev)
    population = Population(planned)
    known = min_amount // BLOCK
    n = sample_size(population.size, known, confidence)
    found = False
    read = done
    numbers = draw(population.size, n, rng)
    for offset, span in population.offsets(numbers[done:]):
        if stop is not None and stop.is_set():
            raise KeyboardInterrupt()
        source = ev.volume_bytes(span.volume.index) if span.inside else ev.media
        data = source.read(offset, BLOCK)
        read += 1
        if len(data) == BLOCK and sweeper.windows(data, offset, BLOCK, 1):
            found = True
            break
        if tell is not None:     # never told of a hit: a resume reads that window again
            tell(read)
    return {"evidence": ev.name, "clusters_total": population.size, "clusters_read": read,
            "found": found}, found


def summary(per_evidence: List[dict], confidence: float, min_amount: int) -> Optional[dict]:
    if not per_evidence:
        return None
    found = any(e["found"] for e in per_evidence)
    return {"confidence": confidence, "min_amount": min_amount,
            "clusters_read": sum(e["clusters_read"] for e in per_evidence),
            "clusters_total": sum(e["clusters_total"] for e in per_evidence),
            "found": found, "statement": statement(confidence, min_amount, found),
            "evidence": per_evidence}
