"""Judging one file: what is read, what is settled unread, what a hit carries."""

import hashlib
import io
from dataclasses import replace

import pytest

from triage.evidence import open_evidence
from triage.hashsets import load
from triage.scanners import Judge

LISTED = b"listed content\n" * 10
SAME_SIZE = b"other content!\n" * 10     # the listed size, other bytes
OTHER_SIZE = b"a size no set lists\n"


@pytest.fixture
def entries(tmp_path):
    folder = tmp_path / "evidence"
    folder.mkdir()
    for name, data in [("listed.bin", LISTED), ("same-size.bin", SAME_SIZE),
                       ("other-size.bin", OTHER_SIZE)]:
        (folder / name).write_bytes(data)
    with open_evidence(str(folder)) as ev:
        yield {e.path: e for e in ev.entries()}


@pytest.fixture
def judge(tmp_path):
    sized = tmp_path / "alert.hashdeep"
    sized.write_text("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n"
                     f"{len(LISTED)},{hashlib.md5(LISTED).hexdigest()},listed.bin\n")
    return Judge([load(sized)])


def test_a_size_no_set_lists_is_settled_unread(judge, entries):
    entry = replace(entries["/other-size.bin"], open=lambda: pytest.fail("opened"))
    assert not judge.needs_read(entry.size)
    verdict = judge(entry)
    assert (verdict.status, verdict.bytes_read, verdict.hashed) == ("skipped", 0, False)


def test_a_listed_size_is_read_and_hashed(judge, entries):
    assert judge.needs_read(entries["/same-size.bin"].size)
    verdict = judge(entries["/same-size.bin"])
    assert (verdict.status, verdict.bytes_read, verdict.hashed) == ("clean", len(SAME_SIZE), True)
    assert verdict.hashes == {"md5": hashlib.md5(SAME_SIZE).hexdigest()}
    # what a worker sends home for it: its row (the digests of a file that matched nothing
    # are kept nowhere)
    assert verdict.brief() == ("clean", len(SAME_SIZE), True, 0)


def test_a_hit_carries_all_three_digests(judge, entries):
    verdict = judge(entries["/listed.bin"])
    assert verdict.status == "hit"
    assert verdict.hashes == {"md5": hashlib.md5(LISTED).hexdigest(),
                              "sha1": hashlib.sha1(LISTED).hexdigest(),
                              "sha256": hashlib.sha256(LISTED).hexdigest()}
    assert [(m.signal, m.kind) for m in verdict.matches] == [("md5", "alert")]
    # read once: a file no longer than the head read first (64 KiB) gives the report's SHA-1
    # and SHA-256 from the bytes already read
    assert verdict.bytes_read == len(LISTED)


def test_a_hit_longer_than_its_head_is_read_again_for_the_digests_its_set_lacks(tmp_path):
    """Past the 64 KiB head nothing of a file is kept: a hit is read once to match, once more
    for the SHA-1 and SHA-256 its MD5 set did not need."""
    large = bytes(range(256)) * 400 + b"end"   # 102,403 bytes
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "large.bin").write_bytes(large)
    sized = tmp_path / "alert.hashdeep"
    sized.write_text("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n"
                     f"{len(large)},{hashlib.md5(large).hexdigest()},large.bin\n")
    with open_evidence(str(tmp_path / "evidence")) as ev, load(sized) as hs:
        verdict = Judge([hs])(next(iter(ev.entries())))
    assert verdict.status == "hit"
    assert verdict.hashes == {"md5": hashlib.md5(large).hexdigest(),
                              "sha1": hashlib.sha1(large).hexdigest(),
                              "sha256": hashlib.sha256(large).hexdigest()}
    assert verdict.bytes_read == 2 * len(large)


@pytest.fixture
def pictures(tmp_path):
    """A folder of pictures and a PDQ set holding the bridge photo's hash."""
    import hostile_pictures as hostile
    from triage.imaging import decode
    from triage.signals.perceptual import PDQ
    folder = tmp_path / "pictures"
    folder.mkdir()
    files = {"bridge.jpg": hostile.BRIDGE.read_bytes(),
             "strip.png": hostile.strip_png(1, 30000),
             "tagged.tif": hostile.tiff_warning(),
             "bomb.png": hostile.png_bomb()}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    source = tmp_path / "pdq.csv"
    source.write_text(f"pdq,category\n{PDQ.compute(decode(files['bridge.jpg'])).value},1\n")
    with open_evidence(str(folder)) as ev:
        yield Judge([load(source)]), {e.path: e for e in ev.entries()}, files


