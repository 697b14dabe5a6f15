import hashlib

from support import FIXTURES
from triage.hashsets.formats import detect
from triage.hashsets.problems import Problem
from triage.records import SetEntry

REAL = FIXTURES / "hashsets" / "real"
SYN = FIXTURES / "hashsets" / "synthetic"


def read(path):
    items = list(detect(path).read(path))
    return ([e for _, e in items if isinstance(e, SetEntry)],
            [p for _, p in items if isinstance(p, Problem)])


def test_real_nsrl_caid_vics_1_2():
    entries, problems = read(REAL / "NSRL-CAID-AVI.json")
    assert problems == [] and len(entries) == 60
    # Every record of NIST's CAID files has MediaID 0, which identifies nothing: no id.
    assert entries[0] == SetEntry("md5", "c0bed93b35a501849efb0f3a7e47d9f5", "8", None, 8180626,
                                  "DXP_Relic_Intro.avi", id=None)
    assert entries[1].signal == "sha1"
    assert entries[1].value == "372c8db4188e1d24327bbde8fc7a6e2e89ef3041"
    art, _ = read(REAL / "NSRL-CAID-ART.json")
    assert [(e.signal, e.size) for e in art] == [("md5", 488), ("sha1", 488)]


def test_vics_2_case_export_with_alternative_hashes():
    path = SYN / "vics-2.0-case.json"
    assert detect(path).name == "vics"
    entries, problems = read(path)
    by_signal = {e.signal: e for e in entries if e.category == "1"}
    assert set(by_signal) == {"md5", "sha1", "photodna", "pdq"}
    assert by_signal["md5"] == SetEntry("md5", hashlib.md5(b"s").hexdigest(), "1", "S-1",
                                        123456, "s.jpg", id="1")
    assert {e.id for e in entries if e.category == "1"} == {"1"}       # MediaID, as text
    assert [e.id for e in entries if e.category != "1"] == ["2", "4"]
    assert by_signal["photodna"].value == "AAEC" * 36
    assert by_signal["pdq"].quality == 90
    assert [(e.signal, e.category, e.size) for e in entries if e.category != "1"] == [
        ("md5", "2", 77), ("sha256", "3", None)]
    assert [(p.where, p.reason) for p in problems] == [
        ("record 3", "md5 must be 32 hex characters, got 3"),
        ("record 4", "MediaSize missing")]


def test_vics_1_1_string_category_and_bad_size():
    entries, problems = read(SYN / "vics-1.1-hashset.json")
    assert [(e.category, e.size) for e in entries] == [("1", 10), ("4", None)]
    assert [(p.where, p.reason) for p in problems] == [
        ("record 2", "size is not a whole number of bytes")]


def test_truncated_json_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "cut.json"
    path.write_bytes((REAL / "NSRL-CAID-AVI.json").read_bytes()[:3000])
    entries, problems = read(path)
    assert len(entries) > 0
    assert problems[-1].reason.startswith("invalid JSON, reading stopped")
