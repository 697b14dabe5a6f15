"""Sub-file fingerprints: a file of a listed size is screened by its first and last 4 KiB and
read whole only when they are listed; a fingerprint alone is never a hit."""

import hashlib
import io
from dataclasses import replace
import json
import os
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from support import AskedReader, cipher_like, run_triage
from triage.cli import cli
from triage.evidence import open_evidence
from triage.hashsets import load
from triage.hashsets.build import build_set
from triage.hashsets.sealed import seal
from triage import prefetch
from triage.scanners import Judge
from triage.signals.exact import FINGERPRINT

SIZE = 50_000
REFERENCE = bytes(range(256)) * (SIZE // 256) + b"r" * (SIZE % 256)
# The reference's size and first and last 4 KiB, one byte changed in the middle.
SAME_EDGES = REFERENCE[:SIZE // 2] + b"X" + REFERENCE[SIZE // 2 + 1:]
OTHER = os.urandom(SIZE)                  # the listed size, other bytes
SMALL_REFERENCE = b"small reference\n" * 100   # 1,600 bytes: its fingerprint is all of it


def _evidence(folder):
    folder.mkdir()
    for name, data in [("copy.bin", REFERENCE), ("same-edges.bin", SAME_EDGES),
                       ("other.bin", OTHER), ("small.bin", SMALL_REFERENCE)]:
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture(params=[FINGERPRINT, "edges"])
def fingerprint(request):
    """The fingerprint `hashset build` stores, and the one sets built before it hold."""
    return request.param


@pytest.fixture
def reference_set(tmp_path, fingerprint):
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "picture.bin").write_bytes(REFERENCE)
    (ref / "small.bin").write_bytes(SMALL_REFERENCE)
    out = tmp_path / "ref.tset"
    build_set(ref, out, names=("md5", "sha1", "sha256", fingerprint), category="1")
    return out


def _verdicts(judge, folder):
    with open_evidence(str(folder)) as ev:
        return {e.path: judge(e) for e in ev.entries()}


def test_only_a_listed_fingerprint_gets_a_file_read_whole(tmp_path, reference_set):
    folder = _evidence(tmp_path / "evidence")
    with load(reference_set) as hs:
        assert hs.info.fingerprinted
        verdicts = _verdicts(Judge([hs]), folder)
    other = verdicts["/other.bin"]
    assert (other.status, other.bytes_read, other.hashed, other.hashes) == ("clean", 8192,
                                                                             False, {})
    # Same size, same edges: read whole, hashed, and not a hit (its MD5 is not listed).
    near = verdicts["/same-edges.bin"]
    assert (near.status, near.bytes_read, near.hashed) == ("clean", 8192 + SIZE, True)
    assert near.matches == []
    copy = verdicts["/copy.bin"]
    assert copy.status == "hit"
    assert copy.hashes == {"md5": hashlib.md5(REFERENCE).hexdigest(),
                           "sha1": hashlib.sha1(REFERENCE).hexdigest(),
                           "sha256": hashlib.sha256(REFERENCE).hexdigest()}
    assert {m.signal for m in copy.matches} == {"md5", "sha1", "sha256"}
    small = verdicts["/small.bin"]
    assert small.status == "hit" and small.bytes_read == 2 * len(SMALL_REFERENCE)


@pytest.mark.parametrize("kind", ["alert", "known-good"])
def test_a_hit_by_md5_and_fingerprint_alone_is_read_once_for_all_its_report_digests(
        tmp_path, fingerprint, kind):
    """A set of MD5s screened by fingerprint (no SHA-1 or SHA-256 of its references): a file
    an alert set's fingerprint lets through is read whole once, for the three digests a hit's
    report carries (before: once for its MD5, again for the other two). A known-good set's
    lets through only what it lists (its MD5), in one read as before."""
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "picture.bin").write_bytes(REFERENCE)
    out = tmp_path / "md5-only.tset"
    build_set(ref, out, names=("md5", fingerprint), category="1", kind=kind)
    folder = _evidence(tmp_path / "evidence")
    with load(out) as hs:
        assert hs.info.fingerprinted and hs.signals == {"md5", fingerprint}
        verdicts = _verdicts(Judge([hs]), folder)
    copy, near = verdicts["/copy.bin"], verdicts["/same-edges.bin"]
    digests = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}
    if kind == "alert":
        assert (copy.status, copy.bytes_read) == ("hit", 8192 + SIZE)
        assert copy.hashes == {name: f(REFERENCE).hexdigest() for name, f in digests.items()}
        # the same edges, other content: read once too, and no hit
        assert (near.status, near.bytes_read, near.matches) == ("clean", 8192 + SIZE, [])
    else:
        assert (copy.status, copy.bytes_read) == ("known", 8192 + SIZE)
        assert copy.hashes == {"md5": hashlib.md5(REFERENCE).hexdigest()}
    assert [m.signal for m in copy.matches] == ["md5"]
    assert verdicts["/other.bin"].bytes_read == 8192


