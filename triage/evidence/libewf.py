"""libewf's own C API, reached through ctypes on the library pyewf is built from.

pyewf reads a chunk whose checksum fails as zeros and says nothing; libewf itself keeps the
list of such chunks (`libewf_handle_get_checksum_error`, what `ewfverify` prints as "sector
validation errors"), but pyewf does not expose it. The pyewf extension module carries libewf
statically with its symbols exported, so the same library is opened here a second time by
path (dlopen hands back the module already loaded) and a handle of our own reads through it.

`load()` is None when the symbols cannot be reached (another build of pyewf): reads then go
through pyewf, and damaged chunks cannot be told from zeros."""

from __future__ import annotations

import ctypes
import errno
import os
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple

import pyewf

_READ = 0x01   # LIBEWF_ACCESS_FLAG_READ

_P = ctypes.c_void_p
_ERR = ctypes.POINTER(_P)

# (name, argument types, result type): the part of libewf.h used here.
_SIGNATURES = (
    ("libewf_handle_initialize", [ctypes.POINTER(_P), _ERR], ctypes.c_int),
    ("libewf_handle_open", [_P, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int,
                            _ERR], ctypes.c_int),
    ("libewf_handle_close", [_P, _ERR], ctypes.c_int),
    ("libewf_handle_free", [ctypes.POINTER(_P), _ERR], ctypes.c_int),
    ("libewf_handle_read_buffer_at_offset", [_P, _P, ctypes.c_size_t, ctypes.c_int64, _ERR],
     ctypes.c_ssize_t),
    ("libewf_handle_get_bytes_per_sector", [_P, ctypes.POINTER(ctypes.c_uint32), _ERR],
     ctypes.c_int),
    ("libewf_handle_get_number_of_checksum_errors", [_P, ctypes.POINTER(ctypes.c_uint32), _ERR],
     ctypes.c_int),
    ("libewf_handle_get_checksum_error", [_P, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint64),
                                          ctypes.POINTER(ctypes.c_uint64), _ERR], ctypes.c_int),
    ("libewf_error_sprint", [_P, ctypes.c_char_p, ctypes.c_size_t], ctypes.c_int),
    ("libewf_error_free", [ctypes.POINTER(_P)], None),
)


@lru_cache(maxsize=None)
def load() -> Optional[ctypes.CDLL]:
    """The library with its signatures declared, or None when its symbols are out of reach."""
    try:
        lib = ctypes.CDLL(pyewf.__file__)
        for name, args, result in _SIGNATURES:
            function = getattr(lib, name)
            function.argtypes, function.restype = args, result
    except (OSError, AttributeError, TypeError):
        return None
    return lib


@lru_cache(maxsize=None)
def inflates_with_zlib() -> bool:
    """Whether libewf inflates EWF chunks with zlib, about 3x as fast as with its own deflate,
    which the pyewf wheel uses (packaging/pyewf-with-zlib.sh). dlsym on pyewf's own handle
    searches it and the libraries it links, not the others the process has loaded (Python's
    zlib module's)."""
    try:
        return hasattr(ctypes.CDLL(pyewf.__file__), "uncompress")
    except OSError:
        return False


# A new bytes object, uninitialised, to read into (what pyewf does in C): the C API allows
# filling it before anyone else holds it, and it saves copying every byte read once more.
_new_bytes = ctypes.pythonapi.PyBytes_FromStringAndSize
_new_bytes.argtypes, _new_bytes.restype = [ctypes.c_void_p, ctypes.c_ssize_t], ctypes.py_object
_bytes_buffer = ctypes.pythonapi.PyBytes_AsString
_bytes_buffer.argtypes, _bytes_buffer.restype = [ctypes.py_object], ctypes.c_void_p


class LibewfError(OSError):
    """A libewf call failed; the message is libewf's most specific line."""


