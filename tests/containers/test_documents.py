"""Pictures inside documents and mail: a DOCX made with python-docx (OOXML is a zip: its media
come free), a PDF written by Pillow (its image XObject decoded through pypdf), an mbox written
by Python's mailbox module (attachments). Known photos are found; the rest is not."""

from __future__ import annotations

import hashlib
import json
import mailbox
from email.message import EmailMessage

from archive_fixtures import KNOWN, PHOTOS, UNRELATED
from support import run_triage


def make_documents(folder):
    import docx
    from PIL import Image
    document = docx.Document()
    document.add_paragraph("a report")
    document.add_picture(str(PHOTOS / KNOWN[0]))
    document.add_picture(str(PHOTOS / UNRELATED[0]))
    document.save(folder / "report.docx")
    with Image.open(PHOTOS / KNOWN[1]) as img:   # re-encoded into the PDF by Pillow
        img.save(folder / "scan.pdf")
    box = mailbox.mbox(str(folder / "inbox.mbox"))
    for name in (KNOWN[2], UNRELATED[1]):
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.org", "b@example.org", "x"
        message.set_content("see attached")
        message.add_attachment((PHOTOS / name).read_bytes(), maintype="image", subtype="jpeg",
                               filename=f"holiday-{name}")
        box.add(message)
    box.flush()
    box.close()


def _scanned(tmp_path, make) -> dict:
    """The report of a scan of a folder that `make(folder)` fills, against the reference set
    of the archive collection's known photos; the scan must find hits."""
    from archive_fixtures import reference_set

    class Factory:
        def mktemp(self, name):
            (tmp_path / name).mkdir()
            return tmp_path / name
    known_set = reference_set(Factory())
    ev = tmp_path / "ev"
    ev.mkdir()
    make(ev)
    out = tmp_path / "out"
    run = run_triage("scan", str(ev), "--hashset", str(known_set), "-o", str(out), "-q")
    assert run.code == 1, run.stderr
    assert run.stderr == ""   # quiet: what a library says is in the report, not the terminal
    return json.loads((out / "report.json").read_text())


def test_known_pictures_in_a_docx_a_pdf_and_a_mailbox_are_found(tmp_path):
    report = _scanned(tmp_path, make_documents)
    hits = {h["path"]: h for h in report["hits"]}
    assert sorted(hits) == ["/inbox.mbox!/message1/3-holiday-" + KNOWN[2],
                            "/report.docx!/word/media/image1.jpg", "/scan.pdf!/page1/1-image.jpg"]
    assert report["errors"] == []
    docx_hit = hits["/report.docx!/word/media/image1.jpg"]
    assert docx_hit["md5"] == hashlib.md5((PHOTOS / KNOWN[0]).read_bytes()).hexdigest()
    assert "md5" in {m["signal"] for m in docx_hit["matches"]}
    pdf_hit = hits["/scan.pdf!/page1/1-image.jpg"]
    assert {m["signal"] for m in pdf_hit["matches"]} <= {"pdq", "phash"}
    mail_hit = hits["/inbox.mbox!/message1/3-holiday-" + KNOWN[2]]
    assert mail_hit["md5"] == hashlib.md5((PHOTOS / KNOWN[2]).read_bytes()).hexdigest()
    listed = run_triage("files", str(tmp_path / "ev" / "inbox.mbox"))
    assert [json.loads(line)["path"] for line in listed.stdout.splitlines()] == [
        "/inbox.mbox", f"/inbox.mbox!/message1/3-holiday-{KNOWN[2]}",
        f"/inbox.mbox!/message2/3-holiday-{UNRELATED[1]}"]


def _jpeg_xobject(writer, name: str):
    """An image XObject holding the photo `name` as it is (DCTDecode: the JPEG's own bytes)."""
    from PIL import Image
    from pypdf.generic import NameObject, NumberObject, StreamObject
    data = (PHOTOS / name).read_bytes()
    with Image.open(PHOTOS / name) as img:
        width, height = img.size
    image = StreamObject()
    image.set_data(data)
    image.update({NameObject("/Type"): NameObject("/XObject"),
                  NameObject("/Subtype"): NameObject("/Image"),
                  NameObject("/Width"): NumberObject(width),
                  NameObject("/Height"): NumberObject(height),
                  NameObject("/ColorSpace"): NameObject("/DeviceRGB"),
                  NameObject("/BitsPerComponent"): NumberObject(8),
                  NameObject("/Filter"): NameObject("/DCTDecode")})
    return writer._add_object(image)


