import pytest

from triage.errors import HashSetError
from triage.hashsets import HashSet


def test_layout_is_page_aligned_and_compact(compiled):
    data = compiled.read_bytes()
    assert data[:8] == b"TRIAGEHS"
    with HashSet(compiled) as hs:
        assert hs.info.entries == 6994
        # md5 hi+rest (16) + size (uint32) + distinct sizes + names: well under 64 B an entry
        assert len(data) < 4096 * 4 + 6994 * 64


def test_truncated_set_is_refused(compiled):
    data = compiled.read_bytes()
    compiled.write_bytes(data[:-100])
    with pytest.raises(HashSetError, match="truncated"):
        HashSet(compiled)


def test_flipped_bit_is_refused(compiled):
    data = bytearray(compiled.read_bytes())
    data[-5000] ^= 1
    compiled.write_bytes(bytes(data))
    with pytest.raises(HashSetError, match="checksum mismatch"):
        HashSet(compiled)


def test_corrupted_header_is_refused(compiled):
    data = bytearray(compiled.read_bytes())
    data[120] ^= 0xFF
    compiled.write_bytes(bytes(data))
    with pytest.raises(HashSetError, match="header is truncated or corrupted"):
        HashSet(compiled)


def test_short_file_is_not_a_set(tmp_path):
    path = tmp_path / "x.tset"
    path.write_bytes(b"TRIAGEHS\x01")
    with pytest.raises(HashSetError, match="not a compiled triage hash set"):
        HashSet(path)


def test_a_set_checked_later_opens_and_tells_at_verified(compiled, tmp_path):
    """`later`: the data's checksum is taken in a thread; verified() raises what a plain open
    raises, and the descriptor the thread read by is closed once it ends."""
    import gc
    import os
    bad = tmp_path / "bad.tset"
    data = bytearray(compiled.read_bytes())
    data[-5000] ^= 1
    bad.write_bytes(bytes(data))
    with HashSet(compiled, later=True) as sound:
        sound.verified()
        sound.verified()   # once told, told again at no cost
        assert sound.lookup("md5", [bytes(16)]) == [[]]
    flipped = HashSet(bad, later=True)
    try:
        with pytest.raises(HashSetError, match=f"^{bad}: compiled set data is corrupted "
                                               r"\(checksum mismatch\)$"):
            flipped.verified()
    finally:
        flipped.close()
    del sound, flipped
    gc.collect()   # the mappings' own descriptors go with their last view
    held = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            held.add(os.readlink(f"/proc/self/fd/{fd}"))
        except FileNotFoundError:   # the listing's own
            pass
    assert str(bad) not in held and str(compiled) not in held
    with pytest.raises(HashSetError, match="checksum mismatch"):   # without later: at once
        HashSet(bad)


def test_a_set_that_is_no_regular_file_is_refused_at_once(tmp_path, bounded):
    """A FIFO held the open until a writer came (the scan hung), and a pipe cannot be read
    twice (its head, then the set): refused with one line, before anything else."""
    import os

    from triage.hashsets import load
    fifo = tmp_path / "set.tset"
    os.mkfifo(fifo)
    with pytest.raises(HashSetError, match=f"^{fifo}: not a regular file"):
        load(fifo)
    with pytest.raises(HashSetError, match=f"^{tmp_path}: not a regular file"):
        load(tmp_path)
    evidence = tmp_path / "ev"
    evidence.mkdir()
    (evidence / "a.txt").write_text("a")
    run = bounded("scan", evidence, "--hashset", fifo, "-o", tmp_path / "out")
    assert run.code == 2 and run.lines() == [
        f"triage: error: {fifo}: not a regular file (a hash set is read from a file, not a "
        f"folder, pipe or device)"]
    assert not (tmp_path / "out").exists()
