"""Make attacker-controlled text (file names) safe to show: control characters and characters
that can disguise a name on screen (bidi overrides, zero-width marks) become visible escapes."""

from __future__ import annotations

import os
import re
import shlex

# Bidi controls, zero-width and invisible formatting marks, line/paragraph separators, BOM.
DISGUISING = re.compile("[\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def path_text(path: str) -> str:
    """An OS path as text any output can carry: bytes that are not UTF-8 (Python keeps them as
    surrogate escapes, which no UTF-8 writer accepts) become visible `\\xff` escapes, as they
    do in file names read from evidence. Only for showing: the path itself still opens the
    file."""
    if path.isascii():
        return path
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def visible(text: str) -> str:
    """`name\u202egpj.exe` -> `name<U+202E>gpj.exe`; a newline -> `\\x0a`; bytes of an OS path
    that are not UTF-8 -> `\\xff`. One line, no tricks."""
    if text.isascii() and text.isprintable():   # most names: nothing to show (a report of
        return text                             # 20,000 hits asks for half a million)
    text = path_text(text)
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return DISGUISING.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def shell_word(text: str) -> str:
    """`text` (an argument as the OS gave it, undecodable bytes as surrogate escapes) quoted
    for a POSIX shell so that pasting it gives back the same bytes: plain quoting where it is
    printable UTF-8, bash's $'...' with \\xHH escapes where it is not."""
    raw = os.fsencode(text)
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        decoded = None
    if decoded is not None and not _CONTROL.search(decoded) and not DISGUISING.search(decoded):
        return shlex.quote(decoded)
    out = []
    for byte in raw:
        char = chr(byte)
        out.append(char if 0x20 <= byte < 0x7f and char not in "\\'" else f"\\x{byte:02x}")
    return "$'" + "".join(out) + "'"
