"""Documents and mail that hold pictures: PDF (each image XObject of each page, through pypdf)
and mbox mailboxes (each attachment, through the standard library's email parser). OOXML and
ODF documents are zips and read as such (`zip.py`); their `media/` pictures come free.

A PDF image is given as pypdf hands it over: a JPEG (DCTDecode) or JPEG 2000 stream as the
stream's own bytes (what an exact digest of the embedded original matches), any other encoding
decoded into a PNG (what a perceptual hash matches). An image is decoded only when the member
is read; one over the nest-memory bound is reported, not decoded."""

from __future__ import annotations

import io
import re
from typing import BinaryIO, Iterator

from . import Budget, ContainerReader, Member, OverBound, register


@register
class PdfReader(ContainerReader):
    name = "pdf"
    marks = ((0, b"%PDF-"),)
    mimes = ("application/pdf",)

    def members(self, source: BinaryIO, size: int, budget: Budget,
                shown: str) -> Iterator[Member]:
        import pypdf
        source.seek(0)
        reader = pypdf.PdfReader(source, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):   # "" opens a permissions-only lock
            from . import Encrypted
            raise Encrypted()
        for number, page in enumerate(reader.pages, 1):
            for index, image in enumerate(page.images, 1):
                name = f"page{number}/{index}-{_clean(image.name)}"
                yield Member(name=name, size=None, open=_image_data(image, budget),
                             reopenable=False)


def _clean(name: str) -> str:
    return name.lstrip("/").replace("/", "_") or "image"


def _image_data(image, budget: Budget):
    def opener() -> BinaryIO:
        data = image.data   # pypdf decodes here
        if len(data) > budget.bounds.nest_memory:
            raise OverBound(f"a PDF image of {len(data):,} bytes, over the "
                            f"{budget.bounds.nest_memory:,} bytes held in memory")
        return io.BytesIO(data)
    return opener


@register
class MboxReader(ContainerReader):
    """A Unix mailbox: every attachment (and inline picture) of every message, by the
    message's number and the part's file name."""

    name = "mbox"
    marks = ((0, b"From "),)
    mimes = ("application/mbox",)

    def claims(self, mime: str, head: bytes) -> bool:
        # libmagic calls an mbox that Python's mailbox wrote ("From MAILER-DAEMON ...") text:
        # a "From " line followed by mail headers is one all the same
        return mime in self.mimes or (
            mime == "text/plain" and head.startswith(b"From ")
            and re.search(rb"\n(From|To|Subject|Date|Message-ID|Return-Path): ", head[:4096],
                          re.IGNORECASE) is not None)

    def members(self, source: BinaryIO, size: int, budget: Budget,
                shown: str) -> Iterator[Member]:
        from email import policy
        from email.parser import BytesParser
        source.seek(0)
        for number, raw in enumerate(_messages(source, budget.bounds.nest_memory), 1):
            message = BytesParser(policy=policy.compat32).parsebytes(raw)
            for index, part in enumerate(message.walk(), 1):
                if part.is_multipart():
                    continue
                filename = part.get_filename()
                if filename is None and part.get_content_maintype() != "image":
                    continue   # a message's text, not an attachment
                data = part.get_payload(decode=True) or b""
                yield Member(name=f"message{number}/{index}-{filename or 'inline'}",
                             size=len(data), open=lambda data=data: io.BytesIO(data))


def _messages(source: BinaryIO, limit: int) -> Iterator[bytes]:
    """The raw messages of an mbox, split at its "From " lines, one message in memory at a
    time (at most `limit` bytes of it)."""
    held, total = [], 0
    for line in source:
        if line.startswith(b"From ") and held:
            yield b"".join(held[1:])
            held, total = [], 0
        held.append(line)
        total += len(line)
        if total > limit:
            raise OverBound(f"a message over the {limit:,} bytes held in memory")
    if held:
        yield b"".join(held[1:])
