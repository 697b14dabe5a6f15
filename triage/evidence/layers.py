"""Every volume as a chain of layers, as dfVFS's path specifications chain: container ->
partition -> decryption -> pool member -> file system. Each link is a small class in the
LAYERS registry, recognised from the content of the bytes it sits on; the explorer tries
them in order on every source until one takes it, and follows what it opens.

A volume's `layers` (in the report) is its chain; its `path` names where it lies when the chain
holds more than a partition and a file system (`p3/luks2/lvm:vg/home`, `p2/apfs:Data`); its
`description` is then the chain as text (`vhdx > gpt p2 > bitlocker > ntfs`). A worker process
reopens a volume by opening the evidence again with the same Access: the chain is explored in
the same order, so the same index names the same volume, and what unlocked an encrypted layer
is remembered in the Access rather than found again."""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, List, Optional

from ..errors import READ_ERRORS
from ..records import Volume
from ..registry import Registry
from . import crypto, libyal_fs, pools, snapshots
from .access import Access
from .chain import LIB_ERRORS, Layer, Link, Place, lib_reason
from .media import Media
from .sources import FileObject, MediaSource, Slice, Source
from .volumes import VS_TYPES, find_volumes, open_fs, partitions

HEAD = 1 << 16          # the bytes every layer's signature lies in
MAX_LAYERS = 12         # deeper is a loop or an attack, never a real disk
NOT_READ = ("no file system, volume system or encrypted volume triage can read (unknown or "
            "unsupported)")
# Partition tables as TSK names them (its "apfs" type is a pool, read here by libfsapfs)
PARTITION_KINDS = set(VS_TYPES.values()) - {"apfs", "dbfiller"}


class Explorer:
    """Finds every volume of one evidence item's media."""

    def __init__(self, evidence: str, media: Media, access: Access):
        self.evidence, self.media, self.access = evidence, media, access
        self.volumes: List[Volume] = []
        self.filesystems: Dict[int, object] = {}
        self.linear: Dict[int, bool] = {}
        self.sources: Dict[int, Source] = {}    # each volume's bytes (Evidence.volume_bytes)
        self.keep: List = []              # opened along the way, closed with the evidence
        self.why: Optional[str] = None    # why the last file-system probe failed
        # a shadow copy's volume index -> (the live volume's index, its store number)
        self.snapshot_of: Dict[int, tuple] = {}
        self._next = 1

    def run(self) -> Optional[str]:
        """Explore the media; return its partition table's type (None when it has none)."""
        disk = MediaSource(self.media)
        top = self._container_links()
        table, parts = find_volumes(self.media.img, self.media.size)
        self._next = max([p.index for p in parts], default=0) + 1
        if table is None:
            self.explore(disk, Place(top, 0, 0, "whole media"))
            return None
        self.explore_partitions(disk, Place(top, 0, 0, ""), table, parts, keep_index=True)
        self._superfloppy(disk, top, table, parts)
        return table

    def explore_partitions(self, disk: Source, place: Place, table: str, parts,
                           keep_index: bool) -> None:
        for part in parts:
            link = Link(table, f"{table} p{part.index}", f"p{part.index}",
                        {"partition": part.index, "offset": part.offset, "length": part.length,
                         "description": part.description})
            index = part.index if keep_index else self.fresh()
            offset = part.offset if keep_index else place.offset
            here = Place(place.links + [link], index, offset, part.description)
            if part.offset >= disk.size:
                self.add(here, Slice(disk, part.offset, part.length), fs=None,
                         error=f"the volume starts at byte {part.offset:,}, past the end of the "
                               f"media ({disk.size:,} bytes)", length=part.length)
                continue
            self.explore(Slice(disk, part.offset, part.length), here)

    def _container_links(self) -> List[Link]:
        from .containers import LIBRARIES
        if self.media.kind not in LIBRARIES:
            return []
        facts = {"library": LIBRARIES[self.media.kind]}
        if self.media.metadata.get("parents"):
            facts["parents"] = self.media.metadata["parents"]
        return [Link(self.media.kind, self.media.kind, "", facts)]

    def _superfloppy(self, disk: Source, top: List[Link], table: str, parts) -> None:
        """A file system at sector 0 beside a partition table whose partitions all start later
        (a FAT "superfloppy" whose boot sector also reads as an MBR): mmls shows the table,
        fsstat the file system at 0, and both are listed."""
        if any(p.offset == 0 for p in parts):
            return
        probe = Volume(index=0, offset=0, length=self.media.size, description="")
        fs, opened = open_fs(self.media.img, probe, self.media.size)
        if fs is None:
            return
        link = _fs_link(opened.fs_type, "tsk",
                        {"note": f"at sector 0, outside the {table} partitions"})
        place = Place(top + [link], self.fresh(), 0,
                      f"file system at sector 0, outside the {table} partitions")
        self.add(place, disk, fs=fs, fs_type=opened.fs_type, block_size=opened.block_size)
        # A partition of the stray table with nothing readable in it is bytes of the file
        # system at 0: listed as mmls lists it, and no error (nothing there went unread).
        for i, volume in enumerate(self.volumes):
            if volume.index not in self.filesystems and volume.offset > 0 and len(volume.layers) \
                    == len(top) + 1:
                self.volumes[i] = replace(volume, error=None, description=(
                    f"{volume.description}: an entry of a boot sector that also reads as a "
                    f"partition table; these bytes belong to the {opened.fs_type} file system "
                    f"at sector 0"))

    def fresh(self) -> int:
        index, self._next = self._next, self._next + 1
        return index

    def explore(self, source: Source, place: Place) -> None:
        if len(place.links) > MAX_LAYERS:
            self.add(place, source, fs=None, error=f"more than {MAX_LAYERS} layers nested")
            return
        head = _head(source)
        self.why = None
        for layer in LAYERS.values():
            if layer.open(self, source, head, place):
                return
        self.add(place, source, fs=None, error=self.why or NOT_READ)

    def add(self, place: Place, source: Source, fs, error: Optional[str] = None,
            fs_type: Optional[str] = None, block_size: Optional[int] = None,
            length: Optional[int] = None) -> Volume:
        volume = Volume(index=place.index, offset=place.offset,
                        length=getattr(source, "declared", source.size) if length is None
                        else length,
                        description=describe_chain(place), fs_type=fs_type,
                        block_size=block_size, error=error, path=volume_path(place.links),
                        layers=tuple(link.describe() for link in place.links))
        self.volumes.append(volume)
        self.linear[volume.index] = source.linear() is not None
        self.sources[volume.index] = source
        if fs is not None:
            self.filesystems[volume.index] = fs
        return volume


