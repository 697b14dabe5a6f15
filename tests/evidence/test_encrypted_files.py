"""Files a file system stores encrypted, whose bytes TSK reads as any file's: ext4 fscrypt
(an inode whose i_flags carry EXT4_ENCRYPT_FL; triage.evidence.ext_crypt) and NTFS EFS (a file
with an `$EFS` logged utility stream; tsk_walk). Such a file is an error record, never clean.

The ext4 images are made with mkfs.ext4 and the flag set with debugfs (`set_inode_field`), the
`encrypt` feature with debugfs too; the NTFS image with ntfs-3g's `efs_raw` mode, which stores
an EFS header and raw data as a backup restore does. Either way the content stays readable
here, so a scan that ignored the encryption would report a hit (and on a real device, where
it is ciphertext, a clean file)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess

import pytest

from support import mounted_ntfs, run_triage
from triage.evidence import open_evidence, tsk_walk
from triage.evidence.ext_crypt import ENCRYPT_FL, KIND, Inodes, encrypted_inodes
from triage.records import FileEntry

needs_e2fsprogs = pytest.mark.skipif(shutil.which("debugfs") is None, reason="needs e2fsprogs")

PICTURE = bytes(range(256)) * 160        # 40,960 bytes: a reference file
FIXED = {**os.environ, "E2FSPROGS_FAKE_TIME": "1"}


def _debugfs(image, *commands, write=True) -> str:
    out = ""
    for command in commands:
        out += subprocess.run(["debugfs", *(["-w"] if write else []), "-R", command,
                               str(image)], capture_output=True, text=True, check=True,
                              env=FIXED).stdout
    return out


def _reader(image):
    f = open(image, "rb")

    def read(at, length):
        f.seek(at)
        return f.read(length)
    return read


@needs_e2fsprogs
@pytest.mark.parametrize("options", [
    ["-b", "4096"],
    ["-b", "4096", "-O", "^64bit", "-g", "512"],
    ["-b", "1024", "-g", "1024", "-O", "meta_bg,^resize_inode"],
    ["-b", "1024", "-g", "256", "-O", "meta_bg,^resize_inode,^64bit"],
    ["-b", "4096", "-g", "1024", "-I", "128", "-O", "meta_bg,^resize_inode"],
])
def test_inode_flags_are_debugfs_own_in_every_layout(tmp_path, options):
    """Classic and meta_bg descriptor layouts, 32- and 64-byte descriptors, 1 KiB and 4 KiB
    blocks, 128- and 256-byte inodes, inodes in many groups: each inode's i_flags as debugfs
    reads them."""
    image = tmp_path / "t.img"
    subprocess.run(["mkfs.ext4", "-q", "-F", *options, "-N", "20000", str(image), "64M"],
                   check=True, capture_output=True, env=FIXED)
    inodes = Inodes(_reader(image))
    last = inodes.count
    chosen = [1, 2, 11, 12, 2999, 3000, 6001, 9000, 12000, last - 1, last]
    _debugfs(image, *(f"set_inode_field <{n}> flags {hex(ENCRYPT_FL | n << 12)}"
                      for n in chosen[4:]))
    for n in chosen:
        shown = re.search(r"Flags: (0x[0-9a-f]+)", _debugfs(image, f"stat <{n}>", write=False))
        assert inodes.flags(n) == int(shown.group(1), 16), n
    assert [inodes.encrypted(n) for n in chosen] == [False] * 4 + [True] * 7
    with pytest.raises(ValueError, match="not one of the file system's"):
        inodes.flags(last + 1)
    # no `encrypt` feature: no inode can be encrypted, and none is read
    assert not inodes.encryption and encrypted_inodes(_reader(image)) is None


def _image(tmp_path, feature=True):
    """An ext4 image holding the reference file twice: /data/media/photo.bin, flagged
    encrypted, and /copy.bin, not."""
    tree = tmp_path / "tree"
    (tree / "data" / "media").mkdir(parents=True)
    (tree / "data" / "media" / "photo.bin").write_bytes(PICTURE)
    (tree / "copy.bin").write_bytes(PICTURE)
    image = tmp_path / "ext4.img"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(tree), str(image), "8M"], check=True,
                   capture_output=True, env=FIXED)
    commands = ["set_inode_field /data/media/photo.bin flags 0x80800"]
    _debugfs(image, *((["feature encrypt"] if feature else []) + commands))
    return image


@pytest.fixture
def reference(tmp_path):
    md5 = hashlib.md5(PICTURE).hexdigest()
    path = tmp_path / "ref.md5"
    path.write_text(f"{md5}  photo.bin\n")
    return path


@needs_e2fsprogs
def test_a_scan_reports_an_encrypted_file_as_not_examined(tmp_path, reference):
    image = _image(tmp_path)
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    run = run_triage("scan", image, "--hashset", reference, "-o", tmp_path / "out", "-q")
    assert run.code == 1, run.stderr          # the plain copy is a hit
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [h["path"] for h in report["hits"]] == ["/copy.bin"]
    assert [(e["path"], e["reason"]) for e in report["errors"]] == [
        ("/data/media/photo.bin", f"encrypted ({KIND}), not examined (40,960 bytes)")]
    assert report["summary"]["errors"] == 1
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before   # read-only


@needs_e2fsprogs
def test_an_image_with_encrypted_inodes_is_walked_whole_by_the_scan(tmp_path):
    """Its walk marks the encrypted inodes as it goes (ext_crypt.flagged): not shared among
    the workers by directory (shared_walk), where the same image without the feature is."""
    from triage.evidence import open_evidence
    (tmp_path / "with").mkdir()
    (tmp_path / "without").mkdir()
    with open_evidence(str(_image(tmp_path / "with"))) as ev:
        assert not ev.shares_walk()
    with open_evidence(str(_image(tmp_path / "without", feature=False))) as ev:
        assert ev.shares_walk()


@needs_e2fsprogs
def test_files_lists_it_encrypted_without_digests(tmp_path):
    image = _image(tmp_path)
    run = run_triage("files", image, "--hash", "md5")
    assert run.code == 3
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    photo = [d for d in lines if d.get("path") == "/data/media/photo.bin"]
    assert [(d.get("encrypted"), d.get("md5"), d.get("error")) for d in photo] == [
        (KIND, None, None), (None, None, f"encrypted ({KIND}), not examined (40,960 bytes)")]
    copy = next(d for d in lines if d.get("path") == "/copy.bin")
    assert "encrypted" not in copy and copy["md5"] == hashlib.md5(PICTURE).hexdigest()


@needs_e2fsprogs
def test_inspect_counts_the_encrypted_files_of_a_volume(tmp_path):
    image = _image(tmp_path)
    run = run_triage("inspect", image, "--json")
    assert run.code == 0, run.stderr
    assert {k: v for k, v in json.loads(run.stdout)["counts"]["0"].items()
            if k.startswith("encrypted")} == {"encrypted": 1, "encrypted_by": [KIND]}
    shown = run_triage("inspect", image).stdout
    assert f"1 file(s) stored encrypted ({KIND}): a scan cannot examine them" in shown


@needs_e2fsprogs
def test_the_flag_means_nothing_without_the_feature(tmp_path, reference):
    """A file system without `encrypt` holds no ciphertext: a stray flag is not read as
    encryption (and no inode table is read for it)."""
    image = _image(tmp_path, feature=False)
    run = run_triage("scan", image, "--hashset", reference, "-o", tmp_path / "out", "-q")
    assert run.code == 1
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert sorted(h["path"] for h in report["hits"]) == ["/copy.bin", "/data/media/photo.bin"]
    assert report["errors"] == []


def _efs_image(tmp_path):
    """An NTFS image holding the reference file twice: /secret.bin EFS-encrypted (its $EFS
    header set through ntfs-3g's efs_raw mode, its data stored raw), /plain.bin not."""
    image = tmp_path / "ntfs.img"
    # an EFS attribute header: its length first (all ntfs-3g checks), the rest empty
    header = (256).to_bytes(4, "little") + bytes(252)
    with mounted_ntfs(image, 8 << 20, "efs_raw") as mountpoint:
        (mountpoint / "secret.bin").touch()
        subprocess.run(["setfattr", "-n", "system.ntfs_efsinfo", "-v", "0x" + header.hex(),
                        str(mountpoint / "secret.bin")], check=True)
        (mountpoint / "secret.bin").write_bytes(PICTURE)
        (mountpoint / "plain.bin").write_bytes(PICTURE)
    return image


def test_an_efs_file_is_not_examined(tmp_path, reference, monkeypatch):
    """Marked by the compiled lister's walk and by pytsk3's alike; a scan reports it as not
    examined, and reads the image only."""
    image = _efs_image(tmp_path)
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(tsk_walk, "_tskwalk", None)
        with open_evidence(str(image)) as ev:
            marked = {e.path: e.encrypted for e in ev.entries()
                      if isinstance(e, FileEntry) and e.path in ("/secret.bin", "/plain.bin")}
        assert marked == {"/secret.bin": tsk_walk.EFS, "/plain.bin": None}, compiled
    monkeypatch.undo()
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    run = run_triage("scan", image, "--hashset", reference, "-o", tmp_path / "out", "-q")
    assert run.code == 1, run.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [h["path"] for h in report["hits"]] == ["/plain.bin"]
    assert [(e["path"], e["reason"]) for e in report["errors"]] == [
        ("/secret.bin", "encrypted (NTFS EFS), not examined (40,960 bytes)")]
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before



@needs_e2fsprogs
def test_one_refused_entry_does_not_end_its_directory(tmp_path):
    """Where TSK refuses an ext volume, libfsext walks it, and refuses an encrypted inode:
    that entry is an error record, and its directory's other files are still listed (the
    listing stopped at the refused entry before)."""
    from triage.evidence import libyal_fs
    tree = tmp_path / "tree"
    (tree / "media").mkdir(parents=True)
    for name in ("a.bin", "b.bin", "c.bin"):
        (tree / "media" / name).write_bytes(PICTURE)
    image = tmp_path / "ext4.img"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(tree), str(image), "8M"], check=True,
                   capture_output=True, env=FIXED)
    _debugfs(image, "feature encrypt", "set_inode_field /media/b.bin flags 0x80800")
    with open(image, "rb") as f:
        fs = libyal_fs.open_ext(f, "ext4")
        with open_evidence(str(image)) as ev:
            volume = ev.volumes[0]
        items = sorted((type(i).__name__, i.path) for i in fs.walk(volume, str(image),
                                                                   str(image)))
    assert items == [("FileEntry", "/media/a.bin"), ("FileEntry", "/media/c.bin"),
                     ("ScanError", "/media")]


def test_a_corrupt_superblock_is_no_ext_file_system():
    """Fields a corrupt superblock may hold: a block-size shift of 2^32 (the shift itself
    would take gigabytes), no inodes per group. Neither is read as encryption."""
    sb = bytearray(2048)
    sb[1024 + 0x38:1024 + 0x3A] = (0xEF53).to_bytes(2, "little")
    sb[1024 + 0x18:1024 + 0x1C] = (2 ** 32 - 1).to_bytes(4, "little")
    sb[1024 + 0x60:1024 + 0x64] = (0x10000).to_bytes(4, "little")   # the encrypt feature
    import tracemalloc
    tracemalloc.start()
    try:
        assert encrypted_inodes(lambda at, length: bytes(sb[at:at + length])) is None
        assert tracemalloc.get_traced_memory()[1] < 1 << 20
    finally:
        tracemalloc.stop()
    sb[1024 + 0x18:1024 + 0x1C] = (2).to_bytes(4, "little")          # 4 KiB blocks
    assert encrypted_inodes(lambda at, length: bytes(sb[at:at + length])) is None   # no inodes
