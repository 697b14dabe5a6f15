import hashlib
import os
import shutil
from pathlib import Path

import pytest

from triage import signals
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
        assert hs.info.entries == 8
        assert hs.info.signals == {"md5": 2, "sha1": 2, "sha256": 2, "edges-xxh3": 2}
        assert hs.info.fingerprinted
        manifest = "".join(
            f"{rel}\t{len(data)}\t{sig}\t{_digest(sig, data)}\n"
            for rel, data in (("a.bin", b"alpha"), ("sub/b.bin", b"\x00" * 70000))
            for sig in ("md5", "sha1", "sha256", "edges-xxh3"))
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


def test_build_reads_each_file_once_through_one_path(tmp_path, monkeypatch):
    """Digests and pictures from one open and one pass over each file's bytes; a picture over
    the size cap keeps its digests and is not decoded."""
    from triage import reading
    from triage.hashsets import build

    ref = tmp_path / "ref"
    ref.mkdir()
    photo = VECTORS / "dih" / "bridge-1-original.jpg"
    shutil.copyfile(photo, ref / "bridge.jpg")
    (ref / "notes.txt").write_bytes(b"not a picture\n" * 10000)
    opened, handed = [], {}
    real_open = build.open_readonly

    class Reader:   # the file object's read() cannot be replaced: wrap it
        def __init__(self, path):
            self.f = real_open(path)
            self.name = Path(path).name
            opened.append(self.name)

        def read(self, size=-1):
            block = self.f.read(size)
            handed[self.name] = handed.get(self.name, 0) + len(block)
            return block

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(build, "open_readonly", Reader)
    build_set(ref, tmp_path / "a.tset", workers=1)    # read here, where the reads are counted
    assert sorted(opened) == ["bridge.jpg", "notes.txt"]
    assert handed == {"bridge.jpg": photo.stat().st_size, "notes.txt": 140000}

    monkeypatch.setattr(reading, "MAX_IMAGE_BYTES", photo.stat().st_size - 1)
    problems = []
    build_set(ref, tmp_path / "b.tset", on_problem=lambda src, p: problems.append(p))
    assert [(p.where, p.severity, p.reason) for p in problems] == [
        ("bridge.jpg", "warning", f"image larger than {photo.stat().st_size - 1} bytes: "
                                  f"not decoded")]
    with load(tmp_path / "b.tset") as hs:
        assert hs.info.signals == {"md5": 2, "sha1": 2, "sha256": 2, "edges-xxh3": 2}


def test_build_keeps_the_digests_of_pictures_it_cannot_hash_and_says_why(tmp_path):
    import hostile_pictures as hostile
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "strip.png").write_bytes(hostile.strip_png(1, 30000))
    (ref / "tagged.tif").write_bytes(hostile.tiff_warning())
    problems = []
    build_set(ref, tmp_path / "s.tset", on_problem=lambda src, p: problems.append(p))
    assert [(p.where, p.severity, p.reason) for p in problems] == [
        ("strip.png", "warning",
         "no perceptual hash: 1x30000 pixels, one side over 16 times the other"),
        ("tagged.tif", "warning",
         "image library warning: UserWarning: Tag data larger than file. Skipping tag 270")]
    with load(tmp_path / "s.tset") as hs:
        assert hs.info.signals["md5"] == 2 and hs.info.signals["pdq"] >= 1
        assert {hs.entry("pdq", r).name for r in range(len(hs.vectors("pdq")))} == {
            "tagged.tif"}


def test_running_out_of_memory_on_a_reference_picture_is_a_problem(tmp_path, monkeypatch):
    from triage.signals import perceptual

    def exhausted(image):
        raise MemoryError()
    monkeypatch.setattr(perceptual.PDQ, "compute", exhausted)
    ref = tmp_path / "ref"
    ref.mkdir()
    shutil.copyfile(VECTORS / "dih" / "bridge-1-original.jpg", ref / "bridge.jpg")
    problems = []
    build_set(ref, tmp_path / "s.tset", on_problem=lambda src, p: problems.append(p))
    assert [(p.where, p.reason) for p in problems] == [
        ("bridge.jpg", "image not hashed: out of memory")]
    with load(tmp_path / "s.tset") as hs:
        assert hs.info.signals == {"md5": 1, "sha1": 1, "sha256": 1, "edges-xxh3": 1}


