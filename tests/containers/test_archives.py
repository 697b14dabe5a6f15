"""Known pictures inside archives of every kind (and nested, and in a deleted archive on a FAT
image, and an archive given as the evidence itself) are found as child entries; unrelated
members are not; `triage files` lists the members; --no-archives and --resume hold."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import zlib
from pathlib import Path

import jsonschema
import pytest

from archive_fixtures import KNOWN, PHOTOS, RAR, UNRELATED, hit_paths
from support import REPO, run_triage

SCHEMA = json.loads((REPO / "triage" / "schemas" / "report.schema.json").read_text())


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def scanned(collection, reference_set, tmp_path_factory):
    ev, expected = collection
    out = tmp_path_factory.mktemp("scan") / "out"
    run = run_triage("scan", str(ev), "--hashset", str(reference_set), "-o", str(out), "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    return ev, expected, out, report


def test_every_kind_of_archive_gives_up_its_known_pictures_and_only_those(scanned):
    ev, expected, _, report = scanned
    assert hit_paths(report) == sorted(expected)
    assert report["errors"] == []
    for hit in report["hits"]:
        signals = {m["signal"] for m in hit["matches"]}
        if expected[hit["path"]] == "exact":
            assert {"md5", "sha1", "sha256"} <= signals
        else:   # re-encoded: matched by its picture, never by its bytes
            assert signals <= {"pdq", "phash"} and signals, hit["path"]


def test_a_member_carries_its_container_in_fields_and_its_parent_s_place(scanned):
    ev, _, _, report = scanned
    hits = {h["path"]: h for h in report["hits"]}
    nested = hits["/outer.zip!/middle.7z!/inner.jpg"]
    assert (nested["container_path"], nested["member_path"]) == ("/outer.zip!/middle.7z",
                                                                 "inner.jpg")
    outer_inode = (ev / "outer.zip").stat().st_ino
    assert (nested["inode"], nested["allocated"], nested["evidence"]) == (
        outer_inode, True, str(ev))
    zipped = hits[f"/deflate.zip!/sub/{KNOWN[0]}"]
    assert zipped["container_md5"] == md5(ev / "deflate.zip")
    assert zipped["md5"] == md5(PHOTOS / KNOWN[0])
    assert zipped["size"] == (PHOTOS / KNOWN[0]).stat().st_size
    # the middle 7z's MD5 is that of the member of outer.zip
    import zipfile
    with zipfile.ZipFile(ev / "outer.zip") as z:
        assert nested["container_md5"] == hashlib.md5(z.read("middle.7z")).hexdigest()


def test_members_are_counted_as_files_and_the_container_is_still_a_file(scanned):
    ev, _, out, report = scanned
    listed = run_triage("files", str(ev))
    assert listed.code == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert report["summary"]["files_seen"] == len(rows)
    paths = {r["path"] for r in rows}
    assert "/outer.zip" in paths and "/outer.zip!/middle.7z" in paths
    assert "/solid.7z!/notes.txt" in paths and "/plain.tar!/./other.jpg" in paths
    # a container is matched as a file: a set listing the zip itself hits the zip
    assert report["summary"]["errors"] == 0


def test_the_container_itself_is_matched_as_a_file(collection, tmp_path):
    ev, _ = collection
    data = (ev / "deflate.zip").read_bytes()
    listing = tmp_path / "zip.csv"
    listing.write_text(f"md5,size\n{hashlib.md5(data).hexdigest()},{len(data)}\n")
    run = run_triage("scan", str(ev), "--hashset", str(listing), "-o", str(tmp_path / "o"),
                     "-q")
    assert run.code == 1, run.stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert hit_paths(report) == ["/deflate.zip"]


def test_no_archives_judges_containers_as_files_only(collection, reference_set, tmp_path):
    ev, _ = collection
    run = run_triage("scan", str(ev), "--hashset", str(reference_set), "-o",
                     str(tmp_path / "o"), "-q", "--no-archives")
    assert run.code == 0, run.stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["hits"] == []
    assert report["summary"]["files_seen"] == len(list(ev.iterdir()))
    listed = run_triage("files", str(ev), "--no-archives")
    assert sorted(json.loads(line)["path"] for line in listed.stdout.splitlines()) == sorted(
        f"/{p.name}" for p in ev.iterdir())


def test_files_lists_members_with_their_hashes(collection):
    ev, _ = collection
    listed = run_triage("files", str(ev / "outer.zip"), "--hash", "md5")
    assert listed.code == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["path"] for r in rows] == ["/outer.zip", "/outer.zip!/middle.7z",
                                         "/outer.zip!/middle.7z!/inner.jpg",
                                         "/outer.zip!/middle.7z!/unrelated.jpg"]
    assert rows[0]["md5"] == md5(ev / "outer.zip")
    assert rows[2]["container_md5"] == rows[1]["md5"]
    assert rows[3]["md5"] == md5(PHOTOS / UNRELATED[0])


def test_ar_members_are_its_files_and_not_its_symbol_table(collection):
    # GNU ar stores modes without a file type and, holding an object, a symbol table (`/`)
    # that libarchive lists as an entry: the members are the four files, as `ar t` lists them
    ev, _ = collection
    archive = ev / "static.a"
    stored = subprocess.run(["ar", "t", str(archive)], capture_output=True, text=True,
                            check=True).stdout.split()
    listed = run_triage("files", str(archive), "--hash", "md5")
    assert listed.code == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["path"] for r in rows] == ["/static.a"] + [f"/static.a!/{n}" for n in stored]
    assert len(stored) == 4 and stored[1:] == ["one.o", "other.jpg", "notes.txt"]
    for row in rows[1:]:
        content = subprocess.run(["ar", "p", str(archive), row["member_path"]],
                                 capture_output=True, check=True).stdout
        assert row["size"] == len(content)
        assert row["md5"] == hashlib.md5(content).hexdigest()


def test_an_archive_given_as_evidence_is_opened(collection, reference_set, tmp_path):
    ev, _ = collection
    run = run_triage("scan", str(ev / "gz.tar.gz"), "--hashset", str(reference_set), "-o",
                     str(tmp_path / "o"), "-q")
    assert run.code == 1, run.stderr
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["evidence"][0]["container"] == "file"
    assert hit_paths(report) == [f"/gz.tar.gz!/./sub/re-{KNOWN[7 % 4]}"]


def test_resume_through_an_archive(scanned, reference_set):
    """A container not marked done (the scan stopped while its children were being recorded)
    is judged again on --resume: same hits, no child recorded twice."""
    ev, expected, out, report = scanned
    db = out / "results.sqlite"
    with sqlite3.connect(db) as conn:
        before = conn.execute("SELECT COUNT(*) FROM done").fetchone()[0]
        conn.execute("UPDATE evidence SET finished = 0")
        conn.execute("UPDATE scan SET value = 'false' WHERE key = 'complete'")
    from triage.evidence import open_evidence
    from triage.results import file_key
    with open_evidence(str(ev)) as opened:
        outer = next(e for e in opened.entries() if e.path == "/outer.zip")
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM done WHERE key = ?", (file_key(outer),))
    run = run_triage("scan", str(ev), "--hashset", str(reference_set), "-o", str(out), "-q",
                     "--resume")
    assert run.code == 1, run.stderr
    again = json.loads((out / "report.json").read_text())
    assert hit_paths(again) == hit_paths(report)
    assert again["summary"]["files_seen"] == report["summary"]["files_seen"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM done").fetchone()[0] == before


def test_the_progress_counts_children(collection, reference_set, tmp_path):
    from triage.progress import Progress
    from triage.scan import ScanRequest, scan

    class Count(Progress):
        def __init__(self):
            self.files = self.total = self.hits = 0

        def add_total(self, files, nbytes):
            self.total += files

        def advance(self, files, planned, read=None, hit=False):
            self.files += files
            self.hits += hit

    ev, expected = collection
    progress = Count()
    outcome = scan(ScanRequest([str(ev)], [str(reference_set)], tmp_path / "o", workers=1),
                   progress)
    assert progress.files == outcome.summary.files_seen > len(list(ev.iterdir()))
    assert progress.hits == len(expected)


def test_a_deleted_archive_on_a_fat_image_has_deleted_members(reference_set, tmp_path):
    image = tmp_path / "fat.raw"
    subprocess.run(["mkfs.fat", "-C", str(image), "8192"], check=True,
                   stdout=subprocess.DEVNULL)
    work = tmp_path / "w"
    work.mkdir()
    (work / KNOWN[1]).write_bytes((PHOTOS / KNOWN[1]).read_bytes())
    subprocess.run(["zip", "-q", "-0", "gone.zip", KNOWN[1]], cwd=work, check=True)
    env = {"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run(["mcopy", "-i", str(image), str(work / "gone.zip"), "::gone.zip"],
                   check=True, env=env)
    subprocess.run(["mdel", "-i", str(image), "::gone.zip"], check=True, env=env)
    image.chmod(0o444)
    out = tmp_path / "o"
    run = run_triage("scan", str(image), "--hashset", str(reference_set), "-o", str(out), "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    [hit] = report["hits"]
    assert hit["path"].endswith(f"!/{KNOWN[1]}") and hit["member_path"] == KNOWN[1]
    assert hit["allocated"] is False
    assert hit["md5"] == md5(PHOTOS / KNOWN[1])


# RAR: nothing here writes RAR; these are rarfile 4.5's own test archives (fixtures/README).
# Each member is checked against the CRC-32 and size rarfile's expected listing gives.
RAR_MEMBERS = {
    "rar3-subdirs.rar": {"sub/dir1/file1.txt": 6, "sub/dir2/file2.txt": 6,
                         "sub/with space/long fn.txt": 8, "sub/üȵĩöḋè/file.txt": 5},
    "rar5-solid.rar": {"stest1.txt": 2048, "stest2.txt": 2048},
}
RAR_CRC = {"rar5-solid.rar": 0xc5b7e6a2}


def test_rar_4_and_5_members_are_read():
    for name, members in RAR_MEMBERS.items():
        listed = run_triage("files", str(RAR / name), "--hash", "md5")
        assert listed.code == 0, listed.stderr
        rows = {r["member_path"]: r for r in map(json.loads, listed.stdout.splitlines())
                if "member_path" in r}
        assert {k: r["size"] for k, r in rows.items()} == members


def test_rar_member_content_matches_the_stored_crc():
    """The content read is the content stored: its CRC-32 is the one the archive records."""
    import libarchive
    from triage import containers
    from triage.evidence import open_evidence
    with open_evidence(str(RAR / "rar5-solid.rar")) as ev:
        [entry] = list(ev.entries())
        head = (RAR / "rar5-solid.rar").read_bytes()
        kind = containers.detect(head)
        children = list(containers.expand(entry, kind, containers.Budget(
            containers.Bounds(), entry.size), None))
        assert [c.member.member_path for c in children] == ["stest1.txt", "stest2.txt"]
        for child in children:
            with child.open() as f:
                assert zlib.crc32(f.read()) == RAR_CRC["rar5-solid.rar"]
    assert libarchive   # read through libarchive-c


def test_encrypted_members_are_listed_by_name_and_size_not_examined(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    (work / "a.jpg").write_bytes((PHOTOS / KNOWN[0]).read_bytes())
    (work / "b.txt").write_text("x" * 500)
    subprocess.run(["zip", "-q", "-P", "pw", "zc.zip", "a.jpg", "b.txt"], cwd=work, check=True)
    subprocess.run(["7z", "a", "-ppw", "-mem=AES256", "-tzip", "aes.zip", "a.jpg"], cwd=work,
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["7z", "a", "-ppw", "data.7z", "a.jpg"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["7z", "a", "-ppw", "-mhe=on", "names.7z", "a.jpg"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL)
    size = (PHOTOS / KNOWN[0]).stat().st_size
    errors = {}
    for name in ("zc.zip", "aes.zip", "data.7z", "names.7z"):
        listed = run_triage("files", str(work / name))
        assert listed.code == 3, listed.stderr
        for row in map(json.loads, listed.stdout.splitlines()):
            if "error" in row:
                errors[row["path"]] = row["error"]
    assert errors == {
        "/zc.zip!/a.jpg": f"encrypted, not examined ({size:,} bytes)",
        "/zc.zip!/b.txt": "encrypted, not examined (500 bytes)",
        "/aes.zip!/a.jpg": f"encrypted, not examined ({size:,} bytes)",
        "/data.7z!/a.jpg": f"encrypted, not examined ({size:,} bytes)",
        "/names.7z": "archive not examined at its start: encrypted, not examined",
    }


def test_stored_absolute_and_mixed_names_are_kept(tmp_path):
    import tarfile
    import zipfile
    data = (PHOTOS / KNOWN[0]).read_bytes()
    with tarfile.open(tmp_path / "abs.tar", "w") as tar:
        for name in ("/x/y.jpg", "../up.jpg", "a\\b.jpg"):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, __import__("io").BytesIO(data))
    with zipfile.ZipFile(tmp_path / "abs.zip", "w") as z:
        z.writestr("/x/y.jpg", data)
        z.writestr("a\\b.jpg", data)
    for name, members in (("abs.tar", ["/x/y.jpg", "../up.jpg", "a\\b.jpg"]),
                          ("abs.zip", ["/x/y.jpg", "a\\b.jpg"])):
        listed = run_triage("files", str(tmp_path / name))
        rows = [json.loads(line) for line in listed.stdout.splitlines()][1:]
        assert [r["member_path"] for r in rows] == members
        assert [r["path"] for r in rows] == [f"/{name}!/{m}" for m in members]


def _linked_tar(path: Path, data: bytes, mode: str) -> None:
    """pics/a.jpg, then pics/b.jpg a hard link to it (no data of its own), then a link to a
    member the archive does not hold."""
    import io
    import tarfile
    with tarfile.open(path, mode) as tar:
        info = tarfile.TarInfo("pics/a.jpg")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        for name, target in (("pics/b.jpg", "pics/a.jpg"), ("pics/c.jpg", "pics/gone.jpg")):
            link = tarfile.TarInfo(name)
            link.type, link.linkname = tarfile.LNKTYPE, target
            tar.addfile(link)


def test_a_tar_hard_link_is_another_name_of_its_member(reference_set, tmp_path):
    """Before, a hard link in a tar was not listed: a known picture stored under two names
    showed one. Now the link is another name of the member stored before it, in the scan
    (the hit's other_names) and in `files` (its digests); nothing of its own is read. A link
    to a member the archive does not hold names nothing and is not listed."""
    data = (PHOTOS / KNOWN[0]).read_bytes()
    ev = tmp_path / "ev"
    ev.mkdir()
    _linked_tar(ev / "plain.tar", data, "w")      # read at random
    _linked_tar(ev / "packed.tgz", data, "w:gz")  # read as a stream, once
    out = tmp_path / "out"
    run = run_triage("scan", str(ev), "--hashset", str(reference_set), "-o", str(out), "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    assert [(h["path"], [n["path"] for n in h["other_names"]]) for h in report["hits"]] == [
        ("/packed.tgz!/pics/a.jpg", ["/packed.tgz!/pics/b.jpg"]),
        ("/plain.tar!/pics/a.jpg", ["/plain.tar!/pics/b.jpg"])]
    assert (report["summary"]["files_seen"], report["summary"]["other_names"]) == (4, 2)
    assert report["errors"] == []
    listed = run_triage("files", str(ev), "--hash", "md5")
    assert listed.code == 0, listed.stderr
    rows = [(r["path"], r["md5"], r.get("note")) for r in listed.lines()]
    digest = hashlib.md5(data).hexdigest()
    for name in ("packed.tgz", "plain.tar"):
        assert [row for row in rows if row[0].startswith(f"/{name}!/")] == [
            (f"/{name}!/pics/a.jpg", digest, None),
            (f"/{name}!/pics/b.jpg", digest, "hard link to pics/a.jpg")]


def test_cpio_s_earlier_hard_link_names_are_other_names_of_the_one_with_the_content(
        reference_set, tmp_path):
    """cpio (newc) stores a file's content with its last hard link, its earlier names empty.
    Before, those names were listed as empty files (the empty file's MD5); now they are other
    names of the one that brings the content."""
    data = (PHOTOS / KNOWN[0]).read_bytes()
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.jpg").write_bytes(data)
    (src / "d.txt").write_bytes(b"other\n")
    os.link(src / "a.jpg", src / "b.jpg")
    os.link(src / "a.jpg", src / "c.jpg")
    ev = tmp_path / "ev"
    ev.mkdir()
    subprocess.run(["sh", "-c", 'printf "a.jpg\nd.txt\nb.jpg\nc.jpg\n" | cpio -o -H newc '
                    '--quiet > "$0"', str(ev / "x.cpio")], cwd=src, check=True)
    listed = run_triage("files", str(ev), "--hash", "md5")
    assert listed.code == 0, listed.stderr
    digest = hashlib.md5(data).hexdigest()
    # GNU cpio writes the group's first name (b.jpg) first, the content with its last (c.jpg)
    assert [(r["path"], r["size"], r["md5"], r.get("note")) for r in listed.lines()][1:] == [
        ("/x.cpio!/d.txt", 6, hashlib.md5(b"other\n").hexdigest(), None),
        ("/x.cpio!/c.jpg", len(data), digest, None),
        ("/x.cpio!/b.jpg", len(data), digest, "hard link to c.jpg"),
        ("/x.cpio!/a.jpg", len(data), digest, "hard link to c.jpg")]
    out = tmp_path / "out"
    run = run_triage("scan", str(ev), "--hashset", str(reference_set), "-o", str(out), "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    assert [(h["path"], [n["path"] for n in h["other_names"]]) for h in report["hits"]] == [
        ("/x.cpio!/a.jpg", ["/x.cpio!/b.jpg", "/x.cpio!/c.jpg"])]


def test_a_container_is_read_whole_for_its_md5_only_when_a_member_hits(collection,
                                                                        reference_set,
                                                                        tmp_path):
    """Members are read where they lie; the container's own MD5 (container_md5) is taken by a
    second, whole read only for a container with a hit among its members."""
    import zipfile
    from triage.containers import Bounds
    from triage.evidence import folder
    from triage.hashsets import load
    from triage.reading import HEAD
    from triage.scanners import Judge
    ev, _ = collection
    judge = Judge([load(str(reference_set))], archives=Bounds())
    with zipfile.ZipFile(tmp_path / "unrelated.zip", "w") as z:
        for name in UNRELATED:
            z.write(PHOTOS / name, name)
    clean = judge(folder.single(str(tmp_path / "unrelated.zip"), str(tmp_path)))
    size = (tmp_path / "unrelated.zip").stat().st_size
    assert [c.status for c in clean.children] == ["clean"] * len(UNRELATED)
    assert clean.bytes_read == min(HEAD, size)
    assert {c.entry.member.container_md5 for c in clean.children} == {None}
    hit = judge(folder.single(str(ev / "plain.tar"), str(ev)))
    size = (ev / "plain.tar").stat().st_size
    assert [c.entry.member.container_md5 for c in hit.children if c.is_hit] == [
        md5(ev / "plain.tar")]
    assert hit.bytes_read == min(HEAD, size) + size


def test_a_7z_member_whose_crc_fails_gives_no_digest_and_libarchive_s_words_alone(
        tmp_path, reference_set):
    """libarchive says a member's CRC fails as a warning: that fails the member's read (before,
    libarchive-c took the warning's code for a length, and the member's digest took in stale
    bytes of its buffer: a wrong MD5, listed as sound), it is not printed on the terminal, and
    the reason is libarchive's message without libarchive-c's errno, code and address."""
    ev = tmp_path / "ev"
    work = tmp_path / "w"
    ev.mkdir()
    work.mkdir()
    (work / "a.jpg").write_bytes((PHOTOS / KNOWN[0]).read_bytes())
    subprocess.run(["7z", "a", "-mx=0", "stored.7z", "a.jpg"], cwd=work, check=True,
                   capture_output=True)
    damaged = bytearray((work / "stored.7z").read_bytes())
    damaged[32 + 1000] ^= 0xFF                # inside a.jpg's stored bytes
    (ev / "stored.7z").write_bytes(bytes(damaged))
    (ev / "header.a").write_bytes(b"!<arch>\n" + b"x" * 60 + b"data")   # no ar header
    listed = run_triage("files", str(ev / "stored.7z"), "--hash", "md5")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["path"], "md5" in r) for r in rows] == [("/stored.7z", True),
                                                        ("/stored.7z", False)]
    crc = rows[1]["error"]
    assert re.fullmatch(r"archive not examined after 1 member: 7z archive damaged: 7-Zip bad "
                        r"CRC: 0x[0-9a-f]+ should be 0x[0-9a-f]+", crc)
    out = tmp_path / "o"
    run = run_triage("scan", str(ev), "--hashset", str(reference_set), "-o", str(out), "-q")
    assert run.code == 3, run.stderr
    assert run.stderr == ""
    report = json.loads((out / "report.json").read_text())
    assert report["hits"] == [] and report["warnings"] == []
    assert sorted((e["path"], e["reason"]) for e in report["errors"]) == [
        ("/header.a", "archive not examined at its start: ar archive damaged: Incorrect file "
                      "header signature"),
        ("/stored.7z", crc)]


def test_damaged_archives_are_error_records_and_the_scan_goes_on(tmp_path, reference_set):
    ev = tmp_path / "ev"
    ev.mkdir()
    work = tmp_path / "w"
    work.mkdir()
    (work / "a.jpg").write_bytes((PHOTOS / UNRELATED[0]).read_bytes())
    subprocess.run(["zip", "-q", "-0", "good.zip", "a.jpg"], cwd=work, check=True)
    good = (work / "good.zip").read_bytes()
    (ev / "truncated.zip").write_bytes(good[:9000])
    flipped = bytearray(good)
    flipped[100] ^= 0xFF                      # inside the stored member: its CRC-32 fails
    (ev / "crc.zip").write_bytes(bytes(flipped))
    (ev / "known.jpg").write_bytes((PHOTOS / KNOWN[0]).read_bytes())
    out = tmp_path / "o"
    run = run_triage("scan", str(ev), "--hashset", str(reference_set), "-o", str(out), "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    assert [h["path"] for h in report["hits"]] == ["/known.jpg"]
    assert sorted((e["path"], e["reason"]) for e in report["errors"]) == [
        ("/crc.zip!/a.jpg", "read failed: Bad CRC-32 for file 'a.jpg'"),
        ("/truncated.zip", "archive not examined at its start: zip archive damaged: File is "
                           "not a zip file")]


def test_libarchive_s_message_is_kept_without_libarchive_c_s_additions():
    """libarchive-c adds its errno, return code and the archive's address (different on every
    run) to libarchive's message, and hands the message over as bytes when it is not ASCII."""
    import libarchive
    from triage.containers.archives import _failure
    for said, shown in ((b"Truncated ar archive", "Truncated ar archive"),
                        ("Truncated ar archive", "Truncated ar archive"),
                        (b"Nom \xc3\xa9trange", "Nom \u00e9trange"),
                        (None, "libarchive error")):
        failure = _failure(libarchive.ArchiveError(said, 22, -30, 94393728543664))
        assert (failure.errno, failure.strerror) == (5, shown)
