"""Open the media of an evidence item read-only, whatever its container.

A registry of container formats, each recognised from content (the EWF signature) or from what
the path is (a block device, a split-raw series); a plain file that is none of these is raw.
Each opener returns a `Media`: the byte stream TSK reads (a `pytsk3.Img_Info`) and what the
container says about itself."""

from __future__ import annotations

import calendar
import hashlib
import os
import re
import stat
import struct
import sys
import threading
import time
from bisect import bisect_right
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Dict, List, Optional, Sequence, Tuple

import pyewf
import pytsk3

from ..errors import EvidenceError, READ_ERRORS, one_line
from ..registry import Registry
from ..timefmt import pin_utc
from . import ewf_chunks, libewf
from ..prefetch import in_cache, will_need
from .folder import open_readonly

EWF_SIGNATURES = (ewf_chunks.SIGNATURE, b"EVF2\x0d\x0a\x81\x00")
LOGICAL_EWF_SIGNATURES = (b"LVF\x09\x0d\x0a\xff\x00", b"LEF2\x0d\x0a\x81\x00")


@dataclass
class Media:
    kind: str            # "raw", "split-raw", "ewf", "device", or a virtual disk's (containers.py)
    path: str
    size: int
    segments: List[str]
    img: pytsk3.Img_Info
    metadata: Dict[str, str] = field(default_factory=dict)        # E01 header values
    stored_hashes: Dict[str, str] = field(default_factory=dict)   # hashes the container carries
    sector_size: int = 512
    # Whether a damaged chunk can be told from data: an EWF read through libewf's own API.
    checks_chunks: bool = False

    def read(self, offset: int, length: int) -> bytes:
        return self.img.read(offset, length)

    def descriptor(self) -> Optional[int]:
        """The OS descriptor of a media that is one raw file (or device) read as it is, whose
        bytes positioned reads of it give (tsk_walk.OneRunReader); None for any other."""
        return getattr(self.img, "descriptor", None)

    def readinto(self, offset: int, buffer: memoryview) -> int:
        """Fill `buffer` (writable bytes) from `offset`; the count read, fewer only at the end.
        A raw image reads straight into it: a sweep that reuses its buffers then spends no
        time faulting in fresh pages (9x less CPU than `read` a GB from the page cache)."""
        into = getattr(self.img, "readinto", None)
        if into is not None:
            return into(offset, buffer)
        data = self.read(offset, len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def prefetch(self, offset: int, length: int) -> None:
        """Ask the OS to start reading these bytes now (triage.prefetch); nothing where the
        image's format gives no way to (virtual disks, and EWF layouts ewf_chunks does not
        read: their libraries read)."""
        ask = getattr(self.img, "prefetch", None)
        if ask is not None:
            ask(offset, length)

    def cached(self, offset: int) -> bool:
        """Whether the byte at `offset` is in the page cache (triage.prefetch.cached); False
        where the image cannot tell."""
        ask = getattr(self.img, "cached", None)
        return bool(ask(offset)) if ask is not None else False

    def damaged(self) -> List[Tuple[int, int]]:
        """(media offset, length) of every damaged chunk met so far in this process. A damaged
        chunk reads as libewf gives it (zeros), as ewfverify reads it; whoever read bytes from
        the media checks here whether they lay in one (TSK must not see an error: one raised
        while it probes for a file system spoils the whole open, and its block cache would
        hand the zeros out again later without asking)."""
        known = getattr(self.img, "damaged", None)
        return known() if known else []

    def damage_seen(self) -> int:
        """How many damaged chunks this process has met: 0 on a clean image, so that the
        checks above cost nothing there."""
        return getattr(self.img, "damage_seen", 0)

    def explain(self, exc: BaseException) -> BaseException:
        """The error this process's last failed read in this thread raised inside the image,
        when TSK hid it behind its own ("Read error: unknown libtsk error"); else `exc`."""
        take = getattr(self.img, "take_failure", None)
        failure = take() if take else None
        return failure if failure is not None else exc

    def forget_failure(self) -> None:
        take = getattr(self.img, "take_failure", None)
        if take:
            take()

    def close(self) -> None:
        self.img.close()


class _LastFailure(threading.local):
    error: Optional[BaseException] = None


class _Reading(threading.local):
    depth = 0


_reading = _Reading()


def in_image_read(frame=None) -> bool:
    """Whether this thread is inside TSK's callback into a Python image read (`frame`: where a
    signal handler was called, which may be the read's very first instruction). An exception
    raised there (a signal handler's, at Ctrl-C or a spent time budget) does not reach the
    caller: TSK turns it into a read error."""
    return _reading.depth > 0 or (frame is not None and frame.f_code is _PyImg.read.__code__)


class _PyImg(pytsk3.Img_Info):
    """A TSK image whose bytes come from Python (EWF through libewf, raw and split raw from
    files opened without touching their access time)."""

    def __init__(self, size: int):
        self._size = size
        self._lock = threading.Lock()  # libewf handles and shared file offsets are not thread-safe
        self._failure = _LastFailure()
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def get_size(self) -> int:
        return self._size

    def read(self, offset, size):
        _reading.depth += 1
        try:
            return self._read(offset, size)
        except BaseException as exc:
            # pytsk3 turns this into TSK's own error, which keeps only a repr of it: kept here so
            # the reader can say what really failed.
            self._failure.error = exc
            raise
        finally:
            _reading.depth -= 1

    def take_failure(self) -> Optional[BaseException]:
        error, self._failure.error = self._failure.error, None
        return error

    def _read(self, offset: int, size: int) -> bytes:
        raise NotImplementedError


class EwfImg(_PyImg):
    """EWF read through libewf's C API, which keeps the list of chunks whose checksum fails
    (pyewf reads them as zeros and says nothing): `damaged()` is that list. Where its chunks
    are read straight from the segment files (ewf_chunks), libewf's handle (`opener()`, which
    opens the segments by name, without O_NOATIME: their access times move) is opened only
    for the first chunk those reads cannot give, a damaged one; a clean image's segment files
    are then read by triage alone, their access times left as they were."""

    def __init__(self, opener: Callable[[], libewf.Handle], size: int, chunk_size: int,
                 chunks: Optional[ewf_chunks.ChunkReader] = None,
                 handle: Optional[libewf.Handle] = None):
        """`handle`: one `opener` gave already (where every chunk is libewf's to read, it is
        opened with the image, so that a failure is the image's)."""
        self._open_handle = opener
        self._handle = handle
        self._chunk_size = chunk_size
        self._chunks = chunks                       # its chunks read directly, where it can be
        self._reported = 0                          # checksum errors libewf had reported
        self._damaged: List[Tuple[int, int]] = []   # sorted, merged
        self.damage_seen = 0
        super().__init__(size)

    def _read(self, offset, size):
        with self._lock:
            if self._chunks is not None:
                data = self._chunks.read(offset, size)
                if data is not None:   # every chunk's checksum held: nothing damaged there
                    return data
            if self._handle is None:
                self._handle = self._open_handle()
            data = self._handle.read(offset, size)
            # One call per read: the list is fetched when it grew, or when the read lay next
            # to a damaged range it has (libewf merges a damaged chunk next to a known one into
            # its range: the count stays as it was while the range grows).
            count = self._handle.checksum_error_count()
            if count != self._reported or (count and self._beside_damage(offset, size)):
                self._reported = count
                self._damaged = _merged(self._damaged + self._handle.checksum_errors())
                self.damage_seen = len(self._damaged)
        return data

    def _beside_damage(self, offset: int, size: int) -> bool:
        """Whether [offset, offset + size) lies within a chunk of a known damaged range (any
        read, where the chunk size is not known)."""
        margin = self._chunk_size
        if not margin:
            return True
        at = bisect_right(self._damaged, (offset + size + margin,)) - 1
        return any(start - margin < offset + size and offset < start + length + margin
                   for start, length in self._damaged[max(0, at - 1):at + 1])

    @property
    def direct(self) -> bool:
        """Whether its chunks are read straight from the segment files (ewf_chunks)."""
        return self._chunks is not None

    def prefetch(self, offset: int, length: int) -> None:
        if self._chunks is not None:
            with self._lock:   # the reader's tables and files are loaded as they are needed
                self._chunks.prefetch(offset, length)

    def cached(self, offset: int) -> bool:
        if self._chunks is None:
            return False
        with self._lock:
            return self._chunks.cached(offset)

    def damaged(self) -> List[Tuple[int, int]]:
        return list(self._damaged)

    def close(self):
        if self._handle is not None:
            self._handle.close()
        if self._chunks is not None:
            self._chunks.close()


class PyewfImg(_PyImg):
    """EWF through pyewf alone, where libewf's C API is out of reach: a damaged chunk reads as
    zeros and cannot be told apart."""

    def __init__(self, handle, files: Sequence[BinaryIO] = ()):
        self._handle, self._files = handle, list(files)
        super().__init__(handle.get_media_size())

    def _read(self, offset, size):
        with self._lock:
            return self._handle.read_buffer_at_offset(size, offset)

    def close(self):
        self._handle.close()
        for f in self._files:   # what the handle was opened on, if anything
            f.close()


def _merged(ranges: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    out: List[Tuple[int, int]] = []
    for start, length in sorted(ranges):
        if out and start <= out[-1][0] + out[-1][1]:
            last_start, last_length = out[-1]
            out[-1] = (last_start, max(last_start + last_length, start + length) - last_start)
        else:
            out.append((start, length))
    return out


def overlap(ranges, extents) -> Optional[Tuple[int, int]]:
    """The first of `ranges` ((offset, length), e.g. damaged chunks) that meets any of
    `extents` ((offset, length) on the same media), or None."""
    for start, length in ranges:
        for offset, size in extents:
            if start < offset + size and offset < start + length:
                return start, length
    return None


DEVICES_READ_AS_FILES = sys.platform.startswith("linux")


class RawImg(_PyImg):
    """One raw image file, opened without updating its access time where the OS lets us
    (O_NOATIME, as folders are read): pytsk3's own raw reader opens the file itself."""

    def __init__(self, path: str):
        self._file = open_readonly(path, follow_symlinks=True)
        self._fd = self._file.fileno()
        try:
            size = os.fstat(self._fd).st_size
            if not size:   # a block device (Linux): its size is where it ends
                size = os.lseek(self._fd, 0, os.SEEK_END)
                os.lseek(self._fd, 0, os.SEEK_SET)
        except OSError:
            self._file.close()
            raise
        super().__init__(size)

    @property
    def descriptor(self) -> int:
        return self._fd

    def _read(self, offset, size):
        return os.pread(self._fd, size, offset)   # no shared file offset: no lock

    def prefetch(self, offset: int, length: int) -> None:
        will_need(self._fd, offset, length)

    def cached(self, offset: int) -> bool:
        return in_cache(self._fd, offset)

    def readinto(self, offset: int, buffer: memoryview) -> int:
        done = 0
        while done < len(buffer):
            n = os.preadv(self._fd, [buffer[done:]], offset + done)
            if n <= 0:
                break
            done += n
        return done

    def close(self):
        self._file.close()


class SplitRawImg(_PyImg):
    def __init__(self, segments: List[str]):
        self._files = []
        try:
            for p in segments:
                self._files.append(open_readonly(p, follow_symlinks=True))
        except OSError:
            self.close()
            raise
        self._fds = [f.fileno() for f in self._files]
        self._starts = []
        total = 0
        for fd in self._fds:
            self._starts.append(total)
            total += os.fstat(fd).st_size
        super().__init__(total)

    def prefetch(self, offset: int, length: int) -> None:
        end = min(offset + length, self._size)
        while offset < end:
            i = _segment_at(self._starts, offset)
            stop = self._starts[i + 1] if i + 1 < len(self._starts) else self._size
            will_need(self._fds[i], offset - self._starts[i], min(end, stop) - offset)
            offset = stop

    def cached(self, offset: int) -> bool:
        if not 0 <= offset < self._size:
            return False
        i = _segment_at(self._starts, offset)
        return in_cache(self._fds[i], offset - self._starts[i])

    def _read(self, offset, size):
        out = bytearray()
        while size > 0 and offset < self._size:
            i = _segment_at(self._starts, offset)
            block = os.pread(self._fds[i], size, offset - self._starts[i])
            if not block:
                break
            out += block
            offset += len(block)
            size -= len(block)
        return bytes(out)

    def close(self):
        for f in self._files:
            f.close()
def _segment_at(starts: List[int], offset: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid - 1
    return lo


# --- split-raw naming ------------------------------------------------------------------------

_NUMERIC = re.compile(r"^(?P<base>.*\.)(?P<num>\d{3,})$")          # x.000 x.001 / x.001 x.002
_ALPHA = re.compile(r"^(?P<base>.*\.)(?P<alpha>[a-z]{2,3})$")       # x.aa x.ab (split's default)
_LOOK_PAST_A_GAP = 4   # names tried after a missing one, to tell a gap from the series' end


def split_raw_segments(path: str) -> List[str]:
    """The series a first segment starts, or [] if `path` is not the first of two or more.
    EvidenceError naming the missing segment when the series has a gap."""
    p = Path(path)
    names = _series_names(p.name)
    if names is None:
        return []
    segments = []
    for name in names:
        candidate = p.with_name(name)
        if not candidate.is_file():
            later = [p.with_name(n) for _, n in zip(range(_LOOK_PAST_A_GAP), names)]
            present = next((c for c in later if c.is_file()), None)
            if present is not None:
                raise EvidenceError(f"{path}: split raw segment {candidate.name} is missing "
                                    f"(the series goes on with {present.name})")
            break
        segments.append(str(candidate))
    return segments if len(segments) > 1 else []


def _series_names(first: str):
    m = _NUMERIC.match(first)
    if m:
        width, start = len(m["num"]), int(m["num"])
        if start not in (0, 1):
            return None
        return (f"{m['base']}{i:0{width}d}" for i in range(start, 10 ** width))
    m = _ALPHA.match(first)
    if not m or set(m["alpha"]) != {"a"}:
        return None
    return (m["base"] + _alpha(i, len(m["alpha"])) for i in range(26 ** len(m["alpha"])))


def _alpha(i: int, width: int) -> str:
    letters = []
    for _ in range(width):
        i, r = divmod(i, 26)
        letters.append(chr(ord("a") + r))
    return "".join(reversed(letters))


# --- the container registry --------------------------------------------------------------------

@dataclass(frozen=True)
class Container:
    kind: str
    recognises: Callable[[str, os.stat_result, bytes], bool]
    open: Callable[[str, os.stat_result], Media]


def _is_ewf(path, st, head):
    return head.startswith(EWF_SIGNATURES)


def _open_ewf(path, st):
    files: List[BinaryIO] = []
    try:
        handle = pyewf.handle()
        # pyewf's glob takes only names that are UTF-8 (a name of other bytes, as a Latin-1
        # system wrote it, comes as a str with surrogates): such an image's segments are found
        # by libewf's own naming. Either way pyewf reads them through file objects, opened as
        # every evidence file is (O_NOATIME): its own opens would move their access times.
        segments = pyewf.glob(path) if _is_utf8(path) else ewf_segments(path)
        files = [open_readonly(s, follow_symlinks=True) for s in segments]
        handle.open_file_objects(files, "r")
    except (IOError, OSError, RuntimeError) as exc:
        for f in files:
            f.close()
        raise EvidenceError(f"{path}: cannot open EWF image: {one_line(exc)}") from None
    pin_utc()  # libewf formats header dates in local time; see timefmt.pin_utc
    headers = handle.get_header_values() or {}
    hashes = {k.lower().replace("-", ""): v.lower() for k, v in (handle.get_hash_values() or {}).items()}
    sector_size = handle.bytes_per_sector or 512
    img = _ewf_reader(path, segments, handle, files)
    media = Media(
        kind="ewf",
        path=path,
        size=img.get_size(),
        segments=list(segments),
        img=img,
        metadata=_ewf_metadata(headers),
        stored_hashes=hashes,
        sector_size=sector_size,
        checks_chunks=isinstance(img, EwfImg),
    )
    _check_readable(media)
    return media


def _ewf_reader(path, segments, handle, files: List[BinaryIO]) -> _PyImg:
    """Reads through libewf's C API where it can be reached (damaged chunks then raise), else
    through the pyewf handle already open on `files`. The image's geometry is pyewf's; its
    chunks are read straight from the segments where their layout allows (ewf_chunks)."""
    lib = libewf.load()
    if lib is None:
        return PyewfImg(handle, files)
    media_size = handle.get_media_size()
    chunk_size = handle.get_sectors_per_chunk() * (handle.get_bytes_per_sector() or 512)
    handle.close()
    for f in files:
        f.close()
    tables = ewf_chunks.chunk_map(segments, chunk_size, media_size)
    try:
        chunks = None if tables is None else ewf_chunks.ChunkReader(
            segments, tables, chunk_size, media_size)
    except OSError:
        chunks = None
    opener = partial(libewf.Handle, segments, lib)   # late, its OSError is a read's
    first = None
    if chunks is None:   # libewf reads every chunk: opened now, a failure the image's
        try:
            first = opener()
        except OSError as exc:
            raise EvidenceError(f"{path}: cannot open EWF image: {one_line(exc)}") from None
    return EwfImg(opener, media_size, chunk_size, chunks, first)


_EWF_HEADER_NAMES = {
    "case_number": "case_number",
    "evidence_number": "evidence_number",
    "examiner_name": "examiner",
    "description": "description",
    "notes": "notes",
    "acquiry_date": "acquisition_date",
    "system_date": "system_date",
    "acquiry_operating_system": "acquisition_os",
    "acquiry_software": "acquisition_software",
    "acquiry_software_version": "acquisition_software_version",
    "model": "model",
    "serial_number": "serial_number",
}


def _ewf_metadata(headers: Dict[str, str]) -> Dict[str, str]:
    out = {}
    for key, value in headers.items():
        name = _EWF_HEADER_NAMES.get(key, key)
        if name.endswith("_date"):
            value = _ewf_date(value)
        out[name] = value
    return out


def _ewf_date(text: str) -> str:
    # libewf renders the stored date with ctime() in this process's zone, which pin_utc made UTC.
    try:
        parsed = time.strptime(text.strip(), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return text
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(calendar.timegm(parsed)))


def _virtual_disk(path, st, head):
    """The virtual-disk format (containers.FORMATS) of a regular file, from its first and last
    512 bytes; None when it is none."""
    if not stat.S_ISREG(st.st_mode):
        return None
    from . import containers
    tail = b""
    if st.st_size >= 512:
        try:
            with open_readonly(path, follow_symlinks=True) as f:
                tail = os.pread(f.fileno(), 512, st.st_size - 512)
        except OSError:
            return None
    return containers.recognise(path, head, tail)


def _is_virtual_disk(path, st, head):
    return _virtual_disk(path, st, head) is not None


def _open_virtual_disk(path, st, head=b"", parent=None):
    from . import containers
    return containers.open_disk(_virtual_disk(path, st, head), path, parent)


def _is_split_raw(path, st, head):
    return stat.S_ISREG(st.st_mode) and bool(split_raw_segments(path))


def _open_split_raw(path, st):
    segments = split_raw_segments(path)
    try:
        img = SplitRawImg(segments)
    except OSError as exc:
        raise EvidenceError(f"{exc.filename or path}: {exc.strerror or exc}") from None
    return Media("split-raw", path, img.get_size(), segments, img)


def _is_device(path, st, head):
    return stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode)


def _open_device(path, st):
    try:
        # Linux reads a block device as it reads a file (at any offset, through the page
        # cache): read as a raw image is, so reads are asked for ahead (triage.prefetch) and a
        # sweep reads into its own buffers. Elsewhere (macOS's raw disks take whole sectors
        # alone, and tell their size by ioctl) TSK's reader, which knows both.
        img = RawImg(path) if DEVICES_READ_AS_FILES else pytsk3.Img_Info(path)
    except READ_ERRORS as exc:
        raise EvidenceError(f"{path}: cannot open: {one_line(exc)}") from None
    return Media("device", path, img.get_size(), [path], img)


def _is_raw(path, st, head):
    return stat.S_ISREG(st.st_mode)


def _open_raw(path, st):
    try:
        img = RawImg(path)
    except OSError as exc:
        raise EvidenceError(f"{path}: {exc.strerror or exc}") from None
    return Media("raw", path, img.get_size(), [path], img)


# Tried in this order: the first that recognises the media opens it.
CONTAINERS: Registry[Container] = Registry("container")
for _container in (Container("ewf", _is_ewf, _open_ewf),
                   Container("virtual-disk", _is_virtual_disk, _open_virtual_disk),
                   Container("split-raw", _is_split_raw, _open_split_raw),
                   Container("device", _is_device, _open_device),
                   Container("raw", _is_raw, _open_raw)):
    CONTAINERS.add(_container.kind, _container)


def open_media(path: str, parent: Optional[str] = None) -> Media:
    """Open an image file or device read-only; EvidenceError (one line) when that is impossible.
    `parent`: the parent of a differencing virtual disk (`--parent`)."""
    try:
        st = os.stat(path)
        # Checked before opening: opening a FIFO for reading waits for a writer forever.
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
            raise EvidenceError(f"{path}: not a regular file, block device or folder")
        with open_readonly(path, follow_symlinks=True) as f:
            head = f.read(512)
    except OSError as exc:
        raise EvidenceError(f"{path}: {exc.strerror or exc}") from None
    if head.startswith(LOGICAL_EWF_SIGNATURES):
        raise EvidenceError(f"{path}: logical evidence files (L01/Lx01) are not supported")
    for container in CONTAINERS.values():
        if container.recognises(path, st, head):
            if container.kind == "virtual-disk":
                media = container.open(path, st, head, parent)
            else:
                media = container.open(path, st)
            if parent is not None and "parents" not in media.metadata:
                media.close()
                raise EvidenceError(f"{path}: --parent was given, but this is not a "
                                    f"differencing virtual disk")
            if media.size == 0:
                media.close()
                raise EvidenceError(f"{path}: the media is empty (0 bytes)")
            return media
    raise EvidenceError(f"{path}: not a regular file, block device or folder")


def _check_readable(media: Media) -> None:
    # A truncated EWF, or one missing its last segments, opens but fails on reading: say so at
    # once rather than per file later. (A damaged chunk there reads, and is reported as such.)
    try:
        for offset in (0, max(0, media.size - 512)):
            media.read(offset, min(media.size, 512))
    except READ_ERRORS:
        missing = missing_ewf_segment(media.segments)
        media.close()
        if missing:
            raise EvidenceError(f"{media.path}: EWF segment {Path(missing).name} is missing "
                                f"(the image cannot be read past {Path(media.segments[-1]).name})"
                                ) from None
        raise EvidenceError(f"{media.path}: the EWF image cannot be read from its first chunk "
                            f"(truncated or damaged)") from None


# --- EWF segment files ------------------------------------------------------------------------

def _is_utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def ewf_segments(path: str) -> List[str]:
    """The segment files of the EWF image whose first segment is `path`, as libewf's glob
    finds them: each next name (_next_segment_name) while a file has it."""
    segments = [path]
    while True:
        following = _next_segment_name(segments[-1])
        if following is None or not os.path.isfile(following):
            return segments
        segments.append(following)


def missing_ewf_segment(segments: List[str]) -> Optional[str]:
    """The name of the segment that should follow the last one found, when that one says it is
    not the last (its section chain ends in "next", not "done"): libewf's glob stops at a gap."""
    last = segments[-1] if segments else None
    if last is None or _last_section(last) != "next":
        return None
    return _next_segment_name(last)


def _last_section(path: str) -> Optional[str]:
    """Type of the last section of an EWF-E01 segment file, or None if it cannot be followed."""
    try:
        with open_readonly(path, follow_symlinks=True) as f:
            size = os.fstat(f.fileno()).st_size
            at, kind = ewf_chunks.FILE_HEADER, None
            for _ in range(1 << 16):   # a corrupt chain must not loop forever
                descriptor = os.pread(f.fileno(), ewf_chunks.DESCRIPTOR, at)
                if len(descriptor) < 32:
                    return None
                kind = descriptor[:16].rstrip(b"\0").decode("ascii", "replace")
                following = struct.unpack_from("<Q", descriptor, 16)[0]
                if kind in ("next", "done") or following <= at or following >= size:
                    return kind
                at = following
    except OSError:
        return None
    return None


def _next_segment_name(path: str) -> Optional[str]:
    """libewf's segment naming: .E01 ... .E99, then .EAA ... .EZZ, .FAA ... (case kept)."""
    head, ext = path[:-3], path[-3:]
    if len(ext) != 3 or not ext[0].isalpha():
        return None
    upper = ext[0].isupper()
    a = "A" if upper else "a"
    if ext[1:].isdigit():
        number = int(ext[1:]) + 1
        return head + ext[0] + (f"{number:02d}" if number <= 99 else a * 2)
    letters = [ord(c) - ord(a) for c in ext]
    if not all(0 <= n < 26 for n in letters):
        return None
    for i in (2, 1, 0):
        letters[i] += 1
        if letters[i] < 26:
            break
        letters[i] = 0
    return head + "".join(chr(ord(a) + n) for n in letters)


def verify(media: Media, progress: Optional[Callable[[int], None]] = None,
           chunk: int = 1 << 22) -> Dict[str, Dict[str, Optional[str]]]:
    """Re-read the whole media and compare its MD5 and SHA-1 with the stored ones (ewfverify).

    Damaged chunks are read as ewfverify reads them (libewf gives zeros) and are listed in
    `media.damaged()` once this returns; the caller fails the verification on any."""
    hashers = {"md5": hashlib.md5(), "sha1": hashlib.sha1()}
    offset = 0
    while offset < media.size:
        try:
            block = media.read(offset, min(chunk, media.size - offset))
        except READ_ERRORS as exc:
            raise EvidenceError(f"{media.path}: read failed at media byte {offset:,}: "
                                f"{one_line(exc)}") from None
        if not block:
            raise EvidenceError(f"{media.path}: media ends early at byte {offset} of {media.size}")
        for h in hashers.values():
            h.update(block)
        offset += len(block)
        if progress:
            progress(len(block))
    out = {}
    for name, h in hashers.items():
        computed = h.hexdigest()
        stored = media.stored_hashes.get(name)
        out[name] = {"stored": stored, "computed": computed,
                     "match": None if stored is None else stored == computed}
    return out
