"""`triage batch`: many evidence items as one case, on this machine or a Dask cluster."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import click

from ..jsonout import dumps
from ..safetext import path_text, visible
from .options import PathArg, output_folder, report_formats, resume_command, thresholds

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def byte_size(ctx, param, value) -> Optional[int]:
    """A click callback for sizes: 1048576, 512M, 4G, 1.5T (powers of 1024)."""
    if value is None:
        return None
    m = _SIZE.match(value)
    if not m:
        raise click.BadParameter(f"{value!r} is not a size (e.g. 512M, 4G)")
    size = int(float(m[1]) * 1024 ** " kmgt".index(m[2].lower() or " "))
    if size < 1:
        raise click.BadParameter("must be at least one byte")
    return size


@click.command()
@click.argument("sources", nargs=-1, required=True, type=PathArg())
@click.option("--hashset", "hashsets", multiple=True, required=True, metavar="SET", type=PathArg(),
              help="A compiled set or any supported source file; repeat for several.")
@click.option("-o", "--outdir", "casedir", type=PathArg(file_okay=False, path_type=Path),
              help="Case folder: one scan folder per item, and the case report "
                   "(default: ./triage-case-YYYYmmddTHHMMSSZ).")
@report_formats
@click.option("--case-number", help="Case number, for every report.")
@click.option("--examiner", help="Examiner's name, for every report.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Files judged in parallel within each task (threads: the cluster's "
                   "workers are daemonic, one task a core).")
@click.option("--resume", is_flag=True, help="Continue a stopped batch in CASEDIR.")
@click.option("--force", is_flag=True, help="Replace a batch (or scans) already in CASEDIR.")
@click.option("--no-deleted", is_flag=True, help="Skip deleted files.")
@click.option("--threshold", "thresholds", multiple=True, callback=thresholds,
              metavar="SIGNAL=BITS", help="Override a perceptual match radius, e.g. pdq=31.")
@click.option("--scheduler", metavar="tcp://HOST:8786",
              help="Run on this Dask cluster (its workers must see the evidence, the sets "
                   "and CASEDIR at the same paths); default: a cluster on this machine.")
@click.option("--local-workers", type=click.IntRange(min=1), default=None,
              help="Worker processes of the cluster on this machine (default: one per CPU).")
@click.option("--split-size", callback=byte_size, metavar="SIZE",
              help="Split an item whose media is larger than SIZE into parts of about SIZE "
                   "to read each, e.g. 8G (default: from the batch's size and the cluster's).")
@click.option("--dashboard", metavar="[HOST]:PORT",
              help="Serve the Dask dashboard of the local cluster there (needs bokeh).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no verdict text.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON line per finished item on stdout.")
def batch(sources, hashsets, casedir, formats, case_number, examiner, workers, resume, force,
          no_deleted, thresholds, scheduler, local_workers, split_size, dashboard, quiet,
          as_json):
    """Scan many evidence items as one case: SOURCES are evidence items, folders of them
    (each found by content: E01 and split raw sets, raw images, ...) or a CSV manifest
    (path,evidence_id,notes[,kind,credential_file]). One `triage scan` per item into
    CASEDIR/<evidence_id>/, large items split across the cluster and merged; then
    CASEDIR/case.json, case.html and case.csv.

    Exit codes over the case: 0 no hits anywhere; 1 hits in some item; 2 could not run, or
    some item could not be scanned; 3 no hits, but some item was partly unreadable;
    130 interrupted (the case report is written, complete: false)."""
    from ..batch.runner import BatchRequest, run
    casedir = output_folder(casedir, resume=resume, force=force, prefix="triage-case-",
                            meta="CASEDIR of the stopped batch")
    if scheduler and (local_workers or dashboard):
        raise click.UsageError("--local-workers and --dashboard are for the cluster on this "
                               "machine, not with --scheduler")
    request = BatchRequest(
        sources=list(sources), hashsets=list(hashsets), casedir=casedir, formats=formats,
        case_number=case_number, examiner=examiner, deleted=False if no_deleted else None,
        thresholds=thresholds or None, resume=resume, force=force, workers=workers,
        scheduler=scheduler, cluster_workers=local_workers, split_size=split_size,
        dashboard=dashboard)
    outcome = run(request, _Display(quiet, as_json))
    if not quiet and not as_json:
        again = None if outcome.case["complete"] else resume_command(
            click.get_current_context(), "casedir", casedir, resume)
        click.echo(case_text(outcome, again))
    return outcome.exit_code


class _Display:
    def __init__(self, quiet: bool, as_json: bool):
        self.quiet, self.as_json = quiet, as_json

    def bar(self, items: int):
        from ..batch.progress import BatchBar
        return BatchBar(False if (self.quiet or self.as_json) else None, items)

    def dashboard(self, link: str) -> None:
        if not self.quiet and not self.as_json:
            click.echo(f"Dask dashboard: {link}", err=True)

    def item(self, entry: dict) -> None:
        if self.as_json:
            click.echo(dumps(entry))


def case_text(outcome, resume_command: Optional[str] = None) -> str:
    from ..verdict import category_title
    case = outcome.case
    t, verdict = case["totals"], case["verdict"]
    lines = [verdict["headline"]]
    for category, count in t["hits_by_category"].items():
        lines.append(f"  category {visible(category_title(category, case['hashsets']))}: "
                     f"{count} file{'s' if count != 1 else ''}")
    lines += [f"  {visible(detail)}" for detail in verdict["details"]]
    lines.append(f"Items: {t['items']:,} ({t['done']:,} scanned, {t['failed']:,} could not be "
                 f"scanned, {t['not_finished']:,} not finished); {t['files_seen']:,} files "
                 f"seen, {t['bytes_read'] / 1e6:,.1f} MB read; {t['errors']:,} unreadable")
    minutes, seconds = divmod(outcome.elapsed, 60)
    html = outcome.casedir / "case.html"
    lines.append(f"Elapsed {int(minutes)}m{seconds:04.1f}s. Case report: "
                 f"{path_text(str(html))}")
    if resume_command:
        lines.append(f"Resume with: {resume_command}")
    return "\n".join(lines)
