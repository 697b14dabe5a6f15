"""JSON as every triage output writes it: UTF-8, field order kept, with characters that can
disguise a file name on screen escaped.

File names are attacker-controlled. A bidi override (U+202E) makes `gpj.exe` display as
`exe.jpg`; escaping such characters as \\uXXXX keeps the decoded value exact while making them
visible to anyone reading the raw file."""

from __future__ import annotations

import json
import re

import msgspec

from .safetext import DISGUISING


# Python keeps the bytes of an OS path that are not UTF-8 as lone surrogates (U+DC80..U+DCFF);
# written as `\xff` (the two characters, escaped for JSON), as file names read from evidence are.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def dumps(obj, indent=None) -> str:
    text = _bytes_shown(json.dumps(obj, ensure_ascii=False))
    if indent is not None:
        # made compact by json's C encoder, then indented by msgspec's: the same text, where
        # json's own indenting encoder is pure Python (3x the time on a report of 20,000 hits)
        try:
            text = msgspec.json.format(text, indent=indent)
        except UnicodeEncodeError:   # a lone surrogate no path gave (a set's JSON said so):
            # json's indenting keeps it, for the writer to refuse as before
            text = _bytes_shown(json.dumps(obj, ensure_ascii=False, indent=indent))
    return DISGUISING.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _bytes_shown(text: str) -> str:
    return _ESCAPED_BYTE.sub(lambda m: f"\\\\x{ord(m.group()) - 0xdc00:02x}", text)
