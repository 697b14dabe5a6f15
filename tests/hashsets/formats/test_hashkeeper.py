from support import FIXTURES
from triage.hashsets.formats import detect
from triage.records import SetEntry

REAL = FIXTURES / "hashsets" / "real" / "Z00236.hsh"


def test_real_hashkeeper_set_and_description():
    fmt = detect(REAL)
    assert fmt.name == "hashkeeper"
    entries = [e for _, e in fmt.read(REAL)]
    assert len(entries) == 6994
    assert entries[0] == SetEntry("md5", "9497acf3cf8a2e90ae82dae37b6373e4", size=91136,
                                  name="acsetups.pdb")
    assert entries[-1].value == "b24defa2e80aa94c5e27012d9624218b"
    assert fmt.describe(REAL) == {"name": "Z00236 Microsoft Windows 2000 Server",
                                  "version": "2000 Server", "kind": "known-good"}