def _head(source: Source) -> bytes:
    try:
        return source.read(0, min(HEAD, source.size))
    except READ_ERRORS:
        return b""


def _fs_link(fs_type: str, library: str, extra=None) -> Link:
    return Link(fs_type, fs_type, "", {"file_system": True, "library": library, **(extra or {})})


def describe_chain(place: Place) -> str:
    """The partition's own label when the chain is no more than a partition and a file system
    TSK reads; else the chain as text, e.g. `vhdx > gpt p2 > bitlocker > ntfs`."""
    links = place.links
    if all(link.kind in PARTITION_KINDS or link.facts.get("library") == "tsk" for link in links):
        return place.label
    return " > ".join(link.label for link in links)


def volume_path(links: List[Link]) -> Optional[str]:
    """`p3/luks2/lvm:vg/home`: set only for a volume reached through more than a partition."""
    if not any(link.step and link.kind not in PARTITION_KINDS for link in links):
        return None
    return "/".join(link.step for link in links if link.step)


# --- the layers that sit on any source -------------------------------------------------------

class NestedPartitions(Layer):
    """A partition table inside a decrypted volume or a logical volume (a virtual machine's
    disk kept on an LV). Never looked for inside a partition: a FAT boot sector there would
    read as an MBR."""

    name, library = "partitions", "The Sleuth Kit (pytsk3)"

    def open(self, explorer, source, head, place):
        if not place.links or place.links[-1].kind in PARTITION_KINDS:
            return False
        if place.links[-1].facts.get("file_system"):
            return False
        img, base = source.tsk()
        found = partitions(img, base)
        if found is None:
            return False
        # A file system at 0 wins over a table: a FAT boot sector also reads as an MBR.
        fs, _ = open_fs(img, Volume(index=0, offset=base, length=source.size, description=""))
        if fs is not None:
            return False
        table, parts = found
        explorer.explore_partitions(source, place, table, parts, keep_index=False)
        return True


