#!/usr/bin/env bash
# Rebuild pyewf (libewf-python) in PYTHON's environment so that libewf inflates EWF chunks with
# zlib. The wheel on PyPI, and a plain build of its source, inflate with libewf's own deflate:
# its configure leaves zlib out of the static build the Python package makes. That costs E01
# images most of their reading time (a 600 MB ext4 E01 scanned in 5.8 s, 2.5 s with zlib:
# benchmarks/README.md, ewf_read.py). The installed version is rebuilt from its source
# distribution, with zlib's functions declared present and zlib linked; it needs a C compiler
# and the headers of Python and zlib (apt-get install build-essential python3-dev zlib1g-dev).
#
#   packaging/pyewf-with-zlib.sh [PYTHON]      (default: python3)
#
# Exit codes: 0 done (or pyewf already inflates with zlib); 1 the rebuilt pyewf still does not;
# 2 what the build needs is missing.
set -euo pipefail

python=${1:-python3}
uses_zlib() {
    # dlsym on pyewf's own handle searches it and the libraries it links, not the others the
    # process has loaded (Python's zlib module): found only where pyewf links zlib
    "$python" -c 'import ctypes, sys, pyewf
sys.exit(0 if hasattr(ctypes.CDLL(pyewf.__file__), "uncompress") else 1)'
}

if uses_zlib; then
    echo "pyewf: inflates with zlib"
    exit 0
fi
if [ ! -f /usr/include/zlib.h ]; then
    echo "pyewf-with-zlib.sh: zlib's headers are needed (apt-get install zlib1g-dev)" >&2
    exit 2
fi
version=$("$python" -c 'import importlib.metadata as m; print(m.version("libewf-python"))')
# --no-cache-dir: pip's cache of wheels built from source is not keyed by CFLAGS, and would
# hand back a build without zlib.
CFLAGS="${CFLAGS:-} -DHAVE_ZLIB=1 -DHAVE_ZLIB_UNCOMPRESS=1 -DHAVE_ZLIB_COMPRESS2=1 \
-DHAVE_ZLIB_ADLER32=1" LDFLAGS="${LDFLAGS:-} -Wl,--no-as-needed -lz" \
    "$python" -m pip install -q --no-cache-dir --force-reinstall --no-deps \
    --no-binary libewf-python "libewf-python==$version"
if ! uses_zlib; then
    echo "pyewf-with-zlib.sh: the rebuilt pyewf $version still inflates with libewf's own deflate" >&2
    exit 1
fi
echo "pyewf: inflates with zlib (libewf-python $version rebuilt)"
