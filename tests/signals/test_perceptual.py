"""Conformance of the perceptual signals with the published vectors (fixtures/vectors, copied
byte for byte from shared/vectors with their README attribution)."""

import json
from pathlib import Path

import pytest
from PIL import Image

from triage import imaging, signals
from triage.signals.perceptual import PDQ, PerceptualHash

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "vectors"
PDQ_EXPECTED = json.loads((VECTORS / "pdq" / "expected.json").read_text())
IH_EXPECTED = json.loads((VECTORS / "imagehash" / "expected.json").read_text())


def load(relative: str) -> Image.Image:
    return imaging.decode((VECTORS / relative).read_bytes())


def test_registry_holds_every_perceptual_signal():
    assert signals.of_kind("perceptual") == [
        "ahash", "ahash256", "dhash", "dhash256", "pdq", "phash", "phash256", "whash",
        "whash256"]
    pdq = signals.get("pdq")
    assert (pdq.bits, pdq.hex_length, pdq.threshold, pdq.min_quality) == (256, 64, 31, 50)
    assert signals.get("phash").bits == 64 and signals.get("phash").hex_length == 16
    assert signals.get("whash256").bits == 256 and signals.get("whash256").min_quality is None


THREATEXCHANGE = sorted(k for k, v in PDQ_EXPECTED.items() if v["primary"] == "pdqhash+PIL")


@pytest.mark.parametrize("name", THREATEXCHANGE)
def test_python_threatexchange_vectors_hash_exactly(name):
    expected = PDQ_EXPECTED[name]
    h = PDQ.compute(load(f"pdq/{name}"))
    assert h.value == expected["pdq"]
    if expected["quality"] is not None:
        assert h.quality == expected["quality"]


def test_threatexchange_vectors_cover_the_modes():
    # LA, 16-bit greyscale, RGB JPEG and a random PNG: the conversions in imaging._normalised.
    assert THREATEXCHANGE == ["python-threatexchange/I16.png", "python-threatexchange/LA.png",
                              "python-threatexchange/random_image.png",
                              "python-threatexchange/rgb.jpeg"]


CPP = sorted(k for k, v in PDQ_EXPECTED.items() if "cpp" in v["refs"])


@pytest.mark.parametrize("name", CPP)
def test_within_ten_bits_of_the_cpp_reference_when_quality_is_80_or_more(name):
    h = PDQ.compute(load(f"pdq/{name}"))
    if h.quality < 80:
        assert name in ("threatexchange/labelme-subset/q0003.jpg",
                        "threatexchange/labelme-subset/q0004.jpg")
        return
    assert PDQ.distance(h.value, PDQ_EXPECTED[name]["refs"]["cpp"]["pdq"]) <= 10


def test_cpp_reference_images_are_all_checked():
    assert len(CPP) == 26   # 10 pdqhash-python photos, 16 ThreatExchange images


DIH_FILES = ["bridge-1-original.jpg", "bridge-2-rotate-90.jpg", "bridge-3-rotate-180.jpg",
             "bridge-4-rotate-270.jpg", "bridge-5-flipx.jpg", "bridge-6-flipy.jpg",
             "bridge-7-flip-plus-1.jpg", "bridge-8-flip-minus-1.jpg"]


def test_pdq_itself_is_not_rotation_invariant():
    # Why the matcher searches rotations and flips (tests/scanners/test_perceptual.py).
    hashes = [PDQ.compute(load(f"pdq/threatexchange/dih/{f}")).value for f in DIH_FILES]
    assert all(PDQ.distance(hashes[0], h) > 90 for h in hashes[1:])


IMAGEHASH_NAMES = {"average_hash": "ahash", "phash": "phash", "dhash": "dhash",
                   "whash": "whash", "average_hash_16": "ahash256", "phash_16": "phash256",
                   "dhash_16": "dhash256", "whash_16": "whash256"}


@pytest.mark.parametrize("image", sorted(IH_EXPECTED))
def test_imagehash_published_values_are_reproduced_exactly(image):
    decoded = load(f"imagehash/{image}")
    published = {k: v for k, v in IH_EXPECTED[image]["upstream"].items()
                 if k in IMAGEHASH_NAMES}
    assert published  # imagehash.png: four; peppers.png: the README's average_hash
    for key, value in published.items():
        assert signals.get(IMAGEHASH_NAMES[key]).compute(decoded).value == value


@pytest.mark.parametrize("image", sorted(IH_EXPECTED))
def test_imagehash_observed_values_at_both_sizes(image):
    decoded = load(f"imagehash/{image}")
    for key, name in IMAGEHASH_NAMES.items():
        h = signals.get(name).compute(decoded)
        assert h == PerceptualHash(name, IH_EXPECTED[image]["observed"][key], None)


def test_distance_between_the_two_published_average_hashes_is_33():
    ahash = signals.get("ahash")
    assert ahash.distance("ffd7918181c9ffff", "9f172786e71f1e00") == 33


def test_parse_normalises_and_rejects():
    assert PDQ.parse(" " + "AB" * 32 + "\n") == "ab" * 32
    with pytest.raises(ValueError, match="64 hex characters"):
        PDQ.parse("ab" * 31)
    with pytest.raises(ValueError, match="not hexadecimal"):
        signals.get("phash").parse("zz" * 8)


def test_quality_rule_keeps_50_and_above_only():
    assert PDQ.usable(PerceptualHash("pdq", "0" * 64, 50))
    assert not PDQ.usable(PerceptualHash("pdq", "0" * 64, 49))
    assert signals.get("phash").usable(PerceptualHash("phash", "0" * 16, None))


def test_low_quality_vector_reports_its_quality():
    assert PDQ.compute(load("pdq/threatexchange/misc-images/small.jpg")).quality == 0
