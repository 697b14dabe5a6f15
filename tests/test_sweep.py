"""`triage scan --blocks`: reference pictures found by their 4 KiB blocks wherever they lie on
the media (deleted, half overwritten, fragmented, only in unallocated space), with the right
runs, fractions and owners; nothing found where no reference content is.

The fixtures are made here with e2fsprogs (mkfs.ext4 -d, debugfs) and dosfstools/mtools;
each expectation is worked out independently of triage: by finding each reference block's
bytes in the image (the blocks are random, so each lies in one place) and by asking The Sleuth
Kit's `ifind -d` which inode claims a block."""

import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from support import build_script, run_triage

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("mkfs.ext4", "debugfs", "dumpe2fs", "mkfs.vfat", "mcopy",
                                      "mdel", "ifind")),
    reason="needs e2fsprogs, dosfstools, mtools and sleuthkit")

BLOCK = 4096
SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "triage" / "schemas" /
                     "report.schema.json").read_text())


def _random(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Three reference pictures of 10 full blocks (and a tail), and the set built from them."""
    base = tmp_path_factory.mktemp("reference")
    ref = base / "ref"
    ref.mkdir()
    pictures = {f"pic{i}.jpg": _random(i, 10 * BLOCK + 100 * (i + 1)) for i in range(3)}
    for name, data in pictures.items():
        (ref / name).write_bytes(data)
    out = base / "ref.tset"
    assert run_triage("hashset", "build", ref, "-o", out, "--blocks", "--category", "1",
                      "--no-progress").code == 0
    return out, pictures


def _scan(image, hashset, outdir, *options):
    result = run_triage("scan", image, "--hashset", hashset, "--blocks", "-o", outdir, "-q",
                        *options)
    report = json.loads((outdir / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    return result.code, report


def _expected(image: bytes, picture: bytes) -> dict:
    """Runs and blocks matched of `picture`'s full blocks, by finding their bytes."""
    where = [image.find(picture[i:i + BLOCK]) for i in range(0, len(picture) // BLOCK * BLOCK,
                                                                BLOCK)]
    runs, last = [], None
    for offset in where:
        if offset < 0:
            last = None
            continue
        if last is not None and offset == last + BLOCK:
            runs[-1]["length"] += BLOCK
        else:
            runs.append({"offset": offset, "length": BLOCK})
        last = offset
    return {"runs": runs, "blocks_matched": sum(o >= 0 for o in where),
            "blocks_total": len(picture) // BLOCK}


def _md5(data: bytes) -> str:
    import hashlib
    return hashlib.md5(data).hexdigest()


def _ifind(image, offset: int, block_size: int):
    out = subprocess.run(["ifind", "-d", str(offset // block_size), str(image)],
                         capture_output=True, text=True).stdout.strip()
    return int(out.split("-")[0]) if out.isdigit() or re.match(r"^\d+-", out) else None


def _ext4(tmp_path, files: dict, size="8M"):
    tree = tmp_path / "tree"
    tree.mkdir()
    for name, data in files.items():
        (tree / name).write_bytes(data)
    image = tmp_path / "ext4.raw"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-b", "4096", "-d", str(tree), str(image), size],
                   check=True, capture_output=True)
    return image


def _debugfs(image, command: str, write: bool = False) -> str:
    return subprocess.run(["debugfs", *(["-w"] if write else []), "-R", command, str(image)],
                          check=True, capture_output=True, text=True).stdout


def _overwrite(image, offset: int, length: int, seed: int) -> None:
    with open(image, "r+b") as f:
        f.seek(offset)
        f.write(_random(seed, length))


def test_ext4_deleted_half_overwritten_and_unallocated_pictures(tmp_path, reference):
    hashset, pictures = reference
    image = _ext4(tmp_path, {"a.jpg": pictures["pic0.jpg"], "b.jpg": pictures["pic1.jpg"],
                             "other.bin": _random(99, 30000)})
    # a.jpg deleted, then its second half overwritten
    blocks = [int(b) for b in _debugfs(image, "blocks /a.jpg").split()]
    _debugfs(image, "rm /a.jpg", write=True)
    _overwrite(image, blocks[5] * BLOCK, 5 * BLOCK, 7)
    # pic2 written raw into free blocks, far from any file: only in unallocated space
    placed = _free_block(image) * BLOCK
    with open(image, "r+b") as f:
        f.seek(placed)
        f.write(pictures["pic2.jpg"])
    code, report = _scan(image, hashset, tmp_path / "out")
    assert code == 1
    raw = image.read_bytes()
    found = {f["reference_md5"]: f for f in report["fragments"]}
    assert set(found) == {_md5(p) for p in pictures.values()}
    for name, picture in pictures.items():
        f = found[_md5(picture)]
        expected = _expected(raw, picture)
        assert {k: f[k] for k in expected} == expected, name
        assert (f["set"], f["category"], f["evidence"], f["volume"], f["within"]) == (
            "ref", "1", str(image), {"index": 0, "offset": 0}, "media")
        inode = _ifind(image, f["runs"][0]["offset"], BLOCK)
        assert (f["owner"] or {}).get("inode") == inode, name
    deleted = found[_md5(pictures["pic0.jpg"])]
    assert (deleted["blocks_matched"], deleted["blocks_total"]) == (5, 10)
    assert deleted["runs"] == [{"offset": blocks[0] * BLOCK, "length": 5 * BLOCK}]
    assert deleted["owner"] == {"path": "/a.jpg", "inode": 12, "allocated": False}
    assert found[_md5(pictures["pic1.jpg"])]["owner"] == {"path": "/b.jpg", "inode": 13,
                                                           "allocated": True}
    loose = found[_md5(pictures["pic2.jpg"])]
    assert loose["runs"] == [{"offset": placed, "length": 10 * BLOCK}]
    assert loose["owner"] is None
    # the live b.jpg is also an ordinary hit; a.jpg's remains are not a file any more
    assert [h["path"] for h in report["hits"]] == ["/b.jpg"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert '<h2>Fragments (3)</h2>' in html
    assert f"<td>{_md5(pictures['pic0.jpg'])}</td>" in html and "(inode 12, deleted)" in html
    assert "unallocated space" in html


def _free_block(image) -> int:
    """A free block of an ext4 image, 20 blocks into its longest free stretch (dumpe2fs)."""
    listing = subprocess.run(["dumpe2fs", str(image)], capture_output=True, text=True).stdout
    free = [tuple(map(int, r.split("-"))) for line in re.findall(r"^\s*Free blocks: (.+)$",
                                                                   listing, re.M)
            for r in line.split(", ") if "-" in r]
    start, end = max(free, key=lambda r: r[1] - r[0])
    assert end - start > 40
    return start + 20


def test_a_live_copy_and_a_copy_in_unallocated_space_are_two_findings(tmp_path, reference):
    """One reference file in two places, a live file and a copy no file claims: a finding
    each, with its own owner, runs and blocks (one finding owned by the live file hid the
    unallocated copy)."""
    hashset, pictures = reference
    picture = pictures["pic1.jpg"]
    image = _ext4(tmp_path, {"b.jpg": picture})
    placed = _free_block(image) * BLOCK
    with open(image, "r+b") as f:
        f.seek(placed)
        f.write(picture[:6 * BLOCK])      # the first 6 of its 10 full blocks
    code, report = _scan(image, hashset, tmp_path / "out", "--format", "json,case")
    assert code == 1
    live = int(_debugfs(image, "blocks /b.jpg").split()[0]) * BLOCK
    assert _ifind(image, placed, BLOCK) is None and _ifind(image, live, BLOCK) == 12
    assert [(f["runs"], f["blocks_matched"], f["blocks_total"], f["owner"])
            for f in report["fragments"]] == [
        ([{"offset": live, "length": 10 * BLOCK}], 10, 10,
         {"path": "/b.jpg", "inode": 12, "allocated": True}),
        ([{"offset": placed, "length": 6 * BLOCK}], 6, 10, None)]
    assert {f["reference_md5"] for f in report["fragments"]} == {_md5(picture)}
    # in CASE, an annotation of each finding, over its own runs
    graph = json.loads((tmp_path / "out" / "report.jsonld").read_text())["@graph"]
    ids = [node["@id"] for node in graph]
    assert len(ids) == len(set(ids))
    notes = [node for node in graph if node.get("uco-core:name") == "block match"]
    assert len(notes) == 2 and len({n["uco-core:object"][0]["@id"] for n in notes}) == 2


def test_fat_fragmented_and_deleted_half_overwritten_pictures(tmp_path, reference):
    hashset, pictures = reference
    image = tmp_path / "fat16.raw"
    with open(image, "wb") as f:
        f.truncate(16 << 20)
    subprocess.run(["mkfs.vfat", "-F", "16", str(image)], check=True, capture_output=True)
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, name in enumerate(("f1", "f2", "f3")):
        (parts / name).write_bytes(_random(50 + i, 8192))
    (parts / "frag.jpg").write_bytes(pictures["pic0.jpg"])
    (parts / "gone.jpg").write_bytes(pictures["pic1.jpg"])

    def mtools(*args):
        subprocess.run([*args], check=True, capture_output=True,
                       env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
    mtools("mcopy", "-i", str(image), *(str(parts / n) for n in ("f1", "f2", "f3")), "::/")
    mtools("mdel", "-i", str(image), "::/f2")
    # FAT fills the first free clusters: the picture goes into f2's hole and on past f3
    mtools("mcopy", "-i", str(image), str(parts / "frag.jpg"), "::/")
    mtools("mcopy", "-i", str(image), str(parts / "gone.jpg"), "::/")
    raw = image.read_bytes()
    gone_at = _expected(raw, pictures["pic1.jpg"])["runs"]
    assert len(gone_at) == 1
    mtools("mdel", "-i", str(image), "::/gone.jpg")
    _overwrite(image, gone_at[0]["offset"] + 5 * BLOCK, 5 * BLOCK, 8)
    code, report = _scan(image, hashset, tmp_path / "out")
    assert code == 1
    raw = image.read_bytes()
    found = {f["reference_md5"]: f for f in report["fragments"]}
    assert set(found) == {_md5(pictures["pic0.jpg"]), _md5(pictures["pic1.jpg"])}
    frag = found[_md5(pictures["pic0.jpg"])]
    expected = _expected(raw, pictures["pic0.jpg"])
    assert len(expected["runs"]) == 2    # the fixture is fragmented
    assert {k: frag[k] for k in expected} == expected
    assert frag["owner"]["path"] == "/frag.jpg" and frag["owner"]["allocated"] is True
    gone = found[_md5(pictures["pic1.jpg"])]
    assert (gone["blocks_matched"], gone["blocks_total"]) == (5, 10)
    assert gone["runs"] == [{"offset": gone_at[0]["offset"], "length": 5 * BLOCK}]
    inode = _ifind(image, gone_at[0]["offset"], 512)
    listed = subprocess.run(["fls", "-r", "-p", "-d", str(image)], capture_output=True,
                            text=True).stdout   # deleted names only, as fls shows them
    name = next(line.split("\t")[1] for line in listed.splitlines()
                if re.match(rf"r/r \* {inode}:", line))
    assert gone["owner"] == {"path": "/" + name, "inode": inode, "allocated": False}


def test_nothing_found_in_zeros_patterns_and_shared_headers(tmp_path):
    header = _random(1, BLOCK)
    pattern = bytes(range(256)) * 16
    ref = tmp_path / "ref"
    ref.mkdir()
    # Reference pictures that share a header block (with each other: more than --max-shared)
    # and hold a zero block, a repeated pattern and text of low entropy besides their own.
    low = (b"ab" * 700 + b"abc" * 900)[:BLOCK]
    for i in range(6):
        (ref / f"r{i}.jpg").write_bytes(header + bytes(BLOCK) + pattern + low +
                                        _random(100 + i, 3 * BLOCK))
    hashset = tmp_path / "ref.tset"
    assert run_triage("hashset", "build", ref, "-o", hashset, "--blocks",
                      "--no-progress").code == 0
    # the evidence: the same header, zeros, pattern and text everywhere, other content after
    files = {f"e{i}.jpg": header + bytes(BLOCK) + pattern + low + _random(200 + i, 3 * BLOCK)
             for i in range(10)}
    files["zeros.bin"] = bytes(40 * BLOCK)
    files["pattern.bin"] = pattern * 40
    image = _ext4(tmp_path, files)
    code, report = _scan(image, hashset, tmp_path / "out")
    assert (code, report["fragments"], report["hits"]) == (0, [], [])


def test_a_fragment_alone_is_a_hit_for_the_verdict():
    from triage.verdict import decide
    clean = {"hits": 0, "errors": 0}
    verdict = decide(clean, True, fragments=2)
    assert (verdict.exit_code, verdict.tone) == (1, "hits")
    assert verdict.headline == ("HITS FOUND: blocks of 2 known files found on the media "
                                "(fragments)")
    assert decide(clean, True).exit_code == 0


def test_a_failed_read_is_reported_and_the_sweep_goes_on_after_it(reference):
    """The media is read ahead in READ-byte stretches; one that cannot be read is one Unread
    (its offsets) and the blocks after it are still found, at their offsets."""
    from triage.hashsets import load
    from triage.sweep import READ, Piece, Sweeper, Unread
    hashset, pictures = reference
    picture = pictures["pic0.jpg"]
    media = bytearray(3 * READ)
    media[2 * READ + BLOCK:2 * READ + BLOCK + len(picture)] = picture     # third stretch
    media[BLOCK:BLOCK + len(picture)] = picture                           # first stretch

    def readinto(offset, buffer):
        if offset == READ:
            raise OSError(5, "Input/output error")
        data = media[offset:offset + len(buffer)]
        buffer[:len(data)] = data
        return len(data)
    hs = load(str(hashset))
    try:
        got = list(Sweeper([hs]).sweep(readinto, Piece("m", 0, len(media), len(media), BLOCK,
                                                        None)))
    finally:
        hs.close()
    unread = [g for g in got if isinstance(g, Unread)]
    assert [(u.offset, u.length) for u in unread] == [(READ, READ)]
    assert "Input/output error" in unread[0].reason
    found = sorted((f.offset, f.index) for f in got if not isinstance(f, Unread))
    assert found == [(base + BLOCK * (i + 1), i) for base in (0, 2 * READ) for i in range(10)]


PASSWORD = "triage-TEST"


@pytest.mark.skipif(shutil.which("cryptsetup") is None, reason="needs cryptsetup")
def test_a_luks_volume_is_swept_through_its_decryption(tmp_path, reference):
    """A LUKS2 volume (made with `cryptsetup reencrypt --encrypt`, as fixtures/build_layers.py
    makes its LUKS fixtures) holding a live picture and a deleted, half-overwritten one: both
    found in the decrypted volume, with offsets in it (`within`: "volume") equal to where the
    plain file system held their blocks before it was encrypted, owners as `ifind` names them
    there; the ciphertext on the media holds nothing."""
    hashset, pictures = reference
    plain = _ext4(tmp_path, {"a.jpg": pictures["pic0.jpg"], "b.jpg": pictures["pic1.jpg"]},
                  size="4M")
    blocks = [int(b) for b in _debugfs(plain, "blocks /a.jpg").split()]
    _debugfs(plain, "rm /a.jpg", write=True)
    _overwrite(plain, blocks[5] * BLOCK, 5 * BLOCK, 7)
    image = tmp_path / "luks.raw"
    with open(image, "wb") as f:
        f.write(plain.read_bytes())
        f.truncate(8 << 20)
    key = tmp_path / "key"
    key.write_text(PASSWORD)
    layers = build_script("build_layers.py")
    subprocess.run(["cryptsetup", "reencrypt", "--encrypt", "--type", "luks2",
                    "--reduce-device-size", "4M", "--luks2-metadata-size", "16k",
                    "--luks2-keyslots-size", "1M", "--force-offline-reencrypt", *layers.KDF,
                    "--key-file", str(key), "-q", str(image)], check=True, capture_output=True)
    assert pictures["pic1.jpg"][:BLOCK] not in image.read_bytes()
    result = run_triage("scan", image, "--hashset", hashset, "--blocks", "--credential",
                        f"password:{PASSWORD}", "-o", tmp_path / "out", "-q")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    assert result.code == 1, result.stderr
    assert not [e for e in report["errors"] if "swept" in e["reason"]]
    raw = plain.read_bytes()
    found = {f["reference_md5"]: f for f in report["fragments"]}
    assert set(found) == {_md5(pictures["pic0.jpg"]), _md5(pictures["pic1.jpg"])}
    for name in ("pic0.jpg", "pic1.jpg"):
        f = found[_md5(pictures[name])]
        expected = _expected(raw, pictures[name])
        assert {k: f[k] for k in expected} == expected, name
        assert (f["within"], f["volume"]["path"]) == ("volume", "luks2"), name
        assert (f["owner"] or {}).get("inode") == _ifind(plain, f["runs"][0]["offset"], BLOCK)
    deleted = found[_md5(pictures["pic0.jpg"])]
    assert (deleted["blocks_matched"], deleted["runs"]) == (
        5, [{"offset": blocks[0] * BLOCK, "length": 5 * BLOCK}])
    assert deleted["owner"] == {"path": "/a.jpg", "inode": 12, "allocated": False}
    assert found[_md5(pictures["pic1.jpg"])]["owner"] == {"path": "/b.jpg", "inode": 13,
                                                           "allocated": True}
    # a sample reads the decrypted volume's windows too (these blocks are nowhere else):
    # one listed window must not be missed 999 times in 1,000, so nearly all are read
    sampled = run_triage("scan", image, "--hashset", hashset, "--sample", "0.999",
                         "--min-amount", "4KiB", "--credential", f"password:{PASSWORD}",
                         "-o", tmp_path / "sampled", "-q")
    assert sampled.code == 1, sampled.stderr
    report = json.loads((tmp_path / "sampled" / "report.json").read_text())
    assert report["sampling"]["found"] is True and len(report["fragments"]) == 2


def test_an_lvm_logical_volume_is_swept_through_its_mapping(images, tmp_path):
    """fixtures/images/lvm.raw (made by fixtures/build_layers.py with LVM's own tools): the
    known file inside the `home` logical volume, whose bytes the truth says lie at byte
    2,097,152 of the image. Found through the LV, at offsets in it (its ext4 has 1 KiB
    clusters, so the sweep steps by 1 KiB there), owned by /user/known.bin."""
    layers = build_script("build_layers.py")
    truth = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "truth" / "layers" /
                        "lvm.raw.json").read_text())
    (home,) = [t for t in truth["tsk"] if t["volume"]["path"].endswith("/home")]
    start = int(home["read_from"].rsplit(" ", 1)[1])
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "known.bin").write_bytes(layers.KNOWN)
    hashset = tmp_path / "known.tset"
    assert run_triage("hashset", "build", ref, "-o", hashset, "--blocks", "--no-progress"
                      ).code == 0
    code, report = _scan(images / "lvm.raw", hashset, tmp_path / "out")
    assert code == 1
    assert not [e for e in report["errors"] if "swept" in e["reason"]]
    lv = (images / "lvm.raw").read_bytes()[start:start + (4 << 20)]
    expected = _expected(lv, layers.KNOWN)
    assert expected["blocks_matched"] == 4
    (f,) = report["fragments"]
    assert {k: f[k] for k in expected} == expected
    assert (f["within"], f["volume"]["path"]) == ("volume", "p2/lvm:vg_triage/home")
    assert f["owner"] == {"path": "/user/known.bin", "inode": 14, "allocated": True}
