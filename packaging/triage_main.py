"""The frozen executable's entry point: the same `triage` command line as the installed one."""

import multiprocessing

from triage.cli import run

if __name__ == "__main__":
    multiprocessing.freeze_support()
    run()
