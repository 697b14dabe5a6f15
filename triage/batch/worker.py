"""Set-up of a Dask worker process of the batch's own cluster (its `preload`): Ctrl-C in the
terminal reaches every process of the batch, and is the batch's to handle: it stops the
cluster itself and writes the case report; a worker that took the signal would only die
with a traceback on its way."""

from __future__ import annotations

import signal


def dask_setup(worker) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
