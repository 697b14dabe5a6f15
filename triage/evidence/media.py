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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pyewf
import pytsk3

from ..errors import EvidenceError, READ_ERRORS, one_line
from ..registry import Registry
from ..timefmt import pin_utc

EWF_SIGNATURES = (b"EVF\x09\x0d\x0a\xff\x00", b"EVF2\x0d\x0a\x81\x00")
LOGICAL_EWF_SIGNATURES = (b"LVF\x09\x0d\x0a\xff\x00", b"LEF2\x0d\x0a\x81\x00")


@dataclass
class Media:
    kind: str                          # "raw", "split-raw", "ewf", "device"
    path: str
    size: int
    segments: List[str]
    img: pytsk3.Img_Info
    metadata: Dict[str, str] = field(default_factory=dict)        # E01 header values
    stored_hashes: Dict[str, str] = field(default_factory=dict)   # hashes the container carries
    sector_size: int = 512

    def read(self, offset: int, length: int) -> bytes:
        return self.img.read(offset, length)

    def close(self) -> None:
        self.img.close()


class _PyImg(pytsk3.Img_Info):
    """A TSK image whose bytes come from Python (EWF via pyewf, split raw from segment files)."""

    def __init__(self, size: int):
        self._size = size
        self._lock = threading.Lock()  # pyewf handles and shared file offsets are not thread-safe
        super().__init__(url="", type=pytsk3.TSK_IMG_TYPE_EXTERNAL)

    def get_size(self) -> int:
        return self._size


class EwfImg(_PyImg):
    def __init__(self, handle):
        self._handle = handle
        super().__init__(handle.get_media_size())

    def read(self, offset, size):
        with self._lock:
            return self._handle.read_buffer_at_offset(size, offset)

    def close(self):
        self._handle.close()


class SplitRawImg(_PyImg):
    def __init__(self, segments: List[str]):
        self._files = [open(p, "rb") for p in segments]
        self._starts = []
        total = 0
        for f in self._files:
            self._starts.append(total)
            total += os.fstat(f.fileno()).st_size
        super().__init__(total)

    def read(self, offset, size):
        out = bytearray()
        with self._lock:
            while size > 0 and offset < self._size:
                i = _segment_at(self._starts, offset)
                f = self._files[i]
                f.seek(offset - self._starts[i])
                block = f.read(size)
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


def split_raw_segments(path: str) -> List[str]:
    """The series a first segment starts, or [] if `path` is not the first of two or more."""
    p = Path(path)
    m = _NUMERIC.match(p.name)
    if m:
        width, first = len(m["num"]), int(m["num"])
        if first not in (0, 1):
            return []
        names = (f"{m['base']}{i:0{width}d}" for i in range(first, 10 ** width))
    else:
        m = _ALPHA.match(p.name)
        if not m or set(m["alpha"]) != {"a"}:
            return []
        names = (m["base"] + _alpha(i, len(m["alpha"])) for i in range(26 ** len(m["alpha"])))
    segments = []
    for name in names:
        candidate = p.with_name(name)
        if not candidate.is_file():
            break
        segments.append(str(candidate))
    return segments if len(segments) > 1 else []


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
    try:
        segments = pyewf.glob(path)
        handle = pyewf.handle()
        handle.open(segments, "r")
    except (IOError, OSError, RuntimeError) as exc:
        raise EvidenceError(f"{path}: cannot open EWF image: {one_line(exc)}") from None
    pin_utc()  # libewf formats header dates in local time; see timefmt.pin_utc
    headers = handle.get_header_values() or {}
    hashes = {k.lower().replace("-", ""): v.lower() for k, v in (handle.get_hash_values() or {}).items()}
    media = Media(
        kind="ewf",
        path=path,
        size=handle.get_media_size(),
        segments=list(segments),
        img=EwfImg(handle),
        metadata=_ewf_metadata(headers),
        stored_hashes=hashes,
        sector_size=handle.bytes_per_sector or 512,
    )
    _check_readable(media)
    return media


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


def _is_split_raw(path, st, head):
    return stat.S_ISREG(st.st_mode) and bool(split_raw_segments(path))


def _open_split_raw(path, st):
    segments = split_raw_segments(path)
    img = SplitRawImg(segments)
    return Media("split-raw", path, img.get_size(), segments, img)


def _is_device(path, st, head):
    return stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode)


def _open_native(kind):
    def opener(path, st):
        try:
            img = pytsk3.Img_Info(path)  # TSK opens raw files and devices O_RDONLY
        except READ_ERRORS as exc:
            raise EvidenceError(f"{path}: cannot open: {one_line(exc)}") from None
        return Media(kind, path, img.get_size(), [path], img)
    return opener


def _is_raw(path, st, head):
    return stat.S_ISREG(st.st_mode)


# Tried in this order: the first that recognises the media opens it.
CONTAINERS: Registry[Container] = Registry("container")
for _container in (Container("ewf", _is_ewf, _open_ewf),
                   Container("split-raw", _is_split_raw, _open_split_raw),
                   Container("device", _is_device, _open_native("device")),
                   Container("raw", _is_raw, _open_native("raw"))):
    CONTAINERS.add(_container.kind, _container)


def open_media(path: str) -> Media:
    """Open an image file or device read-only; EvidenceError (one line) when that is impossible."""
    try:
        st = os.stat(path)
        # Checked before opening: opening a FIFO for reading waits for a writer forever.
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
            raise EvidenceError(f"{path}: not a regular file, block device or folder")
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as exc:
        raise EvidenceError(f"{path}: {exc.strerror or exc}") from None
    if head.startswith(LOGICAL_EWF_SIGNATURES):
        raise EvidenceError(f"{path}: logical evidence files (L01/Lx01) are not supported")
    for container in CONTAINERS.values():
        if container.recognises(path, st, head):
            media = container.open(path, st)
            if media.size == 0:
                raise EvidenceError(f"{path}: the media is empty (0 bytes)")
            return media
    raise EvidenceError(f"{path}: not a regular file, block device or folder")


def _check_readable(media: Media) -> None:
    # A truncated EWF, or one missing its last segments, opens but fails on reading: say so at
    # once rather than per file later.
    try:
        media.read(0, min(media.size, 512))
        media.read(max(0, media.size - 512), min(media.size, 512))
    except READ_ERRORS:
        raise EvidenceError(f"{media.path}: the EWF image cannot be read from its first chunk "
                            f"(truncated, damaged, or a segment is missing)") from None


def verify(media: Media, progress: Optional[Callable[[int], None]] = None,
           chunk: int = 1 << 22) -> Dict[str, Dict[str, Optional[str]]]:
    """Re-read the whole media and compare its MD5 and SHA-1 with the stored ones (ewfverify).

    pyewf returns zeros for a chunk whose checksum fails instead of raising, so a damaged E01
    only shows as a hash mismatch: this full re-hash is the one way to catch it."""
    hashers = {"md5": hashlib.md5(), "sha1": hashlib.sha1()}
    offset = 0
    while offset < media.size:
        block = media.read(offset, min(chunk, media.size - offset))
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
