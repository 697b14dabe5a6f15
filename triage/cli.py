"""The `triage` command line: parse, call the layers, print, exit.

Each command lives in `triage/commands/<name>.py`; this module only assembles them and turns
every expected failure into one line on stderr and the documented exit code."""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import sys
import threading

import click

from . import __version__, mathlibs
from .commands import COMMANDS
from .errors import EXIT_UNUSABLE, TriageError
from .hashsets import checksums
from .safetext import path_text


class ReaderGone(Exception):
    """The reader of the output left (`triage files img | head`): what a command's write met."""


class LazyGroup(click.Group):
    """Imports a command's module when the command is asked for (see commands.COMMANDS)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:   # click's main would make it exit 1, as an error
            raise ReaderGone() from None

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attribute = target.split(":")
        return getattr(importlib.import_module(f"{__package__}.commands.{module}"), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="triage")
def cli():
    """Find known material on seized devices and disk images by hash and perceptual hash,
    without ever showing it.

    Exit codes: 0 complete and no hits, 1 hits found, 2 could not run,
    3 no hits but some content could not be read, 130 interrupted."""


# A scan makes a few short-lived objects per file (entries, rows, verdicts), none of them in
# reference cycles: at Python's default (a collection every 700 new objects), and without
# workers.before_fork, the cyclic collector cost a screened scan about a tenth of its CPU
# (benchmarks/scan_exact.py --part subfile).
GC_YOUNG = 50_000


def collect_rarely() -> None:
    """The collector as every command runs with it (benchmarks of a part of a command too)."""
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


def main(argv=None) -> None:
    mathlibs.before_numpy()
    collect_rarely()
    args = sys.argv[1:] if argv is None else list(argv)
    # The sets' checksums run on the idle core while the command's modules load.
    checksums.begin(checksums.named_sets(args))
    try:
        # Commands return their exit code; click hands it back in non-standalone mode.
        # The arguments as given travel with the context: an interrupted scan prints them
        # back as the command that resumes it.
        code = cli.main(args=args, prog_name="triage", standalone_mode=False,
                        obj={"argv": args})
    except TriageError as exc:
        click.echo(f"triage: error: {path_text(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("triage: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        sys.exit(EXIT_UNUSABLE)
    except click.ClickException as exc:
        # One line, as every other error: click's own form runs to three.
        where = f"{exc.ctx.command_path}: " if getattr(exc, "ctx", None) else ""
        click.echo(path_text(f"triage: error: {where}{' '.join(exc.format_message().split())}"),
                   err=True)
        sys.exit(EXIT_UNUSABLE)
    except (BrokenPipeError, ReaderGone):
        # `triage files img | head`: the reader left; that is not an error of ours. What is
        # left unwritten goes nowhere, not into an error at the exit's flush.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
    except OSError as exc:   # a file or folder the command needed and could not use
        if os.environ.get("TRIAGE_DEBUG"):
            raise
        click.echo(path_text(f"triage: error: {exc.filename or 'triage'}: {exc.strerror or exc}"),
                   err=True)
        sys.exit(EXIT_UNUSABLE)
    except Exception as exc:  # last line of defence: one line, no traceback, unless debugging
        if os.environ.get("TRIAGE_DEBUG"):
            raise
        click.echo(path_text(f"triage: internal error: {type(exc).__name__}: {exc}"), err=True)
        sys.exit(EXIT_UNUSABLE)
    sys.exit(code if isinstance(code, int) else 0)


def run() -> None:
    """The `triage` program (its console script, `python -m triage`, the one-file build):
    main(), then its exit without the interpreter's teardown, which frees every object one by
    one (11 ms after a scan, a seventieth of it) for memory the OS takes back whole. What an
    exit must do is done first: the atexit handlers run and the standard streams are flushed.
    Where a thread of ours still runs, or the exit code is not a number, Python exits as
    usual (daemon threads it leaves as os._exit does). main() itself exits as usual: tests
    call it in their own process."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
        if code is not None and not isinstance(code, int) or any(
                not thread.daemon and thread is not threading.main_thread()
                for thread in threading.enumerate()):
            raise   # Python waits for such a thread, and prints such a code
    atexit._run_exitfuncs()   # the interpreter's own first step of an exit
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):   # a reader gone, a stream closed: as Python's exit does
        pass
    os._exit(code or 0)
