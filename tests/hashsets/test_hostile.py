"""Hostile hash-set sources (issue 10 items 3, 7, 8, 9 and issue 9 item 11), through the real
command under memory and time limits: each ends in one stderr line per problem and exit 0 or
2, never `internal error`, never a silently empty or shrunk set."""

import hashlib
import json
import sqlite3
import struct
import zipfile

import pytest

from support import FIXTURES
from triage.hashsets import HashSet
from triage.hashsets.limits import MAX_LINE

REAL = FIXTURES / "hashsets" / "real"
SECRET = "SECRET-CONTENT"          # written into bad records; must never reach a message
VICS_HEAD = '{"odata.metadata":"http://github.com/ICMEC/ProjectVic/DataModels/1.2.xml#Media",' \
            '"value":['


def md5(i) -> str:
    return hashlib.md5(str(i).encode()).hexdigest()


def vics(records) -> str:
    return VICS_HEAD + ",\n".join(records) + "]}"


def imported(bounded, tmp_path, source, *extra):
    out = tmp_path / "out.tset"
    run = bounded("hashset", "import", source, "-o", out, "--no-progress", *extra)
    assert "internal error" not in run.stderr and "Traceback" not in run.stderr
    assert SECRET not in run.stderr
    return run, out


def refused(run, path, reason):
    assert run.code == 2, run.stderr
    assert len(run.lines()) == 1, run.stderr
    assert run.stderr.startswith(f"triage: error: {path}") and reason in run.stderr, run.stderr


# -- memory bombs (issue 10 #3) ---------------------------------------------------------------

def test_a_vics_file_of_open_brackets_is_refused_at_the_depth_bound(bounded, tmp_path):
    path = tmp_path / "brackets.json"
    path.write_text(VICS_HEAD + "[" * 1_000_000)
    run, out = imported(bounded, tmp_path, path)
    refused(run, path, ":1:")
    assert "nested deeper than 64 levels (limit)" in run.stderr
    assert not out.exists()


