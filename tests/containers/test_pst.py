"""Outlook PST/OST (pypff, libpff-python). Nothing here writes a PST and none could be fetched,
so what is tested is: detection by signature, the bad-input path (a damaged file is an error
record, the scan goes on, no internal error), and this reader's own walk and streaming over
objects that answer pypff's calls (not libpff itself)."""

from __future__ import annotations

import io
import json

from archive_fixtures import KNOWN, PHOTOS
from support import run_triage

from triage.containers import detect, pst


def damaged_pst() -> bytes:
    """A Unicode PST header's first bytes (`!BDN`, CRC, `SM`, client version 0x17) then
    nothing libpff can read."""
    return b"!BDN" + b"\x00" * 4 + b"SM" + b"\x17\x00" + b"\x13\x00\x01\x01" + bytes(500)


def test_a_pst_is_told_by_its_signature_not_its_name():
    assert detect(damaged_pst()).name == "pst"
    assert not pst.PstReader().claims("application/vnd.ms-outlook", b"!BDX" + damaged_pst())


def test_a_damaged_pst_is_an_error_record_and_the_scan_goes_on(tmp_path, reference_set):
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "mail.dat").write_bytes(damaged_pst())   # named neither .pst nor .ost
    (ev / "photo.jpg").write_bytes((PHOTOS / KNOWN[0]).read_bytes())
    listed = [json.loads(line) for line in run_triage("files", str(ev)).stdout.splitlines()]
    assert [r["path"] for r in listed] == ["/mail.dat", "/mail.dat", "/photo.jpg"]
    assert listed[1]["error"].startswith(
        "archive not examined at its start: pst archive damaged: ")
    out = tmp_path / "out"
    run = run_triage("scan", str(ev), "--hashset", str(reference_set), "-o",
                     str(out), "-q")
    assert run.code == 1, run.stderr
    report = json.loads((out / "report.json").read_text())
    assert [h["path"] for h in report["hits"]] == ["/photo.jpg"]
    assert [e["path"] for e in report["errors"]] == ["/mail.dat"]
    assert "pst archive damaged" in report["errors"][0]["reason"]


class Attachment:
    """Answers the pypff.attachment calls the reader makes."""

    def __init__(self, name, data):
        self._name, self._data, self._pos = name, data, 0

    def get_long_filename(self):
        return self._name

    def get_size(self):
        return len(self._data)

    def seek_offset(self, offset, whence):
        assert whence == io.SEEK_SET
        self._pos = offset

    def read_buffer(self, n):
        out = self._data[self._pos:self._pos + n]
        self._pos += len(out)
        return out


class Message:
    def __init__(self, identifier, attachments):
        self._id, self._attachments = identifier, attachments

    def get_identifier(self):
        return self._id

    def get_number_of_attachments(self):
        return len(self._attachments)

    def get_attachment(self, n):
        return self._attachments[n]


class Folder:
    def __init__(self, name, messages=(), folders=()):
        self._name, self._messages, self._folders = name, list(messages), list(folders)

    def get_name(self):
        return self._name

    def get_number_of_sub_messages(self):
        return len(self._messages)

    def get_sub_message(self, n):
        return self._messages[n]

    def get_number_of_sub_folders(self):
        return len(self._folders)

    def get_sub_folder(self, n):
        return self._folders[n]


def test_attachments_are_named_by_folder_message_and_file_name_and_streamed():
    photo = (PHOTOS / KNOWN[0]).read_bytes()
    root = Folder("", folders=[
        Folder("Top of Personal Folders", folders=[
            Folder("Inbox", [Message(2097188, [Attachment("holiday.jpg", photo),
                                               Attachment(None, b"x" * 10)])]),
            Folder("Sent/Old", [Message(2097220, [Attachment("a/b.png", b"png")])])])])
    members = list(pst.attachments(root))
    assert [(m.name, m.size) for m in members] == [
        ("Top of Personal Folders/Inbox/message2097188/1-holiday.jpg", len(photo)),
        ("Top of Personal Folders/Inbox/message2097188/2-attachment", 10),
        ("Top of Personal Folders/Sent_Old/message2097220/1-a_b.png", 3)]
    with members[0].open() as f:
        assert f.read(4) == photo[:4]
        f.seek(-2, io.SEEK_END)
        assert f.read() == photo[-2:] and f.read(5) == b""
        f.seek(0)
        assert f.read() == photo
