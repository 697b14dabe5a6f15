"""JSON as every triage output writes it: UTF-8, field order kept, with characters that can
disguise a file name on screen escaped.

File names are attacker-controlled. A bidi override (U+202E) makes `gpj.exe` display as
`exe.jpg`; escaping such characters as \\uXXXX keeps the decoded value exact while making them
visible to anyone reading the raw file."""

from __future__ import annotations

import json

from .safetext import DISGUISING


def dumps(obj, indent=None) -> str:
    text = json.dumps(obj, ensure_ascii=False, indent=indent)
    return DISGUISING.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