def test_a_deeply_nested_record_is_refused(bounded, tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(vics([f'{{"MD5":"{md5(1)}","x":' + "[" * 100_000 + "]" * 100_000 + "}"]))
    run, _ = imported(bounded, tmp_path, path)
    refused(run, path, "nested deeper than 64 levels (limit), reading stopped")


def test_a_vics_record_past_the_record_bound_is_refused(bounded, tmp_path):
    path = tmp_path / "big.json"
    path.write_text(vics([f'{{"MD5":"{md5(1)}","Comments":"{"x" * (17 << 20)}"}}']))
    run, _ = imported(bounded, tmp_path, path)
    refused(run, path, "record 1 is longer than 16 MiB (limit)")


@pytest.mark.parametrize("name, head", [
    ("list.md5", f"{md5(1)}  a\n"),
    ("list.csv", "md5,size\n"),
    ("NSRLFile.txt", '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode",'
                     '"OpSystemCode","SpecialCode"\n'),
    ("set.hsh", '"file_id","hashset_id","file_name","directory","hash","file_size"\n'),
    ("list.hashdeep", "%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n"),
])
def test_a_line_past_the_line_bound_is_refused_in_every_text_format(bounded, tmp_path, name,
                                                                     head):
    path = tmp_path / name
    path.write_text(head + "9" * (MAX_LINE + 10))
    run, _ = imported(bounded, tmp_path, path)
    line = head.count("\n") + 1
    refused(run, f"{path}:{line}", "line longer than 1 MiB: not a hash-set line (limit)")


def test_a_quoted_field_running_past_the_bound_is_refused(bounded, tmp_path):
    path = tmp_path / "open.csv"
    path.write_text("md5,name\n" + f'{md5(1)},"never closed\n' + "more text\n" * 200_000)
    run, _ = imported(bounded, tmp_path, path)
    refused(run, path, "quoted field longer than 1 MiB (limit), reading stopped")


def nsrl_zip(path, member: bytes, compress=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compress) as archive:
        archive.writestr("NSRLFile.txt", member)


def test_an_nsrl_zip_inflating_past_the_ratio_is_refused_before_reading(bounded, tmp_path):
    # The bomb: one endless line, deflated a thousand times smaller.
    path = tmp_path / "bomb.zip"
    nsrl_zip(path, b'"SHA-1","MD5","CRC32","FileName","FileSize"\n' + b"A" * (256 << 20))
    assert path.stat().st_size < 1 << 20
    run, out = imported(bounded, tmp_path, path)
    refused(run, path, "zip member inflates to 268,435,500 bytes from")
    assert run.seconds < 20 and not out.exists()


def test_an_honest_zip_holding_an_endless_line_stops_at_the_line_bound(bounded, tmp_path):
    path = tmp_path / "line.zip"
    nsrl_zip(path, b'"SHA-1","MD5","CRC32","FileName","FileSize"\n' + b"A" * (3 << 20),
             zipfile.ZIP_STORED)
    run, _ = imported(bounded, tmp_path, path)
    refused(run, f"{path}:2", "line longer than 1 MiB")


def test_a_zip_with_a_bad_crc_is_one_line(bounded, tmp_path):
    path = tmp_path / "crc.zip"
    member = '"SHA-1","MD5","CRC32","FileName","FileSize"\n' + "".join(
        f'"{hashlib.sha1(str(i).encode()).hexdigest()}","{md5(i)}","0","n",1\n'
        for i in range(50))
    nsrl_zip(path, member.encode(), zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    data[200] ^= 0x01                       # a stored byte changed: the CRC no longer fits
    path.write_bytes(bytes(data))
    run, _ = imported(bounded, tmp_path, path)
    refused(run, path, "zip member is damaged or truncated")


def test_an_encrypted_zip_is_one_line(bounded, tmp_path):
    path = tmp_path / "locked.zip"
    nsrl_zip(path, b'"SHA-1","MD5","CRC32","FileName","FileSize"\n', zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    for at in (6, data.rfind(b"PK\x01\x02") + 8):       # flag bit 0, local and central
        struct.pack_into("<H", data, at, struct.unpack_from("<H", data, at)[0] | 1)
    path.write_bytes(bytes(data))
    run, _ = imported(bounded, tmp_path, path)
    refused(run, path, "zip member is encrypted")


def rds3(path, view_sql):
    db = sqlite3.connect(path)
    db.executescript(view_sql)
    db.commit()
    db.close()


def test_an_rds3_view_inventing_rows_is_refused(bounded, tmp_path):
    path = tmp_path / "endless.db"
    rds3(path, "CREATE VIEW FILE AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
               "FROM c) SELECT printf('%032x', x) AS md5, x AS file_size, 'n' AS file_name "
               "FROM c")
    run, _ = imported(bounded, tmp_path, path)
    refused(run, path, "FILE yields more rows than the database has bytes")


def test_an_rds3_view_that_never_ends_is_stopped_by_its_step_budget(bounded, tmp_path):
    path = tmp_path / "spin.db"
    rds3(path, "CREATE VIEW FILE AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
               "FROM c) SELECT printf('%032x', x) AS md5, x AS file_size FROM c WHERE x < 0")
    run, _ = imported(bounded, tmp_path, path)
    refused(run, path, "took more than its step budget")
    scan = bounded("scan", tmp_path, "--hashset", path, "-o", tmp_path / "scan-out")
    assert scan.code == 2 and "step budget" in scan.stderr and len(scan.lines()) == 1


def test_an_rds3_value_past_the_line_bound_is_refused(bounded, tmp_path):
    path = tmp_path / "wide.db"
    rds3(path, "CREATE VIEW FILE AS SELECT hex(zeroblob(100000000)) AS md5, 1 AS file_size")
    run, _ = imported(bounded, tmp_path, path)
    refused(run, path, "unreadable NSRL database")


# -- a bad record never shrinks a set silently (issue 10 #7) ----------------------------------

def thousand(bad: int, replace):
    records = [json.dumps({"MD5": md5(i), "MediaSize": i, "Category": 1}) for i in range(1000)]
    records[bad] = replace(records[bad])
    return vics(records)


def column_of(path, line: int, text: str) -> int:
    return path.read_text().splitlines()[line - 1].rindex(text) + 1


def test_a_trailing_comma_in_one_record_skips_that_record_only(bounded, tmp_path):
    path = tmp_path / "comma.json"
    path.write_text(thousand(1, lambda r: r[:-1] + ", }"))
    run, out = imported(bounded, tmp_path, path, "--json")
    assert run.code == 0
    assert run.lines() == [f"triage: error: {path}:record 2: invalid JSON at line 2 column "
                           f"{column_of(path, 2, '}')}: Expecting property name enclosed in "
                           "double quotes"]
    info = json.loads(run.stdout)
    assert (info["entries"], info["records"], info["skipped"], info["problems"]) == \
        (999, 1000, 1, 1)
    shown = bounded("hashset", "info", out)
    assert "records:    1,000 read at import, 1 skipped (a problem each), 1 problem(s) in all" \
        in shown.stdout.splitlines()
    checked = bounded("hashset", "validate", out)
    assert checked.code == 1 and checked.stdout == (
        f"{out}: warning: 1 problem(s) in the sources when this set was imported (1 of 1,000 "
        "records skipped)\n")


def test_a_comma_after_the_last_record_loses_nothing_and_is_reported(bounded, tmp_path):
    path = tmp_path / "last.json"
    path.write_text(thousand(999, lambda r: r + ","))
    run, _ = imported(bounded, tmp_path, path, "--json")
    assert run.code == 0 and json.loads(run.stdout)["entries"] == 1000
    assert run.lines() == [f"triage: error: {path}: a comma after the last record at line "
                           f"1000 column {column_of(path, 1000, ',')}"]


def test_a_broken_structure_is_fatal_with_line_and_column(bounded, tmp_path):
    path = tmp_path / "open.json"
    path.write_text(thousand(500, lambda r: r.replace(f'"{md5(500)}"', f'"{md5(500)}')))
    run, out = imported(bounded, tmp_path, path)
    # The MD5's closing quote is gone: every quote after it pairs the other way, so the file
    # ends inside a string; nothing before the end could be trusted to be what it seems.
    end = len(path.read_text().splitlines()[-1]) + 1
    refused(run, f"{path}:1000:{end}: ", "the file ends inside a string, reading stopped")
    assert not out.exists()


def test_validate_counts_a_skipped_record_and_exits_1(bounded, tmp_path):
    path = tmp_path / "comma.json"
    path.write_text(thousand(1, lambda r: r[:-1] + ", }"))
    run = bounded("hashset", "validate", path)
    assert run.code == 1
    assert run.stdout.splitlines()[0] == f"{path}:record 2: error: invalid JSON at line 2 " \
                                         f"column {column_of(path, 2, '}')}: Expecting " \
                                         "property name enclosed in double quotes"


# -- unicode digits, surrogates (issue 10 #8) --------------------------------------------------

SQUARED = "\u00b2"


@pytest.mark.parametrize("name, text, where", [
    ("list.csv", f"md5,size,category\n{md5(1)},{SQUARED},1\n{md5(2)},5,{SQUARED}\n", "2"),
    ("NSRLFile.txt", '"SHA-1","MD5","CRC32","FileName","FileSize"\n'
                     f'"{hashlib.sha1(b"1").hexdigest()}","{md5(1)}","0","n",{SQUARED}\n', "2"),
    ("list.hashdeep", f"%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n{SQUARED},{md5(1)},n\n",
     "3"),
    ("set.hsh", '"file_id","hashset_id","file_name","directory","hash","file_size"\n'
                f'1,2,"n",,"{md5(1)}",{SQUARED}\n', "2"),
    ("set.json", vics([json.dumps({"MD5": md5(1), "MediaSize": SQUARED, "Category": 1},
                                  ensure_ascii=False)]), "record 1"),
])
def test_a_non_ascii_digit_is_a_problem_of_its_line(bounded, tmp_path, name, text, where):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    run, out = imported(bounded, tmp_path, path, "--json")
    assert run.code == 0, run.stderr
    assert f"triage: error: {path}:{where}: size is not a whole number of bytes" in run.lines()
    with HashSet(out) as hs:
        assert hs.lookup("md5", [bytes.fromhex(md5(1))])[0][0].size is None


def test_a_non_ascii_digit_in_an_rds3_size(bounded, tmp_path):
    path = tmp_path / "rds3.db"
    rds3(path, f"CREATE TABLE FILE (md5 TEXT, file_size TEXT, file_name TEXT); "
               f"INSERT INTO FILE VALUES ('{md5(1)}', '{SQUARED}', 'n')")
    run, _ = imported(bounded, tmp_path, path)
    assert run.code == 0
    assert run.lines() == [f"triage: error: {path}:row 1: size is not a whole number of bytes"]


def test_a_squared_category_is_kept_as_a_label_not_a_crash(bounded, tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text(f"md5,category\n{md5(1)}, {SQUARED} \n", encoding="utf-8")
    run, out = imported(bounded, tmp_path, path)
    assert run.code == 0 and run.stderr == ""
    with HashSet(out) as hs:
        assert hs.info.categories == {SQUARED: 1}


def test_lone_surrogate_escapes_in_vics_are_read(bounded, tmp_path):
    path = tmp_path / "surrogate.json"
    path.write_text(vics(['{"MD5":"%s","MediaSize":1,"Category":"\\ud800x","FileName":'
                          '"a\\udc00b","Series":"\\ud801"}' % md5(1)]))
    run, out = imported(bounded, tmp_path, path)
    assert run.code == 0 and run.stderr == ""
    with HashSet(out) as hs:
        entry = hs.lookup("md5", [bytes.fromhex(md5(1))])[0][0]
        assert (entry.category, entry.name, entry.series) == \
            ("\ufffd\ufffd\ufffdx", "a\udc00b", "\ufffd\ufffd\ufffd")


# -- no set content in messages (issue 10 #9) -------------------------------------------------

def test_json_errors_are_one_line_with_a_position_only(bounded, tmp_path):
    path = tmp_path / "nan.json"
    path.write_text(vics([f'{{"MD5":"{md5(1)}","MediaSize": NaN, "FileName":"{SECRET}"}}',
                          f'{{"MD5":"{md5(2)}","FileName":"{SECRET}", ]']))
    run, _ = imported(bounded, tmp_path, path)
    first = path.read_text().index('{"MD5"') + 1
    assert run.lines() == [
        f"triage: error: {path}:record 1: invalid JSON in the record at line 1 column {first}: "
        "NaN is not a JSON number",
        f"triage: error: {path}:record 2: invalid JSON at line 2 column "
        f"{path.read_text().splitlines()[1].index(', ]') + 3}: Expecting property name "
        "enclosed in double quotes"]


@pytest.mark.parametrize("name, text", [
    ("list.md5", f"MD5 ({SECRET}) = {md5(1)}\nFOO-{SECRET} (x) = {md5(2)}\n"),
    ("set.json", vics([json.dumps({"MD5": md5(1), "AlternativeHashes": [
        {"HashName": SECRET, "HashValue": "00"}]})])),
    ("list.csv", f"md5,size,category\n{SECRET},1,2\n{md5(1)},{SECRET},{SECRET}\n"),
])
def test_problem_lines_quote_nothing_from_the_set(bounded, tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    run, _ = imported(bounded, tmp_path, path)     # asserts SECRET is not in stderr
    assert run.code == 0 and run.lines()


# -- .hke alone (issue 9 #11) ------------------------------------------------------------------

def test_an_hke_given_alone_reads_its_set(bounded, tmp_path):
    run, out = imported(bounded, tmp_path, REAL / "Z00236.hke", "--json")
    assert run.code == 0
    info = json.loads(run.stdout)
    assert (info["name"], info["kind"], info["entries"]) == \
        ("Z00236 Microsoft Windows 2000 Server", "known-good", 6994)
    assert [(s["path"], s["format"]) for s in info["sources"]] == \
        [(str(REAL / "Z00236.hsh"), "hashkeeper")]


def test_an_hke_without_its_hsh_says_where_the_hashes_are(bounded, tmp_path):
    lone = tmp_path / "Z00236.hke"
    lone.write_bytes((REAL / "Z00236.hke").read_bytes())
    run, _ = imported(bounded, tmp_path, lone)
    refused(run, lone, "a HashKeeper set description (.hke) holds no hashes; they are in "
                       "Z00236.hsh beside it, which is not there")


def test_a_category_column_of_free_text_is_bounded(bounded, tmp_path):
    many = tmp_path / "many.csv"
    many.write_text("md5,category\n" + "".join(f"{md5(i)},c{i}\n" for i in range(70_000)))
    run, out = imported(bounded, tmp_path, many)
    refused(run, many, "more than 65,534 distinct categories (limit): not a category column")
    assert not out.exists()
    long = tmp_path / "long.csv"
    long.write_text(f"md5,category\n{md5(1)},{'x' * 300}\n{md5(2)},1\n")
    run, out = imported(bounded, tmp_path, long)
    assert run.code == 0
    assert run.lines() == [f"triage: error: {long}:2: category longer than 256 characters"]
    with HashSet(out) as hs:
        assert hs.lookup("md5", [bytes.fromhex(md5(1))])[0][0].category is None
        assert hs.info.categories == {"1": 1}
