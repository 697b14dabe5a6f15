"""The one shape of a raw reader whose `read` does the work: evidence readers, archive members,
thumbnail slices and video sources all read through it."""

from __future__ import annotations

import io


class Reader(io.RawIOBase):
    """A raw reader whose `read` does the work: `readinto` (what buffered readers and
    libraries call) on top of it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)
