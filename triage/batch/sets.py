"""The hash sets of a batch, made ready once: each is checked before any scan starts (a bad
set stops the batch with exit 2), and a set given as a source file is compiled once, into the
case folder, for every task to open (as `triage scan` would compile it in each run)."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence

from ..errors import HashSetError
from ..hashsets import HashSet, compile_sources
from ..hashsets.store import is_store
from ..outdir import set_identity
from ..scan import set_info


@dataclass
class ReadySet:
    given: str         # as given, absolute
    path: str          # what a task opens: the set itself, or its compiled copy
    info: dict         # as a report lists it
    identity: dict     # by content (outdir.set_identity)
    compiled: bool     # compiled here from a source file

    def case_entry(self) -> dict:
        """The set once, as the case report lists it."""
        return {k: self.info.get(k) for k in ("name", "version", "kind", "entries", "signals",
                                              "category_scheme", "categories", "sources",
                                              "imported")}


def prepare(paths: Sequence[str], staging: Path) -> List[ReadySet]:
    """Check every set, compiling source files into `staging` (a temporary folder)."""
    ready = []
    for index, given in enumerate(paths):
        given = str(Path(given).absolute())
        try:
            with open(given, "rb") as f:
                head = f.read(16)
        except OSError as exc:
            raise HashSetError(f"{given}: cannot read: {exc.strerror or exc}") from None
        compiled = not is_store(head)
        path = str(staging / f"{index}.tset") if compiled else given
        if compiled:
            compile_sources([given], path)
        hs = HashSet(path)
        try:
            info = set_info(hs)
        finally:
            hs.close()
        ready.append(ReadySet(given, path, info, set_identity(info), compiled))
    return ready


def settle(ready: List[ReadySet], folder: Path) -> None:
    """Move the compiled copies into the case folder (`folder`, its sets/), where every task
    of the batch finds them."""
    folder.mkdir(parents=True, exist_ok=True)
    for ready_set in ready:
        if ready_set.compiled:
            target = folder / Path(ready_set.path).name
            # Replaced, never rewritten in place: a task still mapping an earlier copy keeps it.
            staged = target.with_name(target.name + ".tmp")
            shutil.move(ready_set.path, staged)
            os.replace(staged, target)
            ready_set.path = str(target.absolute())


def staging() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="triage-batch-sets-")
