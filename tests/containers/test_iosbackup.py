"""iOS backups (iTunes/Finder, iOS 10 and later): a folder holding Manifest.db, built here from
its documented schema (`Files(fileID, domain, relativePath, flags, file)`, `Properties`), each
stored file at `<first two hex>/<fileID>` with fileID = SHA-1 of `domain-relativePath`. Each
stored file keeps its real path and is reported with its name on the phone; an encrypted
backup is reported as such; the backup folder is not written."""

from __future__ import annotations

import hashlib
import json
import os
import plistlib
import shutil
import sqlite3
import subprocess

import pytest

from archive_fixtures import KNOWN, PHOTOS, UNRELATED
from support import build_script, run_triage

from triage.containers import iosbackup

CAMERA = "CameraRollDomain"


def file_id(domain: str, relative: str) -> str:
    return hashlib.sha1(f"{domain}-{relative}".encode()).hexdigest()


def make_backup(root, files, encrypted=False):
    """A backup folder at `root` with `files` ({(domain, relativePath): bytes}), a folder row
    and a link row (flags 2 and 4: no stored file) as real catalogues have."""
    root.mkdir(parents=True)
    (root / "Manifest.plist").write_bytes(plistlib.dumps(
        {"IsEncrypted": encrypted, "Version": "10.0", "Lockdown": {"ProductVersion": "17.5"}}))
    (root / "Info.plist").write_bytes(plistlib.dumps({"Device Name": "phone"}))
    (root / "Status.plist").write_bytes(plistlib.dumps({"IsFullBackup": False}))
    for (domain, relative), data in files.items():
        stored = root / file_id(domain, relative)[:2] / file_id(domain, relative)
        stored.parent.mkdir(exist_ok=True)
        stored.write_bytes(data)
    if encrypted:   # an encrypted backup's catalogue is itself encrypted: no SQLite header
        (root / "Manifest.db").write_bytes(hashlib.sha512(b"ciphertext").digest() * 64)
        return
    db = sqlite3.connect(root / "Manifest.db")
    db.executescript("CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, "
                     "relativePath TEXT, flags INTEGER, file BLOB);"
                     "CREATE INDEX FilesDomainIdx ON Files(domain);"
                     "CREATE INDEX FilesRelativePathIdx ON Files(relativePath);"
                     "CREATE INDEX FilesFlagsIdx ON Files(flags);"
                     "CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);")
    rows = [(file_id(d, r), d, r, 1, plistlib.dumps({"$archiver": "NSKeyedArchiver"},
                                                      fmt=plistlib.FMT_BINARY))
            for d, r in files]
    rows += [(file_id(CAMERA, "Media/DCIM"), CAMERA, "Media/DCIM", 2, None),
             (file_id("HomeDomain", "Library/link"), "HomeDomain", "Library/link", 4, None)]
    db.executemany("INSERT INTO Files VALUES (?, ?, ?, ?, ?)", rows)
    db.execute("INSERT INTO Properties VALUES ('salt', x'00')")
    db.commit()
    db.close()


def snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
                  for p in folder.rglob("*"))


