"""Pictures in legacy Office documents: OLE2 files written by tests/ole_writer.py whose streams
hold OfficeArt BLIP records laid out as MS-ODRAW documents them (Word's `Data`, PowerPoint's
`Pictures`, Excel's drawing group in `Workbook`, split over BIFF CONTINUE records). Known
JPEGs are found with their exact digests; the unrelated picture is not; records that lie are
skipped; a damaged file is an error record and the scan goes on."""

from __future__ import annotations

import hashlib
import io
import json
import struct

from archive_fixtures import KNOWN, PHOTOS, UNRELATED
from ole_writer import compound_file
from support import run_triage

from triage.containers import office

JPEG, PNG = 0xF01D, 0xF01E


def blip(kind: int, picture: bytes, two_uids: bool = False) -> bytes:
    """An OfficeArtBlipJPEG/PNG record: header, UID(s), tag byte, the picture file."""
    instance = {JPEG: 0x46A, PNG: 0x6E0}[kind] + (1 if two_uids else 0)
    body = bytes(range(16)) * (2 if two_uids else 1) + b"\xff" + picture
    return struct.pack("<HHI", instance << 4, kind, len(body)) + body


def png_of(name: str) -> bytes:
    from PIL import Image
    out = io.BytesIO()
    with Image.open(PHOTOS / name) as img:
        img.save(out, "PNG")
    return out.getvalue()


def biff(kind: int, body: bytes) -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


def workbook(drawing_group: bytes) -> bytes:
    """BOF, the drawing group as one MSODRAWINGGROUP and CONTINUE records of 8,224 bytes, EOF."""
    chunks = [drawing_group[i:i + 8224] for i in range(0, len(drawing_group), 8224)]
    return (biff(0x0809, struct.pack("<HH", 0x0600, 0x0005) + bytes(12))
            + biff(0x00EB, chunks[0]) + b"".join(biff(0x003C, c) for c in chunks[1:])
            + biff(0x000A, b""))


def make_documents(folder):
    known = [(PHOTOS / name).read_bytes() for name in KNOWN[:3]]
    bogus = struct.pack("<HHI", 0, JPEG, 10**9) + b"\xff\xd8\xff"   # runs past the stream
    (folder / "letter.doc").write_bytes(compound_file({
        "WordDocument": b"\xec\xa5\xc1\x00" + bytes(60),
        "1Table": bytes(64),
        "Data": b"\x44\x00\x00\x00PICF" + bytes(60) + blip(JPEG, known[0]) + bytes(7)
                + blip(PNG, png_of(UNRELATED[0]), two_uids=True) + bogus}))
    (folder / "slides.ppt").write_bytes(compound_file({
        "PowerPoint Document": bytes(64),
        "Pictures": blip(JPEG, known[1], two_uids=True)
                    + blip(JPEG, (PHOTOS / UNRELATED[1]).read_bytes())}))
    pictures = blip(JPEG, known[2])   # 11,530 bytes: over one BIFF record
    group = (struct.pack("<HHI", 0xF, 0xF000, 8 + len(pictures))
             + struct.pack("<HHI", 0xF, 0xF001, len(pictures)) + pictures)
    (folder / "sheet.xls").write_bytes(compound_file({"Workbook": workbook(group)}))
    return known


