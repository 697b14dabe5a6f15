"""Pictures stored after a picture's end (`cat cover.jpg secret.jpg > cover.jpg`): each complete
JPEG or PNG after a decoded picture's end is a child, `appended-N.jpg`, judged as any file;
a thumbnail inside the picture's own metadata is not one."""

from __future__ import annotations

import hashlib
import io
import json
import struct

from PIL import Image

from archive_fixtures import KNOWN, PHOTOS, UNRELATED
from support import run_triage
from triage.containers.trailing import appended_pictures, end_of

COVER = (PHOTOS / UNRELATED[0]).read_bytes()
SECRET = (PHOTOS / KNOWN[0]).read_bytes()


def _png(name: str, size=None) -> bytes:
    out = io.BytesIO()
    with Image.open(PHOTOS / name) as img:
        (img.resize(size) if size else img).save(out, "PNG")
    return out.getvalue()


def _with_thumbnail(jpeg: bytes, thumbnail: bytes) -> bytes:
    """`jpeg` with an APP1 segment holding `thumbnail` whole, as EXIF keeps one."""
    body = b"Exif\x00\x00" + thumbnail
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def test_the_pictures_after_a_pictures_end_and_no_other():
    assert end_of(COVER) == len(COVER) and end_of(SECRET) == len(SECRET)
    joined = COVER + SECRET
    assert appended_pictures(joined, len(joined)) == [(len(COVER), len(joined))]
    # junk between, then a PNG and a JPEG; a truncated JPEG after them is no picture
    junk = b"\x00padding" * 100
    png = _png(KNOWN[1], (64, 48))
    many = COVER + junk + png + SECRET + SECRET[: len(SECRET) // 2]
    first = len(COVER) + len(junk)
    assert appended_pictures(many, len(COVER)) == [
        (first, first + len(png)), (first + len(png), first + len(png) + len(SECRET))]
    # a thumbnail in the metadata is the picture's own, not after it
    thumbnail = _with_thumbnail(COVER, SECRET[:2] + b"\xff\xd9")
    assert appended_pictures(_with_thumbnail(COVER, SECRET), len(COVER)) == []
    assert appended_pictures(thumbnail, len(thumbnail)) == []
    assert appended_pictures(COVER, len(COVER)) == []
    png_cover = _png(UNRELATED[1])
    assert appended_pictures(png_cover + SECRET, len(png_cover)) == [
        (len(png_cover), len(png_cover) + len(SECRET))]
    assert appended_pictures(b"II*\x00" + SECRET, 4) == []   # a TIFF's strips are its own


def test_a_scan_finds_a_known_picture_hidden_after_another(tmp_path, reference_set):
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "cover.jpg").write_bytes(COVER + SECRET)
    (ev / "cover.png").write_bytes(_png(UNRELATED[1]) + _png(KNOWN[2]))
    (ev / "plain.jpg").write_bytes(COVER)
    (ev / "thumbnailed.jpg").write_bytes(_with_thumbnail(COVER, SECRET))
    run = run_triage("scan", ev, "--hashset", reference_set, "-o", tmp_path / "out", "-q")
    assert run.code == 1, run.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    hits = {h["path"]: h for h in report["hits"]}
    assert sorted(hits) == ["/cover.jpg!/appended-1.jpg", "/cover.png!/appended-1.png"]
    assert hits["/cover.jpg!/appended-1.jpg"]["md5"] == hashlib.md5(SECRET).hexdigest()
    assert {m["signal"] for m in hits["/cover.png!/appended-1.png"]["matches"]} >= {"pdq"}
    assert report["errors"] == [] and report["summary"]["files_seen"] == 6
    off = run_triage("scan", ev, "--hashset", reference_set, "-o", tmp_path / "off", "-q",
                     "--no-archives")
    assert off.code == 0, off.stderr   # nothing looked into: the covers alone, clean
