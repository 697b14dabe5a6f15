"""EWF-E01 chunks read straight from the segment files (ewf_chunks): the same bytes as the raw
image for every E01 layout ewfacquire writes, checked chunk by chunk; whatever a checksum does
not vouch for (a damaged chunk, a damaged table) and the layouts it does not read (the
original EWF and SMART) are read through libewf, as before."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from support import ewf_chunks as stored_chunks
from triage.evidence import ewf_chunks, libewf
from triage.evidence.media import EwfImg, open_media

CHUNK = 32 * 1024
pytestmark = pytest.mark.skipif(shutil.which("ewfacquire") is None,
                                reason="ewfacquire (ewf-tools) is not installed")


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """3 MiB and 7 sectors (the last chunk is short) of zeros, text and random bytes, so that
    deflate stores some chunks compressed and leaves others as they are."""
    rng = random.Random(5)
    parts = []
    for i in range(100):
        size = 20_000 if i % 7 == 0 else CHUNK
        parts.append(bytes(size) if i % 4 == 0 else
                     (b"the quick brown fox %d " % i * 2000)[:size] if i % 4 == 1 else
                     rng.randbytes(size))
    data = b"".join(parts)
    data = data[:len(data) // 512 * 512] + rng.randbytes(7 * 512)
    path = tmp_path_factory.mktemp("raw") / "raw.img"
    path.write_bytes(data)
    return path


def acquire(raw: Path, folder: Path, layout: str, compression: str) -> Path:
    """The raw image as EWF segments of 1 MiB (so several), its first segment returned."""
    target = folder / f"{layout}-{compression.split(':')[0]}"
    subprocess.run(["ewfacquire", "-u", "-q", "-f", layout, "-c", compression, "-S", "1048576",
                    "-t", str(target), str(raw)], check=True, capture_output=True, timeout=120)
    return next(p for p in sorted(folder.iterdir()) if p.name.startswith(target.name)
                and p.suffix.lower() in (".e01", ".s01"))


def read_all(media) -> bytes:
    return b"".join(media.read(at, 1 << 20) for at in range(0, media.size, 1 << 20))


@pytest.mark.parametrize("compression", ["deflate:fast", "none"])
@pytest.mark.parametrize("layout", ["encase2", "encase5", "encase6", "encase7", "ftk", "linen6",
                                    "ewfx"])
def test_every_e01_layout_is_read_chunk_by_chunk_as_the_raw_image(tmp_path, raw, layout,
                                                                   compression):
    data = raw.read_bytes()
    first = acquire(raw, tmp_path, layout, compression)
    media = open_media(str(first))
    try:
        reader = media.img._chunks
        assert reader is not None and reader.chunk_size == CHUNK
        assert len(media.segments) == (2 if compression != "none" else 4)
        count = -(-len(data) // CHUNK)
        assert count == 95
        # where each chunk lies, as the tests' own parser of the tables finds it
        expected = stored_chunks(media.segments)
        assert len(expected) == count
        compressed = 0
        for number, (segment, start, end, packed) in enumerate(expected):
            got_segment, got_start, got_end, got_packed = reader._stored(number)
            assert (media.segments[got_segment], got_start, got_end, got_packed) == (
                str(segment), start, end, packed)
            assert reader.chunk(number) == data[number * CHUNK:(number + 1) * CHUNK]
            compressed += packed
        assert compressed == (72 if compression != "none" else 0)
        assert read_all(media) == data
    finally:
        media.close()


@pytest.mark.parametrize("layout", ["ewf", "smart"])
def test_a_layout_with_its_chunks_in_the_table_section_is_read_through_libewf(tmp_path, raw,
                                                                             layout):
    first = acquire(raw, tmp_path, layout, "deflate:fast")
    media = open_media(str(first))
    try:
        assert media.img._chunks is None
        assert read_all(media) == raw.read_bytes()
    finally:
        media.close()


def _flip(path: Path, at: int) -> None:
    with open(path, "r+b") as f:
        f.seek(at)
        byte = f.read(1)
        f.seek(at)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_a_chunk_whose_checksum_fails_is_read_by_libewf_and_reported_damaged(tmp_path, raw):
    data = raw.read_bytes()
    first = acquire(raw, tmp_path, "encase6", "deflate:fast")
    chunks = stored_chunks(sorted(tmp_path.glob("encase6-deflate.E0?")))
    # a stored chunk, the compressed one after it, and a compressed one further on
    stored = next(n for n, c in enumerate(chunks) if not c[3])
    assert chunks[stored + 1][3]
    far = next(n for n, c in enumerate(chunks) if c[3] and n > stored + 3)
    damaged = (stored, stored + 1, far)
    for number in damaged:
        segment, start, end, _ = chunks[number]
        _flip(segment, (start + end) // 2)
    media = open_media(str(first))
    try:
        reader = media.img._chunks
        assert [reader.chunk(n) for n in damaged] == [None] * 3
        assert reader.chunk(0) == data[:CHUNK]
        for number in (far, stored, stored + 1):
            assert media.read(number * CHUNK, CHUNK) == bytes(CHUNK)   # libewf's zeros
        # as ewfverify reports them: the two adjacent chunks as one range (libewf grows the
        # range it has, so its count of ranges stays where it was, read last)
        assert media.damaged() == [(stored * CHUNK, 2 * CHUNK), (far * CHUNK, CHUNK)]
        # the rest still reads as the evidence's bytes
        whole = read_all(media)
        for number in range(95):
            if number not in damaged:
                assert whole[number * CHUNK:(number + 1) * CHUNK] == \
                    data[number * CHUNK:(number + 1) * CHUNK]
    finally:
        media.close()


@pytest.mark.parametrize("where", ["entry", "checksum"])
def test_a_table_whose_checksum_fails_is_left_to_libewf(tmp_path, raw, where):
    """libewf reads the table2 mirror copy where the table fails its checksum; so the image
    still reads whole, through libewf, for that table's chunks. A damaged entry, or the
    damaged checksum of entries that are all right: neither is taken on trust."""
    first = acquire(raw, tmp_path, "encase6", "deflate:fast")
    table_at = next(at for at in _section_offsets(first) if _kind(first, at) == b"table")
    entries = table_at + 76 + 24   # past the section's descriptor and the table's header
    count = int.from_bytes(_read(first, table_at + 76, 4), "little")
    _flip(first, entries + 4 if where == "entry" else entries + 4 * count)
    media = open_media(str(first))
    try:
        reader = media.img._chunks
        assert reader is not None and reader.chunk(1) is None
        assert read_all(media) == raw.read_bytes()
        assert media.damaged() == []
    finally:
        media.close()


def _section_offsets(path: Path):
    data = path.read_bytes()
    at = 13
    while True:
        yield at
        kind = data[at:at + 16].rstrip(b"\0")
        following = int.from_bytes(data[at + 16:at + 24], "little")
        if kind in (b"next", b"done") or following <= at:
            return
        at = following


def _read(path: Path, offset: int, length: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def _kind(path: Path, offset: int) -> bytes:
    return _read(path, offset, 16).rstrip(b"\0")


def test_prefetch_asks_for_the_stored_chunks_of_a_range(tmp_path, raw, monkeypatch):
    first = acquire(raw, tmp_path, "encase6", "deflate:fast")
    asked = []
    monkeypatch.setattr(ewf_chunks, "will_need", lambda fd, at, length: asked.append(
        (os.readlink(f"/proc/self/fd/{fd}"), at, length)))
    media = open_media(str(first))
    try:
        chunks = stored_chunks(media.segments)
        media.prefetch(5 * CHUNK + 100, 3 * CHUNK)   # chunks 5 to 8
        runs = []
        for segment, start, end, _ in chunks[5:9]:
            if runs and runs[-1][0] == str(segment) and runs[-1][1] + runs[-1][2] == start:
                runs[-1] = (str(segment), runs[-1][1], end - runs[-1][1])
            else:
                runs.append((str(segment), start, end - start))
        assert asked == runs and len(runs) == 1
        asked.clear()
        media.prefetch(media.size - 10, 100)         # the short last chunk only
        segment, start, end, _ = chunks[-1]
        assert asked == [(str(segment), start, end - start)]
    finally:
        media.close()


def test_reading_leaves_the_segments_as_they_were(tmp_path, raw):
    first = acquire(raw, tmp_path, "encase6", "deflate:fast")
    segments = sorted(tmp_path.glob("encase6-deflate.E0?"))

    def state():
        return [(hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns,
                 p.stat().st_ctime_ns) for p in segments]

    before = state()
    media = open_media(str(first))
    try:
        media.prefetch(0, media.size)
        assert read_all(media) == raw.read_bytes()
    finally:
        media.close()
    assert state() == before


def test_a_long_image_keeps_only_some_tables_offsets(tmp_path, raw, monkeypatch):
    """A 4 TB disk has some 2,000 tables: a reader keeps the offsets of the last few it used
    (TABLES_KEPT), and loads a table again when it comes back to it."""
    monkeypatch.setattr(ewf_chunks, "TABLES_KEPT", 1)
    first = acquire(raw, tmp_path, "encase6", "none")   # 4 segments, a table each
    media = open_media(str(first))
    try:
        reader = media.img._chunks
        assert len(reader._tables) == 4
        for _ in range(2):
            assert read_all(media) == raw.read_bytes()
            assert list(reader._offsets) == [3]
        assert reader.chunk(0) == raw.read_bytes()[:CHUNK] and list(reader._offsets) == [0]
    finally:
        media.close()


def test_segment_files_are_opened_as_needed_and_a_few_kept(tmp_path, raw, monkeypatch):
    """A disk in many segments has more of them than a process may hold open: the reader
    keeps FILES_KEPT, opened as reads reach them; a segment it cannot open is read through
    libewf, which has it open."""
    monkeypatch.setattr(ewf_chunks, "FILES_KEPT", 1)
    first = acquire(raw, tmp_path, "encase6", "none")   # 4 segments
    opened = []
    real = ewf_chunks.open_readonly

    def open_readonly(path, follow_symlinks=False):
        opened.append(Path(path).name)
        if Path(path).suffix == ".E03" and refuse:
            raise PermissionError(13, "Permission denied", path)
        return real(path, follow_symlinks=follow_symlinks)

    monkeypatch.setattr(ewf_chunks, "open_readonly", open_readonly)
    refuse = False
    media = open_media(str(first))
    try:
        reader = media.img._chunks
        opened.clear()
        assert read_all(media) == raw.read_bytes()
        assert opened == ["encase6-none.E01", "encase6-none.E02", "encase6-none.E03",
                          "encase6-none.E04"] and len(reader._files) == 1
        refuse = True
        reader._chunks.clear()
        third = next(n for n in range(95) if reader._stored(n)[0] == 2)
        assert reader.read(third * CHUNK, 10) is None
        assert read_all(media) == raw.read_bytes()
    finally:
        media.close()


def test_the_damaged_list_is_fetched_again_only_for_a_read_beside_a_damaged_range(tmp_path, raw):
    """libewf grows a damaged range when the chunk next to it fails, so a read beside one
    fetches the list again; a read elsewhere does not (on a badly damaged image, fetching
    thousands of ranges after every read made a scan quadratic). Read through libewf alone,
    as the layouts ewf_chunks does not read are."""
    acquire(raw, tmp_path, "encase6", "deflate:fast")
    segments = sorted(tmp_path.glob("encase6-deflate.E0?"))
    chunks = stored_chunks(segments)
    stored = next(n for n, c in enumerate(chunks) if not c[3])
    far = next(n for n, c in enumerate(chunks) if c[3] and n > stored + 30)
    for number in (stored, stored + 1, far):
        segment, start, end, _ = chunks[number]
        _flip(segment, (start + end) // 2)
    handle = libewf.Handle([str(p) for p in segments], libewf.load())
    img = EwfImg(lambda: handle, raw.stat().st_size, CHUNK, handle=handle)
    try:
        calls = []
        real = img._handle.checksum_errors
        img._handle.checksum_errors = lambda: calls.append(1) or real()
        assert img.read(far * CHUNK, 100) == bytes(100)
        assert len(calls) == 1
        clean = [n for n in range(95) if abs(n - stored) > 2 and abs(n - far) > 2]
        for number in clean[:20]:
            img.read(number * CHUNK + 100, 4096)
        assert len(calls) == 1
        img.read(stored * CHUNK, 100)
        img.read((stored + 1) * CHUNK + 5000, 100)   # grows the range: the count stays 2
        assert len(calls) == 3
        assert img.damaged() == [(stored * CHUNK, 2 * CHUNK), (far * CHUNK, CHUNK)]
    finally:
        img.close()


def test_large_chunks_are_read_and_few_of_them_kept(tmp_path, raw):
    """EnCase allows chunks of up to 32,768 sectors (16 MiB): the inflated chunks kept are
    bounded by bytes (KEPT_BYTES), two at least, not by count."""
    target = tmp_path / "large"
    subprocess.run(["ewfacquire", "-u", "-q", "-b", "2048", "-c", "deflate:fast", "-t",
                    str(target), str(raw)], check=True, capture_output=True, timeout=120)
    media = open_media(str(tmp_path / "large.E01"))
    try:
        reader = media.img._chunks
        assert reader is not None and reader.chunk_size == 1 << 20
        assert read_all(media) == raw.read_bytes()
        assert reader._kept == 2 and len(reader._chunks) == 2
    finally:
        media.close()


def test_a_table_claiming_more_entries_than_any_writer_makes_is_left_to_libewf(tmp_path, raw,
                                                                              monkeypatch):
    """Its offsets are read at once: a table that claims millions of entries (and whose
    checksum holds) would have them all read into memory."""
    acquire(raw, tmp_path, "encase6", "none")
    segments = [str(p) for p in sorted(tmp_path.glob("encase6-none.E0?"))]
    assert ewf_chunks.chunk_map(segments, CHUNK, raw.stat().st_size) is not None
    monkeypatch.setattr(ewf_chunks, "_MAX_ENTRIES", 30)   # its tables hold 31, 31, 31, 2
    assert ewf_chunks.chunk_map(segments, CHUNK, raw.stat().st_size) is None
