"""A folder's walk shared among the workers (triage/shared_walk.py) gives what the walk of the
main process gives: the same verdicts, hits, other names, errors and disk images met, the same
rows in the results database; a scan interrupted in it keeps what landed and a resume ends
it, judging nothing twice."""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import pytest

from containers.test_iosbackup import CAMERA, make_backup
from support import mounted_ntfs, nest, proc_mounted
from triage import scan as scan_module, scan_pass, shared_walk
from triage.hashsets.build import build_set
from triage.results import file_key as folder_key
from triage.scan import ScanRequest, scan
from triage.scanners.judge import Judge
from triage.signals.exact import FINGERPRINT

SMALL = b"known small content\n" * 50                 # 1,000 bytes: judged where it is listed
LARGE = bytes(range(256)) * 800                        # 204,800 bytes: past INLINE_COST
MEMBER = b"known member of an archive\n" * 40
PHOTO = b"\xff\xd8\xff\xe0 a phone's known photo " * 30
DEEP = b"known, past the path limit\n" * 10
CROWDED = b"known among many\n" * 7
LEVELS = 70   # folders of 60 characters: past the path limit


def _decided(root):
    """What a walk decides on, under `root`: other names of one content (cheap and costly,
    across folders), an archive, an iOS backup, a folder of more than BIG_FOLDER names (5 in
    these tests), a disk image by its name."""
    (root / "docs").mkdir(parents=True)
    (root / "b-other").mkdir()
    (root / "docs" / "report.txt").write_bytes(SMALL)
    os.link(root / "docs" / "report.txt", root / "a-link.txt")
    os.link(root / "docs" / "report.txt", root / "b-other" / "again.txt")
    (root / "copy.txt").write_bytes(SMALL)                      # another inode
    (root / "large.bin").write_bytes(LARGE)
    os.link(root / "large.bin", root / "docs" / "large-link.bin")
    with zipfile.ZipFile(root / "bundle.zip", "w") as z:
        z.writestr("inner/member.txt", MEMBER)
    make_backup(root / "phone", {(CAMERA, "Media/DCIM/100APPLE/IMG_0001.JPG"): PHOTO})
    (root / "crowded").mkdir()
    for i in range(8):
        (root / "crowded" / f"f{i}.bin").write_bytes(CROWDED if i == 3 else os.urandom(100 + i))
    (root / "disk.dd").write_bytes(bytes(1024))


def _tree(root):
    """A folder with what the walk decides on (_decided), a file no set lists, a FIFO and a
    link, a file past the path limit."""
    _decided(root)
    (root / "unlisted.bin").write_bytes(os.urandom(3000))
    os.mkfifo(root / "pipe")
    os.symlink(root / "copy.txt", root / "symlink.txt")
    (root / "deep").mkdir()
    nest(root / "deep", LEVELS, {LEVELS: ("deep.txt", DEEP)})
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return _tree(tmp_path_factory.mktemp("shared") / "evidence")


@pytest.fixture(scope="module", params=["fingerprinted", "md5"])
def listed(request, tmp_path_factory):
    """A set of the known contents: with sizes and sub-file fingerprints (files screened), or
    MD5s alone (every file read whole)."""
    folder_ = tmp_path_factory.mktemp("set")
    if request.param == "md5":
        out = folder_ / "known.md5"
        out.write_text("".join(f"{hashlib.md5(d).hexdigest()}  k{i}\n"
                               for i, d in enumerate([SMALL, LARGE, MEMBER, PHOTO, DEEP,
                                                      CROWDED])))
        return out
    ref = folder_ / "ref"
    ref.mkdir()
    for i, data in enumerate([SMALL, LARGE, MEMBER, PHOTO, DEEP, CROWDED]):
        (ref / f"k{i}").write_bytes(data)
    out = folder_ / "known.tset"
    build_set(ref, out, names=("md5", "sha1", "sha256", FINGERPRINT), category="1")
    return out


