"""Open any evidence item read-only and stream its file entries.

Media (raw, split raw, EWF, device, or a virtual disk: containers.py) -> a chain of layers per
volume (partition, decryption, pool member, file system: layers.py) -> files. A folder skips
the media and layers and is walked through the OS; a loose picture or video is one file, as in
a folder of its own."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Container, Dict, Iterable, Iterator, List, Optional, Union

from ..errors import EvidenceError, READ_ERRORS
from ..records import FileEntry, ScanError, Volume
from ..safetext import path_text
from ..timefmt import pin_utc
from ..containers import iosbackup
from . import folder, snapshots, tsk_walk
from .access import Access, installed as installed_access
from ..errors import DamagedMedia
from .media import Media, open_media, verify
from .memory import keep_read_buffers

__all__ = ["DamagedMedia", "Evidence", "open_evidence", "verify"]

# A file libmagic names so (or an archive, triage.containers) is scanned as one file when it
# holds no partition table or file system; anything else that holds neither stays an error (a damaged disk image must not pass
# for "one file" and be judged as such).
LOOSE_FILE_TYPES = ("image/", "video/")
_SNIFF = 8192


@dataclass
class Evidence:
    path: str
    kind: str        # "raw", "split-raw", "ewf", "device", "folder", "file", "vmdk", "vhd", ...
    size: Optional[int] = None                 # media bytes; None for a folder
    segments: List[str] = field(default_factory=list)
    partition_table: Optional[str] = None      # "dos", "gpt", ... None when there is none
    volumes: List[Volume] = field(default_factory=list)
    metadata: Dict[str, str] = field(default_factory=dict)
    stored_hashes: Dict[str, str] = field(default_factory=dict)
    media: Optional[Media] = field(default=None, repr=False)
    _fs: Dict[int, object] = field(default_factory=dict, repr=False)
    # Volumes whose bytes are the media's own (a partition), by index: only there do a TSK
    # file's runs place its content on the media (damaged EWF chunks).
    _linear: Dict[int, bool] = field(default_factory=dict, repr=False)
    _keep: List = field(default_factory=list, repr=False)
    # Each volume's bytes as its last layer gives them (decrypted, a logical volume's), by
    # index: what a block sweep reads a volume not laid linearly on the media through.
    _sources: Dict[int, object] = field(default_factory=dict, repr=False)
    _snapshot_of: Dict[int, tuple] = field(default_factory=dict, repr=False)
    # Disk images met while walking (a virtual machine's disk on a seized laptop): another
    # evidence item each, not opened here; listed for the examiner to add.
    container_files: List[dict] = field(default_factory=list)

    def entries(self, deleted: bool = True, volumes: Optional[Container[int]] = None,
                runs: bool = False) -> Iterator[Union[FileEntry, ScanError]]:
        """Every file entry, then-and-there errors included as ScanError records, in a stable
        order: volumes in partition-table order, files depth-first in directory order.
        `volumes`: the indexes of the volumes to walk (None: all); a folder or a loose file has
        no volumes and is walked whole. Disk images among the files are noted in
        `container_files` on the way (they are listed and judged as files, never opened as
        disks here). `runs`: the compiled lister also gives each live file's runs as it lists
        it (TskOpener.runs), for a walk whose files are read next (a scan); a listing has no
        use for them."""
        return self.noting(self._entries(deleted, volumes, runs))

    def noting(self, items: Iterable) -> Iterator:
        """`items` (entries and errors of a walk of this evidence) as they come, each disk
        image among them noted in `container_files`."""
        formats = CONTAINER_FILE_FORMATS
        for item in items:
            # container_file_format's first test inline: every listed file pays it
            if isinstance(item, FileEntry) and item.path[item.path.rfind("."):].lower() in formats:
                found = container_file(item)
                if found is not None:
                    self.met(found)
            yield item

    def sizes(self, deleted: bool = True) -> Iterator[int]:
        """The size of every file entries() lists, in its order: what a count ahead of a scan
        needs (the progress bar's totals); a folder's without making its entries."""
        if self.kind == "folder":
            return folder.sizes(self.path)
        return (item.size for item in self._entries(deleted, None, False)
                if isinstance(item, FileEntry))

    def met(self, found: dict) -> None:
        """A disk image met on the way (container_file), noted once. Noted as met, never reset:
        a walk may stop early (a part of a batch item) or be walked again, and what was met
        stays met."""
        if found not in self.container_files:
            self.container_files.append(found)

    def _entries(self, deleted: bool, volumes: Optional[Container[int]], runs: bool
                 ) -> Iterator[Union[FileEntry, ScanError]]:
        shown = self.name
        if self.kind == "folder":
            yield from folder.walk(self.path, shown)
            return
        if self.kind == "file":
            yield folder.single(self.path, shown)
            return
        for volume, fs in self._file_systems(volumes):
            if fs is None:   # a ScanError of the volume
                yield volume
                continue
            if hasattr(fs, "walk"):   # a libyal file system (libyal_fs.py)
                yield from iosbackup.named(fs.walk(volume, shown, self.media.path),
                                           fs.file_bytes)
                continue
            walked = tsk_walk.walk(fs, volume, shown, deleted=deleted, media=self.media,
                                   linear=self._linear.get(volume.index, True), runs=runs)
            if volume.index in self._snapshot_of:
                walked = self._differing(walked, shown, deleted, *self._snapshot_of[volume.index])
            # files stored in an iOS backup on the image, named as on the phone
            yield from iosbackup.named(walked, partial(_tsk_file_bytes, fs))

    def _file_systems(self, volumes: Optional[Container[int]] = None) -> Iterator[tuple]:
        """(volume, its file system) of each volume walked (in `volumes`, or all), in order;
        (ScanError, None) where a volume tells of an error instead or as well."""
        shown = self.name
        for volume in self.volumes:
            if volumes is not None and volume.index not in volumes:
                continue
            end = volume.offset + volume.length
            if self.size is not None and volume.offset < self.size < end:
                yield ScanError(shown, f"the volume ends at byte {end:,} but the media has "
                                f"only {self.size:,} bytes (truncated image?): content beyond "
                                f"the end cannot be read", volume), None
            fs = self._fs.get(volume.index)
            if fs is None and volume.error is None:
                continue   # no content of its own (layers.Explorer._superfloppy)
            if fs is None:
                yield ScanError(shown, volume.error or "no file system", volume), None
                continue
            yield volume, fs

    def shares_walk(self) -> bool:
        """Whether its walk may be shared among the workers by directory (shared_walk): an
        image whose every file system is one TSK walks (tsk_walk.SHARED_TYPES) plainly: laid
        on the media as it is (no layer between), no shadow copies, no ext4 encryption."""
        if self.media is None or self._snapshot_of:
            return False
        return all(not hasattr(fs, "walk") and tsk_walk.shareable(fs)
                   and self._linear.get(volume.index, True)
                   for volume, fs in self._file_systems() if fs is not None)

    def directory_tasks(self, deleted: bool = True, lister: Optional["DirLister"] = None
                        ) -> Iterator[Union[tsk_walk.DirTask, ScanError]]:
        """What entries() walks, as a DirTask a directory (tsk_walk.directories), with the
        volumes' errors and the damaged chunks the walk met (shares_walk() images only).
        `lister`: the DirLister that lists the tasks left to this process (DirTask.here),
        whose file systems then list the directories too (DirLister.traversal)."""
        shown = self.name
        for volume, fs in self._file_systems():
            if fs is None:
                yield volume
                continue
            traversal = None if lister is None else lister.traversal(self, volume.index,
                                                                     deleted)
            yield from tsk_walk.directories(fs, volume, self.path, shown, deleted,
                                            self.media.explain, traversal)
            yield from tsk_walk.damage_in(volume, shown, self.media)

    def _differing(self, walked, shown: str, deleted: bool, live_index: int, number: int):
        """A shadow copy's files that are not the live volume's (snapshots.py)."""
        live_volume = next(v for v in self.volumes if v.index == live_index)
        live = snapshots.live_files(tsk_walk.walk(self._fs[live_index], live_volume, shown,
                                                  deleted=deleted, media=self.media))
        return snapshots.differing(walked, live, number)

    @property
    def name(self) -> str:
        """The evidence path as every record and report shows it (bytes that are not UTF-8 as
        `\\xff`); `path` is the one that opens it."""
        return path_text(self.path)

    def file_system(self, index: int):
        """The open file system of volume `index` (a TSK FS_Info, or a libyal_fs one);
        KeyError when it has none."""
        return self._fs[index]

    def volume_bytes(self, index: int):
        """Volume `index`'s own bytes (a sources.Source: `read`, `readinto`, `size`), as the
        layer it lies behind gives them; KeyError when it has none."""
        return self._sources[index]

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
            "volumes": [describe_volume(v) for v in self.volumes],
            "container_files": list(self.container_files),
        }

    def close(self) -> None:
        self._fs.clear()
        self._sources.clear()
        keep, self._keep = self._keep, []
        for thing in reversed(keep):
            thing.close()
        if self.media is not None:
            self.media.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# Disk-image files by name (the first segment of a series): each is an evidence item of its
# own. ISO and .img files are left out: installers and firmware would bury the real ones.
CONTAINER_FILE_FORMATS = {
    ".e01": "ewf", ".ex01": "ewf", ".l01": "ewf-logical", ".lx01": "ewf-logical",
    ".s01": "smart", ".aff": "aff", ".aff4": "aff4", ".vmdk": "vmdk", ".vhd": "vhd",
    ".avhd": "vhd", ".vhdx": "vhdx", ".avhdx": "vhdx", ".qcow": "qcow", ".qcow2": "qcow2",
    ".vdi": "vdi", ".dmg": "dmg", ".sparseimage": "sparseimage", ".dd": "raw",
}


class DirLister:
    """Lists DirTasks (Evidence.directory_tasks) as entries() would list their directories,
    for one thread of one process: each directory's own entries, its files stored in an iOS
    backup named as on the phone. `evidence(path)`: the Evidence opened at `path` here (a
    worker's reopen.Handles.evidence); the volumes' listers and the backups' catalogues read
    are kept from one task to the next."""

    def __init__(self, evidence):
        self._evidence = evidence
        self._listings: Dict[tuple, tsk_walk.Listing] = {}
        self._backups: dict = {}

    def entries(self, task: tsk_walk.DirTask) -> Iterator[Union[FileEntry, ScanError]]:
        ev = self._evidence(task.evidence)
        listing = self._listing(ev, task.evidence, task.volume, task.shown, task.deleted)
        return iosbackup.named(listing(task), partial(_tsk_file_bytes,
                                                      ev.file_system(task.volume)),
                               iosbackup.kept(self._backups))

    def traversal(self, ev, volume: int, deleted: bool):
        """What lists the directories of a volume of `ev` for Evidence.directory_tasks on the
        file system this lister lists their tasks with (tsk_walk.Listing.traversal): a task
        listed here (DirTask.here) then finds its listing made."""
        return self._listing(ev, ev.path, volume, ev.name, deleted).traversal()

    def _listing(self, ev, path: str, index: int, shown: str, deleted: bool
                 ) -> tsk_walk.Listing:
        where = (path, index, deleted)
        listing = self._listings.get(where)
        if listing is None:
            volume = next(v for v in ev.volumes if v.index == index)
            listing = self._listings[where] = tsk_walk.Listing(
                ev.file_system(index), volume, shown, ev.media, deleted)
        return listing

    def close(self) -> None:
        listings, self._listings = self._listings, {}
        for listing in listings.values():
            listing.close()


def container_file(item: FileEntry) -> Optional[dict]:
    """What `container_files` lists of a file that is a disk image (by its name and size),
    else None."""
    kind = container_file_format(item.path, item.size)
    if kind is None:
        return None
    return {"volume": None if item.volume is None else item.volume.ref(),
            "path": item.path, "format": kind, "size": item.size}


def container_file_format(path: str, size: int) -> Optional[str]:
    # First the cheap test every listed file pays: no known suffix after the path's last dot.
    if path[path.rfind("."):].lower() not in CONTAINER_FILE_FORMATS:
        return None
    name = path.rsplit("/", 1)[-1].lower()
    dot = name.rfind(".")
    if dot <= 0 or ":" in name[dot:]:   # NTFS streams are not files of their own
        return None
    kind = CONTAINER_FILE_FORMATS.get(name[dot:])
    if kind == "raw" and (size == 0 or size % 512):
        return None   # a raw image is whole sectors; other `.dd` files are not (Perl's schemas)
    return kind


def describe_volume(v: Volume) -> dict:
    out = {"index": v.index, "offset": v.offset, "length": v.length,
           "description": v.description, "fs_type": v.fs_type, "block_size": v.block_size,
           "error": v.error, "layers": [dict(layer) for layer in v.layers]}
    if v.path is not None:
        out["path"] = v.path
    return out


def open_evidence(path: str, access: Optional[Access] = None) -> Evidence:
    """Open a disk image, device or folder read-only. EvidenceError when nothing in it can be
    read at all; a volume that cannot be read is kept with its reason and the rest goes on.
    `access`: credentials and a differencing disk's parent (default: the process's, see
    access.Access.install)."""
    keep_read_buffers()
    if os.path.isdir(path):
        return Evidence(path=path, kind="folder")
    from .layers import Explorer
    access = access if access is not None else installed_access()
    pin_utc()
    media = open_media(path, parent=access.parent)
    explorer = Explorer(path, media, access)
    try:
        table = explorer.run()
        opened = [v if v.index in explorer.filesystems else _with_damage(v, media)
                  for v in explorer.volumes]
        if not explorer.filesystems and table is None and _nothing_found(opened):
            return _nothing_to_walk(path, media)
    except BaseException:
        for thing in reversed(explorer.keep):
            thing.close()
        media.close()
        raise
    return Evidence(path=path, kind=media.kind, size=media.size, segments=media.segments,
                    partition_table=table, volumes=opened, metadata=media.metadata,
                    stored_hashes=media.stored_hashes, media=media, _fs=explorer.filesystems,
                    _linear=explorer.linear, _keep=explorer.keep, _sources=explorer.sources,
                    _snapshot_of=explorer.snapshot_of)


def _nothing_found(volumes: List[Volume]) -> bool:
    """No layer recognised anything: each volume's chain is at most the virtual disk (an
    encrypted or pooled disk is something, even when it cannot be opened)."""
    from .containers import LIBRARIES
    return all(all(layer.get("kind") in LIBRARIES for layer in v.layers) for v in volumes)


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
    import magic   # here: libmagic's load is paid by evidence that needs it alone
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
                        f"({media.kind} media of {media.size:,} "
                        f"{'byte' if media.size == 1 else 'bytes'}{hint})")


def _container(head: bytes) -> bool:
    """An archive or compressed file given as evidence is one file, whose members the scan
    and `triage files` list as its children."""
    from ..containers import detect
    return detect(head) is not None


def _tsk_file_bytes(fs, path: str, limit: int) -> Optional[bytes]:
    """The content of the allocated file at `path` (as a walk shows it) in a TSK file system,
    None when there is none; OSError when unreadable or over `limit` bytes."""
    import pytsk3
    try:
        f = fs.open(path)
    except OSError:
        return None
    meta = f.info.meta
    if meta is None or int(meta.type) != int(pytsk3.TSK_FS_META_TYPE_REG):
        return None
    if meta.size > limit:
        raise OSError(f"{meta.size:,} bytes, over the {limit:,} read")
    parts, offset = [], 0
    while offset < meta.size:
        block = f.read_random(offset, min(1 << 20, meta.size - offset))
        if not block:
            raise OSError(f"ends at byte {offset:,} of {meta.size:,}")
        parts.append(block)
        offset += len(block)
    return b"".join(parts)


def _read_or_empty(media: Media, offset: int, length: int) -> bytes:
    try:
        return media.read(offset, length)
    except READ_ERRORS:
        return b""
