"""One module decides the verdict and the exit code; every caller shows what it decides."""

import pytest

from triage.errors import EXIT_CLEAN, EXIT_HITS, EXIT_INCOMPLETE, EXIT_INTERRUPTED
from triage.verdict import CLEAN, HITS, PARTIAL, category_title, decide, of_report


@pytest.mark.parametrize("summary, complete, tone, code, headline", [
    ({"hits": 1}, True, HITS, EXIT_HITS, "HITS FOUND: 1 file match known material"),
    ({"hits": 3, "errors": 2}, True, HITS, EXIT_HITS, "HITS FOUND: 3 files match known material"),
    ({"hits": 3}, False, HITS, EXIT_INTERRUPTED,
     "HITS FOUND: 3 files match known material in the part scanned (INTERRUPTED: the scan is "
     "not complete)"),
    ({}, False, PARTIAL, EXIT_INTERRUPTED,
     "INTERRUPTED: no hits in the part scanned; the scan is not complete"),
    ({"errors": 4}, True, PARTIAL, EXIT_INCOMPLETE,
     "NO HITS, BUT COVERAGE WAS NOT TOTAL: 4 item(s) could not be read"),
    ({"hits": 0, "errors": 0}, True, CLEAN, EXIT_CLEAN, "NO HITS: no known material found"),
])
def test_each_outcome_has_one_headline_tone_and_exit_code(summary, complete, tone, code,
                                                          headline):
    verdict = decide(summary, complete)
    assert (verdict.tone, verdict.exit_code, verdict.headline) == (tone, code, headline)


def test_hits_with_unread_content_say_so_beneath_the_headline():
    assert decide({"hits": 1, "errors": 2}, True).details == [
        "2 item(s) could not be read: coverage was not total"]


def test_a_coverage_note_alone_keeps_a_scan_without_hits_from_reading_clean():
    verdict = decide({"hits": 0, "errors": 0}, True, notes=["volume 3 is encrypted"])
    assert (verdict.tone, verdict.exit_code) == (PARTIAL, EXIT_INCOMPLETE)
    assert verdict.headline == "NO HITS, BUT COVERAGE WAS NOT TOTAL (see below)"
    assert verdict.details == ["volume 3 is encrypted"]


def test_a_stop_other_than_an_interruption_is_named_and_exits_by_what_was_found():
    terminated = decide({"hits": 2}, False, stopped="terminated")
    assert terminated.exit_code == 143 and "(TERMINATED: the scan is not complete)" in \
        terminated.headline
    budget = decide({}, False, stopped="time budget spent")
    assert budget.headline.startswith("TIME BUDGET SPENT: no hits")
    assert budget.exit_code == EXIT_INCOMPLETE
    assert decide({"hits": 1}, False, stopped="time budget spent").exit_code == EXIT_HITS


def test_categories_are_named_by_the_scheme_of_the_set_that_uses_them():
    sets = [{"category_scheme": "vics", "categories": {"1": 5, "2": 1}},
            {"category_scheme": "caid", "categories": {"A": 3}}]
    assert category_title("1", sets) == "1 child abuse material (CAM)"
    assert category_title("A", sets) == "A category A"
    assert category_title("B", sets) == "B"            # no set holds it: the bare label
    assert category_title("uncategorised", sets) == "uncategorised"


def _report(summary, complete=True, stopped=None, hashsets=()):
    return {"summary": {"hits": 0, "errors": 0, **summary}, "complete": complete,
            "stopped": stopped, "hashsets": list(hashsets)}


def test_a_set_that_lost_most_of_its_records_keeps_the_scan_from_reading_clean():
    lossy = {"name": "vics-2026", "records": 1000, "skipped": 999}
    verdict = of_report(_report({}, hashsets=[lossy, {"name": "nsrl", "records": 50,
                                                      "skipped": 0}]))
    assert (verdict.tone, verdict.exit_code) == (PARTIAL, EXIT_INCOMPLETE)
    assert verdict.details == [
        "hash set 'vics-2026' lost most of its records at import (999 of 1,000 skipped): "
        "known material may have been missed; check it with `triage hashset validate`"]
    # a few skipped records are a warning at import, not a coverage gap
    assert of_report(_report({}, hashsets=[{"name": "a", "records": 1000, "skipped": 3}])
                     ).tone == CLEAN


def test_the_report_says_how_an_incomplete_scan_stopped():
    verdict = of_report(_report({"hits": 2}, complete=False, stopped="terminated"))
    assert verdict.exit_code == 143 and "TERMINATED" in verdict.headline
