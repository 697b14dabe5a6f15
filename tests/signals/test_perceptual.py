"""Conformance of the perceptual signals with the published vectors (fixtures/vectors, copied
byte for byte from shared/vectors with their README attribution)."""

import json
from pathlib import Path

import pytest
from PIL import Image

from triage import imaging, signals
from triage.signals.perceptual import DIHEDRAL, PDQ, PerceptualHash, PerceptualSignal

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
    # LA, 16-bit greyscale, RGB JPEG and a random PNG: the conversions in imaging._to_rgb.
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


DIH = VECTORS / "pdq" / "threatexchange" / "dih"
DIH_FILES = ["bridge-1-original.jpg", "bridge-2-rotate-90.jpg", "bridge-3-rotate-180.jpg",
             "bridge-4-rotate-270.jpg", "bridge-5-flipx.jpg", "bridge-6-flipy.jpg",
             "bridge-7-flip-plus-1.jpg", "bridge-8-flip-minus-1.jpg"]
# The transform that undoes each: a copy rotated 90 degrees is matched by rotating it 270.
INVERSE = ["original", "rotate270", "rotate180", "rotate90", "flipx", "flipy", "flipplus1",
           "flipminus1"]


@pytest.fixture(scope="module")
def bridge():
    return {f: load(f"pdq/threatexchange/dih/{f}") for f in DIH_FILES}


def test_dihedral_variants_of_the_original_are_the_transformed_files(bridge):
    variants = PDQ.compute_dihedral(bridge[DIH_FILES[0]])
    assert [v.variant for v in variants] == [name for name, _ in DIHEDRAL]
    for variant, f in zip(variants, DIH_FILES):
        assert PDQ.distance(variant.value, PDQ.compute(bridge[f]).value) <= 8
        assert PDQ.distance(variant.value, PDQ_EXPECTED[f"threatexchange/dih/{f}"]["pdq"]) <= 8


@pytest.mark.parametrize("index", range(8))
def test_each_dihedral_copy_matches_the_original_through_the_inverse_variant(bridge, index):
    original = PDQ.compute(bridge[DIH_FILES[0]]).value
    variants = PDQ.compute_dihedral(bridge[DIH_FILES[index]])
    distances = {v.variant: PDQ.distance(v.value, original) for v in variants}
    best = min(distances, key=distances.get)
    assert best == INVERSE[index]
    assert distances[best] <= 8
    # Every other variant is far: PDQ itself is not rotation invariant.
    assert all(d > 64 for name, d in distances.items() if name != best)


def test_generic_dihedral_transposes_agree_with_pdqs_own(bridge):
    image = bridge[DIH_FILES[0]]
    own = PDQ.compute_dihedral(image)
    generic = PerceptualSignal.compute_dihedral.__func__(PDQ, image)
    assert [g.variant for g in generic] == [o.variant for o in own]
    assert max(PDQ.distance(g.value, o.value) for g, o in zip(generic, own)) <= 8


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
