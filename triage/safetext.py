"""Make attacker-controlled text (file names) safe to show: control characters and characters
that can disguise a name on screen (bidi overrides, zero-width marks) become visible escapes."""

from __future__ import annotations

import re

# Bidi controls, zero-width and invisible formatting marks, line/paragraph separators, BOM.
DISGUISING = re.compile("[\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """`name\u202egpj.exe` -> `name<U+202E>gpj.exe`; a newline -> `\\x0a`. One line, no tricks."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return DISGUISING.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)
