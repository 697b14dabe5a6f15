"""The vpdq value format (vPDQ's text lines) and a frame's hashes."""

import numpy as np
import pytest

from triage import signals
from triage.signals.vpdq import (VPDQ, FrameHash, dedupe, frame_pdq, hash_frame, parse_line,
                                  text)

HEX = "162f24caf95043a9bb2f3a8edb52ac7e1083d95466add3696299a1709d723c8f"


def test_registered_as_a_video_signal_with_a_radius():
    cls = signals.get("vpdq")
    assert cls is VPDQ and cls.kind == "video" and cls.keeps_value
    assert signals.parse_threshold("vpdq=20") == ("vpdq", 20)
    with pytest.raises(ValueError):
        signals.parse_threshold("vpdq=257")


def test_lines_are_normalised_and_keyed_by_their_pdq():
    assert VPDQ.parse(f" 25, 100 ,{HEX.upper()},1 ") == f"25,100,{HEX},1.000"
    assert VPDQ.parse(f"0,87,{HEX},0.04") == f"0,87,{HEX},0.040"
    assert VPDQ.key(f"25,100,{HEX},1.000") == bytes.fromhex(HEX)
    frame = parse_line(f"50,90,{HEX},2.000,flipy")
    assert frame == FrameHash(50, 90, HEX, 2.0, "flipy")
    assert frame.line() == f"50,90,{HEX},2.000,flipy"


@pytest.mark.parametrize("bad", [
    HEX, f"1,{HEX},0.0", f"x,100,{HEX},0.0", f"1,101,{HEX},0.0", f"1,100,{HEX[:-1]},0.0",
    f"1,100,{HEX},0.0,sideways", f"1,100,{HEX},-1.0", ""])
def test_malformed_lines_are_refused_without_quoting_them(bad):
    with pytest.raises(ValueError) as caught:
        VPDQ.parse(bad)
    assert HEX not in str(caught.value)


def test_text_holds_originals_only_one_line_each():
    frames = [FrameHash(0, 100, HEX, 0.0), FrameHash(0, 100, "0" * 64, 0.0, "flipy"),
              FrameHash(25, 99, HEX, 1.0)]
    assert text(frames) == f"0,100,{HEX},0.000\n25,99,{HEX},1.000\n"


def test_consecutive_identical_frames_are_one_run():
    a, b = FrameHash(0, 100, HEX, 0.0), FrameHash(1, 100, "f" * 64, 1.0)
    runs = dedupe([a, FrameHash(1, 100, HEX, 1.0), b, FrameHash(3, 100, HEX, 3.0)])
    assert [(f.frame, n) for f, n in runs] == [(0, 2), (1, 1), (3, 1)]


def test_frame_variants_are_the_hashes_of_the_transformed_frame():
    rng = np.random.default_rng(5)
    rgb = (rng.random((96, 128, 3)) * 255).astype(np.uint8)
    rgb[:48] //= 3          # structure, so quality is high and the variants differ
    hashes = hash_frame(rgb, 7, 0.28, dihedral=True)
    assert [h.variant for h in hashes] == ["original", "rotate270", "rotate180", "rotate90",
                                           "flipx", "flipy", "flipplus1", "flipminus1"]
    assert {h.frame for h in hashes} == {7} and len({h.value for h in hashes}) == 8
    # Each row is pdqhash's hash of the copy that row undoes, exactly: a copy turned 90
    # degrees counter-clockwise is found by the reference's "rotate270" row.
    copies = {"original": rgb, "rotate270": np.rot90(rgb, 1), "rotate180": np.rot90(rgb, 2),
              "rotate90": np.rot90(rgb, 3), "flipx": rgb[::-1], "flipy": rgb[:, ::-1],
              "flipplus1": rgb.transpose(1, 0, 2),
              "flipminus1": np.rot90(rgb, 2).transpose(1, 0, 2)}
    for h in hashes:
        value, quality = frame_pdq(copies[h.variant])
        assert (h.value, h.quality) == (value, quality), h.variant
    mirrored = hash_frame(np.ascontiguousarray(rgb[:, ::-1]), 7, 0.28)[0]
    assert mirrored.value == hashes[5].value


def test_a_flat_frame_has_no_hash():
    assert hash_frame(np.full((64, 64, 3), 128, np.uint8), 0, 0.0) == []
