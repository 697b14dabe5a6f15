import hashlib

from support import FIXTURES
from triage.hashsets.formats import detect
from triage.hashsets.problems import Problem
from triage.records import SetEntry

SYN = FIXTURES / "hashsets" / "synthetic"


def test_encase_hash_file():
    path = SYN / "encase.hash"
    fmt = detect(path)
    assert fmt.name == "encase"
    assert fmt.describe(path) == {"name": "Synthetic Set"}
    entries = [e for _, e in fmt.read(path)]
    assert entries == [SetEntry("md5", hashlib.md5(b"e1").hexdigest(), "Notable"),
                       SetEntry("md5", hashlib.md5(b"e2").hexdigest(), "Notable"),
                       SetEntry("md5", "0123456789abcdef0123456789abcd00", "Notable")]


def test_truncated_encase_file_is_reported():
    path = SYN / "encase-truncated.hash"
    items = list(detect(path).read(path))
    assert len([e for _, e in items if isinstance(e, SetEntry)]) == 2
    assert [p.reason for _, p in items if isinstance(p, Problem)] == [
        "8 trailing bytes after the last whole entry", "header says 3 entries, file holds 2"]
