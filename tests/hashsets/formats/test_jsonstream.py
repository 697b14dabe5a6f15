"""The streaming splitter finds exactly the records a JSON parser finds, whatever the chunk size
(escaped quotes, backslash runs, brackets inside strings, records split across chunks), and
stops at its bounds with a line and column."""

import io
import json
import random

import pytest

from triage.hashsets.formats import jsonstream
from triage.hashsets.formats.jsonstream import Splitter
from triage.hashsets.problems import Problem, SourceError

PIECES = ["a", "\\", '"', "{", "}", "[", "]", ",", "\u00e9", "\n", ":"]


def split(doc: bytes, monkeypatch, chunk: int):
    monkeypatch.setattr(jsonstream, "CHUNK", chunk)
    records, problems = [], []
    for part in Splitter(io.BytesIO(doc)):
        if isinstance(part, Problem):
            problems.append(part)
        else:
            records += [json.loads(part.data[a:b]) for a, b in part.spans.tolist()]
    return records, problems


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
def test_records_found_are_the_parsers_records(monkeypatch, chunk):
    rng = random.Random(chunk)
    for _ in range(25):
        records = []
        for i in range(rng.randint(0, 12)):
            text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 16)))
            records.append({"MD5": f"{i:032x}", "Name": text,
                            "MediaFiles": [{"FileName": text}] * rng.randint(0, 2)})
        doc = json.dumps({"odata.metadata": "x", "value": records},
                         ensure_ascii=rng.random() < 0.5).encode()
        assert split(doc, monkeypatch, chunk) == (records, [])


def test_case_export_records_are_the_media(monkeypatch):
    doc = json.dumps({"@odata.context": "x", "value": [
        {"CaseNumber": "1", "Tags": [{"a": 1}], "Media": [{"MD5": "1"}, {"MD5": "2"}]},
        {"Media": [], "Other": [{"MD5": "not a record"}]},
        {"Media": [{"MD5": "3"}]}]}).encode()
    for chunk in (5, 1 << 20):
        assert split(doc, monkeypatch, chunk) == ([{"MD5": "1"}, {"MD5": "2"}, {"MD5": "3"}], [])


@pytest.mark.parametrize("doc, where, reason", [
    (b'{"value":[{"a":1}', "1:18", "the file ends inside 2 open object(s) or array(s)"),
    (b'{"value":[{"a":"1}]}', "1:21", "the file ends inside a string"),
    (b'{"value":[]}]', "1:13", "a closing bracket that closes nothing"),
    (b'{"value":[{"a":1]]}', "1:17", "a closing bracket of the wrong kind"),
    (b'{"value":[]} {}', "1:14", "content after the end of the JSON document"),
    (b'{"value":[]} x', "1:14", "content after the end of the JSON document"),
    (b'{"value":[]}' + b" " * 9 + b"\n x", "2:2", "content after the end of the JSON document"),
    (b'[{"value":[]}]', "1:1", "the document is not a JSON object"),
    (b'{"value":[' + b"[" * 70, "1:73", "JSON nested deeper than 64 levels (limit)"),
])
def test_broken_structure_stops_with_its_position(monkeypatch, doc, where, reason):
    with pytest.raises(SourceError) as caught:
        split(doc, monkeypatch, 4)
    assert caught.value.problem == Problem(where, f"{reason}, reading stopped")


def test_gaps_between_records_are_checked(monkeypatch):
    records, problems = split(b'{"value":[{"a":1},\n 5, {"a":2}, ]}', monkeypatch, 3)
    assert records == [{"a": 1}, {"a": 2}]
    assert [p.reason for p in problems] == [
        "something other than a record between records at line 1 column 18",
        "a comma after the last record at line 2 column 12"]
