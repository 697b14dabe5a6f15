"""Find the volumes of the media (MBR with logical partitions, GPT, or none) and open the file
system in each with The Sleuth Kit."""

from __future__ import annotations

from dataclasses import replace
from typing import List, Optional, Tuple

import pytsk3

from ..errors import READ_ERRORS, one_line
from ..records import Volume
from .tsk_walk import TskFileSystem

FS_TYPES = {
    getattr(pytsk3, name): name[len("TSK_FS_TYPE_"):].lower()
    for name in dir(pytsk3.TSK_FS_TYPE_ENUM)
    if name.startswith("TSK_FS_TYPE_") and not name.endswith(("_DETECT", "_UNSUPP"))
}

VS_TYPES = {
    getattr(pytsk3, name): name[len("TSK_VS_TYPE_"):].lower()
    for name in dir(pytsk3.TSK_VS_TYPE_ENUM)
    if name.startswith("TSK_VS_TYPE_") and not name.endswith(("_DETECT", "_UNSUPP"))
}


def find_volumes(img: pytsk3.Img_Info, size: int) -> Tuple[Optional[str], List[Volume]]:
    """The partition table type ("dos", "gpt", ... or None) and every allocated partition.

    With no partition table the whole media is one volume at offset 0, as `fls` assumes."""
    found = partitions(img)
    if found is None:
        return None, [Volume(index=0, offset=0, length=size, description="whole media")]
    return found


def partitions(img: pytsk3.Img_Info, base: int = 0):
    """(table type, allocated partitions) of the partition table at byte `base` of `img`, or
    None when there is none. Partition offsets are from `base`."""
    try:
        vs = pytsk3.Volume_Info(img, pytsk3.TSK_VS_TYPE_DETECT, base)
    except READ_ERRORS:
        return None
    block = vs.info.block_size
    volumes = []
    for part in vs:
        if not part.flags & pytsk3.TSK_VS_PART_FLAG_ALLOC:
            continue  # unallocated gaps and the table's own meta entries
        desc = _text(part.desc)
        if _is_extended_container(desc):
            continue  # the logical partitions inside it are listed on their own
        volumes.append(Volume(index=part.addr, offset=part.start * block,
                              length=part.len * block, description=desc))
    return VS_TYPES.get(vs.info.vstype, str(vs.info.vstype)), volumes


def _is_extended_container(desc: str) -> bool:
    return desc.startswith(("DOS Extended", "Win95 Extended", "Linux Extended"))


def open_fs(img: pytsk3.Img_Info, volume: Volume, media_size: Optional[int] = None):
    """Open the file system of a volume; return (fs or None, the volume with fs facts or error).
    Whatever stops one volume from opening (a bogus table entry far past the media's end, an
    offset no C integer holds) is that volume's error, never the whole evidence's."""
    if media_size is not None and volume.offset >= media_size:
        return None, replace(volume, error=f"the volume starts at byte {volume.offset:,}, past "
                                           f"the end of the media ({media_size:,} bytes)")
    try:
        fs = TskFileSystem(img, offset=volume.offset)
    except READ_ERRORS as exc:
        return None, replace(volume, error=_fs_error(exc))
    except (OverflowError, ValueError, TypeError, MemoryError) as exc:
        return None, replace(volume, error=f"the file system cannot be opened: {one_line(exc)}")
    fs_type = FS_TYPES.get(fs.info.ftype, f"tsk-{fs.info.ftype}")
    block = _cluster_size(img, volume.offset, fs_type) or fs.info.block_size
    return fs, replace(volume, fs_type=fs_type, block_size=block)


def _cluster_size(img, offset: int, fs_type: str) -> Optional[int]:
    """TSK counts FAT and exFAT in sectors; examiners (and fsstat) speak of clusters."""
    if fs_type not in ("fat12", "fat16", "fat32", "exfat"):
        return None
    try:
        boot = img.read(offset, 512)
    except READ_ERRORS:
        return None
    if len(boot) < 512:
        return None
    if fs_type == "exfat":
        return 1 << (boot[108] + boot[109])   # BytesPerSectorShift + SectorsPerClusterShift
    return int.from_bytes(boot[11:13], "little") * boot[13]


def _fs_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if "Unable to determine file system type" in text or "Cannot determine file system type" in text:
        return ("no file system, volume system or encrypted volume that triage reads (unknown, "
                "damaged, or encrypted in a format it does not know)")
    if "Possible encryption detected" in text:
        return ("the volume appears to be encrypted in a format triage does not recognise (its "
                "boot sector says so, but no BitLocker, LUKS or FileVault header was found)")
    return f"the file system cannot be opened: {one_line(exc)}"


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)
