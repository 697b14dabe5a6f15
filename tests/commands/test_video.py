"""Videos on the command line: `triage hash --signal vpdq`, vPDQ files into sets
(`hashset import`, `build`, `info`, `validate`, `diff`), and scans of a folder and of a disk
image that hold re-encoded copies."""

import hashlib
import json
import shutil
import subprocess

import jsonschema
import pytest

from support import REPO

SCHEMA = json.loads((REPO / "triage" / "schemas" / "report.schema.json").read_text())


def vpdq_text(triage, path):
    run = triage("hash", "--signal", "vpdq", path)
    assert run.code == 0, run.stderr
    return run.stdout


def test_hash_prints_vpdq_text_and_json(triage, videos):
    ref = videos["refs"]["ref0"]
    text = vpdq_text(triage, ref)
    lines = text.splitlines()
    assert [line.split(",")[0] for line in lines] == ["0", "25", "50", "75", "100"]
    assert [line.split(",")[3] for line in lines] == ["0.000", "1.000", "2.000", "3.000",
                                                      "4.000"]
    run = triage("hash", "--signal", "vpdq,md5", "--json", ref)
    (record,) = run.lines()
    assert record["vpdq"] == lines and len(record["md5"]) == 32
    keys = triage("hash", "--signal", "vpdq", "--video-frames", "keyframes", ref).stdout
    assert [line.split(",")[0] for line in keys.splitlines()] == ["0", "50", "100"]


def test_hash_of_a_picture_or_a_broken_video(triage, videos, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(3000))
    still = REPO / "fixtures" / "vectors" / "pdq" / "pdqhash-python" / "image1.jpg"
    run = triage("hash", "--signal", "vpdq", "--json", still, broken)
    assert run.code == 3
    first, second = run.lines()
    assert first["vpdq"] is None and "error" not in first
    assert second["vpdq"] is None and second["error"].startswith("video not decoded: ")
    assert "broken.mp4: video not decoded" in run.stderr


def test_import_of_vpdq_files_and_folders(triage, videos, tmp_path):
    text = vpdq_text(triage, videos["refs"]["ref0"])
    folder = tmp_path / "hashes"
    folder.mkdir()
    (folder / "ref0.txt").write_text(text)
    (folder / "other.txt").write_text(vpdq_text(triage, videos["unrelated"][0]))
    one = tmp_path / "one.set"
    run = triage("hashset", "import", folder / "ref0.txt", "-o", one, "--json")
    assert run.code == 0, run.stderr
    info = run.json()
    assert info["signals"] == {"vpdq": 5} and info["sources"][0]["format"] == "vpdq"
    both = tmp_path / "both.set"
    run = triage("hashset", "import", folder, "-o", both, "--video-match", "70,90", "--json")
    assert run.code == 0, run.stderr
    info = run.json()
    assert info["entries"] == 10 and len(info["sources"]) == 2
    assert info["thresholds"] == {"vpdq_query_percent": 70, "vpdq_reference_percent": 90}
    assert triage("hashset", "info", both, "--json").json()["videos"] == {"vpdq": 2}
    assert "videos:     2 reference video(s)" in triage("hashset", "info", both).stdout
    run = triage("hashset", "validate", both, "--json")
    assert run.code == 0, run.stdout
    run = triage("hashset", "diff", one, both, "--json")
    assert run.json()["signals"]["vpdq"]["added"] == 5
    # A bad line is reported with its number and skipped, the file's other frames kept.
    (folder / "ref0.txt").write_text(text + "7,100,zz,1.0\n")
    run = triage("hashset", "import", folder / "ref0.txt", "-o", tmp_path / "bad.set")
    assert run.code == 0 and "ref0.txt:6: " in run.stderr and "zz" not in run.stderr
    # The ID of a reference is the SHA-256 of its vPDQ text: a match can be checked.
    scan = triage("scan", videos["copies"]["h264-crf35"].parent, "--hashset", one,
                  "-o", tmp_path / "out", "-q")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    found = {h["path"].rsplit("/", 1)[-1]: h["matches"][0] for h in report["hits"]}
    assert found["ref0.h264-crf35.mp4"]["id"] == hashlib.sha256(text.encode()).hexdigest()
    # An imported set holds the frames as found only: a mirrored copy is not found.
    assert "ref0.hflip.mp4" not in found and scan.code == 1


def test_build_stores_frames_in_eight_variants(triage, videos, tmp_path):
    out = tmp_path / "built.set"
    run = triage("hashset", "build", videos["refs"]["ref0"].parent, "-o", out,
                 "--signal", "vpdq,md5", "--json")
    assert run.code == 0, run.stderr
    info = run.json()
    # 5 frames in 8 variants, and 9 frames beside them (none before the first).
    assert info["signals"]["md5"] == 1 and info["signals"]["vpdq"] == 49
    assert triage("hashset", "validate", out).code == 0


