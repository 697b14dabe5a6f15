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

MAGIC = b"!BDN"


@register
class PstReader(ContainerReader):
    name = "pst"
    mimes = ("application/vnd.ms-outlook",)

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
            yield Member(name=f"{where}message{message.get_identifier()}/{number + 1}-{name}",
                         size=attachment.get_size(),
                         open=lambda attachment=attachment: _Attachment(attachment))


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


class _Attachment(io.RawIOBase):
    """An attachment's data as a file object (libpff reads it where it lies; it tells no
    offset, so the position is kept here)."""

    def __init__(self, attachment):
        super().__init__()
        self._attachment = attachment
        self._size = attachment.get_size()
        self._pos = 0
        attachment.seek_offset(0, io.SEEK_SET)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        self._attachment.seek_offset(self._pos, io.SEEK_SET)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        left = max(0, self._size - self._pos)
        n = left if n is None or n < 0 else min(n, left)
        data = self._attachment.read_buffer(n) if n else b""
        self._pos += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)
