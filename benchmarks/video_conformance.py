"""triage's vpdq against ThreatExchange's `vpdq` package (PyPI 0.2.5, built against the
system's FFmpeg development headers): frame hashes and match decisions on the test videos.

Frame hashes: for every frame both sample (one a second), the Hamming distance between the
two PDQs. vpdq hashes frames at the video's own size; triage brings them to a long side of 512
(small frames enlarged) and cuts shared letterbox bars, so a few bits apart is expected.
Match decisions: every copy and unrelated video against every reference, decided by vPDQ's
brute-force rule on vpdq's hashes (quality >= 50, radius 31, either share >= 80 %) and by
triage's matcher on its own hashes (the references' frames as found, no flips), compared.

    python benchmarks/video_conformance.py [--work DIR] [--references 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "fixtures"))

import build_videos  # noqa: E402

from triage.scanners.video import VideoMatcher  # noqa: E402
from triage.signals.vpdq import FrameHash  # noqa: E402
from triage.video import hash_video  # noqa: E402


# Left out: transforms only triage's references undo (flip, letterbox), and animated WebP,
# which vpdq's FFmpeg (5.1 here) cannot decode ("Width or height equals 0").
NOT_COMPARED = ("hflip", "letterbox-10", "webp")


def theirs(path: Path):
    import vpdq
    return [FrameHash(f.frame_number, f.quality, f.hex, float(f.timestamp))
            for f in vpdq.computeHash(str(path), seconds_per_hash=1)]


def ours(path: Path):
    with open(path, "rb") as f:
        return hash_video(f).frames


def _d(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def brute_match(query, reference, radius=31, quality=50, q_share=80.0, r_share=80.0) -> bool:
    """vPDQ's match_VPDQ_hash_brute: the two shares over frames of quality >= 50."""
    q = [f for f in query if f.quality >= quality]
    r = [f for f in reference if f.quality >= quality]
    if not q or not r:
        return False
    q_hit = sum(any(_d(a.value, b.value) <= radius for b in r) for a in q)
    r_hit = sum(any(_d(a.value, b.value) <= radius for a in q) for b in r)
    return 100 * q_hit / len(q) >= q_share or 100 * r_hit / len(r) >= r_share


class _Set:
    """A set of one reference's frames as found, as `hashset import` of its vPDQ file gives."""

    def __init__(self, name, frames):
        from triage.scanners.video import reference_id
        from triage.records import SetEntry
        import numpy as np
        self.info = type("Info", (), {"name": name, "kind": "alert", "thresholds": {}})()
        self.signals = frozenset({"vpdq"})
        ident = reference_id([f.line() for f in frames])
        self._entries = [SetEntry("vpdq", f.line(), None, None, None, name, f.quality, ident)
                         for f in frames]
        self._vectors = np.frombuffer(b"".join(bytes.fromhex(f.value) for f in frames),
                                      np.uint8).reshape(len(frames), 32)

    def rows(self, signal):
        return len(self._entries)

    def entries(self, signal, rows):
        return [self._entries[i] for i in rows]

    def vectors(self, signal):
        return self._vectors


def compare(made: dict) -> dict:
    refs = {stem: (theirs(p), ours(p)) for stem, p in made["refs"].items()}
    distances, decisions, disagree = [], 0, []
    queries = [(f"{s}.{t}", p) for (s, t), p in sorted(made["copies"].items())] + \
        [(p.name, p) for p in made["unrelated"]]
    for name, path in queries + [(f"{s}.mp4", p) for s, p in made["refs"].items()]:
        t, o = theirs(path), ours(path)
        by_frame = {f.frame: f for f in o}
        distances += [_d(f.value, by_frame[f.frame].value) for f in t if f.frame in by_frame
                      and f.quality >= 50]
        for stem, (ref_t, ref_o) in refs.items():
            want = brute_match(t, ref_t)
            got = bool(VideoMatcher([_Set(stem, ref_o)]).search(o))
            decisions += 1
            if want != got:
                disagree.append((name, stem, want, got))
    return {"distances": distances, "decisions": decisions, "disagree": disagree}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path)
    parser.add_argument("--references", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0)
    a = parser.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="video-conformance-"))
    transforms = [t for t in build_videos.TRANSFORMS if t not in NOT_COMPARED]
    made = build_videos.build(work, a.seconds, a.references, transforms, 4)
    result = compare(made)
    d = sorted(result["distances"])
    print(f"frame hashes compared: {len(d)}; distance median {statistics.median(d)}, "
          f"90th percentile {d[int(0.9 * (len(d) - 1))]}, max {d[-1]}; "
          f"share within 31: {sum(x <= 31 for x in d) / len(d):.3f}")
    print(f"match decisions: {result['decisions']}, disagreeing: {len(result['disagree'])}")
    for name, stem, want, got in result["disagree"]:
        print(f"  {name} vs {stem}: vpdq {want}, triage {got}")


if __name__ == "__main__":
    main()
