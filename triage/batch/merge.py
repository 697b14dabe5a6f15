"""The parts of a split item, each scanned into a results database of its own, merged into the
item's database, from which its reports are written as a single scan writes them: the same
hits, errors and summary (triage.scope says why)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import List, Sequence

from ..errors import TriageError
from ..outdir import Lock
from ..results import DB_NAME, Results
from ..scan import conclude

# What a part's database carries about the scan that every part shares and the merged database
# keeps: the identity (without the part's scope), the case, the options as given and as run.
SHARED_KEYS = ("case", "request", "options", "tool", "environment")
PARTS = "parts"


def part_dir(outdir: Path, index: int) -> Path:
    return Path(outdir) / PARTS / str(index)


def merge_parts(outdir: Path, count: int, formats: Sequence[str]):
    """Merge the `count` finished parts of OUTDIR's item into OUTDIR's results database and
    write its reports; the parts are removed once the item's manifest seals the result.
    Returns conclude()'s (report, files written, summary)."""
    outdir = Path(outdir)
    folders = [part_dir(outdir, i) for i in range(count)]
    with Lock(outdir):
        facts = [_facts(folder) for folder in folders]
        first = facts[0]
        for folder, fact in zip(folders, facts):
            if not fact["complete"]:
                raise TriageError(f"{folder}: this part of the item is not finished")
            if fact["identity"] != first["identity"]:
                raise TriageError(f"{folder}: this part scanned other evidence or sets than "
                                  f"{folders[0]}")
        results = Results.create(outdir)
        try:
            results.set("identity", first["identity"])
            for key in SHARED_KEYS:
                results.set(key, first[key])
            results.set("started", min(f["started"] for f in facts))
            results.set("complete", False)
            results.set_hashsets(first["hashsets"])
            for folder in folders:
                results.absorb(folder / DB_NAME)
        except BaseException:
            results.abandon()
            raise
        outcome = conclude(results, outdir, formats, None)
    shutil.rmtree(outdir / PARTS)
    return outcome


def _facts(folder: Path) -> dict:
    results = Results.open(folder)
    try:
        identity = dict(results.get("identity") or {})
        identity.pop("scope", None)
        facts = {key: results.get(key) for key in (*SHARED_KEYS, "started", "complete")}
        facts["identity"] = identity
        facts["hashsets"] = results.hashsets()
        return facts
    finally:
        results.close()


def leftover_parts(outdir: Path) -> List[Path]:
    """Parts a merge had not removed yet when it was stopped (the item itself is finished)."""
    folder = Path(outdir) / PARTS
    return [folder] if folder.is_dir() else []
