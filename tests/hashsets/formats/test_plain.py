import hashlib

from support import FIXTURES
from triage.hashsets.formats import detect
from triage.hashsets.problems import Problem
from triage.records import SetEntry

REAL = FIXTURES / "hashsets" / "real"
SYN = FIXTURES / "hashsets" / "synthetic"


def read(path, signal=None):
    items = list(detect(path).read(path, signal))
    return ([e for _, e in items if isinstance(e, SetEntry)],
            [p for _, p in items if isinstance(p, Problem)])


def h(algo, label):
    return hashlib.new(algo, label.encode()).hexdigest()


def test_md5sum_text_mode_real_sample():
    assert detect(REAL / "md5sum-sample.txt").name == "plain"
    entries, problems = read(REAL / "md5sum-sample.txt")
    assert problems == []
    assert len(entries) == 4
    assert entries[0] == SetEntry("md5", "92e792c43c35e96fed3f9566083326fc", name="/Users/jessek/a.out")


def test_md5sum_binary_mode_real_sample():
    entries, problems = read(REAL / "md5sum-binary-mode-sample.txt")
    assert problems == [] and len(entries) == 28
    assert entries[0].value == "866823fb29c0bf5d8dbc35e1cf14c2d9"
    assert entries[0].name == "blkcalc.exe"          # the binary-mode '*' is not in the name


def test_bsd_tags_with_bom_crlf_and_garbage_lines():
    entries, problems = read(SYN / "bsd-tag-bom-crlf.txt")
    assert [(e.signal, e.value, e.name) for e in entries] == [
        ("md5", h("md5", "a"), "a.jpg"),
        ("sha1", h("sha1", "a"), "a.jpg"),
        ("sha256", h("sha256", "b"), "dir/b c.png"),
    ]
    assert [(p.where, p.reason) for p in problems] == [
        (5, "not a hash line"), (6, "md5 must be 32 hex characters, got 31")]


def test_utf16_sha256sum():
    entries, problems = read(SYN / "sha256sum-utf16.txt")
    assert problems == []
    assert [(e.signal, e.value, e.name) for e in entries] == [
        ("sha256", h("sha256", "d"), "d.jpg"), ("sha256", h("sha256", "e"), "e.jpg")]


def test_md5deep_size_column():
    entries, _ = read(SYN / "md5deep-size.txt")
    assert [(e.value, e.size) for e in entries] == [
        (h("md5", "f"), 1024), ("0123456789abcdef0123456789abcd00", 2048000)]


def test_bare_hashes_take_their_signal_from_the_length():
    entries, problems = read(SYN / "bare-mixed.txt")
    assert [e.signal for e in entries] == ["md5", "sha1", "sha256"]
    assert [p.where for p in problems] == [6]


def test_forced_signal_reads_16_hex_values():
    assert read(SYN / "md5deep-size.txt", "md5")[0][0].signal == "md5"


def test_pdq_hasher_lines_carry_quality():
    entries, problems = read(SYN / "pdq-hasher.txt")
    assert problems == []
    assert [(e.signal, e.quality, e.name) for e in entries] == [
        ("pdq", 100, "i.jpg"), ("pdq", 35, "j.jpg"), ("pdq", 0, "flat.jpg")]
    assert entries[0].value == hashlib.sha256(b"pdqi").hexdigest()
