"""The bulk path (formats.blocks, read_bulk) against the per-line path it stands in for: the same
compiled columns, labels and string pool, and the same problems at the same lines, whatever
mix of clean and unclean blocks a source has. Small blocks make every source several."""

import codecs
import hashlib

import numpy as np
import pytest

from triage.hashsets.compile import Compiler
from triage.hashsets.formats import blocks, plain, table
from triage.hashsets.formats.base import Columns
from triage.hashsets.problems import Problem

BLOCK = 300     # bytes: a handful of lines a block


def md5(i):
    return hashlib.md5(str(i).encode()).hexdigest()


def sha1(i):
    return hashlib.sha1(str(i).encode()).hexdigest()


def compiled(records):
    """What a Compiler makes of a reader's output, and the problems and Columns seen."""
    compiler, problems, bulk = Compiler(), [], 0
    for record in records:
        if isinstance(record, Columns):
            compiler.add_columns(record)
            problems += record.problems
            bulk += 1
        elif isinstance(record[1], Problem):
            problems.append(record[1])
        else:
            compiler.add(record[1])
    specs, arrays = compiler.finish()
    return {"specs": specs, "arrays": arrays, "labels": compiler.label_list(),
            "problems": problems, "bulk": bulk}


def assert_same(got, want):
    assert got["specs"] == want["specs"]
    assert got["labels"] == want["labels"]
    assert got["problems"] == want["problems"]
    assert got["arrays"].keys() == want["arrays"].keys()
    for name, array in want["arrays"].items():
        assert got["arrays"][name].dtype == array.dtype, name
        assert np.array_equal(got["arrays"][name], array), name


PLAIN_LINES = (
    ["# md5sum output, with comments and blanks", ""]
    + [f"{md5(i)}  file {i}.jpg" for i in range(30)]
    + [f"{md5(30).upper()} *binary mode.bin", f"{md5(31)}", "; another comment",
       "// and another", f"{md5(32)}  trailing blanks   ", f"{md5(33)}\tafter a tab",
       f"{md5(34)}  caf\u00e9 \u00e9t\u00e9.png", f"{md5(35)}  * spaced star"]
    + [f"{md5(i)}  again {i}" for i in range(36, 60)]
    + ["this line is garbage"]                                  # line 65
    + [f"{md5(i)}  more {i}" for i in range(60, 75)]
    + [f"{md5(90)} (looks) = {md5(90)}"]        # line 81: BSD to the regexes, "algorithm" a hash
    + [f"{md5(i)}  more {i}" for i in range(75, 90)]
    + [f"{sha1(91)}  a sha1 among md5s", f"{md5(92)[:31]}  one character short"]   # 97, 98
    + [f"{md5(i)}" for i in range(93, 130)]
)


def plain_file(tmp_path, text: bytes, name="list.txt"):
    path = tmp_path / name
    path.write_bytes(text)
    return path


def both_plain(path, signal=None):
    bulk = compiled(plain.read_bulk(path, signal, block_size=BLOCK))
    per_line = compiled(plain.Plain.read(path, signal))
    return bulk, per_line


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", [b"", codecs.BOM_UTF8])
def test_plain_bulk_equals_per_line(tmp_path, ending, bom):
    path = plain_file(tmp_path, bom + ending.join(PLAIN_LINES).encode() + ending.encode())
    bulk, per_line = both_plain(path)
    assert_same(bulk, per_line)
    assert bulk["bulk"] >= 5                 # most blocks were taken whole
    assert [(p.where, p.code) for p in bulk["problems"]] == [
        (65, "malformed"), (81, "unsupported"), (98, "malformed")]
    assert bulk["problems"][2].reason == ("cannot tell the signal of a 31-character hash "
                                          "(name it with --signal)")
    assert bulk["specs"]["md5"]["rows"] == 127 and bulk["specs"]["sha1"]["rows"] == 1


def test_plain_bulk_names_match_the_regex_path(tmp_path):
    path = plain_file(tmp_path, "\n".join(PLAIN_LINES).encode() + b"\xff\xfe bad bytes\n")
    bulk, per_line = both_plain(path)
    assert_same(bulk, per_line)
    strings = bulk["arrays"]["strings.blob"].tobytes().decode()
    for name in ("binary mode.bin", "trailing blanks", "after a tab", "caf\u00e9 \u00e9t\u00e9.png",
                 " spaced star"):
        assert name in strings


def test_plain_bare_cr_block_and_forced_signal(tmp_path):
    lines = [md5(i) for i in range(40)]
    text = ("\n".join(lines[:20]) + "\r" + "\n".join(lines[20:]) + "\n").encode()
    path = plain_file(tmp_path, text)
    bulk, per_line = both_plain(path)
    assert_same(bulk, per_line)
    assert bulk["specs"]["md5"]["rows"] == 40
    # 16 hex characters are nothing by length, but phash when named
    path = plain_file(tmp_path, "".join(f"{md5(i)[:16]}\n" for i in range(40)).encode(), "p.txt")
    bulk, per_line = both_plain(path, "phash")
    assert_same(bulk, per_line)
    assert bulk["bulk"] and bulk["specs"]["phash"]["rows"] == 40
    bulk, per_line = both_plain(path)
    assert_same(bulk, per_line)
    assert not bulk["bulk"] and len(bulk["problems"]) == 40


