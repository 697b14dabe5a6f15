"""Reporters: one module a format, each renders the canonical report (model.build) to one file.
`manifest.json` then seals every output with its SHA-256."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, NamedTuple, Sequence

from ..errors import TriageError
from ..registry import Registry


class Reporter(NamedTuple):
    filename: str
    render: Callable[[dict], bytes]


REPORTERS: Registry[Reporter] = Registry("report format")


def register(name: str, filename: str):
    def wrap(render):
        REPORTERS.add(name, Reporter(filename, render))
        return render
    return wrap


from . import case_report, csv_report, dfxml_report, html_report, json_report  # noqa: E402,F401
from .manifest import write_manifest  # noqa: E402,F401
from .model import build  # noqa: E402


def check_formats(formats: Sequence[str]) -> List[str]:
    unknown = [f for f in formats if f not in REPORTERS]
    if unknown:
        raise TriageError(f"unknown report format(s): {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(REPORTERS))})")
    # report.json is the canonical record of the scan: always written.
    return ["json"] + [f for f in dict.fromkeys(formats) if f != "json"]


def render_all(results, outdir: Path, formats: Sequence[str]) -> List[Path]:
    """Write every requested report and remove the reports of other formats that an earlier
    render left (by their registered names only), so OUTDIR holds exactly what the manifest
    will list; the caller seals them (and the database) with write_manifest once the database
    is closed."""
    report = build(results)
    wanted = check_formats(formats)
    written = []
    for name in wanted:
        reporter = REPORTERS[name]
        path = Path(outdir) / reporter.filename
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(reporter.render(report))
        tmp.replace(path)  # a reader never sees half a report
        written.append(path)
    for name, reporter in REPORTERS.items():
        stale = Path(outdir) / reporter.filename
        if name not in wanted and (stale.is_symlink() or stale.is_file()):
            stale.unlink()
    return written
