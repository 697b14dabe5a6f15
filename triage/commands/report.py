"""`triage report`: re-render the reports of a scan from its results database; verify that an
output folder holds what the tool wrote."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import EXIT_CLEAN, EXIT_HITS
from ..jsonout import dumps
from ..outdir import Lock, existing_outputs
from ..reporters import REPORTERS, render_all, write_manifest
from ..reporters.manifest import check as check_manifest, stale_signature
from ..results import DB_NAME, Results
from ..safetext import path_text
from ..signing import load_signer, load_trusted
from .options import PathArg, report_formats


@click.group()
def report():
    """Work with the reports of a finished or interrupted scan."""


@report.command()
@click.argument("outdir", type=PathArg(exists=True, file_okay=False, path_type=Path))
@report_formats
@click.option("--sign", "sign_key", metavar="KEY", type=PathArg(dir_okay=False),
              help="Sign the new manifest.json into manifest.sig with this private key.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def render(outdir, formats, sign_key, as_json):
    """Write OUTDIR's reports again from OUTDIR/results.sqlite and re-seal manifest.json.

    Reports of formats not asked for this time (report.csv, report.dfxml, ... from an earlier
    render) are removed, so OUTDIR holds exactly the files manifest.json lists; nothing else
    in OUTDIR is touched. A manifest.sig no longer matches the new manifest: it is made again
    with --sign KEY, and otherwise removed (and a note says so).

    With --json: {"outdir", "written": [paths], "signature_removed": path or null}.

    Exit codes: 0 written; 2 no results database in OUTDIR, unknown format, or a scan is
    still using OUTDIR."""
    signer = load_signer(sign_key) if sign_key else None
    with Lock(outdir):   # not while a scan writes to it
        stale = stale_signature(outdir, signer)
        results = Results.open(outdir)
        written = render_all(results, outdir, formats)
        results.close()
        written += write_manifest(outdir, written + [results.path], signer)
    if as_json:
        click.echo(dumps({"outdir": str(outdir), "written": [str(p) for p in written],
                          "signature_removed": None if stale is None else str(stale)},
                         indent=2))
        return EXIT_CLEAN
    for path in written:
        click.echo(path_text(str(path)))
    if stale is not None:
        click.echo(f"triage: note: {path_text(str(stale))} removed: it signed the manifest "
                   f"before this render; give --sign KEY to sign the new one", err=True)
    return EXIT_CLEAN


@report.command()
@click.argument("outdir", type=PathArg(exists=True, file_okay=False, path_type=Path))
@click.option("--trust", "trusted", multiple=True, metavar="PUBKEY",
              type=PathArg(dir_okay=False),
              help="The manifest must be signed by this key (NAME.pub); repeat for several.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def verify(outdir, trusted, as_json):
    """Check that OUTDIR holds what triage wrote: every output and the results database
    re-hashed against manifest.json, and manifest.sig's signature of it (required, and by a
    trusted key, with --trust).

    With --json: {"outdir", "intact", "files_matched", "signer" (the key's fingerprint when
    the signature holds, else null), "problems": [{"file", "problem"}]}.

    Exit codes: 0 intact; 1 altered (each altered, missing or unlisted file named);
    2 OUTDIR or its manifest unreadable."""
    trust = load_trusted(trusted) if trusted else None
    outputs = existing_outputs(outdir, [r.filename for r in REPORTERS.values()])
    with Lock(outdir):   # not while a scan or render rewrites it
        result = check_manifest(outdir, trust, outputs + [DB_NAME])
    code = EXIT_CLEAN if result.intact else EXIT_HITS
    if as_json:
        click.echo(dumps({"outdir": str(outdir), "intact": result.intact,
                          "files_matched": result.files, "signer": result.signer,
                          "problems": [{"file": name, "problem": problem}
                                       for name, problem in result.altered]}, indent=2))
        return code
    for name, problem in result.altered:
        click.echo(f"{path_text(str(outdir))}: {path_text(name)}: {problem}")
    signed = f", signed by {result.signer}" if result.signer else ", not signed"
    if result.intact:
        click.echo(f"{path_text(str(outdir))}: intact: {result.files} file(s) match "
                   f"manifest.json{signed}")
    else:
        click.echo(f"{path_text(str(outdir))}: ALTERED: {len(result.altered)} problem(s)",
                   err=True)
    return code
