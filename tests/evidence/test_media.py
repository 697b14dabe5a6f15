"""Media: a read that fails inside an image says what failed, and segment names follow
libewf's naming."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess

import pytest
import pytsk3

from support import load_truth
from triage.evidence import libewf
from triage.evidence.media import Media, RawImg, _next_segment_name, open_media
from triage.evidence.tsk_walk import walk
from triage.records import Volume

FAT16 = load_truth("fat16.raw")


class FailingImg(RawImg):
    """A raw image whose bytes in one range cannot be read (a segment gone, a bad sector)."""

    def __init__(self, path, bad):
        super().__init__(path)
        self.bad = bad

    def _read(self, offset, size):
        if offset < self.bad[1] and self.bad[0] < offset + size:
            raise OSError(5, f"segment gone at media byte {offset:,}")
        return super()._read(offset, size)


def test_a_failed_read_inside_the_image_is_told_as_the_image_raised_it(images):
    """TSK keeps only "Read error: unknown libtsk error" of it; the reader says what failed."""
    img = FailingImg(str(images / "fat16.raw"), (0, 0))
    media = Media("raw", str(images / "fat16.raw"), img.get_size(), [], img)
    fs = pytsk3.FS_Info(img)
    volume = Volume(index=0, offset=0, length=img.get_size(), description="whole media")
    entries = {e.path: e for e in walk(fs, volume, media.path, media=media)}
    big = entries["/big.bin"]
    # The file's runs, from its own attribute: fail a range in the middle of it.
    start = next(r.addr for a in fs.open_meta(inode=big.inode) for r in a) * fs.info.block_size
    img.bad = (start + 600_000, start + 600_001)
    with pytest.raises(OSError) as failure, big.open() as reader:
        while reader.read(1 << 16):
            pass
    assert str(failure.value).startswith("[Errno 5] segment gone at media byte ")
    # Reads elsewhere are unaffected, and no failure is left behind for the next reader.
    small = entries["/notes-1.txt"]
    with small.open() as reader:
        assert len(reader.read()) == small.size
    img.close()


@pytest.mark.parametrize("name,following", [
    ("x.E01", "x.E02"), ("x.E09", "x.E10"), ("x.E99", "x.EAA"), ("x.EAZ", "x.EBA"),
    ("x.EZZ", "x.FAA"), ("x.e05", "x.e06"), ("x.s01", "x.s02")])
def test_segment_names_follow_libewf(name, following):
    assert _next_segment_name(name) == following


def test_raw_reads_leave_no_shared_offset(images):
    """Raw images are read with pread: two readers of one handle never move each other."""
    img = RawImg(str(images / "fat16.raw"))
    with open(images / "fat16.raw", "rb") as f:
        f.seek(1 << 20)
        expected = f.read(4096)
    assert img.read(1 << 20, 4096) == expected
    assert os.lseek(img._fd, 0, os.SEEK_CUR) == 0
    img.close()


def test_a_span_is_asked_of_the_os_on_the_segments_that_hold_it(tmp_path, monkeypatch):
    """A raw image asks the OS for a span on its one descriptor; a split raw image on each
    segment the span crosses, at the segment's own offsets, none past the image's end. An
    image without a way to ask (a virtual disk) is asked nothing; nothing is read."""
    from triage.evidence import media as media_module
    parts = []
    for i, length in enumerate((1000, 0, 3000, 500)):   # an empty segment among them
        parts.append(tmp_path / f"disk.{i:03d}")
        parts[-1].write_bytes(bytes(length))
    split = media_module.SplitRawImg([str(p) for p in parts])
    raw = RawImg(str(parts[2]))
    asked = []
    monkeypatch.setattr(media_module.os, "posix_fadvise",
                        lambda fd, at, n, advice: asked.append((fd, at, n, advice)))
    whose = {fd: i for i, fd in enumerate(split._fds)}
    split.prefetch(900, 3200)    # the end of the first segment, all of the third, the fourth's start
    split.prefetch(4400, 500)    # past the end: cut at it
    raw.prefetch(10, 20)
    willneed = media_module.os.POSIX_FADV_WILLNEED
    assert [(whose.get(fd, "raw"), at, n) for fd, at, n, advice in asked
            if advice == willneed] == [(0, 900, 100), (2, 0, 3000), (3, 0, 100), (3, 400, 100),
                                       ("raw", 10, 20)]
    assert len(asked) == 5
    Media("ewf", "x", 10, [], object()).prefetch(0, 10)   # an image that reads for itself
    assert len(asked) == 5
    split.close()
    raw.close()


def test_whether_a_byte_is_cached_is_asked_of_the_os_on_a_raw_image_alone(tmp_path, monkeypatch):
    """A raw image asks with a one-byte read that does not wait (RWF_NOWAIT) on its own
    descriptor, a split raw image on the segment that holds the byte, at its own offset
    (nothing past the end); an image that reads for itself (a virtual disk) cannot tell:
    False."""
    from triage.evidence import media as media_module
    (tmp_path / "disk.raw").write_bytes(bytes(8192))
    raw = RawImg(str(tmp_path / "disk.raw"))
    parts = []
    for i, length in enumerate((1000, 0, 3000)):   # an empty segment among them
        parts.append(tmp_path / f"disk.{i:03d}")
        parts[-1].write_bytes(bytes(length))
    split = media_module.SplitRawImg([str(p) for p in parts])
    asked = []

    def nowait(fd, buffers, offset, flags):
        asked.append((fd, offset, flags))
        return 1
    monkeypatch.setattr(os, "preadv", nowait)
    media = Media("raw", "x", 8192, [], raw)
    assert media.cached(4100) is True
    assert asked == [(raw._fd, 4100, os.RWF_NOWAIT)]
    asked.clear()
    assert (split.cached(999), split.cached(1000), split.cached(3999)) == (True, True, True)
    assert split.cached(4000) is False   # past its end
    assert asked == [(split._fds[0], 999, os.RWF_NOWAIT), (split._fds[2], 0, os.RWF_NOWAIT),
                     (split._fds[2], 2999, os.RWF_NOWAIT)]
    assert Media("ewf", "x", 10, [], object()).cached(0) is False
    split.close()
    raw.close()


@pytest.mark.skipif(shutil.which("ewfacquire") is None, reason="ewf-tools is not installed")
@pytest.mark.parametrize("through", ["libewf", "pyewf"])
def test_an_e01_whose_name_is_not_utf8_opens_with_all_its_segments(tmp_path, monkeypatch,
                                                                   through):
    """pyewf takes only names that are UTF-8: an image a Latin-1 system named (`café`, with é
    the byte 0xe9) is found by its segments' own bytes, every one of them, and reads as its
    raw image; through pyewf alone too (where libewf's C API is out of reach), on file objects
    closed with the image. Nothing is left open on the segments."""
    data = random.Random(3).randbytes(3 << 20)
    raw = tmp_path / "raw.img"
    raw.write_bytes(data)
    folder = os.fsencode(tmp_path)
    target = folder + b"/caf\xe9"
    subprocess.run([b"ewfacquire", b"-u", b"-q", b"-c", b"deflate:fast", b"-S", b"1048576",
                    b"-t", target, os.fsencode(raw)], check=True, capture_output=True,
                   timeout=120)
    written = sorted(folder + b"/" + name for name in os.listdir(folder)
                     if name.startswith(b"caf\xe9.E"))
    assert len(written) == 4
    if through == "pyewf":
        monkeypatch.setattr(libewf, "load", lambda: None)
    media = open_media(os.fsdecode(written[0]))
    try:
        assert media.kind == "ewf" and [os.fsencode(s) for s in media.segments] == written
        assert b"".join(media.read(at, 1 << 20) for at in range(0, media.size, 1 << 20)) == data
        assert media.stored_hashes["md5"] == hashlib.md5(data).hexdigest()
    finally:
        media.close()
    held = {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{fd}")}
    assert not {os.fsdecode(w) for w in written} & held
