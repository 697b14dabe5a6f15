"""One read of a file: digests in one pass, the head for sniffing, a picture's content kept."""

import io
import hashlib
import threading
from pathlib import Path

import pytest

from support import Counting
from triage import reading
from triage.workers import Interrupted

PHOTO = (Path(__file__).resolve().parent.parent / "fixtures" / "vectors" / "pdq" /
         "pdqhash-python" / "image1.jpg").read_bytes()
TEXT = b"plain text, " * 20000     # 240 KB: the head and then several blocks



def test_every_digest_in_one_pass_and_a_picture_kept_whole():
    reader = Counting(PHOTO)
    got = reading.read(reader, ["md5", "sha256"], pictures=True, size=len(PHOTO))
    assert got.digests == {"md5": hashlib.md5(PHOTO).hexdigest(),
                           "sha256": hashlib.sha256(PHOTO).hexdigest()}
    assert (got.picture, got.data, got.bytes_read) == ("image/jpeg", PHOTO, len(PHOTO))
    assert reader.handed == len(PHOTO) and not got.too_large


def test_a_file_nobody_needs_past_its_head_is_read_no_further():
    reader = Counting(TEXT)
    got = reading.read(reader, [], pictures=True, size=len(TEXT))
    assert (got.picture, got.data, got.digests) == (None, None, {})
    assert got.bytes_read == reader.handed == reading.HEAD


def test_digests_of_a_file_that_is_no_picture_keep_no_content():
    got = reading.read(Counting(TEXT), ["sha1"], pictures=True, size=len(TEXT))
    assert got.digests == {"sha1": hashlib.sha1(TEXT).hexdigest()}
    assert (got.picture, got.data, got.bytes_read) == (None, None, len(TEXT))


def test_without_pictures_asked_nothing_is_sniffed_or_kept():
    got = reading.read(Counting(PHOTO), ["md5"], size=len(PHOTO))
    assert (got.picture, got.data) == (None, None)


def test_an_empty_file_has_the_empty_digests():
    got = reading.read(Counting(b""), ["md5"], pictures=True, size=0)
    assert got.digests == {"md5": hashlib.md5(b"").hexdigest()}
    assert (got.bytes_read, got.picture, got.data) == (0, None, None)


def test_a_picture_over_the_cap_is_hashed_but_not_kept(monkeypatch):
    monkeypatch.setattr(reading, "MAX_IMAGE_BYTES", len(PHOTO) - 1)
    got = reading.read(Counting(PHOTO), ["md5"], pictures=True, size=len(PHOTO))
    assert got.too_large and got.data is None and got.picture == "image/jpeg"
    assert got.digests == {"md5": hashlib.md5(PHOTO).hexdigest()}
    # Too large and no digest wanted: passed over after its head.
    reader = Counting(PHOTO)
    got = reading.read(reader, [], pictures=True, size=len(PHOTO))
    assert got.too_large and got.bytes_read == reader.handed == min(reading.HEAD, len(PHOTO))


def test_a_picture_longer_than_its_size_said_meets_the_cap_while_read(monkeypatch):
    big = PHOTO + bytes(3 * reading.HEAD)
    monkeypatch.setattr(reading, "MAX_IMAGE_BYTES", len(PHOTO) + reading.HEAD)
    got = reading.read(Counting(big), [], pictures=True, size=None)
    assert got.too_large and got.bytes_read == len(big)


def test_a_set_stop_event_interrupts_the_read():
    stop = threading.Event()
    stop.set()
    with pytest.raises(Interrupted):
        reading.read(Counting(TEXT), ["md5"], size=len(TEXT), stop=stop)


@pytest.mark.parametrize("length", [0, 1, 4095, 4096, 4097, 8191, 8192, 8193, 65_536, 70_001])
@pytest.mark.parametrize("first", [4096, 65_536])
def test_a_files_edges_by_positioned_reads_are_those_of_a_stream(tmp_path, length, first):
    """A folder's file (io.FileIO, or its bare descriptor) gives its edges by two positioned
    reads; any other reader by reads and a seek: the same bytes, for every size about the 4 KiB and 64 KiB bounds,
    and for a file shorter than its listed size (it shrank after the walk)."""
    from triage.reading import edges
    data = bytes(i * 7 % 251 for i in range(length))
    path = tmp_path / "f"
    path.write_bytes(data)
    for size in (length, length + 5000):
        with io.FileIO(path, "rb") as fileio:
            by_pread = edges(fileio, size, first)
            # the batch screen's bare descriptor (folder.OsFile.descriptor): the same reads
            assert edges(fileio.fileno(), size, first) == by_pread
        assert by_pread == edges(io.BytesIO(data), size, first)
    with io.FileIO(path, "rb") as fileio:
        assert edges(fileio, length, first) == (
            data[:first], data[4096:][-4096:] if length > 4096 else b"")


@pytest.mark.parametrize("size, spans", [
    (0, []), (100, [(0, 100)]), (4096, [(0, 4096)]), (4097, [(0, 4096), (4096, 1)]),
    (8192, [(0, 4096), (4096, 4096)]), (70_001, [(0, 4096), (65_905, 4096)])])
def test_the_edges_spans_are_what_edges_reads(tmp_path, size, spans):
    """What is asked of the OS ahead of the reads is what edges() then reads: every byte
    it hands out, and no other."""
    assert reading.edge_spans(size) == spans
    data = bytes(i * 7 % 251 for i in range(size))
    head, tail = reading.edges(io.BytesIO(data), size)
    assert b"".join(data[at:at + n] for at, n in spans) == head + tail
