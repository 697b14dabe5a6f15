"""`triage scan`: the main job."""

from __future__ import annotations

import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import click

from .. import STARTED
from ..evidence.live import targets as live_targets
from ..jsonout import dumps
from ..reporters.manifest import stale_signature
from ..progress import BarProgress
from ..safetext import path_text, visible
from ..scan import ScanRequest, scan as run_scan
from ..verdict import category_title, decide
from .options import (PathArg, evidence_access, output_folder, report_formats, resume_command,
                      thresholds, video_options)


@click.command()
@click.argument("evidence", nargs=-1, type=PathArg())
@evidence_access
@click.option("--hashset", "hashsets", multiple=True, required=True, metavar="SET", type=PathArg(),
              help="A compiled set or any supported source file; repeat for several.")
@click.option("-o", "--outdir", type=PathArg(file_okay=False, path_type=Path),
              help="Folder for the results (default: ./triage-YYYYmmddTHHMMSSZ).")
@report_formats
@click.option("--case-number", help="Case number, for the report.")
@click.option("--examiner", help="Examiner's name, for the report.")
@click.option("--evidence-id", help="Exhibit or evidence reference, for the report.")
@click.option("--notes", help="Free text for the report.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Files judged in parallel (default: one per CPU).")
@click.option("--resume", is_flag=True, help="Continue an interrupted scan in OUTDIR.")
@click.option("--force", is_flag=True, help="Replace a scan already in OUTDIR.")
@click.option("--no-deleted", is_flag=True, help="Skip deleted files.")
@click.option("--no-archives", is_flag=True,
              help="Do not look inside archives and compressed files (zip, 7z, rar, tar, gz, "
                   "...); each is judged as one file only.")
@click.option("--threshold", "thresholds", multiple=True, callback=thresholds,
              metavar="SIGNAL=BITS", help="Override a perceptual match radius, e.g. pdq=31 "
                                          "(vpdq=R: the radius of one video frame).")
@video_options
@click.option("--live", is_flag=True,
              help="Also scan this machine's block devices and unlocked /dev/mapper devices "
                   "(read-only), leaving out the device triage runs from.")
@click.option("--trust", "trusted", multiple=True, metavar="PUBKEY",
              type=PathArg(dir_okay=False),
              help="Use only sets signed by this key (NAME.pub); repeat for several keys.")
@click.option("--sign", "sign_key", metavar="KEY", type=PathArg(dir_okay=False),
              help="Sign manifest.json into manifest.sig with this private key (NAME.key).")
@click.option("--blocks", is_flag=True, default=None,
              help="Also sweep the whole media (unallocated space, slack, gaps) for 4 KiB "
                   "blocks of reference files: needs a set made with `hashset build --blocks`.")
@click.option("--sample", "sample", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              metavar="CONFIDENCE",
              help="Read random 4 KiB blocks of the media until, with this confidence (e.g. "
                   "0.99), --min-amount of known material would have been met; scan in full "
                   "only on a hit. Needs a set made with `hashset build --blocks`. Without a "
                   "hit: exit 3.")
@click.option("--min-amount", "min_amount", metavar="BYTES",
              help="With --sample: the least amount of known material the sample must not "
                   "miss (e.g. 20MiB, 500KiB, 1048576).  [default: 20MiB]")
@click.option("--time-budget", "time_budget", metavar="DURATION",
              help="Stop after this long (90s, 15m, 2h) with a partial report "
                   "(complete: false); exit 3 when nothing was found by then.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no verdict text.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON on stdout.")
