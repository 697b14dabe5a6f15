"""The output folder of a scan: where it may be, what it already holds, and whether a resume
continues the same scan.

A scan's identity is fixed by its first run and kept in the results database: the evidence
(by path and by content: size and stored E01 hashes, or a digest of the first MiB), the hash
sets (by content: their sources' SHA-256, kind and entries, whatever path they are given by),
the case details and the options that change findings. `--resume` continues only that scan;
anything that differs is refused with one line naming what differs."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .errors import TriageError
from .evidence.folder import inside
from .results import DB_NAME, Results
from .safetext import path_text

# The case details and the options that change what a scan finds, each with its flag.
CASE_FLAGS = {name: "--" + name.replace("_", "-")
              for name in ("case_number", "examiner", "evidence_id", "notes")}
OPTION_FLAGS = {"deleted": "--no-deleted", "thresholds": "--threshold",
                "video": "--video-frames/--video-match", "archives": "--no-archives",
                "blocks": "--blocks", "sample": "--sample", "min_amount": "--min-amount"}
HEAD_BYTES = 1 << 20      # the part of the media whose digest tells two images apart
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"


def check_outside_evidence(outdir: Path, paths: Sequence[str]) -> None:
    """Evidence is never written to: an output folder inside a scanned folder (the default one,
    made in the working directory, when that is the evidence) is refused before anything is
    written."""
    for path in paths:
        if os.path.isdir(path) and inside(outdir, path):
            raise TriageError(f"{outdir}: inside the evidence folder {os.path.abspath(path)}, "
                              f"which is never written to; give -o a folder outside it")


def evidence_identity(ev) -> dict:
    """What tells this evidence item from another: its resolved path, and for media its size
    and stored hashes, or the SHA-256 of its first MiB when it stores none."""
    found = {"path": path_text(os.path.realpath(ev.path)), "container": ev.kind}
    if ev.media is not None:
        found["size"] = ev.size
        if ev.stored_hashes:
            found["stored_hashes"] = dict(sorted(ev.stored_hashes.items()))
        else:
            head = ev.media.read(0, min(HEAD_BYTES, ev.size or 0))
            found["head_sha256"] = hashlib.sha256(head).hexdigest()
    return found


def set_identity(info: dict) -> dict:
    """A loaded set by its content: the same source given by another path, or compiled
    beforehand, is the same set."""
    return {"kind": info.get("kind"), "entries": info.get("entries"),
            "signals": info.get("signals"), "thresholds": info.get("thresholds") or {},
            "sources": sorted(s.get("sha256") or "" for s in info.get("sources", []))}


def existing_outputs(outdir: Path, report_names: Sequence[str]) -> List[str]:
    """Files of an earlier scan in `outdir` that a new one would replace."""
    names = [DB_NAME, MANIFEST, SIGNATURE, *report_names]
    return [n for n in names if (outdir / n).exists()]


def clear(outdir: Path, report_names: Sequence[str]) -> None:
    """Remove an earlier scan's outputs from OUTDIR (--force): the files existing_outputs
    names and the database's journal files; nothing else."""
    for name in [*existing_outputs(outdir, report_names), DB_NAME + "-wal", DB_NAME + "-shm"]:
        (outdir / name).unlink(missing_ok=True)


class Lock:
    """One scan (or render) of an output folder at a time: an advisory lock on the folder
    itself, which the kernel drops with the process (kill -9 included) and which no file of
    the scan has to carry."""

    def __init__(self, outdir: Path):
        self.outdir = Path(outdir)
        self._fd: Optional[int] = None

    def acquire(self) -> "Lock":
        try:
            fd = os.open(self.outdir, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise TriageError(f"{self.outdir}: cannot use as the output folder: "
                              f"{exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise TriageError(f"{self.outdir}: another triage process is using this "
                                  f"output folder; wait for it to finish") from None
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)   # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> "Lock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


