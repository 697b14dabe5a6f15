"""Option parsing shared by several commands."""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from pathlib import Path

import click

from .. import signals
from ..safetext import shell_word


class PathArg(click.Path):
    """click.Path that refuses an empty path: an unset variable in a script (`triage scan
    "$DEVICE" -o "$CASE"`) would otherwise name the current folder, which would be scanned,
    or written to, in its place."""

    def convert(self, value, param, ctx):
        if isinstance(value, (str, bytes)) and not value:
            self.fail("the path is empty", param, ctx)
        return super().convert(value, param, ctx)


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


def _mask_credential(value: str) -> str:
    kind = value.partition(":")[0]
    # a startup key is named by its file, which is no secret; every other value is
    return value if kind.strip().lower() == "startup_key" else kind + ":-"


# Options whose values are secrets, with how each is masked when a command is printed back:
# `-` makes the command ask for the secret instead (a command line is visible to every user
# of the machine in /proc, and a printed one ends up in logs).
SECRET_OPTIONS = {
    "--credential": _mask_credential,
}


def _ask(kind: str) -> str:
    """A secret asked for without echo on the terminal; from a pipe, its first line."""
    import sys
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(f"{kind.replace('_', ' ')} for encrypted volumes", hide_input=True,
                        err=True)


def _mask_process_title() -> None:
    """The process's command line (/proc/PID/cmdline, what `ps` shows) rewritten with every
    --credential value masked, as soon as the options are read: worker processes forked
    later inherit it. (Until then, a value given on the command line was visible: hence
    password:- and --credential-file.)"""
    import sys
    try:
        import setproctitle
    except ImportError:
        return
    setproctitle.setproctitle(" ".join([sys.executable, *masked_args(sys.argv)]))


def evidence_access(command):
    """--credential, --credential-file, --vss and --parent: what opens encrypted volumes, shadow
    copies and a differencing disk. The command runs with them installed as the process's Access
    (evidence/access.py), which forked workers inherit in memory; the wrapped command never
    sees a credential."""
    from ..evidence.access import Access, parse_credential, read_credential_file

    @functools.wraps(command)
    def run(*args, credentials=(), credential_files=(), parent=None, vss=False, **kwargs):
        given = [parse_credential(text, _ask) for text in credentials]
        for path in credential_files:
            given += read_credential_file(path, _ask)
        evidence = kwargs.get("evidence")
        if parent is not None and isinstance(evidence, tuple) and len(evidence) != 1:
            raise click.UsageError("--parent names the parent of one differencing disk: give "
                                   "one evidence item with it")
        Access(given, parent, snapshots=vss).install()
        if credentials:
            _mask_process_title()
        return command(*args, **kwargs)

    for option in reversed((
        click.option("--credential", "credentials", multiple=True, metavar="TYPE:VALUE",
                     help="Opens encrypted volumes (BitLocker, LUKS, APFS, FileVault); "
                          "repeatable, each tried on every encrypted volume. TYPE: password, "
                          "recovery_password, startup_key (a .BEK file), key_data (hex). "
                          "password:- asks on the terminal: prefer it, or --credential-file, "
                          "to a value on the command line, which other users can see."),
        click.option("--credential-file", "credential_files", multiple=True,
                     type=PathArg(dir_okay=False), metavar="FILE",
                     help="Credentials, one TYPE:VALUE a line (# starts a comment line)."),
        click.option("--vss", is_flag=True,
                     help="Also read the Volume Shadow Copies of NTFS volumes: each snapshot's "
                          "files that differ from the live volume, as vss<n>:/path."),
        click.option("--parent", type=PathArg(dir_okay=False), default=None,
                     metavar="PATH",
                     help="The parent of a differencing virtual disk (VHD, VHDX, VMDK, "
                          "QCOW2), when it is not beside it under the name stored in it."),
    )):
        run = option(run)
    return run


def output_folder(given, *, resume: bool, force: bool, prefix: str, meta: str):
    """The folder a scan or batch writes: as given, or a new one named for the time (UTC);
    a resume must be told which folder it continues."""
    if resume and force:
        raise click.UsageError("--resume and --force exclude each other")
    if given is not None:
        return given
    if resume:
        raise click.UsageError(f"--resume needs the -o {meta}")
    return Path(f"{prefix}{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}")


def resume_command(ctx: click.Context, folder_param: str, folder, resumed: bool) -> str:
    """The command line that resumes the running command where it stopped."""
    add = [] if resumed else ["--resume"]
    if ctx.get_parameter_source(folder_param) is not click.core.ParameterSource.COMMANDLINE:
        add += ["-o", str(folder)]
    return " ".join(shell_word(w) for w in ["triage", *ctx.command_path.split()[1:],
                                              *replay(ctx, drop={"--force"}, add=add)])


def replay(ctx: click.Context, drop=(), add=()) -> list:
    """The arguments of the running command as the user gave them (after the command's
    name), without the options in `drop`, with `add` appended, and with secret values masked."""
    given = list((ctx.obj or {}).get("argv") or [])
    path = ctx.command_path.split()[1:]          # e.g. ["scan"], ["hashset", "import"]
    if given[:len(path)] == path:
        given = given[len(path):]
    return masked_args(given, drop) + list(add)


def masked_args(given, drop=()) -> list:
    """`given` without the options in `drop`, the values of SECRET_OPTIONS masked."""
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
    return out


def _video_match(ctx, param, value):
    """`--video-match Q,C`: vPDQ's two match shares in percent (query, reference)."""
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",")]
    try:
        shares = [float(p) for p in parts]
    except ValueError:
        shares = []
    if len(shares) != 2 or not all(0 <= s <= 100 for s in shares):
        raise click.BadParameter(f"{value!r}: expected Q,C, two percentages from 0 to 100 "
                                 f"(e.g. 80,80)")
    return tuple(shares)


def video_frames_option(command):
    from ..signals.vpdq import MODES
    return click.option(
        "--video-frames", type=click.Choice(MODES), default=None,
        help="Frames of a video hashed: one a second, as vPDQ does (default), or keyframes "
             "only (faster, fewer frames).")(command)


def video_options(command):
    """--video-frames and --video-match, given to the command as one `video` dict (None when
    neither is given, so a resume keeps what the scan started with)."""
    @functools.wraps(command)
    def run(*args, video_frames=None, video_match=None, **kwargs):
        video = {}
        if video_frames is not None:
            video["frames"] = video_frames
        if video_match is not None:
            video["query_percent"], video["reference_percent"] = video_match
        return command(*args, video=video or None, **kwargs)

    run = click.option("--video-match", callback=_video_match, metavar="Q,C", default=None,
                       help="A video matches a reference when Q percent of its frames are "
                            "in the reference, or C percent of the reference's are in it "
                            "(default: the set's, else 80,80).")(run)
    return video_frames_option(run)


def set_video_match(command):
    """`--video-match Q,C` of a set (import, build): stored with its radii as the whole
    percentages `vpdq_query_percent` and `vpdq_reference_percent`."""
    @functools.wraps(command)
    def run(*args, video_match=None, threshold=None, **kwargs):
        threshold = dict(threshold or {})
        if video_match is not None:
            threshold["vpdq_query_percent"], threshold["vpdq_reference_percent"] = (
                round(share) for share in video_match)
        return command(*args, threshold=threshold, **kwargs)

    return click.option("--video-match", callback=_video_match, metavar="Q,C", default=None,
                        help="This set's video match shares in percent (default 80,80): "
                             "Q of a found video's frames, or C of a reference's.")(run)
