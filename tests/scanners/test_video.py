"""vPDQ matching: a set built from a reference video against its copies and unrelated videos."""

import io

import pytest

from triage.hashsets import HashSet
from triage.scanners import Judge
from triage.scanners.video import VideoMatcher, VideoOptions, reference_id
from triage.records import FileEntry
from triage.signals.vpdq import FrameHash
from triage.video import hash_video


def frames_of(path, mode="second"):
    with open(path, "rb") as f:
        return hash_video(f, mode).frames


@pytest.fixture(scope="module")
def refset(videos):
    with HashSet(videos["set"]) as hs:
        yield hs


@pytest.fixture(scope="module")
def ref_id(videos):
    return reference_id([f.line() for f in frames_of(videos["refs"]["ref0"])])


@pytest.mark.parametrize("transform", ["h264-crf35", "vp9", "half-size", "avi-mpeg4",
                                       "letterbox-10", "gif", "webp"])
def test_whole_copies_match_with_both_shares_full(refset, ref_id, videos, transform):
    (match,) = VideoMatcher([refset]).search(frames_of(videos["copies"][transform]))
    assert match.signal == "vpdq" and match.id == ref_id and match.value == ref_id
    assert match.variant == "original" and match.set == refset.info.name
    assert match.query_match_percent == 100.0 and match.reference_match_percent == 100.0
    assert match.ranges == {"query": [[0.0, 4.0]], "reference": [[0.0, 4.0]]}
    assert 0 <= match.distance <= 31


def test_trimmed_copy_is_a_clip_of_the_reference(refset, videos):
    (match,) = VideoMatcher([refset]).search(frames_of(videos["copies"]["trim-start"]))
    # 3 s of 5 are left: every found frame is in the reference, 3 of its 5 frames are found.
    assert match.query_match_percent == 100.0 and match.reference_match_percent == 60.0
    assert match.ranges == {"query": [[0.0, 2.0]], "reference": [[2.0, 4.0]]}


def test_mirrored_copy_matches_through_the_stored_variant(refset, videos):
    (match,) = VideoMatcher([refset]).search(frames_of(videos["copies"]["hflip"]))
    assert match.variant == "flipy" and match.query_match_percent == 100.0


def test_other_frame_rate_matches(refset, videos):
    (match,) = VideoMatcher([refset]).search(frames_of(videos["copies"]["fps-15"]))
    assert match.query_match_percent >= 80 and match.reference_match_percent >= 80


def test_unrelated_videos_do_not_match(refset, videos):
    matcher = VideoMatcher([refset])
    for path in videos["unrelated"]:
        assert matcher.search(frames_of(path)) == []


def test_shares_and_radius_decide(refset, videos):
    trimmed = frames_of(videos["copies"]["trim-start"])
    # The reference share is 60: a set asking 100 of both finds no clip.
    assert VideoMatcher([refset], options=VideoOptions(query_percent=100.0,
                                                       reference_percent=100.0)).search(trimmed)
    assert not VideoMatcher([refset], options=VideoOptions(query_percent=100.01,
                                                           reference_percent=61.0)
                            ).search(trimmed)
    # Radius 0: a strongly re-encoded copy's frames are no longer the reference's.
    crf35 = frames_of(videos["copies"]["h264-crf35"])
    assert VideoMatcher([refset], {"vpdq": 31}).search(crf35)
    assert not VideoMatcher([refset], {"vpdq": 0}).search(crf35)


def test_a_compilation_holding_the_reference_matches_by_its_share(refset, videos):
    ref = frames_of(videos["refs"]["ref0"])
    other = frames_of(videos["unrelated"][0])
    # Three unrelated frames, the reference's five, six more unrelated: 5 of 14 found.
    shifted = [FrameHash(i, f.quality, f.value, float(i))
               for i, f in enumerate(other[:3] + ref + other[:5] + other[-1:])]
    (match,) = VideoMatcher([refset]).search(shifted)
    assert match.reference_match_percent == 100.0
    assert match.query_match_percent == round(100 * 5 / 14, 2)
    assert match.ranges["query"] == [[3.0, 7.0]]


def test_low_quality_and_repeated_frames(refset, videos):
    ref = frames_of(videos["refs"]["ref0"])
    # Each frame three times over (a still scene): searched once a run, counted three times.
    tripled = [FrameHash(3 * i + k, f.quality, f.value, 3 * i + k) for i, f in enumerate(ref)
               for k in range(3)]
    (match,) = VideoMatcher([refset]).search(tripled)
    assert match.query_match_percent == 100.0 and match.ranges["query"] == [[0.0, 14.0]]
    assert VideoMatcher([refset]).search([FrameHash(0, 49, ref[0].value, 0.0)]) == []


def test_judge_decodes_videos_and_animated_pictures(refset, videos):
    judge = Judge([refset])
    for name in ("h264-crf35", "gif", "webp"):
        path = videos["copies"][name]
        data = path.read_bytes()
        entry = FileEntry("ev", "/" + path.name, len(data), True,
                          open=lambda data=data: io.BytesIO(data))
        verdict = judge(entry)
        assert verdict.status == "hit" and verdict.decoded
        assert [m.signal for m in verdict.matches] == ["vpdq"]
        assert set(verdict.hashes) == {"md5", "sha1", "sha256"}


def test_judge_records_an_undecodable_video_as_an_error(refset):
    data = b"\x00\x00\x00\x20ftypisom" + bytes(4000)
    entry = FileEntry("ev", "/broken.mp4", len(data), True, open=lambda: io.BytesIO(data))
    verdict = Judge([refset])(entry)
    assert verdict.status == "clean" and verdict.matches == []
    assert verdict.errors and verdict.errors[0].startswith("video not decoded: ")
