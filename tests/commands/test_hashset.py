import json

import pytest

from click.testing import CliRunner

from support import FIXTURES, proc_mounted, run_triage
from triage.cli import cli

REAL = FIXTURES / "hashsets" / "real"
SYN = FIXTURES / "hashsets" / "synthetic"


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], standalone_mode=False)


def test_import_then_info_json(tmp_path):
    out = tmp_path / "set.tset"
    result = invoke("hashset", "import", REAL / "NSRL-CAID-AVI.json", REAL / "NSRL-CAID-ART.json",
                    "-o", out, "--name", "CAID", "--version", "2024.1", "--no-progress")
    assert result.return_value == 0, result.output
    info = invoke("hashset", "info", out, "--json")
    data = json.loads(info.output)
    assert (data["name"], data["version"], data["kind"]) == ("CAID", "2024.1", "known-good")
    assert data["entries"] == 62
    assert data["signals"] == {"md5": 31, "sha1": 31}
    assert data["categories"] == {"8": 62}
    assert [s["format"] for s in data["sources"]] == ["vics", "vics"]


def test_info_says_photodna_cannot_match():
    result = invoke("hashset", "info", SYN / "vics-2.0-case.json")
    assert "photodna values are kept and counted but cannot be computed here" in result.output
    assert "child abuse material (CAM)" in result.output


def test_import_reports_bad_lines_and_still_writes(tmp_path):
    out = tmp_path / "s.tset"
    proc = run_triage("hashset", "import", SYN / "bsd-tag-bom-crlf.txt", "-o", out)
    assert proc.code == 0
    assert f"triage: error: {SYN / 'bsd-tag-bom-crlf.txt'}:5: not a hash line" in proc.stderr
    assert out.exists()


def test_validate_exit_codes_and_json():
    clean = invoke("hashset", "validate", REAL / "md5sum-sample.txt")
    assert clean.return_value == 0
    bad = invoke("hashset", "validate", SYN / "griffeye.csv", "--json")
    assert bad.return_value == 1
    data = json.loads(bad.output)
    assert [f["code"] for f in data["findings"]] == [
        "missing-size", "malformed", "malformed", "duplicate", "conflicting-category", "trivial"]
    assert data["clean"] is False


def test_unreadable_set_is_one_line_and_exit_2(tmp_path):
    broken = tmp_path / "broken.tset"
    broken.write_bytes(b"TRIAGEHS" + b"\0" * 200)
    for args in (("info", broken), ("validate", broken), ("diff", broken, broken)):
        proc = run_triage("hashset", *args)
        assert proc.code == 2
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.startswith(f"triage: error: {broken}:")


def test_an_output_that_cannot_be_written_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"x")
    source = tmp_path / "list.md5"
    source.write_text("d41d8cd98f00b204e9800998ecf8427f  a\n")
    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "x").write_bytes(b"x")
    for command in (("import", source), ("build", reference)):
        out = blocker / f"{command[0]}.tset"          # its "folder" is a file
        proc = run_triage("hashset", *command, "-o", out)
        assert proc.code == 2
        assert proc.stderr == f"triage: error: {out}: cannot write here: Not a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "list.md5", "reference"]


def test_diff_text_and_build(tmp_path):
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "x").write_bytes(b"x")
    built = tmp_path / "ref.tset"
    result = invoke("hashset", "build", ref, "-o", built, "--category", "1", "--no-progress",
                    "--json")
    assert result.return_value == 0
    assert json.loads(result.output)["signals"] == {"md5": 1, "sha1": 1, "sha256": 1,
                                                    "edges-xxh3": 1}
    d = invoke("hashset", "diff", REAL / "md5sum-sample.txt", built, "--json")
    totals = json.loads(d.output)["totals"]
    assert totals == {"added": 4, "removed": 4, "recategorised": 0}


def test_help_for_every_subcommand():
    for sub in ("import", "build", "info", "validate", "diff"):
        result = CliRunner().invoke(cli, ["hashset", sub, "--help"])
        assert result.exit_code == 0 and "Exit codes" in " ".join(result.output.split())


def test_import_refuses_to_replace_its_own_source(tmp_path):
    source = tmp_path / "list.md5"
    text = "d41d8cd98f00b204e9800998ecf8427f  a\n"
    source.write_text(text)
    proc = run_triage("hashset", "import", source, "-o", source)
    assert proc.code == 2
    assert proc.stderr == f"triage: error: {source}: is also a source; write the set to " \
                          "another file\n"
    assert source.read_text() == text


