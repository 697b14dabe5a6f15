#!/usr/bin/env bash
# One file from a frozen program folder: packaging/launcher.sh, then a gzip'd tar of the folder.
#
#   packaging/assemble.sh FOLDER OUT
#
# FOLDER holds triage/triage (the frozen executable) and what it needs beside it; OUT is the
# one file written, with OUT.sha256 beside it (`sha256sum -c` checks it).
set -euo pipefail
folder=$1
out=$2
here=$(cd "$(dirname "$0")" && pwd)
payload=$(mktemp "${out}.payload.XXXXXX")
trap 'rm -f "$payload" "$out.part"' EXIT
(cd "$folder" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - triage) \
    | gzip -n -6 > "$payload"
id=$(sha256sum "$payload" | cut -c1-16)
# The payload's offset is written at a fixed width, so the launcher's length (and so the
# offset) does not depend on it.
stub=$(sed -e "s/@PAYLOAD_ID@/$id/" -e "s/@PAYLOAD_OFFSET@/OFFSETXXXX/" "$here/launcher.sh")
length=$(printf '%s\n' "$stub" | wc -c)
offset=$(printf '%010d' $((length + 1)))
printf '%s\n' "$stub" | sed "s/OFFSETXXXX/$offset/" > "$out.part"
cat "$payload" >> "$out.part"
chmod 755 "$out.part"
mv "$out.part" "$out"
(cd "$(dirname "$out")" && sha256sum "$(basename "$out")" > "$(basename "$out").sha256")