def test_a_perceptual_hit_is_read_once_and_carries_all_three_digests(pictures):
    judge, entries, files = pictures
    verdict = judge(entries["/bridge.jpg"])
    data = files["bridge.jpg"]
    assert (verdict.status, verdict.decoded, verdict.bytes_read) == ("hit", True, len(data))
    assert {k: verdict.hashes[k] for k in ("md5", "sha1", "sha256")} == {
        "md5": hashlib.md5(data).hexdigest(), "sha1": hashlib.sha1(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest()}


def test_a_strip_is_checked_with_a_warning_and_a_bomb_is_an_error(pictures):
    judge, entries, _ = pictures
    strip = judge(entries["/strip.png"])
    assert (strip.status, strip.decoded, strip.errors) == ("clean", False, [])
    assert strip.warnings == [
        "no perceptual hash: 1x30000 pixels, one side over 16 times the other"]
    bomb = judge(entries["/bomb.png"])
    assert (bomb.status, bomb.warnings) == ("clean", [])
    assert bomb.errors == ["image not decoded: decompression bomb: pixel count beyond "
                           "Pillow's limit"]


def test_what_a_library_warns_about_a_picture_is_a_warning_on_its_record(pictures):
    judge, entries, _ = pictures
    verdict = judge(entries["/tagged.tif"])
    assert (verdict.status, verdict.decoded, verdict.errors) == ("clean", True, [])
    assert verdict.warnings == ["image library warning: UserWarning: Tag data larger than "
                                "file. Skipping tag 270"]


def test_running_out_of_memory_on_a_picture_is_an_error_record(pictures, monkeypatch):
    from triage.signals import perceptual

    def exhausted(picture, turned=False):
        raise MemoryError()
    monkeypatch.setattr(perceptual.PDQ, "of_reduced", exhausted)
    judge, entries, _ = pictures
    verdict = judge(entries["/bridge.jpg"])
    assert (verdict.status, verdict.errors) == ("clean", ["image not hashed: out of memory"])


def test_a_picture_over_the_decoding_cap_is_an_error_not_passed_over(pictures, monkeypatch,
                                                                      tmp_path):
    """A known picture padded past what is read into memory to decode (MAX_IMAGE_BYTES, here
    lowered to the photo's size) is told a picture by its head and recorded as not decoded:
    before, a PDQ-only set made it a file "no set could match", passed over unread. With an
    exact set that lists it, its digests still make it a hit."""
    from triage import reading
    judge, entries, files = pictures
    monkeypatch.setattr(reading, "MAX_IMAGE_BYTES", len(files["bridge.jpg"]) - 1)
    size = len(files["bridge.jpg"])
    verdict = judge(entries["/bridge.jpg"])
    assert (verdict.status, verdict.decoded, verdict.matches) == ("error", False, [])
    assert verdict.errors == [
        f"image not decoded: {size:,} bytes, over the {size - 1:,} a picture is read into "
        f"memory to be decoded (not matched by its perceptual hashes)"]
    md5 = tmp_path / "exact.md5"
    md5.write_text(f"{hashlib.md5(files['bridge.jpg']).hexdigest()}  bridge.jpg\n")
    both = Judge([load(tmp_path / "pdq.csv"), load(md5)])   # the fixture's PDQ set and it
    hit = both(entries["/bridge.jpg"])
    assert (hit.status, hit.errors, [m.signal for m in hit.matches]) == ("hit", [], ["md5"])


def test_a_perceptual_hit_reports_the_canonical_values_not_the_querys(pictures):
    """The query hashed the bridge (1600 x 1004) from blocks of 6 x 3 pixels, 2 bits from its
    canonical PDQ; the report carries the canonical value, as `triage hash` computes it."""
    from triage import imaging
    from triage.scanners.perceptual import query
    from triage.signals.perceptual import PDQ
    judge, entries, files = pictures
    verdict = judge(entries["/bridge.jpg"])
    canonical = PDQ.compute(imaging.decode(files["bridge.jpg"])).value
    queried = [h.value for h in query(files["bridge.jpg"], {"pdq"}) if h.variant == "original"]
    assert PDQ.distance(queried[0], canonical) == 2
    assert verdict.status == "hit" and verdict.hashes["pdq"] == canonical
    assert verdict.warnings == []
    # The match itself is the query's: its distance is what the scan measured.
    assert [(m.signal, m.distance) for m in verdict.matches] == [("pdq", 2)]


def test_a_hit_whose_canonical_values_fail_keeps_the_querys_with_a_warning(pictures,
                                                                          monkeypatch):
    from triage.signals import perceptual

    def exhausted(image):
        raise MemoryError()
    monkeypatch.setattr(perceptual.PDQ, "compute", exhausted)
    judge, entries, _ = pictures
    verdict = judge(entries["/bridge.jpg"])
    assert verdict.status == "hit" and len(verdict.hashes["pdq"]) == 64
    assert verdict.warnings == ["perceptual values in the report are the scan's (from block "
                                "means), not the canonical: image not hashed: out of memory"]


def test_pictures_cost_their_decoding_so_a_folder_of_photos_spreads_over_the_workers(
        pictures, tmp_path):
    """30 photos of 430 KB were one batch of 13 MB (64 files or 32 MiB a batch), so one
    worker judged them all; priced with their decoding they make six batches."""
    from triage.workers import batches
    judge, entries, _ = pictures
    photo = replace(entries["/bridge.jpg"], size=430_000)
    costs = [judge.cost(replace(photo, path=f"/DCIM/IMG_{i:04d}.JPG")) for i in range(30)]
    assert len(list(batches(costs, cost=lambda c: c))) == 6
    # Only the likely pictures (by name, for this estimate alone) are priced so.
    assert judge.cost(replace(photo, path="/notes.txt")) == judge.planned_bytes(430_000)


def test_containers_cost_their_members_so_a_folder_of_packages_spreads_over_the_workers(
        judge, entries):
    """Ten 7 MB packages were one batch (each planned as its 4 KiB probe), so one worker
    inflated them all (a scan of ten .deb: 1.06 cores busy, 3.2 s; now 1.8 and 2.0 s,
    benchmarks/scan_archives.py --kind deb); priced with their members, each is a batch of its
    own. Only with containers looked into, and only names that say container."""
    from triage import containers
    from triage.workers import batches
    opened = Judge(judge.exact.sets, archives=containers.Bounds())
    package = replace(entries["/other-size.bin"], size=7_000_000)
    costs = [opened.cost(replace(package, path=f"/cache/pkg{i}.deb")) for i in range(10)]
    assert costs == [4 * 7_000_000] * 10
    assert len(list(batches(costs, cost=lambda c: c))) == 10
    assert opened.cost(replace(package, path="/cache/pkg.bin")) == containers.PROBE
    assert judge.cost(replace(package, path="/cache/pkg.deb")) == 0   # containers not opened


def test_an_alert_sets_empty_file_digest_is_a_warning_not_a_hit(tmp_path):
    """A set that lists the empty file's MD5 (a mistake `hashset validate` calls an error)
    made every empty file on a seized device a hit: an empty file holds nothing. A zero-filled
    file is content, and its listing stands (validate flags that too); so does a known-good
    set's listing of the empty file."""
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "zeros.bin").write_bytes(bytes(4096))
    (folder / "listed.bin").write_bytes(LISTED)
    alert = tmp_path / "alert.md5"
    alert.write_text("".join(f"{hashlib.md5(d).hexdigest()}  x\n"
                             for d in (b"", bytes(4096), LISTED)))
    good = tmp_path / "good.md5"
    good.write_text(f"{hashlib.md5(b'').hexdigest()}  empty\n")
    with open_evidence(str(folder)) as ev:
        found = {e.path: e for e in ev.entries()}
    alone = Judge([load(alert, name="ALERT")])
    empty = alone(found["/empty.txt"])
    assert (empty.status, empty.matches) == ("clean", [])
    assert empty.warnings == [
        "listed in alert set 'ALERT' by its md5, the value of the empty file, which holds "
        "nothing: not a hit (check the set with `triage hashset validate`)"]
    assert [alone(found[p]).status for p in ("/zeros.bin", "/listed.bin")] == ["hit", "hit"]
    both = Judge([load(alert, name="ALERT"), load(good, name="GOOD", kind="known-good")])
    assert [m.set for m in both(found["/empty.txt"]).matches] == ["GOOD"]


