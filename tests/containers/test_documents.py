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


def test_known_pictures_in_a_docx_a_pdf_and_a_mailbox_are_found(tmp_path):
    from archive_fixtures import reference_set

    class Factory:
        def mktemp(self, name):
            (tmp_path / name).mkdir()
            return tmp_path / name
    known_set = reference_set(Factory())
    ev = tmp_path / "ev"
    ev.mkdir()
    make_documents(ev)
    out = tmp_path / "out"
    run = run_triage("scan", str(ev), "--hashset", str(known_set), "-o", str(out), "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
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
    listed = run_triage("files", str(ev / "inbox.mbox"))
    assert [json.loads(line)["path"] for line in listed.stdout.splitlines()] == [
        "/inbox.mbox", f"/inbox.mbox!/message1/3-holiday-{KNOWN[2]}",
        f"/inbox.mbox!/message2/3-holiday-{UNRELATED[1]}"]
