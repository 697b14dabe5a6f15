"""Bounded decoding of videos found on evidence into sampled frames, for vPDQ.

PyAV (FFmpeg) decodes; frames are sampled as vPDQ does (the first frame at or after each whole
second) or, for speed, keyframes only, and FFmpeg scales each sampled frame down (PDQ works at
64x64, so a long side of SIDE pixels loses nothing it uses, and small frames are enlarged
to it). Evidence is hostile: a
container that does not open, a stream that breaks, one that never ends or holds millions of
frames, each ends as a VideoDecodeError or a partial result with a warning, never a crash or a
hang; the bounds are a wall-clock deadline, a cap on frames decoded and one on frames hashed.
Nothing of a frame leaves this module but its hash (signals.vpdq)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, List, Optional, Tuple

from .imaging import ImageDecodeError
from .signals.vpdq import MODES, NEAR, FrameHash, hash_frame
from .workers import Interrupted
from .streams import Reader

SIDE = 512               # sampled frames are scaled by FFmpeg to this long side
TIME_LIMIT = 600.0       # seconds of wall time to decode and hash one video
MAX_DECODED = 2_000_000  # frames decoded (about 9 hours at 60 fps)
MAX_HASHED = 36_000      # frames hashed (10 hours at one a second)
HEAD = 64

# Containers by their first bytes (FFmpeg would probe anything, so only these are tried):
# ISO base media (mp4, mov, 3gp, m4v: an `ftyp`, `moov`, `mdat`, `free` or `wide` box first),
# Matroska/WebM (EBML), AVI (RIFF AVI), ASF (wmv), FLV, MPEG program and transport streams.
_ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
_ASF = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def sniff(head: bytes) -> Optional[str]:
    """The container of `head` (a file's first bytes) when it is a video we decode, by
    content, never by name."""
    if len(head) >= 12 and head[4:8] in _ISO_BOXES:
        if head[4:8] == b"ftyp" and head[8:11] == b"3gp":
            return "video/3gpp"
        if head[4:8] == b"ftyp" and head[8:10] == b"qt":
            return "video/quicktime"
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head.startswith(_ASF):
        return "video/x-ms-asf"
    if head.startswith(b"FLV\x01"):
        return "video/x-flv"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "video/mpeg"
    if len(head) > 188 and head[0] == 0x47 and head[188] == 0x47:
        return "video/mp2t"
    return None


class VideoDecodeError(ImageDecodeError):
    """No frame of the video could be hashed: the reason, never content."""

    what = "video not decoded"


@dataclass
class Bounds:
    time_limit: float = TIME_LIMIT
    max_decoded: int = MAX_DECODED
    max_hashed: int = MAX_HASHED


@dataclass
class VideoHashes:
    frames: List[FrameHash]
    duration: Optional[float] = None      # seconds, as the container says
    warnings: List[str] = field(default_factory=list)   # hashed in part, and why


def hash_video(source: BinaryIO, mode: str = "second", *, reference: bool = False,
               bounds: Optional[Bounds] = None, stop=None) -> VideoHashes:
    """The vPDQ frame hashes of the video `source` (a readable, preferably seekable file
    object), sampled by `mode`; with `reference` (a set's reference video) each sampled
    frame's seven other rotations and flips too, and the frames just before and after it
    (signals.vpdq.NEAR). A video that gives no frame raises VideoDecodeError; one
    that breaks or passes a bound on the way gives the frames before it and a warning.
    `stop` (an event) is polled between frames: once set, Interrupted is raised."""
    import av

    if mode not in MODES:
        raise ValueError(f"video frames must be one of {', '.join(MODES)}, not {mode!r}")
    bounds = bounds or Bounds()
    deadline = time.monotonic() + bounds.time_limit
    if _is_webp(source):    # FFmpeg does not decode animated WebP: Pillow does
        return _hash_pictures(source, reference, bounds, deadline, stop)
    try:
        container = av.open(source, mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise VideoDecodeError(f"not a video FFmpeg opens ({_reason(exc)})") from None
    frames: List[FrameHash] = []
    result = VideoHashes(frames)
    with container:
        if not container.streams.video:
            raise VideoDecodeError("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if mode == "keyframes":
            stream.codec_context.skip_frame = "NONKEY"
        if container.duration is not None and container.duration > 0:
            result.duration = container.duration / 1_000_000
        rate = float(stream.average_rate) if stream.average_rate else None
        decoded = 0
        next_sample = 0.0
        sampled = _Sampled(frames, reference)
        previous = after = None
        try:
            for frame in container.decode(stream):
                if stop is not None and stop.is_set():
                    raise Interrupted()
                decoded += 1
                stamp = frame.time
                if stamp is None:    # no timestamps: count frames at the stream's rate
                    stamp = (decoded - 1) / rate if rate else float(decoded - 1)
                number = decoded - 1 if mode == "second" or not rate else round(stamp * rate)
                if after is not None:
                    sampled.add(_scaled_rgb(frame), *after, near=True)
                    after = None
                if mode == "keyframes" or stamp + 1e-6 >= next_sample:
                    next_sample = (int(stamp + 1e-6) + 1) if mode == "second" else 0.0
                    sampled.add(_scaled_rgb(frame), number, max(stamp, 0.0))
                    if reference and mode == "second":
                        if previous is not None:
                            sampled.add(_scaled_rgb(previous), number, max(stamp, 0.0),
                                        near=True)
                        after = (number, max(stamp, 0.0))
                previous = frame
                if _past_bound(result, decoded, sampled.count, bounds, deadline):
                    break
        except (av.FFmpegError, ValueError, OSError, EOFError, MemoryError) as exc:
            _broken("stream", exc, sampled, result, decoded)
    return _finished(sampled, result, decoded)


def _broken(what: str, exc: BaseException, sampled: "_Sampled", result: VideoHashes,
            decoded: int) -> None:
    """A stream that broke on the way: the frames before it are kept, with a warning; with
    none, the video is not decoded."""
    sampled.flush()
    if not sampled.hashed:
        raise VideoDecodeError(f"{what} broken before any frame ({_reason(exc)})") from None
    result.warnings.append(f"video hashed in part: {what} broken after {decoded} frame(s) "
                           f"({_reason(exc)})")


def _finished(sampled: "_Sampled", result: VideoHashes, decoded: int) -> VideoHashes:
    sampled.flush()
    if decoded == 0:
        raise VideoDecodeError("no frame decoded")
    return result


# Letterbox and pillarbox bars: a copy padded to another shape hashes far from its source
# (PDQ squeezes the whole frame), so bars are cut before hashing, on both sides, by one rule.
# They are told from dark content by staying put: rows (columns) dark in each of the first
# BAR_FRAMES sampled frames, at least BAR_MIN of the side, leaving at least half of it.
BAR_FRAMES = 3
BAR_DARK = 40       # brightest pixel of a bar row, 0..255 (encoders blur a bar's edge)
BAR_MIN = 0.02


class _Sampled:
    """Sampled frames on their way to PDQ: the first few wait until the bars are known."""

    def __init__(self, frames: List[FrameHash], reference: bool):
        self.frames, self.reference = frames, reference
        self.waiting: list = []
        self.crop: Optional[Tuple[slice, slice]] = None
        self.hashed = 0         # frames hashed (of quality 50 and over)

    @property
    def count(self) -> int:
        """Frames sampled so far: hashed, or waiting to be."""
        return self.hashed + sum(not near for *_, near in self.waiting)

    def add(self, rgb, number: int, stamp: float, near: bool = False) -> None:
        if self.crop is None:
            self.waiting.append((rgb, number, stamp, near))
            if sum(not n for *_, n in self.waiting) >= BAR_FRAMES:
                self.flush()
            return
        self._hash(rgb, number, stamp, near)

    def flush(self) -> None:
        if self.crop is None and self.waiting:
            self.crop = bars([rgb for rgb, *_ in self.waiting])
        for item in self.waiting:
            self._hash(*item)
        self.waiting = []

    def _hash(self, rgb, number: int, stamp: float, near: bool) -> None:
        if near:
            self.frames += hash_frame(rgb[self.crop], number, stamp, variant=NEAR)
            return
        found = hash_frame(rgb[self.crop], number, stamp, self.reference)
        self.frames += found
        self.hashed += bool(found)


def bars(frames) -> Tuple[slice, slice]:
    """The part of the frames inside bars they all share (slices of rows and columns)."""
    import numpy as np
    h, w = frames[0].shape[:2]
    rows = np.ones(h, bool)
    cols = np.ones(w, bool)
    for rgb in frames:
        dark = rgb.max(axis=2) <= BAR_DARK
        rows &= dark.all(axis=1)
        cols &= dark.all(axis=0)

    def inner(dark, n):
        top = int(np.argmin(dark)) if not dark.all() else n
        bottom = int(np.argmin(dark[::-1])) if not dark.all() else n
        top = top if top >= BAR_MIN * n else 0
        bottom = bottom if bottom >= BAR_MIN * n else 0
        if n - top - bottom < n / 2:
            return slice(0, n)
        return slice(top, n - bottom)
    return inner(rows, h), inner(cols, w)


def _is_webp(source: BinaryIO) -> bool:
    try:
        if not source.seekable():
            return False
        head = source.read(12)
        source.seek(0)
    except (OSError, ValueError):
        return False
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _hash_pictures(source: BinaryIO, reference: bool, bounds: Bounds, deadline: float,
                   stop) -> VideoHashes:
    """An animated picture's frames through Pillow (each frame whole, timed by its duration),
    sampled one a second and scaled as FFmpeg's are; bounded as a video, and each frame
    within imaging's pixel cap."""
    import numpy as np
    from PIL import Image, ImageSequence
    from .imaging import MAX_PIXELS

    frames: List[FrameHash] = []
    result = VideoHashes(frames)
    sampled = _Sampled(frames, reference)
    decoded, elapsed, next_sample = 0, 0.0, 0.0     # elapsed: milliseconds, summed exactly
    try:
        with Image.open(source) as image:
            if image.width * image.height > MAX_PIXELS:
                raise VideoDecodeError(f"frames of {image.width}x{image.height} pixels, over "
                                       f"the {MAX_PIXELS:,}-pixel limit")
            for frame in ImageSequence.Iterator(image):
                if stop is not None and stop.is_set():
                    raise Interrupted()
                decoded += 1
                frame.load()     # WebP says a frame's duration once it is decoded
                stamp = elapsed / 1000
                if stamp + 1e-6 >= next_sample:
                    next_sample = int(stamp + 1e-6) + 1
                    scale = SIDE / max(frame.width, frame.height, 1)
                    size = (max(2, round(frame.width * scale)),
                            max(2, round(frame.height * scale)))
                    rgb = frame.convert("RGB").resize(
                        size, Image.Resampling.BOX if scale <= 1 else Image.Resampling.BICUBIC)
                    sampled.add(np.asarray(rgb), decoded - 1, stamp)
                elapsed += max(frame.info.get("duration") or 0, 10)
                if _past_bound(result, decoded, sampled.count, bounds, deadline):
                    break
    except VideoDecodeError:
        raise
    except (OSError, ValueError, EOFError, SyntaxError, Image.DecompressionBombError) as exc:
        _broken("animated picture", exc, sampled, result, decoded)
    return _finished(sampled, result, decoded)


def _past_bound(result: VideoHashes, decoded: int, hashed: int, bounds: Bounds,
                deadline: float) -> bool:
    if hashed >= bounds.max_hashed:
        result.warnings.append(f"video hashed in part: {bounds.max_hashed} frames hashed "
                               f"(the limit)")
    elif decoded >= bounds.max_decoded:
        result.warnings.append(f"video hashed in part: {bounds.max_decoded} frames decoded "
                               f"(the limit)")
    elif time.monotonic() > deadline:
        result.warnings.append(f"video hashed in part: {bounds.time_limit:g} s time limit "
                               f"after {decoded} frame(s)")
    else:
        return False
    return True


def _scaled_rgb(frame):
    """The frame as RGB, scaled by FFmpeg to a long side of SIDE, its shape kept: larger
    frames by area averaging, smaller ones enlarged (bicubic). PDQ's filters alias on small
    pictures: a 0.5x copy's frames were a median 20 bits from the reference's at their own
    size, 4 when both were brought to 512 (docs/video.md)."""
    w, h = frame.width, frame.height
    scale = SIDE / max(w, h, 1)
    width, height = max(2, round(w * scale)), max(2, round(h * scale))
    return frame.to_ndarray(format="rgb24", width=width, height=height,
                            interpolation="AREA" if scale <= 1 else "BICUBIC")


def _reason(exc: BaseException) -> str:
    """FFmpeg's reason without the file name it may add (a path or a stream object's repr)."""
    import av
    if isinstance(exc, av.FFmpegError):
        text = exc.strerror or type(exc).__name__
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:200]


class Reopening(Reader):
    """A seekable view of a file that can only be read from its start (a file inside a disk
    image): seeking forward reads on, seeking back opens it again. FFmpeg seeks a handful of
    times per container (an MP4's index at its end), so this costs a re-read at most then."""

    def __init__(self, opener: Callable[[], BinaryIO], size: int):
        super().__init__()
        self._opener, self._size = opener, size
        self._reader = opener()
        self._pos = 0

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        target = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        target = max(0, min(target + offset, self._size))
        if target < self._pos:
            self._reader.close()
            self._reader, self._pos = self._opener(), 0
        while self._pos < target:
            skipped = self._reader.read(min(target - self._pos, 1 << 20))
            if not skipped:
                break
            self._pos += len(skipped)
        return self._pos

    def read(self, size: int = -1) -> bytes:
        data = self._reader.read(size)
        self._pos += len(data)
        return data

    def close(self) -> None:
        try:
            self._reader.close()
        finally:
            super().close()


def open_seekable(opener: Callable[[], BinaryIO], size: int) -> BinaryIO:
    """`opener()` when what it gives can seek, else a Reopening view of it."""
    reader = opener()
    try:
        seekable = reader.seekable()
    except (AttributeError, OSError, ValueError):
        seekable = False
    if seekable:
        return reader
    reader.close()
    return Reopening(opener, size)


def is_animated(data: bytes) -> bool:
    """Whether picture bytes (GIF, PNG, WebP) hold more than one frame: then they are a video
    too (an animated GIF, APNG or WebP)."""
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return data.count(b"\x21\xf9\x04") > 1        # graphic control blocks, one a frame
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return b"acTL" in data[:1 << 16]
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return b"ANMF" in data[:1 << 20]
    return False
