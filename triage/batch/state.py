"""The case folder of a batch and what it remembers between runs.

    CASEDIR/batch.json        the items, their parts and the settings: what --resume continues
    CASEDIR/sets/             the hash sets, compiled once for every task
    CASEDIR/<evidence_id>/    one `triage scan` output folder per item (parts/ while split)
    CASEDIR/case.json, case.html, case.csv, manifest.json

One batch at a time per case folder (the same advisory lock as a scan's output folder). A new
batch refuses a folder holding an earlier one (or an item folder holding a scan) unless
--force, which removes those outputs and nothing else; --resume needs the same items and hash
sets, keeps the case details and options it started with (given again, they must be the
same), and keeps each item's parts."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from .. import TOOL_NAME, __version__
from ..atomic import write_atomically
from ..errors import TriageError
from ..jsonout import dumps
from ..outdir import Lock, canonical, clear, existing_outputs, kept, locked_folder
from ..reporters import REPORTERS
from ..safetext import path_text
from .merge import PARTS
from .sources import check_id

BATCH = "batch.json"
SETS = "sets"
CASE_FILES = ("case.json", "case.html", "case.csv", "manifest.json")
FORMAT = "triage-batch"
# What a resume must be given the same of (or not at all), with the flag that sets it.
SETTING_FLAGS = {"case_number": "--case-number", "examiner": "--examiner",
                 "deleted": "--no-deleted", "thresholds": "--threshold"}
DEFAULTS = {"deleted": True, "thresholds": {}}


@dataclass
class Case:
    folder: Path
    lock: Lock
    record: dict        # batch.json

    @property
    def settings(self) -> dict:
        return self.record["settings"]

    @property
    def items(self) -> List[dict]:
        return self.record["items"]

    def item_dir(self, item: dict) -> Path:
        return self.folder / item["evidence_id"]

    def save(self) -> None:
        write_atomically(self.folder / BATCH, (dumps(self.record, indent=2) + "\n").encode())

    def close(self) -> None:
        self.lock.release()


def open_case(folder: Path, *, resume: bool, force: bool, items: List[dict],
              skipped: List[dict], sets: List[dict], settings: Dict[str, object]) -> Case:
    """The case folder, locked, with its batch.json: new (after --force removed an earlier
    batch's outputs) or the one a resume continues. `items` are the items the sources give
    now, `sets` the identities of the hash sets, `settings` the case details and options as
    given (None: not given)."""
    folder = Path(folder)
    lock = locked_folder(folder, resume=resume, marker=BATCH, work="batch",
                         folder_name="case folder")
    try:
        if resume:
            record = _resumed(folder, items, sets, settings)
        else:
            record = _fresh(folder, force, items, skipped, sets, settings)
        case = Case(folder, lock, record)
        case.save()
        return case
    except BaseException:
        lock.release()
        raise


def _resumed(folder: Path, items: List[dict], sets: List[dict],
             settings: Dict[str, object]) -> dict:
    try:
        record = json.loads((folder / BATCH).read_text(encoding="utf-8"))
        if record.get("format") != FORMAT:
            raise ValueError("not a batch record")
    except (OSError, ValueError) as exc:
        raise TriageError(f"{folder / BATCH}: unreadable ({exc}); start again with "
                          f"--force") from None
    if [_identity(i) for i in record["items"]] != [_identity(i) for i in items]:
        raise TriageError(f"{folder}: the sources give other evidence items than the batch "
                          f"being resumed; resume needs the same (or start again with --force)")
    if canonical(record["sets"]) != canonical(sets):
        raise TriageError(f"{folder}: the hash sets differ from those of the batch being "
                          f"resumed; resume needs the same (or start again with --force)")
    record["settings"] = kept(folder, SETTING_FLAGS, settings, record["settings"])
    return record


def _fresh(folder: Path, force: bool, items: List[dict], skipped: List[dict], sets: List[dict],
           settings: Dict[str, object]) -> dict:
    earlier = _earlier_outputs(folder, items)
    if earlier and not force:
        shown = ", ".join(path_text(str(p.relative_to(folder))) for p in earlier[:3])
        more = f" and {len(earlier) - 3} more" if len(earlier) > 3 else ""
        raise TriageError(f"{folder}: already holds a batch or scans ({shown}{more}); use "
                          f"--resume to continue it or --force to replace it")
    for path in earlier:
        _remove(path)
    return {"format": FORMAT, "format_version": "1.0",
            "tool": {"name": TOOL_NAME, "version": __version__},
            "sets": sets,
            "settings": {k: DEFAULTS.get(k) if v is None else v for k, v in settings.items()},
            "items": items, "skipped": skipped}


def _identity(item: dict) -> tuple:
    return (item["evidence_id"], os.path.realpath(item["path"]), item.get("kind"))


def _earlier_outputs(folder: Path, items: List[dict]) -> List[Path]:
    """What an earlier batch (or a scan) left where this one writes: the case's own files,
    and the scan outputs of every item folder, this batch's and the earlier one's."""
    found = [folder / name for name in (*CASE_FILES, BATCH, SETS) if (folder / name).exists()]
    ids = {item["evidence_id"] for item in items}
    try:
        before = json.loads((folder / BATCH).read_text())["items"]
    except (OSError, ValueError, KeyError, TypeError):
        before = []
    for item in before:
        try:
            check_id(item["evidence_id"], str(folder / BATCH))
        except (TriageError, KeyError, TypeError):
            continue   # never a path out of the case folder, whatever the file says
        ids.add(item["evidence_id"])
    names = [r.filename for r in REPORTERS.values()]
    for evidence_id in sorted(ids):
        item_dir = folder / evidence_id
        if item_dir.is_dir():
            found += [item_dir] if (existing_outputs(item_dir, names) or
                                    (item_dir / PARTS).exists()) else []
    return found


def _remove(path: Path) -> None:
    """One earlier output: a case file, the compiled sets, or an item folder's scan outputs
    (the folder itself stays, with anything else in it)."""
    if path.name == SETS:
        shutil.rmtree(path, ignore_errors=True)
    elif path.is_dir():
        clear(path, [r.filename for r in REPORTERS.values()])
        shutil.rmtree(path / PARTS, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def settings_given(case_number: Optional[str], examiner: Optional[str],
                   deleted: Optional[bool], thresholds: Optional[dict]) -> Dict[str, object]:
    return {"case_number": case_number, "examiner": examiner, "deleted": deleted,
            "thresholds": thresholds}
