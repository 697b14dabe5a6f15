"""Pictures in legacy Office documents (`.doc`, `.xls`, `.ppt`: OLE2 files, `ole.py`).

Office keeps a picture as an OfficeArt BLIP record (MS-ODRAW 2.2.23 to 2.2.30): an 8-byte
record header (version 0 in the low nibble, instance, record type 0xF01D JPEG, 0xF02A CMYK
JPEG, 0xF01E PNG, and the length of what follows), one or two 16-byte UIDs and a tag byte,
then the picture file as it was inserted. Word keeps its BLIPs in the `Data` stream and
PowerPoint in `Pictures`; Excel in the workbook's drawing group (`Workbook` stream, BIFF8
records MSODRAWINGGROUP 0x00EB, split over CONTINUE 0x003C records every 8,224 bytes, joined
again here). A stream is searched for BLIP headers; a BLIP whose picture signature (JPEG
`FF D8 FF`, PNG's 8 bytes) lies within its first 64 bytes is a child, from that signature to
the record's end (the inserted file's own bytes, so an exact digest matches). Metafiles, DIBs
and TIFFs are not given; a record whose length runs past its stream is skipped."""

from __future__ import annotations

import io
import re
import struct
from typing import Iterator, Tuple

from . import Budget, Member

STREAMS = ("Data", "Pictures", "Workbook")
BLIP = re.compile(rb"[\x1d\x1e\x2a]\xf0")     # the record type's two bytes, little-endian
KINDS = {0xF01D: "jpg", 0xF02A: "jpg", 0xF01E: "png"}
SIGNATURES = {"jpg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n"}
PREFIX = 64                  # bytes of a BLIP in which its picture's signature must begin
DRAWING_GROUP, CONTINUE = 0x00EB, 0x003C


# MS-OFFCRYPTO: what says a document's content is encrypted, so that its pictures cannot be
# found (a document saved with a password would otherwise show no picture, as a clean one).
WORD_ENCRYPTED = 0x0100           # FibBase's fEncrypted (MS-DOC 2.5.2), the u16 at offset 10
FILEPASS, BOF, EOF = 0x002F, 0x0809, 0x000A   # BIFF8 records (MS-XLS 2.4.117)
PPT_ENCRYPTED = 0xF3D1C4DF        # CurrentUserAtom's headerToken (MS-PPT 2.3.2)


def encrypted(streams, read) -> bool:
    """Whether an OLE2 document's content is encrypted: an OOXML document saved with a
    password (its EncryptionInfo and EncryptedPackage streams), a Word document whose FIB
    says so, a workbook whose globals hold a FILEPASS record, a presentation whose current
    user atom carries the encrypted token. `streams`: the root's stream names; `read(name,
    length)`: the first bytes of one."""
    if {"EncryptionInfo", "EncryptedPackage"} <= streams:
        return True
    if "WordDocument" in streams:
        fib = read("WordDocument", 12)
        if len(fib) == 12 and struct.unpack_from("<H", fib, 10)[0] & WORD_ENCRYPTED:
            return True
    if "Workbook" in streams and _filepass(read("Workbook", 1 << 16)):
        return True
    if "Current User" in streams:
        atom = read("Current User", 16)
        if len(atom) == 16 and struct.unpack_from("<I", atom, 12)[0] == PPT_ENCRYPTED:
            return True
    return False


def _filepass(workbook: bytes) -> bool:
    """A FILEPASS record among the globals substream's records (from its BOF to its EOF)."""
    at = 0
    while at + 4 <= len(workbook):
        kind, length = struct.unpack_from("<HH", workbook, at)
        if kind == FILEPASS:
            return True
        if kind == EOF or (at == 0 and kind != BOF):
            return False
        at += 4 + length
    return False


def holds_pictures(path: Tuple[str, ...]) -> bool:
    """Whether an OLE2 stream (its path of storage names) is one Office keeps pictures in."""
    return len(path) == 1 and path[0] in STREAMS


def pictures(stream: str, data: bytes, budget: Budget) -> Iterator[Member]:
    """The JPEG and PNG pictures of one stream, in stored order, named `stream/N.ext`."""
    if stream == "Workbook":
        data = drawing_group(data)
    view = memoryview(data)
    for number, (start, end, ext) in enumerate(blips(data), 1):
        yield Member(name=f"{stream}/{number}.{ext}", size=end - start,
                     open=lambda start=start, end=end: io.BytesIO(view[start:end]))


def blips(data: bytes) -> Iterator[Tuple[int, int, str]]:
    """(start, end, ext) of each JPEG or PNG picture in the BLIP records of `data`."""
    pos = 2
    while True:
        found = BLIP.search(data, pos)
        if found is None:
            return
        header = found.start() - 2
        kind = KINDS[struct.unpack_from("<H", data, found.start())[0]]
        length = struct.unpack_from("<I", data, header + 4)[0] \
            if header + 8 <= len(data) else -1
        end = header + 8 + length
        start = data.find(SIGNATURES[kind], header + 8, min(end, header + 8 + PREFIX))
        if data[header] & 0x0F != 0 or length < 0 or end > len(data) or start < 0:
            pos = found.start() + 1
            continue
        yield start, end, kind
        pos = end + 2


def drawing_group(workbook: bytes) -> bytes:
    """The BIFF8 workbook's drawing-group records joined (MSODRAWINGGROUP and the CONTINUE
    records that follow it), where Excel keeps its pictures."""
    parts, pos, inside = [], 0, False
    while pos + 4 <= len(workbook):
        kind, size = struct.unpack_from("<HH", workbook, pos)
        body = workbook[pos + 4:pos + 4 + size]
        if kind == DRAWING_GROUP or (inside and kind == CONTINUE):
            parts.append(body)
            inside = True
        else:
            inside = False
        pos += 4 + size
    return b"".join(parts)
