"""Virtual disks and Apple disk images as media: VMDK (libvmdk), VHD and VHDX (libvhdi), QCOW2
(libqcow), UDIF .dmg and .sparseimage (libmodi). Each is recognised from its content, opened
read-only through its libyal library, and read by TSK and the layers above as the disk it
holds. A differential disk (VHD/VHDX/VMDK child, QCOW2 with a backing file) is opened over its
parent, found beside it by the name stored in it or given with `--parent`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PureWindowsPath
from typing import Callable, List, Optional, Set

import pymodi
import pyqcow
import pyvhdi
import pyvmdk

from ..errors import EvidenceError
from .chain import lib_reason
from .media import Media
from .sources import LibyalSource, SourceImg

MAX_PARENTS = 32   # a chain of differencing disks deeper than this is a loop or an attack
LIB_ERRORS = (IOError, OSError, RuntimeError, TypeError, ValueError)


@dataclass(frozen=True)
class Format:
    kind: str
    library: str
    make: Callable[[], object]
    recognises: Callable[[bytes, bytes], bool]         # (first 512 bytes, last 512 bytes)
    parent_name: Callable[[object], Optional[str]]
    extents: bool = False                              # VMDK: extent files beside the descriptor


def _vmdk_head(head: bytes, tail: bytes) -> bool:
    return head.startswith((b"KDMV", b"COWD")) or head.lstrip().startswith(b"# Disk DescriptorFile")


def _attr(name):
    def get(handle):
        try:
            value = getattr(handle, name)
        except LIB_ERRORS:
            return None
        return value or None
    return get


FORMATS = [
    Format("vmdk", "libvmdk", pyvmdk.handle, _vmdk_head, _attr("parent_filename"), extents=True),
    Format("vhdx", "libvhdi", pyvhdi.file, lambda h, t: h.startswith(b"vhdxfile"),
           _attr("parent_filename")),
    Format("vhd", "libvhdi", pyvhdi.file,
           lambda h, t: h.startswith(b"conectix") or t.startswith(b"conectix"),
           _attr("parent_filename")),
    Format("qcow2", "libqcow", pyqcow.file, lambda h, t: h.startswith(b"QFI\xfb"),
           _attr("backing_filename")),
    Format("dmg", "libmodi", pymodi.handle, lambda h, t: t.startswith(b"koly"), lambda h: None),
    Format("sparseimage", "libmodi", pymodi.handle, lambda h, t: h.startswith(b"sprs"),
           lambda h: None),
]
LIBRARIES = {f.kind: f.library for f in FORMATS}


def recognise(path: str, head: bytes, tail: bytes) -> Optional[Format]:
    for fmt in FORMATS:
        if fmt.recognises(head, tail):
            return fmt
    return None


def open_disk(fmt: Format, path: str, parent: Optional[str] = None) -> Media:
    """The virtual disk at `path` as media; its differencing parents opened beneath it."""
    chain: List = []
    kind = fmt.kind
    try:
        handle = _open_one(fmt, path, chain)
        segments = [path]
        child, child_path, seen = handle, path, {os.path.realpath(path)}
        while True:
            stored = fmt.parent_name(child)
            if stored is None:
                break
            if len(seen) > MAX_PARENTS:
                raise EvidenceError(f"{path}: more than {MAX_PARENTS} differencing parents")
            # --parent names the evidence's own parent; a parent's parent is found beside it
            found = _parent_path(child_path, stored, parent if child is handle else None, seen)
            fmt = _parent_format(fmt, found)
            parent_handle = _open_one(fmt, found, chain)
            child.set_parent(parent_handle)
            segments.append(found)
            seen.add(os.path.realpath(found))
            child, child_path = parent_handle, found
        size = handle.get_media_size()
    except EvidenceError:
        _close(chain)
        raise
    except LIB_ERRORS as exc:
        _close(chain)
        raise EvidenceError(f"{path}: cannot open the {kind.upper()} image: "
                            f"{lib_reason(exc)}") from None
    metadata = {"library": LIBRARIES[kind]}
    if len(segments) > 1:
        metadata["parents"] = " < ".join(os.path.basename(s) for s in segments[1:])
    return Media(kind=kind, path=path, size=size, segments=segments,
                 img=SourceImg(LibyalSource(chain[0], size, keep=chain[1:]), owns=True),
                 metadata=metadata)


def _open_one(fmt: Format, path: str, chain: List):
    handle = fmt.make()
    handle.open(path, "r")
    chain.append(handle)
    if fmt.extents:
        handle.open_extent_data_files()
    return handle


def _parent_format(child_fmt: Format, path: str) -> Format:
    head, tail = _ends(path)
    return recognise(path, head, tail) or child_fmt


def _ends(path: str):
    with open(path, "rb") as f:
        head = f.read(512)
        size = os.fstat(f.fileno()).st_size
        f.seek(max(0, size - 512))
        tail = f.read(512)
    return head, tail


def _parent_path(child: str, stored: str, given: Optional[str], seen: Set[str]) -> str:
    """The parent a differencing disk needs: `--parent` when given, else the file of the stored
    name beside the child (the stored name may be a Windows or an absolute path)."""
    if given is not None:
        found = given
    else:
        name = PureWindowsPath(stored).name if "\\" in stored else os.path.basename(stored)
        found = os.path.join(os.path.dirname(os.path.abspath(child)), name)
    if not os.path.isfile(found):
        raise EvidenceError(f"{child}: differencing disk whose parent {stored} is missing (put "
                            f"it beside the child, or give it with --parent PATH)")
    if os.path.realpath(found) in seen:
        raise EvidenceError(f"{child}: its parent chain loops back to {os.path.basename(found)}")
    return found


def _close(chain: List) -> None:
    for handle in reversed(chain):
        try:
            handle.close()
        except LIB_ERRORS:
            pass