_OBJECT = "<fileobject><filename>{}</filename><filesize>3</filesize>" \
          "<hashdigest type='MD5'>{}</hashdigest></fileobject>\n"
_GOOD, _BAD = "d41d8cd98f00b204e9800998ecf8427e", "d41d8cd98f00b204"


def _dfxml(*objects: str) -> str:
    return "<?xml version='1.0'?>\n<dfxml version='1.0'>\n" + "".join(objects)


@pytest.mark.parametrize("text, line", [
    # a bad hash value on line 3, then the file ends inside the fileobject on line 4
    (_dfxml(_OBJECT.format("a", _BAD), _OBJECT.format("b", _GOOD)[:40]), 4),
    # a bad hash value on line 3, good records past the parser's first read, then a value on
    # line 2004 that is not even XML (an unescaped '<')
    (_dfxml(_OBJECT.format("a", _BAD), _OBJECT.format("b", _GOOD) * 2000,
            _OBJECT.format("c", "d41d<8cd"), "</dfxml>\n"), 2004),
], ids=["truncated", "bad-value"])
def test_a_broken_dfxml_is_one_line_even_after_a_bad_record(tmp_path, text, line):
    """A record's problem read before the source turns out unreadable is not said: nothing is
    written, so the one line is the reason the import stopped (it printed both before)."""
    source, out = tmp_path / "list.xml", tmp_path / "list.tset"
    source.write_text(text)
    proc = run_triage("hashset", "import", source, "-o", out)
    assert proc.code == 2, proc.stderr
    (said,) = proc.stderr.splitlines()
    assert said.startswith(f"triage: error: {source}:{line}: not well-formed XML: "), said
    assert not out.exists()


def test_a_bad_dfxml_record_alone_is_one_line_and_the_set_is_written(tmp_path):
    source, out = tmp_path / "one-bad.xml", tmp_path / "one-bad.tset"
    source.write_text(_dfxml(_OBJECT.format("a", _BAD), _OBJECT.format("b", _GOOD), "</dfxml>\n"))
    proc = run_triage("hashset", "import", source, "-o", out)
    assert proc.code == 0
    assert proc.stderr.splitlines() == [
        f"triage: error: {source}:3: md5 must be 32 hex characters, got 16"]
    assert out.exists()


def test_build_refuses_a_signal_it_cannot_compute_before_reading_anything(tmp_path):
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "a.bin").write_bytes(b"a")
    run = run_triage("hashset", "build", tmp_path / "ref", "-o", tmp_path / "x.tset",
                     "--signal", "md5,photodna")
    assert run.code == 2
    assert run.stderr == ("triage: error: triage hashset build: Invalid value for --signal: "
                          "signal 'photodna' cannot be computed from files by build\n")
    assert not (tmp_path / "x.tset").exists()


def test_build_exits_3_when_part_of_its_folder_could_not_be_read(tmp_path):
    """The set is written from what could be read, and the exit code says it lacks the rest,
    as `files` and `hash` do (a CI job building a set must not pass it on as whole)."""
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "a.bin").write_bytes(b"a")
    with proc_mounted(ref / "p"):
        run = run_triage("hashset", "build", ref, "-o", tmp_path / "x.tset", "--signal", "md5",
                         "--json")
    assert run.code == 3, run.stderr
    assert run.stderr == (f"triage: error: {ref}:p: not walked: a proc file system (the running "
                          f"kernel's state, not stored files)\n")
    assert json.loads(run.stdout)["signals"] == {"md5": 1}


def test_build_known_good_and_max_shared_go_with_blocks_and_a_block_set(tmp_path):
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "a.bin").write_bytes(bytes(range(256)) * 64)
    out = tmp_path / "x.tset"
    for option in (["--known-good", SYN / "md5sum.txt"], ["--max-shared", "3"]):
        run = run_triage("hashset", "build", ref, "-o", out, *option)
        assert run.code == 2 and f"{option[0]} goes with --blocks" in run.stderr
    md5s = tmp_path / "good.md5"
    md5s.write_text("d41d8cd98f00b204e9800998ecf8427e  empty\n")
    run = run_triage("hashset", "build", ref, "-o", out, "--blocks", "--known-good", md5s)
    assert run.code == 2
    assert run.stderr == (f"triage: error: {md5s}: --known-good needs a set with block digests "
                          f"(made with `triage hashset build --blocks`)\n")
    assert not out.exists()
