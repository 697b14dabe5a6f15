"""The results database: what a crash keeps, what a resume skips, what the summary counts."""

import hashlib
import sqlite3

import pytest

from triage.errors import TriageError
from triage.results import DB_NAME, Results, entry_key


def _hit(path, category):
    return {"entry": {"path": path}, "hashes": {"md5": "0" * 32},
            "matches": [{"kind": "alert", "category": category, "signal": "md5"}]}


@pytest.fixture
def results(tmp_path):
    r = Results.create(tmp_path)
    yield r
    r.close()


def _other_connection(tmp_path):
    """What a reader (or a resumed scan after kill -9) sees: only what was committed."""
    return sqlite3.connect(str(tmp_path / DB_NAME))


def test_a_hit_is_durable_at_once(results, tmp_path):
    ev = results.add_evidence("/evidence.E01", {"container": "ewf"})
    results.record(ev, entry_key("a"), entry_key("a"), 0, "clean", 10, True, False)
    results.record(ev, entry_key("b"), entry_key("b"), 0, "hit", 20, True, False, _hit("/b.jpg", "1"))
    with _other_connection(tmp_path) as other:
        assert other.execute("SELECT COUNT(*) FROM findings").fetchone()[0] == 1
        # the clean file before it went in the same transaction
        assert other.execute("SELECT COUNT(*) FROM done").fetchone()[0] == 2


def test_resume_sees_done_keys_and_finished_evidence(tmp_path):
    results = Results.create(tmp_path)
    ev = results.add_evidence("/evidence.E01", {})
    keys = [entry_key(f"file {i}") for i in range(3)]
    for key in keys:
        results.record(ev, key, key, 0, "skipped", 0, False, False)
    results.finish_evidence(ev)
    results.close()
    again = Results.open(tmp_path)
    assert again.done_keys() == set(keys)
    assert again.evidence() == [{"id": ev, "path": "/evidence.E01", "info": {},
                                 "finished": True}]
    assert again.add_evidence("/evidence.E01", {"size": 5}) == ev    # the same item, updated
    assert again.evidence()[0]["info"] == {"size": 5}
    again.close()


def test_summary_counts_every_verdict(results):
    ev = results.add_evidence("/e", {})
    results.record(ev, entry_key("1"), entry_key("1"), 0, "hit", 100, True, False, _hit("/1", "1"))
    results.record(ev, entry_key("2"), entry_key("2"), 0, "hit", 50, True, True, _hit("/2", "2"))
    results.record(ev, entry_key("3"), entry_key("3"), 1, "known", 30, True, False)
    results.record(ev, entry_key("4"), entry_key("4"), 1, "skipped", 0, False, False)
    results.record(ev, entry_key("5"), entry_key("5"), 1, "clean", 7, True, True)
    results.add_error(ev, {"reason": "read failed", "path": "/6"})
    results.add_error(ev, {"reason": "read failed", "path": "/6"})     # a resume records it again
    results.add_error(ev, {"reason": "truncated picture", "path": "/5"}, severity="warning")
    s = results.summary()
    assert (s.files_seen, s.files_hashed, s.files_skipped, s.files_known) == (5, 4, 1, 1)
    assert (s.images_decoded, s.bytes_read, s.hits) == (2, 187, 2)
    assert s.hits_by_category == {"1": 1, "2": 1}
    assert (s.errors, s.warnings) == (1, 1)
    assert results.volume_counts(ev) == {
        0: {"files_seen": 2, "hit": 2, "known": 0, "clean": 0, "skipped": 0, "error": 0,
            "same": 0},
        1: {"files_seen": 3, "hit": 0, "known": 1, "clean": 1, "skipped": 1, "error": 0,
            "same": 0}}


def test_the_same_file_recorded_twice_counts_once(results):
    ev = results.add_evidence("/e", {})
    results.record(ev, entry_key("x"), entry_key("x"), 0, "hit", 10, True, False, _hit("/x", "1"))
    results.record(ev, entry_key("x"), entry_key("x"), 0, "hit", 10, True, False, _hit("/x", "1"))
    assert results.summary().hits == 1 and results.summary().files_seen == 1


def test_create_starts_afresh(tmp_path):
    first = Results.create(tmp_path)
    first.record(first.add_evidence("/e", {}), entry_key("x"), entry_key("x"), 0, "clean", 1,
                 True, False)
    first.close()
    second = Results.create(tmp_path)
    assert second.done_keys() == set() and second.evidence() == []
    second.close()


def test_open_refuses_what_is_not_a_results_database(tmp_path):
    with pytest.raises(TriageError, match="results.sqlite is missing"):
        Results.open(tmp_path)
    (tmp_path / DB_NAME).write_bytes(b"not a database, just bytes" * 100)
    with pytest.raises(TriageError, match="not a triage results database"):
        Results.open(tmp_path)


