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


# Options whose values are secrets, with how each is masked when a command is printed back:
# `-` makes the command ask for the secret instead (a command line is visible to every user
# of the machine in /proc, and a printed one ends up in logs).
SECRET_OPTIONS = {
    "--credential": lambda value: value.partition(":")[0] + ":-",
}


def replay(ctx: click.Context, drop=(), add=()) -> list:
    """The arguments of the running command as the user gave them (after the command's
    name), without the options in `drop`, with `add` appended, and with secret values masked."""
    given = list((ctx.obj or {}).get("argv") or [])
    path = ctx.command_path.split()[1:]          # e.g. ["scan"], ["hashset", "import"]
    if given[:len(path)] == path:
        given = given[len(path):]
    out, masked = [], None
    for arg in given:
        if masked is not None:
            out.append(masked(arg))
            masked = None
            continue
        name, eq, value = arg.partition("=")
        if name in drop:
            continue
        if name in SECRET_OPTIONS:
            if eq:
                out.append(f"{name}={SECRET_OPTIONS[name](value)}")
            else:
                out.append(arg)
                masked = SECRET_OPTIONS[name]
            continue
        out.append(arg)
    return out + list(add)