def test_pictures_in_a_doc_a_ppt_and_an_xls_are_children_and_known_ones_hit(
        tmp_path, reference_set):
    ev = tmp_path / "ev"
    ev.mkdir()
    known = make_documents(ev)
    (ev / "broken.doc").write_bytes((ev / "letter.doc").read_bytes()[:1000])
    listed = [json.loads(line) for line in run_triage("files", str(ev)).stdout.splitlines()]
    assert [r["path"] for r in listed] == [
        "/broken.doc", "/broken.doc",
        "/letter.doc", "/letter.doc!/Data/1.jpg", "/letter.doc!/Data/2.png",
        "/sheet.xls", "/sheet.xls!/Workbook/1.jpg",
        "/slides.ppt", "/slides.ppt!/Pictures/1.jpg", "/slides.ppt!/Pictures/2.jpg"]
    assert listed[1]["error"].startswith("archive not examined at its start: ole2 archive "
                                         "damaged: ")
    sizes = {r["path"]: r["size"] for r in listed if "error" not in r}
    assert sizes["/letter.doc!/Data/1.jpg"] == len(known[0])
    assert sizes["/letter.doc!/Data/2.png"] == len(png_of(UNRELATED[0]))
    assert sizes["/sheet.xls!/Workbook/1.jpg"] == len(known[2])

    out = tmp_path / "out"
    run = run_triage("scan", str(ev), "--hashset", str(reference_set), "-o",
                     str(out), "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    hits = {h["path"]: h for h in report["hits"]}
    assert sorted(hits) == ["/letter.doc!/Data/1.jpg", "/sheet.xls!/Workbook/1.jpg",
                            "/slides.ppt!/Pictures/1.jpg"]
    for path, data in zip(sorted(hits), (known[0], known[2], known[1])):
        assert hits[path]["md5"] == hashlib.md5(data).hexdigest()
        assert "md5" in {m["signal"] for m in hits[path]["matches"]}
    assert [e["path"] for e in report["errors"]] == ["/broken.doc"]


def test_blip_records_that_lie_are_skipped():
    jpeg = (PHOTOS / KNOWN[0]).read_bytes()
    good = blip(JPEG, jpeg)
    versioned = bytearray(good)
    versioned[0] |= 0x0F   # a container record (version 0xF), not a BLIP
    no_signature = blip(JPEG, b"\x00" * 100 + jpeg)   # the picture must begin in its prefix
    data = b"\x1d\xf0" + bytes(versioned) + no_signature + good + good[:-1]
    assert [(s, e, k) for s, e, k in office.blips(data)] == [
        (2 + len(versioned) + len(no_signature) + 25,
         2 + len(versioned) + len(no_signature) + len(good), "jpg")]
    assert list(office.blips(b"")) == [] and list(office.blips(b"\x00\x00\x1e\xf0")) == []


def test_the_drawing_group_is_joined_across_continue_records_and_nothing_else():
    group = bytes(range(256)) * 40   # 10,240 bytes: one MSODRAWINGGROUP and one CONTINUE
    book = workbook(group)
    # another record, then a CONTINUE that belongs to it, is not the drawing group's
    book += biff(0x0022, b"\x01\x00") + biff(0x003C, b"not pictures")
    assert office.drawing_group(book) == group
    assert office.drawing_group(book[:-3]) == group   # a cut record ends the walk


def test_a_document_saved_with_a_password_is_not_examined(tmp_path, reference_set):
    """MS-OFFCRYPTO: a document whose content is encrypted shows no picture, as a clean one
    would; each of these is an error record instead, while the same document without the
    mark gives its known picture as a hit. The pictures are stored plain here (a real
    encrypted document's are ciphertext), so a scan that missed the mark would hit them."""
    known = (PHOTOS / KNOWN[0]).read_bytes()
    fib = b"\xec\xa5\xc1\x00" + bytes(6)
    docs = {
        "ooxml.docx": {"EncryptionInfo": bytes(64), "EncryptedPackage": bytes(64),
                       "Data": blip(JPEG, known)},
        "word.doc": {"WordDocument": fib + struct.pack("<H", 0x0100) + bytes(52),
                     "Data": blip(JPEG, known)},
        "sheet.xls": {"Workbook": biff(0x0809, bytes(16)) + biff(0x002F, bytes(54))
                      + biff(0x00EB, blip(JPEG, known)) + biff(0x000A, b"")},
        "slides.ppt": {"Current User": struct.pack("<HHIII", 0, 0x0FF6, 20, 20, 0xF3D1C4DF),
                       "Pictures": blip(JPEG, known)},
        "plain.doc": {"WordDocument": fib + struct.pack("<H", 0x0008) + bytes(52),
                      "Data": blip(JPEG, known)},
    }
    ev = tmp_path / "ev"
    ev.mkdir()
    for name, streams in docs.items():
        (ev / name).write_bytes(compound_file(streams))
    out = tmp_path / "out"
    run = run_triage("scan", str(ev), "--hashset", str(reference_set), "-o", str(out), "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    assert [h["path"] for h in report["hits"]] == ["/plain.doc!/Data/1.jpg"]
    assert sorted((e["path"], e["reason"]) for e in report["errors"]) == [
        (f"/{name}", "archive not examined at its start: encrypted, not examined")
        for name in sorted(docs) if name != "plain.doc"]