def test_a_fingerprint_alone_is_never_a_hit(tmp_path):
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "picture.bin").write_bytes(REFERENCE)
    out = tmp_path / "edges-only.tset"
    build_set(ref, out, names=("edges",))
    folder = _evidence(tmp_path / "evidence")
    with load(out) as hs:
        assert not hs.info.fingerprinted and hs.signals == {"edges"}
        verdicts = _verdicts(Judge([hs]), folder)
    assert {p: v.status for p, v in verdicts.items()} == {
        "/copy.bin": "skipped", "/same-edges.bin": "skipped", "/other.bin": "skipped",
        "/small.bin": "skipped"}


def test_a_set_without_fingerprints_still_reads_every_file_of_its_sizes(tmp_path,
                                                                        reference_set):
    listed = tmp_path / "plain.hashdeep"
    listed.write_text("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n"
                      f"{SIZE},{hashlib.md5(OTHER).hexdigest()},other\n")
    folder = _evidence(tmp_path / "evidence")
    with load(reference_set) as built, load(listed) as plain:
        verdicts = _verdicts(Judge([built, plain]), folder)
    assert verdicts["/other.bin"].status == "hit"
    assert verdicts["/copy.bin"].status == "hit"
    assert verdicts["/same-edges.bin"].status == "clean"


def test_a_sealed_set_screens_by_its_keyed_fingerprints(tmp_path, reference_set, fingerprint):
    sealed = tmp_path / "sealed.tset"
    with load(reference_set) as hs:
        seal(hs, sealed, keep_sizes=True)
    folder = _evidence(tmp_path / "evidence")
    with load(sealed) as hs:
        assert hs.info.fingerprinted and fingerprint in hs.sealed.signals
        verdicts = _verdicts(Judge([hs]), folder)
    assert {p: (v.status, v.bytes_read) for p, v in verdicts.items()} == {
        "/copy.bin": ("hit", 8192 + SIZE), "/same-edges.bin": ("clean", 8192 + SIZE),
        "/other.bin": ("clean", 8192), "/small.bin": ("hit", 2 * len(SMALL_REFERENCE))}


@pytest.mark.skipif(shutil.which("mkfs.ext4") is None, reason="needs e2fsprogs")
def test_files_in_an_image_are_screened_by_8_kib(tmp_path, reference_set):
    folder = _evidence(tmp_path / "tree")
    image = tmp_path / "ext4.raw"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(folder), str(image), "4M"], check=True,
                   env={**os.environ, "E2FSPROGS_FAKE_TIME": "1"})
    with load(reference_set) as hs:
        verdicts = _verdicts(Judge([hs]), image)
    assert {p: (v.status, v.bytes_read) for p, v in verdicts.items()
            if p.endswith(".bin")} == {
        "/copy.bin": ("hit", 8192 + SIZE), "/same-edges.bin": ("clean", 8192 + SIZE),
        "/other.bin": ("clean", 8192), "/small.bin": ("hit", 2 * len(SMALL_REFERENCE))}


def test_the_summary_accounts_for_every_screened_file(tmp_path, reference_set):
    """A file cleared by its fingerprint is counted as such (summary.files_screened, the
    terminal's Files: line), so seen = hashed + screened + passed over: two hits and the
    same-edges file hashed whole, the other file of the listed size screened, the archive
    probe's file (too small for any listed size) passed over."""
    folder = _evidence(tmp_path / "evidence")
    (folder / "note.txt").write_bytes(b"unlisted size\n")
    result = run_triage("scan", folder, "--hashset", reference_set, "-o", tmp_path / "out")
    assert result.code == 1, result.stderr
    summary = json.loads((tmp_path / "out" / "report.json").read_text())["summary"]
    assert {k: summary[k] for k in ("files_seen", "files_hashed", "files_screened",
                                    "files_skipped", "hits")} == {
        "files_seen": 5, "files_hashed": 3, "files_screened": 1, "files_skipped": 1, "hits": 2}
    assert "Files: 5 seen, 3 hashed, 1 cleared by their first and last 4 KiB (fingerprint " \
           "listed nowhere), 1 passed over" in result.stdout


