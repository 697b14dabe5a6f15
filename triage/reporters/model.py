"""The canonical report: one dict built from the results database, from which every format is
rendered. Field names follow DESIGN.md section 4 and `triage/schemas/report.schema.json`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Optional

from ..results import Results

FORMAT = "triage-report"
FORMAT_VERSION = "2.3"   # see docs/report-changes.md


def build(results: Results) -> dict:
    tool = results.get("tool", {})
    case = {k: (results.get("case") or {}).get(k) for k in
            ("case_number", "examiner", "evidence_id", "notes")}
    tally = results.tally()
    summary = asdict(results.summary(tally))
    swept = _swept(results)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tool": tool,
        "environment": results.get("environment", {}),
        "options": results.get("options", {}),
        "case": case,
        "started": results.get("started"),
        "finished": results.get("finished"),
        "complete": bool(results.get("complete")),
        "stopped": results.get("stopped"),
        "evidence": [_evidence(results, e, swept, tally) for e in results.evidence()],
        "hashsets": results.hashsets(),
        "summary": summary,
        "hits": sorted((_hit(f) for f in results.findings()), key=_hit_order),
        "fragments": sorted(results.get("fragments") or [],
                            key=lambda f: (f["evidence"], f["runs"][0]["offset"],
                                           f["reference_md5"], f["set"])),
        "sampling": results.get("sampling"),
        "time_budget": results.get("time_budget"),
        "errors": sorted(results.errors("error"), key=_location_order),
        "warnings": sorted(results.errors("warning"), key=_location_order),
    }


def _swept(results: Results) -> Optional[set]:
    """The evidence items whose media has been swept for blocks, when the scan sweeps them
    (`--blocks`, or a sample that hit; else None): an item whose files were all judged is not
    scanned until its sweep is done too."""
    options = results.get("options") or {}
    if not (options.get("blocks") or options.get("sample")):
        return None
    return set(results.get("swept") or [])


def _evidence(results: Results, row: dict, swept: Optional[set], tally: list) -> dict:
    info = dict(row["info"])
    # Damaged chunks as the scan met them, wherever: the description of the evidence at the
    # start lists only those met while opening it.
    seen = {(d["offset"], d["length"]) for d in info.get("damaged", [])}
    seen |= {(d["offset"], d["length"]) for d in results.damage(row["id"])}
    if "damaged" in info or seen:
        info["damaged"] = [{"offset": o, "length": n} for o, n in sorted(seen)]
    counts = results.volume_counts(row["id"], tally)
    for volume in info.get("volumes", []):
        volume["counts"] = counts.get(volume["index"], _zero_counts())
    if info.get("container") == "folder":
        info["counts"] = counts.get(None, _zero_counts())
    info["scanned"] = row["finished"] and (swept is None or row["path"] in swept)
    return info


def _zero_counts() -> dict:
    from ..results import STATUSES
    return {"files_seen": 0, **{s: 0 for s in STATUSES}}


# A hit's fields that are not one of the file's digests or perceptual hashes.
HIT_FIELDS = frozenset({"evidence", "volume", "path", "inode", "allocated", "realloc", "size",
                        "mtime", "atime", "ctime", "crtime", "other_names", "matches",
                        # a child entry's (records.MemberOf)
                        "container_path", "member_path", "container_md5", "note",
                        # a file stored in an iOS backup: its name on the phone
                        "backup_path"})


def hit_signals(hit: dict) -> dict:
    """The file's own digests and perceptual hashes, by signal name."""
    return {k: v for k, v in hit.items() if k not in HIT_FIELDS}


def _hit(finding: dict) -> dict:
    """A hit is a file (one content), shown under its own name: a live name before a deleted
    one, and never a reallocated name (its inode now holds another file's content) while any
    other name is there; the rest are its `other_names`."""
    names = sorted([finding["entry"], *finding["names"]], key=_name_rank)
    hit = dict(names[0])
    hit.update(finding["hashes"])
    hit["other_names"] = [{k: n[k] for k in ("path", "allocated", "realloc")}
                          for n in names[1:]]
    hit["matches"] = sorted(finding["matches"], key=lambda m: (
        m["kind"], m["set"], m["signal"], m["distance"], m.get("category") or "",
        m["id"] or "", m["value"] or ""))
    return hit


def _name_rank(entry: dict):
    return (bool(entry.get("realloc")), not entry["allocated"], entry["path"])


def _hit_order(hit: dict):
    vol = hit.get("volume") or {}
    return (hit["evidence"], vol.get("index", -1), hit["path"], hit.get("inode") or 0)


def _location_order(err: dict):
    vol = err.get("volume") or {}
    return (err.get("evidence") or "", vol.get("index", -1), err.get("path") or "",
            err.get("inode") or 0, err.get("reason") or "")
