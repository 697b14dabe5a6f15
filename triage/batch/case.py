"""The case report of a batch: per item its verdict, hits by category, coverage, errors and a
link to its own report; totals; the hash sets once. One dict (case.json) from which case.html
and case.csv are rendered, and the exit code over the case:
2 if any item could not run, else 1 if any item has hits, else 3 if any item was partly
unreadable, else 0; 130 (143) when the batch was interrupted (terminated)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional
from urllib.parse import quote

from .. import TOOL_NAME, __version__
from ..errors import EXIT_CLEAN, EXIT_HITS, EXIT_INCOMPLETE, EXIT_UNUSABLE
from ..safetext import path_text
from ..verdict import CLEAN, HITS, PARTIAL, SIGNAL_EXITS

FORMAT = "triage-case"
FORMAT_VERSION = "1.2"   # 1.1: totals' videos_decoded; 1.2: files_screened

# An item's status in the case.
DONE, FAILED, NOT_FINISHED = "done", "failed", "not finished"
COVERAGE = ("files_seen", "files_hashed", "files_skipped", "files_screened", "files_known",
            "other_names", "images_decoded", "videos_decoded", "bytes_read")


@dataclass
class ItemResult:
    """How one item ended: its task's outcome (tasks.outcome) or why it did not finish."""
    item: dict                              # as batch.json keeps it
    outcome: Optional[dict] = None
    reason: Optional[str] = None            # failed: why
    status: str = NOT_FINISHED


@dataclass
class CaseVerdict:
    tone: str
    headline: str
    exit_code: int
    details: List[str] = field(default_factory=list)


def item_entry(result: ItemResult, formats) -> dict:
    item = result.item
    entry = {"evidence_id": item["evidence_id"], "path": path_text(item["path"]),
             "source": item["source"], "notes": item.get("notes"), "status": result.status,
             "parts": len(item.get("parts") or []) or 1}
    if result.status == FAILED:
        return {**entry, "verdict": "failed", "exit_code": EXIT_UNUSABLE,
                "reason": result.reason}
    if result.outcome is None:
        return {**entry, "verdict": None, "exit_code": None}
    report = result.outcome["report"]
    s = report["summary"]
    (ev,) = report["evidence"] or [{}]
    link = quote(item["evidence_id"])
    return {**entry, "verdict": result.outcome["verdict"],
            "headline": result.outcome["headline"],
            "exit_code": result.outcome["exit_code"], "complete": report["complete"],
            "hits": s["hits"], "hits_by_category": s["hits_by_category"],
            "errors": s["errors"], "warnings": s["warnings"],
            # (an item's report from before 2.2 has no videos_decoded)
            "coverage": {**{k: s.get(k, 0) for k in COVERAGE}, "container": ev.get("container"),
                         "media_size": ev.get("size"), "volumes": ev.get("volumes"),
                         "volumes_unread": ev.get("volumes_unread"),
                         "damaged_chunks": len(ev.get("damaged") or [])},
            "started": report["started"], "finished": report["finished"],
            "report": f"{link}/report.json",
            "html": f"{link}/report.html" if "html" in formats else None}


def build(results: List[ItemResult], *, case: Dict[str, Optional[str]], hashsets: List[dict],
          skipped: List[dict], formats, started: str, finished: str,
          stopped: Optional[str]) -> dict:
    items = [item_entry(r, formats) for r in results]
    verdict = decide(items, stopped)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "tool": {"name": TOOL_NAME, "version": __version__},
        "case": {"case_number": case.get("case_number"), "examiner": case.get("examiner")},
        "started": started, "finished": finished, "complete": stopped is None,
        "stopped": stopped,
        "verdict": {"tone": verdict.tone, "headline": verdict.headline,
                    "details": verdict.details},
        "exit_code": verdict.exit_code,
        "totals": totals(items),
        "hashsets": hashsets,
        "items": items,
        "skipped": skipped,
    }


def totals(items: List[dict]) -> dict:
    done = [i for i in items if i["status"] == DONE]
    categories: Dict[str, int] = {}
    for item in done:
        for label, count in item["hits_by_category"].items():
            categories[label] = categories.get(label, 0) + count
    return {
        "items": len(items), "done": len(done),
        "failed": sum(i["status"] == FAILED for i in items),
        "not_finished": sum(i["status"] == NOT_FINISHED for i in items),
        "with_hits": sum(i["exit_code"] == EXIT_HITS for i in done),
        "partly_unreadable": sum(i["exit_code"] == EXIT_INCOMPLETE for i in done),
        "hits": sum(i["hits"] for i in done),
        "hits_by_category": dict(sorted(categories.items())),
        "files_seen": sum(i["coverage"]["files_seen"] for i in done),
        "bytes_read": sum(i["coverage"]["bytes_read"] for i in done),
        "media_bytes": sum(i["coverage"]["media_size"] or 0 for i in done),
        "errors": sum(i["errors"] for i in done),
        "warnings": sum(i["warnings"] for i in done),
    }


def decide(items: List[dict], stopped: Optional[str]) -> CaseVerdict:
    t = totals(items)
    n, hits = t["items"], t["hits"]
    found = (f"hits in {t['with_hits']:,} of {n:,} items ({hits:,} "
             f"file{'s' if hits != 1 else ''})")
    details = [f"{i['evidence_id']}: {i['reason']}" for i in items if i["status"] == FAILED]
    details += [f"{i['evidence_id']}: {i['headline']}" for i in items
                if i["status"] == DONE and i["exit_code"] == EXIT_INCOMPLETE]
    if stopped:
        return CaseVerdict(HITS if hits else PARTIAL,
                           f"{stopped.upper()}: {t['done']:,} of {n:,} items finished"
                           f"{', ' + found if hits else ''}; the case is not complete",
                           SIGNAL_EXITS.get(stopped, EXIT_INCOMPLETE), details)
    if t["failed"]:
        return CaseVerdict(HITS if hits else PARTIAL,
                           f"{t['failed']:,} OF {n:,} ITEMS COULD NOT BE SCANNED"
                           f"{'; ' + found if hits else ''}", EXIT_UNUSABLE, details)
    if hits:
        return CaseVerdict(HITS, f"HITS FOUND in {t['with_hits']:,} of {n:,} items: {hits:,} "
                           f"file{'s' if hits != 1 else ''} match known material", EXIT_HITS,
                           details)
    if t["partly_unreadable"]:
        return CaseVerdict(PARTIAL, f"NO HITS, BUT COVERAGE WAS NOT TOTAL in "
                           f"{t['partly_unreadable']:,} of {n:,} items", EXIT_INCOMPLETE,
                           details)
    return CaseVerdict(CLEAN, f"NO HITS in {n:,} item{'s' if n != 1 else ''}: no known "
                       f"material found", EXIT_CLEAN, details)
