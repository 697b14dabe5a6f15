"""The signal registry's shared parts."""

import hashlib

from triage import signals
from triage.signals.base import ClassValue


def test_a_class_value_is_made_on_first_use_and_kept_on_the_class_asked():
    made = []

    class Base:
        value = ClassValue(lambda cls: made.append(cls.__name__) or cls.__name__.lower())

    class One(Base):
        pass

    assert made == []
    assert One.value == "one" and One.value == "one"
    assert Base.value == "base"
    assert made == ["One", "Base"]
    assert One.__dict__["value"] == "one"


def test_digest_signals_trivial_values_are_the_empty_file_and_zero_blocks():
    for name in ("md5", "sha1", "sha256"):
        expected = {hashlib.new(name, bytes(n)).hexdigest() for n in (0, 512, 4096, 1 << 20)}
        assert signals.get(name).trivial == expected
    assert "d41d8cd98f00b204e9800998ecf8427e" in signals.get("md5").trivial