def _pdf_with_forms_and_inline_images(path) -> None:
    """Page 1: a photo drawn directly and one inside a form XObject (used twice), no inline
    image. Page 2: an inline image beside a photo. Page 3: text alone. Page 4: a form that
    holds itself (a loop a reader must not follow forever)."""
    from pypdf import PdfWriter
    from pypdf.generic import (ArrayObject, DecodedStreamObject, DictionaryObject, NameObject,
                               NumberObject)

    def xobjects(**named):
        return DictionaryObject({NameObject("/XObject"): DictionaryObject(
            {NameObject(f"/{k}"): v for k, v in named.items()})})

    def content(page, data: bytes):
        stream = DecodedStreamObject()
        stream.set_data(data)
        page[NameObject("/Contents")] = writer._add_object(stream)

    def form(resources, data: bytes):
        stream = DecodedStreamObject()
        stream.set_data(data)
        stream.update({NameObject("/Type"): NameObject("/XObject"),
                       NameObject("/Subtype"): NameObject("/Form"),
                       NameObject("/BBox"): ArrayObject([NumberObject(0)] * 2 +
                                                        [NumberObject(10)] * 2)})
        if resources is not None:
            stream[NameObject("/Resources")] = resources
        return writer._add_object(stream)

    writer = PdfWriter()
    known, unrelated = _jpeg_xobject(writer, KNOWN[0]), _jpeg_xobject(writer, UNRELATED[0])
    holder = form(xobjects(Photo=known), b"q 10 0 0 10 0 0 cm /Photo Do Q")
    page = writer.add_blank_page(200, 200)
    page[NameObject("/Resources")] = xobjects(Im1=unrelated, Fm1=holder, Fm2=holder)
    content(page, b"q 50 0 0 50 0 0 cm /Im1 Do Q /Fm1 Do /Fm2 Do")
    page = writer.add_blank_page(200, 200)
    page[NameObject("/Resources")] = xobjects(Im1=known)
    content(page, b"q 2 0 0 2 0 0 cm BI/W 2/H 2/CS/G/BPC 8 ID \x00\xff\xff\x00 EI Q "
                  b"/Im1 Do")
    page = writer.add_blank_page(200, 200)
    content(page, b"BT /F1 12 Tf 10 10 Td (a page of text: BIG BIRD, not an image) Tj ET")
    page = writer.add_blank_page(200, 200)
    loop = form(None, b"/Self Do")
    writer.get_object(loop)[NameObject("/Resources")] = xobjects(Self=loop)
    page[NameObject("/Resources")] = xobjects(Fm1=loop)
    content(page, b"/Fm1 Do")
    with open(path, "wb") as f:
        writer.write(f)


def test_a_pdf_s_images_are_pypdf_s_without_its_parse_of_every_page_s_text(tmp_path):
    """PdfReader lists a page's image XObjects (a form's too) without pypdf's parse of the
    whole content stream, and leaves a page with an inline image to that parse: the images
    of pypdf's page.images, under its names, on every page. A JPEG is its stored bytes, the
    photo's own (pypdf's image data is the picture saved again); any other, pypdf's PNG."""
    import pypdf
    from triage.containers.documents import _page_images
    path = tmp_path / "mixed.pdf"
    _pdf_with_forms_and_inline_images(path)
    theirs = [[(i.name, i.data) for i in page.images] for page in pypdf.PdfReader(path).pages]
    ours = [[(name, data()) for name, data in _page_images(page)]
            for page in pypdf.PdfReader(path).pages]
    assert [[name for name, _ in page] for page in ours] == \
        [[name for name, _ in page] for page in theirs] == \
        [["Im1.jpg", "Photo.jpg"], ["Im1.jpg", "~0~.png"], [], []]
    photo, other = (PHOTOS / KNOWN[0]).read_bytes(), (PHOTOS / UNRELATED[0]).read_bytes()
    assert [data for _, data in ours[0]] == [other, photo]
    assert ours[1] == [("Im1.jpg", photo), theirs[1][1]]
    assert theirs[0][1][1] != photo   # what pypdf gives: the same picture, other bytes


def test_a_known_photo_inside_a_pdf_form_is_found(tmp_path):
    report = _scanned(tmp_path, lambda ev: _pdf_with_forms_and_inline_images(ev / "mixed.pdf"))
    md5 = hashlib.md5((PHOTOS / KNOWN[0]).read_bytes()).hexdigest()
    assert sorted((h["path"], h["md5"]) for h in report["hits"]) == [
        ("/mixed.pdf!/page1/2-Photo.jpg", md5), ("/mixed.pdf!/page2/1-Im1.jpg", md5)]
    assert report["errors"] == [] and report["summary"]["files_seen"] == 5


