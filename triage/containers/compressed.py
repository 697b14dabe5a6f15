"""Tar archives (plain, or gzip, bzip2, xz or zstd compressed) through tarfile, and a single
compressed file (gzip, bzip2, xz, zstd) as a container of one member, its content.

A plain tar's members are read in place, as often as needed; a compressed stream is read
forward once (tarfile's stream mode), and the member list is not kept (tarfile keeps every
TarInfo it read; a tar of a million empty members would hold them all)."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import tarfile
from typing import BinaryIO, Callable, Dict, Iterator

from . import SNIFF, Budget, ContainerReader, Member, register

# The decompressor of each compressed stream libmagic names, as a forward-only file object.
DECOMPRESSORS: Dict[str, Callable[[BinaryIO], BinaryIO]] = {
    "application/gzip": lambda f: gzip.GzipFile(fileobj=f, mode="rb"),
    "application/x-gzip": lambda f: gzip.GzipFile(fileobj=f, mode="rb"),
    "application/x-bzip2": lambda f: bz2.BZ2File(f, mode="rb"),
    "application/x-xz": lambda f: lzma.LZMAFile(f, mode="rb"),
    "application/zstd": lambda f: _zstd(f),
    "application/x-zstd": lambda f: _zstd(f),
}
# Each format's whole signature: gzip with its one method (deflate), bzip2 with its level and
# its first block's (or the end of an empty stream's) 48-bit magic, xz and zstd as they begin.
_CERTAIN = re.compile(rb"\x1f\x8b\x08|BZh[1-9](?:1AY&SY|\x17rE8P\x90)|\xfd7zXZ\x00|\x28\xb5\x2f\xfd",
                      re.DOTALL)
# Each format's first bytes, and its name there: the stream is one of these already (libmagic
# named it, CompressedReader.claims, or its signature is certain), so they tell which.
FORMATS = ((b"\x1f\x8b", "application/gzip"), (b"BZh", "application/x-bzip2"),
           (b"\xfd7zXZ\x00", "application/x-xz"), (b"\x28\xb5\x2f\xfd", "application/zstd"))


def _zstd(source: BinaryIO) -> BinaryIO:
    import zstandard
    # read_across_frames: a file of several frames (zstd -T, concatenated) is one content
    return zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True,
                                                       closefd=False)


def _header_checksum_holds(head: bytes) -> bool:
    if len(head) < 512:
        return False
    field = head[148:156].strip(b" \x00")
    if not field.isdigit():   # most heads: told without raising (a third of the check's time)
        return False
    try:
        stored = int(field, 8)
    except ValueError:
        return False
    return stored == sum(head[:148]) + 8 * 32 + sum(head[156:512])


def _is_tar_here(head: bytes) -> bool:
    """POSIX and GNU tar say so at byte 257; an old (v7) tar only by its first header's
    checksum: the tests libmagic's is_tar makes. (Asking libmagic itself of a decompressed
    stream's first 64 KiB took it ~10 ms where that was text, a gzipped changelog: most of
    a scan of /usr/share/doc.)"""
    return head.startswith(b"ustar", 257) or _header_checksum_holds(head)


try:   # its C twin (_edges.c, optional in setup.py): the screen asks it of every file's head
    from ..scanners._edges import is_tar as _is_tar
except ImportError:
    _is_tar = _is_tar_here


@register
class TarReader(ContainerReader):
    name = "tar"
    mimes = ("application/x-tar", "application/x-gtar", "application/x-ustar")

    marked = staticmethod(_is_tar)   # the test itself: the C screen calls it with no layer

    def members(self, source: BinaryIO, size: int, budget: Budget,
                shown: str) -> Iterator[Member]:
        source.seek(0)
        yield from _tar_members(tarfile.open(fileobj=source, mode="r:"), reopenable=True)


@register
class CompressedReader(ContainerReader):
    """gzip, bzip2, xz, zstd: a tar inside is a tar's members, anything else one member."""

    name = "compressed"
    marks = tuple((0, first) for first, _ in FORMATS)
    mimes = tuple(DECOMPRESSORS)

    def certain(self, head: bytes) -> bool:
        return _CERTAIN.match(head) is not None

    def members(self, source: BinaryIO, size: int, budget: Budget,
                shown: str) -> Iterator[Member]:
        source.seek(0)
        first = source.read(8)
        mime = next(name for start, name in FORMATS if first.startswith(start))
        decompress = DECOMPRESSORS[mime]
        source.seek(0)
        stream = decompress(source)
        head = stream.read(SNIFF)
        if _is_tar(head):
            source.seek(0)
            archive = tarfile.open(fileobj=decompress(source), mode="r|")
            yield from _tar_members(archive, reopenable=False)
            return

        def content() -> BinaryIO:
            source.seek(0)
            return decompress(source)
        yield Member(name=_inner_name(source, mime, shown), size=None, open=content)


def _tar_members(archive: tarfile.TarFile, reopenable: bool) -> Iterator[Member]:
    """Its regular members, and its hard links as other names of the member stored before
    them (a link holds no data; one to a member not stored before it names nothing)."""
    sizes = {}   # stored name -> size, of the regular members so far (the budget bounds them)
    while True:
        info = archive.next()
        if info is None:
            return
        archive.members = []   # tarfile appends each; nothing here looks back
        if info.islnk() and info.linkname in sizes:
            yield Member(name=info.name, size=sizes[info.linkname], open=None,
                         mtime=(int(info.mtime), 0), same_as=info.linkname)
            continue
        if not info.isreg():
            continue
        sizes[info.name] = info.size
        yield Member(name=info.name, size=info.size,
                     open=(lambda info=info: archive.extractfile(info)),
                     mtime=(int(info.mtime), 0), reopenable=reopenable)


def _inner_name(source: BinaryIO, mime: str, shown: str) -> str:
    """The compressed file's own name: gzip's stored one (FNAME) when there is one, else the
    container's name less its last suffix, as gunzip names what it writes."""
    if mime in ("application/gzip", "application/x-gzip"):
        source.seek(0)
        header = source.read(10)
        if len(header) == 10 and header[3] & 0x08:          # FNAME (RFC 1952 2.3.1)
            if header[3] & 0x04:                             # FEXTRA comes first
                xlen = int.from_bytes(source.read(2), "little")
                source.seek(xlen, os.SEEK_CUR)
            name = bytearray()
            for byte in iter(lambda: source.read(1), b""):
                if byte == b"\x00" or len(name) > 4096:
                    break
                name += byte
            if name:
                return name.decode("latin-1")            # RFC 1952: ISO 8859-1
    base = shown.rsplit("/", 1)[-1].rsplit("!/", 1)[-1]
    stem, dot, _ = base.rpartition(".")
    return stem if dot and stem else base
