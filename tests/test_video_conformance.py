"""triage's vpdq against ThreatExchange's `vpdq` package, where it is installed (it builds from
source against FFmpeg's development headers, so it is a test peer only, never a dependency):
benchmarks/video_conformance.py at the test videos' size."""

import sys

import pytest

from support import REPO

vpdq = pytest.importorskip("vpdq")
sys.path.insert(0, str(REPO / "benchmarks"))
conformance = pytest.importorskip("video_conformance")


def test_frame_hashes_and_decisions_agree_with_vpdq(videos):
    made = {"refs": videos["refs"], "unrelated": videos["unrelated"],
            "copies": {("ref0", t): p for t, p in videos["copies"].items()
                       if t not in conformance.NOT_COMPARED}}
    result = conformance.compare(made)
    distances = result["distances"]
    # vpdq hashes 320x240 frames as they are, triage enlarged to 512: a few bits apart.
    assert len(distances) >= 30
    assert sum(d <= 31 for d in distances) / len(distances) >= 0.9
    # The only disagreement allowed: a copy triage finds and vpdq misses (the 160-pixel GIF,
    # whose frames vpdq hashes unenlarged).
    assert all(not want and got and name.endswith("gif")
               for name, _, want, got in result["disagree"]), result["disagree"]
