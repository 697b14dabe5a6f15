"""Damaged EWF chunks (one flipped byte in a chunk's stored data): found as `ewfverify` finds
them, never read as the evidence's bytes.

pyewf reads a chunk whose checksum fails as zeros and says nothing: a file over it was hashed
as zeros (a hit silently missed), and `inspect --verify` passed a damaged E01 whose damaged
chunk held zeros. Each damaged copy is made here from a committed image and judged by
ewfverify (ewf-tools) as the reference."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support import FIXTURES, ewf_chunks, load_truth

CHUNK = 32 * 1024   # ewfacquire's default: 64 sectors of 512 bytes
MBR = load_truth("mbr.raw")

pytestmark = pytest.mark.skipif(shutil.which("ewfverify") is None,
                                reason="ewfverify (ewf-tools) is not installed")


def damaged_copy(sources, folder: Path, chunk_numbers) -> Path:
    """Copies of the segments with one byte flipped in the middle of each chosen chunk's
    stored data; returns the first segment."""
    copies = []
    for source in sources:
        target = folder / Path(source).name
        shutil.copyfile(source, target)
        target.chmod(0o644)
        copies.append(target)
    chunks = ewf_chunks(copies)
    for number in chunk_numbers:
        segment, start, end, _ = chunks[number]
        with open(segment, "r+b") as f:
            f.seek((start + end) // 2)
            byte = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([byte[0] ^ 0xFF]))
    return copies[0]


def ewfverify(first: Path):
    """(passed, damaged ranges as (media offset, length)) as ewfverify reports them."""
    run = subprocess.run(["ewfverify", "-q", str(first)], capture_output=True, text=True,
                         timeout=300)
    ranges = [(int(a) * 512, (int(b) - int(a) + 1) * 512) for a, b in
              re.findall(r"at sector\(s\): (\d+) - (\d+)", run.stdout)]
    passed = run.returncode == 0 and "ewfverify: SUCCESS" in run.stdout
    return passed, ranges


@pytest.fixture(scope="module")
def mbr_raw(images):
    return (images / "mbr.raw").read_bytes()


def chunk_of(raw: bytes, content: bytes) -> int:
    at = raw.find(content)
    assert at >= 0 and raw.find(content, at + 1) < 0
    return at // CHUNK


def zero_chunks(raw: bytes):
    return [n for n in range(len(raw) // CHUNK) if not raw[n * CHUNK:(n + 1) * CHUNK].strip(b"\0")]


def cases(images, raw):
    mbr = [images / "mbr.E01"]
    split = sorted(images.glob("mbr-split.E0*"))
    chunks = ewf_chunks(mbr)
    compressed = [n for n, c in enumerate(chunks) if c[3]]
    stored = [n for n, c in enumerate(chunks) if not c[3]]
    zeros = zero_chunks(raw)
    split_chunks = ewf_chunks(split)
    in_e02 = next(n for n, c in enumerate(split_chunks) if c[0].name.endswith("E02"))
    in_e04 = next(n for n, c in enumerate(split_chunks) if c[0].name.endswith("E04"))
    data = next(n for n in compressed if n not in zeros and n > 40)
    return {
        "clean": (mbr, []),
        "compressed chunk": (mbr, [data]),
        "uncompressed chunk": (mbr, [stored[3]]),
        # The case --verify passed: the damaged chunk held zeros, libewf gives zeros, so the
        # media's MD5 still matches the stored one.
        "compressed chunk of zeros": (mbr, [zeros[len(zeros) // 2]]),
        "two segments of a split image": (split, [in_e02 + 5, in_e04 + 9]),
    }


CASES = ["clean", "compressed chunk", "uncompressed chunk", "compressed chunk of zeros",
         "two segments of a split image"]


@pytest.mark.parametrize("case", CASES)
def test_verify_finds_what_ewfverify_finds(images, mbr_raw, triage, tmp_path, case):
    sources, numbers = cases(images, mbr_raw)[case]
    first = damaged_copy(sources, tmp_path, numbers)
    passed, ranges = ewfverify(first)
    assert passed == (not numbers)                        # the reference saw the damage
    assert len(ranges) == len(numbers)
    run = triage("inspect", first, "--verify", "--json")
    info = run.json()
    assert [(d["offset"], d["length"]) for d in info["damaged"]] == ranges
    assert run.code == (0 if passed else 1), run.stderr
    if case == "compressed chunk of zeros":
        # What used to pass: the hashes match, only the chunk checksums tell.
        assert all(h["match"] for h in info["verification"]["hashes"].values())
    if passed:
        assert info["verification"]["note"] == ""
    else:
        assert f"{len(ranges)} chunk(s) fail their checksum" in info["verification"]["note"]


def test_damaged_chunks_are_shown_in_the_text_output(images, mbr_raw, triage, tmp_path):
    sources, numbers = cases(images, mbr_raw)["uncompressed chunk"]
    first = damaged_copy(sources, tmp_path, numbers)
    (_, ranges) = ewfverify(first)
    run = triage("inspect", first, "--verify")
    assert run.code == 1
    offset, length = ranges[0]
    assert f"DAMAGED chunk   media bytes {offset:,}-{offset + length - 1:,}" in run.stdout


def test_a_clean_e01_prints_no_zero_chunk_note(images, triage):
    run = triage("inspect", images / "mbr.E01", "--verify")
    assert run.code == 0
    assert "zeros" not in run.stdout and "DAMAGED" not in run.stdout


def mbr_file(path: str) -> dict:
    return next(f for f in MBR["files"] if f["path"] == path)


def content_chunk(image: Path, path: str, fraction: float) -> int:
    """The chunk holding the byte at `fraction` of a file's content, from the clusters `istat`
    (the Sleuth Kit) lists for it in the raw image."""
    entry = mbr_file(path)
    volume = next(v for v in MBR["volumes"] if v["offset"] == entry["volume_offset"])
    text = subprocess.run(["istat", "-o", str(volume["offset"] // 512), str(image),
                           entry["address"]], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    lines = text.splitlines()
    # FAT lists the file's sectors, NTFS its $DATA attribute's clusters, last in the output.
    start = max(i for i, line in enumerate(lines) if line.startswith(("Sectors:", "Type: $DATA")))
    units = [int(n) for line in lines[start + 1:] for n in line.split() if n.isdigit()]
    unit = 512 if lines[start].startswith("Sectors:") else volume["block_size"]
    return (volume["offset"] + units[int(len(units) * fraction)] * unit) // CHUNK


def test_a_file_over_a_damaged_chunk_is_an_error_not_zeros(images, triage, tmp_path):
    """Before, the file was listed (and hashed) as the zeros libewf gives, and nothing said
    so. The chunks are inside two files' content: one stored compressed ($LogFile's repeating
    pages), one stored as is (random.bin's noise)."""
    if shutil.which("istat") is None:
        pytest.skip("istat (sleuthkit) is needed to place a file's content")
    chunks = ewf_chunks([images / "mbr.E01"])
    targets = {"/$LogFile": content_chunk(images / "mbr.raw", "/$LogFile", 0.5),
               "/random.bin": content_chunk(images / "mbr.raw", "/random.bin", 0.5)}
    assert [chunks[n][3] for n in targets.values()] == [True, False]
    first = damaged_copy([images / "mbr.E01"], tmp_path, targets.values())
    passed, ranges = ewfverify(first)
    assert not passed and len(ranges) == 2
    run = triage("files", first, "--hash", "md5")
    assert run.code == 3, run.stderr
    rows = run.lines()
    errors = {r["path"]: r["error"] for r in rows if "error" in r and r["path"]
              and not r["path"].startswith("/$OrphanFiles/")}
    assert set(errors) == set(targets)
    for path, (offset, length) in zip(targets, ranges):
        assert errors[path] == (f"read failed: damaged EWF chunk at media bytes {offset:,}-"
                                f"{offset + length - 1:,} (checksum mismatch)")
    listed = {r["path"]: r for r in rows if "error" not in r}
    assert [listed[p]["md5"] for p in targets] == [None, None]
    # Everything else reads as the Sleuth Kit reads the undamaged image.
    for f in MBR["files"]:
        if f["path"] not in errors and f.get("icat_error") is None:
            assert listed[f["path"]]["md5"] == f["md5"], f["path"]
    assert "Traceback" not in run.stderr


def fat16_root_directory(raw: bytes, volume_offset: int) -> int:
    boot = raw[volume_offset:volume_offset + 512]
    bps, reserved = int.from_bytes(boot[11:13], "little"), int.from_bytes(boot[14:16], "little")
    fats, fat_sectors = boot[16], int.from_bytes(boot[22:24], "little")
    return volume_offset + (reserved + fats * fat_sectors) * bps


@pytest.mark.parametrize("structure", ["ext4 superblock", "fat16 root directory"])
def test_a_damaged_chunk_in_file_system_structures_is_reported_for_its_volume(
        images, mbr_raw, triage, tmp_path, structure):
    """TSK reads file-system structures as the zeros libewf gives: the volume does not open,
    or its walk lists less. Either way the volume gets an error naming the damaged range (one,
    not also a bare "no file system"), and the listing is not taken for complete."""
    fs_type = structure.split()[0]
    volume = next(v for v in MBR["volumes"] if v["fs_type"] == fs_type)
    at = volume["offset"] + 1024 if fs_type == "ext4" else fat16_root_directory(
        mbr_raw, volume["offset"])
    first = damaged_copy([images / "mbr.E01"], tmp_path, [at // CHUNK])
    _, ranges = ewfverify(first)
    run = triage("files", first)
    assert run.code == 3
    rows = run.lines()
    volume_errors = [r for r in rows if "error" in r and r["path"] is None
                     and r["volume"]["offset"] == volume["offset"]]
    offset, length = ranges[0]
    assert [e["error"].split(":")[0] for e in volume_errors] == [
        f"damaged EWF chunk at media bytes {offset:,}-{offset + length - 1:,} (checksum mismatch)"]
    others = {(f["volume_offset"], f["path"]) for f in MBR["files"]
              if f["volume_offset"] != volume["offset"]}
    assert others <= {(r["volume"]["offset"], r["path"]) for r in rows if "error" not in r}


def test_a_demo_hit_over_a_damaged_chunk_becomes_an_error(tmp_path, triage):
    """The reproduction: one flipped byte in the chunk holding a known picture of the demo made
    it vanish from the hits, with "0 unreadable" and a clean exit. The picture's bytes come
    from the Sleuth Kit (icat on an ewfexport of the demo), never from triage."""
    if shutil.which("icat") is None or shutil.which("ewfexport") is None:
        pytest.skip("icat (sleuthkit) and ewfexport (ewf-tools) are needed")
    demo = FIXTURES / "demo"
    raw = tmp_path / "demo.raw"
    subprocess.run(["ewfexport", "-q", "-u", "-t", str(tmp_path / "demo"), "-f", "raw",
                    str(demo / "demo.E01")], capture_output=True, check=True, timeout=300)
    raw_bytes = raw.read_bytes()
    fat32 = 1048576 // 512
    picture = subprocess.run(["icat", "-o", str(fat32), str(raw), "39"], capture_output=True,
                             check=True, timeout=60).stdout
    first = damaged_copy([demo / "demo.E01"], tmp_path, [chunk_of(raw_bytes, picture[:8192])])
    passed, ranges = ewfverify(first)
    assert not passed and len(ranges) == 1
    out = tmp_path / "out"
    run = triage("scan", first, "--hashset", demo / "demo-alert.json", "--hashset",
                 demo / "demo-known-good.txt", "-o", out, "--quiet")
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr
    report = _report(out)
    paths = {h["path"] for h in report["hits"]}
    assert "/DCIM/100CANON/IMG_0003.JPG" not in paths and len(paths) == 6
    errors = [e for e in report["errors"] if e["path"] == "/DCIM/100CANON/IMG_0003.JPG"]
    assert len(errors) == 1 and "damaged EWF chunk" in errors[0]["reason"]
    assert report["summary"]["errors"] >= 1
    # the evidence lists the range ewfverify reports, met by whichever process read it, and
    # the verdict says the media is damaged
    ((offset, length),) = ranges
    assert report["evidence"][0]["damaged"] == [{"offset": offset, "length": length}]
    assert "1 damaged chunk(s) of the media" in (out / "report.html").read_text()


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())
