#!/bin/sh
# triage, as one file: this launcher followed by a gzip'd tar of the frozen program (a
# PyInstaller folder: Python, triage and every library it needs, libmagic's database included).
#
# The first run unpacks it once into .triage-ID/ BESIDE THIS FILE (the USB stick), never into
# the machine's temp folder; later runs start from there at once. The program keeps its
# temporary files (SQLite's, Python's) in .triage-ID/triage/tmp/ (packaging/rthook_triage.py):
# with the output folder on the stick, nothing is written to the machine under examination. TRIAGE_UNPACK_DIR=DIR unpacks into DIR instead (a
# stick mounted read-only). Delete .triage-*/ to unpack afresh. Needs only sh, tail, tar and
# gzip (busybox will do). No heredocs here: a shell writes them to a temp file.
set -u
id=@PAYLOAD_ID@
offset=@PAYLOAD_OFFSET@
self=$(readlink -f -- "$0" 2>/dev/null) || self=$0
base=${TRIAGE_UNPACK_DIR:-${self%/*}}
dir="$base/.triage-$id"
if [ ! -x "$dir/triage/triage" ]; then
    part="$dir.partial.$$"
    if ! mkdir -p "$part" 2>/dev/null; then
        echo "triage: error: $base: cannot unpack beside the executable (not writable); set TRIAGE_UNPACK_DIR to a folder on the stick" >&2
        exit 2
    fi
    if ! tail -c "+$offset" "$self" | tar -xzf - -C "$part"; then
        rm -rf "$part"
        echo "triage: error: $self: cannot unpack (damaged or truncated: check its SHA-256)" >&2
        exit 2
    fi
    # Another run may have unpacked meanwhile: keep the first, drop ours.
    mv "$part" "$dir" 2>/dev/null || rm -rf "$part"
fi
exec "$dir/triage/triage" "$@"
