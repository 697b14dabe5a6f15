"""Open any evidence item read-only and stream its file entries.

Layers as in The Sleuth Kit: media (raw, split raw, EWF, device) -> volumes (partition table or
none) -> file systems -> files. A folder skips the first three and is walked through the OS."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Union

from ..errors import EvidenceError
from ..records import FileEntry, ScanError, Volume
from ..timefmt import pin_utc
from . import folder, tsk_walk
from .media import Media, open_media, verify
from .volumes import find_volumes, open_fs

__all__ = ["Evidence", "open_evidence", "verify"]


@dataclass
class Evidence:
    path: str
    kind: str                                  # "raw", "split-raw", "ewf", "device", "folder"
    size: Optional[int] = None                 # media bytes; None for a folder
    segments: List[str] = field(default_factory=list)
    partition_table: Optional[str] = None      # "dos", "gpt", ... None when there is none
    volumes: List[Volume] = field(default_factory=list)
    metadata: Dict[str, str] = field(default_factory=dict)
    stored_hashes: Dict[str, str] = field(default_factory=dict)
    media: Optional[Media] = field(default=None, repr=False)
    _fs: Dict[int, object] = field(default_factory=dict, repr=False)

    def entries(self, deleted: bool = True) -> Iterator[Union[FileEntry, ScanError]]:
        """Every file entry, then-and-there errors included as ScanError records, in a stable
        order: volumes in partition-table order, files depth-first in directory order."""
        if self.kind == "folder":
            yield from folder.walk(self.path, self.path)
            return
        for volume in self.volumes:
            end = volume.offset + volume.length
            if self.size is not None and end > self.size:
                yield ScanError(self.path, f"the volume ends at byte {end:,} but the media has "
                                f"only {self.size:,} bytes (truncated image?): content beyond "
                                f"the end cannot be read", volume)
            fs = self._fs.get(volume.index)
            if fs is None:
                yield ScanError(self.path, volume.error or "no file system", volume)
                continue
            yield from tsk_walk.walk(fs, volume, self.path, deleted=deleted)

    def describe(self) -> dict:
        return {
            "path": self.path,
            "container": self.kind,
            "size": self.size,
            "segments": self.segments,
            "partition_table": self.partition_table,
            "metadata": self.metadata,
            "stored_hashes": self.stored_hashes,
            "volumes": [
                {"index": v.index, "offset": v.offset, "length": v.length,
                 "description": v.description, "fs_type": v.fs_type,
                 "block_size": v.block_size, "error": v.error}
                for v in self.volumes
            ],
        }

    def close(self) -> None:
        self._fs.clear()
        if self.media is not None:
            self.media.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_evidence(path: str) -> Evidence:
    """Open a disk image, device or folder read-only. EvidenceError when nothing in it can be
    read at all; a volume that cannot be read is kept with its reason and the rest goes on."""
    if os.path.isdir(path):
        return Evidence(path=path, kind="folder")
    pin_utc()
    media = open_media(path)
    table, volumes = find_volumes(media.img, media.size)
    opened, filesystems = [], {}
    for volume in volumes:
        fs, volume = open_fs(media.img, volume)
        opened.append(volume)
        if fs is not None:
            filesystems[volume.index] = fs
    if not filesystems and table is None:
        hint = ""
        if media.read(510, 2) == b"\x55\xaa":
            hint = "; sector 0 has a boot signature, so the partition table may be corrupt"
        media.close()
        raise EvidenceError(f"{path}: no partition table or file system found "
                            f"({media.kind} media of {media.size:,} bytes{hint})")
    return Evidence(path=path, kind=media.kind, size=media.size, segments=media.segments,
                    partition_table=table, volumes=opened, metadata=media.metadata,
                    stored_hashes=media.stored_hashes, media=media, _fs=filesystems)