def test_info_and_validate_know_the_fingerprint(tmp_path, reference_set, fingerprint):
    info = CliRunner().invoke(cli, ["hashset", "info", str(reference_set)])
    assert info.exit_code == 0
    assert f"  {fingerprint:<20}  2             2 sized" in info.output
    assert f"screening:  every reference file has a sub-file fingerprint ({fingerprint})" in \
        info.output
    # the empty file's values, as a set made elsewhere may hold them (build keeps none)
    from triage import signals
    from triage.hashsets.compile import Compiler
    from triage.hashsets.importer import Tally, write_set
    from triage.records import SetEntry
    compiler = Compiler()
    for name in ("md5", fingerprint):
        value = signals.get(name).new().hexdigest()
        compiler.add(SetEntry(name, value, None, None, 0, "empty", None, None))
    out = tmp_path / "empty.tset"
    write_set(compiler, out, described=[], sources=[], tally=Tally(), fingerprinted=True)
    result = CliRunner().invoke(cli, ["hashset", "validate", str(out), "--json"],
                                standalone_mode=False)
    assert result.return_value == 1
    assert sorted((f["code"], f["signal"]) for f in json.loads(result.output)["findings"]) == [
        ("trivial", fingerprint), ("trivial", "md5")]


def _stored_zip(path, name, data):
    import zipfile
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), data)
    return path


def test_with_containers_on_a_screened_file_is_opened_once(tmp_path):
    """Archives are looked into by default, so every file's head is looked at to tell a
    container: the fingerprint's 4 KiB ends tell it (with ISO 9660's marks), in the same
    open; a container's 64 KiB head is read in that open too. A file whose fingerprint no set lists is clean: it was
    checked, not skipped; a container of a listed size is still opened, its members judged."""
    from dataclasses import replace
    from triage import containers
    folder = _evidence(tmp_path / "evidence")
    big = os.urandom(200_000)
    (folder / "big.bin").write_bytes(big)
    archive = _stored_zip(folder / "archive.zip", "inner/picture.bin", REFERENCE)
    ref = tmp_path / "reference"
    ref.mkdir()
    (ref / "picture.bin").write_bytes(REFERENCE)
    (ref / "big.bin").write_bytes(os.urandom(200_000))   # lists the size of big.bin
    # the archive's size, other edges: a zip like it whose member's name differs by a letter
    _stored_zip(ref / "decoy.zip", "inner/picturX.bin", REFERENCE)
    assert (ref / "decoy.zip").stat().st_size == archive.stat().st_size
    built = tmp_path / "ref.tset"
    build_set(ref, built, names=("md5", "sha1", "sha256", FINGERPRINT), category="1")
    opened = {}

    def counted(entry):
        def opener():
            opened[entry.path] = opened.get(entry.path, 0) + 1
            return entry.open()
        return replace(entry, open=opener)

    with load(built) as hs, open_evidence(str(folder)) as ev:
        judge = Judge([hs], archives=containers.Bounds())
        verdicts = {e.path: judge(counted(e)) for e in ev.entries()}
    other, wide = verdicts["/other.bin"], verdicts["/big.bin"]
    # the first and last 4 KiB, and ISO 9660's marks (what tells it is no container): 1 open
    told = 4096 + 4096 + 36_870 - 32_769
    assert (other.status, other.bytes_read, other.hashed) == ("clean", told, False)
    assert opened["/other.bin"] == 1
    assert (wide.status, wide.bytes_read, opened["/big.bin"]) == ("clean", told, 1)
    zipped = verdicts["/archive.zip"]
    assert zipped.status == "clean" and not zipped.hashed
    assert [(c.entry.path, c.status) for c in zipped.children] == [
        ("/archive.zip!/inner/picture.bin", "hit")]
    assert verdicts["/copy.bin"].status == "hit"
    assert verdicts["/same-edges.bin"].status == "clean"


def test_plans_made_for_a_chunk_are_those_made_one_at_a_time(tmp_path, reference_set,
                                                               fingerprint):
    """The walk makes a chunk's plans together (Judge.learn, one size lookup per set and
    signal): the same plans as a judge that makes each alone, with a set that screens, one
    that does not (sizes listed) and one without sizes."""
    from triage import containers
    plain = tmp_path / "plain.hashdeep"
    plain.write_text("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n"
                     f"4096,{'a' * 32},x\n{SIZE},{'b' * 32},y\n")
    unsized = tmp_path / "unsized.md5"
    unsized.write_text(f"{'c' * 32}  z\n")
    sizes = [0, 1, 100, 1600, 4096, 4097, 8191, 8192, 8193, 65_536, 65_537, SIZE - 1, SIZE,
             SIZE + 1, 2 ** 40, 2 ** 40 + 1]
    for paths in ([reference_set], [reference_set, plain], [plain], [unsized, plain]):
        sets = [load(str(p)) for p in paths]
        one, many = (Judge(sets, archives=containers.Bounds()) for _ in range(2))
        many.learn(sizes + sizes[:3])
        assert [many.plan(n) for n in sizes] == [one.plan(n) for n in sizes], paths
        # alike plans are one object (made once); a plan reading its size whole is its own
        assert (many.plan(2 ** 40) is many.plan(2 ** 40 + 1)) == \
            (not many.plan(2 ** 40).digests), paths
    plans = {n: Judge([load(str(plain))]).plan(n) for n in sizes}
    assert plans[SIZE].digests == frozenset({"md5"}) and not plans[SIZE].screens
    assert plans[4096].digests == frozenset({"md5"}) and not plans[4097].digests
    sets = [load(str(reference_set))]
    screened = Judge(sets)
    screened.learn(sizes)
    assert screened.plan(SIZE).screens == frozenset({fingerprint})
    assert not screened.plan(SIZE).digests
    assert not screened.plan(SIZE + 1).screens and screened.plan(1600).screens


