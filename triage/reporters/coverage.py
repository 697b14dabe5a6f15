"""What a scan covered, in words every format shares: the time budget, the sample, the
evidence a stopped scan did not reach, and a fragment in one line."""

from __future__ import annotations

from typing import List, Optional


def budget_statement(report: dict) -> Optional[str]:
    """The time budget and what became of it; None without --time-budget."""
    budget = report.get("time_budget")
    if not budget:
        return None
    if budget["spent"]:
        return (f"time budget of {budget['seconds']:g} s spent after {budget['elapsed']:.1f} s: "
                f"the scan stopped there and is not complete")
    return (f"time budget of {budget['seconds']:g} s not spent: the scan took "
            f"{budget['elapsed']:.1f} s")


def unscanned(report: dict) -> List[str]:
    """The evidence items a scan that stopped early did not finish."""
    if report["complete"]:
        return []
    return [ev["path"] for ev in report["evidence"] if not ev.get("scanned")]


def stop_statement(report: dict) -> Optional[str]:
    """Why a scan that is not complete stopped, in words; None for a complete one."""
    if report["complete"]:
        return None
    why = {"budget": "stopped when its time budget was spent",
           "sampled": "stopped after a sample of the media found nothing",
           "terminated": "terminated (SIGTERM)"}.get(report.get("stopped") or "",
                                                      "interrupted")
    return f"{why}: only part of the evidence was scanned"


def fragment_statement(f: dict) -> str:
    """A fragment in words, e.g. "5 of 10 4 KiB blocks of reference file MD5 ... (set 'ref',
    category '1') found in 1 run on the media; claimed by /a.jpg (inode 12, deleted)"."""
    runs = len(f["runs"])
    owner = f["owner"]
    where = ("in unallocated space (no file-system object claims it)" if owner is None else
             f"claimed by {owner['path']} (inode {owner['inode']}, "
             f"{'allocated' if owner['allocated'] else 'deleted'})")
    return (f"{f['blocks_matched']} of {f['blocks_total']} 4 KiB blocks of reference file MD5 "
            f"{f['reference_md5']} (set {f['set']!r}, "
            f"{'category ' + repr(f['category']) if f['category'] else 'no category'}) found in "
            f"{runs} run{'s' if runs != 1 else ''} on the media; {where}")