def test_known_photos_in_a_backup_are_found_under_their_phone_names(tmp_path, reference_set):
    ev = tmp_path / "ev"
    photos = {(CAMERA, "Media/DCIM/100APPLE/IMG_0001.JPG"): (PHOTOS / KNOWN[0]).read_bytes(),
              (CAMERA, "Media/DCIM/100APPLE/IMG_0002.JPG"): (PHOTOS / UNRELATED[0]).read_bytes(),
              ("AppDomain-net.whatsapp.WhatsApp", "Library/Media/x.jpg"):
                  (PHOTOS / KNOWN[1]).read_bytes(),
              ("HomeDomain", "Library/Preferences/a.plist"): b"not a picture at all"}
    make_backup(ev / "Backup" / "00008030-001A2B3C", photos)
    before = snapshot(ev)
    out = tmp_path / "out"
    run = run_triage("scan", str(ev), "--hashset", str(reference_set), "-o", str(out), "-q")
    assert run.code == 1, run.stderr
    assert snapshot(ev) == before   # no -wal, -shm or journal beside Manifest.db
    report = json.loads((out / "report.json").read_text())
    assert report["errors"] == []
    hits = {h["backup_path"]: h for h in report["hits"]}
    assert sorted(hits) == ["AppDomain-net.whatsapp.WhatsApp/Library/Media/x.jpg",
                            "CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG"]
    first = file_id(CAMERA, "Media/DCIM/100APPLE/IMG_0001.JPG")
    hit = hits["CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG"]
    assert hit["path"] == f"/Backup/00008030-001A2B3C/{first[:2]}/{first}"
    assert hit["md5"] == hashlib.md5((PHOTOS / KNOWN[0]).read_bytes()).hexdigest()
    html = (out / "report.html").read_text()
    assert "CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG" in html

    listed = [json.loads(line) for line in run_triage("files", str(ev)).stdout.splitlines()]
    phone = {r["path"].rsplit("/", 1)[-1]: r.get("backup_path") for r in listed
             if "path" in r}
    assert len(listed) == 4 + 4   # stored files; Info, Manifest and Status plists, Manifest.db
    for (domain, relative) in photos:
        assert phone[file_id(domain, relative)] == f"{domain}/{relative}"
    assert phone["Manifest.db"] is None and phone["Info.plist"] is None


def test_a_file_beside_the_catalogue_not_in_it_has_no_phone_name(tmp_path):
    root = tmp_path / "b"
    make_backup(root, {("HomeDomain", "Library/x"): b"x" * 20})
    stray = root / "ab" / ("ab" + "0" * 38)
    stray.parent.mkdir()
    stray.write_bytes(b"y" * 20)
    backup = iosbackup.read(str(root))
    assert backup.problem is None
    assert backup.names == {file_id("HomeDomain", "Library/x"): "HomeDomain/Library/x"}
    assert backup.phone_path(str(stray)) is None
    stored = file_id("HomeDomain", "Library/x")
    assert backup.phone_path(str(root / stored[:2] / stored)) == "HomeDomain/Library/x"
    assert backup.phone_path(str(root / stored)) is None   # not where a backup stores it


def test_an_encrypted_backup_is_reported_and_the_scan_goes_on(tmp_path, reference_set):
    ev = tmp_path / "ev"
    make_backup(ev / "locked", {(CAMERA, "Media/DCIM/100APPLE/IMG_0001.JPG"): b"\x93" * 500},
                encrypted=True)
    (ev / "loose.jpg").write_bytes((PHOTOS / KNOWN[0]).read_bytes())
    out = tmp_path / "out"
    run = run_triage("files", str(ev))
    records = [json.loads(line) for line in run.stdout.splitlines()]
    errors = [r for r in records if "error" in r]
    assert [(e["path"], e["error"]) for e in errors] == [
        ("/locked", "encrypted iOS backup, not examined")]
    assert sum(1 for r in records if "error" not in r) == 6   # still listed, as ciphertext
    assert all("backup_path" not in r for r in records)
    run = run_triage("scan", str(ev), "--hashset", str(reference_set), "-o",
                     str(out), "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    assert [h["path"] for h in report["hits"]] == ["/loose.jpg"]
    assert [e["reason"] for e in report["errors"]] == ["encrypted iOS backup, not examined"]


def test_a_catalogue_that_is_no_database_without_a_plist_saying_so(tmp_path):
    root = tmp_path / "b"
    make_backup(root, {}, encrypted=True)
    (root / "Manifest.plist").unlink()
    assert iosbackup.read(str(root)).problem == (
        "iOS backup not examined: its Manifest.db is no SQLite database (an encrypted "
        "backup's is)")
    (root / "Manifest.db").write_bytes(b"")   # empty: SQLite sees an empty database
    assert "no such table: Files" in iosbackup.read(str(root)).problem


# --- a backup folder on a disk image (ext4, FAT) is named the same way ---

def _ext4(tree, image):
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(tree), str(image), "16M"], check=True)


def _fat(tree, image):
    subprocess.run(["mkfs.vfat", "-C", str(image), str(16 * 1024)], check=True,
                   capture_output=True)
    for child in tree.iterdir():
        subprocess.run(["mcopy", "-s", "-i", str(image), str(child), "::/"], check=True)