def test_open_refuses_another_schema_version(tmp_path):
    Results.create(tmp_path).close()
    with sqlite3.connect(str(tmp_path / DB_NAME)) as conn:
        conn.execute("UPDATE scan SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(TriageError, match="version 99 is not 3"):
        Results.open(tmp_path)


def test_other_names_of_a_content_are_counted_apart_and_listed_with_its_finding(results):
    ev = results.add_evidence("/e", {})
    content = entry_key("volume 0 inode 21")
    results.record(ev, entry_key("/home/draft.txt"), content, 0, "hit", 87, True, False,
                   _hit("/home/draft.txt", "1"))
    results.record_name(ev, entry_key("/newer.txt"), content, 0,
                        {"path": "/newer.txt", "allocated": True, "realloc": False})
    results.record(ev, entry_key("/other"), entry_key("inode 22"), 0, "clean", 5, True, False)
    (finding,) = results.findings()
    assert finding["entry"]["path"] == "/home/draft.txt"
    assert finding["names"] == [{"path": "/newer.txt", "allocated": True, "realloc": False}]
    s = results.summary()
    assert (s.files_seen, s.other_names, s.hits, s.bytes_read) == (2, 1, 1, 92)
    assert results.volume_counts(ev)[0]["files_seen"] == 2
    assert results.volume_counts(ev)[0]["same"] == 1
    assert results.judged_contents() == {content, entry_key("inode 22")}


def test_each_finding_lists_its_own_names_in_key_order(results):
    """The names of every finding are read in one query (a report of 20,000 hits asked one
    a hit): each finding still gets its own, in key order, and a name of content that is no
    hit goes with none."""
    ev = results.add_evidence("/e", {})
    first, second, clean = (entry_key(f"inode {n}") for n in (31, 32, 33))
    results.record(ev, entry_key("/a"), first, 0, "hit", 10, True, False, _hit("/a", "1"))
    results.record(ev, entry_key("/b"), second, 0, "hit", 10, True, False, _hit("/b", "2"))
    results.record(ev, entry_key("/c"), clean, 0, "clean", 10, True, False)
    names = {"/a": ["/a2", "/a3", "/a4"], "/b": ["/b2"], "/c": ["/c2"]}
    contents = {"/a": first, "/b": second, "/c": clean}
    for path, others in names.items():
        for other in others:
            results.record_name(ev, entry_key(other), contents[path], 0, {"path": other})
    listed = {f["entry"]["path"]: [n["path"] for n in f["names"]] for f in results.findings()}
    assert listed == {"/a": sorted(names["/a"], key=lambda p: entry_key(p)), "/b": ["/b2"]}
    s = results.summary()
    assert (s.hits, s.other_names, s.hits_by_category) == (2, 5, {"1": 1, "2": 1})


def test_a_finding_reads_back_as_it_was_written_whatever_its_text(results):
    """Entries and hashes go in as msgspec writes them, and everything comes back through
    msgspec where it reads the text, through json where it does not (a lone surrogate a name
    kept, NaN, numbers past a float, a number past 64 bits): the values are those recorded."""
    import math
    from triage.results import _dumps, _loads
    odd = {"path": "/caf\udce9/\u202egpj.exe", "inode": 2 ** 70, "size": 0, "note": "é\n\x00",
           "allocated": True, "realloc": False, "volume": None}
    plain = {"path": "/a b/ü.jpg", "inode": 12, "allocated": False}
    ev = results.add_evidence("/e", {})
    for n, entry in enumerate((odd, plain)):
        matches = [{"kind": "alert", "category": "1", "signal": "md5", "distance": 0,
                    "false_positive_rate": [float("nan"), 1e-300][n]}]
        results.record(ev, entry_key(f"k{n}"), entry_key(f"c{n}"), 0, "hit", 1, True, False,
                       {"entry": entry, "hashes": {"md5": "ab" * 16, "pdq": "f" * 64},
                        "matches": matches})
        results.record_name(ev, entry_key(f"n{n}"), entry_key(f"c{n}"), 0, entry)
    found = sorted(results.findings(), key=lambda f: f["entry"]["inode"])
    assert [f["entry"] for f in found] == [plain, odd]
    assert [f["names"] for f in found] == [[plain], [odd]]
    assert found[0]["hashes"] == {"md5": "ab" * 16, "pdq": "f" * 64}
    assert found[0]["matches"][0]["false_positive_rate"] == 1e-300
    assert math.isnan(found[1]["matches"][0]["false_positive_rate"])
    assert results.summary().hits == 2
    for text in ('"\\udcff"', "NaN", "[1e400, -0.0]", "123456789012345678901234567890",
                 '{"a": [1, 2.5, null, true, "x"]}'):
        assert repr(_loads(text)) == repr(__import__("json").loads(text))
    assert _loads(_dumps(odd)) == odd and _loads(_dumps(plain)) == plain


def _with_rows(tmp_path, count):
    """A new results database with one evidence item committed, and `count` verdict rows."""
    results = Results.create(tmp_path)
    ev = results.add_evidence("/e", {})
    results.commit()
    return results, ev, [(entry_key(f"f{i}"), 0, "clean", 8192, False, False,
                          entry_key(f"c{i}")) for i in range(count)]


def test_a_batch_of_verdicts_is_written_whole_or_not_at_all(tmp_path):
    """record_many: one statement for a worker's batch; the rows go in one transaction, so a
    scan stopped at any moment has all of a batch or none of it (a resume judges it again)."""
    results, ev, rows = _with_rows(tmp_path, 10)
    results.record_many(ev, rows)
    results.abandon()   # as a crash: nothing of the batch was committed
    again = Results.open(tmp_path)
    assert again.done_keys() == set()
    again.record_many(ev, rows[:5])
    again.record_many(ev, rows[5:], [(rows[7][6], _hit("/f7", "1"))])   # a hit: at once
    with _other_connection(tmp_path) as other:
        assert {k for (k,) in other.execute("SELECT key FROM done")} == {r[0] for r in rows}
        assert other.execute("SELECT key FROM findings").fetchall() == [(rows[7][6],)]
    assert again.summary().files_seen == 10 and again.summary().hits == 1
    again.close()


def test_a_batch_counts_toward_the_next_commit_by_its_files(tmp_path, monkeypatch):
    from types import SimpleNamespace
    from triage import results as results_module
    # the clock stands still: only the count of files commits (not a second gone by)
    monkeypatch.setattr(results_module, "time", SimpleNamespace(monotonic=lambda: 0.0))
    results, ev, rows = _with_rows(tmp_path, 499)
    results.record_many(ev, rows)
    with _other_connection(tmp_path) as other:   # 499 files pending: not committed yet
        assert other.execute("SELECT COUNT(*) FROM done").fetchone()[0] == 0
    results.record_many(ev, [(entry_key("last"), 0, "clean", 0, False, False, b"x")])
    with _other_connection(tmp_path) as other:   # the 500th: committed
        assert other.execute("SELECT COUNT(*) FROM done").fetchone()[0] == 500
    results.close()


def test_a_files_key_is_led_by_its_folder_and_stable():
    """Keys of one folder's files share their first bytes (a batch's commit then touches a few
    pages of the done table), differ after, and do not change from run to run."""
    from triage.records import FileEntry
    from triage.results import file_key
    a = FileEntry("ev", "/DCIM/100/a.jpg", 1, True, inode=5)
    b = FileEntry("ev", "/DCIM/100/b.jpg", 1, True, inode=6)
    c = FileEntry("ev", "/Documents/c.jpg", 1, True, inode=7)
    assert file_key(a)[:4] == file_key(b)[:4] != file_key(c)[:4]
    assert len({file_key(a), file_key(b), file_key(c)}) == 3
    assert file_key(a) == file_key(FileEntry("ev", "/DCIM/100/a.jpg", 1, True, inode=5))
    assert file_key(a) == hashlib.blake2b(b"/DCIM/100", digest_size=4).digest() + entry_key(a.key())


@pytest.mark.parametrize("at", ["findings", "names"])
def test_an_interruption_between_a_verdicts_writes_keeps_none_of_them(tmp_path, at):
    """Ctrl-C (or SIGTERM, or a spent time budget) can land between the row of a batch's hit
    and its finding; the scan then commits what is pending. The batch must be all or none:
    a hit's row without its finding would be skipped by the resume, and the hit lost."""
    results, ev, rows = _with_rows(tmp_path, 4)
    results.record_many(ev, rows[:1])
    write = results._write

    def interrupted(sql, params=(), many=False):
        if f"INTO {at}" in sql:
            raise KeyboardInterrupt()
        return write(sql, params, many)
    results._write = interrupted
    with pytest.raises(KeyboardInterrupt):
        if at == "findings":
            results.record_many(ev, rows[1:], [(rows[2][6], _hit("/f2", "1"))])
        else:
            results.record_name(ev, rows[3][0], rows[3][6], 0, {"path": "/f3"})
    results._write = write
    results.commit()            # what the scan does at an interruption
    results.close()
    again = Results.open(tmp_path)
    assert again.done_keys() == {rows[0][0]}
    assert again.summary().hits == 0
    again.close()
