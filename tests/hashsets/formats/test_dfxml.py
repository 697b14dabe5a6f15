"""DFXML hash lists (hashdeep/md5deep `-d`, fiwalk, hashdb DFXML exports): whole-file digests
imported with their size and name; piecewise (block) MD5s, which cannot make a triage block
set, counted in one warning and never taken for whole-file digests. The files are written here
by the real hashdeep and md5deep."""

from __future__ import annotations

import hashlib
import random
import shutil
import subprocess

import pytest

from support import run_triage
from triage.hashsets import load
from triage.hashsets.formats import detect
from triage.hashsets.problems import Problem, SourceError
from triage.records import SetEntry

needs_deep = pytest.mark.skipif(not (shutil.which("hashdeep") and shutil.which("md5deep")),
                                reason="needs hashdeep and md5deep")


@pytest.fixture
def files(tmp_path):
    folder = tmp_path / "ref"
    folder.mkdir()
    made = {}
    for i, size in enumerate((10 * 4096 + 300, 4096, 777)):
        data = random.Random(i).randbytes(size)
        (folder / f"f{i}.jpg").write_bytes(data)
        made[str(folder / f"f{i}.jpg")] = data
    return folder, made


def _run(*args, out):
    out.write_bytes(subprocess.run(args, check=True, capture_output=True).stdout)
    return out


@needs_deep
def test_hashdeep_dfxml_gives_each_file_s_digests_size_and_name(files, tmp_path):
    folder, made = files
    path = _run("hashdeep", "-d", "-r", str(folder), out=tmp_path / "hd.xml")
    fmt = detect(path)
    assert fmt.name == "dfxml"
    entries = [e for _, e in fmt.read(path)]
    assert all(isinstance(e, SetEntry) for e in entries)
    assert sorted((e.name, e.signal, e.value, e.size) for e in entries) == sorted(
        (name, signal, getattr(hashlib, signal)(data).hexdigest(), len(data))
        for name, data in made.items() for signal in ("md5", "sha256"))


@needs_deep
def test_piecewise_digests_are_counted_in_one_warning_and_not_imported(files, tmp_path):
    folder, made = files
    path = _run("md5deep", "-d", "-p", "4096", "-r", str(folder), out=tmp_path / "pw.xml")
    items = [i for _, i in detect(path).read(path)]
    entries = [i for i in items if isinstance(i, SetEntry)]
    assert sorted((e.name, e.value) for e in entries) == sorted(
        (name, hashlib.md5(data).hexdigest()) for name, data in made.items())
    pieces = sum(-(-len(d) // 4096) for d in made.values())
    assert pieces == 13
    (warning,) = [i for i in items if isinstance(i, Problem)]
    assert (warning.where, warning.severity, warning.code) == ("", "warning", "unsupported")
    assert warning.reason.startswith("13 piecewise (block) digests in 3 file object(s) not "
                                     "imported: they are MD5s of pieces of the files")
    out = tmp_path / "pw.tset"
    run = run_triage("hashset", "import", path, "-o", out)
    assert run.code == 0 and f"triage: warning: {path}: 13 piecewise" in run.stderr
    with load(out) as hs:
        assert hs.signals == {"md5"} and hs.info.entries == 3
    run = run_triage("hashset", "validate", path)
    assert run.code == 1 and f"{path}: warning: 13 piecewise (block) digests" in run.stdout


def test_file_objects_without_a_known_digest_are_one_warning(tmp_path):
    path = tmp_path / "fiwalk.xml"
    path.write_text("<?xml version='1.0'?>\n<dfxml xmlns='http://www.forensicswiki.org/wiki/"
                    "Category:Digital_Forensics_XML' version='1.0'>\n"
                    "<fileobject><filename>a</filename><filesize>3</filesize></fileobject>\n"
                    "<fileobject><filename>b</filename><filesize>4</filesize>"
                    "<hashdigest type='tiger'>00</hashdigest></fileobject>\n"
                    "<fileobject><filename>c</filename><filesize>x</filesize>"
                    "<hashdigest type='sha1'>" + "ab" * 20 + "</hashdigest>"
                    "<hashdigest type='SHA1'>" + "cd" * 20 + "</hashdigest></fileobject>\n"
                    "</dfxml>\n")
    items = list(detect(path).read(path))
    assert [(w, type(i).__name__, getattr(i, "reason", None) or i.value) for w, i in items] == [
        (5, "Problem", "sha1 given twice"),
        (5, "Problem", "size is not a whole number of bytes"),
        (5, "SetEntry", "ab" * 20),
        ("", "Problem", "2 file object(s) without a whole-file digest triage knows (MD5, SHA1, "
                        "SHA256...): not imported")]


def test_broken_xml_is_one_line_with_its_line(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text("<?xml version='1.0'?>\n<dfxml>\n<fileobject>\n<filename>a</fileobject>\n")
    with pytest.raises(SourceError):
        list(detect(path).read(path))
    run = run_triage("hashset", "import", path, "-o", tmp_path / "x.tset")
    assert run.code == 2
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"triage: error: {path}:4: not well-formed XML:")


def test_an_entity_bomb_is_refused_in_one_line(tmp_path):
    """A billion-laughs document: libxml2's amplification bound stops it (no entity is
    expanded into memory), one line naming the file, exit 2."""
    lol = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10 if i else "lol"}">\n'
                  for i in range(10))
    path = tmp_path / "lol.xml"
    path.write_text(f"<?xml version='1.0'?>\n<!DOCTYPE dfxml [\n{lol}]>\n<dfxml>"
                    f"<fileobject><filename>&l9;</filename><hashdigest type='md5'>&l9;"
                    f"</hashdigest></fileobject></dfxml>\n")
    with pytest.raises(SourceError, match="not well-formed XML"):
        list(detect(path).read(path))
    run = run_triage("hashset", "import", path, "-o", tmp_path / "x.tset")
    assert run.code == 2 and len(run.stderr.splitlines()) == 1
    assert run.stderr.startswith(f"triage: error: {path}:")
