"""Byte sources: what each layer of a volume's chain reads from and gives to the next.

A source is a run of bytes with a size: the media, a window of it (a partition), or what a
library makes of another source (a virtual disk, a logical volume, a decrypted volume). Two
adapters hand a source to the readers above it: `SourceImg` to The Sleuth Kit (an Img_Info)
and `FileObject` to the libyal libraries (a file-like object for `open_file_object`)."""

from __future__ import annotations

import os
import threading
from typing import Optional, Tuple

import pytsk3

from ..streams import Reader
from .media import Media, _PyImg


class Source:
    """`read(offset, size)` gives at most `size` bytes at `offset`; fewer only at the end."""

    size: int = 0

    def read(self, offset: int, size: int) -> bytes:
        raise NotImplementedError

    def readinto(self, offset: int, buffer: memoryview) -> int:
        """Fill `buffer` from `offset`; the count read (fewer only at the end)."""
        data = self.read(offset, len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def tsk(self) -> Tuple[pytsk3.Img_Info, int]:
        """The image TSK reads this source through, and the source's offset in it."""
        img = getattr(self, "_img", None)
        if img is None:
            img = self._img = SourceImg(self)
        return img, 0

    def close(self) -> None:
        img = getattr(self, "_img", None)
        if img is not None:
            self._img = None

    def linear(self) -> Optional[int]:
        """The offset of this source's first byte in the media when its bytes are the media's
        bytes there (a partition), else None (a decrypted or virtual disk's bytes are not)."""
        return None


class MediaSource(Source):
    """The media itself, read through the image TSK already has."""

    def __init__(self, media: Media):
        self.media = media
        self.size = media.size

    def read(self, offset, size):
        return self.media.read(offset, size)

    def readinto(self, offset, buffer):
        return self.media.readinto(offset, buffer)

    def tsk(self):
        return self.media.img, 0

    def linear(self):
        return 0


class Slice(Source):
    """`length` bytes of `parent` from `offset`: a partition, or a physical volume's data."""

    def __init__(self, parent: Source, offset: int, length: int):
        self.parent, self.offset = parent, offset
        self.declared = length     # as the partition table says, past a truncated media's end
        self.size = max(0, min(length, parent.size - offset))

    def read(self, offset, size):
        if offset >= self.size:
            return b""
        return self.parent.read(self.offset + offset, min(size, self.size - offset))

    def readinto(self, offset, buffer):
        if offset >= self.size:
            return 0
        return self.parent.readinto(self.offset + offset, buffer[:self.size - offset])

    def tsk(self):
        img, base = self.parent.tsk()
        return img, base + self.offset

    def linear(self):
        base = self.parent.linear()
        return None if base is None else base + self.offset


class LibyalSource(Source):
    """A libyal object that reads bytes (a virtual disk, a logical volume, a decrypted
    volume). Its reads take turns: a libyal handle is not thread-safe. `keep` holds what it
    reads through (file objects, parent handles), closed with it."""

    def __init__(self, handle, size: int, keep=()):
        self.handle, self.size, self._keep = handle, size, list(keep)
        self._lock = threading.Lock()

    def read(self, offset, size):
        size = min(size, self.size - offset)
        if size <= 0:
            return b""
        with self._lock:
            return self.handle.read_buffer_at_offset(size, offset)

    def close(self):
        super().close()
        for thing in [self.handle, *self._keep]:
            closer = getattr(thing, "close", None)
            if closer is not None:
                try:
                    closer()
                except (OSError, IOError, RuntimeError):
                    pass
        self._keep = []


class BytesSource(Source):
    """A source computed in Python (a decrypted LUKS volume): `reader(offset, size)`."""

    def __init__(self, reader, size: int):
        self._reader, self.size = reader, size

    def read(self, offset, size):
        size = min(size, self.size - offset)
        return self._reader(offset, size) if size > 0 else b""


class SourceImg(_PyImg):
    """A source as The Sleuth Kit's image; `owns`: closing the image closes the source (a
    virtual disk's media), else the source's owner closes it."""

    def __init__(self, source: Source, owns: bool = False):
        self._source, self._owns = source, owns
        super().__init__(source.size)

    def _read(self, offset, size):
        return self._source.read(offset, size)

    def close(self):
        if self._owns:
            self._source.close()


class RandomAccess(Reader):
    """A reader of `_size` bytes read at `_pos`, which may be anywhere: a zip's directory is
    at its end, an MP4's index often too."""

    _pos = 0
    _size = 0

    def seekable(self):
        return True

    def seek(self, offset, whence=os.SEEK_SET):
        if whence == os.SEEK_CUR:
            offset += self._pos
        elif whence == os.SEEK_END:
            offset += self._size
        if offset < 0:
            raise OSError(f"seek to {offset} before the start")
        self._pos = offset
        return offset

    def tell(self):
        return self._pos


class FileObject(RandomAccess):
    """A source as the file-like object the libyal libraries' `open_file_object` reads."""

    def __init__(self, source: Source):
        super().__init__()
        self._source, self._pos, self._size = source, 0, source.size

    def read(self, size=-1):
        if size is None or size < 0:
            size = self._source.size - self._pos
        data = self._source.read(self._pos, size)
        self._pos += len(data)
        return data

    def get_size(self):
        return self._source.size

    def get_offset(self):
        return self._pos

    def close(self):
        pass   # libyal closes what it was given; the source outlives it