@pytest.mark.skipif(not all(shutil.which(t) for t in ("mkfs.ext4", "mkfs.vfat", "mcopy")),
                    reason="needs e2fsprogs, dosfstools and mtools")
@pytest.mark.parametrize("make", [_ext4, _fat], ids=["ext4", "fat"])
def test_a_backup_on_a_disk_image_is_named_as_on_the_phone(tmp_path, reference_set, make):
    """Walked by TSK, whose directory order may give the stored files before Manifest.db."""
    named_on_an_image(tmp_path, reference_set, make)


def named_on_an_image(tmp_path, reference_set, make):
    """A backup and an encrypted one on an image `make(tree, image)` writes: scanned and
    listed as a backup folder is, and the image left as it was."""
    tree = tmp_path / "tree"
    photos = {(CAMERA, "Media/DCIM/100APPLE/IMG_0001.JPG"): (PHOTOS / KNOWN[0]).read_bytes(),
              (CAMERA, "Media/DCIM/100APPLE/IMG_0002.JPG"): (PHOTOS / UNRELATED[0]).read_bytes(),
              ("HomeDomain", "Library/Preferences/a.plist"): b"not a picture at all"}
    make_backup(tree / "Backup" / "00008030-001A2B3C", photos)
    make_backup(tree / "locked", {(CAMERA, "Media/DCIM/x.JPG"): b"\x93" * 500},
                encrypted=True)
    image = tmp_path / "disk.img"
    make(tree, image)
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    out = tmp_path / "out"
    run = run_triage("scan", str(image), "--hashset", str(reference_set), "-o", str(out), "-q")
    assert run.code == 1, run.stderr
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before
    report = json.loads((out / "report.json").read_text())
    first = file_id(CAMERA, "Media/DCIM/100APPLE/IMG_0001.JPG")
    assert [(h["path"], h["backup_path"]) for h in report["hits"]] == [
        (f"/Backup/00008030-001A2B3C/{first[:2]}/{first}",
         "CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG")]
    assert [(e["path"], e["reason"]) for e in report["errors"]] == [
        ("/locked", "encrypted iOS backup, not examined")]
    listed = [json.loads(line) for line in run_triage("files", str(image)).stdout.splitlines()]
    phone = {r["path"].rsplit("/", 1)[-1]: r.get("backup_path") for r in listed if "path" in r}
    for domain, relative in photos:
        assert phone[file_id(domain, relative)] == f"{domain}/{relative}"
    assert phone["Manifest.db"] is None


def test_stored_file_paths_are_told_from_others():
    fid = file_id(CAMERA, "Media/x.JPG")
    assert iosbackup.stored(f"/B/{fid[:2]}/{fid}") == ("/B", fid, False)
    assert iosbackup.stored(f"/{fid[:2]}/{fid.upper()}") == ("/", fid, False)
    assert iosbackup.stored(f"/B/{fid}") == ("/B", fid, True)   # Manifest.mbdb's layout
    assert iosbackup.stored(f"/B/zz/{'z' * 40}") is None
    assert iosbackup.stored("/B/ab/notes.txt") is None


# --- backups from iOS 5 to 9: Manifest.mbdb, files stored flat in the root ---

def mbdb_record(domain, path, mode, size=0, properties=()):
    """One record as the documented format has it (big endian; a string is a 16-bit length
    and its bytes, 0xFFFF for none)."""
    def text(value):
        if value is None:
            return b"\xff\xff"
        raw = value.encode()
        return len(raw).to_bytes(2, "big") + raw
    out = text(domain) + text(path) + text(None) + text(None) + text(None)
    out += mode.to_bytes(2, "big") + (12345).to_bytes(8, "big") + (501).to_bytes(4, "big") * 2
    out += (1_300_000_000).to_bytes(4, "big") * 3 + size.to_bytes(8, "big") + bytes([4])
    out += bytes([len(properties)]) + b"".join(text(k) + text(v) for k, v in properties)
    return out


