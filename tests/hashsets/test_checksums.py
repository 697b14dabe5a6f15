"""A compiled set's checksums begun ahead (checksums.begin): taken by the set's load when the
file is the one begun and unchanged, made again when it is not, so a set altered meanwhile is
still refused."""

import hashlib
import os

import pytest

from triage.errors import HashSetError
from triage.hashsets import HashSet, checksums, store


@pytest.fixture(autouse=True)
def nothing_begun_left():
    yield
    checksums._begun.clear()


def _span(path):
    data = path.read_bytes()
    header_len, data_len = store.PREFIX.unpack_from(data)[3:5]
    start = checksums.align(store.PREFIX.size + header_len)
    return data, start, data_len


def test_the_digests_begun_ahead_are_the_data_s_and_taken_once(compiled, monkeypatch):
    data, start, length = _span(compiled)
    checksums.begin([str(compiled), str(compiled)])   # named twice: begun once
    assert len(checksums._begun) == 1
    made = []

    class Counted(checksums.Digests):
        def __init__(self, *args, **kwargs):
            made.append(args)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(checksums, "Digests", Counted)
    fd = os.open(compiled, os.O_RDONLY)
    try:
        taken = checksums.digests(fd, start, length, whole=False)
    finally:
        os.close(fd)
    assert made == [] and checksums._begun == {}
    assert taken.data == hashlib.sha256(data[start:start + length]).digest()
    assert taken.data == store.PREFIX.unpack_from(data)[6]   # the checksum the file holds


def test_a_set_begun_ahead_opens_checked(compiled):
    checksums.begin([str(compiled)])
    with HashSet(compiled, later=True) as hs:
        hs.verified()
        assert hs.info.entries == 6994
    assert checksums._begun == {}


def test_a_set_altered_after_it_was_begun_is_refused(compiled):
    checksums.begin([str(compiled)])
    list(checksums._begun.values())[0].digests()   # the digests of the sound file are made
    data = bytearray(compiled.read_bytes())
    data[-5000] ^= 1
    before = os.stat(compiled)
    with open(compiled, "r+b") as f:   # the same file, written in place: same size and inode
        f.write(bytes(data))
    # the file's times tell the change (set here: the kernel's clock ticks in milliseconds)
    os.utime(compiled, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    assert os.stat(compiled).st_ino == before.st_ino
    with pytest.raises(HashSetError, match="checksum mismatch"):
        HashSet(compiled)


def test_what_is_no_set_is_passed_over(tmp_path):
    (tmp_path / "list.md5").write_text("d41d8cd98f00b204e9800998ecf8427e\n")
    os.mkfifo(tmp_path / "fifo")   # no writer: an open that waited for one would never end
    checksums.begin([str(tmp_path / "list.md5"), str(tmp_path / "gone.tset"), str(tmp_path),
                     "bad\0path", str(tmp_path / "fifo"), "/dev/zero"])
    assert checksums._begun == {}


def test_the_sets_a_command_names_are_read_from_its_raw_arguments():
    assert checksums.named_sets(["scan", "img.E01", "--hashset", "a.tset", "-o", "out",
                                 "--hashset=b.tset", "--", "--hashset", "c"]) == \
        ("a.tset", "b.tset")
    assert checksums.named_sets(["scan", "--hashset"]) == ()


def test_a_prefix_whose_spans_do_not_fit_the_file_is_passed_over(tmp_path, capfd):
    """A crafted prefix (a header or data far longer than the file) is begun nowhere: no
    read sized by it, nothing said on stderr; the load refuses the set in one line."""
    for name, header, data in (("head", 1 << 40, 10), ("head2", (1 << 63) - 1, 10),
                               ("data", 100, 1 << 62)):
        path = tmp_path / f"{name}.tset"
        path.write_bytes(store.PREFIX.pack(store.MAGIC, store.VERSION, store.TRAILER.size,
                                           header, data, bytes(32), bytes(32)) + bytes(200))
        checksums.begin([str(path)])
        assert checksums._begun == {}
        with pytest.raises(HashSetError, match="header is truncated or corrupted"):
            HashSet(path)
    assert capfd.readouterr().err == ""
