"""libewf through its C API: which inflater it uses is what the dynamic linker says, and the
report's environment names zlib exactly when libewf inflates with it."""

from __future__ import annotations

import subprocess

import pyewf

from triage import environment
from triage.evidence.libewf import inflates_with_zlib


def test_inflating_with_zlib_is_what_the_dynamic_linker_says_of_pyewf():
    linked = subprocess.run(["ldd", pyewf.__file__], capture_output=True, text=True,
                            check=True).stdout
    assert inflates_with_zlib() == ("libz.so" in linked)


def test_the_environment_names_zlib_exactly_when_libewf_inflates_with_it():
    import zlib
    found = dict(environment.libraries())
    assert found["libewf"] == pyewf.get_version()
    assert found.get("zlib") == (zlib.ZLIB_RUNTIME_VERSION if inflates_with_zlib() else None)