def test_plain_utf16_is_read_per_line(tmp_path):
    path = plain_file(tmp_path, "\r\n".join(PLAIN_LINES).encode("utf-16"))
    bulk, per_line = both_plain(path)
    assert_same(bulk, per_line)
    assert bulk["bulk"] == 0 and bulk["specs"]["md5"]["rows"] == 127


HEADER = "MD5,SHA1,PDQ,File Size,Category,Series,FileName,Quality"


def table_rows(n, start=0):
    rows = []
    for i in range(start, start + n):
        category = ["1", "2", "01", " 3", "", "Child exploitative", "A"][i % 7]
        sha = sha1(i) if i % 3 else ""
        pdq = hashlib.sha256(str(i).encode()).hexdigest() if i % 5 == 0 else ""
        quality = str(i % 101) if pdq and i % 2 else ""
        series = ["", "Series A", " padded "][i % 3]
        rows.append(f"{md5(i)},{sha},{pdq},{1000 + i},{category},{series},f{i}.jpg,{quality}")
    return rows


def both_table(path, category=None):
    bulk = compiled(table.read_rows_bulk(open(path, "rb"), category=category, block_size=BLOCK))
    per_line = compiled(table.read_rows(open(path, "rb"), category=category))
    return bulk, per_line


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_table_bulk_equals_per_line(tmp_path, ending):
    rows = [HEADER] + table_rows(40) + [f"{md5(40)},,,,1,,nosize.jpg,"] + table_rows(40, 41) \
        + ["not-a-hash,,,10,1,,bad.jpg,", ",,,,,,,", "", f"{md5(82)},,,10"] + table_rows(30, 83)
    path = tmp_path / "t.csv"
    path.write_bytes(codecs.BOM_UTF8 + ending.join(rows).encode() + ending.encode())
    bulk, per_line = both_table(path)
    assert_same(bulk, per_line)
    assert bulk["bulk"] >= 5
    assert [(p.where, p.code) for p in bulk["problems"]] == [
        (42, "missing-size"), (83, "malformed"), (86, "malformed")]
    assert bulk["labels"] == ["1", "2", "3", "Child exploitative", "A"]


