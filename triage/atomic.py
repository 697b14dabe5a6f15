"""Write output files so that a reader never sees half of one, nor half of a set of them."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

from .errors import TriageError


def write_all(files: Dict[Path, bytes]) -> None:
    """Write every file beside its place, then rename them all into place: a write that fails
    (a full disk) leaves no temporary file behind and none of the set replaced, and is one
    line naming the file."""
    staged = []
    try:
        for path, data in files.items():
            tmp = path.with_name(path.name + ".tmp")
            staged.append(tmp)
            try:
                tmp.write_bytes(data)
            except OSError as exc:
                raise TriageError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        for tmp in staged:
            tmp.unlink(missing_ok=True)
        raise
    for path, tmp in zip(files, staged):
        tmp.replace(path)


def write_atomically(path: Path, data: bytes) -> None:
    write_all({path: data})
