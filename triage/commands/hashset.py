"""`triage hashset`: import, build, describe, validate and diff hash sets."""

from __future__ import annotations

import click
import numpy as np

from .. import signals
from ..errors import EXIT_CLEAN, EXIT_HITS, EXIT_INCOMPLETE, HashSetError
from ..hashsets import HashSet, categories, compile_sources, load
from ..hashsets.build import (DEFAULT_SIGNALS, MAX_SHARED, NothingToBuild, build_set,
                               buildable)
from ..hashsets.diff import diff as diff_sets
from ..hashsets.importer import KINDS
from ..hashsets import sealed as sealing, store
from ..hashsets.validate import validate as validate_set
from ..jsonout import dumps
from ..safetext import path_text, visible
from .options import PathArg, set_video_match, thresholds

SHOWN_PROBLEMS = 20


class ProblemPrinter:
    """Bad records go to stderr as `FILE:LINE: reason`, the first few in full, then a count.
    They are said at `close()`, once the set is written: a source found unreadable further on
    (a truncated XML, a bound passed) stops the command with its one error line, and the
    records skipped before it were never part of a set."""

    def __init__(self):
        self.count = 0
        self.errors = 0
        self.shown = []

    def __call__(self, path, problem) -> None:
        self.count += 1
        self.errors += problem.severity == "error"
        if self.count <= SHOWN_PROBLEMS:
            self.shown.append(f"triage: {problem.severity}: {visible(problem.line(path))}")

    def close(self) -> None:
        for line in self.shown:
            click.echo(line, err=True)
        if self.count > SHOWN_PROBLEMS:
            click.echo(f"triage: {self.count - SHOWN_PROBLEMS} more problem(s) not shown "
                       "(run `triage hashset validate` for all)", err=True)


def _progress(value):
    return True if value is None else value


@click.group()
def hashset():
    """Import, build, describe, validate and compare hash sets.

    A set is compiled once into one file (`-o SET`); everywhere a set is asked for, a compiled
    set or any supported source file works (the format is recognised from the content)."""


@hashset.command("import")
@click.argument("sources", nargs=-1, required=True, type=PathArg())
@click.option("-o", "--output", required=True, type=PathArg(dir_okay=False),
              help="Compiled set to write.")
@click.option("--name", help="Set name (default: from the source).")
@click.option("--version", "set_version", help="Set version, e.g. 2024.06.")
@click.option("--kind", type=click.Choice(KINDS),
              help="alert or known-good (default: known-good for NSRL and NSRL-CAID, else alert).")
@click.option("--category", help="Category label for entries whose source gives none.")
@click.option("--scheme", type=click.Choice(sorted(categories.SCHEMES)),
              help="Category scheme (default: detected from the labels).")
@click.option("--signal", "signal_name",
              help="Signal of bare hashes in plain lists when the length cannot tell "
                   "(e.g. phash, pdq).")
@click.option("--threshold", multiple=True, metavar="SIGNAL=N", callback=thresholds,
              help="Per-set perceptual match radius, e.g. pdq=31 (repeatable).")
@set_video_match
@click.option("--json", "as_json", is_flag=True, help="Print the new set's info as JSON.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr.")
def import_(sources, output, name, set_version, kind, category, scheme, signal_name,
            threshold, as_json, progress):
    """Compile SOURCES (any mix of formats) into one set. Bad records are reported as
    FILE:LINE: reason and skipped. Exit codes: 0 written; 2 a source is unreadable."""
    if signal_name:
        try:
            signals.get(signal_name)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--signal") from None
    if category is not None:
        try:
            categories.label(category)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--category") from None
    printer = ProblemPrinter()
    compile_sources(sources, output, name=name, version=set_version, kind=kind,
                    category=category, scheme=scheme, signal=signal_name,
                    thresholds=threshold, on_problem=printer,
                    progress=_progress(progress))
    printer.close()
    return _show(output, as_json)


@hashset.command()
@click.argument("folder", type=PathArg(file_okay=False))
@click.option("-o", "--output", required=True, type=PathArg(dir_okay=False),
              help="Compiled set to write.")