def _scanned(tree, listed, out, monkeypatch, shared: bool):
    with monkeypatch.context() as m:
        m.setattr(shared_walk, "BIG_FOLDER", 5)
        if not shared:
            m.setattr(scan_pass.shared_walk, "applies", lambda *args: False)
        outcome = scan(ScanRequest(evidence=[str(tree)], hashsets=[str(listed)], outdir=out,
                                   workers=2))
    report = json.loads((out / "report.json").read_text())
    with sqlite3.connect(out / "results.sqlite") as conn:
        rows = sorted(conn.execute("SELECT key, volume, status, bytes, hashed, decoded, content "
                                   "FROM done"))
        names = sorted(conn.execute("SELECT key, content, entry FROM names"))
    return outcome, report, rows, names


def _hits(report):
    return sorted((h["path"], h["md5"], tuple(o["path"] for o in h["other_names"]))
                  for h in report["hits"])


def test_a_shared_walk_gives_what_the_walk_of_the_main_process_gives(tree, listed, tmp_path,
                                                                     monkeypatch):
    before = _snapshot(tree)
    with proc_mounted(tree / "proc"):   # the running kernel's state: not walked
        shared = _scanned(tree, listed, tmp_path / "shared", monkeypatch, shared=True)
        alone = _scanned(tree, listed, tmp_path / "alone", monkeypatch, shared=False)
    outcome, report, rows, names = shared
    assert (outcome.complete, outcome.exit_code) == (True, 1)
    deep = "/deep/" + "".join(f"{level:03d}" + "d" * 57 + "/" for level in range(LEVELS)) + \
        "deep.txt"
    stored = hashlib.sha1(f"{CAMERA}-Media/DCIM/100APPLE/IMG_0001.JPG".encode()).hexdigest()
    phone = f"/phone/{stored[:2]}/{stored}"
    md5 = {data: hashlib.md5(data).hexdigest() for data in (SMALL, LARGE, MEMBER, PHOTO,
                                                            DEEP, CROWDED)}
    # one hit a content, its other names beside it (the report names it by its first path in
    # name order); a copy (another inode) is a file of its own
    assert _hits(report) == sorted([
        ("/a-link.txt", md5[SMALL], ("/b-other/again.txt", "/docs/report.txt")),
        ("/copy.txt", md5[SMALL], ()),
        ("/docs/large-link.bin", md5[LARGE], ("/large.bin",)),
        ("/bundle.zip!/inner/member.txt", md5[MEMBER], ()),
        (phone, md5[PHOTO], ()),
        ("/crowded/f3.bin", md5[CROWDED], ()),
        (deep, md5[DEEP], ()),
    ])
    assert report["summary"]["files_seen"] == 21 and report["summary"]["other_names"] == 3
    phone_hit = next(h for h in report["hits"] if h["path"] == phone)
    assert phone_hit["backup_path"] == "CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG"
    assert report["evidence"][0]["container_files"] == [
        {"volume": None, "path": "/disk.dd", "format": "raw", "size": 1024}]
    # the same report, rows and names as the main process's walk gives
    _, report_alone, rows_alone, names_alone = alone
    assert (rows, names) == (rows_alone, names_alone)
    for key in ("summary", "hits", "evidence"):
        assert report[key] == report_alone[key], key
    # a text set is compiled by each scan: when, to the second, may differ
    assert [{**s, "imported": None} for s in report["hashsets"]] == \
        [{**s, "imported": None} for s in report_alone["hashsets"]]
    assert sorted(map(json.dumps, report["errors"])) == \
        sorted(map(json.dumps, report_alone["errors"]))
    assert _snapshot(tree) == before


def _snapshot(root):
    """Every name under root with its modification time and size (through descriptors: the
    deep folders lie past the path limit), the kernel's mount left out."""
    found = []
    for folder_, subfolders, files, fd in os.fwalk(root):
        subfolders[:] = [d for d in subfolders if d != "proc"]
        for name in subfolders + files:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            found.append((os.path.join(folder_, name), st.st_mtime_ns, st.st_size))
    return sorted(found)


