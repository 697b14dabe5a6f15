"""Runs many `triage` command lines in one process, each through the real entry point
(`triage.cli.main`), and reports each one's exit code, stderr and time as one JSON line.

Started by test_fuzz.py under an address-space limit; one process for all inputs keeps the
interpreter's and numpy's start-up (most of a command's time on a small set) out of the loop.
Jobs come as a JSON list of argument lists on stdin. A job that runs past its time is stopped
by an alarm (a BaseException, so the command's own `except Exception` cannot swallow it)."""

from __future__ import annotations

import contextlib
import io
import json
import signal
import sys
import time


class Timeout(BaseException):
    pass


def _alarm(signum, frame):
    raise Timeout()


def run(args, seconds: int) -> dict:
    from triage.cli import main
    err, out = io.StringIO(), io.StringIO()
    start = time.monotonic()
    signal.alarm(seconds)
    code, timed_out = None, False
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            main(args)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except Timeout:
        timed_out = True
    finally:
        signal.alarm(0)
    return {"args": args, "code": code, "stderr": err.getvalue(), "timed_out": timed_out,
            "seconds": round(time.monotonic() - start, 3)}


def main() -> None:
    signal.signal(signal.SIGALRM, _alarm)
    jobs = json.load(sys.stdin)
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for args in jobs:
        print(json.dumps(run(args, seconds)), flush=True)


if __name__ == "__main__":
    main()
