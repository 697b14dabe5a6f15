"""Outlook PST and OST files (Outlook 97 to 365, ANSI and Unicode), read through libpff
(`pypff`, PyPI libpff-python): every attachment of every message in every folder, by its
folder path, the message's identifier and the attachment's file name
(`Inbox/message2097188/1-holiday.jpg`). No subject, sender or body is ever part of a name.
An attachment is streamed from the open file (libpff reads it at an offset), never extracted.

Told by the file's signature (`!BDN`, which libmagic names application/vnd.ms-outlook).
Nothing here writes a PST, and none could be fetched: this reader is tested on its
detection and on damaged files only, not on a real mailbox (README, Limits)."""

from __future__ import annotations

import io
from typing import BinaryIO, Iterator, List, Tuple

from . import Budget, ContainerReader, Member, register
from .thumbcache import Slice

MAGIC = b"!BDN"


@register
class PstReader(ContainerReader):
    name = "pst"
    mimes = ("application/vnd.ms-outlook",)
    marks = ((0, MAGIC),)   # main's detect: a head without it never asks libmagic

    def claims(self, mime: str, head: bytes) -> bool:
        return head.startswith(MAGIC)

    def members(self, source: BinaryIO, size: int, budget: Budget,
                shown: str) -> Iterator[Member]:
        import pypff
        source.seek(0)
        pff = pypff.file()
        pff.open_file_object(source)
        try:
            yield from attachments(pff.get_root_folder())
        finally:
            pff.close()


def attachments(root) -> Iterator[Member]:
    """The attachments under a pypff folder, in folder order, then message order."""
    for where, message in _messages(root):
        for number in range(message.get_number_of_attachments()):
            attachment = message.get_attachment(number)
            name = _clean(attachment.get_long_filename() or "attachment")
            size = attachment.get_size()
            yield Member(name=f"{where}message{message.get_identifier()}/{number + 1}-{name}",
                         size=size, open=lambda attachment=attachment, size=size:
                         Slice(_AttachmentData(attachment), 0, size))


def _messages(root) -> Iterator[Tuple[str, object]]:
    """(folder path with a trailing slash, message) of every message, folders depth first,
    without recursion (a hostile file may nest folders deeply)."""
    pending: List[Tuple[str, object]] = [("", root)]
    while pending:
        where, folder = pending.pop()
        for number in range(folder.get_number_of_sub_messages()):
            yield where, folder.get_sub_message(number)
        subfolders = [folder.get_sub_folder(n) for n in range(folder.get_number_of_sub_folders())]
        pending.extend((f"{where}{_clean(sub.get_name() or 'folder')}/", sub)
                       for sub in reversed(subfolders))


def _clean(name: str) -> str:
    return name.replace("/", "_")


class _AttachmentData:
    """A pypff attachment's data as the seek-and-read source a Slice reads from."""

    def __init__(self, attachment):
        self._attachment = attachment

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> None:
        self._attachment.seek_offset(offset, whence)

    def read(self, n: int) -> bytes:
        return self._attachment.read_buffer(n)
