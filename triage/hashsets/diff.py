"""What changed between two versions of a set: per signal, values added, removed and
re-categorised, counted per category, for review before an update ships."""

from __future__ import annotations

from collections import Counter
from typing import Dict, List, Tuple

import numpy as np

from .hashset import HashSet


def _distinct(hs: HashSet, signal: str) -> Tuple[np.ndarray, List[str], List[Tuple[str, ...]]]:
    """Distinct keys of a signal (n, bytes), their hex, and each key's sorted category labels."""
    keys = hs.vectors(signal)
    if not len(keys):
        return keys, [], []
    first = np.ones(len(keys), bool)
    first[1:] = np.any(keys[1:] != keys[:-1], axis=1)
    starts = np.flatnonzero(first)
    codes = hs.column(signal, "category")
    labels = [""] + hs.labels
    per_key: List[Tuple[str, ...]] = []
    if codes is None:
        per_key = [()] * len(starts)
    else:
        bounds = np.r_[starts, len(keys)]
        code_list = codes.tolist()
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            per_key.append(tuple(sorted({labels[c] for c in code_list[a:b] if c})))
    distinct = keys[starts]
    return distinct, [bytes(k).hex() for k in distinct], per_key


def _present(hs: HashSet, signal: str, keys: np.ndarray) -> np.ndarray:
    mask = np.zeros(len(keys), bool)
    if signal in hs.signals and len(keys):
        query, _ = hs.find(signal, keys)
        mask[query] = True
    return mask


def _label(categories: Tuple[str, ...]) -> str:
    return "+".join(categories) if categories else "(none)"


def diff(old: HashSet, new: HashSet, listing: bool = False) -> Dict:
    result = {
        "old": {"name": old.info.name, "version": old.info.version, "entries": old.info.entries},
        "new": {"name": new.info.name, "version": new.info.version, "entries": new.info.entries},
        "signals": {},
        "totals": {"added": 0, "removed": 0, "recategorised": 0},
    }
    for signal in sorted(old.signals | new.signals):
        o_keys, o_hex, o_cats = _distinct(old, signal) if signal in old.signals else ([], [], [])
        n_keys, n_hex, n_cats = _distinct(new, signal) if signal in new.signals else ([], [], [])
        in_new = _present(new, signal, np.asarray(o_keys)) if len(o_hex) else np.zeros(0, bool)
        in_old = _present(old, signal, np.asarray(n_keys)) if len(n_hex) else np.zeros(0, bool)
        removed = [i for i in np.flatnonzero(~in_new).tolist()]
        added = [i for i in np.flatnonzero(~in_old).tolist()]
        old_cats = {o_hex[i]: o_cats[i] for i in np.flatnonzero(in_new).tolist()}
        changed = [(h, old_cats[h], n_cats[i]) for i in np.flatnonzero(in_old).tolist()
                   for h in [n_hex[i]] if old_cats.get(h) != n_cats[i]]
        summary = {
            "added": len(added),
            "removed": len(removed),
            "recategorised": len(changed),
            "added_by_category": dict(sorted(Counter(_label(n_cats[i]) for i in added).items())),
            "removed_by_category": dict(sorted(
                Counter(_label(o_cats[i]) for i in removed).items())),
            "recategorised_by_change": dict(sorted(
                Counter(f"{_label(a)} -> {_label(b)}" for _, a, b in changed).items())),
        }
        if listing:
            summary["added_values"] = sorted(n_hex[i] for i in added)
            summary["removed_values"] = sorted(o_hex[i] for i in removed)
            summary["recategorised_values"] = [
                {"value": h, "old": list(a), "new": list(b)} for h, a, b in sorted(changed)]
        result["signals"][signal] = summary
        for key in ("added", "removed", "recategorised"):
            result["totals"][key] += summary[key]
    return result
