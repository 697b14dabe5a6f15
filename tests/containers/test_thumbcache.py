"""Thumbnail caches: thumbcache_*.db of every documented format version, written by the tests'
own writer (tests/thumbcache_writer.py) and cross-checked with an independent reader,
dissect.thumbcache (AGPL-3.0: a test dependency only, never imported by triage). A thumbnail
of a known picture is found perceptually and reported as a thumbnail of a viewed picture."""

from __future__ import annotations

import io
import json

import pytest

from archive_fixtures import KNOWN, PHOTOS, UNRELATED
from support import run_triage
from thumbcache_writer import cache

VERSIONS = (20, 21, 30, 31, 32)


def thumbnail(name: str, side: int = 256, kind: str = "JPEG") -> bytes:
    """What Explorer stores: the picture scaled to fit side x side, re-encoded."""
    from PIL import Image
    with Image.open(PHOTOS / name) as img:
        img = img.convert("RGB")
        img.thumbnail((side, side))
        out = io.BytesIO()
        img.save(out, kind)
    return out.getvalue()


ENTRIES = [("5f2e1a9c0b7d4e31", KNOWN[0], "JPEG"), ("a1", UNRELATED[0], "PNG"),
           ("cafe0000beef", KNOWN[1], "BMP")]


def entries():
    return [(ident, thumbnail(name, kind=kind)) for ident, name, kind in ENTRIES]


def members(raw: bytes):
    from triage import containers
    from triage.containers.thumbcache import ThumbcacheReader
    assert containers.detect(raw[:65536]).name == "thumbcache"
    budget = containers.Budget(containers.Bounds(), len(raw))
    out = []
    for m in ThumbcacheReader().members(io.BytesIO(raw), len(raw), budget, "/t.db"):
        with m.open() as f:
            out.append((m.name, m.note, f.read()))
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_every_format_version_gives_every_thumbnail(version):
    made = entries()
    found = members(cache(version, 4, made))
    assert [(n, d) for n, _, d in found] == [
        (ident + ext, data) for (ident, data), ext in zip(made, (".jpg", ".png", ".bmp"))]
    assert {note for _, note, _ in found} == {"thumbnail of a viewed picture"}


@pytest.mark.parametrize("version", (20, 21, 31, 32))   # dissect.thumbcache knows these
def test_an_independent_reader_reads_the_same_cache(version):
    from dissect.thumbcache import ThumbcacheFile
    raw = cache(version, 2, entries())
    theirs = [(f"{int.from_bytes(bytes.fromhex(e.hash), 'little'):x}", e.data)
              for e in ThumbcacheFile(io.BytesIO(raw)).entries() if e.data]
    ours = [(name.rsplit(".", 1)[0], data) for name, _, data in members(raw)]
    assert ours == theirs and len(ours) == len(ENTRIES)


def test_not_a_cache_and_a_damaged_cache():
    from triage import containers
    assert containers.detect(b"CMMM" + (99).to_bytes(4, "little") + bytes(100)) is None
    raw = bytearray(cache(32, 4, entries()))
    raw[24 + 4:24 + 8] = (10 ** 9).to_bytes(4, "little")   # the first entry's size: too large
    with pytest.raises(ValueError, match="cache entry at offset 24 is inconsistent"):
        members(bytes(raw))


def test_a_thumbnail_of_a_known_picture_is_found_perceptually(tmp_path):
    from archive_fixtures import reference_set

    class Factory:
        def mktemp(self, name):
            path = tmp_path / name
            path.mkdir()
            return path
    known_set = reference_set(Factory())
    ev = tmp_path / "ev" / "Users" / "x" / "AppData" / "Local" / "Microsoft" / "Windows" / \
        "Explorer"
    ev.mkdir(parents=True)
    (ev / "thumbcache_256.db").write_bytes(cache(32, 4, entries()))
    out = tmp_path / "out"
    run = run_triage("scan", str(tmp_path / "ev"), "--hashset", str(known_set), "-o", str(out),
                     "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    db = "/Users/x/AppData/Local/Microsoft/Windows/Explorer/thumbcache_256.db"
    assert sorted(h["path"] for h in report["hits"]) == [
        f"{db}!/5f2e1a9c0b7d4e31.jpg", f"{db}!/cafe0000beef.bmp"]
    for hit in report["hits"]:
        assert hit["note"] == "thumbnail of a viewed picture"
        assert hit["container_path"] == db
        assert {m["signal"] for m in hit["matches"]} <= {"pdq", "phash"}
    assert report["errors"] == []
    html = (out / "report.html").read_text()
    assert "thumbnail of a viewed picture" in html


def thumbs_db() -> bytes:
    """A Thumbs.db as XP writes one: a Catalog, and each thumbnail in a stream named by its
    number backwards, a 12-byte header before the JPEG; and one stream of the newer naming."""
    from ole_writer import compound_file

    def stream(index: int, jpeg: bytes) -> bytes:
        return (12).to_bytes(4, "little") + index.to_bytes(4, "little") + \
            len(jpeg).to_bytes(4, "little") + jpeg
    return compound_file({
        "Catalog": b"\x10\x00\x07\x00" + bytes(12),
        "1": stream(1, thumbnail(KNOWN[2], 96)),
        "21": stream(12, thumbnail(UNRELATED[0], 96)),
        "256_79dea834bece3f6b": stream(0, thumbnail(KNOWN[3])),
    })


def test_thumbs_db_thumbnails_are_children_and_known_ones_hit(tmp_path):
    from archive_fixtures import reference_set

    class Factory:
        def mktemp(self, name):
            (tmp_path / name).mkdir()
            return tmp_path / name
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "Thumbs.db").write_bytes(thumbs_db())
    listed = run_triage("files", str(ev / "Thumbs.db"), "--hash", "md5")
    assert listed.code == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["path"] for r in rows] == ["/Thumbs.db", "/Thumbs.db!/1.jpg", "/Thumbs.db!/21.jpg",
                                         "/Thumbs.db!/256_79dea834bece3f6b.jpg"]
    # the JPEG from its start-of-image marker to the stream's end (the writer pads to 4 KiB)
    import hashlib
    jpeg = thumbnail(UNRELATED[0], 96)
    assert rows[2]["md5"] == hashlib.md5(jpeg.ljust(4096 - 12, b"\0")).hexdigest()
    out = tmp_path / "out"
    run = run_triage("scan", str(ev), "--hashset", str(reference_set(Factory())), "-o",
                     str(out), "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    assert sorted(h["path"] for h in report["hits"]) == [
        "/Thumbs.db!/1.jpg", "/Thumbs.db!/256_79dea834bece3f6b.jpg"]
    assert {h["note"] for h in report["hits"]} == {"thumbnail of a viewed picture"}