def test_merged_sets_keep_their_screening_only_when_every_source_has_it(tmp_path,
                                                                       reference_set):
    """`hashset import` of built sets (a distribution made of several) dropped the screening:
    every file of a listed size was then read whole. Kept when every source is fingerprinted;
    not when one is an MD5 list, whose files have no fingerprint and would be screened out."""
    from triage.hashsets import compile_sources
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.bin").write_bytes(OTHER)
    second = tmp_path / "second.tset"
    build_set(other, second, names=("md5", "edges"))
    md5s = tmp_path / "list.md5"
    md5s.write_text(hashlib.md5(SAME_EDGES).hexdigest() + "  same-edges\n")
    compile_sources([reference_set, second], tmp_path / "both.tset")
    compile_sources([reference_set, md5s], tmp_path / "mixed.tset")
    evidence = _evidence(tmp_path / "evidence")
    with load(tmp_path / "both.tset") as both, load(tmp_path / "mixed.tset") as mixed:
        assert both.info.fingerprinted and not mixed.info.fingerprinted
        verdicts = _verdicts(Judge([mixed]), evidence)
        # each file screened by the fingerprint its own source stored (the second set's is
        # `edges` whichever the first's is), each found, and no file read whole needlessly
        merged = _verdicts(Judge([both]), evidence)
        # the workers' batch screen settles only what no fingerprint of either kind lists
        with open_evidence(str(evidence)) as ev:
            entries = sorted(ev.entries(), key=lambda e: e.path)
            batch = Judge([both])
            batch.learn([e.size for e in entries])
            settled, spent = batch.settle_screened(entries)
        assert settled == {} and sorted(entries[i].path for i in spent) == [
            "/copy.bin", "/other.bin", "/same-edges.bin", "/small.bin"]
    # the list's file, which has no fingerprint, is still found
    assert verdicts["/same-edges.bin"].status == "hit"
    assert verdicts["/copy.bin"].status == "hit"
    assert {p: (v.status, v.bytes_read) for p, v in merged.items()} == {
        "/copy.bin": ("hit", 8192 + SIZE), "/other.bin": ("hit", 8192 + SIZE),
        "/same-edges.bin": ("clean", 8192 + SIZE),
        "/small.bin": ("hit", 2 * len(SMALL_REFERENCE))}


def _refused():
    raise PermissionError(13, "Permission denied")


