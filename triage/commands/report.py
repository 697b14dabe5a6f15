"""`triage report render`: re-render the reports of a scan from its results database."""

from __future__ import annotations

from pathlib import Path

import click

from ..reporters import check_formats, render_all, write_manifest
from ..results import Results


@click.group()
def report():
    """Work with the reports of a finished or interrupted scan."""


@report.command()
@click.argument("outdir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "formats", default="json,csv,html", show_default=True,
              help="Reports to write; report.json is always written.")
def render(outdir, formats):
    """Write OUTDIR's reports again from OUTDIR/results.sqlite and re-seal manifest.json.

    Exit codes: 0 written; 2 no results database in OUTDIR or unknown format."""
    names = check_formats([f.strip().lower() for f in formats.split(",") if f.strip()])
    results = Results.open(outdir)
    written = render_all(results, outdir, names)
    results.close()
    written.append(write_manifest(outdir, written + [results.path]))
    for path in written:
        click.echo(str(path))
    return 0
