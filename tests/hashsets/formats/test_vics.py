import hashlib
import json

import pytest

from support import FIXTURES
from triage.hashsets.formats import detect
from triage.hashsets.problems import Problem, SourceError
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


def test_truncated_json_is_fatal_with_its_position(tmp_path):
    # Reading on would lose the rest of the file without saying so (issue 10 #7).
    path = tmp_path / "cut.json"
    path.write_bytes((REAL / "NSRL-CAID-AVI.json").read_bytes()[:3000])
    with pytest.raises(SourceError) as caught:
        read(path)
    assert str(caught.value.at(path)) == f"{path}:36:102: the file ends inside a string, " \
                                          "reading stopped"


def test_bulk_and_per_record_reading_compile_alike(tmp_path):
    """The typed and generic bulk paths against record_entries, on every shape: the real CAID
    files, the case export, variant key spellings, missing sizes, names from MediaFiles or
    FileName, string and int categories, a bad record among good ones."""
    from hashsets.test_bulk import assert_same, compiled
    records = []
    for i in range(60):
        record = {"MD5": hashlib.md5(str(i).encode()).hexdigest(), "Category": i % 3}
        if i % 7:
            record["MediaSize"] = str(i) if i % 2 else i
        if i % 5 == 0:
            record["FileName"] = f"f{i}" if i % 10 else ""
        if i % 3 == 0:
            record["MediaFiles"] = [{"FileName": f"m{i}"}] if i % 2 else []
        if i % 11 == 0:
            record["Series"] = f" s{i} "
        if i % 13 == 0:
            record["sha-1"] = hashlib.sha1(str(i).encode()).hexdigest()   # a variant spelling
        if i == 41:
            record["Category"] = "A"
        if i == 50:
            record["MD5"] = "not hex"
        records.append(record)
    path = tmp_path / "mix.json"
    path.write_text('{"odata.metadata":"x/DataModels/1.2.xml#Media","value":[\n' +
                    ",\n".join(json.dumps(r) for r in records) + "]}")
    for source in (path, REAL / "NSRL-CAID-AVI.json", REAL / "NSRL-CAID-ART.json",
                   SYN / "vics-2.0-case.json", SYN / "vics-1.1-hashset.json"):
        fmt = detect(source)
        assert_same(compiled(fmt.read_bulk(source)), compiled(fmt.read(source)))


def test_utf16_vics_is_read_as_utf8(tmp_path):
    path = tmp_path / "utf16.json"
    path.write_bytes((REAL / "NSRL-CAID-AVI.json").read_text(encoding="utf-8")
                     .encode("utf-16"))
    assert detect(path).name == "vics"
    entries, problems = read(path)
    assert problems == [] and len(entries) == 60
    assert entries[0].name == "DXP_Relic_Intro.avi"


def test_media_ids_come_through_every_path_the_reader_takes(tmp_path):
    """The typed bulk path, the generic bulk path and the per-record path all keep MediaID as
    the entry's ID (0, NSRL-CAID's value for every record, is none)."""
    from triage.hashsets import compile_sources, load
    typed = [{"MD5": f"{i:032x}", "MediaSize": 10 + i, "Category": 1, "MediaID": i}
             for i in range(3)]
    generic = [{"md5": f"{i:032x}", "MediaSize": 10 + i, "Category": 1, "ID": f"x{i}"}
               for i in range(3)]
    per_record = [{"MD5": f"{i:032x}", "MediaSize": "bad", "MediaID": i} for i in range(3)]
    for records, ids in ((typed, {None, "1", "2"}), (generic, {"x0", "x1", "x2"}),
                         (per_record, {None, "1", "2"})):
        source = tmp_path / "v.json"
        source.write_text(json.dumps({"odata.metadata": "http://x/$metadata#DataModels/1.2.xml",
                                      "value": records}))
        compile_sources([source], tmp_path / "v.tset")
        with load(tmp_path / "v.tset") as hs:
            assert {e.id for e in hs.iter_entries("md5")} == ids


def test_vics_alternative_hash_vpdq_gives_one_entry_a_frame(tmp_path):
    frame = "162f24caf95043a9bb2f3a8edb52ac7e1083d95466add3696299a1709d723c8f"
    text = f"0,100,{frame},0.000\n25,40,{frame[::-1]},1.0\n50,100,zz,2.0"
    doc = {"odata.metadata": "http://github.com/VICSDATAMODEL/ProjectVic.svc/$metadata#Cases",
           "value": [{"CaseNumber": "1", "Media": [
               {"MediaID": 7, "Category": 1, "MediaSize": 900, "MD5": "a" * 32,
                "AlternativeHashes": [{"HashName": "vPDQ", "HashValue": text}]},
               {"MediaID": None, "Category": 2,  "MediaSize": 5,
                "AlternativeHashes": [{"HashName": "vpdq",
                                       "HashValue": f"0,90,{frame},0.0;1,90,{frame},1.0"}]}]}]}
    path = tmp_path / "video.json"
    path.write_text(json.dumps(doc))
    entries, problems = read(path)
    video = [e for e in entries if e.signal == "vpdq"]
    assert [(e.value.split(",")[0], e.quality, e.id, e.category, e.size) for e in video] == [
        ("0", 100, "7", "1", 900), ("25", 40, "7", "1", 900),
        ("0", 90, video[2].id, "2", 5), ("1", 90, video[2].id, "2", 5)]
    # Without a MediaID, the video's ID is the digest of its vPDQ text.
    assert video[2].id == hashlib.sha256(
        f"0,90,{frame},0.000\n1,90,{frame},1.000\n".encode()).hexdigest()
    assert [e.signal for e in entries if e.signal != "vpdq"] == ["md5"]
    assert [p.reason for p in problems] == [
        "vpdq value is not `frame,quality,pdq_hex,timestamp`"]