def make_old_backup(root, files):
    """A backup as iTunes wrote it for iOS 5 to 9: Manifest.mbdb, each file at <root>/<fileID>;
    a folder and a link record besides, which store no file."""
    root.mkdir(parents=True)
    (root / "Manifest.plist").write_bytes(plistlib.dumps({"IsEncrypted": False}))
    records = [mbdb_record(CAMERA, "Media/DCIM", 0x41ED),
               mbdb_record("HomeDomain", "Library/link", 0xA1ED)]
    for (domain, relative), data in files.items():
        (root / file_id(domain, relative)).write_bytes(data)
        records.append(mbdb_record(domain, relative, 0x81A4, len(data),
                                   [("com.apple.assetsd.UUID", "0F1E")]))
    (root / "Manifest.mbdb").write_bytes(b"mbdb\x05\x00" + b"".join(records))


OLD_PHOTOS = {(CAMERA, "Media/DCIM/100APPLE/IMG_0001.JPG"): (PHOTOS / KNOWN[0]).read_bytes(),
              (CAMERA, "Media/DCIM/100APPLE/IMG_0002.JPG"): (PHOTOS / UNRELATED[0]).read_bytes()}


def test_a_manifest_mbdb_names_files_stored_flat(tmp_path):
    root = tmp_path / "old"
    make_old_backup(root, OLD_PHOTOS)
    backup = iosbackup.read(str(root))
    assert (backup.problem, backup.flat) == (None, True)
    assert backup.names == {file_id(d, r): f"{d}/{r}" for d, r in OLD_PHOTOS}
    first = file_id(CAMERA, "Media/DCIM/100APPLE/IMG_0001.JPG")
    assert backup.phone_path(str(root / first)) == "CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG"
    assert backup.phone_path(str(root / first[:2] / first)) is None
    data = (root / "Manifest.mbdb").read_bytes()
    # ends inside its last record: the last property's value (6 bytes) and the last byte of
    # its name (22 bytes, after their 2-byte length) cut off
    (root / "Manifest.mbdb").write_bytes(data[:-7])
    assert iosbackup.read(str(root)).problem == (
        f"iOS backup not examined: Manifest.mbdb unreadable: ends inside a record at byte "
        f"{len(data) - 28:,}")


@pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="needs e2fsprogs")
def test_an_old_backup_is_named_in_a_folder_and_on_an_image(tmp_path, reference_set):
    tree = tmp_path / "tree"
    make_old_backup(tree / "Backup" / "old", OLD_PHOTOS)
    image = tmp_path / "disk.img"
    _ext4(tree, image)
    first = file_id(CAMERA, "Media/DCIM/100APPLE/IMG_0001.JPG")
    for evidence in (tree, image):
        out = tmp_path / f"out-{evidence.name}"
        run = run_triage("scan", str(evidence), "--hashset", str(reference_set), "-o",
                         str(out), "-q")
        assert run.code == 1, run.stderr
        report = json.loads((out / "report.json").read_text())
        assert [(h["path"], h["backup_path"]) for h in report["hits"]] == [
            (f"/Backup/old/{first}", "CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG")]
        assert report["errors"] == []


def _xfs(tree, image):
    """mkfs.xfs fills a file system from a protofile: this TSK reads no XFS, so the image is
    walked by libfsxfs."""
    files = {str(p.relative_to(tree)): p for p in tree.rglob("*") if p.is_file()}
    proto = image.with_suffix(".proto")
    proto.write_text(build_script("build_layers.py").protofile(files))
    with open(image, "wb") as f:
        f.truncate(32 << 20)
    # mkfs.xfs refuses file systems under 300 MB unless told it runs a test (TEST_DEV)
    env = dict(os.environ, TEST_DEV="1", TEST_DIR="1", QA_CHECK_FS="1")
    subprocess.run(["mkfs.xfs", "-q", "-f", "-p", str(proto), str(image)], check=True, env=env,
                   capture_output=True)


@pytest.mark.skipif(shutil.which("mkfs.xfs") is None, reason="needs xfsprogs")
def test_a_backup_on_an_xfs_image_is_named_through_libfsxfs(tmp_path, reference_set):
    named_on_an_image(tmp_path, reference_set, _xfs)