def test_a_batch_settles_the_files_whose_fingerprints_no_set_lists_as_their_verdicts_would(
        tmp_path):
    """Judge.settle_screened, the workers' batch screen: a file of a listed size whose
    fingerprint no set lists, and whose edges show no container, is settled in the batch
    (clean, its edges and ISO 9660's marks read: the same brief the judge gives it). Every
    other file is left to the judge: listed fingerprints (read whole there), a zip by its
    head, a zip appended to other bytes, a file that may be an encrypted volume (the judge
    looks at it), a file that cannot be opened (the judge records why); the bytes read of
    those the batch read are given, to be counted in their verdicts."""
    from dataclasses import replace
    from triage import containers
    from triage.scan_pass import Tasks
    folder = _evidence(tmp_path / "evidence")
    (folder / "other-too.bin").write_bytes(os.urandom(SIZE))
    archive = _stored_zip(folder / "archive.zip", "inner/picture.bin", REFERENCE)
    appended = _stored_zip(tmp_path / "tail.zip", "x.txt", b"hidden\n").read_bytes()
    (folder / "carrier.bin").write_bytes(os.urandom(SIZE - len(appended)) + appended)
    (folder / "volume.bin").write_bytes(cipher_like(1 << 20))
    ref = tmp_path / "reference"
    ref.mkdir()
    (ref / "picture.bin").write_bytes(REFERENCE)
    (ref / "small.bin").write_bytes(SMALL_REFERENCE)
    (ref / "volume.bin").write_bytes(cipher_like(1 << 20, seed=1))   # lists 1 MiB, whole sectors
    _stored_zip(ref / "decoy.zip", "inner/picturX.bin", REFERENCE)   # the archive's size
    assert (ref / "decoy.zip").stat().st_size == archive.stat().st_size
    built = tmp_path / "ref.tset"
    build_set(ref, built, names=("md5", "sha1", "sha256", FINGERPRINT), category="1")
    with load(built) as hs, open_evidence(str(folder)) as ev:
        judge = Judge([hs], archives=containers.Bounds())
        entries = sorted(ev.entries(), key=lambda e: e.path)
        other = next(e for e in entries if e.path == "/other.bin")
        entries.append(replace(other, path="/refused.bin", open=_refused))
        judge.learn([e.size for e in entries])
        settled, spent = judge.settle_screened(entries)
        at = {e.path: i for i, e in enumerate(entries)}
        told = 4096 + 4096 + (36_870 - 32_769)   # edges and ISO 9660's marks
        assert {entries[i].path: brief for i, brief in settled.items()} == {
            "/other.bin": ("clean", told, False, 0), "/other-too.bin": ("clean", told, False, 0)}
        for i, brief in settled.items():
            assert judge(entries[i]).brief() == brief
        assert {entries[i].path: read for i, read in spent.items()} == {
            "/copy.bin": told, "/same-edges.bin": told, "/small.bin": len(SMALL_REFERENCE),
            "/archive.zip": 8192, "/carrier.bin": told}
        # left to the judge, as before: the hit, the zip's member, the volume's look, the error
        assert judge(entries[at["/copy.bin"]]).status == "hit"
        assert [c.status for c in judge(entries[at["/archive.zip"]]).children] == ["hit"]
        assert [c.entry.path for c in judge(entries[at["/carrier.bin"]]).children] == [
            "/carrier.bin!/x.txt"]
        assert judge(entries[at["/volume.bin"]]).warnings[0].startswith(
            "possible encrypted container")
        assert judge(entries[at["/refused.bin"]]).status == "error"
        # the scan's task counts what the batch read in the verdict of a file it left
        tasks = Tasks(judge)
        assert tasks.before(entries) == settled
        alone = judge(entries[at["/copy.bin"]]).bytes_read
        assert tasks(entries[at["/copy.bin"]]).bytes_read == told + alone
        refused = tasks(entries[at["/refused.bin"]])
        assert (refused.status, refused.bytes_read) == ("error", 0)


def test_a_batch_settles_the_files_read_only_to_tell_a_container_as_their_verdicts_would(
        tmp_path, reference_set):
    """A file of a size no set lists is read, archives on, only to tell whether it is a
    container (containers.probe_entry). The batch tells it as the judge would, through the
    batch's own descriptor: one that is no container is settled (skipped, its first 4 KiB,
    ISO 9660's marks and its last 4 KiB read, or all of a smaller one); a zip, a file marked
    as an ISO 9660 image and one with a zip appended are left to the judge, the bytes the
    batch read of them given. A size some set lists is the screen's, as before."""
    from triage import containers
    folder = _evidence(tmp_path / "evidence")   # the listed sizes: screened, as before
    plain = os.urandom(100_001)
    (folder / "plain.bin").write_bytes(plain)
    (folder / "short.txt").write_bytes(b"a short note\n" * 10)   # 130 bytes, all of it read
    archive = _stored_zip(folder / "archive.zip", "x.txt", b"inside\n")
    iso = bytearray(os.urandom(60_001))
    iso[32_769:32_774] = b"CD001"
    (folder / "disc.bin").write_bytes(bytes(iso))
    appended = _stored_zip(tmp_path / "tail.zip", "x.txt", b"hidden\n").read_bytes()
    (folder / "carrier.bin").write_bytes(os.urandom(50_001) + appended)
    with load(reference_set) as hs, open_evidence(str(folder)) as ev:
        judge = Judge([hs], archives=containers.Bounds())
        entries = sorted(ev.entries(), key=lambda e: e.path)
        judge.learn([e.size for e in entries])
        settled, spent = judge.settle_screened(entries)
        by_path = {entries[i].path: brief for i, brief in settled.items()}
        probe = 4096 + (36_870 - 32_769) + 4096   # head, ISO 9660's marks, tail
        assert by_path == {"/plain.bin": ("skipped", probe, False, 0),
                           "/short.txt": ("skipped", 130, False, 0),
                           "/other.bin": ("clean", 8192 + (36_870 - 32_769), False, 0)}
        for i, brief in settled.items():   # what the judge gives each, read alone
            assert judge(entries[i]).brief() == brief
        assert {entries[i].path: read for i, read in spent.items()} == {
            "/copy.bin": 8192 + 4101, "/same-edges.bin": 8192 + 4101,
            "/small.bin": len(SMALL_REFERENCE), "/archive.zip": archive.stat().st_size,
            "/disc.bin": 4096 + 4101, "/carrier.bin": probe}
        at = {e.path: i for i, e in enumerate(entries)}
        assert [c.entry.path for c in judge(entries[at["/carrier.bin"]]).children] == [
            "/carrier.bin!/x.txt"]
        assert [c.entry.path for c in judge(entries[at["/archive.zip"]]).children] == [
            "/archive.zip!/x.txt"]


