"""The tar test every screened file's head gets (compressed._is_tar): its C twin (_edges.c's
is_tar, used where built) answers as the Python function does, on the headers each rule
tells and on the near misses around them."""

from __future__ import annotations

import os

import pytest

from archive_fixtures import as_v7, tar_head
from triage.containers import compressed
from triage.containers.compressed import TarReader


def _heads() -> dict:
    ustar, v7 = tar_head(), as_v7(tar_head())
    heads = {"ustar": ustar, "v7": v7, "v7, header alone": v7[:512],
             "ustar, cut before its magic ends": ustar[:261],
             "ustar, cut after its magic": ustar[:262],
             "v7, cut inside its header": v7[:511],
             "empty": b"", "zeros": bytes(4096), "random": os.urandom(4096)}
    for name, field in (("digits 8 and 9", b"0001289\x00"), ("spaces only", b" " * 8),
                        ("NULs and spaces around", b"\x00 1234\x00 "), ("a sign", b"-0001234"),
                        ("an underscore", b"0_01234\x00"), ("huge", b"77777777"),
                        ("a space inside", b"01 2345\x00")):
        block = bytearray(v7)
        block[148:156] = field
        heads[f"v7, checksum field {name}"] = bytes(block)
    wrong = bytearray(v7)
    wrong[0] ^= 1
    heads["v7, checksum one off"] = bytes(wrong)
    # a checksum field that parses, with the sum made to agree: leading spaces and NULs
    fitted = bytearray(v7[:512])
    fitted[148:156] = b" " * 8
    fitted[148:156] = b"\x00 %05o " % sum(fitted)
    heads["v7, checksum padded both sides"] = bytes(fitted)
    return heads


def _compiled():
    if compressed._is_tar is compressed._is_tar_here:
        pytest.skip("the compiled screen (_edges.c) is not built")
    return compressed._is_tar


def test_the_compiled_tar_test_answers_as_the_python_one():
    is_tar = _compiled()
    told = {}
    for name, head in _heads().items():
        told[name] = compressed._is_tar_here(head)
        assert is_tar(head) is told[name], name
    assert told["ustar"] and told["v7"] and told["v7, header alone"]
    assert told["ustar, cut after its magic"] and not told["ustar, cut before its magic ends"]
    assert told["v7, checksum padded both sides"]
    assert not any(told[name] for name in told if "checksum field" in name or
                   name in ("empty", "zeros", "random", "v7, checksum one off",
                            "v7, cut inside its header"))
    with pytest.raises(TypeError):
        is_tar("not bytes")


def test_the_tar_reader_marks_with_the_test_itself():
    """The screen (_edges.c) calls the reader's `marked` for every head: the test itself,
    no method around it."""
    assert TarReader().marked is compressed._is_tar
    assert TarReader().marked(tar_head()) and not TarReader().marked(os.urandom(600))