def _sixty_folders(root, alert):
    """60 folders of 10 files under `root`, the 4th file of each known (listed in `alert`, an
    MD5 set made here and returned), and one of them with another name in d50."""
    known = []
    for f in range(60):
        (root / f"d{f:02d}").mkdir(parents=True)
        for i in range(10):
            data = f"folder {f} file {i}\n".encode() * (i + 1)
            (root / f"d{f:02d}" / f"f{i}.txt").write_bytes(data)
            if i == 3:
                known.append(data)
    os.link(root / "d02" / "f3.txt", root / "d50" / "link.txt")
    alert.write_text("".join(f"{hashlib.md5(d).hexdigest()}  k\n" for d in known))
    return alert


def _uninterrupted(evidence, alert, out) -> dict:
    """The report of a whole scan of _sixty_folders' files: 600 files, 60 hits, a link."""
    whole = scan(ScanRequest(evidence=[str(evidence)], hashsets=[str(alert)], outdir=out,
                             workers=2))
    assert (whole.summary.files_seen, whole.summary.hits, whole.summary.other_names) == \
        (600, 60, 1)
    return json.loads((out / "report.json").read_text())


def _cut(tasks, at: int):
    """`tasks` (a function giving a walk's tasks) with a Ctrl-C in place of its task `at`."""
    def cut(*args, **kwargs):
        for n, task in enumerate(tasks(*args, **kwargs)):
            if n == at:
                raise KeyboardInterrupt()
            yield task
    return cut


def _stopped(evidence, alert, out):
    """A scan of `evidence` that an interruption stops: the keys it recorded, its count of
    findings and its partial report."""
    first = scan(ScanRequest(evidence=[str(evidence)], hashsets=[str(alert)], outdir=out,
                             workers=2))
    assert not first.complete
    with sqlite3.connect(out / "results.sqlite") as conn:
        recorded = {key for key, in conn.execute("SELECT key FROM done")}
        found = conn.execute("SELECT COUNT(*) FROM findings").fetchone()[0]
    return recorded, found, json.loads((out / "report.json").read_text())


def test_a_shared_walk_interrupted_keeps_what_landed_and_a_resume_judges_only_the_rest(
        tmp_path, monkeypatch):
    """Ctrl-C while the folders are handed out: every batch of folders that came home is
    recorded (a hit with its finding), the scan is not complete, and the resume judges none
    of the recorded files again and ends with the report an uninterrupted scan gives."""
    evidence = tmp_path / "evidence"
    alert = _sixty_folders(evidence, tmp_path / "alert.md5")
    reference = _uninterrupted(evidence, alert, tmp_path / "whole")

    walk = scan_pass.folder_tasks
    monkeypatch.setattr(scan_pass, "folder_tasks", _cut(walk, 40))
    monkeypatch.setattr(shared_walk, "BIG_FOLDER", 10)   # d50 (11 names) listed here
    monkeypatch.setattr(shared_walk, "WALK_BATCH_NAMES", 100)   # batches of about 10 folders
    monkeypatch.setattr("triage.workers.AHEAD", 0)   # each batch home before the next goes
    out = tmp_path / "out"
    recorded, found, partial = _stopped(evidence, alert, out)
    # files of the folders handed out (the root and d00 .. d38), each hit with its finding
    # (a file with another name, d02/f3.txt, is judged after its folder: maybe not yet)
    assert 0 < len(recorded) <= 390 and found == len(partial["hits"]) >= len(recorded) // 10
    assert all(h["path"].endswith("/f3.txt") and h["path"] < "/d39" for h in partial["hits"])

    monkeypatch.setattr(scan_pass, "folder_tasks", walk)
    monkeypatch.setattr("triage.workers.fork_context", lambda: None)   # judged in this process
    monkeypatch.setattr(scan_module, "fork_context", lambda: None)
    judged = []
    screen, call = Judge.settle_screened, Judge.__call__
    monkeypatch.setattr(Judge, "settle_screened",
                        lambda self, entries, *listed: judged.extend(entries)
                        or screen(self, entries, *listed))
    monkeypatch.setattr(Judge, "__call__",
                        lambda self, entry: judged.append(entry) or call(self, entry))
    done = scan(ScanRequest(evidence=[str(evidence)], hashsets=[str(alert)], outdir=out,
                            resume=True))
    assert (done.complete, done.exit_code) == (True, 1)
    assert not recorded & {folder_key(entry) for entry in judged}
    # every name but those recorded and the link (another name of d02/f3.txt)
    assert len({entry.path for entry in judged}) == 601 - len(recorded) - 1
    report = json.loads((out / "report.json").read_text())
    for key in ("summary", "hits"):
        assert report[key] == reference[key], key