def test_a_batch_asks_for_its_files_ahead_of_reading_them_and_closes_what_it_opened():
    """The batch screen opens each file and asks for its edges `ahead` files before it is
    read (so those reads are in flight together), in the batch's order; a file that cannot
    be opened is passed over (the judge tells why); stopped early, it closes every file it
    opened and did not hand out."""
    from types import SimpleNamespace
    from triage.scanners.judge import Plan, _prefetched
    events, made = [], []

    def entry(name):
        def opened():
            if name == "gone":
                raise FileNotFoundError(name)
            events.append(("open", name))
            made.append(AskedReader(name, events))   # held here: none is closed by being let go
            return made[-1]
        return SimpleNamespace(size=100_000, open=opened)
    plan = Plan.of(100_000, frozenset(), frozenset({FINGERPRINT}), False, False)
    files = [(at, entry(name), plan) for at, name in enumerate(["a", "gone", "b", "c", "d"])]
    given = _prefetched(iter(files), ahead=2)
    at, _, reader, _ = next(given)
    assert (at, reader.name) == (0, "a")
    assert events == [("open", "a"), ("ask", "a", 0, 4096), ("ask", "a", 95_904, 4096),
                      ("open", "b"), ("ask", "b", 0, 4096), ("ask", "b", 95_904, 4096)]
    reader.close()
    events.clear()
    at, _, reader, _ = next(given)
    assert (at, reader.name) == (2, "b")
    assert events == [("open", "c"), ("ask", "c", 0, 4096), ("ask", "c", 95_904, 4096)]
    events.clear()
    given.close()   # stopped with c asked for and b handed out (its caller closes b)
    assert events == [("close", "c")]
    reader.close()
    # files found in the page cache already: none asked for; opened ahead until WARM of them
    # tell the cache is warm, then each handed out as soon as it is opened
    from triage import prefetch as prefetch_module
    assert prefetch_module.WARM == 4
    events.clear()
    files += [(at, entry(name), plan) for at, name in enumerate("ef", start=len(files))]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(prefetch_module, "cached", lambda reader, offset=0: True)
        for _, _, reader, _ in _prefetched(iter(files), ahead=3):
            events.append(("given", reader.name))
            reader.close()
    assert [e for e in events if e[0] != "close"] == [
        ("open", "a"), ("open", "b"), ("open", "c"), ("given", "a"), ("open", "d"),
        ("given", "b"), ("given", "c"), ("given", "d"), ("open", "e"), ("given", "e"),
        ("open", "f"), ("given", "f")]


def test_a_screened_scan_asks_ahead_and_leaves_the_evidence_as_it_was(tmp_path, reference_set):
    """A scan whose screen asks the OS for its files ahead (folder and image alike) finds
    what it found before, and every evidence file hashes as before and keeps its times: a
    hint to the OS writes nothing."""
    folder = _evidence(tmp_path / "evidence")
    image = tmp_path / "ext4.raw"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(folder), str(image), "4M"], check=True,
                   env={**os.environ, "E2FSPROGS_FAKE_TIME": "1"})

    def state():
        return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns,
                         p.stat().st_ctime_ns) for p in [*folder.iterdir(), image]}
    before = state()
    for name, evidence in (("folder", folder), ("image", image)):
        result = run_triage("scan", evidence, "--hashset", reference_set, "-o",
                            tmp_path / name, "-q")
        assert result.code == 1, result.stderr
        report = json.loads((tmp_path / name / "report.json").read_text())
        assert sorted(h["path"] for h in report["hits"]) == ["/copy.bin", "/small.bin"]
        assert report["summary"]["files_screened"] == 1
    assert state() == before


