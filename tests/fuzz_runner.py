"""Runs `triage` command lines as a user would, many in a row, each in a child process of its
own under an address-space limit (RLIMIT_AS) and a wall-clock limit, without paying Python's
start-up and triage's imports for each: this process imports them once and forks a child per
command line, which calls the real entry point (triage.cli.main) with the command's arguments.

    python tests/fuzz_runner.py      # jobs on stdin, results on stdout, one JSON object a line

A job: {"args": [...], "stdout": path, "stderr": path, "memory": bytes, "seconds": n}. A result:
{"code": exit code or null, "signal": number or null, "seconds": wall time, "max_rss": bytes}.
A child that runs out of time is killed by SIGALRM; one over its memory fails to allocate."""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback

# Imported once, here: every child inherits them already loaded.
import triage.cli  # noqa: F401
import triage.commands.files  # noqa: F401
import triage.commands.inspect  # noqa: F401
import triage.evidence  # noqa: F401

CRASHED = 99   # the runner's own failure inside the child, never an exit code of triage


def run(job: dict) -> dict:
    sys.stdout.flush()
    sys.stderr.flush()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(job)
    _, status, usage = os.wait4(pid, 0)
    return {"code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "seconds": round(time.monotonic() - started, 3),
            "max_rss": usage.ru_maxrss * 1024}


def _child(job: dict) -> None:
    code = CRASHED
    try:
        for fd, path in ((1, job["stdout"]), (2, job["stderr"])):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        resource.setrlimit(resource.RLIMIT_AS, (job["memory"], job["memory"]))
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(int(job["seconds"]))
        try:
            triage.cli.main(job["args"])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:   # the runner's own failure: shown, and told apart by its code
        traceback.print_exc()
        sys.stderr.flush()
    os._exit(code)


def main() -> None:
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(run(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
