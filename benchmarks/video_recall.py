"""vPDQ recall on transformed copies of reference videos, and false matches on unrelated ones.

Builds the videos (fixtures/build_videos.py), a set from the references (`hashset build`:
frames one a second, each in its eight rotations and flips), then hashes every copy and
unrelated video as a scan does (one frame a second, or keyframes only) and matches it.

    python benchmarks/video_recall.py [--work DIR] [--seconds 8] [--references 3]

Prints a markdown table: per transform, copies found / copies, and the median of the two
shares; then false matches among the unrelated videos."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "fixtures"))

import build_videos  # noqa: E402

from triage.hashsets import HashSet  # noqa: E402
from triage.hashsets.build import build_set  # noqa: E402
from triage.scanners.video import VideoMatcher, VideoOptions  # noqa: E402
from triage.video import hash_video  # noqa: E402


def evaluate(work: Path, seconds: float, references: int, unrelated: int, modes=("second",
             "keyframes"), transforms=None) -> dict:
    made = build_videos.build(work, seconds, references, transforms, unrelated)
    set_path = work / "refs.set"
    build_set(work / "refs", set_path, names=["vpdq"])
    results = {}
    with HashSet(set_path) as hs:
        for mode in modes:
            matcher = VideoMatcher([hs], options=VideoOptions(frames=mode))
            rows, false, cpu = defaultdict(list), [], 0.0
            for (stem, name), path in sorted(made["copies"].items()):
                started = time.process_time()
                with open(path, "rb") as f:
                    found = matcher.search(hash_video(f, mode).frames)
                cpu += time.process_time() - started
                mine = [m for m in found if m.id and _stem_of(hs, m.id) == stem]
                rows[name].append(mine[0] if mine else None)
                false += [(path.name, m) for m in found if m not in mine]
            for path in made["unrelated"]:
                with open(path, "rb") as f:
                    false += [(path.name, m) for m in matcher.search(hash_video(f, mode).frames)]
            results[mode] = {"rows": rows, "false": false, "cpu": cpu}
    return results


_NAMES = {}


def _stem_of(hs, ident: str) -> str:
    """The reference file a reference ID stands for (the set keeps each row's file name)."""
    if not _NAMES:
        for e in hs.iter_entries("vpdq"):
            _NAMES[e.id] = Path(e.name).stem
    return _NAMES.get(ident, "")


def table(results: dict) -> str:
    lines = []
    for mode, res in results.items():
        lines += [f"\nFrames: `{mode}`\n",
                  "| transform | group | found | median query % | median reference % | "
                  "median distance | variant |",
                  "|---|---|---|---|---|---|---|"]
        for name, found in res["rows"].items():
            hits = [m for m in found if m is not None]
            med = (lambda xs: f"{statistics.median(xs):.1f}" if xs else "-")
            lines.append(
                f"| {name} | {build_videos.TRANSFORMS[name][2]} | {len(hits)}/{len(found)} | "
                f"{med([m.query_match_percent for m in hits])} | "
                f"{med([m.reference_match_percent for m in hits])} | "
                f"{med([m.distance for m in hits])} | "
                f"{', '.join(sorted({m.variant for m in hits})) or '-'} |")
        groups = defaultdict(lambda: [0, 0])
        for name, found in res["rows"].items():
            g = groups[build_videos.TRANSFORMS[name][2]]
            g[0] += sum(m is not None for m in found)
            g[1] += len(found)
        lines.append("")
        lines.append("By group: " + ", ".join(f"{g} {a}/{b}" for g, (a, b) in groups.items()))
        lines.append(f"False matches: {len(res['false'])}" +
                     "".join(f"\n- {n}: {m.id[:12]} q={m.query_match_percent} "
                             f"r={m.reference_match_percent}" for n, m in res["false"]))
        lines.append(f"CPU seconds hashing the copies: {res['cpu']:.1f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--references", type=int, default=3)
    parser.add_argument("--unrelated", type=int, default=4)
    a = parser.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="video-recall-"))
    print(table(evaluate(work, a.seconds, a.references, a.unrelated)))


if __name__ == "__main__":
    main()
