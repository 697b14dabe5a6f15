"""Judging one file: what is read, what is settled unread, what a hit carries."""

import hashlib
from dataclasses import replace

import pytest

from triage.evidence import open_evidence
from triage.hashsets import load
from triage.scanners import Judge

LISTED = b"listed content\n" * 10
SAME_SIZE = b"other content!\n" * 10     # the listed size, other bytes
OTHER_SIZE = b"a size no set lists\n"


@pytest.fixture
def entries(tmp_path):
    folder = tmp_path / "evidence"
    folder.mkdir()
    for name, data in [("listed.bin", LISTED), ("same-size.bin", SAME_SIZE),
                       ("other-size.bin", OTHER_SIZE)]:
        (folder / name).write_bytes(data)
    with open_evidence(str(folder)) as ev:
        yield {e.path: e for e in ev.entries()}


@pytest.fixture
def judge(tmp_path):
    sized = tmp_path / "alert.hashdeep"
    sized.write_text("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n"
                     f"{len(LISTED)},{hashlib.md5(LISTED).hexdigest()},listed.bin\n")
    return Judge([load(sized)])


def test_a_size_no_set_lists_is_settled_unread(judge, entries):
    entry = replace(entries["/other-size.bin"], open=lambda: pytest.fail("opened"))
    verdict = judge.unread(entry)
    assert (verdict.status, verdict.bytes_read, verdict.hashed) == ("skipped", 0, False)
    assert judge(entry).status == "skipped"


def test_a_listed_size_is_read_and_hashed(judge, entries):
    assert judge.unread(entries["/same-size.bin"]) is None
    verdict = judge(entries["/same-size.bin"])
    assert (verdict.status, verdict.bytes_read, verdict.hashed) == ("clean", len(SAME_SIZE), True)
    assert verdict.hashes == {"md5": hashlib.md5(SAME_SIZE).hexdigest()}


def test_a_hit_carries_all_three_digests(judge, entries):
    verdict = judge(entries["/listed.bin"])
    assert verdict.status == "hit"
    assert verdict.hashes == {"md5": hashlib.md5(LISTED).hexdigest(),
                              "sha1": hashlib.sha1(LISTED).hexdigest(),
                              "sha256": hashlib.sha256(LISTED).hexdigest()}
    assert [(m.signal, m.kind) for m in verdict.matches] == [("md5", "alert")]
    # read once to match, once more for the report's SHA-1 and SHA-256
    assert verdict.bytes_read == 2 * len(LISTED)