def test_a_screened_scan_of_a_folder_reads_its_files_by_bare_descriptors_and_leaves_atime(
        tmp_path, reference_set, monkeypatch):
    """A folder's file opens as folder.OsFile: the workers' batch screen reads it through a
    bare descriptor (no file object made), opened as every read of a folder is, O_NOATIME:
    access times set long before the scan (so that any read would move them) stay as they
    were; the same hits and the same file screened as through file objects."""
    from triage.evidence import folder as folder_module
    folder = _evidence(tmp_path / "evidence")
    with open_evidence(str(folder)) as ev:
        assert {type(e.open) for e in ev.entries()} == {folder_module.OsFile}
    for p in folder.iterdir():
        os.utime(p, (1_000_000_000, 1_000_000_000))
    before = {p.name: p.stat().st_atime_ns for p in folder.iterdir()}
    result = run_triage("scan", folder, "--hashset", reference_set, "-o", tmp_path / "out", "-q")
    assert result.code == 1, result.stderr
    assert {p.name: p.stat().st_atime_ns for p in folder.iterdir()} == before
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert sorted(h["path"] for h in report["hits"]) == ["/copy.bin", "/small.bin"]
    assert report["summary"]["files_screened"] == 1
    # in one process: what the screen gives is the judge's, file by file, whether the cache
    # looks warm (the files read by their paths, in place) or cold (each opened as a bare
    # descriptor, and asked for ahead)
    from triage.scanners import judge as judge_module
    paths = sorted(str(folder / n) for n in ("copy.bin", "other.bin", "same-edges.bin",
                                             "small.bin"))
    for warm, read_as in ((True, paths), (False, [])):
        opened, sources = [], []
        real, screen_many = folder_module.OsFile.descriptor, judge_module._screen_many
        monkeypatch.setattr(folder_module.OsFile, "descriptor",
                            lambda self: opened.append(self.path) or real(self))
        monkeypatch.setattr(judge_module, "in_cache", lambda fd, offset: warm)
        monkeypatch.setattr(judge_module, "_screen_many",
                            lambda given, *rest: sources.extend(given) or
                            screen_many(given, *rest))
        with load(reference_set) as hs, open_evidence(str(folder)) as ev:
            judge = Judge([hs])
            entries = sorted(ev.entries(), key=lambda e: e.path)
            judge.learn([e.size for e in entries])
            settled, spent = judge.settle_screened(entries)
            assert {entries[i].path for i in settled} == {"/other.bin"}
            assert all(judge(entries[i]).brief() == brief for i, brief in settled.items())
        assert sorted(s for s in sources if type(s) is str) == read_as
        assert sorted(opened) == (paths if not warm else [])
        monkeypatch.undo()


def test_what_a_screened_file_has_read_first_is_asked_ahead_and_nothing_of_an_unread_one(
        tmp_path, reference_set):
    """Judge.ask_ahead: each file is opened and asked for what judging it reads first (a
    screened file: its edges and ISO's marks, read in that order), then closed; a file that
    cannot be opened is passed over, and one of a size no set lists (archives off: never
    read) is not opened."""
    folder = _evidence(tmp_path / "evidence")
    (folder / "unlisted.bin").write_bytes(b"x" * 1234)
    with load(reference_set) as hs, open_evidence(str(folder)) as ev:
        judge = Judge([hs])
        entries = {e.path: e for e in ev.entries()}
        other = entries["/other.bin"]
        first = [(0, 4096), (SIZE - 4096, 4096)]
        assert judge.first_spans(other) == first
        asked, events = [], []

        class Reader(io.BytesIO):
            def prefetch(self, at, length):
                asked.append((at, length))

            def close(self):
                events.append("closed")
                super().close()

        def opener(name):
            def opened():
                if name == "gone":
                    raise FileNotFoundError(name)
                events.append(f"open {name}")
                return Reader(OTHER)
            return opened
        batch = [replace(other, open=opener("other")), replace(other, open=opener("gone")),
                 replace(entries["/unlisted.bin"], open=opener("unlisted"))]
        judge.ask_ahead(batch)
        assert (asked, events) == (first, ["open other", "closed"])
        # files found in the page cache already: none asked for, and once WARM of them were,
        # no more opened
        asked.clear(), events.clear()
        from triage import prefetch as prefetch_module
        more = [replace(other, open=opener(f"more{i}")) for i in range(prefetch_module.WARM)]
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(prefetch_module, "cached", lambda reader, offset=0: True)
            judge.ask_ahead(batch + more)
        opened = ["other"] + [f"more{i}" for i in range(prefetch_module.WARM - 1)]
        assert (asked, events) == ([], [e for name in opened for e in (f"open {name}",
                                                                       "closed")])
        # and it is what the judge reads first
        reads = []

        class Recording(io.BytesIO):
            def read(self, size=-1):
                at = self.tell()
                block = super().read(size)
                reads.append((at, len(block)))
                return block
        judge(replace(other, open=lambda: Recording(OTHER)))
        assert reads[:2] == first


def test_a_file_whose_fingerprint_a_set_lists_is_asked_for_whole_once_the_batch_is_screened(
        tmp_path, reference_set, monkeypatch):
    """Judge.settle_batch: the files the screen leaves to the judge because a set lists their
    fingerprint (read whole there, to be confirmed) are asked for past their first 4 KiB
    after the screen, all of them before the judge reads any, up to WHOLE_AHEAD bytes a
    batch; a listed file under three edges long is not (the rest of it is read at once), nor
    is a settled one."""
    from support import AskedReader
    from triage.scanners import judge as judge_module
    folder = _evidence(tmp_path / "evidence")
    events = []
    with load(reference_set) as hs, open_evidence(str(folder)) as ev:
        judge = Judge([hs])
        entries = sorted(ev.entries(), key=lambda e: e.path)
        judge.learn([e.size for e in entries])
        data = {e.path: (folder / e.path[1:]).read_bytes() for e in entries}
        batch = [replace(e, open=lambda e=e: AskedReader(e.path, events, data=data[e.path]))
                 for e in entries]
        settled, spent = judge.settle_batch(batch)
        assert {batch[at].path for at in settled} == {"/other.bin"}
        whole = [event for event in events if event[0] == "ask" and event[2] == 4096]
        assert whole == [("ask", "/copy.bin", 4096, SIZE - 4096),
                         ("ask", "/same-edges.bin", 4096, SIZE - 4096)]
        # the batch's share spent on the first, what is left of it on the second
        events.clear()
        monkeypatch.setattr(judge_module, "WHOLE_AHEAD", SIZE)
        judge.settle_batch(batch)
        whole = [event for event in events if event[0] == "ask" and event[2] == 4096]
        assert whole == [("ask", "/copy.bin", 4096, SIZE - 4096),
                         ("ask", "/same-edges.bin", 4096, 4096)]


