"""triage.jsonout: the text every JSON output writes."""

import json

from hypothesis import given, settings, strategies as st

from triage.jsonout import dumps

# Names as evidence gives them: any character, the bytes of a path that are not UTF-8 (lone
# surrogates U+DC80..U+DCFF), and the characters that disguise a name on screen.
_TEXT = st.text(st.one_of(st.characters(blacklist_categories=("Cs",)),
                          st.sampled_from("\udc80\udcff\u202e\u200b\ufeff\x00\n\"\\")))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) |
    st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=30)


def _reference(obj, indent):
    """What dumps wrote when it was json's own indenting encoder."""
    text = json.dumps(obj, ensure_ascii=False, indent=indent)
    out = []
    for ch in text:
        if "\udc80" <= ch <= "\udcff":
            out.append(f"\\\\x{ord(ch) - 0xdc00:02x}")
        elif ch in "\u061c\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u202a\u202b\u202c" \
                   "\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2065\u2066\u2067\u2068" \
                   "\u2069\ufeff":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_indented_text_is_jsons_own(obj):
    """Indented by msgspec after json's C encoder: the text json's indenting encoder gives,
    character for character, escapes of the bytes of paths and of disguising marks included,
    and it reads back as the object."""
    for indent in (None, 2):
        text = dumps(obj, indent=indent)
        assert text == _reference(obj, indent)


def test_a_hostile_name_reads_back_visibly():
    text = dumps({"path": "/a\udcffb\u202egpj.exe", "n": [1, 2.5, None]}, indent=2)
    assert text == ('{\n  "path": "/a\\\\xffb\\u202egpj.exe",\n  "n": [\n    1,\n    2.5,\n'
                    '    null\n  ]\n}')
    assert json.loads(text) == {"path": "/a\\xffb\u202egpj.exe", "n": [1, 2.5, None]}
