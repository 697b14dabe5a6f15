import hashlib

import pytest

from support import FIXTURES, sha256_file
from triage.hashsets.formats import detect
from triage.hashsets.problems import Problem
from triage.records import SetEntry

SYN = FIXTURES / "hashsets" / "synthetic"


@pytest.mark.parametrize("name", ["rds3-minimal.db", "rds3-full.db"])
def test_file_table_and_file_view(name):
    path = SYN / name
    before = sha256_file(path)
    fmt = detect(path)
    assert fmt.name == "nsrl-rds3"
    items = list(fmt.read(path))
    entries = [e for _, e in items if isinstance(e, SetEntry)]
    problems = [p for _, p in items if isinstance(p, Problem)]
    assert len(entries) == 6
    assert entries[0] == SetEntry("md5", hashlib.md5(b"r3a").hexdigest(), "known-good", None,
                                  111, "a.sys")
    assert {e.signal for e in entries} == {"md5", "sha1", "sha256"}
    assert [(p.where, p.code) for p in problems] == [("row 2", "missing-size")]
    assert sha256_file(path) == before             # opened immutable: never written
    assert not path.with_name(name + "-journal").exists()