def test_a_batch_is_asked_for_whole_within_a_quarter_of_the_open_files_allowed():
    """The screen holds its batch's files open to ask for them together: a whole batch where
    the process may open 1,024 or more, a quarter of its allowance where fewer (macOS: 256,
    shared by the workers where they are threads)."""
    from triage.scanners.judge import _ahead
    assert [_ahead(n) for n in (None, 1 << 20, 1024, 256, 100, 20)] == [256, 256, 256, 64,
                                                                        25, 16]


def test_a_cold_batch_is_asked_for_before_its_keys_are_made_and_a_warm_one_is_not(
        tmp_path, reference_set, images, monkeypatch):
    """Judge.ask_early, as a worker calls it once a batch is listed: where the batch's first
    files are not in the page cache, what the screen will read of each screenable file read in
    place is asked for at once (a folder's on its own descriptor, an image's file at its place
    on the image); a file the screen does not read is not asked for; a warm batch is asked
    nothing, its first WARM files looked at and no more."""
    from triage import containers
    from triage.prefetch import WARM
    from triage.scanners import judge as judge_module
    folder = _evidence(tmp_path / "evidence")
    (folder / "unlisted.bin").write_bytes(b"x" * 1234)   # no set lists its size: never read
    asked, looked = [], []
    monkeypatch.setattr(judge_module, "will_need", lambda fd, offset, length: asked.append(
        (os.readlink(f"/proc/self/fd/{fd}"), offset, length)))
    with load(reference_set) as hs, open_evidence(str(folder)) as ev:
        judge = Judge([hs])
        entries = sorted(ev.entries(), key=lambda e: e.path)
        judge.learn([e.size for e in entries])
        for warm in (True, False):
            asked.clear()
            looked.clear()
            monkeypatch.setattr(judge_module, "in_cache",
                                lambda fd, offset: looked.append(offset) or warm)
            judge.ask_early(iter(entries))
            if warm:
                assert asked == [] and len(looked) == WARM
    tail = SIZE - 4096
    assert sorted(asked) == sorted(
        [(str(folder / name), 0, 4096) for name in ("copy.bin", "other.bin", "same-edges.bin")]
        + [(str(folder / name), tail, 4096)
           for name in ("copy.bin", "other.bin", "same-edges.bin")]
        + [(str(folder / "small.bin"), 0, len(SMALL_REFERENCE))])
    # an image's files, read only to tell a container (archives on, sizes no set lists):
    # asked for at their places on the image
    asked.clear()
    monkeypatch.setattr(judge_module, "in_cache", lambda fd, offset: False)
    with load(reference_set) as hs, open_evidence(str(images / "ext4.raw")) as ev:
        judge = Judge([hs], archives=containers.Bounds())
        entries = list(ev.entries(runs=True))
        judge.learn([e.size for e in entries])
        judge.ask_early(iter(entries))
        expected = []
        for entry in entries:
            place = entry.open.place() if hasattr(entry.open, "place") else None
            if place is None or not judge.screenable(entry):
                continue
            assert judge.plan(entry.size).screen == judge_module.SCREEN_PROBED
            expected += [(os.readlink(f"/proc/self/fd/{place[0]}"), place[1] + offset, length)
                         for offset, length in prefetch.joined(
                             containers.probe_spans(entry.size))]
    assert len(expected) >= 4 and sorted(asked) == sorted(expected)
    # only a hint: an OS that will not be asked is passed over, and every file opened is closed

    def refused(fd, offset, length):
        raise OSError(22, "Invalid argument")
    monkeypatch.setattr(judge_module, "will_need", refused)
    before = len(os.listdir("/proc/self/fd"))
    with load(reference_set) as hs, open_evidence(str(folder)) as ev:
        judge = Judge([hs])
        entries = list(ev.entries())
        judge.learn([e.size for e in entries])
        judge.ask_early(iter(entries))
    assert len(os.listdir("/proc/self/fd")) == before
