"""`--threshold SIGNAL=BITS`: one parser for scan, hashset import and hashset build."""

import pytest

from triage.signals import parse_threshold


@pytest.mark.parametrize("text, expected", [
    ("pdq=31", ("pdq", 31)), ("PDQ = 0", ("pdq", 0)), ("pdq=256", ("pdq", 256)),
    ("phash=64", ("phash", 64)), ("phash256=256", ("phash256", 256)),
])
def test_distance_signals_take_a_radius_within_their_bits(text, expected):
    assert parse_threshold(text) == expected


@pytest.mark.parametrize("text, reason", [
    ("pdq=257", "from 0 to 256"), ("phash=65", "from 0 to 64"), ("pdq=-1", "from 0 to 256"),
    ("pdq=3.5", "whole number"), ("pdq=\u00b2", "whole number"), ("pdq=", "whole number"),
    ("md5=3", "md5 takes no radius"), ("photodna=3", "photodna takes no radius"),
    ("foo=3", "unknown signal 'foo'"), ("pdq", "expected SIGNAL=BITS"), ("=3", "expected"),
])
def test_anything_else_is_refused_with_its_reason(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_threshold(text)


@pytest.mark.parametrize("command", [
    ("scan", "x", "--hashset", "y"), ("hashset", "import", "x", "-o", "y"),
    ("hashset", "build", ".", "-o", "y")])
def test_every_command_refuses_a_bad_radius_in_one_line(triage, command, tmp_path):
    run = triage(*command, "--threshold", "pdq=300", cwd=tmp_path)
    assert run.code == 2
    assert run.stderr.splitlines() == [
        f"triage: error: triage {' '.join(command[:2] if command[0] == 'hashset' else command[:1])}: "
        "Invalid value for '--threshold': 'pdq=300': the pdq radius must be a whole number "
        "of bits from 0 to 256"]
