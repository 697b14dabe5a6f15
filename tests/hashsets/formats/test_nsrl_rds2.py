import hashlib

from support import FIXTURES
from triage.hashsets.formats import detect
from triage.records import SetEntry

REAL = FIXTURES / "hashsets" / "real" / "NSRLFile-rds2-sample.txt"
SYN = FIXTURES / "hashsets" / "synthetic"


def test_real_modern_order_sample():
    fmt = detect(REAL)
    assert fmt.name == "nsrl-rds2" and fmt.kind == "known-good"
    entries = [e for _, e in fmt.read(REAL)]
    assert len(entries) == 436                      # 218 rows, SHA-1 and MD5 each
    assert entries[:2] == [
        SetEntry("sha1", "00d1034546f530d746131ce2a28a052db21652ec", "known-good", None, 503,
                 "INFODESK.IC$"),
        SetEntry("md5", "2193697c470774ea58da24b3bac5fcde", "known-good", None, 503,
                 "INFODESK.IC$"),
    ]


def test_old_order_with_md4_column():
    path = SYN / "NSRLFile-rds2-old-order.txt"
    assert detect(path).name == "nsrl-rds2"
    entries = [e for _, e in detect(path).read(path)]
    assert [(e.signal, e.value, e.size) for e in entries] == [
        ("sha1", hashlib.sha1(b"x").hexdigest(), 3000),
        ("md5", hashlib.md5(b"x").hexdigest(), 3000),      # MD5, not the MD4 before it
        ("sha1", hashlib.sha1(b"y").hexdigest(), 4000),
        ("md5", hashlib.md5(b"y").hexdigest(), 4000),
    ]


def test_distribution_zip():
    path = SYN / "rds-modern.zip"
    assert detect(path).name == "nsrl-rds2"
    entries = [e for _, e in detect(path).read(path)]
    assert [(e.signal, e.value, e.name) for e in entries] == [
        ("sha1", hashlib.sha1(b"z").hexdigest(), "z.txt"),
        ("md5", hashlib.md5(b"z").hexdigest(), "z.txt")]