def test_table_default_category_and_no_category_column(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("md5\tsize\n" + "".join(f"{md5(i)}\t{i}\n" for i in range(60)))
    bulk, per_line = both_table(path, category="known-good")
    assert_same(bulk, per_line)
    assert bulk["bulk"] and bulk["labels"] == ["known-good"]


def test_table_id_column_bulk_equals_per_line(tmp_path):
    """A source's record ID (an `ID` or `MediaID` column) is kept in the compiled set, the
    same on both paths."""
    rows = ["MD5,PDQ,MediaID,Category"] + [
        f"{md5(i)},{hashlib.sha256(str(i).encode()).hexdigest() if i % 4 == 0 else ''},"
        f"{['', f'M-{i}', f' {i} '][i % 3]},1" for i in range(60)]
    path = tmp_path / "ids.csv"
    path.write_text("\n".join(rows) + "\n")
    bulk, per_line = both_table(path)
    assert_same(bulk, per_line)
    assert bulk["bulk"] >= 2 and {"md5.id", "pdq.id"} <= set(bulk["arrays"])
    entries = [e for _, e in table.read_rows(open(path, "rb"))]
    assert [e.id for e in entries if e.signal == "md5"][:6] == [None, "M-1", "2", None, "M-4",
                                                                 "5"]


def test_table_quote_reads_the_rest_per_line(tmp_path):
    rows = [HEADER] + table_rows(40) + [f'{md5(40)},,,5,1,,"a name\nover two lines",'] \
        + table_rows(20, 41) + ["garbage"]
    path = tmp_path / "q.csv"
    path.write_text("\n".join(rows) + "\n")
    bulk, per_line = both_table(path)
    assert_same(bulk, per_line)
    assert bulk["bulk"] >= 2
    assert [(p.where, p.reason) for p in bulk["problems"]] == [(64, "expected 8 fields, got 1")]
    assert "a name\nover two lines" in bulk["arrays"]["strings.blob"].tobytes().decode()


def test_blocks_count_lines_as_universal_newlines():
    import io
    data = b"a\r\nb\rc\nd\n\ne"
    got = list(blocks.blocks(io.BytesIO(data), 1, size=3))
    assert b"".join(block for _, _, block in got) == data
    numbers = [(number, offset) for number, offset, _ in got]
    lines = [line for number, _, block in got for line in blocks.numbered(block, number)]
    assert lines == [(1, "a"), (2, "b"), (3, "c"), (4, "d"), (5, ""), (6, "e")]
    assert numbers[0] == (1, 0)


def test_field_parsers():
    data = b"12,0,999999999999999999,7x,"
    arr = np.frombuffer(data, np.uint8)
    starts, ends = np.array([0, 3, 5]), np.array([2, 4, 23])
    assert blocks.decimals(arr, starts, ends, 18).tolist() == [12, 0, 999999999999999999]
    assert blocks.decimals(arr, np.array([24]), np.array([26]), 18) is None     # "7x"
    assert blocks.decimals(arr, np.array([27]), np.array([27]), 18) is None     # empty
    hexes = b"00ffAb\n0g"
    arr = np.frombuffer(hexes, np.uint8)
    assert blocks.hex_digests(arr, np.array([0]), 6).tolist() == [[0, 255, 171]]
    assert blocks.hex_digests(arr, np.array([7]), 2) is None
    cats = b"1,2,1,,long label,2"
    arr = np.frombuffer(cats, np.uint8)
    starts, ends = np.array([0, 2, 4, 6, 7, 18]), np.array([1, 3, 5, 6, 17, 19])
    values, index = blocks.distinct(cats, arr, starts[[0, 1, 2, 3, 5]], ends[[0, 1, 2, 3, 5]])
    assert values == [b"1", b"2", b""] and index.tolist() == [0, 1, 0, 2, 1]
    values, index = blocks.distinct(cats, arr, starts, ends)
    assert values == [b"1", b"2", b"", b"long label"] and index.tolist() == [0, 1, 0, 2, 3, 1]


NSRL_HEADER = '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode","OpSystemCode",' \
              '"SpecialCode"'


def nsrl_rows(n, start=0):
    names = ["plain.dll", "with, comma.txt", "", "semi;colon", "caf\u00e9.sys"]
    return [f'"{sha1(i).upper()}","{md5(i).upper()}","0000ABCD","{names[i % 5]}",{100 + i},'
            f'{i},"WIN",""' for i in range(start, start + n)]


def test_quoted_tables_bulk_equals_per_line(tmp_path):
    """NSRL RDS 2 rows: every text field quoted, commas inside names; a bad hash, a row
    without its size, and (late) a `""` escape, after which the rest is read per line."""
    rows = [NSRL_HEADER] + nsrl_rows(40) + ['"XYZ","00","0","bad.txt",1,1,"WIN",""'] \
        + nsrl_rows(30, 40) + [f'"{sha1(70)}","{md5(70)}","0","nosize",,1,"WIN",""'] \
        + nsrl_rows(30, 71) + [f'"{sha1(101)}","{md5(101)}","0","say ""hi""",5,1,"WIN",""'] \
        + nsrl_rows(20, 102)
    path = tmp_path / "NSRLFile.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    mapping = {"SHA-1": "sha1", "MD5": "md5", "FileName": "name", "FileSize": "size"}
    bulk = compiled(table.read_rows_bulk(open(path, "rb"), mapping, "known-good",
                                         block_size=BLOCK))
    per_line = compiled(table.read_rows(open(path, "rb"), mapping, "known-good"))
    assert_same(bulk, per_line)
    assert bulk["bulk"] >= 5
    assert [(p.where, p.code) for p in bulk["problems"]] == [
        (42, "malformed"), (42, "malformed"), (73, "missing-size")]
    strings = bulk["arrays"]["strings.blob"].tobytes().decode()
    assert "with, comma.txt" in strings and 'say "hi"' in strings


def test_hashdeep_bulk_equals_per_line(tmp_path):
    from triage.hashsets.formats import hashdeep
    lines = ["%%%% HASHDEEP-1.0", "%%%% size,md5,sha256,filename", "## a comment"]
    lines += [f"{i},{md5(i)},{hashlib.sha256(str(i).encode()).hexdigest()},dir/f,{i}.txt"
              for i in range(40)]
    lines += [f",{md5(40)},{hashlib.sha256(b'40').hexdigest()},nosize", "garbage line",
              f"7,{md5(41)},short,x"]
    lines += [f"{i},{md5(i)},{hashlib.sha256(str(i).encode()).hexdigest()},n{i}"
              for i in range(42, 70)]
    lines += ["## now md5 only", "%%%% size,md5,tiger,filename"]
    lines += [f"{i},{md5(i)},{'ab' * 24},t{i}" for i in range(70, 100)]
    path = tmp_path / "list.hashdeep"
    path.write_text("\r\n".join(lines) + "\r\n")
    bulk = compiled(hashdeep.read_bulk(path, block_size=BLOCK))
    per_line = compiled(hashdeep.Hashdeep.read(path))
    assert_same(bulk, per_line)
    assert bulk["bulk"] >= 5
    assert [(p.where, p.code) for p in bulk["problems"]] == [
        (44, "missing-size"), (45, "malformed"), (46, "malformed")]
    assert bulk["specs"]["md5"]["rows"] == 100 and bulk["specs"]["sha256"]["rows"] == 69