class _Recording(io.BytesIO):
    """A file's reader that keeps the (offset, length) of every read."""

    def __init__(self, data: bytes, reads: list):
        super().__init__(data)
        self.reads = reads

    def read(self, size=-1):
        at = self.tell()
        block = super().read(size)
        if block:
            self.reads.append((at, len(block)))
        return block


@pytest.mark.parametrize("size, listed, first", [
    (100_000, True, [(0, 65_536)]),                                  # read whole: its head
    (100_001, False, [(0, 4096), (32_769, 4101), (95_905, 4096)]),   # told no container
    (5_000, False, [(0, 4096), (904, 4096)]),
    (0, False, [])])
def test_what_the_judge_reads_first_is_known_before_it_reads(tmp_path, size, listed, first):
    """first_spans, what a batch asks the OS for ahead (Judge.ask_ahead), is what judging the
    file then reads first: a listed size's head, before the rest; a size no set lists, read
    only to tell a container (archives on), its first 4 KiB, ISO's marks and its last 4 KiB,
    and nothing else."""
    from triage import containers
    data = bytes(i * 7 % 251 for i in range(size))
    sized = tmp_path / "alert.hashdeep"
    sized.write_text("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n"
                     f"100000,{hashlib.md5(LISTED).hexdigest()},listed.bin\n")
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "f.bin").write_bytes(data)
    judge = Judge([load(sized)], archives=containers.Bounds())
    with open_evidence(str(tmp_path / "evidence")) as ev:
        entry = next(e for e in ev.entries())
    reads = []
    entry = replace(entry, open=lambda: _Recording(data, reads))
    assert judge.needs_read(size) is bool(size) and judge.plan(size).digests == (
        frozenset({"md5"}) if listed else frozenset())
    assert judge.first_spans(entry) == first
    judge(entry)
    assert reads[:len(first)] == first
    if not listed:
        assert reads == first
