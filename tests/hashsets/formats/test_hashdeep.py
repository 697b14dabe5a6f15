from support import FIXTURES
from triage.hashsets.formats import detect
from triage.records import SetEntry

REAL = FIXTURES / "hashsets" / "real" / "hashdeep-sample.txt"


def test_real_hashdeep_sample(tmp_path):
    fmt = detect(REAL)
    assert fmt.name == "hashdeep"
    items = list(fmt.read(REAL))
    assert all(isinstance(e, SetEntry) for _, e in items)
    assert len(items) == 6
    where, first = items[0]
    assert where == 5
    assert first == SetEntry("md5", "6f4a8ac099c4fe85164b8631c7f0bd2b", size=622,
                             name="/Users/jessek/projects/md5deep/sample-hashes/ilookv3.hsh")
    assert items[1][1].value == "2f1cf7a397bb8eed63b225d5d4fd5e2fc71788c8ae12db94147d1f5e227a4118"


def test_line_without_header_and_short_line(tmp_path):
    path = tmp_path / "h.txt"
    path.write_text("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n## c\n12,abc\n"
                    "5,d41d8cd98f00b204e9800998ecf8427e,a,b.txt\n")
    items = list(detect(path).read(path))
    assert items[0][1].reason == "expected 3 fields, got 2"
    assert items[1][1].name == "a,b.txt"           # commas in the last column stay in the name