def test_a_pdf_resource_that_is_no_stream_is_passed_over_as_pypdf_passes_it(tmp_path):
    """An /XObject entry that is a number or an array (a damaged or hostile PDF) is no image:
    passed over, as pypdf's page.images passes it, not an error that leaves the PDF's other
    images unread."""
    import pypdf
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject
    from triage.containers.documents import _page_images
    writer = PdfWriter()
    page = writer.add_blank_page(100, 100)
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/XObject"): DictionaryObject({
        NameObject("/X1"): NumberObject(7), NameObject("/X2"): ArrayObject([NumberObject(1)]),
        NameObject("/Im1"): _jpeg_xobject(writer, KNOWN[0])})})
    path = tmp_path / "odd.pdf"
    with open(path, "wb") as f:
        writer.write(f)
    [page] = pypdf.PdfReader(path).pages
    assert [image.name for image in page.images] == ["Im1.jpg"]
    [page] = pypdf.PdfReader(path).pages
    assert [(name, data()) for name, data in _page_images(page)] == \
        [("Im1.jpg", (PHOTOS / KNOWN[0]).read_bytes())]


def _repaired_pdf(ev):
    """scan.pdf, a known photo in a PDF whose startxref points 7 bytes off: pypdf repairs it,
    and says so in its log, the offset among its values."""
    import re
    from PIL import Image
    with Image.open(PHOTOS / KNOWN[1]) as img:
        img.save(ev / "scan.pdf")
    data = (ev / "scan.pdf").read_bytes()
    xref = re.search(rb"startxref\s+(\d+)\s+%%EOF", data)
    (ev / "scan.pdf").write_bytes(data[:xref.start(1)] + str(int(xref.group(1)) - 7).encode()
                                  + data[xref.end(1):])


def test_what_pypdf_says_of_a_pdf_it_repairs_is_that_pdf_s_warning_without_its_values(
        tmp_path):
    """pypdf repairs a PDF whose startxref points 7 bytes off, and says so in its log: that is
    a warning on the PDF's record, the message without the values it held (a document
    library's values can be the document's text), and nothing on the terminal. The known
    photo inside is still found."""
    report = _scanned(tmp_path, _repaired_pdf)
    assert [h["path"] for h in report["hits"]] == ["/scan.pdf!/page1/1-image.jpg"]
    assert report["errors"] == []
    assert [(w["path"], w["reason"]) for w in report["warnings"]] == [
        ("/scan.pdf", "container library warning: pypdf._reader: incorrect startxref "
                      "pointer(...)"),
        ("/scan.pdf", "container library warning: pypdf._reader: parsing for Object Streams")]


def test_files_shows_what_pypdf_says_as_a_warning_on_the_pdf_without_its_values(tmp_path):
    """`triage files` lists the repaired PDF and its photo; what pypdf says goes to stderr as
    a warning naming the PDF, its values left out. Before, pypdf's own lines reached stderr
    as they were ("incorrect startxref pointer(1)")."""
    _repaired_pdf(tmp_path)
    run = run_triage("files", str(tmp_path), "--hash", "md5")
    assert run.code == 0, run.stderr
    assert [r["path"] for r in run.lines()] == ["/scan.pdf", "/scan.pdf!/page1/1-image.jpg"]
    where = f"triage: warning: {tmp_path}: /scan.pdf: container library warning: pypdf._reader"
    assert run.stderr.splitlines() == [f"{where}: incorrect startxref pointer(...)",
                                       f"{where}: parsing for Object Streams"]


def test_a_docx_saved_with_a_password_is_not_examined(tmp_path):
    """The same DOCX encrypted with a password as Office does it (msoffcrypto-tool: the
    package inside an OLE2 file, which libmagic calls application/encrypted): not clean, an
    error record, while the plain copy beside it gives its hit."""
    import io
    import msoffcrypto.format.ooxml

    def make(folder):
        make_documents(folder)
        locked = io.BytesIO()
        with open(folder / "report.docx", "rb") as plain:
            msoffcrypto.format.ooxml.OOXMLFile(plain).encrypt("a password", locked)
        (folder / "locked.docx").write_bytes(locked.getvalue())
    report = _scanned(tmp_path, make)
    assert not any(h["path"].startswith("/locked.docx") for h in report["hits"])
    assert any(h["path"].startswith("/report.docx!/") for h in report["hits"])
    assert [(e["path"], e["reason"]) for e in report["errors"]] == [
        ("/locked.docx", "archive not examined at its start: encrypted, not examined")]
