#!/usr/bin/env bash
# Build triage as one Linux x86-64 executable, with Python, pytsk3, pyewf, libmagic and its
# database, pdqhash, numpy, faiss, Pillow, pillow-heif and the rest inside.
#
#   packaging/build-onefile.sh [--onedir] [--python PYTHON] [--out DIR]
#
# PyInstaller freezes the program into a folder; the one file is packaging/launcher.sh
# followed by a gzip'd tar of that folder, which the launcher unpacks once BESIDE ITSELF
# (PyInstaller's own one-file mode would unpack into the machine's temp folder on every run).
# Writes DIR/triage (default DIR: dist/) and DIR/triage.sha256 beside it. --onedir stops at
# the folder (DIR/triage/triage), for a quicker check. The build happens in a virtual
# environment of its own (build/onefile/venv) holding the project's runtime dependencies
# only, never the test extra. See docs/fieldkit.md.
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
# `pip install .` compiles a folder's C lister (triage/evidence/_oslist.c), and where
# libtsk-dev is installed the image walk's (triage/evidence/_tskwalk.c, setup.py); PyInstaller
# bundles libtsk.so.19 with what it links (libewf, libvmdk, libvhdi, afflib and theirs).
# Without libtsk-dev the build holds the pytsk3 walk alone: the same entries, 2-3x slower to
# list.
"$venv/bin/pip" install -q . "pyinstaller>=6.10,<7"
# The kit reads E01 images 2-5x as fast with a pyewf that inflates with zlib, rebuilt here
# where zlib's headers are (packaging/pyewf-with-zlib.sh); elsewhere it keeps the wheel's.
if [ -f /usr/include/zlib.h ]; then
    # offline, or without a compiler, the kit is still built, with the wheel's pyewf
    bash packaging/pyewf-with-zlib.sh "$venv/bin/python" ||
        echo "pyewf: libewf's own deflate (its rebuild with zlib failed, above)"
else
    echo "pyewf: libewf's own deflate (for zlib's: apt-get install zlib1g-dev, build again)"
fi

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

if [ "$mode" = onedir ]; then bundle="$out"; else bundle="$work/bundle"; fi
rm -rf "$bundle/triage"
"$venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --onedir --name triage \
    --distpath "$bundle" --workpath "$work/pyi" --specpath "$work" \
    --collect-submodules triage --collect-data triage \
    --hidden-import pillow_heif --hidden-import pdqhash --hidden-import faiss \
    --add-binary "$magic_lib:." --add-data "$magic_db:." \
    --runtime-hook packaging/rthook_triage.py \
    --exclude-module tkinter --exclude-module pytest --exclude-module hypothesis \
    --exclude-module case_utils --exclude-module rdflib --exclude-module xmlschema \
    packaging/triage_main.py

# The oldest glibc the bundle runs on: the newest symbol version any of its ELF files needs.
glibc=$(find "$bundle/triage" -type f \( -name '*.so*' -o -name triage \) -exec \
        objdump -T {} + 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
echo "needs glibc ${glibc#GLIBC_} or later"

if [ "$mode" = onedir ]; then
    du -sh "$bundle/triage"
    exit 0
fi
mkdir -p "$out"
bash packaging/assemble.sh "$bundle" "$out/triage"
ls -l "$out/triage"
cat "$out/triage.sha256"
