"""Child entries: files inside other files (archive members, compressed files' content).

A container is recognised by its content (libmagic's MIME type of its head), never by its name.
Each kind is a reader in the READERS registry that streams its members from an open,
seekable file object: nothing is extracted to disk and no member is held whole in memory,
except a container nested in a stream-only archive (it must be read twice), and that only up to
`Bounds.nest_memory`. One `Budget` per outermost container bounds all its nesting: depth,
inflated bytes, members and time per member (zip bombs, quines, 42.zip, a million members).

A child is a FileEntry whose path is `parent!/member` and whose `member` says so in fields; it
keeps its outermost parent's evidence, volume, inode and allocation state (a deleted archive's
members are deleted) and flows through the same judge as any file."""

from __future__ import annotations

import io
import struct
import time
from dataclasses import dataclass, replace
from functools import cached_property
from typing import BinaryIO, Callable, Iterator, List, Optional, Tuple, Union

from ..errors import one_line
from ..records import FileEntry, MemberOf, ScanError
from ..registry import Registry
from ..safetext import path_text
from ..streams import Reader, positioned

MIB = 1 << 20
SNIFF = 64 * 1024          # head libmagic is shown (ISO 9660 names itself at byte 32,769)
PROBE = 4 * 1024           # head that tells most files are no container (every reader's marks
                           # but ISO 9660's lie in its first 512 bytes; those beyond, by a seek)
MIN_SIZE = 9               # smaller than any container (a zstd frame of nothing is 9 bytes)
# Names that usually hold members, for what judging a file will cost before it is read
# (workers.batches); what a file is, its content alone tells.
LIKELY_SUFFIXES = frozenset({
    ".zip", ".jar", ".apk", ".ipa", ".xpi", ".epub", ".cbz", ".docx", ".xlsx", ".pptx", ".odt",
    ".ods", ".odp", ".7z", ".rar", ".cbr", ".tar", ".gz", ".tgz", ".bz2", ".tbz", ".tbz2", ".xz",
    ".txz", ".zst", ".tzst", ".iso", ".cab", ".cpio", ".deb", ".udeb", ".pdf", ".mbox", ".doc",
    ".xls", ".ppt", ".msg", ".pst", ".ost"})


def likely(path: str) -> bool:
    """Whether a file's name says container (LIKELY_SUFFIXES: a cost estimate only)."""
    return path[path.rfind("."):].lower() in LIKELY_SUFFIXES


@dataclass(frozen=True)
class Bounds:
    """Limits on what one outermost container may cost, whatever it nests."""

    depth: int = 4                   # containers within containers, the outermost counted
    ratio: int = 100                 # inflated bytes allowed per byte of the container ...
    min_bytes: int = 64 * MIB        # ... but never fewer than this
    max_bytes: int = 4096 * MIB      # ... nor more
    members: int = 100_000
    member_seconds: float = 60.0
    nest_memory: int = 128 * MIB     # a container inside a stream-only archive, held to reread


