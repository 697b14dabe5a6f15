"""How a large evidence item is split into parts of about equal work, so that one huge disk
does not leave the rest of the cluster idle: by volume (small volumes together), and a large
volume's file list into ranges of about equal bytes to read (triage.scope).

The work of a file is what the scan will read of it (Judge.planned_bytes: all of it when a
set could match its size, a picture's head, nothing for a file no set can match) plus a fixed
cost for finding, opening and recording it. The plan walks the item's metadata once, as the
scan's own walk does; the bytes are not read."""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence

from ..evidence import open_evidence
from ..hashsets import load as load_hashset
from ..records import ScanError
from ..scanners import Judge
from ..scope import Range, Scope

# A file's fixed cost, in bytes read of equal time: the walk, open and record of a file take
# about as long as reading this much (~35 us a file against ~500 MB/s).
FILE_COST = 16 << 10


def plan_item(path: str, hashsets: Sequence[str], deleted: bool,
              thresholds: Optional[Dict[str, int]], part_bytes: int) -> List[dict]:
    """The parts of one evidence item, each Scope.to_dict(), in walk order; one part (the
    whole item) when it is not worth splitting."""
    sets = [load_hashset(p) for p in hashsets]
    try:
        judge = Judge(sets, thresholds or {})
        with open_evidence(os.path.abspath(path)) as ev:
            volumes = [v.index for v in ev.volumes] or [None]
            costs = {index: _costs(ev, index, judge, deleted) for index in volumes}
    finally:
        for s in sets:
            s.close()
    return [scope.to_dict() for scope in cut(costs, part_bytes)]


def _costs(ev, index: Optional[int], judge: Judge, deleted: bool) -> List[int]:
    """The work of each file entry of one volume, in walk order."""
    entries = ev.entries(deleted=deleted, volumes=None if index is None else (index,))
    return [judge.planned_bytes(item.size) + FILE_COST for item in entries
            if not isinstance(item, ScanError)]


def cut(costs: Dict[Optional[int], List[int]], part_bytes: int) -> List[Scope]:
    """Scopes of about `part_bytes` of work each: volumes of less work go whole, consecutive
    ones together; a volume of more is cut into ranges of about equal work."""
    part_bytes = max(1, part_bytes)
    scopes: List[Scope] = []
    group: List[Range] = []
    group_work = 0
    for index, volume in costs.items():
        work = sum(volume)
        if work <= part_bytes:
            if group and group_work + work > part_bytes:
                scopes.append(Scope(tuple(group)))
                group, group_work = [], 0
            group.append(Range(index))
            group_work += work
            continue
        if group:
            scopes.append(Scope(tuple(group)))
            group, group_work = [], 0
        scopes += [Scope((r,)) for r in _ranges(index, volume, part_bytes)]
    if group:
        scopes.append(Scope(tuple(group)))
    return scopes


def _ranges(index: Optional[int], costs: List[int], part_bytes: int) -> List[Range]:
    """A volume's file list in ranges of about equal work, each cut where the running total
    passes the next share."""
    total = sum(costs)
    count = min(len(costs), -(-total // part_bytes))
    share = total / count
    cuts, done = [], 0
    for position, cost in enumerate(costs):
        if len(cuts) == count - 1:
            break
        done += cost
        if done >= share * (len(cuts) + 1) and position + 1 < len(costs):
            cuts.append(position + 1)
    bounds = [0, *cuts, None]
    return [Range(index, start, stop) for start, stop in zip(bounds, bounds[1:])]
