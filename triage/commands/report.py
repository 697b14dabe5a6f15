"""`triage report render`: re-render the reports of a scan from its results database."""

from __future__ import annotations

from pathlib import Path

import click

from ..outdir import Lock
from ..reporters import render_all, write_manifest
from ..safetext import path_text
from ..results import Results
from .options import report_formats


@click.group()
def report():
    """Work with the reports of a finished or interrupted scan."""


@report.command()
@click.argument("outdir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@report_formats
def render(outdir, formats):
    """Write OUTDIR's reports again from OUTDIR/results.sqlite and re-seal manifest.json.

    Reports of formats not asked for this time (report.csv, report.dfxml, ... from an earlier
    render) are removed, so OUTDIR holds exactly the files manifest.json lists; nothing else
    in OUTDIR is touched.

    Exit codes: 0 written; 2 no results database in OUTDIR, unknown format, or a scan is
    still using OUTDIR."""
    with Lock(outdir):   # not while a scan writes to it
        results = Results.open(outdir)
        written = render_all(results, outdir, formats)
        results.close()
        written.append(write_manifest(outdir, written + [results.path]))
    for path in written:
        click.echo(path_text(str(path)))
    return 0
