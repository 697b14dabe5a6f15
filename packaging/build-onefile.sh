#!/usr/bin/env bash
# Build triage as one Linux x86-64 executable (PyInstaller), with Python, pytsk3, pyewf,
# libmagic and its database, pdqhash, numpy, faiss, Pillow, pillow-heif and the rest inside.
#
#   packaging/build-onefile.sh [--onedir] [--python PYTHON] [--out DIR]
#
# Writes DIR/triage (default DIR: dist/) and DIR/triage.sha256 beside it. --onedir makes a
# folder (DIR/triage/triage) instead: the same bundle unpacked, for a quick check in CI.
# The build happens in a virtual environment of its own (build/onefile/venv) holding the
# project's runtime dependencies only, never the test extra. See docs/fieldkit.md.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=onefile
python=python3
out=dist
while [ $# -gt 0 ]; do
    case "$1" in
        --onedir) mode=onedir ;;
        --python) python="$2"; shift ;;
        --out) out="$2"; shift ;;
        *) echo "build-onefile.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

work=build/onefile
venv="$work/venv"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/pip" install -q . "pyinstaller>=6.10,<7"

magic_db=$("$venv/bin/python" - <<'PY'
import os
for p in ("/usr/share/misc/magic.mgc", "/usr/lib/file/magic.mgc", "/usr/share/file/magic.mgc"):
    if os.path.exists(p):
        print(os.path.realpath(p)); break
PY
)
# The libmagic python-magic loads, by the path the loader mapped (not a guess at its name).
magic_lib=$("$venv/bin/python" - <<'PY'
import magic  # noqa: F401  (loads libmagic)
for line in open("/proc/self/maps"):
    path = line.split()[-1]
    if "/libmagic.so" in path:
        print(path); break
PY
)
if [ -z "$magic_db" ] || [ ! -f "$magic_lib" ]; then
    echo "build-onefile.sh: libmagic and its database are needed (apt-get install libmagic1)" >&2
    exit 2
fi

"$venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --"$mode" --name triage \
    --distpath "$out" --workpath "$work/pyi" --specpath "$work" \
    --collect-submodules triage --collect-data triage \
    --hidden-import pillow_heif --hidden-import pdqhash --hidden-import faiss \
    --add-binary "$magic_lib:." --add-data "$magic_db:." \
    --runtime-hook packaging/rthook_triage.py \
    --exclude-module tkinter --exclude-module pytest --exclude-module hypothesis \
    --exclude-module case_utils --exclude-module rdflib --exclude-module xmlschema \
    packaging/triage_main.py

if [ "$mode" = onefile ]; then
    (cd "$out" && sha256sum triage > triage.sha256)
    ls -l "$out/triage"
    cat "$out/triage.sha256"
else
    du -sh "$out/triage"
fi
