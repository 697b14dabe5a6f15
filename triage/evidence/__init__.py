"""Open any evidence item read-only and stream its file entries.

Layers as in The Sleuth Kit: media (raw, split raw, EWF, device) -> volumes (partition table or
none) -> file systems -> files. A folder skips the first three and is walked through the OS; a
loose picture or video is one file, as in a folder of its own."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Dict, Iterator, List, Optional, Union

import magic

from ..errors import EvidenceError, READ_ERRORS
from ..records import FileEntry, ScanError, Volume
from ..safetext import path_text
from ..timefmt import pin_utc
from . import folder, tsk_walk
from .media import DamagedMedia, Media, open_media, verify
from .volumes import find_volumes, open_fs

__all__ = ["DamagedMedia", "Evidence", "open_evidence", "verify"]

# A file libmagic names so (or an archive, triage.containers) is scanned as one file when it
# holds no partition table or file system; anything else that holds neither stays an error (a damaged disk image must not pass
# for "one file" and be judged as such).
LOOSE_FILE_TYPES = ("image/", "video/")
_SNIFF = 8192


@dataclass
class Evidence:
    path: str
    kind: str                                  # "raw", "split-raw", "ewf", "device", "folder", "file"
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
        shown = self.name
        if self.kind == "folder":
            yield from folder.walk(self.path, shown)
            return
        if self.kind == "file":
            yield folder.single(self.path, shown)
            return
        for volume in self.volumes:
            end = volume.offset + volume.length
            if self.size is not None and volume.offset < self.size < end:
                yield ScanError(shown, f"the volume ends at byte {end:,} but the media has "
                                f"only {self.size:,} bytes (truncated image?): content beyond "
                                f"the end cannot be read", volume)
            fs = self._fs.get(volume.index)
            if fs is None:
                yield ScanError(shown, volume.error or "no file system", volume)
                continue
            yield from tsk_walk.walk(fs, volume, shown, deleted=deleted, media=self.media)

    @property
    def name(self) -> str:
        """The evidence path as every record and report shows it (bytes that are not UTF-8 as
        `\\xff`); `path` is the one that opens it."""
        return path_text(self.path)

    def file_system(self, index: int):
        """The open TSK file system of volume `index`; KeyError when it has none."""
        return self._fs[index]

    def damaged(self) -> List[dict]:
        """The damaged chunks (EWF checksum mismatches) met so far by this process's reads,
        each {offset, length} in media bytes: all of them once the whole media was read."""
        if self.media is None:
            return []
        return [{"offset": start, "length": length} for start, length in self.media.damaged()]

    def describe(self) -> dict:
        return {
            "path": self.name,
            "container": self.kind,
            "size": self.size,
            "segments": [path_text(s) for s in self.segments],
            "partition_table": self.partition_table,
            "metadata": self.metadata,
            "stored_hashes": self.stored_hashes,
            "damaged": self.damaged(),
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
    try:
        table, volumes = find_volumes(media.img, media.size)
        opened, filesystems = [], {}
        for volume in volumes:
            fs, volume = open_fs(media.img, volume, media.size)
            if fs is None:
                volume = _with_damage(volume, media)
            opened.append(volume)
            if fs is not None:
                filesystems[volume.index] = fs
        if not filesystems and table is None:
            return _nothing_to_walk(path, media)
    except BaseException:
        media.close()
        raise
    return Evidence(path=path, kind=media.kind, size=media.size, segments=media.segments,
                    partition_table=table, volumes=opened, metadata=media.metadata,
                    stored_hashes=media.stored_hashes, media=media, _fs=filesystems)


def _with_damage(volume: Volume, media: Media) -> Volume:
    """A volume that would not open, whose first bytes TSK read as the zeros of damaged
    chunks: the damage is the reason to give first."""
    inside = [(start, length) for start, length in media.damaged()
              if volume.offset <= start < volume.offset + volume.length]
    if not inside:
        return volume
    return replace(volume, error=f"{DamagedMedia(*inside[0]).strerror}: the volume cannot be "
                                 f"opened: {volume.error}")


def _nothing_to_walk(path: str, media: Media) -> Evidence:
    """No partition table and no file system: a loose picture or video is one file; anything
    else is refused, saying what the media is."""
    head = _read_or_empty(media, 0, min(media.size, _SNIFF))
    mime = magic.from_buffer(head, mime=True) if head else ""
    if media.kind == "raw" and (mime.startswith(LOOSE_FILE_TYPES) or _container(head)):
        size = media.size
        media.close()
        return Evidence(path=path, kind="file", size=size, segments=[path],
                        metadata={"mime_type": mime})
    hint = ""
    if head[510:512] == b"\x55\xaa":
        hint = "; sector 0 has a boot signature, so the partition table may be corrupt"
    damaged = media.damaged()
    if damaged:
        start, length = damaged[0]
        hint += (f"; {len(damaged)} damaged chunk(s), the first at media bytes "
                 f"{start:,}-{start + length - 1:,}")
    media.close()
    raise EvidenceError(f"{path}: no partition table or file system found "
                        f"({media.kind} media of {media.size:,} bytes{hint})")


def _container(head: bytes) -> bool:
    """An archive or compressed file given as evidence is one file, whose members the scan
    and `triage files` list as its children."""
    from ..containers import detect
    return detect(head) is not None


def _read_or_empty(media: Media, offset: int, length: int) -> bytes:
    try:
        return media.read(offset, length)
    except READ_ERRORS:
        return b""
