from support import FIXTURES
from triage.hashsets import compile_sources, load
from triage.hashsets.validate import validate

SYN = FIXTURES / "hashsets" / "synthetic"
REAL = FIXTURES / "hashsets" / "real"


def test_every_kind_of_finding_on_the_griffeye_sample(tmp_path):
    good = tmp_path / "good.tset"
    compile_sources([SYN / "md5deep-size.txt"], good, kind="known-good")
    with load(good) as kg:
        findings = validate(SYN / "griffeye.csv", kg)
    got = [(f.severity, f.code, f.where, f.signal, f.count) for f in findings]
    assert got == [
        ("warning", "missing-size", "7", None, 1),
        ("error", "malformed", "8", None, 1),
        ("error", "malformed", "9", None, 1),
        ("warning", "duplicate", None, "md5", 1),
        ("error", "conflicting-category", None, "md5", 1),
        ("error", "trivial", None, "md5", 1),
        ("warning", "known-good", None, "md5", 1),
    ]
    assert findings[5].examples == ["d41d8cd98f00b204e9800998ecf8427e"]
    assert findings[6].examples == ["0123456789abcdef0123456789abcd00"]


def test_perceptual_findings():
    findings = validate(SYN / "pdq-hasher.txt")
    assert [(f.code, f.count) for f in findings] == [("degenerate", 1), ("low-quality", 2)]


def test_clean_real_sample_and_compiled_set(tmp_path):
    assert validate(REAL / "md5sum-sample.txt") == []
    out = tmp_path / "g.tset"
    compile_sources([SYN / "griffeye.csv"], out)
    codes = [f.code for f in validate(out)]
    assert codes == ["malformed", "duplicate", "conflicting-category", "trivial"]