@dataclass
class Prepared:
    results: Results
    lock: Lock
    case: Dict[str, Optional[str]]     # the case details the scan carries
    options: Dict[str, object]         # the options that change findings, as the scan runs


def prepare(outdir: Path, *, resume: bool, force: bool, report_names: Sequence[str],
            identity: Dict[str, object], case: Dict[str, Optional[str]],
            options: Dict[str, object], defaults: Dict[str, object]) -> Prepared:
    """Open the results database of this scan: a new one, or the one a resume continues.
    `case` and `options` hold what the command line gave (None: not given); a new scan takes
    `defaults` for options not given, a resume takes the first run's case details and options,
    and refuses a value that differs from them. Raises TriageError, before anything is
    written, when the folder holds another scan or a resume does not continue the same scan."""
    outdir = Path(outdir)
    lock = locked_folder(outdir, resume=resume, marker=DB_NAME, work="scan",
                         folder_name="output folder")
    try:
        if resume:
            results = Results.open(outdir)
            try:
                _same_scan(results, outdir, identity)
                case = kept(outdir, CASE_FLAGS, case, results.get("case"))
                options = kept(outdir, OPTION_FLAGS, options, results.get("request"))
            except BaseException:
                results.close()
                raise
            return Prepared(results, lock, case, options)
        earlier = existing_outputs(outdir, report_names)
        if earlier and not force:
            raise TriageError(f"{outdir}: already holds a scan ({', '.join(earlier)}); use "
                              f"--resume to continue it or --force to replace it")
        # --force: nothing of the replaced scan may pass for this one's
        clear(outdir, report_names)
        results = Results.create(outdir)
        options = {k: defaults[k] if v is None else v for k, v in options.items()}
        results.set("identity", identity)
        results.set("case", case)
        results.set("request", options)
        results.commit()
        return Prepared(results, lock, case, options)
    except BaseException:
        lock.release()
        raise


def locked_folder(folder: Path, *, resume: bool, marker: str, work: str,
                  folder_name: str) -> "Lock":
    """The folder a scan or a batch writes, made if new and locked: a resume needs the
    `marker` file an earlier run left there."""
    if resume and not (folder / marker).is_file():
        raise TriageError(f"{folder}: no {work} to resume here ({marker} is missing); run "
                          f"without --resume to start one")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TriageError(f"{folder}: cannot create the {folder_name}: "
                          f"{exc.strerror or exc}") from None
    return Lock(folder).acquire()


def _same_scan(results: Results, outdir: Path, identity: Dict[str, object]) -> None:
    before = results.get("identity")
    if before is None:
        raise TriageError(f"{outdir}: the scan here does not record what it scanned; start "
                          f"again with --force")
    for part, what in (("evidence", "the evidence differs from that"),
                       ("hashsets", "the hash sets differ from those")):
        if canonical(before.get(part)) != canonical(identity.get(part)):
            raise TriageError(f"{outdir}: {what} of the scan being resumed; resume needs the "
                              f"same (or start again with --force)")
    if before.get("scope") != identity.get("scope"):   # a part of an item (triage batch)
        raise TriageError(f"{outdir}: the part of the evidence differs from that of the scan "
                          f"being resumed; resume needs the same (or start again with --force)")


def kept(outdir: Path, flags: Dict[str, str], given: Dict[str, object],
         first: Optional[dict]) -> Dict[str, object]:
    """The first run's values; a value given again must be the same."""
    values = first or {}
    for name, flag in flags.items():
        value = given.get(name)
        if value is not None and value != values.get(name):
            was = f" ({values[name]!r})" if isinstance(values.get(name), str) else ""
            raise TriageError(f"{outdir}: {flag} differs from the scan being resumed{was}; a "
                              f"resume continues the scan as it started (or start again "
                              f"with --force)")
    return {name: values.get(name) for name in flags}


def canonical(items) -> list:
    """Identities (dicts) in an order of their own, to compare two lists as sets."""
    return sorted(json.dumps(i, sort_keys=True) for i in items or [])
