"""hashdb 3 JSON exports: a source line is a whole-file MD5 with its size and first filename;
block lines (MD5s of hash blocks) are counted in one warning and never imported. The lines
are written here in the shape hashdb's `export` writes (its import_json reader's fields)."""

from __future__ import annotations

import hashlib
import json

from support import run_triage
from triage.hashsets import load
from triage.hashsets.formats import detect
from triage.hashsets.problems import Problem
from triage.records import SetEntry


def _export(tmp_path, files):
    lines = ["# hashdb-Version: 3.1.0", "# command: hashdb export db.hdb out.json"]
    for name, data in files.items():
        md5 = hashlib.md5(data).hexdigest()
        lines.append(json.dumps({"file_hash": md5, "filesize": len(data), "file_type": "",
                                 "zero_count": 0, "nonprobative_count": 0,
                                 "name_pairs": ["repo", name, "other-repo", "copy-" + name]}))
        for i in range(0, len(data), 512):
            lines.append(json.dumps({
                "block_hash": hashlib.md5(data[i:i + 512]).hexdigest(), "k_entropy": 7,
                "block_label": "", "source_sub_counts": [md5, 1]}))
    path = tmp_path / "export.json"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_sources_are_md5_entries_and_blocks_one_warning(tmp_path):
    files = {"a.jpg": b"a" * 1500 + b"b" * 600, "b.jpg": bytes(range(256)) * 4}
    path = _export(tmp_path, files)
    fmt = detect(path)
    assert fmt.name == "hashdb-json"
    items = list(fmt.read(path))
    entries = [(w, i) for w, i in items if isinstance(i, SetEntry)]
    assert [(w, e.signal, e.value, e.size, e.name) for w, e in entries] == [
        (3, "md5", hashlib.md5(files["a.jpg"]).hexdigest(), 2100, "a.jpg"),
        (9, "md5", hashlib.md5(files["b.jpg"]).hexdigest(), 1024, "b.jpg")]
    (warning,) = [i for _, i in items if isinstance(i, Problem)]
    assert (warning.severity, warning.code) == ("warning", "unsupported")
    assert warning.reason.startswith("7 block hash record(s) not imported: they are MD5s of "
                                     "hash blocks (hashdb)")
    out = tmp_path / "x.tset"
    run = run_triage("hashset", "import", path, "-o", out)
    assert run.code == 0 and "7 block hash record(s) not imported" in run.stderr
    with load(out) as hs:
        assert hs.signals == {"md5"} and hs.info.entries == 2
        assert hs.info.sources[0]["format"] == "hashdb-json"


def test_bad_lines_are_problems_of_their_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"file_hash":"' + "ab" * 16 + '","filesize":3,"name_pairs":[]}\n'
                    '{"file_hash":12}\n{"other":1}\n{"file_hash":"zz"}\nnot json\n')
    items = list(detect(path).read(path))
    assert [(w, getattr(i, "reason", None) or i.value) for w, i in items] == [
        (1, "ab" * 16), (2, "file_hash is not text"),
        (3, "neither a file_hash nor a block_hash record"),
        (4, items[3][1].reason), (5, "not a JSON object")]
    assert isinstance(items[3][1], Problem) and items[3][0] == 4