@click.option("--category", help="Category label of every file.")
@click.option("--kind", type=click.Choice(KINDS), default="alert", show_default=True)
@click.option("--name", help="Set name (default: the folder's name).")
@click.option("--version", "set_version", help="Set version.")
@click.option("--signal", "signal_names", default=",".join(DEFAULT_SIGNALS), show_default=True,
              help="Comma-separated signals to compute.")
@click.option("--threshold", multiple=True, metavar="SIGNAL=N", callback=thresholds,
              help="Per-set perceptual match radius, e.g. pdq=31 (repeatable).")
@set_video_match
@click.option("--blocks", is_flag=True,
              help="Also store a digest of every 4 KiB block of each file (for scan --blocks), "
                   "less blocks that identify nothing.")
@click.option("--max-shared", type=click.IntRange(min=1), default=MAX_SHARED, show_default=True,
              help="With --blocks: drop a block found in more reference files than this.")
@click.option("--known-good", "known_good", multiple=True, type=PathArg(dir_okay=False),
              help="With --blocks: drop blocks found in this set's block digests (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the new set's info as JSON.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr.")
def build(folder, output, category, kind, name, set_version, signal_names, threshold, blocks,
          max_shared, known_good, as_json, progress):
    """Make a set from the reference files under FOLDER: size and every signal of each regular
    file, reading each file once; symlinks are not followed. Exit codes: 0 written; 2 the folder
    cannot be read, or none of its files gave a value (no set is written); 3 written, but some
    files or folders could not be read (each named on stderr), so the set lacks them."""
    names = [n.strip().lower() for n in signal_names.split(",") if n.strip()]
    if blocks and "block" not in names:
        names.append("block")
    try:
        for n in names:
            buildable(n)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--signal") from None
    given = click.get_current_context().get_parameter_source
    for flag, value in (("--known-good", "known_good"), ("--max-shared", "max_shared")):
        if not blocks and given(value) is click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError(f"{flag} goes with --blocks")
    printer = ProblemPrinter()
    good = _block_sets(known_good)
    try:
        build_set(folder, output, names=names, category=category, kind=kind, name=name,
                  version=set_version, thresholds=threshold, on_problem=printer,
                  progress=_progress(progress), max_shared=max_shared, known_good_blocks=good)
    except NothingToBuild:
        printer.close()   # why none of its files gave a value
        raise
    finally:
        for hs in good:
            hs.close()
    printer.close()
    shown = _show(output, as_json)
    return EXIT_INCOMPLETE if printer.errors else shown


def _block_sets(paths) -> list:
    """The --known-good sets, each with block digests: one without (an MD5 list, NSRL's files)
    would remove nothing, and say so nowhere."""
    good = []
    try:
        for path in paths:
            good.append(load(path))
            if "block" not in good[-1].signals:
                raise HashSetError(f"{path_text(str(path))}: --known-good needs a set with "
                                   f"block digests (made with `triage hashset build --blocks`)")
    except BaseException:
        for hs in good:
            hs.close()
        raise
    return good