class OverBound(Exception):
    """A bound of the container's Budget was reached: the rest is not examined."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Encrypted(OSError):
    """A member whose content is encrypted: listed with its name and size, not examined."""

    def __init__(self):
        super().__init__("encrypted, not examined")

    def __str__(self) -> str:
        return "encrypted, not examined"


# What reading a member can raise: its decoder's own errors besides OSError (zlib.error,
# zipfile.BadZipFile, lzma.LZMAError, EOFError, ...), and a bound reached.
LISTING_ERRORS = (Exception,)


class Budget:
    """What one outermost container has used of its Bounds (shared by everything it nests)."""

    def __init__(self, bounds: Bounds, size: int):
        self.bounds = bounds
        self.max_bytes = min(bounds.max_bytes, max(bounds.min_bytes, bounds.ratio * size))
        self.inflated = 0
        self.members = 0
        self.spent: Optional[str] = None   # the bound reached, once one is

    def member(self) -> None:
        self.members += 1
        if self.members > self.bounds.members:
            self._over(f"more than {self.bounds.members:,} members (the member bound)")

    def inflate(self, n: int) -> None:
        self.inflated += n
        if self.inflated > self.max_bytes:
            self._over(f"more than {self.max_bytes:,} bytes inflated (the bound for an "
                       f"archive of this size)")

    def _over(self, reason: str) -> None:
        self.spent = self.spent or reason
        raise OverBound(reason)


@dataclass
class Member:
    """One member as a reader yields it. `open` gives its content from the start; when
    `reopenable` is False (a stream-only archive) it may be called once, before the reader
    moves on to the next member."""

    name: str
    size: Optional[int]
    open: Callable[[], BinaryIO]
    mtime: Tuple[int, int] = (0, 0)
    reopenable: bool = True
    encrypted: bool = False
    note: Optional[str] = None
    # Another name of a member listed before it (a tar or cpio hard link): its stored name.
    # Nothing of its own is read; its content is judged under that first name, and its note
    # says so (_child).
    same_as: Optional[str] = None


class ContainerReader:
    """A kind of container: the MIME types libmagic gives it, and its members."""

    name = ""
    mimes: Tuple[str, ...] = ()
    # (offset, bytes): what its content shows at an offset, as libmagic's own rules test it.
    # A head that shows no reader's mark is no container and libmagic is not asked (0.5 ms a
    # file: most of a screened scan of small files). None: no mark known, libmagic decides.
    marks: Optional[Tuple[Tuple[int, bytes], ...]] = None

    def marked(self, head: bytes) -> bool:
        return self.marks is None or any(head.startswith(m, at) for at, m in self.marks)

    def certain(self, head: bytes) -> bool:
        """Whether `head` is this kind beyond doubt, by a signature nothing else begins with,
        so libmagic need not be asked (a gzipped manual page: 0.15-0.3 ms a file)."""
        return False

    def claims(self, mime: str, head: bytes) -> bool:
        """Whether content of this libmagic type and head is this kind (a kind libmagic does
        not name looks at the head itself)."""
        return mime in self.mimes

    def members(self, source: BinaryIO, size: int, budget: Budget,
                shown: str) -> Iterator[Member]:
        raise NotImplementedError


READERS: Registry[ContainerReader] = Registry("container reader")


def register(cls):
    """Class decorator: one instance of the reader in READERS."""
    READERS.add(cls.name, cls())
    return cls


def detect(head: bytes) -> Optional[ContainerReader]:
    """The reader for content that begins with `head`, or None when it is no container."""
    if len(head) < MIN_SIZE:
        return None
    if not any_mark(head, marks()):
        return None
    maybe = [reader for reader in READERS.values() if reader.marked(head)]
    if not maybe:
        return None
    certain = next((reader for reader in maybe if reader.certain(head)), None)
    if certain is not None:
        return certain
    import magic
    mime = magic.from_buffer(head, mime=True)
    for reader in maybe:
        if reader.claims(mime, head):
            return reader
    return None


def probe(source: Union[BinaryIO, int], size: int, head: bytes) -> Tuple[bool, int]:
    """Whether a file may be a container, told from its first PROBE bytes (`head`, or the
    whole of a smaller file) and, for marks further in (ISO 9660's), one read at them in
    `source`; and how many bytes that read took. False: no reader's mark, no container, and
    the file need not be read further to tell (what archives-on costs most files). True only
    says detect() must decide, on a SNIFF head."""
    if size < MIN_SIZE:
        return False, 0
    if len(head) < min(size, PROBE):
        return True, 0   # shorter than its size said: the full read tells
    table = marks()
    if any_mark(head, table):
        return True, 0
    beyond = table.beyond(len(head), size)
    if not beyond:
        return False, 0
    first, last = _span(beyond)
    read_at = positioned(source)
    if read_at is not None:   # a folder's file, an image's by its runs: no seek
        data = read_at(last - first, first)
    elif not source.seekable():
        return True, 0   # its far marks cannot be reached here: the full read tells
    else:
        source.seek(first)
        data = source.read(last - first)
    return any(data.startswith(m, at - first) for at, m in beyond), len(data)


def far_span(size: int, head: int) -> Optional[Tuple[int, int]]:
    """(offset, length) of what probe() reads past a head of `head` bytes of a file of `size`
    bytes (ISO 9660's marks), or None where it reads nothing more: for asking the OS for it
    ahead of the read (triage.prefetch)."""
    beyond = marks().beyond(head, size) if size >= MIN_SIZE else ()
    if not beyond:
        return None
    first, last = _span(beyond)
    return first, last - first


def _span(beyond) -> Tuple[int, int]:
    """(first, end) of the bytes that hold the far marks `beyond` (_Marks.beyond): what one
    read of them takes."""
    return beyond[0][0], max(at + len(m) for at, m in beyond)


@dataclass(frozen=True)
class _Marks:
    """Every reader's marks in one table, so a head is tested in a few calls."""

    starts: Tuple[bytes, ...]                # marks at offset 0: one startswith
    near: Tuple[Tuple[int, bytes], ...]      # other marks within PROBE
    far: Tuple[Tuple[int, bytes], ...]       # marks beyond PROBE, by offset
    others: Tuple[ContainerReader, ...]      # readers that test a head themselves, or have
                                             # no marks (libmagic decides: always True)

    def beyond(self, head: int, size: int) -> tuple:
        """The far marks a file of `size` bytes could hold past its first `head` bytes. Most
        files probed are longer than every far mark's end with a head short of them all: for
        them, all of `far` (asked of every file screened, this test was a tenth of its
        screen)."""
        if size >= self.far_end and head < self.far_first:
            return self.far
        return tuple((at, m) for at, m in self.far if head < at + len(m) <= size)

    @cached_property
    def far_first(self) -> int:
        return min((at for at, _ in self.far), default=0)

    @cached_property
    def far_end(self) -> int:
        return max((at + len(m) for at, m in self.far), default=0)


_marks: Optional[_Marks] = None
_marks_of = -1     # how many readers the table holds: made again when one registers


def marks() -> _Marks:
    """Every reader's marks in one table, made again when a reader registers."""
    global _marks, _marks_of
    _load()
    if _marks is None or _marks_of != len(READERS):
        _marks_of = len(READERS)
        pairs = sorted({mark for reader in READERS.values() for mark in reader.marks or ()})
        _marks = _Marks(
            starts=tuple(m for at, m in pairs if at == 0),
            near=tuple((at, m) for at, m in pairs if 0 < at and at + len(m) <= PROBE),
            far=tuple((at, m) for at, m in pairs if at + len(m) > PROBE),
            others=tuple(reader for reader in READERS.values()
                         if reader.marks is None
                         or type(reader).marked is not ContainerReader.marked))
    return _marks


def any_mark(head: bytes, table: _Marks) -> bool:
    """Whether `head` shows any reader's mark within it (a few calls for all readers: asking
    each its marks one by one was a third of a screened scan's CPU)."""
    if head.startswith(table.starts):
        return True
    for at, m in table.near:
        if head.startswith(m, at):
            return True
    if len(head) > PROBE:   # the far marks lie past PROBE bytes
        for at, m in table.far:
            if at + len(m) <= len(head) and head.startswith(m, at):
                return True
    for reader in table.others:
        if reader.marked(head):
            return True
    return False


class Sniff:
    """reading.read's `more`: tells a container by its head, and then (with `md5`) asks for
    its MD5 in the same read; `kind` is the container's reader, None for any other file."""

    def __init__(self, enabled: bool = True, md5: bool = True):
        self.enabled = enabled
        self.md5 = md5
        self.kind: Optional[ContainerReader] = None

    def __call__(self, head: bytes) -> Tuple[str, ...]:
        self.kind = detect(head) if self.enabled else None
        return ("md5",) if self.kind is not None and self.md5 else ()


_EOCD = b"PK\x05\x06"


def appended(tail: bytes, size: int) -> Optional[ContainerReader]:
    """The zip reader, when a file's last bytes (`tail`, reading.TAIL of them) end with a zip's
    end-of-central-directory record that its head did not announce: an archive appended to
    another file (`cat holiday.jpg secret.zip > holiday.jpg`, which unzip reads), which no
    head mark tells. The record must end the file exactly, its comment included, and its
    central directory fit before it; zipfile then finds the members past whatever precedes
    the archive. A comment longer than the tail hides it from this test."""
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < 22:
        return None
    directory, comment = struct.unpack_from("<I4xH", tail, at + 12)
    if at + 22 + comment != len(tail) or directory + 22 + comment > size:
        return None
    _load()
    return READERS.get("zip")


def appended_to(entry: FileEntry, contents) -> Optional[ContainerReader]:
    """appended() of a file a read did not tell a container by its head: its tail as the read
    (reading.Contents) kept it, or read now, by a seek (not for a container's member, whose
    stream may not seek cheaply)."""
    last = contents.tail
    if not last and entry.member is None and entry.size > len(contents.head):
        with entry.open() as reader:
            last = tail_of(reader, entry.size, contents.head)
    return appended(last, entry.size) if last else None


def tail_of(reader: BinaryIO, size: int, head: bytes) -> bytes:
    """A file's last reading.TAIL bytes: from its head when that is all of it, else by a seek
    (b"" where the reader cannot seek)."""
    from ..reading import TAIL, read_up_to   # reading imports the workers, which import this
    if len(head) == size:
        return head[-TAIL:]
    read_at = positioned(reader)
    if read_at is not None:   # a folder's file, an image's by its runs: no seek
        return read_at(min(size, TAIL), max(0, size - TAIL))
    if not reader.seekable():
        return b""
    reader.seek(max(0, size - TAIL))
    return read_up_to(reader, min(size, TAIL))


def probe_spans(size: int) -> List[Tuple[int, int]]:
    """(offset, length) of what probe_entry reads of a file of `size` bytes at most: its first
    PROBE bytes, ISO 9660's marks past them, its last 4 KiB; for asking the OS for them ahead
    of the reads (triage.prefetch)."""
    from ..reading import TAIL   # reading imports the workers, which import this
    if not size:
        return []
    spans = [(0, min(size, PROBE))]
    far = far_span(size, min(size, PROBE))
    if far is not None:
        spans.append(far)
    if size > PROBE:   # its last 4 KiB: an appended archive's end record
        spans.append((max(0, size - TAIL), min(size, TAIL)))
    return spans


def probe_entry(entry: FileEntry) -> Tuple[bool, int, Optional[ContainerReader]]:
    """Whether a file is maybe a container, from its first PROBE bytes (probe()) or, failing
    them, its last 4 KiB (an appended archive: its reader, else None); and the bytes that
    took. What a file read only to tell a container costs: 4 to 12 KiB, not a SNIFF head."""
    with entry.open() as reader:
        return probe_source(reader, entry.size)


def probe_source(source: Union[BinaryIO, int], size: int
                 ) -> Tuple[bool, int, Optional[ContainerReader]]:
    """probe_entry of a file open as `source`: a reader, or a folder's file as a bare
    descriptor (the batch screen's, read by position)."""
    from ..reading import read_up_to   # reading imports the workers, which import this
    read_at = positioned(source)
    head = read_at(min(size, PROBE), 0) if read_at is not None else \
        read_up_to(source, min(size, PROBE))
    maybe, peeked = probe(source, size, head)
    read = len(head) + peeked
    if maybe:
        return True, read, None
    last = tail_of(source, size, head)
    found = appended(last, size)
    return found is not None, read + (0 if len(head) == size else len(last)), found


def md5_of(entry: FileEntry) -> str:
    """A container's MD5, read again whole, where the read that told it took none (its
    members carry it as container_md5; a container is always readable twice)."""
    from ..hashing import chunks, digest_stream
    with entry.open() as reader:
        return digest_stream(chunks(reader), ("md5",))["md5"]


def identity(head: bytes, size: int) -> str:
    """What tells a container from the containers it is in, when its MD5 is not taken: its
    size and the SHA-1 of its head (a quine repeats both)."""
    import hashlib
    return f"{size}:{hashlib.sha1(head).hexdigest()}"


def refusal(bounds: Bounds, ident: str, parents: Tuple[str, ...]) -> Optional[str]:
    """Why a container found at this depth is not opened, or None when it is: `parents` are
    the identities (MD5s, or identity()) of the containers it is in, outermost first."""
    if ident in parents:
        return "archive not opened: it contains itself (it is one of its containers)"
    if len(parents) >= bounds.depth:
        return (f"archive not opened: nested deeper than {bounds.depth} containers (the depth "
                f"bound)")
    return None


def expand(entry: FileEntry, reader: ContainerReader, budget: Budget, md5: Optional[str]
           ) -> Iterator[Union[FileEntry, ScanError]]:
    """The child entries of `entry`, a container of the kind `reader` reads, in stored order.
    What stops the listing (a bound, a damaged archive) is a ScanError on the container; the
    children yielded before it stand. Each child must be read before the next is asked for."""
    count = 0
    try:
        with entry.open() as raw:
            for member in reader.members(_seekable(raw, entry.size, budget), entry.size, budget,
                                         entry.path):
                budget.member()
                count += 1
                yield _child(entry, member, budget, md5)
    except OverBound as exc:
        yield _stopped(entry, count, exc.reason)
    except Exception as exc:   # noqa: BLE001 - hostile archives raise whatever their library does
        if _is_interrupt(exc):
            raise
        if isinstance(exc, Encrypted) or "ncrypt" in str(exc):   # e.g. 7z -mhe: names too
            yield _stopped(entry, count, "encrypted, not examined")
        else:
            yield _stopped(entry, count, f"{reader.name} archive damaged: {one_line(exc)}")


def encrypted(entry: FileEntry) -> Optional[str]:
    """The error of a file whose content is stored encrypted, or None: a member of an archive
    that is encrypted (its name and size are all there is), or a file its file system
    encrypts (FileEntry.encrypted: reading it gives ciphertext, whose hashes mean nothing)."""
    if entry.encrypted is not None:
        return f"encrypted ({entry.encrypted}), not examined ({entry.size:,} bytes)"
    if entry.member is None or not entry.member.encrypted:
        return None
    return f"encrypted, not examined ({entry.size:,} bytes)"


def _seekable(raw: BinaryIO, size: int, budget: Budget) -> BinaryIO:
    """The container's content as a buffered, seekable file (zip and 7z keep their directory
    at the end): the reader itself when it can seek (a file, a TSK file, a zip member, whose
    seeks zipfile emulates), else its content held in memory up to nest_memory."""
    if raw.seekable():
        return raw if isinstance(raw, (io.BufferedIOBase, io.BytesIO)) else \
            io.BufferedReader(raw, 1 * MIB)
    if size > budget.bounds.nest_memory:
        raise OverBound(f"a container of {size:,} bytes that cannot be read at random and is "
                        f"over the {budget.bounds.nest_memory:,} bytes held in memory")
    return io.BytesIO(raw.read(size + 1)[:budget.bounds.nest_memory + 1])


def _is_interrupt(exc: BaseException) -> bool:
    from ..workers import Interrupted
    return isinstance(exc, Interrupted)


def _stopped(entry: FileEntry, count: int, reason: str) -> ScanError:
    where = f"after {count:,} member{'s' if count != 1 else ''}" if count else "at its start"
    return ScanError(entry.evidence, f"archive not examined {where}: {reason}", entry.volume,
                     entry.path, entry.inode)


def _child(parent: FileEntry, member: Member, budget: Budget, md5: Optional[str]) -> FileEntry:
    name = path_text(member.name)
    size = member.size
    locked = member.encrypted
    opener = _encrypted
    once = False
    same_as = None if member.same_as is None else path_text(member.same_as)
    if same_as is not None:
        opener = _never_read
    elif not locked and (size is None or not member.reopenable):
        try:
            opener, size = _settled(member, budget, size)   # metered as it was read
            once = isinstance(opener, _Replay)
        except Encrypted:   # told only by its data (libarchive flags no encryption)
            locked = True
    elif not locked:
        opener = _Metered.opener(member.open, budget)
    return replace(
        parent,
        path=f"{parent.path}!/{name}",
        size=size or 0,
        times=(member.mtime, (0, 0), (0, 0), (0, 0)),
        open=opener,
        member=MemberOf(parent.path, name, md5,
                        member.note if same_as is None else f"hard link to {same_as}",
                        encrypted=locked, read_once=once, same_as=same_as),
    )


def _encrypted():
    raise Encrypted()


def _never_read():
    raise AssertionError("another name of a member is never read: its first name is")


def _settled(member: Member, budget: Budget, size: Optional[int]):
    """(opener, size) for a member of a stream-only archive: the judge may open a child twice
    (once for its digests, once more for its own members), so one that is a container, or whose
    size is not stored, is held in memory (up to nest_memory); any other replays the head it
    was sniffed by and streams on, once."""
    stream = _Metered(member.open(), budget)
    head = stream.read(SNIFF)
    if size is not None and len(head) < SNIFF and len(head) < size:
        size = len(head)
    if size is not None and detect(head) is None:
        return _replay(head, stream), size
    limit = budget.bounds.nest_memory
    held = [head]
    total = len(head)
    while True:
        block = stream.read(1 * MIB)
        if not block:
            break
        total += len(block)
        if total > limit:
            raise OverBound(f"a member over {limit:,} bytes that must be held in memory "
                            f"(a container, or one of unknown size, in a stream-only archive)")
        held.append(block)
    data = b"".join(held)
    return (lambda: io.BytesIO(data)), len(data)


def _replay(head: bytes, stream: BinaryIO) -> Callable[[], BinaryIO]:
    return _Replay(head, stream)


class _Replay:
    """Opens a stream-only member once: the head it was sniffed by, then the rest."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self._head, self._stream, self._used = head, stream, False

    def __call__(self) -> BinaryIO:
        if self._used:
            raise OSError("a member of a stream-only archive can be read once")
        self._used = True
        return _Chain(self._head, self._stream)


class _Chain(Reader):
    """`head` then the rest of `stream`."""

    def __init__(self, head: bytes, stream: BinaryIO):
        super().__init__()
        self._head = memoryview(head)
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        if len(self._head):
            n = len(self._head) if n is None or n < 0 else n
            out, self._head = bytes(self._head[:n]), self._head[n:]
            return out
        return self._stream.read(n)


class _Metered(Reader):
    """A member's content counted against its container's Budget, and stopped once it has
    taken longer than the per-member time. Reads fill what is asked unless the content ends
    (libmagic and the picture sniffer want a whole head)."""

    def __init__(self, inner: BinaryIO, budget: Budget):
        super().__init__()
        self._inner = inner
        self._budget = budget
        self._started = time.monotonic()

    @classmethod
    def opener(cls, open_: Callable[[], BinaryIO], budget: Budget) -> Callable[[], BinaryIO]:
        return lambda: cls(open_(), budget)

    def seekable(self) -> bool:   # a zip member can (zipfile re-inflates to go back)
        return self._inner.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            return b"".join(iter(lambda: self.read(1 * MIB), b""))
        parts, want = [], n
        while want > 0:
            if time.monotonic() - self._started > self._budget.bounds.member_seconds:
                raise OverBound(f"a member took longer than "
                                f"{self._budget.bounds.member_seconds:g} s to read")
            block = self._inner.read(want)
            if not block:
                break
            self._budget.inflate(len(block))
            parts.append(block)
            want -= len(block)
        return b"".join(parts)

    def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
        finally:
            super().close()


class BlockStream(Reader):
    """A file object over an iterator of byte blocks (libarchive's get_blocks())."""

    def __init__(self, blocks: Iterator[bytes]):
        super().__init__()
        self._blocks = blocks
        self._left = b""

    def read(self, n: int = -1) -> bytes:
        if not self._left:
            self._left = next(self._blocks, b"")
        if n is None or n < 0:
            n = len(self._left)
        out, self._left = self._left[:n], self._left[n:]
        return out


_loaded = False


def _load() -> None:
    """Import the reader modules (each registers itself) on first use: the archive libraries
    load only in scans that meet a container."""
    global _loaded
    if not _loaded:
        _loaded = True
        from . import (archives, compressed, documents, ole, pst, thumbcache,  # noqa: F401
                       zip as _zip)


def names() -> Tuple[str, ...]:
    _load()
    return tuple(READERS)
