"""Runs inside the frozen executable before triage is imported: point libmagic at the database
shipped inside the bundle (never the host's), load the bundled libmagic before python-magic
looks for one, and keep Python from writing bytecode caches anywhere."""

import ctypes
import os
import sys

sys.dont_write_bytecode = True
_bundle = getattr(sys, "_MEIPASS", None)
if _bundle:
    _database = os.path.join(_bundle, "magic.mgc")
    if os.path.exists(_database):
        os.environ["MAGIC"] = _database
    _library = os.path.join(_bundle, "libmagic.so.1")
    if os.path.exists(_library):
        # dlopen by soname later (python-magic's loader) hands back this one.
        ctypes.CDLL(_library)
