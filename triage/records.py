"""The records that flow through triage, left to right: plain dataclasses, no behaviour beyond
conversion to the shared field vocabulary (DFXML's fileobject names)."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from operator import itemgetter
from typing import BinaryIO, Callable, Optional, Tuple

from .timefmt import iso

TIME_FIELDS = ("mtime", "atime", "ctime", "crtime")
_UNSET = (0, 0)


@dataclass(frozen=True)
class Volume:
    """One partition (or the whole media when there is no partition table), or a volume inside
    one: a logical volume, an APFS volume, a decrypted volume (evidence/layers.py)."""

    # Unique per evidence item and stable per image: a partition's table slot (mmls), 0 for
    # the whole media; a volume inside a pool or a nested table gets the next free number.
    index: int
    # Byte offset in the (virtual) disk of the partition that holds the volume (the volume's
    # own offset when it is a partition).
    offset: int
    length: int                     # bytes
    # The partition table's own label, e.g. "NTFS / exFAT (0x07)"; for a volume reached
    # through more layers, its chain as text, e.g. "vhdx > gpt p2 > bitlocker > ntfs".
    description: str
    fs_type: Optional[str] = None   # "ntfs", "fat16", "ext4", "apfs", ... None when unreadable
    block_size: Optional[int] = None
    error: Optional[str] = None     # why the volume could not be read
    # Where the volume lies, for a volume reached through more than a partition:
    # "p3/luks2/lvm:vg/home", "p2/apfs:Data"; None for a partition or the whole media.
    path: Optional[str] = None
    # The chain of layers, outermost first, as the report lists them ({"kind": ..., facts}).
    layers: Tuple[dict, ...] = field(default=(), compare=False, repr=False)

    def ref(self) -> dict:
        if self.path is None:
            return {"index": self.index, "offset": self.offset}
        return {"index": self.index, "offset": self.offset, "path": self.path}


@dataclass(frozen=True)
class MemberOf:
    """Where a child entry (an archive member, a thumbnail in a cache) sits: its container as
    shown (`a.zip`, or `a.zip!/b.7z` when nested), its own stored name there, and the
    container's MD5. Kept apart from the shown path `a.zip!/x.jpg`, since a real folder can be
    named `a.zip!`."""

    container_path: str
    member_path: str
    container_md5: Optional[str] = None
    note: Optional[str] = None   # what the child is, when not a plain file ("thumbnail of ...")
    encrypted: bool = False      # listed by name and size only: its content cannot be read
    read_once: bool = False      # in a stream-only archive: its content can be read once only
    # Another name (a tar hard link) of the member stored as this: its content is that one's.
    same_as: Optional[str] = None

    def to_dict(self) -> dict:
        d = {"container_path": self.container_path, "member_path": self.member_path,
             "container_md5": self.container_md5}
        if self.note is not None:
            d["note"] = self.note
        return d


@dataclass(frozen=True)
class FileEntry:
    """One file (or NTFS alternate data stream) found on the evidence.

    `open` returns a binary reader of the content; it is excluded from equality so entries
    compare by their metadata alone."""

    evidence: str
    path: str
    size: int
    allocated: bool
    volume: Optional[Volume] = None
    inode: Optional[int] = None
    # mtime, atime, ctime, crtime as (seconds, nanoseconds) since the epoch, (0, 0) when unset:
    # made into text only when shown (a scan shows few entries, and formatting every stamp
    # was a sixth of its per-file time).
    times: Tuple[Tuple[int, int], ...] = (_UNSET,) * 4
    open: Callable[[], BinaryIO] = field(default=None, compare=False, repr=False)
    # A deleted name whose inode now belongs to a live file (`fls` prints "(realloc)"): its
    # content is the inode's current content, which may be another file's.
    realloc: bool = False
    # NTFS: (type, id) of the named stream (`path:stream`) this entry is; None for the default
    # data of a file, and for every entry of other file systems and of folders.
    attribute: Optional[Tuple[int, int]] = None
    # A child entry (triage.containers): inside which container, under which name. It keeps
    # its outermost parent's evidence, volume, inode and allocation state.
    member: Optional[MemberOf] = None
    # A file stored in an iOS backup (triage.containers.iosbackup): its name on the phone,
    # `domain/relativePath` from the backup's Manifest.db; `path` stays its stored name.
    backup_path: Optional[str] = None
    # A file with other names (hard links, nlink > 1; on NTFS not counting a DOS 8.3 name): a
    # folder's, the device its inode is on (st_dev), which with `inode` names its content
    # across the mounts a folder may span; a file system's in an image, its volume's index.
    device: Optional[int] = None
    # Content the file system stores encrypted (an ext4 fscrypt inode: Android's file-based
    # encryption): what encrypts it. Its bytes on the media are ciphertext, never examined.
    encrypted: Optional[str] = None

    def __reduce__(self):
        # Its fields' values in order, without their names: entries travel to worker
        # processes a batch at a time, and the names were a third of each one's pickle.
        return _remade_entry, (_entry_values(self.__dict__),)

    def key(self) -> str:
        """A stable identity within one scan, used by the results db for resume."""
        vol = "-" if self.volume is None else str(self.volume.index)
        key = f"{self.evidence}\x00{vol}\x00{self.inode}\x00{self.path}"
        if self.member is not None:   # never the key of a real file named `a.zip!/x`
            key += f"\x00member\x00{self.member.container_path}\x00{self.member.member_path}"
        return key

    def content_key(self) -> tuple:
        """Names with equal keys read the same bytes (hard links, a reallocated name and the
        live file on its inode): what a scan groups to read shared content once. Hashable and
        stable across processes. A folder's file is keyed by its path, or where it has other
        names by its device and inode: an inode number alone does not name a file across the
        mounts a folder may span."""
        if self.member is not None:   # a member's content: its container's, then its name
            return (self.evidence, None if self.volume is None else self.volume.index,
                    self.inode, self.attribute, self.member.container_path,
                    self.member.same_as or self.member.member_path)
        if self.volume is None:
            if self.device is not None:
                # with the inode's size and mtime, which its names share: a file system that
                # gave two files one inode number would otherwise lose one of them unread
                return (self.evidence, None, self.device, self.inode, self.size, self.times[0])
            return (self.evidence, None, self.path, None)
        return (self.evidence, self.volume.index, self.inode, self.attribute)

    def to_dict(self) -> dict:
        d = {
            **_location(self),
            "allocated": self.allocated,
            "realloc": self.realloc,
            "size": self.size,
            **{name: iso(*stamp) for name, stamp in zip(TIME_FIELDS, self.times)},
        }
        if self.member is not None:
            d.update(self.member.to_dict())
        if self.backup_path is not None:
            d["backup_path"] = self.backup_path
        if self.encrypted is not None:
            d["encrypted"] = self.encrypted
        return d


_ENTRY_FIELDS = tuple(f.name for f in fields(FileEntry))
_entry_values = itemgetter(*_ENTRY_FIELDS)   # an entry's __dict__ -> its values, in order


def _remade_entry(values: tuple) -> FileEntry:
    entry = object.__new__(FileEntry)
    # its __dict__ made whole in one step (a worker remakes every entry of its batches)
    object.__setattr__(entry, "__dict__", dict(zip(_ENTRY_FIELDS, values)))
    return entry


def quick_maker(cls):
    """A maker of `cls` (a frozen dataclass without __post_init__) that fills the instance's
    __dict__ directly: the same object as `cls(**values)`, made in a third of the time (a
    frozen dataclass sets each field through object.__setattr__). For the walks, which make
    one entry a file; every field without a default must be given."""
    defaults = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
    new = object.__new__

    def make(**values):
        obj = new(cls)
        state = obj.__dict__
        state.update(defaults)
        state.update(values)
        return obj
    return make


@dataclass(frozen=True)
class ScanError:
    """Something that could not be read. Never carries content, only where and why."""

    evidence: str
    reason: str
    volume: Optional[Volume] = None
    path: Optional[str] = None
    inode: Optional[int] = None

    def to_dict(self) -> dict:
        return {**_location(self), "reason": self.reason}


def _location(record) -> dict:
    """Where a file entry or an error is: the fields reports and listings share."""
    return {
        "evidence": record.evidence,
        "volume": None if record.volume is None else record.volume.ref(),
        "path": record.path,
        "inode": record.inode,
    }


@dataclass(frozen=True)
class SetEntry:
    """One value of a hash set: a digest or perceptual hash with what the set says about it."""

    signal: str                       # registry name: "md5", "sha1", "sha256", "pdq", "phash", ...
    value: str                        # normalised lower-case hex
    category: Optional[str] = None    # label in the set's scheme, e.g. "CAT1", "A", "known-good"
    series: Optional[str] = None
    size: Optional[int] = None        # file size in bytes, when the source carries it
    name: Optional[str] = None        # file name in the source, kept for provenance only
    quality: Optional[int] = None     # PDQ quality, when the source carries it
    id: Optional[str] = None          # the record's ID in its source (VICS MediaID, an ID column)


@dataclass(frozen=True)
class Match:
    """How one file matched one set entry."""

    signal: str
    set: str
    kind: str                          # "alert" or "known-good"
    category: Optional[str] = None
    series: Optional[str] = None
    distance: int = 0                  # 0 for exact digests; Hamming distance for perceptual
    variant: Optional[str] = None      # perceptual: which transform of the query matched
    quality: Optional[int] = None      # perceptual: quality of the query hash
    # What was matched: the set entry's stored value and its ID in the source, never its file
    # name (a set's names can describe the content).
    value: str = field(kw_only=True)
    id: Optional[str] = field(default=None, kw_only=True)
    # A match in a sealed set: the design rate at which its filter wrongly says "in".
    false_positive_rate: Optional[float] = field(default=None, kw_only=True)
    # A video (vpdq): vPDQ's two shares of frames matched, in percent, and the matched time
    # ranges in seconds, {"query": [[start, end], ...], "reference": [...]}.
    query_match_percent: Optional[float] = field(default=None, kw_only=True)
    reference_match_percent: Optional[float] = field(default=None, kw_only=True)
    ranges: Optional[dict] = field(default=None, kw_only=True, compare=False)

    def to_dict(self) -> dict:
        d = {
            "signal": self.signal,
            "set": self.set,
            "kind": self.kind,
            "category": self.category,
            "series": self.series,
            "id": self.id,
            "value": self.value,
            "distance": self.distance,
        }
        if self.variant is not None:
            d["variant"] = self.variant
        if self.quality is not None:
            d["quality"] = self.quality
        if self.false_positive_rate is not None:
            d["sealed"] = True
            d["false_positive_rate"] = self.false_positive_rate
        if self.query_match_percent is not None:
            d["query_match_percent"] = self.query_match_percent
            d["reference_match_percent"] = self.reference_match_percent
            d["ranges"] = self.ranges
        return d
