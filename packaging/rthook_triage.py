"""Runs inside the frozen program before triage is imported: point libmagic at the database
shipped inside the bundle (never the host's), load the bundled libmagic before python-magic
looks for one, keep temporary files (Python's tempfile, SQLite's) in tmp/ beside the program,
never in the machine's temp folder, and keep Python from writing bytecode caches."""

import ctypes
import os
import sys
import tempfile

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
    _tmp = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "tmp")
    try:
        os.makedirs(_tmp, exist_ok=True)
    except OSError:
        pass           # a read-only copy: temporary files then go where TMPDIR says
    else:
        os.environ["TMPDIR"] = os.environ["SQLITE_TMPDIR"] = _tmp
        tempfile.tempdir = _tmp
