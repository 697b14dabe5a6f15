"""Bounded video decoding into sampled frame hashes (triage.video)."""

import io

import numpy as np
import pytest

from triage.video import (Bounds, Reopening, VideoDecodeError, bars, hash_video, is_animated,
                          open_seekable, sniff)


@pytest.mark.parametrize("head, mime", [
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", "video/mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "video/quicktime"),
    (b"\x00\x00\x00\x18ftyp3gp4\x00\x00\x00\x00", "video/3gpp"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
    (b"RIFF\x00\x10\x00\x00AVI LIST", "video/x-msvideo"),
    (bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + b"\x00" * 8, "video/x-ms-asf"),
    (b"FLV\x01\x01\x00\x00\x00\x09", "video/x-flv"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", None), (b"RIFF\x00\x10\x00\x00WEBPVP8 ", None),
    (b"", None), (b"hello world, not a video", None)])
def test_containers_are_told_by_content(head, mime):
    assert sniff(head) == mime


def test_one_frame_a_second_as_vpdq_samples(videos):
    with open(videos["refs"]["ref0"], "rb") as f:
        hashed = hash_video(f)
    assert [(h.frame, h.timestamp) for h in hashed.frames] == [
        (0, 0.0), (25, 1.0), (50, 2.0), (75, 3.0), (100, 4.0)]
    assert all(h.quality >= 50 and h.variant == "original" for h in hashed.frames)
    assert hashed.duration == pytest.approx(5.0, abs=0.1) and hashed.warnings == []


def test_keyframes_only(videos):
    # build_videos encodes a keyframe every 2 s (-g 50 at 25 fps).
    with open(videos["refs"]["ref0"], "rb") as f:
        hashed = hash_video(f, "keyframes")
    assert [(h.frame, h.timestamp) for h in hashed.frames] == [(0, 0.0), (50, 2.0), (100, 4.0)]
    with open(videos["refs"]["ref0"], "rb") as f:
        every = {h.frame: h.value for h in hash_video(f).frames}
    assert [every[h.frame] == h.value for h in hashed.frames] == [True] * 3


def test_reference_frames_carry_eight_variants_and_their_neighbours(videos):
    with open(videos["refs"]["ref0"], "rb") as f:
        hashed = hash_video(f, reference=True)
    # 5 sampled frames in 8 variants; the frame before each (none before the first) and
    # after each, under the sampled frame's number and time.
    assert len(hashed.frames) == 5 * 8 + 4 + 5
    assert sum(h.variant == "original" for h in hashed.frames) == 5
    near = [(h.frame, h.timestamp) for h in hashed.frames if h.variant == "near"]
    assert sorted(near) == [(0, 0.0)] + [(n, t) for n, t in
                                         [(25, 1.0), (50, 2.0), (75, 3.0), (100, 4.0)]
                                         for _ in range(2)]


def test_an_animated_gif_is_a_video(videos):
    data = videos["copies"]["gif"].read_bytes()
    assert is_animated(data) and sniff(data[:64]) is None
    hashed = hash_video(io.BytesIO(data))
    assert [round(h.timestamp) for h in hashed.frames] == [0, 1, 2, 3, 4]


def test_an_animated_webp_is_decoded_by_pillow(videos):
    # FFmpeg has no animated WebP decoder: its frames come from Pillow, timed by duration.
    data = videos["copies"]["webp"].read_bytes()
    assert is_animated(data)
    hashed = hash_video(io.BytesIO(data))
    assert [h.timestamp for h in hashed.frames] == [0.0, 1.0, 2.0, 3.0, 4.0]
    with pytest.raises(VideoDecodeError) as caught:
        hash_video(io.BytesIO(data[:3000]))
    assert "animated picture broken before any frame" in caught.value.reason()


def test_a_still_gif_is_not_animated():
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "GIF")
    assert not is_animated(out.getvalue())


