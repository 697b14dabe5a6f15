"""The compiled-set file: one file per set, memory-mapped on open.

    0   magic  b"TRIAGEHS"
    8   u32    format version
    12  u32    length of the signature trailer (0: unsigned; else TRAILER.size)
    16  u64    header length in bytes
    24  u64    data length in bytes
    32  32 B   SHA-256 of the header
    64  32 B   SHA-256 of the data
    96  JSON header: set metadata and, per array, its offset (from the data start), dtype, shape
    ... zero padding to a 4 KiB boundary: the data start
    data: the arrays, each starting on a 4 KiB boundary
    ... a signed set ends with the signature trailer:
        magic b"TRIAGESG", u32 version 1, u32 0, 32 B Ed25519 public key, 64 B signature of
        SIGNED_CONTEXT + SHA-256 of every byte before the trailer (the prefix included, with
        its trailer length), so one changed byte anywhere (padding too) breaks it.

Why not SQLite: the arrays must be usable without a copy (open in milliseconds, pages shared
between worker processes), and a B-tree adds ~2x the bytes per digest; see docs/hashsets.md
for the measurements. Every length and checksum is checked on open, so a truncated or
corrupted file is refused with one line instead of answering wrong."""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import struct
import tempfile
import threading
from functools import partial
from pathlib import Path
from typing import Callable, Dict, NamedTuple, Optional, Tuple

import numpy as np

from ..errors import HashSetError, TriageError
from . import checksums
from .checksums import MAGIC, PREFIX

VERSION = 2      # 2: per-signal bucket index (compile.bucket_index)
TRAILER = struct.Struct("<8sII32s64s")
TRAILER_MAGIC = b"TRIAGESG"
SIGNED_CONTEXT = b"triage-hash-set-signature-v1\0"


_align = checksums.align


def is_store(head: bytes) -> bool:
    return head.startswith(MAGIC)


def write(path, header: dict, arrays: Dict[str, np.ndarray]) -> None:
    """Write atomically: a temporary file beside `path`, renamed over it when complete."""
    path = Path(path)
    layout, offset = {}, 0
    for name, array in arrays.items():
        layout[name] = {"offset": offset, "dtype": array.dtype.str, "shape": list(array.shape)}
        offset = _align(offset + array.nbytes)
    header = dict(header, arrays=layout)
    blob = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    data_start = _align(PREFIX.size + len(blob))
    digest = hashlib.sha256()
    try:
        fd, tmp = tempfile.mkstemp(prefix=".triage-set-", dir=path.parent or ".")
    except OSError as exc:
        raise TriageError(f"{path}: cannot write here: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(b"\0" * PREFIX.size + blob)
            f.write(b"\0" * (data_start - f.tell()))
            written = 0
            for name, array in arrays.items():
                pad = layout[name]["offset"] - written
                for chunk in (b"\0" * pad, np.ascontiguousarray(array).tobytes()):
                    f.write(chunk)
                    digest.update(chunk)
                written = layout[name]["offset"] + array.nbytes
            f.seek(0)
            f.write(PREFIX.pack(MAGIC, VERSION, 0, len(blob), written,
                                hashlib.sha256(blob).digest(), digest.digest()))
        os.replace(tmp, path)
    except OSError as exc:   # a full disk, a folder where the set should go
        _discard(tmp)
        raise TriageError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: str) -> None:
    if os.path.exists(tmp):
        os.unlink(tmp)


class Opened(NamedTuple):
    header: dict
    arrays: Dict[str, np.ndarray]   # read-only views of the mapping
    mapped: mmap.mmap
    signer: Optional[str]           # the signer's key fingerprint, or None
    pending: Optional["Pending"]    # the checks left to a thread (open_mapped's `later`)


