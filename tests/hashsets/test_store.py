import pytest

from support import FIXTURES
from triage.errors import HashSetError
from triage.hashsets import HashSet, compile_sources

SOURCE = FIXTURES / "hashsets" / "real" / "Z00236.hsh"


@pytest.fixture
def compiled(tmp_path):
    out = tmp_path / "z.tset"
    compile_sources([SOURCE], out)
    return out


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
