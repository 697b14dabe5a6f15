"""Reporters: one module a format, each renders the canonical report (model.build) to one file.
`manifest.json` then seals every output with its SHA-256."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, List, NamedTuple, Optional, Sequence

from ..atomic import write_all
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


def render_all(results, outdir: Path, formats: Sequence[str],
               report: Optional[dict] = None) -> List[Path]:
    """Write every requested report (of `report`, or of the one `results` gives), all or none,
    and remove the reports of other formats that an earlier render left (by their registered
    names only), so OUTDIR holds exactly what the manifest will list; the caller seals them
    (and the database) with write_manifest once the database is closed."""
    report = build(results) if report is None else report
    wanted = check_formats(formats)
    rendered = {Path(outdir) / REPORTERS[name].filename: REPORTERS[name].render(report)
                for name in wanted}
    write_all(rendered)
    for name, reporter in REPORTERS.items():
        stale = Path(outdir) / reporter.filename
        if name not in wanted and (stale.is_symlink() or stale.is_file()):
            stale.unlink()
    return list(rendered)