def _raise(lib, what: str, error: _P):
    text = ""
    if error:
        buffer = ctypes.create_string_buffer(4096)
        if lib.libewf_error_sprint(error, buffer, len(buffer)) > 0:
            text = buffer.value.decode("utf-8", "backslashreplace")
        lib.libewf_error_free(ctypes.byref(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    raise LibewfError(errno.EIO, f"{what}: {lines[-1] if lines else 'libewf error'}")


class Handle:
    """One libewf handle opened read-only on the segment files of an EWF image. Not for two
    threads at once (neither is libewf's handle): EwfImg reads under its lock."""

    def __init__(self, segments: Sequence[str], lib: ctypes.CDLL):
        self._lib = lib
        self._handle = _P()
        error = _P()
        if lib.libewf_handle_initialize(ctypes.byref(self._handle), ctypes.byref(error)) != 1:
            _raise(lib, "cannot initialise libewf", error)
        names = [os.fsencode(s) for s in segments]   # a name's own bytes, UTF-8 or not
        array = (ctypes.c_char_p * len(names))(*names)
        if lib.libewf_handle_open(self._handle, array, len(names), _READ,
                                  ctypes.byref(error)) != 1:
            self._free()
            _raise(lib, "cannot open EWF image", error)
        # the image's size and chunk size are pyewf's (media._ewf_reader): this handle is
        # opened for the chunks triage cannot read itself, and for their checksum errors
        self.bytes_per_sector = self._get(lib.libewf_handle_get_bytes_per_sector,
                                          ctypes.c_uint32) or 512
        # Made once: the count is asked after every read (a few microseconds saved a call).
        self._count, self._error = ctypes.c_uint32(), _P()
        self._count_args = (self._handle, ctypes.byref(self._count), ctypes.byref(self._error))
        self._count_of = lib.libewf_handle_get_number_of_checksum_errors

    def _get(self, function, kind):
        value, error = kind(), _P()
        if function(self._handle, ctypes.byref(value), ctypes.byref(error)) != 1:
            _raise(self._lib, function.__name__, error)
        return value.value

    def read(self, offset: int, size: int) -> bytes:
        if size > 1:
            data = _new_bytes(None, size)
            count = self._read_into(_bytes_buffer(data), offset, size)
            return data if count == size else data[:count]
        # The empty and one-byte bytes objects are shared singletons: never written into.
        buffer = ctypes.create_string_buffer(1)
        return ctypes.string_at(buffer, self._read_into(buffer, offset, size))

    def _read_into(self, buffer, offset: int, size: int) -> int:
        error = _P()
        count = self._lib.libewf_handle_read_buffer_at_offset(self._handle, buffer, size, offset,
                                                              ctypes.byref(error))
        if count < 0:
            _raise(self._lib, f"read failed at media byte {offset:,}", error)
        return count

    def checksum_error_count(self) -> int:
        if self._count_of(*self._count_args) != 1:
            error, self._error.value = _P(self._error.value), None
            _raise(self._lib, "libewf_handle_get_number_of_checksum_errors", error)
        return self._count.value

    def checksum_errors(self) -> List[Tuple[int, int]]:
        """Every damaged range libewf has met so far, as (media byte offset, length)."""
        out = []
        for index in range(self.checksum_error_count()):
            start, count, error = ctypes.c_uint64(), ctypes.c_uint64(), _P()
            if self._lib.libewf_handle_get_checksum_error(self._handle, index, ctypes.byref(start),
                                                          ctypes.byref(count),
                                                          ctypes.byref(error)) != 1:
                _raise(self._lib, "libewf_handle_get_checksum_error", error)
            out.append((start.value * self.bytes_per_sector, count.value * self.bytes_per_sector))
        return out

    def close(self) -> None:
        if self._handle:
            error = _P()
            self._lib.libewf_handle_close(self._handle, ctypes.byref(error))
            if error:
                self._lib.libewf_error_free(ctypes.byref(error))
            self._free()

    def _free(self) -> None:
        error = _P()
        self._lib.libewf_handle_free(ctypes.byref(self._handle), ctypes.byref(error))
        if error:
            self._lib.libewf_error_free(ctypes.byref(error))
        self._handle = _P()
