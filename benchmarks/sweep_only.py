"""The block sweep alone, as `triage scan --blocks` runs it (sweep.sweep over its worker pool,
one worker a core, each reading ahead while it hashes), without the file pass and the reports:
block_sweep.py times it beside `cat`.

    python benchmarks/sweep_only.py IMAGE BLOCKSET

Prints the fragments found and the stretches not read."""

from __future__ import annotations

import os
import sys


def main(argv=None) -> None:
    from triage.evidence import open_evidence
    from triage.hashsets import load
    from triage.sweep import Sweeper, sweep
    from triage.workers import Workers
    image, blockset = (argv or sys.argv[1:])[:2]
    ev = open_evidence(os.path.abspath(image))
    hs = load(blockset)
    workers = Workers(Sweeper([hs], [ev]), os.cpu_count() or 2)
    try:
        for _, found, errors in sweep([ev], [hs], workers):
            print(f"{len(found)} fragments, {len(errors)} not swept")
    finally:
        workers.close()
        ev.close()
        hs.close()


if __name__ == "__main__":
    main()
