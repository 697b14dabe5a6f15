"""What a scan ran on: operating system, host, Python and the libraries that read evidence.
Captured when the scan runs and kept in its results, so a report rendered again later, on
another machine, still says where the scan itself happened."""

from __future__ import annotations

import platform
import re

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
    import importlib.metadata   # here, not at import: a scan describes its machine while its
    #                            sets' checksums run, where the import costs no wall time
    import pyewf
    import pytsk3
    from .evidence.libewf import inflates_with_zlib
    found = [("Python", platform.python_version()), ("libtsk", pytsk3.TSK_VERSION_STR),
             ("libewf", pyewf.get_version())]
    if inflates_with_zlib():   # what inflates E01 chunks: libewf's own deflate, or zlib
        import zlib
        found.append(("zlib", zlib.ZLIB_RUNTIME_VERSION))
    try:
        requires = importlib.metadata.requires(TOOL_NAME) or []
    except importlib.metadata.PackageNotFoundError:   # run from a source tree, not installed
        requires = []
    for req in requires:
        if "extra ==" in req:
            continue
        name = re.match(r"[A-Za-z0-9._-]+", req).group()
        try:
            found.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            continue
    return found
