"""What a scan ran on: operating system, host, Python and the libraries that read evidence.
Captured when the scan runs and kept in its results, so a report rendered again later, on
another machine, still says where the scan itself happened."""

from __future__ import annotations

import os
import platform
import re
import sys
from typing import Dict, List, Tuple

from . import TOOL_NAME


def describe() -> dict:
    uname = platform.uname()
    return {
        "os_sysname": uname.system,
        "os_release": uname.release,
        "os_version": uname.version,
        "host": uname.node,
        "arch": uname.machine,
        "libraries": [{"name": n, "version": v} for n, v in libraries()],
    }


def libraries():
    """Python, the C libraries that read evidence (zlib where libewf inflates with it), and every
    installed runtime dependency."""
    import pyewf
    import pytsk3
    from .evidence.libewf import inflates_with_zlib
    found = [("Python", platform.python_version()), ("libtsk", pytsk3.TSK_VERSION_STR),
             ("libewf", pyewf.get_version())]
    if inflates_with_zlib():   # what inflates E01 chunks: libewf's own deflate, or zlib
        import zlib
        found.append(("zlib", zlib.ZLIB_RUNTIME_VERSION))
    installed = distributions()
    mine = installed.get(TOOL_NAME)
    for req in requirements(mine[1]) if mine else ():   # none run from a source tree
        if "extra ==" in req:
            continue
        name = re.match(r"[A-Za-z0-9._-]+", req).group()
        version = installed.get(_normal(name), (None,))[0] or _version_elsewise(name)
        if version is not None:
            found.append((name, version))
    return found


def distributions() -> Dict[str, Tuple[str, str]]:
    """(version, its .dist-info folder) of each distribution on sys.path, by its normalised
    name, told by the folder's name alone: {name}-{version}.dist-info, each with its dashes
    escaped (the wheel format's rule, as pip and setuptools' editable installs write it).
    importlib.metadata reads and parses every METADATA file, and its import alone took 13 ms:
    20 ms of a scan's start, before its workers begin. The first found wins, as for import."""
    found: Dict[str, Tuple[str, str]] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:   # a zip, a folder gone
            continue
        for folder in names:
            if folder.endswith(".dist-info"):
                name, dash, version = folder[:-len(".dist-info")].partition("-")
                if dash:
                    found.setdefault(_normal(name), (version, os.path.join(entry, folder)))
    return found


def requirements(dist_info: str) -> List[str]:
    """The Requires-Dist lines of a distribution's METADATA (its headers, before the first
    blank line), as importlib.metadata.requires gives them."""
    found = []
    try:
        with open(os.path.join(dist_info, "METADATA"), encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    break
                if line.startswith("Requires-Dist:"):
                    found.append(line.partition(":")[2].strip())
    except OSError:
        return []
    return found


def _normal(name: str) -> str:
    """A distribution's name as PEP 503 compares it."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _version_elsewise(name: str):
    """The version importlib.metadata finds, for a distribution installed without a
    .dist-info folder of that form (an .egg-info); None when it is not installed."""
    import importlib.metadata
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
