"""`triage inspect`: what an evidence item is, before anything is scanned."""

from __future__ import annotations

from collections import Counter

import click

from ..errors import EXIT_CLEAN, EXIT_HITS
from ..evidence import open_evidence, verify
from ..jsonout import dumps
from ..progress import progress_bar
from ..records import ScanError
from ..safetext import visible
from .options import PathArg, evidence_access

# Said only where it applies: a build of pyewf whose libewf cannot be reached (media.py).
ZEROS_NOTE = ("this pyewf hides libewf's checksum errors and returns zeros for a damaged chunk, "
              "so a damaged E01 shows only as a hash mismatch")
NOT_VERIFIED_NOTE = ("not verified: --verify re-reads every chunk against its checksum and the "
                     "media against the stored hashes")
DAMAGED_NOTE = ("{n} chunk(s) fail their checksum: libewf reads them as zeros, as ewfverify "
                "does, so the computed hashes cover zeros there; files over them are unreadable")


@click.command()
@click.argument("evidence", type=PathArg(exists=False))
@evidence_access
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--verify", "do_verify", is_flag=True,
              help="Re-read the whole media and compare its MD5/SHA-1 with the stored ones.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
def inspect(evidence, as_json, do_verify, progress):
    """Describe EVIDENCE: container kind, media size, segments, E01 header values and stored
    hashes, partition table, volumes with file-system type, block size and file counts.

    Exit codes: 0 described (and verified, with --verify); 1 --verify found a hash mismatch or
    a damaged chunk; 2 the evidence cannot be opened."""
    with open_evidence(evidence) as ev:
        counts = _count(ev, progress)
        code, verification = EXIT_CLEAN, None
        if do_verify and ev.media is not None:
            with progress_bar(progress, total=ev.size, unit="B", unit_scale=True,
                              desc="verify") as bar:
                result = verify(ev.media, progress=bar.update)
            verification = {"hashes": result, "note": _note(ev)}
            if any(h["match"] is False for h in result.values()) or ev.damaged():
                code = EXIT_HITS
        elif ev.kind == "ewf":
            verification = {"hashes": None, "note": _note(ev) or NOT_VERIFIED_NOTE}
        # Described last: the damaged chunks are those the walk and the verification met.
        info = ev.describe()
        info["counts"] = counts
        if verification is not None:
            info["verification"] = verification
    if as_json:
        click.echo(dumps(info, indent=2))
    else:
        click.echo(_render(info))
    return code


def _note(ev) -> str:
    if ev.media is None or ev.kind != "ewf":
        return ""
    if not ev.media.checks_chunks:
        return ZEROS_NOTE
    damaged = ev.damaged()
    return DAMAGED_NOTE.format(n=len(damaged)) if damaged else ""


def _count(ev, progress) -> dict:
    """Files per volume (allocated, deleted, those stored encrypted and by what) and errors,
    from one walk without reading content."""
    counts, kinds = {}, {}
    with progress_bar(progress, unit=" files", desc="counting") as bar:
        for item in ev.entries():
            key = "folder" if item.volume is None else str(item.volume.index)
            c = counts.setdefault(key, Counter())
            if isinstance(item, ScanError):
                c["errors"] += 1
            else:
                c["allocated" if item.allocated else "deleted"] += 1
                c["bytes"] += item.size
                if item.encrypted is not None:   # stored encrypted: a scan cannot examine it
                    c["encrypted"] += 1
                    kinds.setdefault(key, set()).add(item.encrypted)
                bar.update(1)
    return {k: {"allocated": c["allocated"], "deleted": c["deleted"], "bytes": c["bytes"],
                "errors": c["errors"], "encrypted": c["encrypted"],
                "encrypted_by": sorted(kinds.get(k, ()))} for k, c in counts.items()}


ENCRYPTION_KINDS = ("luks1", "luks2", "bitlocker", "filevault", "apfs")


def _encryption(volume: dict):
    """An encrypted layer's kind, id and key protectors, and how it was opened."""
    for layer in volume.get("layers") or []:
        if "locked" not in layer or layer.get("kind") not in ENCRYPTION_KINDS:
            continue
        ident = layer.get("uuid") or layer.get("id") or ""
        state = ("LOCKED (no credential given opens it)" if layer["locked"]
                 else f"unlocked with a {layer.get('unlocked_with') or 'clear key'}")
        protectors = ", ".join(layer.get("protectors") or [])
        yield (f"encrypted: {layer['kind']} {ident} {state}"
               + (f"; key protectors: {protectors}" if protectors else ""))


def _render(info: dict) -> str:
    lines = [f"Evidence        {info['path']}", f"Container       {info['container']}"]
    inside = info.get("container_files") or []
    if inside:
        lines.append(f"Disk images     {len(inside)} inside, not opened (scan each as evidence "
                     f"of its own): {', '.join(c['path'] for c in inside[:5])}"
                     f"{' ...' if len(inside) > 5 else ''}")
    if info["size"] is not None:
        lines.append(f"Media size      {info['size']:,} bytes")
    if len(info["segments"]) > 1:
        lines.append(f"Segments        {len(info['segments'])}: {info['segments'][0]} ... "
                     f"{info['segments'][-1]}")
    for key, value in info["metadata"].items():
        lines.append(f"  {key.replace('_', ' '):<30}{value}")
    for name, value in info["stored_hashes"].items():
        lines.append(f"Stored {name:<9}{value}")
    ver = info.get("verification")
    if ver and ver["hashes"]:
        for name, h in ver["hashes"].items():
            verdict = {True: "MATCHES stored", False: "MISMATCH with stored",
                       None: "(nothing stored to compare)"}[h["match"]]
            lines.append(f"Computed {name:<7}{h['computed']}  {verdict}")
    for d in info["damaged"]:
        lines.append(f"DAMAGED chunk   media bytes {d['offset']:,}-{d['offset'] + d['length'] - 1:,}"
                     f" ({d['length']:,} bytes): checksum mismatch")
    if ver and ver["note"]:
        lines.append(f"Note: {ver['note']}.")
    if info["container"] != "folder":
        lines.append(f"Partition table {info['partition_table'] or 'none'}")
        lines.append("Volumes")
        lines.append(f"  {'#':>3}  {'offset':>14}  {'length':>14}  {'file system':<12} "
                     f"{'block':>6}  {'allocated':>9}  {'deleted':>7}  description")
        for v in info["volumes"]:
            c = info["counts"].get(str(v["index"]), {})
            fs = v["fs_type"] or "unreadable"
            lines.append(f"  {v['index']:>3}  {v['offset']:>14,}  {v['length']:>14,}  {fs:<12} "
                         f"{v['block_size'] or '-':>6}  {c.get('allocated', 0):>9}  "
                         f"{c.get('deleted', 0):>7}  {v['description']}")
            if v.get("path"):
                lines.append(f"       path {v['path']}")
            lines += [f"       {text}" for text in _encryption(v)]
            if c.get("encrypted"):
                lines.append(f"       {c['encrypted']} file(s) stored encrypted "
                             f"({', '.join(c['encrypted_by'])}): a scan cannot examine them")
            if v["error"]:
                lines.append(f"       {v['error']}")
    else:
        c = info["counts"].get("folder", {})
        lines.append(f"Files           {c.get('allocated', 0)} ({c.get('bytes', 0):,} bytes)")
    errors = sum(c["errors"] for c in info["counts"].values())
    if errors:
        lines.append(f"Errors          {errors} part(s) could not be listed; see `triage files`")
    return visible("\n".join(lines)).replace("\\x0a", "\n")
