"""The verdict a field officer reads at the end of `triage scan`."""

from pathlib import Path

import pytest

from triage.commands.scan import verdict_text
from triage.results import Summary
from triage.scan import ScanOutcome


def outcome(complete=True, **summary):
    return ScanOutcome(outdir=Path("/cases/out"), summary=Summary(**summary), complete=complete,
                       exit_code=0, reports=[], elapsed=75.25)


@pytest.mark.parametrize("complete, summary, head", [
    (True, {"hits": 2, "hits_by_category": {"1": 2}},
     "HITS FOUND: 2 files match known material"),
    (False, {"hits": 2, "hits_by_category": {"1": 2}},
     "HITS FOUND: 2 files match known material in the part scanned "
     "(INTERRUPTED: the scan is not complete)"),
    (False, {}, "INTERRUPTED: no hits in the part scanned; the scan is not complete"),
    (True, {"errors": 1}, "NO HITS, BUT COVERAGE WAS NOT TOTAL: 1 item(s) could not be read"),
    (True, {}, "NO HITS: no known material found"),
])
def test_the_first_line_says_what_was_found_and_whether_the_scan_finished(complete, summary,
                                                                          head):
    again = None if complete else "triage scan ev.E01 --hashset s.json --resume"
    lines = verdict_text(outcome(complete, **summary), resume_command=again).splitlines()
    assert lines[0] == head
    assert ("Resume with: triage scan ev.E01 --hashset s.json --resume" in lines) == \
        (not complete)
    assert "Elapsed 1m15.2s. Report: /cases/out/report.json" in lines


def test_categories_and_coverage_are_counted():
    text = verdict_text(outcome(hits=3, hits_by_category={"1": 2, "\u202egpj": 1},
                                files_seen=10, files_hashed=4, files_skipped=6,
                                bytes_read=2_500_000, images_decoded=1))
    assert text.splitlines()[1:4] == [
        "  category 1: 2 files",
        "  category <U+202E>gpj: 1 file",          # a bidi override shown, not obeyed
        "Files: 10 seen, 4 hashed, 1 images decoded, 6 passed over (no set could match their "
        "size or type), 0 known-good; 2.5 MB read; 0 unreadable"]
