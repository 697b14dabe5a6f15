"""Sealed sets: they answer "is this digest in category C" exactly as the unsealed set does
(but for the design false-positive rate), hold none of the digests, names or IDs, cannot be
listed, diffed or exported, and are checked field by field on open."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from support import FIXTURES, run_triage
from triage.errors import HashSetError
from triage.hashsets import load, sealed, store
from triage.hashsets.hashset import HashSet

DEMO = FIXTURES / "demo"
SIGNALS = ("md5", "sha1", "sha256")


def make_source(path, n=400, seed=7):
    """A CSV set: three digests, a size, a category, a file name and an ID a row; every tenth
    MD5 listed again under another category; a few PDQ rows."""
    rng = np.random.default_rng(seed)
    rows = ["md5,sha1,sha256,size,category,name,id"]
    for i in range(n):
        md5, sha1, sha256 = (rng.bytes(k).hex() for k in (16, 20, 32))
        rows.append(f"{md5},{sha1},{sha256},{1000 + i * 7},{1 + i % 3},victim-name-{i}.jpg,"
                    f"MEDIA-{i}")
        if i % 10 == 0:
            rows.append(f"{md5},,,{1000 + i * 7},{1 + (i + 1) % 3},other-name-{i}.jpg,X-{i}")
    path.write_text("\n".join(rows) + "\n")
    pdq = path.with_name("pdq.csv")
    pdq.write_text("pdq,size,category,name\n" + "".join(
        f"{rng.bytes(32).hex()},{5000 + i},2,pdq-name-{i}.jpg\n" for i in range(20)))
    return path, pdq


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sealed")
    source, pdq = make_source(folder / "alert.csv")
    compiled = folder / "alert.tset"
    assert run_triage("hashset", "import", source, pdq, "-o", compiled).code == 0
    sealed_path = folder / "alert.sealed"
    run = run_triage("hashset", "seal", compiled, "-o", sealed_path, "--json")
    assert run.code == 0, run.stderr
    return folder, source, compiled, sealed_path, run.json()


def digests_of(compiled):
    with HashSet(compiled) as hs:
        return {s: [bytes(k) for k in hs.vectors(s)] for s in SIGNALS}


def test_the_sealed_set_answers_as_the_unsealed_one(sets):
    _, _, compiled, sealed_path, _ = sets
    rng = np.random.default_rng(1)
    with HashSet(compiled) as plain, HashSet(sealed_path) as closed:
        assert closed.signals == plain.signals
        for signal in SIGNALS:
            keys = [bytes(k) for k in plain.vectors(signal)]
            absent = [rng.bytes(len(keys[0])) for _ in range(2000)]
            for batch in (keys + absent, keys[:1], absent[:1]):
                want = [sorted(e.category for e in found) for found in plain.lookup(signal, batch)]
                got = [sorted(e.category for e in found) for found in closed.lookup(signal, batch)]
                assert got == want
            assert closed.false_positive_rate(signal) == 2.0 ** -30
            assert plain.false_positive_rate(signal) is None
        # A digest under two categories is found in both, one entry each, with its own value.
        md5s = digests_of(compiled)["md5"]
        twice = sorted({k for k, found in zip(md5s, plain.lookup("md5", md5s))
                        if len(found) == 2})
        assert len(twice) == 40
        found = closed.lookup("md5", twice[:1])[0]
        assert len(found) == 2 and all(e.value == twice[0].hex() for e in found)
        # Perceptual hashes stay as compiled, and their names are gone.
        assert np.array_equal(closed.vectors("pdq"), plain.vectors("pdq"))
        assert {e.name for e in closed.iter_entries("pdq")} == {None}


def test_the_sealed_file_holds_no_digest_name_or_id(sets):
    folder, source, compiled, sealed_path, _ = sets
    data = sealed_path.read_bytes()
    text = source.read_text()
    for signal, keys in digests_of(compiled).items():
        for k in keys:
            assert k not in data and k.hex().encode() not in data \
                and k.hex().upper().encode() not in data
            assert k[:8] not in data                  # not even the sort words
    for word in ("victim-name", "other-name", "pdq-name", "MEDIA-", "X-1"):
        assert word in text or word == "pdq-name"
        assert word.encode() not in data
    # Duplicate examples (digests) in the import statistics are gone too.
    header = json.loads(data[store.PREFIX.size:data.index(b"\0", store.PREFIX.size)])
    assert all(not s["duplicate_examples"] for s in header["info"]["stats"].values())


def test_no_command_prints_a_digest_of_a_sealed_set(sets):
    folder, _, compiled, sealed_path, info = sets
    hexes = [k.hex() for keys in digests_of(compiled).values() for k in keys]
    other = folder / "other.tset"
    runs = [run_triage("hashset", "info", sealed_path),
            run_triage("hashset", "info", sealed_path, "--json"),
            run_triage("hashset", "validate", sealed_path),
            run_triage("hashset", "validate", sealed_path, "--json"),
            run_triage("hashset", "diff", compiled, sealed_path, "--list"),
            run_triage("hashset", "diff", sealed_path, compiled, "--json"),
            run_triage("hashset", "import", sealed_path, "-o", other),
            run_triage("hashset", "seal", sealed_path, "-o", other)]
    for run in runs:
        out = run.stdout + run.stderr
        assert not any(h in out.lower() for h in hexes)
    assert [r.code for r in runs] == [0, 0, 2, 2, 2, 2, 2, 2]
    for run in runs[2:7]:
        assert run.stderr.splitlines() == [
            f"triage: error: {sealed_path}: a sealed set cannot list, diff or export its md5 "
            f"digests: it only answers whether a digest is in it"]
    assert runs[7].stderr.strip() == f"triage: error: {sealed_path}: already sealed"
    assert not other.exists()
    assert "design false-positive rate 9.3e-10" in runs[0].stdout
    assert info["sealed"] == {"fingerprint_bits": 30, "false_positive_rate": 2.0 ** -30,
                              "requested_rate": 1e-9, "sizes_kept": False}


def test_the_info_counts_what_the_sealed_set_holds(sets):
    _, _, compiled, _, info = sets
    with HashSet(compiled) as plain:
        before = plain.info
    assert info["signals"] == before.signals
    # 400 rows x 3 digests + 40 MD5s again under another category + 20 PDQ hashes
    assert info["entries"] == 400 * 3 + 40 + 20
    assert sum(info["categories"].values()) == info["entries"]


def test_sealing_twice_gives_unrelated_bytes(sets, tmp_path):
    _, _, compiled, sealed_path, _ = sets
    again = tmp_path / "again.sealed"
    assert run_triage("hashset", "seal", compiled, "-o", again).code == 0
    a, b = sealed_path.read_bytes(), again.read_bytes()
    assert len(a) == len(b) and a != b
    with HashSet(sealed_path) as x, HashSet(again) as y:
        pairs = list(zip(x.sealed.filters["md5"], y.sealed.filters["md5"]))
        assert len(pairs) == 3
        for (code_x, fx), (code_y, fy) in pairs:
            assert code_x == code_y and fx.shape == fy.shape
            assert np.mean(fx.words == fy.words) < 0.05


def test_sizes_are_kept_only_when_asked(sets, tmp_path):
    _, _, compiled, sealed_path, _ = sets
    kept = tmp_path / "sized.sealed"
    assert run_triage("hashset", "seal", compiled, "-o", kept, "--keep-sizes").code == 0
    with HashSet(compiled) as plain, HashSet(kept) as with_sizes, \
            HashSet(sealed_path) as without:
        assert without.info.sized == {} and without.column("pdq", "size") is None
        assert with_sizes.info.sized == plain.info.sized
        assert len(plain.column("pdq", "sizes")) == 20
        assert np.array_equal(with_sizes.column("pdq", "sizes"), plain.column("pdq", "sizes"))
        for size in (1000, 1007, 1001, 999, 10 ** 9):
            assert with_sizes.may_match("md5", size) == plain.may_match("md5", size)
            assert without.may_match("md5", size)
        assert plain.may_match("md5", 1007) and not plain.may_match("md5", 1001)


@pytest.mark.parametrize("fpr, bits", [(1e-6, 20), (0.5, 1), (2.0 ** -32, 32), (0.01, 7)])
def test_the_rate_asked_gives_the_fingerprint_width(fpr, bits):
    assert sealed.bits_for(fpr) == bits


def test_a_rate_out_of_range_is_one_line(sets, tmp_path):
    _, _, compiled, _, _ = sets
    run = run_triage("hashset", "seal", compiled, "-o", tmp_path / "x", "--fpr", "1e-12")
    assert run.code == 2
    assert run.stderr.startswith("triage: error: triage hashset seal: Invalid value for '--fpr'")


def rewrite(path, target, change):
    """The set at `path` with its header changed by `change`, written (checksums valid) to
    `target`."""
    header, arrays, mapped, _, _ = store.open_mapped(path)
    arrays = {k: np.array(v) for k, v in arrays.items()}
    del mapped
    header.pop("arrays")
    change(header, arrays)
    store.write(target, header, arrays)
    return target


@pytest.mark.parametrize("change, reason", [
    (lambda h, a: h["sealed"].update(key="00" * 15), "key is malformed"),
    (lambda h, a: h["sealed"].update(bits=33), "fingerprint width is out of range"),
    (lambda h, a: h["sealed"]["signals"]["md5"]["filters"][0].update(entries=5),
     "geometry is not the one its entries give"),
    (lambda h, a: h["sealed"]["signals"]["md5"]["filters"][0].update(category=99),
     "category is beyond the labels"),
    (lambda h, a: h["sealed"]["signals"]["md5"]["filters"][1].update(
        category=h["sealed"]["signals"]["md5"]["filters"][0]["category"]), "or repeated"),
    (lambda h, a: h["sealed"]["signals"]["md5"]["filters"][0].update(seed=-1), "negative"),
    (lambda h, a: h["sealed"]["signals"]["md5"]["filters"][0].update(mixed=1),
     "placing is not said"),
    (lambda h, a: a.update({"sealed.md5.0": a["sealed.md5.0"][:-1]}), "wrong length"),
    (lambda h, a: h["sealed"]["signals"].update(pdq={"prefilter": False, "filters": []}),
     "not an exact one"),
    (lambda h, a: h.update(form="other"), "form this triage does not know"),
    (lambda h, a: h["info"].update(sealed=None), "disagree on whether it is sealed"),
    (lambda h, a: h["sealed"]["signals"]["md5"].update(prefilter=True), "sealed sizes"),
])
def test_a_crafted_sealed_header_is_refused(sets, tmp_path, change, reason):
    _, _, _, sealed_path, _ = sets
    bad = rewrite(sealed_path, tmp_path / "bad.sealed", change)
    with pytest.raises(HashSetError, match=reason):
        HashSet(bad)


def test_a_crafted_sealed_set_is_one_line_on_the_command_line(sets, tmp_path):
    _, _, _, sealed_path, _ = sets
    bad = rewrite(sealed_path, tmp_path / "bad.sealed",
                  lambda h, a: h["sealed"].update(bits=0))
    run = run_triage("hashset", "info", bad)
    assert run.code == 2
    assert run.stderr.splitlines() == [f"triage: error: {bad}: compiled set is inconsistent: "
                                       f"the sealed set's fingerprint width is out of range"]


def test_a_scan_with_the_sealed_set_finds_the_hits_of_the_unsealed_one(tmp_path):
    compiled, closed = tmp_path / "demo.tset", tmp_path / "demo.sealed"
    assert run_triage("hashset", "import", DEMO / "demo-alert.json", "-o", compiled).code == 0
    assert run_triage("hashset", "seal", compiled, "-o", closed, "--keep-sizes").code == 0
    reports = []
    for name, hs in (("plain", compiled), ("sealed", closed)):
        run = run_triage("scan", DEMO / "demo.E01", "--hashset", hs,
                         "--hashset", DEMO / "demo-known-good.txt", "-o", tmp_path / name, "-q")
        assert run.code == 1, run.stderr
        reports.append(json.loads((tmp_path / name / "report.json").read_text()))
    plain, closed_report = reports

    def hits(report):
        return sorted((h["path"], h["md5"], h["sha1"], h["sha256"],
                       tuple(sorted((m["signal"], m["category"], m["kind"])
                                    for m in h["matches"]))) for h in report["hits"])
    assert hits(closed_report) == hits(plain) and len(plain["hits"]) == 7
    assert closed_report["summary"] == plain["summary"]
    exact = [m for h in closed_report["hits"] for m in h["matches"] if m["signal"] in SIGNALS
             and m["set"] == "demo-alert"]
    assert exact and all(m["sealed"] is True and m["false_positive_rate"] == 2.0 ** -30
                         and m["id"] is None for m in exact)
    hit_md5 = {h["md5"] for h in closed_report["hits"]}
    assert all(m["value"] in hit_md5 for m in exact if m["signal"] == "md5")
    assert closed_report["hashsets"][0]["sealed"]["sizes_kept"] is True
    html = (tmp_path / "sealed" / "report.html").read_text()
    assert "in the sealed set (keyed fingerprint, false-positive rate 9.3e-10" in html
    assert "sealed: keyed fingerprints, false-positive rate 9.3e-10" in html


def test_a_source_list_is_sealed_directly(tmp_path):
    out = tmp_path / "direct.sealed"
    run = run_triage("hashset", "seal", DEMO / "demo-known-good.txt", "-o", out, "--fpr", "1e-4")
    assert run.code == 0, run.stderr
    with load(out) as hs:
        assert hs.info.sealed["fingerprint_bits"] == 14 and hs.info.kind == "known-good"
    digest = hashlib.md5(b"not in any set").digest()
    with load(out) as hs:
        assert hs.lookup("md5", [digest]) == [[]]


def test_a_sealed_known_good_set_serves_validate_as_the_unsealed_one(sets, tmp_path):
    """`validate --known-good` asks only membership of the set being validated: a sealed
    known-good set answers it the same."""
    _, _, compiled, sealed_path, _ = sets
    runs = [run_triage("hashset", "validate", compiled, "--known-good", good, "--json")
            for good in (compiled, sealed_path)]
    findings = [[f for f in r.json()["findings"] if f["code"] == "known-good"] for r in runs]
    assert [r.code for r in runs] == [1, 1]
    assert findings[0] == findings[1]
    assert {f["signal"]: f["count"] for f in findings[1]} == {"md5": 400, "sha1": 400,
                                                               "sha256": 400, "pdq": 20}


# -- block digests (hashset build --blocks) ------------------------------------------------------

def test_a_sealed_block_set_finds_the_fragments_of_the_unsealed_one(block_scan,
                                                                     sealed_block_scan,
                                                                     block_evidence):
    """`scan --blocks --sample` on the same image: the same fragments, offsets, fractions and
    owners from the sealed copy, and the sample hits through it too."""
    unsealed, sealed_ = block_scan.report, sealed_block_scan.report
    assert sealed_["fragments"] == unsealed["fragments"]
    assert {f["reference_md5"]: f["runs"] for f in sealed_["fragments"]} == {
        block_evidence.md5(n): block_evidence.runs(n) for n in ("live", "loose")}
    assert sealed_["sampling"]["found"] is unsealed["sampling"]["found"] is True
    (sealed_set,) = sealed_["hashsets"]
    assert sealed_set["signals"]["block"] == 22 and sealed_set["sealed"][
        "block_prefilter_bits"] == sealed.PREFILTER_BITS


def test_the_sealed_file_holds_no_block_key_and_no_reference_md5(block_evidence):
    data = block_evidence.sealed.read_bytes()
    with HashSet(block_evidence.compiled) as hs:
        keys = [bytes(k) for k in hs.vectors("block")]
        ids = {e.id.split(":")[0] for e in hs.iter_entries("block")}
    assert len(keys) == 22 and ids == {block_evidence.md5(n) for n in ("live", "loose")}
    for k in keys:
        assert k[:8] not in data and k[8:] not in data and k.hex().encode() not in data
    for md5 in ids:
        assert bytes.fromhex(md5) not in data and md5.encode() not in data
    with HashSet(block_evidence.sealed) as hs:
        assert "block" in hs.signals
        with pytest.raises(HashSetError, match="cannot list, diff or export its block"):
            hs.vectors("block")


def test_sealed_blocks_confirm_the_full_key_and_decrypt_only_with_it(block_evidence):
    from triage.signals.blocks import BLOCK, key
    picture = block_evidence.pictures["loose"]
    blocks = [picture[i:i + BLOCK] for i in range(0, 12 * BLOCK, BLOCK)]
    with HashSet(block_evidence.compiled) as open_, HashSet(block_evidence.sealed) as sealed_:
        for index in (open_.blocks(), sealed_.blocks()):
            quick = np.array([int.from_bytes(key(b)[:8], "big") for b in blocks] + [12345],
                             np.uint64)
            assert index.candidates(quick)[:12].tolist() == list(range(12))
            found = index.confirm([key(b) for b in blocks])
            assert [(q, r.md5, r.index, r.size, r.category) for q, r in found] == [
                (i, block_evidence.md5("loose"), i, len(picture), "1") for i in range(12)]
            # the fast half alone with another confirming half is no block of the set
            assert index.confirm([key(blocks[0])[:8] + bytes(8)]) == []
        # the prefilter lets through about 2**-16 of what is not listed
        rng = np.random.default_rng(5)
        other = rng.integers(0, 2 ** 63, 200_000, dtype=np.uint64)
        assert len(sealed_.blocks().candidates(other)) <= 20


def test_a_damaged_sealed_block_record_is_no_match(block_evidence, tmp_path):
    from triage.signals.blocks import key
    block = block_evidence.pictures["live"][:4096]

    def flip(h, a):
        a["sealed.block.payload"] = a["sealed.block.payload"] ^ np.uint8(0x80)
    bad = rewrite(block_evidence.sealed, tmp_path / "bad.sealed", flip)
    with HashSet(bad) as hs:
        assert hs.blocks().confirm([key(block)]) == []
    with HashSet(block_evidence.sealed) as hs:
        assert len(hs.blocks().confirm([key(block)])) == 1


@pytest.mark.parametrize("change, reason", [
    (lambda h, a: a.update({"sealed.block.tag_lo": a["sealed.block.tag_lo"][::-1].copy()}),
     "tags are missing, of the wrong length or not sorted"),
    (lambda h, a: a.update({"sealed.block.payload": a["sealed.block.payload"][:, :16].copy()}),
     "records are missing or of the wrong shape"),
    (lambda h, a: h["sealed"]["blocks"].update(distinct=3), "prefilter geometry"),
    (lambda h, a: h["sealed"]["blocks"].update(bits=0), "prefilter width"),
    (lambda h, a: a.pop("sealed.block.prefilter"), "prefilter cells are missing"),
    (lambda h, a: h["sealed"].pop("blocks"), "array(s) no signal uses"),
])
def test_a_crafted_sealed_block_part_is_refused(block_evidence, tmp_path, change, reason):
    bad = rewrite(block_evidence.sealed, tmp_path / "bad.sealed", change)
    with pytest.raises(HashSetError, match=re.escape(reason)):
        HashSet(bad)


def test_a_sealed_known_good_block_set_drops_its_blocks_at_build(block_evidence, tmp_path):
    """`build --blocks --known-good SEALED`: the blocks a sealed known-good set lists are
    dropped as they are with the unsealed one."""
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "new.jpg").write_bytes(block_evidence.pictures["loose"][:8 * 4096]
                                  + np.random.default_rng(1).bytes(3 * 4096))
    kept = {}
    for form in ("compiled", "sealed"):
        out = tmp_path / f"{form}.tset"
        run = run_triage("hashset", "build", ref, "-o", out, "--blocks", "--known-good",
                         getattr(block_evidence, form), "--no-progress")
        assert run.code == 0, run.stderr
        with HashSet(out) as hs:
            kept[form] = sorted(int(e.id.split(":")[1]) for e in hs.iter_entries("block"))
    assert kept == {"compiled": [8, 9, 10], "sealed": [8, 9, 10]}


def test_info_says_how_sealed_blocks_are_confirmed(block_evidence):
    run = run_triage("hashset", "info", block_evidence.sealed)
    assert run.code == 0, run.stderr
    assert ("sealed:     block digests as keyed fingerprints: a 16-bit filter of their fast "
            "halves, each window it lets through confirmed by a 128-bit keyed tag of the full "
            "digest (as strong as the unsealed set's comparison); a reference file's MD5 is "
            "readable only with its blocks' bytes") in run.stdout.splitlines()
    assert "  block                22             0 sized" in run.stdout.splitlines()


def test_info_says_what_a_scan_screens_with_a_sealed_fingerprinted_set(tmp_path):
    """Sealed without its sizes, a fingerprinted set screens every file, not "a file of a
    listed size" (there are none), as its info said."""
    from triage.hashsets.build import build_set
    ref = tmp_path / "ref"
    ref.mkdir()
    (ref / "a.bin").write_bytes(b"reference " * 1000)
    built = tmp_path / "ref.tset"
    build_set(ref, built, names=("md5", "edges"))
    lines = {}
    for name, options in (("plain", None), ("sealed", []), ("sized", ["--keep-sizes"])):
        path = built
        if options is not None:
            path = tmp_path / f"{name}.sealed"
            assert run_triage("hashset", "seal", built, "-o", path, *options).code == 0
        info = run_triage("hashset", "info", path)
        lines[name] = next(line for line in info.stdout.splitlines()
                           if line.startswith("screening:"))
    assert "reads 8 KiB of a file of a listed size," in lines["plain"]
    assert "reads 8 KiB of each file," in lines["sealed"]
    assert lines["sized"] == lines["plain"]