class TskFileSystem(Layer):
    """Any file system The Sleuth Kit opens (NTFS, FAT, exFAT, ext, ISO 9660, HFS+, UFS, ...),
    deleted files and NTFS streams included."""

    name, library = "tsk", "The Sleuth Kit (pytsk3)"

    def open(self, explorer, source, head, place):
        img, base = source.tsk()
        probe = Volume(index=place.index, offset=base, length=source.size, description="")
        fs, opened = open_fs(img, probe)
        if fs is None:
            explorer.why = explorer.why or opened.error
            return False
        live = explorer.add(place.deeper(_fs_link(opened.fs_type, "tsk")), source, fs=fs,
                            fs_type=opened.fs_type, block_size=opened.block_size)
        snapshots.add_stores(explorer, source, place, live)
        return True


class LibyalFileSystemLayer(Layer):
    """A file system TSK did not open, read by a libyal library."""

    def __init__(self, name: str, recognises, opener, library: str, fallback: bool = False):
        self.name, self._recognises, self._opener, self.library = name, recognises, opener, library
        self.fallback = fallback   # on failure, let the layers after it try

    def open(self, explorer, source, head, place):
        if not self._recognises(head):
            return False
        try:
            fs = self._opener(FileObject(source), head)
        except LIB_ERRORS as exc:
            why = f"the {self.name} file system cannot be opened: {lib_reason(exc)}"
            if self.fallback:
                explorer.why = why
                return False
            explorer.add(place.deeper(_fs_link(self.name, self.library)), source, fs=None,
                         error=why)
            return True
        explorer.keep.append(fs)
        explorer.add(place.deeper(_fs_link(fs.fs_type, self.library)), source, fs=fs,
                     fs_type=fs.fs_type, block_size=_block_size(head, self.name))
        return True


def _is_hfs(head: bytes) -> bool:
    return head[1024:1026] in (b"H+", b"HX")


def _is_xfs(head: bytes) -> bool:
    return head[:4] == b"XFSB"


def _is_ext(head: bytes) -> bool:
    return head[1080:1082] == b"\x53\xef"


def _ext_type(head: bytes) -> str:
    compat, incompat = (int.from_bytes(head[1024 + o:1028 + o], "little") for o in (92, 96))
    if incompat & 0x2C0:        # extents, 64bit, flex_bg
        return "ext4"
    return "ext3" if compat & 0x4 else "ext2"


def _block_size(head: bytes, kind: str) -> Optional[int]:
    if kind == "xfs" and len(head) >= 8:
        return int.from_bytes(head[4:8], "big")
    if kind == "hfs+" and len(head) >= 1068:
        return int.from_bytes(head[1064:1068], "big")
    if kind == "ext" and len(head) >= 1052:
        return 1024 << int.from_bytes(head[1048:1052], "little")
    return None


# Tried in this order on every source. Encryption and pools first (TSK would take a BitLocker
# volume's boot sector for a damaged NTFS one). HFS+ by libfshfs before TSK: TSK lists no
# resource fork content and walks into a ".." entry of the root (measured on dfVFS's
# hfsplus images; neither recovers deleted HFS+ files); TSK still reads an HFS+ volume
# libfshfs refuses. Then TSK for all it reads, with deleted files; XFS (which this TSK
# lacks) and ext volumes TSK refuses by the libyal readers.
LAYERS: Registry[Layer] = Registry("layer")
for _layer in (*crypto.LAYERS, *pools.LAYERS, NestedPartitions(),
               LibyalFileSystemLayer("hfs+", _is_hfs, lambda f, h: libyal_fs.open_hfs(f),
                                     "libfshfs", fallback=True),
               TskFileSystem(),
               LibyalFileSystemLayer("xfs", _is_xfs, lambda f, h: libyal_fs.open_xfs(f),
                                     "libfsxfs"),
               LibyalFileSystemLayer("ext", _is_ext,
                                     lambda f, h: libyal_fs.open_ext(f, _ext_type(h)),
                                     "libfsext")):
    LAYERS.add(_layer.name, _layer)
