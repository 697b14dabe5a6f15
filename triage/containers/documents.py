"""Documents and mail that hold pictures: PDF (each image XObject of each page, through pypdf)
and mbox mailboxes (each attachment, through the standard library's email parser). OOXML and
ODF documents are zips and read as such (`zip.py`); their `media/` pictures come free.

A PDF image is given as it is stored when that is a file format, a JPEG (DCTDecode) or JPEG
2000 stream as the stream's own bytes (what an exact digest of the embedded original matches),
any other encoding decoded by pypdf into a PNG (what a perceptual hash matches). A stored image
is read only when the member is; one over the nest-memory bound is reported, not held."""

from __future__ import annotations

import io
import re
from typing import BinaryIO, Callable, Iterator, Optional, Tuple

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
            for index, (name, data) in enumerate(_page_images(page), 1):
                yield Member(name=f"page{number}/{index}-{_clean(name)}", size=None,
                             open=_image_data(data, budget), reopenable=False)


# The inline-image operator as a token of a content stream: whitespace, a delimiter or either
# end of the stream on each side (anything else makes it part of a longer token).
_INLINE_IMAGE = re.compile(rb"(?:^|(?<=[\s\x00()<>\[\]{}/%]))BI(?=[\s\x00()<>\[\]{}/%]|$)")
# Images kept in their own file format, by the last filter of their stream.
_STORED = {"/DCTDecode": ".jpg", "/JPXDecode": ".jp2"}


def _page_images(page) -> Iterator[Tuple[str, Callable[[], bytes]]]:
    """(name, a getter of its bytes) of each image of a page: those of pypdf's `page.images`,
    under its names and in its order. A JPEG or JPEG 2000 is its stored bytes (what the exact
    digest of the file that was embedded matches: pypdf's own image data is the picture saved
    again by Pillow), any other image pypdf's decoding (a PNG). pypdf finds inline images by
    parsing a page's whole content stream (5-10 ms a page of text; a 400-page manual, 2 s):
    a page whose content holds no inline-image operator has only the image XObjects of its
    resources, listed here without that parse."""
    try:
        contents = page.get_contents()
        inline = contents is not None and _INLINE_IMAGE.search(contents.get_data())
    except Exception:   # noqa: BLE001 - pypdf raises what it likes: its own parse decides
        inline = True
    if inline:
        for image in page.images:
            stream = image.indirect_reference
            stored = _stored(stream.get_object()) if stream is not None else None
            yield image.name, stored[1] if stored else (lambda image=image: image.data)
        return
    for ident, stream in _xobject_images(page, (), set()):
        stored = _stored(stream)
        if stored:
            yield (ident[-1] if isinstance(ident, list) else ident)[1:] + stored[0], stored[1]
        else:
            image = page.images[ident]   # pypdf decodes it here
            yield image.name, lambda image=image: image.data


def _stored(stream) -> Optional[Tuple[str, Callable[[], bytes]]]:
    """(extension, getter of the stored bytes) of an image stream kept in its file format."""
    filters = stream.get("/Filter")
    last = filters[-1] if isinstance(filters, list) and filters else filters
    extension = _STORED.get(last) if isinstance(last, str) else None
    return None if extension is None else (extension, stream.get_data)


def _xobject_images(holder, above: tuple, seen: set) -> list:
    """(name, stream) of the image XObjects in `holder`'s resources, its forms' included
    (named as pypdf names them: an image in a form by the path to it, a list), each form
    once."""
    resources = holder.get("/Resources")
    resources = resources.get_object() if resources is not None else None
    xobjects = resources.get("/XObject") if isinstance(resources, dict) else None
    xobjects = xobjects.get_object() if xobjects is not None else None
    if not isinstance(xobjects, dict):
        return []
    from pypdf.generic import StreamObject
    found = []
    for name in xobjects:
        xobject = xobjects[name]
        if not isinstance(xobject, StreamObject):   # passed over, as pypdf's page.images does
            continue
        if xobject.get("/Subtype") == "/Image":
            found.append(([*above, name] if above else name, xobject))
        elif id(xobject) not in seen and xobject.get("/Subtype") == "/Form":
            seen.add(id(xobject))
            found.extend(_xobject_images(xobject, (*above, name), seen))
    return found


def _clean(name: str) -> str:
    return name.lstrip("/").replace("/", "_") or "image"


def _image_data(data: Callable[[], bytes], budget: Budget):
    def opener() -> BinaryIO:
        content = data()   # pypdf decodes here
        if len(content) > budget.bounds.nest_memory:
            raise OverBound(f"a PDF image of {len(content):,} bytes, over the "
                            f"{budget.bounds.nest_memory:,} bytes held in memory")
        return io.BytesIO(content)
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