def open_mapped(path, verify: bool = True, trust=None, later: bool = False) -> Opened:
    """The set at `path`, mapped. `verify` re-hashes the data (about 0.2 s per 10 million
    MD5s) so that a flipped bit cannot give a wrong answer; a signed set is always verified,
    signature included. `trust`: raw public keys, one of which must have signed the set.
    `later`: the re-hash (and the signature's check) runs in a thread while the caller goes
    on, and Opened.pending.wait() says what it found; everything else is checked here."""
    path = Path(path)
    if trust is not None:
        verify = True
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            prefix = f.read(PREFIX.size)
            if len(prefix) < PREFIX.size or not prefix.startswith(MAGIC):
                raise HashSetError(f"{path}: not a compiled triage hash set")
            _, version, trailer, header_len, data_len, header_sum, data_sum = \
                PREFIX.unpack(prefix)
            if version != VERSION:
                raise HashSetError(f"{path}: compiled set format version {version}, this "
                                   f"triage reads version {VERSION}: re-import the source")
            if trailer not in (0, TRAILER.size):
                raise HashSetError(f"{path}: compiled set header is truncated or corrupted")
            if header_len > size:
                raise HashSetError(f"{path}: compiled set header is truncated or corrupted")
            blob = f.read(header_len)
            if len(blob) != header_len or hashlib.sha256(blob).digest() != header_sum:
                raise HashSetError(f"{path}: compiled set header is truncated or corrupted")
            data_start = _align(PREFIX.size + header_len)
            if size != data_start + data_len + trailer:
                raise HashSetError(f"{path}: compiled set is truncated ({size} bytes, "
                                   f"expected {data_start + data_len + trailer})")
            header = json.loads(blob)
            signer = check = None   # check: what is wrong with the data (None: nothing)
            if trailer:
                public, signature = _trailer(f, path, data_start + data_len)
                signer = _fingerprint(public)
                check = partial(_signed_intact, path, data_start, data_len, data_sum, public,
                                signature, signer, trust)
            elif trust is not None:
                raise HashSetError(f"{path}: not signed, and --trust accepts only sets signed "
                                   f"by a trusted key (`triage hashset sign`)")
            elif verify:
                check = partial(_intact, path, data_start, data_len, data_sum)
            pending = None
            if check is not None:
                # its own descriptor of the same file: the one mapped, whatever its path
                # names meanwhile; read by position, no offset shared
                checked = partial(_checked, path, os.dup(f.fileno()), check)
                if later:
                    pending = Pending(checked)
                else:
                    problem = checked()
                    if problem is not None:
                        raise HashSetError(problem)
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise HashSetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise HashSetError(f"{path}: compiled set header is not valid JSON") from None
    arrays = {}
    try:
        layout = header.get("arrays") if isinstance(header, dict) else None
        if not isinstance(layout, dict):
            raise ValueError("no array layout")
        for name, spec in layout.items():
            dtype, shape, start = _array_spec(spec, data_start, data_start + data_len)
            arrays[name] = np.frombuffer(mapped, dtype, int(np.prod(shape)), start).reshape(shape)
    except ValueError as exc:
        arrays.clear()
        mapped.close()
        raise HashSetError(f"{path}: compiled set layout is inconsistent: {exc}") from None
    return Opened(header, arrays, mapped, signer, pending)


class Pending:
    """A set's checks of its data, running in a thread of their own: the data's SHA-256
    (hashlib lets go of the GIL) takes tens of ms a set, which a scan's start spends on
    other work meanwhile. `wait()` raises the HashSetError that names what is wrong."""

    def __init__(self, check: Callable[[], Optional[str]]):
        self._problem: Optional[str] = None
        self._thread = threading.Thread(target=self._run, args=(check,), daemon=True,
                                        name="set-checks")
        self._thread.start()

    def _run(self, check) -> None:
        try:
            self._problem = check()
        except BaseException as exc:   # noqa: BLE001 - told by wait(), in the caller's thread
            self._problem = f"cannot be checked: {type(exc).__name__}: {exc}"

    def wait(self) -> None:
        self.join()
        if self._problem is not None:
            raise HashSetError(self._problem)

    def join(self) -> None:
        """Return once the checks have ended, whatever they found."""
        self._thread.join()


def _checked(path, fd: int, check) -> Optional[str]:
    """What `check(fd)` finds wrong with the set at `path`, read through `fd` (closed here)."""
    try:
        return check(fd)
    except OSError as exc:
        return f"{path}: cannot read: {exc.strerror or exc}"
    finally:
        os.close(fd)