# --- an image's walk shared by directory (Evidence.directory_tasks, evidence.DirLister) ------

def _compared(shared, alone):
    """What must be the same whichever process walks: the report's summary, hits, evidence and
    errors, every file's key, and each content's verdict (under whichever of its names was
    judged: an image's deleted names are decided once its walk has ended)."""
    (_, report, rows, names), (_, report_alone, rows_alone, names_alone) = shared, alone
    for key in ("summary", "hits", "evidence"):
        assert report[key] == report_alone[key], key
    assert sorted(map(json.dumps, report["errors"])) == \
        sorted(map(json.dumps, report_alone["errors"]))
    assert {r[0] for r in rows} == {r[0] for r in rows_alone}
    assert sorted(r[1:] for r in rows if r[2] != "same") == \
        sorted(r[1:] for r in rows_alone if r[2] != "same")
    assert len(names) == len(names_alone)


def _both_walks(image, listed, tmp_path, monkeypatch):
    """An image (whose walk is shared) scanned with its walk shared and by the main process
    alone: (shared, alone) as _scanned gives them; the shared scan complete with hits, the
    image unchanged by either."""
    from triage.evidence import open_evidence
    before = hashlib.sha256(image.read_bytes()).hexdigest()
    with open_evidence(str(image)) as ev:
        assert shared_walk.applies(ev, None, None)
    shared = _scanned(image, listed, tmp_path / "shared", monkeypatch, shared=True)
    alone = _scanned(image, listed, tmp_path / "alone", monkeypatch, shared=False)
    assert (shared[0].complete, shared[0].exit_code) == (True, 1)
    assert hashlib.sha256(image.read_bytes()).hexdigest() == before
    return shared, alone


def _md5s() -> dict:
    """The known contents' MD5s, by content."""
    return {data: hashlib.md5(data).hexdigest()
            for data in (SMALL, LARGE, MEMBER, PHOTO, CROWDED, DEEP)}


@pytest.mark.parametrize("name", ["ext4.raw", "fat16.raw", "exfat.raw", "gpt.raw", "ntfs.raw",
                                  "mbr.raw"])
def test_an_image_s_shared_walk_gives_what_the_walk_of_the_main_process_gives(
        images, name, tmp_path, monkeypatch):
    """The fixture images (deleted files, Unicode names, a partition table, NTFS's named
    streams and resident files), with every file the Sleuth Kit lists in them in the set: the
    same report either way."""
    from triage.evidence import open_evidence
    truth = json.loads((Path(__file__).parent.parent / "fixtures" / "truth" /
                        f"{name}.json").read_text())
    listed = tmp_path / "all.md5"
    listed.write_text("".join(f"{f['md5']}  f\n" for f in truth["files"]
                              if f.get("md5") and f["size"]))
    with open_evidence(str(images / name)) as ev:
        assert shared_walk.applies(ev, None, None)
    shared = _scanned(images / name, listed, tmp_path / "shared", monkeypatch, shared=True)
    alone = _scanned(images / name, listed, tmp_path / "alone", monkeypatch, shared=False)
    assert shared[0].exit_code == 1 and shared[1]["summary"]["hits"] > 0
    _compared(shared, alone)


