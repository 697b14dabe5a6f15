import hashlib
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from triage.cli import main

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "vectors"
PDQ = json.loads((VECTORS / "pdq" / "expected.json").read_text())
RGB = VECTORS / "pdq" / "python-threatexchange" / "rgb.jpeg"
I16 = VECTORS / "pdq" / "python-threatexchange" / "I16.png"
IMAGEHASH = VECTORS / "imagehash" / "imagehash.png"


@pytest.fixture
def triage(capsys):
    """`triage ARGS...` in this process, as the entry point runs it: exit code and output."""
    def run(*args):
        with pytest.raises(SystemExit) as exited:
            main([str(a) for a in args])
        out, err = capsys.readouterr()
        return SimpleNamespace(code=exited.value.code, stdout=out, stderr=err,
                               lines=lambda: [json.loads(x) for x in out.splitlines()])
    return run


def test_json_lines_carry_every_signal_and_pdq_quality(triage):
    run = triage("hash", "--json", "--signal", "pdq,phash,whash,md5,sha256", RGB, I16, IMAGEHASH)
    assert run.code == 0, run.stderr
    rgb, i16, ih = run.lines()
    assert list(rgb) == ["path", "pdq", "phash", "whash", "md5", "sha256", "pdq_quality"]
    assert (rgb["pdq"], rgb["pdq_quality"]) == (PDQ["python-threatexchange/rgb.jpeg"]["pdq"], 100)
    assert (i16["pdq"], i16["pdq_quality"]) == (PDQ["python-threatexchange/I16.png"]["pdq"], 36)
    assert rgb["md5"] == hashlib.md5(RGB.read_bytes()).hexdigest()
    assert i16["sha256"] == hashlib.sha256(I16.read_bytes()).hexdigest()
    assert (ih["phash"], ih["whash"]) == ("ba8c84536bd3c366", "ffd391818181a5e7")
    assert ih["path"] == str(IMAGEHASH)


def test_plain_output_is_the_bsd_tag_format(triage):
    run = triage("hash", "--signal", "md5,pdq,ahash", IMAGEHASH)
    assert run.code == 0
    md5 = hashlib.md5(IMAGEHASH.read_bytes()).hexdigest()
    pdq = run.stdout.splitlines()[1].rsplit(" = ", 1)[1]
    assert run.stdout.splitlines() == [
        f"MD5 ({IMAGEHASH}) = {md5}",
        f"PDQ ({IMAGEHASH}) = {pdq}",
        f"AHASH ({IMAGEHASH}) = ffd7918181c9ffff",
        f"PDQ-QUALITY ({IMAGEHASH}) = 100",
    ]
    assert len(pdq) == 64


def test_bad_files_are_recorded_and_the_others_hashed(triage, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(RGB.read_bytes()[:5000])
    run = triage("hash", "--json", "--signal", "pdq,md5", text, broken, tmp_path / "gone.png",
                 RGB)
    assert run.code == 3
    notes, bad, gone, good = run.lines()
    # Not an image: the digest is there, the perceptual value is null, and that is no error.
    assert notes == {"path": str(text), "pdq": None,
                     "md5": hashlib.md5(b"not a picture").hexdigest(), "pdq_quality": None}
    assert bad["error"].startswith("image not decoded: corrupt image/jpeg")
    assert bad["md5"] == hashlib.md5(broken.read_bytes()).hexdigest() and bad["pdq"] is None
    assert gone["error"] == "cannot read: No such file or directory"
    assert good["pdq"] == PDQ["python-threatexchange/rgb.jpeg"]["pdq"]
    warnings = run.stderr.splitlines()
    assert warnings == [
        f"triage: warning: {broken}: {bad['error']}",
        f"triage: warning: {tmp_path / 'gone.png'}: cannot read: No such file or directory",
    ]


def test_a_fifo_is_refused_without_blocking(triage, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    run = triage("hash", "--json", "--signal", "md5", fifo)
    assert run.code == 3 and run.lines() == [{"path": str(fifo), "md5": None,
                                              "error": "not a regular file"}]


def test_unknown_or_uncomputable_signals_are_refused(triage):
    run = triage("hash", "--signal", "pdq,sha512", RGB)
    assert run.code == 2 and "unknown signal 'sha512'" in run.stderr and run.stdout == ""
    run = triage("hash", "--signal", "photodna", RGB)
    assert run.code == 2 and "photodna cannot be computed here" in run.stderr


def test_help_names_the_signals(triage):
    run = triage("hash", "--help")
    assert run.code == 0 and "--signal SIGNALS" in run.stdout and "--json" in run.stdout


def test_library_warnings_are_one_line_each_and_never_pythons_own(tmp_path):
    """A TIFF Pillow warns about, and a 110 Mpx one it would call a bomb: the values come, the
    first says so in one `triage: warning:` line, the second says nothing."""
    import hostile_pictures as hostile
    from support import run_triage
    tagged, big = tmp_path / "tagged.tif", tmp_path / "big.tif"
    tagged.write_bytes(hostile.tiff_warning())
    big.write_bytes(hostile.tiff_110_megapixels())
    # pHash: PDQ of 110 Mpx at full size costs 20 s and 3 GB (pdqhash's float64 luma)
    run = run_triage("hash", "--json", "--signal", "phash,md5", tagged, big)
    assert run.code == 0
    first, second = run.lines()
    reason = "image library warning: UserWarning: Tag data larger than file. Skipping tag 270"
    assert first["warnings"] == [reason] and len(first["phash"]) == 16
    assert "warnings" not in second and len(second["phash"]) == 16
    assert run.stderr.splitlines() == [f"triage: warning: {tagged}: {reason}"]


def test_hash_gives_a_strips_canonical_values(triage, tmp_path):
    """`hash` computes what other PDQ tools compute for the file as it is (no enlarged copy):
    the shape rule is the scan's and the set builder's, not this command's."""
    import hostile_pictures as hostile
    strip = tmp_path / "strip.png"
    strip.write_bytes(hostile.strip_png(1, 30000))
    run = triage("hash", "--json", "--signal", "pdq", strip)
    assert run.code == 0 and len(run.lines()[0]["pdq"]) == 64


def test_a_picture_over_the_size_cap_keeps_its_digests(triage, tmp_path, monkeypatch):
    from triage import reading
    monkeypatch.setattr(reading, "MAX_IMAGE_BYTES", RGB.stat().st_size - 1)
    run = triage("hash", "--json", "--signal", "pdq,md5", RGB)
    assert run.code == 3
    (record,) = run.lines()
    assert record["error"] == f"image larger than {RGB.stat().st_size - 1} bytes: not decoded"
    assert record["md5"] == hashlib.md5(RGB.read_bytes()).hexdigest() and record["pdq"] is None


def test_running_out_of_memory_on_a_picture_is_that_files_error(triage, monkeypatch):
    from triage.signals import perceptual

    def exhausted(image):
        raise MemoryError()
    monkeypatch.setattr(perceptual.PDQ, "compute", exhausted)
    run = triage("hash", "--json", "--signal", "pdq,md5", RGB, IMAGEHASH)
    assert run.code == 3
    assert [(r["error"], r["pdq"]) for r in run.lines()] == [
        ("image not hashed: out of memory", None)] * 2
    assert run.lines()[0]["md5"] == hashlib.md5(RGB.read_bytes()).hexdigest()
