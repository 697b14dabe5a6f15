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


def test_a_plain_scan_loads_no_library_it_has_no_use_for(tmp_path):
    """A scan's start-up is part of every verdict's time: with a compiled set that is neither
    signed nor sealed, no key, and -q, it loads no cryptography, no reader of the text set
    formats, no progress bar and no XML library."""
    import subprocess
    import sys
    from triage.hashsets import compile_sources
    source = tmp_path / "known.md5"
    source.write_text("0" * 32 + "\n")
    compiled = tmp_path / "known.tset"
    compile_sources([source], compiled)
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "a.txt").write_bytes(b"not listed")
    unused = ("cryptography", "triage.hashsets.importer", "triage.hashsets.formats", "tqdm",
              "lxml")
    script = ("import sys\n"
              "from triage.cli import main\n"
              "try:\n"
              f"    main(['scan', {str(tmp_path / 'evidence')!r}, '--hashset', {str(compiled)!r},"
              f" '-o', {str(tmp_path / 'out')!r}, '-q'])\n"
              "except SystemExit as exc:\n"
              "    print(exc.code)\n"
              f"print(sorted(m for m in {unused!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.stdout.split("\n")[:2] == ["0", "[]"], out.stderr
