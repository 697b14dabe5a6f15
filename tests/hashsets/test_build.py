import hashlib
import os
import shutil
from pathlib import Path

import pytest

from triage.hashsets import load
from triage.hashsets.build import build_set


def test_build_hashes_regular_files_without_following_symlinks(tmp_path):
    ref = tmp_path / "ref"
    (ref / "sub").mkdir(parents=True)
    (ref / "a.bin").write_bytes(b"alpha")
    (ref / "sub" / "b.bin").write_bytes(b"\x00" * 70000)
    os.symlink("/etc/passwd", ref / "link")
    os.mkfifo(ref / "fifo")
    out = tmp_path / "ref.tset"
    build_set(ref, out, category="1")
    with load(out) as hs:
        assert hs.info.entries == 6
        assert hs.info.signals == {"md5": 2, "sha1": 2, "sha256": 2}
        manifest = "".join(
            f"{rel}\t{len(data)}\t{sig}\t{hashlib.new(sig, data).hexdigest()}\n"
            for rel, data in (("a.bin", b"alpha"), ("sub/b.bin", b"\x00" * 70000))
            for sig in ("md5", "sha1", "sha256"))
        assert hs.info.sources == [{"path": str(ref), "format": "folder",
                                    "sha256": hashlib.sha256(manifest.encode()).hexdigest()}]
        found = hs.lookup("sha256", [hashlib.sha256(b"alpha").digest()])[0]
        assert [(e.size, e.name, e.category) for e in found] == [(5, "a.bin", "1")]
        assert hs.may_match("md5", 70000) and not hs.may_match("md5", 6)


def test_build_rejects_signal_it_cannot_compute(tmp_path):
    (tmp_path / "ref").mkdir()
    with pytest.raises(ValueError, match="photodna"):
        build_set(tmp_path / "ref", tmp_path / "x.tset", names=["photodna"])


VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "vectors" / "pdq" / "threatexchange"


def test_build_stores_perceptual_reference_hashes_so_crops_match(tmp_path):
    """Pictures get PDQ and pHash (whole, unbordered and central regions, with PDQ quality);
    other files only digests; an undecodable picture keeps its digests with a warning. A
    10%-cropped copy then matches the built set."""
    from PIL import Image

    from triage.scanners.perceptual import PerceptualMatcher
    ref = tmp_path / "ref"
    ref.mkdir()
    original = VECTORS / "dih" / "bridge-1-original.jpg"
    shutil.copyfile(original, ref / "bridge.jpg")
    (ref / "notes.txt").write_text("not a picture")
    data = original.read_bytes()
    (ref / "broken.jpg").write_bytes(data[:200])
    problems = []
    out = tmp_path / "ref.tset"
    build_set(ref, out, category="2", on_problem=lambda src, p: problems.append(p))
    assert [(p.where, p.severity) for p in problems] == [("broken.jpg", "warning")]
    with load(out) as hs:
        assert hs.info.signals["md5"] == 3 and hs.info.signals["sha256"] == 3
        # PDQ of the whole picture and of its central 90% and 80%; pHash of the whole (the
        # bridge photo has no uniform border, so no unbordered form differs from it)
        assert hs.info.signals["pdq"] == 3 and hs.info.signals["phash"] == 1
        pdq = [hs.entry("pdq", row) for row in range(len(hs.vectors("pdq")))]
        assert {e.name for e in pdq} == {"bridge.jpg"}
        assert all(e.quality >= 50 and e.category == "2" for e in pdq)
        image = Image.open(original)
        w, h = image.size
        cropped = tmp_path / "cropped.jpg"
        image.crop((w // 10, h // 10, w - w // 10, h - h // 10)).save(cropped, quality=90)
        matches, _ = PerceptualMatcher([hs]).match(cropped.read_bytes())
        assert {(m.signal, m.category) for m in matches} >= {("pdq", "2")}


def test_build_refuses_to_write_the_set_inside_its_folder(tmp_path):
    from triage.errors import HashSetError
    (tmp_path / "ref.bin").write_bytes(b"reference")
    with pytest.raises(HashSetError, match="inside .*, the folder the set is built from"):
        build_set(tmp_path, tmp_path / "sub" / "set.tset")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref.bin"]