def _trailer(f, path, end: int) -> Tuple[bytes, bytes]:
    """The signature trailer's (public key, signature); HashSetError where it is damaged."""
    f.seek(end)
    magic, version, reserved, public, signature = TRAILER.unpack(f.read(TRAILER.size))
    if magic != TRAILER_MAGIC or version != 1 or reserved:
        raise HashSetError(f"{path}: the signature at the end of the set is damaged")
    return public, signature


def _fingerprint(public: bytes) -> str:
    from .. import signing   # `cryptography` is loaded only for a signed set
    return signing.fingerprint(public)


def _intact(path, data_start: int, data_len: int, data_sum: bytes, fd: int) -> Optional[str]:
    if checksums.digests(fd, data_start, data_len, whole=False).data != data_sum:
        return f"{path}: compiled set data is corrupted (checksum mismatch)"
    return None


def _signed_intact(path, data_start: int, data_len: int, data_sum: bytes, public: bytes,
                   signature: bytes, who: str, trust, fd: int) -> Optional[str]:
    """The trailer's signature over the whole file, and the data's checksum, in one read."""
    from .. import signing
    made = checksums.digests(fd, data_start, data_len, whole=True)
    if made.data != data_sum:
        return f"{path}: compiled set data is corrupted (checksum mismatch)"
    if not signing.verify(public, signature, SIGNED_CONTEXT + made.whole):
        return (f"{path}: the signature does not match: the set was altered after it was "
                f"signed")
    if trust is not None and public not in trust:
        return f"{path}: signed by {who}, which is not a trusted key (--trust)"
    return None


def sign(path, signer) -> str:
    """Sign the set file at `path` in place (a file beside it, renamed over it): a signature
    already there is replaced. The set must open clean first. Returns the fingerprint."""
    path = Path(path)
    mapped = open_mapped(path).mapped   # its arrays, the mapping's views, go with the rest
    mapped.close()
    try:
        with open(path, "rb") as src:
            prefix = bytearray(src.read(PREFIX.size))
            _, _, trailer, header_len, data_len, _, _ = PREFIX.unpack(prefix)
            end = _align(PREFIX.size + header_len) + data_len
            struct.pack_into("<I", prefix, 12, TRAILER.size)
            fd, tmp = tempfile.mkstemp(prefix=".triage-set-", dir=path.parent or ".")
            try:
                whole = hashlib.sha256(prefix)
                with os.fdopen(fd, "wb") as out:
                    out.write(prefix)
                    left = end - PREFIX.size
                    while left:
                        chunk = src.read(min(left, 1 << 22))
                        if not chunk:
                            raise HashSetError(f"{path}: changed while it was being signed")
                        whole.update(chunk)
                        out.write(chunk)
                        left -= len(chunk)
                    signature = signer.sign(SIGNED_CONTEXT + whole.digest())
                    out.write(TRAILER.pack(TRAILER_MAGIC, 1, 0, signer.public, signature))
                os.replace(tmp, path)
            except BaseException:
                _discard(tmp)
                raise
    except OSError as exc:
        raise TriageError(f"{path}: cannot sign: {exc.strerror or exc}") from None
    return signer.fingerprint


# The dtypes compile writes (unsigned integers, little-endian or single byte).
DTYPES = {"|u1", "<u2", "<u4", "<u8"}


def _array_spec(spec, data_start: int, size: int):
    """(dtype, shape, file offset) of one array's layout entry, each field checked: a crafted
    header must not reach numpy with an object dtype, a negative size or a span past the
    end."""
    if not isinstance(spec, dict) or not isinstance(spec.get("dtype"), str) \
            or spec["dtype"] not in DTYPES:
        raise ValueError("an array of a type compiled sets do not use")
    shape, offset = spec.get("shape"), spec.get("offset")
    if not isinstance(shape, list) or not 1 <= len(shape) <= 2 \
            or not all(type(n) is int and 0 <= n <= size for n in shape) \
            or type(offset) is not int or offset < 0:
        raise ValueError("an array with a malformed shape or offset")
    dtype = np.dtype(spec["dtype"])
    count = 1
    for n in shape:
        count *= n
    start = data_start + offset
    if start + count * dtype.itemsize > size:
        raise ValueError("an array runs past the end of the file")
    return dtype, tuple(shape), start
