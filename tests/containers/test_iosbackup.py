"""iOS backups (iTunes/Finder, iOS 10 and later): a folder holding Manifest.db, built here from
its documented schema (`Files(fileID, domain, relativePath, flags, file)`, `Properties`), each
stored file at `<first two hex>/<fileID>` with fileID = SHA-1 of `domain-relativePath`. Each
stored file keeps its real path and is reported with its name on the phone; an encrypted
backup is reported as such; the backup folder is not written."""

from __future__ import annotations

import hashlib
import json
import plistlib
import sqlite3

from archive_fixtures import KNOWN, PHOTOS, UNRELATED
from support import run_triage

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
