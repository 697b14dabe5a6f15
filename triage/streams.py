"""The one shape of a raw reader whose `read` does the work: evidence readers, archive members,
thumbnail slices and video sources all read through it."""

from __future__ import annotations

import io
import os
from functools import partial
from typing import Callable, Optional


class Reader(io.RawIOBase):
    """A raw reader whose `read` does the work: `readinto` (what buffered readers and
    libraries call) on top of it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def descriptor(reader) -> Optional[int]:
    """The OS descriptor a folder's file is read by with positioned reads (os.pread, no
    seeks): a file object's (io.FileIO), or the reader itself where it is a bare descriptor
    (the batch screen's, folder.OsFile.descriptor); None for any other reader."""
    if type(reader) is int:
        return reader
    return reader.fileno() if type(reader) is io.FileIO else None


def positioned(reader) -> Optional[Callable[[int, int], bytes]]:
    """`read_at(length, offset)`: `length` bytes of what `reader` reads from `offset` (fewer at
    its end), without moving it, where it has such reads: a folder's file (os.pread on its
    descriptor) or a reader with its own `read_at` (an image's file read by its runs,
    tsk_walk.RunReader); else None (seek and read). The batch screen's edges and container
    marks are read so: no seeks, no position kept."""
    fd = descriptor(reader)
    if fd is not None:
        return partial(os.pread, fd)
    return getattr(reader, "read_at", None)
