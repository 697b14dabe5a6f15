import hashlib

import numpy as np
import pytest

from support import FIXTURES
from triage.errors import HashSetError
from triage.hashsets import HashSet, SetInfo, compile_sources, load
from triage.records import SetEntry

REAL = FIXTURES / "hashsets" / "real"
SYN = FIXTURES / "hashsets" / "synthetic"
ENDS_00 = bytes.fromhex("0123456789abcdef0123456789abcd00")


@pytest.fixture(scope="module")
def griffeye(tmp_path_factory):
    out = tmp_path_factory.mktemp("set") / "g.tset"
    compile_sources([SYN / "griffeye.csv"], out, name="G", version="1")
    with HashSet(out) as hs:
        yield hs


def test_info(griffeye):
    info = griffeye.info
    assert isinstance(info, SetInfo)
    assert (info.name, info.version, info.kind, info.category_scheme) == ("G", "1", "alert", "vics")
    assert info.entries == 8
    assert info.signals == {"md5": 5, "sha1": 1, "pdq": 1}
    assert info.categories == {"1": 5, "2": 1, "3": 1, "4": 1}
    assert info.sized == {"md5": 5, "sha1": 1, "pdq": 1}
    assert info.problems == 2
    assert info.sources[0]["format"] == "table"
    assert info.imported.endswith("Z")
    assert griffeye.signals == frozenset({"md5", "sha1", "pdq"})


def test_lookup_digest_ending_in_zero_byte(griffeye):
    assert griffeye.lookup("md5", [ENDS_00]) == [[SetEntry("md5", ENDS_00.hex(), "1", None, 7000,
                                                           "m.jpg")]]
    # the same digest without its last byte's zero must not match anything
    assert griffeye.lookup("md5", [ENDS_00[:-1] + b"\x01"]) == [[]]


def test_lookup_returns_every_category_of_a_digest(griffeye):
    l_md5 = hashlib.md5(b"l").digest()
    miss = bytes(16)
    found = griffeye.lookup("md5", [miss, l_md5, miss])
    assert found[0] == [] and found[2] == []
    assert [(e.category, e.name) for e in found[1]] == [("2", "l.jpg"), ("3", "l-again.jpg")]


def test_lookup_rejects_wrong_digest_length(griffeye):
    with pytest.raises(ValueError, match="16 bytes"):
        griffeye.lookup("md5", [bytes(20)])
    assert griffeye.lookup("sha256", [bytes(32)]) == [[]]


def test_may_match(griffeye):
    # md5 has an entry without size: the prefilter cannot exclude anything
    assert griffeye.may_match("md5", 12345) is True
    assert griffeye.may_match("sha1", 5000) is True
    assert griffeye.may_match("sha1", 5001) is False
    assert griffeye.may_match("sha256", 5000) is False


def test_may_match_agrees_with_the_listed_sizes(tmp_path):
    """The size bitmap answers most "no"s; a size sharing its low 24 bits with a listed one
    (a set bit) must still be told apart by the exact search."""
    rng = np.random.default_rng(5)
    listed = sorted({int(x) for x in rng.integers(1, 1 << 26, 3000)})
    source = tmp_path / "sized.hashdeep"
    source.write_text("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n" + "".join(
        f"{size},{hashlib.md5(str(size).encode()).hexdigest()},f{size}\n" for size in listed))
    with load(source) as hs:
        twins = [size + (1 << 24) for size in listed[:200]] + \
            [size ^ (1 << 25) for size in listed[:200]]
        queries = listed + twins + [int(x) for x in rng.integers(0, 1 << 27, 5000)] + [0, -1]
        assert [hs.may_match("md5", q) for q in queries] == [q in set(listed) for q in queries]


def test_vectors_and_entry(griffeye):
    vectors = griffeye.vectors("pdq")
    assert vectors.dtype == np.uint8 and vectors.shape == (1, 32)
    assert bytes(vectors[0]).hex() == hashlib.sha256(b"pdqk").hexdigest()
    assert griffeye.entry("pdq", 0).series == "SeriesA"
    md5 = griffeye.vectors("md5")
    assert md5.shape == (6, 16)
    rows = [bytes(r) for r in md5]
    assert rows == sorted(rows)


def test_load_source_directly_and_known_good_kind():
    with load(REAL / "NSRL-CAID-ART.json") as hs:
        assert hs.info.kind == "known-good"
        assert hs.lookup("sha1", [bytes.fromhex("e65706b487c73e992bab2a50707a9fd8b0bd6866")])[0][0] \
            == SetEntry("sha1", "e65706b487c73e992bab2a50707a9fd8b0bd6866", "8", None, 488,
                        "build2.art")


def test_a_records_source_id_survives_compilation():
    with load(SYN / "vics-2.0-case.json") as hs:
        md5 = hashlib.md5(b"s").digest()
        assert [e.id for e in hs.lookup("md5", [md5])[0]] == ["1"]
        assert (hs.entry("pdq", 0).id, hs.entry("sha256", 0).id) == ("1", "4")
        assert hs.column("md5", "id") is not None
    with load(REAL / "NSRL-CAID-ART.json") as hs:      # no record has an ID: no column
        assert hs.column("sha1", "id") is None


def test_photodna_is_kept_and_counted():
    with load(SYN / "vics-2.0-case.json") as hs:
        assert hs.info.signals["photodna"] == 1
        assert hs.entry("photodna", 0).value == "AAEC" * 36


def test_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(HashSetError, match="cannot read"):
        load(tmp_path / "nope.tset")


@pytest.mark.slow
def test_many_entries_all_found_none_invented(tmp_path):
    from support import slow_scale
    n = int(20000 * slow_scale())
    rng = np.random.default_rng(7)
    digests = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    digests[::97, 15] = 0                               # plenty of digests ending in 00
    source = tmp_path / "many.txt"
    source.write_text("".join(f"{bytes(d).hex()}  f{i}\n" for i, d in enumerate(digests)))
    with load(source) as hs:
        assert hs.info.entries == n
        found = hs.lookup("md5", [bytes(d) for d in digests])
        assert all(len(f) == 1 for f in found)
        assert found[97][0].value.endswith("00")
        absent = [bytes(d[::-1]) for d in digests[:1000]]
        assert sum(map(len, hs.lookup("md5", absent))) == 0