@pytest.fixture(scope="module")
def scanned(videos, tmp_path_factory):
    from support import run_triage
    out = tmp_path_factory.mktemp("scan") / "out"
    evidence = tmp_path_factory.mktemp("evidence")
    for path in [*videos["copies"].values(), *videos["unrelated"]]:
        shutil.copy(path, evidence / path.name)
    (evidence / "broken.mp4").write_bytes(b"\x00\x00\x00\x20ftypisom" + bytes(3000))
    run = run_triage("scan", evidence, "--hashset", videos["set"], "-o", out, "--workers", "2",
                     "-q", "--format", "json,csv,html")
    return run, json.loads((out / "report.json").read_text()), out


def test_scan_of_a_folder_finds_the_copies(scanned, videos):
    run, report, out = scanned
    assert run.code == 1, run.stderr
    jsonschema.validate(report, SCHEMA)
    hits = {h["path"].rsplit("/", 1)[-1]: h for h in report["hits"]}
    assert sorted(hits) == sorted(p.name for p in videos["copies"].values())
    trimmed = hits["ref0.trim-start.mp4"]["matches"][0]
    assert trimmed["query_match_percent"] == 100.0
    assert trimmed["reference_match_percent"] == 60.0
    assert trimmed["ranges"] == {"query": [[0.0, 2.0]], "reference": [[2.0, 4.0]]}
    assert hits["ref0.hflip.mp4"]["matches"][0]["variant"] == "flipy"
    (error,) = report["errors"]
    assert error["path"].endswith("broken.mp4") and error["reason"].startswith(
        "video not decoded: ")
    # every video but the broken one decoded, counted as videos, not pictures
    decoded = len(videos["copies"]) + len(videos["unrelated"])
    assert (report["summary"]["videos_decoded"], report["summary"]["images_decoded"]) == (
        decoded, 0)


def test_the_report_holds_no_frames(scanned):
    _, report, out = scanned
    for hit in report["hits"]:
        for match in hit["matches"]:
            assert set(match) == {"signal", "set", "kind", "category", "series", "id", "value",
                                  "distance", "variant", "query_match_percent",
                                  "reference_match_percent", "ranges"}
            assert len(match["value"]) == 64     # the reference's ID, not a frame
    for name in ("report.json", "report.csv", "report.html"):
        text = (out / name).read_text()
        assert "data:image" not in text and "<img" not in text
    assert ("100 % of this video's frames, 60 % of the reference's; at 0-2 s here, 2-4 s in "
            "the reference") in (out / "report.html").read_text()


def test_keyframes_and_shares_on_the_command_line(videos, tmp_path):
    from support import run_triage
    evidence = tmp_path / "ev"
    evidence.mkdir()
    shutil.copy(videos["copies"]["trim-start"], evidence)
    out = tmp_path / "out"
    run = run_triage("scan", evidence, "--hashset", videos["set"], "-o", out, "-q",
                     "--video-match", "100,100", "--video-frames", "keyframes")
    assert run.code == 1, run.stderr
    run = run_triage("scan", evidence, "--hashset", videos["set"], "-o", out, "-q", "--force",
                     "--video-match", "101,50")
    assert run.code == 2 and "--video-match" in run.stderr
    run = run_triage("scan", evidence, "--hashset", videos["set"], "-o", out, "-q", "--force",
                     "--video-match", "100.5,61")
    assert run.code == 2 and "two percentages from 0 to 100" in run.stderr
    run = run_triage("scan", evidence, "--hashset", videos["set"], "-o", out, "-q", "--force",
                     "--video-match", "100,61")
    report = json.loads((out / "report.json").read_text())
    assert run.code == 1 and report["hits"][0]["matches"][0]["query_match_percent"] == 100.0
    run = run_triage("scan", evidence, "--hashset", videos["set"], "-o", out, "-q", "--force",
                     "--threshold", "vpdq=0")
    assert run.code == 0


def test_scan_of_a_disk_image_finds_the_copies(videos, tmp_path):
    if shutil.which("mkfs.vfat") is None or shutil.which("mcopy") is None:
        pytest.skip("dosfstools or mtools missing")
    from support import run_triage
    image = tmp_path / "videos.raw"
    subprocess.run(["mkfs.vfat", "-C", "-n", "VIDEOS", str(image), "16384"], check=True,
                   capture_output=True)
    chosen = [videos["copies"][t] for t in ("h264-crf35", "half-size", "hflip")]
    for path in [*chosen, videos["unrelated"][0]]:
        subprocess.run(["mcopy", "-i", str(image), str(path), f"::/{path.name[:40]}"],
                       check=True, capture_output=True)
    image.chmod(0o444)
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    out = tmp_path / "out"
    run = run_triage("scan", image, "--hashset", videos["set"], "-o", out, "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    found = sorted(h["path"].rsplit("/", 1)[-1] for h in report["hits"])
    assert found == sorted(p.name for p in chosen)
    assert all(h["matches"][0]["query_match_percent"] == 100.0 for h in report["hits"])
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before
