import hashlib

from support import FIXTURES
from triage.hashsets.formats import detect
from triage.hashsets.problems import Problem
from triage.records import SetEntry

SYN = FIXTURES / "hashsets" / "synthetic"


def test_griffeye_style_csv():
    path = SYN / "griffeye.csv"
    assert detect(path).name == "table"
    items = list(detect(path).read(path))
    entries = [e for _, e in items if isinstance(e, SetEntry)]
    problems = [(w, p.reason) for w, p in items if isinstance(p, Problem)]
    assert entries[0] == SetEntry("md5", hashlib.md5(b"k").hexdigest(), "1", "SeriesA", 5000,
                                  "k.jpg")
    assert [e.signal for e in entries[:3]] == ["md5", "sha1", "pdq"]
    assert [e.value for e in entries if e.name == "m.jpg"] == ["0123456789abcdef0123456789abcd00"]
    assert len(entries) == 8
    assert problems == [(7, "size missing"), (8, "md5 must be 32 hex characters, got 10"),
                        (9, "expected 7 fields, got 4")]


def test_caid_tsv():
    path = SYN / "caid.tsv"
    entries = [e for _, e in detect(path).read(path)]
    assert [(e.category, e.size) for e in entries] == [("A", 100), ("B", 200), ("C", 300)]