@pytest.mark.parametrize("data", [b"", b"\x00\x00\x00\x20ftypisom" + bytes(500),
                                  b"\x1a\x45\xdf\xa3" + b"\xff" * 2000, b"not a video at all"])
def test_undecodable_is_an_error_with_a_reason(data):
    with pytest.raises(VideoDecodeError) as caught:
        hash_video(io.BytesIO(data))
    assert caught.value.reason().startswith("video not decoded: ")
    assert "\n" not in caught.value.reason()


def test_a_truncated_video_gives_what_it_holds(videos):
    data = videos["copies"]["avi-mpeg4"].read_bytes()
    hashed = hash_video(io.BytesIO(data[:len(data) // 2]))
    assert 1 <= len(hashed.frames) < 5


def test_bounds_stop_with_a_warning(videos):
    path = videos["refs"]["ref0"]
    with open(path, "rb") as f:
        capped = hash_video(f, bounds=Bounds(max_hashed=2))
    assert len(capped.frames) == 2 and "2 frames hashed (the limit)" in capped.warnings[0]
    with open(path, "rb") as f:
        decoded = hash_video(f, bounds=Bounds(max_decoded=30))
    assert len(decoded.frames) == 2 and "30 frames decoded" in decoded.warnings[0]
    with open(path, "rb") as f:
        late = hash_video(f, bounds=Bounds(time_limit=0.0))
    assert len(late.frames) == 1 and "time limit" in late.warnings[0]


def test_stop_event_interrupts(videos):
    import threading
    from triage.workers import Interrupted
    stop = threading.Event()
    stop.set()
    with open(videos["refs"]["ref0"], "rb") as f, pytest.raises(Interrupted):
        hash_video(f, stop=stop)


def test_bars_shared_by_the_first_frames_are_cut():
    rng = np.random.default_rng(1)
    frames = []
    for _ in range(3):
        rgb = np.zeros((120, 160, 3), np.uint8)
        rgb[15:105] = (rng.random((90, 160, 3)) * 200 + 50).astype(np.uint8)
        frames.append(rgb)
    assert bars(frames) == (slice(15, 105), slice(0, 160))
    # One frame dark at the top is a dark scene, not a bar.
    frames[1][0:15] = 200
    assert bars(frames) == (slice(0, 105), slice(0, 160))
    # Bars that would leave less than half the frame are content.
    dark = np.zeros((120, 160, 3), np.uint8)
    dark[55:65] = 200
    assert bars([dark]) == (slice(0, 120), slice(0, 160))


def test_letterboxed_copy_hashes_near_the_reference(videos):
    with open(videos["refs"]["ref0"], "rb") as f:
        ref = hash_video(f).frames
    with open(videos["copies"]["letterbox-10"], "rb") as f:
        boxed = hash_video(f).frames
    distances = [(int(a.value, 16) ^ int(b.value, 16)).bit_count() for a, b in zip(ref, boxed)]
    assert len(distances) == 5 and max(distances) <= 31


class _Sequential(io.RawIOBase):
    """A reader that cannot seek, as a file inside a disk image is read."""

    def __init__(self, data):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def read(self, size=-1):
        return self._data.read(size)


def test_a_reader_that_cannot_seek_is_reopened(videos):
    data = videos["copies"]["h264-crf35"].read_bytes()
    opened = []

    def opener():
        opened.append(1)
        return _Sequential(data)
    with open_seekable(opener, len(data)) as source:
        assert isinstance(source, Reopening)
        hashed = hash_video(source)
    assert len(hashed.frames) == 5
    with open_seekable(lambda: io.BytesIO(data), len(data)) as source:
        assert isinstance(source, io.BytesIO)
    view = Reopening(opener, len(data))
    assert view.seek(100) == 100 and view.read(4) == data[100:104]
    assert view.seek(-4, 2) == len(data) - 4 and view.read() == data[-4:]
    assert view.seek(10) == 10 and view.read(2) == data[10:12]
