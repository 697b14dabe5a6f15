"""Option parsing shared by several commands."""

from __future__ import annotations

import click

from .. import signals


def signal_list(kind=None):
    """A click callback turning "md5,sha1" into a validated tuple of signal names."""

    def parse(ctx, param, value):
        if value is None:
            return ()
        names = tuple(dict.fromkeys(n.strip().lower() for n in value.split(",") if n.strip()))
        for name in names:
            try:
                cls = signals.get(name)
            except ValueError as exc:
                raise click.BadParameter(str(exc)) from None
            if kind and cls.kind != kind:
                raise click.BadParameter(f"{name} is not an {kind} signal" if kind[0] in "aeiou"
                                         else f"{name} is not a {kind} signal")
        return names

    return parse


def thresholds(ctx, param, values) -> dict:
    """A click callback for the repeatable `--threshold SIGNAL=BITS`."""
    found = {}
    for text in values or ():
        try:
            name, bits = signals.parse_threshold(text)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        found[name] = bits
    return found


def _formats(ctx, param, value):
    from ..reporters import check_formats
    try:
        return check_formats([f.strip().lower() for f in value.split(",") if f.strip()])
    except Exception as exc:
        raise click.BadParameter(str(exc)) from None


def report_formats(command):
    """The --format option of the commands that write reports, naming every reporter."""
    from ..reporters import REPORTERS
    return click.option(
        "--format", "formats", default="json,csv,html", show_default=True, callback=_formats,
        help=f"Reports to write, of {', '.join(sorted(REPORTERS))} (case: CASE/UCO JSON-LD); "
             "report.json is always written.")(command)