@pytest.fixture(scope="module")
def ext4_image(tmp_path_factory):
    """An ext4 image (mkfs.ext4 -d, then debugfs) with hard links (cheap and costly), an
    archive, an iOS backup, a directory of more than BIG_FOLDER names, a disk image by its
    name, a deleted file, and a deleted name whose inode a new file took (realloc)."""
    if shutil.which("mkfs.ext4") is None or shutil.which("debugfs") is None:
        pytest.skip("needs e2fsprogs")
    base = tmp_path_factory.mktemp("ext4")
    src = base / "src"
    _decided(src)
    (src / "z").mkdir()
    (src / "z" / "old.txt").write_bytes(os.urandom(5000))
    (src / "gone.txt").write_bytes(DEEP)
    new = base / "new.txt"
    new.write_bytes(CROWDED)
    image = base / "ext4.img"
    with open(image, "wb") as f:
        f.truncate(16 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-d", str(src), str(image)], check=True)
    subprocess.run(["debugfs", "-w", "-R", "rm /z/old.txt", str(image)], check=True,
                   capture_output=True)
    subprocess.run(["debugfs", "-w", "-R", f"write {new} /new.txt", str(image)], check=True,
                   capture_output=True)
    subprocess.run(["debugfs", "-w", "-R", "rm /gone.txt", str(image)], check=True,
                   capture_output=True)
    listing = subprocess.run(["fls", "-r", "-p", str(image)], capture_output=True, text=True,
                             check=True).stdout
    assert "(realloc)" in listing and "z/old.txt" in listing, listing
    image.chmod(0o444)
    return image


def test_an_ext4_image_s_shared_walk_decides_other_names_as_the_main_process_does(
        ext4_image, listed, tmp_path, monkeypatch):
    """Hard links (one judged, the others its names), a deleted name that a live file's
    inode holds now (the live name judged, the deleted one its other name), an archive's
    member, an iOS backup's photo named as on the phone, a crowded directory listed by the
    main process: the same report, keys and verdicts as the main process's walk, and the
    image unchanged."""
    shared, alone = _both_walks(ext4_image, listed, tmp_path, monkeypatch)
    _, report, _, names = shared
    stored = hashlib.sha1(f"{CAMERA}-Media/DCIM/100APPLE/IMG_0001.JPG".encode()).hexdigest()
    md5 = _md5s()
    assert _hits(report) == sorted([
        ("/gone.txt", md5[DEEP], ()),   # deleted, its content still there
        ("/a-link.txt", md5[SMALL], ("/b-other/again.txt", "/docs/report.txt")),
        ("/copy.txt", md5[SMALL], ()),
        ("/docs/large-link.bin", md5[LARGE], ("/large.bin",)),
        ("/bundle.zip!/inner/member.txt", md5[MEMBER], ()),
        (f"/phone/{stored[:2]}/{stored}", md5[PHOTO], ()),
        ("/crowded/f3.bin", md5[CROWDED], ()),
        ("/new.txt", md5[CROWDED], ("/z/old.txt",)),
    ])
    phone = next(h for h in report["hits"] if h["path"].startswith("/phone/"))
    assert phone["backup_path"] == "CameraRollDomain/Media/DCIM/100APPLE/IMG_0001.JPG"
    # the realloc name is the live file's other name: its verdict is the live name's
    judged = {json.loads(entry)["path"] for _, _, entry in names}
    assert "/z/old.txt" in judged and "/new.txt" not in judged
    _compared(shared, alone)


@pytest.fixture(scope="module")
def ntfs_image(tmp_path_factory):
    """An NTFS image (mkntfs, filled through ntfs-3g) with what the walk decides on (_decided:
    hard links, cheap and costly, an archive, an iOS backup, a crowded directory, a disk
    image by its name), a long name with its DOS (8.3) name, a named stream and a deleted
    file."""
    image = tmp_path_factory.mktemp("ntfs") / "ntfs.img"
    with mounted_ntfs(image, 32 << 20) as mnt:
        _decided(mnt)
        (mnt / "a long file name.bin").write_bytes(DEEP)
        subprocess.run(["setfattr", "-n", "system.ntfs_dos_name", "-v", "ALONGF~1.BIN",
                        str(mnt / "a long file name.bin")], check=True)
        subprocess.run(["setfattr", "-n", "user.secret", "-v", "0x" + PHOTO.hex(),
                        str(mnt / "disk.dd")], check=True)
        (mnt / "gone.txt").write_bytes(MEMBER)
        (mnt / "gone.txt").unlink()
    image.chmod(0o444)
    return image


def test_an_ntfs_image_s_shared_walk_decides_other_names_as_the_main_process_does(
        ntfs_image, listed, tmp_path, monkeypatch):
    """NTFS: hard links judged once under one name, a file whose DOS name is no other name of
    it, a named stream, a deleted file, an archive's member, an iOS backup's photo: the same
    report, keys and verdicts as the main process's walk, and the image unchanged."""
    shared, alone = _both_walks(ntfs_image, listed, tmp_path, monkeypatch)
    hits = {path: (md5, others) for path, md5, others in _hits(shared[1])}
    md5 = _md5s()
    assert hits["/a long file name.bin"] == (md5[DEEP], ())
    assert hits["/disk.dd:secret"] == (md5[PHOTO], ())
    assert hits["/gone.txt"] == (md5[MEMBER], ())
    assert hits["/bundle.zip!/inner/member.txt"] == (md5[MEMBER], ())
    assert hits["/crowded/f3.bin"] == (md5[CROWDED], ())
    assert hits["/copy.txt"] == (md5[SMALL], ())
    linked = sorted([path, *others] for path, (digest, others) in hits.items()
                    if digest == md5[SMALL] and others)
    assert linked == [sorted(["/a-link.txt", "/b-other/again.txt", "/docs/report.txt"])]
    assert sorted([path, *others] for path, (digest, others) in hits.items()
                  if digest == md5[LARGE]) == [sorted(["/large.bin", "/docs/large-link.bin"])]
    _compared(shared, alone)


def test_an_image_s_shared_walk_interrupted_keeps_what_landed_and_a_resume_ends_it(
        tmp_path, monkeypatch):
    """Ctrl-C while an image's directories are handed out: what came home is recorded, hits
    with their findings; the resume (walked by the main process) judges none of it again and
    ends with the report an uninterrupted scan gives."""
    from triage.evidence import Evidence
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("needs e2fsprogs")
    src = tmp_path / "src"
    alert = _sixty_folders(src, tmp_path / "alert.md5")
    image = tmp_path / "ext4.img"
    with open(image, "wb") as f:
        f.truncate(16 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-d", str(src), str(image)], check=True)
    image.chmod(0o444)
    reference = _uninterrupted(image, alert, tmp_path / "whole")

    tasks = Evidence.directory_tasks
    monkeypatch.setattr(Evidence, "directory_tasks", _cut(tasks, 40))
    monkeypatch.setattr("triage.workers.AHEAD", 0)   # each batch home before the next goes
    out = tmp_path / "out"
    recorded, found, partial = _stopped(image, alert, out)
    assert 0 < len(recorded) < 600 and found == len(partial["hits"]) >= len(recorded) // 11
    assert all(h["path"].endswith("/f3.txt") for h in partial["hits"])

    monkeypatch.setattr(Evidence, "directory_tasks", tasks)
    monkeypatch.setattr("triage.workers.fork_context", lambda: None)   # judged in this process
    monkeypatch.setattr(scan_module, "fork_context", lambda: None)
    judged = []
    call = Judge.__call__
    monkeypatch.setattr(Judge, "__call__",
                        lambda self, entry: judged.append(entry) or call(self, entry))
    done = scan(ScanRequest(evidence=[str(image)], hashsets=[str(alert)], outdir=out,
                            resume=True))
    assert (done.complete, done.exit_code) == (True, 1)
    assert judged and not recorded & {folder_key(entry) for entry in judged}
    report = json.loads((out / "report.json").read_text())
    for key in ("summary", "hits"):
        assert report[key] == reference[key], key


@pytest.mark.skipif(shutil.which("ewfacquire") is None, reason="needs ewf-tools")
def test_an_e01_s_shared_walk_tells_its_damaged_chunks_as_the_main_process_does(
        images, tmp_path, monkeypatch):
    """An E01 of the FAT16 fixture with a damaged chunk under a file's content: the file is an
    error (never hashed as zeros), the damaged range recorded, and the report is the main
    process's walk's."""
    import pytsk3
    from evidence.test_damaged_ewf import CHUNK, damaged_copy
    from triage.evidence import open_evidence
    raw = (images / "fat16.raw").read_bytes()
    truth = json.loads((Path(__file__).parent.parent / "fixtures" / "truth" /
                        "fat16.raw.json").read_text())
    subprocess.run(["ewfacquire", "-u", "-q", "-c", "deflate:fast", "-f", "encase6",
                    "-t", str(tmp_path / "fat16"), str(images / "fat16.raw")], check=True,
                   capture_output=True)
    target = next(f for f in truth["files"] if f.get("allocated") and f["size"] > 2 * CHUNK)
    # the chunk holding the middle of its content, found by its bytes
    middle = pytsk3.FS_Info(pytsk3.Img_Info(str(images / "fat16.raw"))).open(
        target["path"]).read_random(target["size"] // 2, 64)
    at = raw.find(middle)
    assert at > 0 and raw.find(middle, at + 1) < 0
    (tmp_path / "damaged").mkdir()
    damaged = damaged_copy([tmp_path / "fat16.E01"], tmp_path / "damaged", [at // CHUNK])
    alert = tmp_path / "all.md5"
    alert.write_text("".join(f"{x['md5']}  f\n" for x in truth["files"]
                             if x.get("md5") and x["size"]))
    with open_evidence(str(damaged)) as ev:
        assert shared_walk.applies(ev, None, None)
    shared = _scanned(damaged, alert, tmp_path / "shared", monkeypatch, shared=True)
    alone = _scanned(damaged, alert, tmp_path / "alone", monkeypatch, shared=False)
    report = shared[1]
    # the file an error; the chunk also a volume's error (it may hold structures)
    assert sorted((e["path"] or "", e["reason"].split(":")[0]) for e in report["errors"]) == [
        ("", f"damaged EWF chunk at media bytes {at // CHUNK * CHUNK:,}-"
             f"{(at // CHUNK + 1) * CHUNK - 1:,} (checksum mismatch)"),
        (target["path"], "read failed")]
    assert target["path"] not in {h["path"] for h in report["hits"]}
    assert report["summary"]["hits"] > 0
    _compared(shared, alone)


def test_a_batch_of_folders_holds_about_twice_the_names_of_a_batch_of_files():
    """workers.batches of a shared walk's folders (shared_walk.cost): a batch closes once its
    folders hold WALK_BATCH_NAMES names (twice a batch of entries), or at BATCH_FILES folders
    however few names they hold; a folder of more goes alone."""
    from triage.evidence.folder import Task
    from triage.workers import BATCH_FILES, batches
    assert shared_walk.WALK_BATCH_NAMES == 2 * BATCH_FILES == 512

    def folders(*names):
        return [Task("/r", "/r", f"/f{i}", None, n, False) for i, n in enumerate(names)]

    sizes = [[t.names for t in batch] for batch in batches(folders(*[100] * 12),
                                                         shared_walk.cost)]
    assert sizes == [[100] * 6, [100] * 6]          # 600 names each: past 512 at the sixth
    assert [[t.names for t in b] for b in batches(folders(300, 211, 1, 600, 5),
                                                  shared_walk.cost)] == [
        [300, 211, 1], [600], [5]]
    assert [len(b) for b in batches(folders(*[1] * 600), shared_walk.cost)] == [
        BATCH_FILES, BATCH_FILES, 600 - 2 * BATCH_FILES]