def test_build_in_worker_processes_gives_the_set_built_in_one(tmp_path):
    """Files are hashed in one process per CPU; the set (entries, their order, the folder's
    digest) is the one a single process builds."""
    ref = tmp_path / "ref"
    ref.mkdir()
    for name in ("bridge-1-original.jpg", "bridge-2-rotate-90.jpg", "bridge-5-flipx.jpg"):
        shutil.copyfile(VECTORS / "dih" / name, ref / name)
    (ref / "notes.txt").write_text("not a picture")
    sets = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}.tset"
        build_set(ref, out, category="1", workers=workers)
        with load(out) as hs:
            sets.append((hs.info.sources, hs.info.signals,
                         [(e.name, e.value) for e in hs.iter_entries("pdq")]))
    assert sets[0] == sets[1] and sets[0][1]["pdq"] >= 9


def _digest(signal: str, data: bytes) -> str:
    h = signals.get(signal).new()
    h.update(data)
    return h.hexdigest()


def test_build_reads_what_a_scan_of_the_folder_lists_and_names_what_it_cannot(tmp_path,
                                                                             monkeypatch):
    """The reference folder is listed as a scan lists a folder: a file nested past the path
    limit is in the set, and a folder that cannot be listed is a problem. Before, os.walk
    passed both by without a word: a file nested 70 folders deep was not in the set."""
    from support import nest
    from triage.evidence import folder
    monkeypatch.setattr(folder, "DEEP_LEVELS", 20)   # a folder past it cannot be listed
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "top.bin").write_bytes(b"top")
    # the deepest folder listed: the last reached as any path is (61 bytes a level), then 20
    last = (folder.LONG_PATH - 1 - len(str(ref))) // 61 + 20
    nest(ref, last + 5, {70: ("deep.bin", b"deep"), last + 1: ("too-deep.bin", b"too deep")})
    problems = []
    build_set(ref, tmp_path / "ref.tset", names=["md5"], workers=1,
              on_problem=lambda path, problem: problems.append(problem))
    deep = "/".join(f"{depth:03d}" + "d" * 57 for depth in range(70)) + "/deep.bin"
    with load(tmp_path / "ref.tset") as hs:
        assert hs.info.signals == {"md5": 2}
        found = hs.lookup("md5", [hashlib.md5(b"top").digest(), hashlib.md5(b"deep").digest()])
        assert [[e.name for e in entries] for entries in found] == [["top.bin"], [deep]]
    [problem] = problems
    assert problem.severity == "error"
    assert problem.where == "/".join(f"{depth:03d}" + "d" * 57 for depth in range(last + 1))
    assert problem.reason == ("cannot list folder: nested more than 20 folders past the "
                              "system's path limit: not examined")


def test_build_keeps_no_value_an_empty_or_all_zero_file_shares_with_countless_others(tmp_path):
    """An empty reference file (a failed download, a placeholder) put the empty file's MD5 in
    the set, and every empty file of a seized device was then a hit."""
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "a.bin").write_bytes(b"alpha")
    (ref / "empty.jpg").write_bytes(b"")
    (ref / "zeros.bin").write_bytes(bytes(4096))
    problems = []
    build_set(ref, tmp_path / "ref.tset", on_problem=lambda folder, p: problems.append(p))
    with load(tmp_path / "ref.tset") as hs:
        assert hs.info.signals == {"md5": 1, "sha1": 1, "sha256": 1, "edges-xxh3": 1}
        assert not hs.lookup("md5", [hashlib.md5(b"").digest()])[0]
    assert [(p.where, p.severity, p.reason) for p in problems] == [
        (name, "warning", "edges-xxh3, md5, sha1, sha256 not kept: the value of an empty or "
                          "all-zero file, which countless innocent files share")
        for name in ("empty.jpg", "zeros.bin")]


def test_build_writes_no_set_from_a_folder_that_gives_no_value(tmp_path):
    from triage.errors import HashSetError
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(HashSetError, match=r"empty: no files in it: no set written$"):
        build_set(empty, tmp_path / "a.tset")
    (empty / "nothing").write_bytes(b"")
    with pytest.raises(HashSetError, match=r"empty: none of its 1 file\(s\) gave a value to "
                                           r"keep: no set written$"):
        build_set(empty, tmp_path / "a.tset")
    assert not (tmp_path / "a.tset").exists()