def scan(evidence, hashsets, outdir, formats, case_number, examiner, evidence_id, notes,
         workers, resume, force, no_deleted, no_archives, thresholds, video, live, trusted,
         sign_key, blocks, sample, min_amount, time_budget, quiet, as_json):
    """Scan EVIDENCE (disk images, E01, split raw, devices or folders) for files in the hash
    sets, allocated and deleted, in every partition. Writes OUTDIR/report.json (and csv, html),
    OUTDIR/manifest.json and the results database that --resume continues from.

    Exit codes: 0 complete, no hits; 1 hits found; 2 could not run; 3 no hits but some
    content could not be read; 130 interrupted (the partial report is written)."""
    outdir = output_folder(outdir, resume=resume, force=force, prefix="triage-",
                           meta="OUTDIR of the interrupted scan")
    if live:
        devices, lines = live_targets(outdir)
        evidence = (*evidence, *devices)
        if not (quiet or as_json):
            click.echo("\n".join(lines), err=True)
    if not evidence:
        raise click.UsageError("Missing argument 'EVIDENCE...' (or --live)")
    if min_amount is not None and sample is None and not resume:
        raise click.UsageError("--min-amount goes with --sample")
    signer = trust = None
    waited = 0.0   # at a passphrase prompt: the examiner's typing is not the scan's time
    if sign_key or trusted:   # `cryptography` loads only for a key
        from ..signing import load_signer, load_trusted
        asked = time.monotonic()
        signer = load_signer(sign_key) if sign_key else None  # the passphrase before the scan
        trust = load_trusted(trusted) if trusted else None
        waited = time.monotonic() - asked
    stale = stale_signature(outdir, signer) if resume else None
    request = ScanRequest(
        evidence=list(evidence), hashsets=list(hashsets), outdir=outdir, formats=formats,
        case={"case_number": case_number, "examiner": examiner, "evidence_id": evidence_id,
              "notes": notes},
        workers=workers or 0, resume=resume, force=force,
        # None: not given, so a resume keeps what the scan started with
        deleted=False if no_deleted else None, thresholds=thresholds or None, video=video,
        archives=False if no_archives else None,
        trust=trust, signer=signer,
        blocks=True if blocks else None, sample=sample,
        min_amount=_parse(amount, min_amount, "--min-amount") if min_amount else None,
        time_budget=_parse(duration, time_budget, "--time-budget") if time_budget else None,
        started=STARTED + waited)
    progress = BarProgress(False if (quiet or as_json) else None)
    outcome = run_scan(request, progress)
    if stale is not None and not stale.exists():
        click.echo(f"triage: note: {path_text(str(stale))} removed: it signed the manifest "
                   f"before this resume; give --sign KEY to sign the new one", err=True)
    if as_json:
        click.echo(dumps({"outdir": str(outcome.outdir), "exit_code": outcome.exit_code,
                          "complete": outcome.complete, "elapsed_seconds":
                          round(outcome.elapsed, 3), "summary": outcome.summary.__dict__,
                          "reports": [str(p) for p in outcome.reports]}, indent=2))
    elif not quiet:
        again = None if not outcome.resumable else resume_command(
            click.get_current_context(), "outdir", outdir, resume)
        click.echo(verdict_text(outcome, outcome.hashsets, again), err=False)
    return outcome.exit_code


def _parse(parser, text: str, flag: str):
    try:
        return parser(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=flag) from None


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "kb": 1000, "m": 1 << 20, "mib": 1 << 20,
          "mb": 1000 ** 2, "g": 1 << 30, "gib": 1 << 30, "gb": 1000 ** 3}


def amount(text: str) -> int:
    """`20MiB`, `500KiB`, `1GB`, `1048576` -> bytes."""
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS or int(m.group(1)) == 0:
        raise ValueError(f"{text!r}: expected a positive amount such as 20MiB, 500KiB or "
                         f"1048576")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def duration(text: str) -> float:
    """`90s`, `15m`, `2h`, `1.5h`, `600` (seconds) -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"{text!r}: expected a duration such as 90s, 15m or 2h")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def verdict_text(outcome, hashsets=(), resume_command: Optional[str] = None) -> str:
    s = outcome.summary
    verdict = outcome.verdict or decide(asdict(s), outcome.complete)
    lines = [verdict.headline]
    for category, count in s.hits_by_category.items():
        lines.append(f"  category {visible(category_title(category, hashsets))}: {count} "
                     f"file{'s' if count != 1 else ''}")
    lines += [f"  {visible(detail)}" for detail in verdict.details]
    decoded = "".join(f", {n:,} {what} decoded" for n, what in (
        (s.images_decoded, "images"), (s.videos_decoded, "videos")) if n)
    screened = (f", {s.files_screened:,} cleared by their first and last 4 KiB (fingerprint "
                f"listed nowhere)" if s.files_screened else "")
    lines.append(f"Files: {s.files_seen:,} seen, {s.files_hashed:,} hashed{decoded}{screened}, "
                 f"{s.files_skipped:,} passed over (no set could match their size or type), "
                 f"{s.files_known:,} known-good; {s.bytes_read / 1e6:,.1f} MB read; "
                 f"{s.errors:,} unreadable")
    if s.warnings:
        lines.append(f"Warnings: {s.warnings} (see the report)")
    minutes, seconds = divmod(outcome.elapsed, 60)
    html = outcome.outdir / "report.html"
    main = html if html.exists() else outcome.outdir / "report.json"
    lines.append(f"Elapsed {int(minutes)}m{seconds:04.1f}s. Report: {path_text(str(main))}")
    if resume_command:
        lines.append(f"Resume with: {resume_command}")
    return "\n".join(lines)
