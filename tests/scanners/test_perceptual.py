"""The perceptual matcher against real hash sets, compiled from CSV sources the way an examiner
would load them (`pdq`, `phash`, `category` columns)."""

import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from triage import hamming, imaging
from triage.scanners import perceptual
from triage.hashsets import load
from triage.records import Match
from triage.scanners.perceptual import PerceptualMatcher, query, query_hashes, reference_hashes
from triage.signals.pdq import DIHEDRAL
from triage.signals.perceptual import PDQ, PHASH

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "vectors" / "pdq"
BRIDGE = VECTORS / "threatexchange" / "dih" / "bridge-1-original.jpg"
PHOTO = VECTORS / "pdqhash-python" / "image3.jpg"
OTHER = VECTORS / "pdqhash-python" / "image2.jpg"
SMALL_Q0 = VECTORS / "threatexchange" / "misc-images" / "small.jpg"


def hashes_of(path: Path):
    image = imaging.decode(path.read_bytes())
    return PDQ.compute(image).value, PHASH.compute(image).value


def write_set(path: Path, rows, distractors: int = 0) -> Path:
    rng = np.random.default_rng(42)
    lines = ["pdq,phash,category"] + [f"{p},{h},{c}" for p, h, c in rows]
    for _ in range(distractors):   # random values far from any photo: force the MIH index
        lines.append(f"{rng.bytes(32).hex()},{rng.bytes(8).hex()},CAT3")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A set holding the bridge and one photo, among 3000 random distractors."""
    bridge, photo = hashes_of(BRIDGE), hashes_of(PHOTO)
    source = write_set(tmp_path_factory.mktemp("sets") / "known.csv",
                       [(*bridge, "CAT1"), (*photo, "CAT2")], distractors=3000)
    with load(source, name="known") as hs:
        yield hs, bridge, photo


def encode(image: Image.Image, fmt="JPEG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def test_the_distractors_put_the_set_on_the_mih_index(reference):
    hs, _, _ = reference
    matcher = PerceptualMatcher([hs])
    assert matcher.signals == frozenset({"pdq", "phash"})
    assert all(isinstance(s.index, hamming.MultiIndexHash) for s in matcher._searched)


def test_a_recompressed_copy_matches_with_its_distance_and_quality(reference):
    hs, (bridge_pdq, bridge_phash), _ = reference
    data = encode(imaging.decode(BRIDGE.read_bytes()).resize((400, 300)), quality=60)
    copy = imaging.decode(data)
    matcher = PerceptualMatcher([hs])
    matches, hashes = matcher.match(data)
    assert hashes == query(data, {"pdq", "phash"}, central=False)
    # A picture this small is hashed from every pixel: the query's values are the canonical.
    assert {h.signal: h.value for h in hashes if h.variant == "original"} == {
        "pdq": PDQ.compute(copy).value, "phash": PHASH.compute(copy).value}
    pdq_d = PDQ.distance(PDQ.compute(copy).value, bridge_pdq)
    phash_d = PHASH.distance(PHASH.compute(copy).value, bridge_phash)
    assert 0 < pdq_d <= 31 and phash_d <= PHASH.threshold
    # The copy as found is within the radius: it is what the match reports, even where a
    # variant happens to come closer.
    assert matches == [
        Match("pdq", "known", "alert", "CAT1", None, pdq_d, "original", 100, value=bridge_pdq),
        Match("phash", "known", "alert", "CAT1", None, phash_d, "original", None,
              value=bridge_phash),
    ]
    # pdq in 8 rotations/flips and phash on the image (it has no border); no central region:
    # an imported set (here a CSV) stores none for it to meet.
    assert not matcher.central
    assert len(hashes) == 8 + 1
    assert [h.variant for h in hashes if h.signal == "phash"] == ["original"]


DIH = VECTORS / "threatexchange" / "dih"
# ThreatExchange's dihedral test images, and the variant of each that undoes its transform.
DIH_FILES = [("bridge-2-rotate-90.jpg", "rotate270"), ("bridge-3-rotate-180.jpg", "rotate180"),
             ("bridge-4-rotate-270.jpg", "rotate90"), ("bridge-5-flipx.jpg", "flipx"),
             ("bridge-6-flipy.jpg", "flipy"), ("bridge-7-flip-plus-1.jpg", "flipplus1"),
             ("bridge-8-flip-minus-1.jpg", "flipminus1")]


@pytest.mark.parametrize("name,variant", DIH_FILES)
def test_the_dihedral_images_match_the_original_through_the_undoing_variant(reference, name,
                                                                           variant):
    hs, (bridge_pdq, _), _ = reference
    data = (DIH / name).read_bytes()
    matches, hashes = PerceptualMatcher([hs], thresholds={"phash": 0}).match(data)
    assert [(m.signal, m.category, m.variant) for m in matches] == [("pdq", "CAT1", variant)]
    undone = {h.variant: h for h in hashes}[variant]
    assert matches[0].distance == PDQ.distance(undone.value, bridge_pdq) <= 8
    # Only that variant is near: every other rotation or flip is far from the original.
    assert sorted(PDQ.distance(h.value, bridge_pdq) for h in hashes
                  if h.signal == "pdq" and "central" not in h.variant)[1] > 64


def test_a_letterboxed_copy_matches_once_its_bars_are_removed(reference):
    hs, _, (photo_pdq, _) = reference
    photo = imaging.decode(PHOTO.read_bytes())
    w, h = photo.size
    boxed = Image.new("RGB", (w, int(h * 1.4)), (0, 0, 0))
    boxed.paste(photo, (0, int(h * 0.2)))
    data = encode(boxed, quality=90)
    # As found, the padded copy is far from its source.
    assert PDQ.distance(PDQ.compute(imaging.decode(data)).value, photo_pdq) > 31
    matches, hashes = PerceptualMatcher([hs], thresholds={"phash": 0}).match(data)
    pdq = [m for m in matches if m.signal == "pdq"]
    assert [(m.category, m.variant) for m in pdq] == [("CAT2", "unletterboxed")]
    assert len(hashes) == 2 * (8 + 1)     # two whole forms


def test_a_thumbnail_reports_its_own_distance_when_within_the_radius(reference):
    hs, (bridge_pdq, _), _ = reference
    data = encode(imaging.decode(BRIDGE.read_bytes()).resize((160, 100)), quality=80)
    matches, hashes = PerceptualMatcher([hs]).match(data)
    as_found = PDQ.distance(hashes[0].value, bridge_pdq)
    enlarged = {h.variant: h for h in hashes if h.signal == "pdq"}["enlarged"]
    assert hashes[0].variant == "original" and as_found <= 31
    assert PDQ.distance(enlarged.value, bridge_pdq) < as_found     # closer, yet not reported
    pdq = [(m.variant, m.distance) for m in matches if m.signal == "pdq"]
    assert pdq == [("original", as_found)]


def test_a_camera_size_copy_is_hashed_from_block_means_and_matches(reference):
    """A 10-megapixel JPEG: decoded at 1/8 scale in the DCT domain, grey, and hashed from those
    block means (signals/pdq.py): within a few bits of its canonical values, and its turned
    variants within a few bits of the canonical values of the turned picture."""
    hs, (bridge_pdq, bridge_phash), _ = reference
    big = imaging.decode(BRIDGE.read_bytes()).resize((4000, 2510), Image.Resampling.LANCZOS)
    data = encode(big, quality=90)
    picture = imaging.decode_reduced(data, perceptual.REDUCED_CELLS, perceptual.WHOLE_BELOW)
    assert (picture.image.mode, picture.image.size, picture.block) == ("L", (500, 314), (8, 8))
    matches, hashes = PerceptualMatcher([hs]).match(data)
    decoded = imaging.decode(data)
    pdq = {h.variant: h for h in hashes if h.signal == "pdq"}
    assert PDQ.distance(pdq["original"].value, PDQ.compute(decoded).value) <= 4
    for variant, turn in (("rotate90", Image.Transpose.ROTATE_90),
                          ("flipx", Image.Transpose.FLIP_TOP_BOTTOM),
                          ("flipminus1", Image.Transpose.TRANSVERSE)):
        assert PDQ.distance(pdq[variant].value, PDQ.compute(decoded.transpose(turn)).value) <= 6
    phash = [h for h in hashes if h.signal == "phash"]
    assert PHASH.distance(phash[0].value, PHASH.compute(decoded).value) <= 2
    found = [(m.signal, m.category, m.variant, m.distance) for m in matches]
    assert found == [("pdq", "CAT1", "original", PDQ.distance(pdq["original"].value, bridge_pdq)),
                     ("phash", "CAT1", "original", PHASH.distance(phash[0].value, bridge_phash))]
    assert found[0][3] <= 6


def test_a_screenshot_of_a_camera_size_photo_loses_its_frame_in_block_means(reference):
    """The block straddling the title bar and the frame under it is a row of neither colour:
    peeled with them (without that, the frame stayed and the copy was 50+ bits away)."""
    hs, _, _ = reference
    photo = imaging.decode(PHOTO.read_bytes()).resize((3000, 3480), Image.Resampling.LANCZOS)
    frame, title = 120, 250
    shot = Image.new("RGB", (photo.width + 2 * frame, photo.height + 2 * frame + title),
                     (236, 236, 236))
    shot.paste(Image.new("RGB", (shot.width, title), (52, 58, 64)), (0, 0))
    shot.paste(photo, (frame, title + frame))
    data = encode(shot, quality=90)
    assert imaging.decode_reduced(data, perceptual.REDUCED_CELLS,
                                  perceptual.WHOLE_BELOW).block == (8, 8)
    matches, hashes = PerceptualMatcher([hs], thresholds={"phash": 0}).match(data)
    assert [(m.signal, m.category, m.variant) for m in matches] == [
        ("pdq", "CAT2", "unletterboxed"), ("phash", "CAT2", "unletterboxed")]
    assert matches[0].distance <= 8


def test_an_unrelated_photo_matches_nothing(reference):
    hs, _, _ = reference
    matches, hashes = PerceptualMatcher([hs]).match(OTHER.read_bytes())
    # 300 x 200 is small: it is hashed as found and enlarged, each in every variant.
    assert matches == [] and len(hashes) == 2 * (8 + 1)
    assert [h.variant for h in hashes if h.signal == "phash"] == ["original", "enlarged"]


def test_flat_pictures_are_not_matched_by_any_signal(tmp_path):
    flat_pdq, flat_phash = hashes_of(SMALL_Q0)
    assert PDQ.compute(imaging.decode(SMALL_Q0.read_bytes())).quality == 0
    with load(write_set(tmp_path / "s.csv", [(flat_pdq, flat_phash, "CAT1")])) as hs:
        matches, hashes = PerceptualMatcher([hs]).match(SMALL_Q0.read_bytes())
    # Its hashes equal the stored ones, but a flat picture's hash is noise: nothing is searched,
    # and a set built from it would store nothing.
    assert matches == [] and hashes == []
    assert reference_hashes(imaging.decode(SMALL_Q0.read_bytes()), {"pdq", "phash"}) == []
    assert perceptual.hash_picture(SMALL_Q0.read_bytes(), {"pdq", "phash"}) == []


def test_radius_from_the_command_line_beats_the_sets_which_beats_the_default(tmp_path):
    copy = encode(imaging.decode(BRIDGE.read_bytes()).resize((300, 225)), quality=40)
    bridge_pdq, bridge_phash = hashes_of(BRIDGE)
    distance = PDQ.distance(PDQ.compute(imaging.decode(copy)).value, bridge_pdq)
    assert 0 < distance <= 31
    source = write_set(tmp_path / "s.csv", [(bridge_pdq, bridge_phash, "CAT1")])

    def pdq_hits(**options):
        thresholds = options.pop("cli", None)
        with load(source, name="s", **options) as hs:
            matches, _ = PerceptualMatcher([hs], thresholds).match(copy)
        return [m.distance for m in matches if m.signal == "pdq"]

    assert pdq_hits() == [distance]
    assert pdq_hits(thresholds={"pdq": distance - 1}) == []
    assert pdq_hits(thresholds={"pdq": distance - 1}, cli={"pdq": distance}) == [distance]


def test_known_good_sets_report_their_kind_and_several_sets_are_searched(tmp_path):
    bridge = hashes_of(BRIDGE)
    a = write_set(tmp_path / "a.csv", [(*bridge, "CAT1")])
    b = write_set(tmp_path / "b.csv", [(*bridge, "")])
    with load(a, name="alerts") as ha, load(b, name="nsrl", kind="known-good") as hb:
        matches, hashes = PerceptualMatcher([ha, hb]).match(BRIDGE.read_bytes())
    # The file itself, 1600 x 1004: hashed whole, its PDQ from 6 x 3 pixel blocks, 2 bits off.
    pdq = PDQ.distance([h for h in hashes if h.variant == "original"][0].value, bridge[0])
    assert pdq == 2
    assert [(m.set, m.kind, m.signal, m.category, m.distance, m.variant) for m in matches] == [
        ("alerts", "alert", "pdq", "CAT1", pdq, "original"),
        ("alerts", "alert", "phash", "CAT1", 0, "original"),
        ("nsrl", "known-good", "pdq", None, pdq, "original"),
        ("nsrl", "known-good", "phash", None, 0, "original"),
    ]


def test_undecodable_data_raises_the_decode_error(reference):
    hs, _, _ = reference
    with pytest.raises(imaging.ImageDecodeError, match="not a supported image type"):
        PerceptualMatcher([hs]).match(b"plain text, no picture")


def test_sets_without_perceptual_hashes_never_decode(tmp_path):
    source = tmp_path / "md5.txt"
    source.write_text("d41d8cd98f00b204e9800998ecf8427e\n5d41402abc4b2a76b9719d911017c592\n")
    with load(source) as hs:
        matcher = PerceptualMatcher([hs])
        assert matcher.signals == frozenset()
        assert matcher.match(b"not even an image") == ([], [])


def test_query_hashes_name_every_form_and_variant():
    photo = imaging.decode(PHOTO.read_bytes())
    boxed = Image.new("RGB", (photo.width + 40, photo.height), (255, 255, 255))
    boxed.paste(photo, (20, 0))
    variants = [h.variant for h in query_hashes(imaging.reduce(boxed, 256, 1024), {"pdq"})]
    assert variants[:2] == ["original", "rotate90"]
    assert variants[8:10] == ["unletterboxed", "unletterboxed+rotate90"]
    assert variants[16:] == ["central95"]


def test_a_centrally_cropped_copy_matches_a_built_set_through_a_central_region(tmp_path):
    photo = imaging.decode(PHOTO.read_bytes())
    w, h = photo.size
    cropped = photo.crop((round(w * 0.04), round(h * 0.04), w - round(w * 0.04),
                          h - round(h * 0.04)))     # 8% off, re-encoded: no stored region
    data = encode(cropped, quality=80)
    stored = reference_hashes(photo, {"pdq"})
    assert [x.variant for x in stored] == ["original", "central90", "central80"]
    assert [x.variant for x in reference_hashes(photo, {"phash"})] == ["original"]
    # Whole-image hashes alone do not find a 10% crop...
    plain = write_set(tmp_path / "plain.csv", [(stored[0].value, "0" * 16, "CAT1")])
    with load(plain, name="plain") as hs:
        assert [m.signal for m in PerceptualMatcher([hs]).match(data)[0]] == []
    # ...the central regions of a set built from the reference image do (the query's own
    # central region is searched once a set built from pictures is loaded).
    built = write_set(tmp_path / "built.csv", [(x.value, "0" * 16, "CAT1") for x in stored])
    with load(built, name="built") as hs:
        hs.info.sources[0]["format"] = "folder"
        matcher = PerceptualMatcher([hs], thresholds={"phash": 0})
        assert matcher.central
        matches, hashes = matcher.match(data)
    # Each stored region close enough is its own entry: at least one, all the same image.
    assert matches and {(m.set, m.signal, m.category) for m in matches} == {
        ("built", "pdq", "CAT1")}
    assert 0 < min(m.distance for m in matches) <= 31


def test_one_match_per_set_entry_the_closest(tmp_path):
    """A built set stores a small reference picture whole and enlarged, two rows of one entry:
    a copy within the radius of both is one match, at the closer row, with its stored value
    (it was two, the same pdq `original` at 2 and 14 bits)."""
    from triage.hashsets.build import build_set
    (tmp_path / "ref").mkdir()
    small = imaging.decode(BRIDGE.read_bytes()).resize((240, 180))
    (tmp_path / "ref" / "small.jpg").write_bytes(encode(small, quality=95))
    build_set(tmp_path / "ref", tmp_path / "ref.set", names=["pdq"], category="1")
    with load(tmp_path / "ref.set") as hs:
        stored = [e.value for e in hs.iter_entries("pdq")]
        data = encode(small, quality=60)
        query = PDQ.compute(imaging.decode(data)).value
        distances = sorted(PDQ.distance(query, v) for v in stored)
        assert len(stored) == 4 and distances[:2] == [2, 14]     # both within the radius
        matches, _ = PerceptualMatcher([hs]).match(data)
    (match,) = matches
    assert (match.distance, match.variant, match.id) == (2, "original", None)
    assert match.value in stored and PDQ.distance(query, match.value) == 2


def test_a_strip_is_refused_from_its_header_before_any_pixel_is_decoded(reference):
    """1x30000 (100 KB): enlarged to a short side of 256 it would be 2 gigapixels. Its header
    is enough to refuse it: the pixel data here is damaged and never reached."""
    import hostile_pictures as hostile
    hs, _, _ = reference
    damaged = hostile.with_damaged_pixels(hostile.strip_png(1, 30000))
    with pytest.raises(imaging.Unhashable) as err:
        PerceptualMatcher([hs]).match(damaged)
    assert err.value.reason() == ("no perceptual hash: 1x30000 pixels, one side over 16 times "
                                  "the other")
    assert err.value.severity == "warning"


@pytest.mark.parametrize("size,refused", [((1, 1000), True), ((1000, 62), True),
                                          ((20, 320), False), ((1, 1), False)])
def test_the_shape_rule_holds_for_pictures_already_decoded(size, refused):
    picture = Image.effect_noise(size, 60).convert("RGB")
    for hashes in (lambda p, names: query_hashes(imaging.reduce(p, 256, 1024), names),
                   reference_hashes):
        if refused:
            with pytest.raises(imaging.Unhashable, match=f"^{size[0]}x{size[1]} pixels"):
                hashes(picture, {"pdq", "phash"})
        else:
            hashes(picture, {"pdq", "phash"})   # 16:1 and under: hashed as before


def test_every_derived_picture_obeys_the_pictures_budget():
    """A 160x100 thumbnail is enlarged to 410x256 for PDQ: over a budget of 160x100 pixels
    that copy is refused before it is made."""
    small = encode(imaging.decode(BRIDGE.read_bytes()).resize((160, 100)))
    with pytest.raises(imaging.OverBudget) as err:
        query(small, {"pdq"}, imaging.Budget(max_pixels=160 * 100))
    assert err.value.reason() == ("image not hashed: enlarged copy too large: 410x256 pixels "
                                  "(limit 16000)")
    assert len(query(small, {"pdq"}, imaging.Budget(max_pixels=410 * 256))) == 2 * 8 + 1


def test_one_budget_goes_from_the_decode_to_the_last_hash():
    class Watched(imaging.Budget):
        def check(self, doing="decoding and hashing"):
            steps.append(doing)
            super().check(doing)

    steps = []
    hs_data = BRIDGE.read_bytes()
    for hashing in (query, perceptual.hash_picture):
        steps = []
        hashes = hashing(hs_data, {"pdq", "phash"}, Watched())
        assert steps[0] == "decoding" and steps[-1] == "decoding and hashing"
        # every signal's hashing of every form (PDQ's eight variants at once) was checked
        # against the deadline first
        forms = {(h.signal, "original" if h.variant in DIHEDRAL else h.variant.split("+")[0])
                 for h in hashes}
        assert steps.count("decoding and hashing") >= len(forms) >= 3
    spent = imaging.Budget(started=time.monotonic() - imaging.TIME_LIMIT - 1)
    with pytest.raises(imaging.OverBudget, match="^decoding and hashing took longer than 10 s$"):
        query_hashes(imaging.reduce(imaging.decode(hs_data), 256, 1024), {"pdq"}, spent)


def test_a_pdq_only_set_makes_the_query_compute_pdq_alone(tmp_path, monkeypatch):
    """Only the signals a loaded set carries are computed: with PDQ alone, pHash never runs."""
    source = tmp_path / "pdq.csv"
    source.write_text(f"pdq,category\n{hashes_of(BRIDGE)[0]},CAT1\n")

    def never(*args, **kwargs):
        raise AssertionError("pHash computed for a set without it")
    monkeypatch.setattr(PHASH, "of_reduced", classmethod(never))
    monkeypatch.setattr(PHASH, "compute", classmethod(never))
    with load(source, name="pdq-only") as hs:
        matcher = PerceptualMatcher([hs])
        matches, hashes = matcher.match(BRIDGE.read_bytes())
    assert matcher.signals == frozenset({"pdq"}) and not matcher.central
    assert {h.signal for h in hashes} == {"pdq"} and len(hashes) == 8
    assert [(m.signal, m.distance, m.variant) for m in matches] == [("pdq", 2, "original")]


def test_the_matcher_loads_its_signals_libraries_before_the_workers_fork(tmp_path):
    """imagehash imports scipy on its first pHash (~0.8 s): loaded by the matcher, in the
    scan's main process, rather than once in every worker mid-scan."""
    source = write_set(tmp_path / "known.csv", [(*hashes_of(BRIDGE), "CAT1")])
    script = ("import sys\n"
              "from triage.hashsets import load\n"
              "from triage.scanners.perceptual import PerceptualMatcher\n"
              "assert 'scipy.fftpack' not in sys.modules\n"
              f"PerceptualMatcher([load({str(source)!r})])\n"
              "print('scipy.fftpack' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert (out.returncode, out.stdout.strip()) == (0, "True"), out.stderr