@hashset.command()
@click.argument("set_or_source", type=PathArg(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def info(set_or_source, as_json):
    """Counts per signal and category, sizes present, provenance. Exit codes: 0 shown;
    2 unreadable."""
    return _show(set_or_source, as_json)


@hashset.command()
@click.argument("sets", nargs=-1, required=True, type=PathArg(dir_okay=False))
@click.option("--known-good", "known_good", type=PathArg(dir_okay=False),
              help="Known-good set (e.g. NSRL): entries also in it are reported.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def validate(sets, known_good, as_json):
    """Check sets before they ship: malformed lines, bad values, duplicates, conflicting
    categories, trivial and degenerate hashes, low PDQ quality, known-good overlap, missing
    sizes. Exit codes: 0 clean; 1 problems found; 2 a set is unreadable."""
    good = load(known_good, progress=True) if known_good else None
    try:
        findings = [f for path in sets for f in validate_set(path, good, progress=True)]
    finally:
        if good is not None:
            good.close()
    if as_json:
        click.echo(dumps({"sets": list(sets), "findings": [f.to_dict() for f in findings],
                          "clean": not findings}, indent=2))
    else:
        for f in findings:
            examples = f" (e.g. {', '.join(f.examples)})" if f.examples else ""
            click.echo(visible(f.line()) + examples)
        click.echo(f"{len(findings)} finding(s) in {len(sets)} set(s)", err=True)
    return EXIT_HITS if findings else EXIT_CLEAN


@hashset.command()
@click.argument("old", type=PathArg(dir_okay=False))
@click.argument("new", type=PathArg(dir_okay=False))
@click.option("--list", "listing", is_flag=True, help="Also list the values that changed.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def diff(old, new, listing, as_json):
    """What changed from OLD to NEW: values added, removed and re-categorised, per signal and
    category. Exit codes: 0 compared; 2 a set is unreadable."""
    with load(old, progress=True) as a, load(new, progress=True) as b:
        result = diff_sets(a, b, listing)
    if as_json:
        click.echo(dumps(result, indent=2))
        return EXIT_CLEAN
    t = result["totals"]
    click.echo(f"{visible(str(old))} -> {visible(str(new))}: {t['added']} added, "
               f"{t['removed']} removed, {t['recategorised']} re-categorised")
    for signal, s in result["signals"].items():
        click.echo(f"  {signal}: +{s['added']} -{s['removed']} ~{s['recategorised']}")
        for key, mark in (("added_by_category", "+"), ("removed_by_category", "-"),
                          ("recategorised_by_change", "~")):
            for label, n in s[key].items():
                click.echo(f"    {mark} {visible(label)}: {n}")
        if listing:
            for key, mark in (("added_values", "+"), ("removed_values", "-")):
                for value in s[key]:
                    click.echo(f"    {mark} {value}")
            for change in s["recategorised_values"]:
                click.echo(f"    ~ {change['value']} {'+'.join(change['old']) or '(none)'} -> "
                           f"{'+'.join(change['new']) or '(none)'}")
    return EXIT_CLEAN


@hashset.command()
@click.argument("set_or_source", type=PathArg(dir_okay=False))
@click.option("-o", "--output", required=True, type=PathArg(dir_okay=False),
              help="Sealed set to write.")
@click.option("--fpr", type=click.FloatRange(2.0 ** -32, 0.5), default=sealing.DEFAULT_FPR,
              show_default=True,
              help="Highest false-positive rate wanted for one lookup in one filter; the "
                   "design rate (2^-bits) is at most this.")
@click.option("--keep-sizes", is_flag=True,
              help="Keep the file sizes, so a scan reads only files of a listed size (the "
                   "sizes are then visible in the sealed set).")
@click.option("--json", "as_json", is_flag=True, help="Print the sealed set's info as JSON.")
def seal(set_or_source, output, fpr, keep_sizes, as_json):
    """Seal a set: its exact digests become keyed fingerprints that can answer "is this
    digest in category C" and nothing else (no listing, diff or export); perceptual hashes
    stay as they are. Anyone holding the sealed set can still test a file they have. Exit
    codes: 0 written; 2 the set is unreadable or already sealed."""
    with load(set_or_source, progress=True) as hs:
        sealing.seal(hs, output, fpr=fpr, keep_sizes=keep_sizes)
    return _show(output, as_json)


@hashset.command()
@click.argument("set_file", type=PathArg(dir_okay=False))
@click.option("--key", "key_path", required=True, type=PathArg(dir_okay=False),
              help="Private key (NAME.key of `triage keys new`); its passphrase is asked on "
                   "the terminal or read from TRIAGE_KEY_PASSPHRASE.")
@click.option("--json", "as_json", is_flag=True,
              help='One JSON object on stdout: {"set", "signer"}.')
def sign(set_file, key_path, as_json):
    """Sign a compiled or sealed set in place: a signature over every byte of it and its
    metadata, which `triage scan --trust NAME.pub` checks. A signature already there is
    replaced. Exit codes: 0 signed; 2 the set or key is unreadable."""
    from ..signing import load_signer
    try:
        with open(set_file, "rb") as f:
            head = f.read(len(store.MAGIC))
    except OSError as exc:
        raise HashSetError(f"{set_file}: cannot read: {exc.strerror or exc}") from None
    if not store.is_store(head):
        raise HashSetError(f"{set_file}: a source list cannot carry a signature; compile it "
                           f"first (`triage hashset import`)")
    HashSet(set_file).close()        # only a sound set is signed: checksums and structure
    signer = load_signer(key_path)
    who = store.sign(set_file, signer)
    click.echo(dumps({"set": str(set_file), "signer": who}, indent=2) if as_json
               else f"{path_text(str(set_file))}: signed by {who}")
    return EXIT_CLEAN


def _show(path, as_json) -> int:
    with load(path, progress=True) as hs:
        data = hs.info.to_dict()
        uncomputable = sorted(s for s in hs.signals if not signals.get(s).computable)
        # A video signal's rows are frames: how many reference videos they make up.
        data["videos"] = {s: _videos(hs, s) for s in sorted(hs.signals)
                          if signals.get(s).kind == "video"}
    data["unmatchable"] = {s: f"{s} values are kept and counted but cannot be computed "
                              "here, so they never match" for s in uncomputable}
    if as_json:
        click.echo(dumps(data, indent=2))
        return EXIT_CLEAN
    click.echo(_render(data))
    return EXIT_CLEAN


def _videos(hs, signal: str) -> int:
    ids = hs.column(signal, "id")
    return 0 if ids is None else int(len(np.unique(ids)))


def _render(d: dict) -> str:
    scheme = d["category_scheme"]
    lines = [
        f"name:       {visible(str(d['name']))}",
        f"version:    {visible(str(d['version'] or '-'))}",
        f"kind:       {d['kind']}",
        f"entries:    {d['entries']:,}",
        f"imported:   {d['imported']} by triage {d['tool_version']}",
        f"scheme:     {scheme}",
        "signals:    (distinct values, entries with a size)",
    ]
    for s, n in d["signals"].items():
        lines.append(f"  {s:<10} {n:>12,}  {d['sized'].get(s, 0):>12,} sized")
    for s, n in d.get("videos", {}).items():
        lines.append(f"videos:     {n:,} reference video(s) in the {s} frames")
    if d["categories"]:
        lines.append("categories: (entries)")
        for label, n in d["categories"].items():
            note = categories.describe(scheme, label)
            lines.append(f"  {visible(label):<10} {n:>12,}  {note}")
    if d["thresholds"]:
        lines.append("thresholds: " + ", ".join(f"{k}={v}" for k, v in d["thresholds"].items()))
    if d["records"]:
        lines.append(f"records:    {d['records']:,} read at import, {d['skipped']:,} skipped "
                     f"(a problem each), {d['problems']:,} problem(s) in all")
    elif d["problems"]:
        lines.append(f"problems:   {d['problems']:,} at import")
    lines.append("sources:")
    for src in d["sources"]:
        lines.append(f"  {visible(src['path'])} ({src['format']}, sha256 {src['sha256'] or '-'})")
    if d.get("fingerprinted"):
        sized = not d.get("sealed") or d["sealed"]["sizes_kept"]
        prints = ", ".join(s for s in d["signals"] if signals.get(s).partial)
        lines.append(f"screening:  every reference file has a sub-file fingerprint ({prints}): a "
                     f"scan reads 8 KiB of {'a file of a listed size' if sized else 'each file'}"
                     ", and the whole file only when its fingerprint is listed")
    if d.get("sealed"):
        sealed = d["sealed"]
        lines.append(f"sealed:     exact digests as keyed fingerprints of "
                     f"{sealed['fingerprint_bits']} bits: design false-positive rate "
                     f"{sealed['false_positive_rate']:.2g} per lookup in one category's "
                     f"filter (asked: {sealed['requested_rate']:g}); sizes "
                     f"{'kept' if sealed['sizes_kept'] else 'not kept'}; digests cannot be "
                     f"listed, only tested")
        if sealed.get("block_prefilter_bits"):
            lines.append(f"sealed:     block digests as keyed fingerprints: a "
                         f"{sealed['block_prefilter_bits']}-bit filter of their fast halves, "
                         f"each window it lets through confirmed by a 128-bit keyed tag of the "
                         f"full digest (as strong as the unsealed set's comparison); a "
                         f"reference file's MD5 is readable only with its blocks' bytes")
    lines.append(f"signed:     {'by ' + d['signer'] if d.get('signer') else 'no'}")
    for note in d["unmatchable"].values():
        lines.append(f"note: {note}")
    return "\n".join(lines)
