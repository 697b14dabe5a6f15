"""manifest.json: every output file of a scan with its size and SHA-256, so a reader can tell
that the reports handed over are the ones the tool wrote."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import List

from .. import TOOL_NAME, __version__
from ..atomic import write_atomically
from ..jsonout import dumps

MANIFEST = "manifest.json"


def write_manifest(outdir: Path, outputs: List[Path]) -> Path:
    files = []
    for path in sorted(outputs, key=lambda p: p.name):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        files.append({"name": path.name, "size": path.stat().st_size, "sha256": digest})
    manifest = {"format": "triage-manifest", "tool": {"name": TOOL_NAME, "version": __version__},
                "files": files}
    target = outdir / MANIFEST
    write_atomically(target, (dumps(manifest, indent=2) + "\n").encode("utf-8"))
    return target
