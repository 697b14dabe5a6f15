from support import FIXTURES
from triage.hashsets import compile_sources, load
from triage.hashsets.diff import diff


def test_added_removed_recategorised(tmp_path):
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    a, b, c, d = ("%032x" % i for i in (1, 2, 3, 0x100))
    old.write_text(f"md5,category\n{a},1\n{b},2\n{c},1\n")
    new.write_text(f"md5,category\n{a},1\n{b},3\n{d},4\n")
    compile_sources([old], tmp_path / "old.tset", version="1")
    with load(tmp_path / "old.tset") as o, load(new) as n:
        result = diff(o, n, listing=True)
    md5 = result["signals"]["md5"]
    assert (md5["added"], md5["removed"], md5["recategorised"]) == (1, 1, 1)
    assert md5["added_by_category"] == {"4": 1}
    assert md5["removed_by_category"] == {"1": 1}
    assert md5["recategorised_by_change"] == {"2 -> 3": 1}
    assert md5["added_values"] == [d] and md5["removed_values"] == [c]
    assert md5["recategorised_values"] == [{"value": b, "old": ["2"], "new": ["3"]}]
    assert result["totals"] == {"added": 1, "removed": 1, "recategorised": 1}
    assert result["old"]["version"] == "1"


def test_identical_sets_have_no_changes():
    path = FIXTURES / "hashsets" / "real" / "NSRL-CAID-AVI.json"
    with load(path) as a, load(path) as b:
        assert diff(a, b)["totals"] == {"added": 0, "removed": 0, "recategorised": 0}
