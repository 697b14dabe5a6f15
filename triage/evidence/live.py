"""`triage scan --live`: the block devices of the machine triage runs on, from /sys/block.

Listed: every whole disk (sd*, nvme*, vd*, mmcblk*, md*, ...) with a size, the device-mapper
devices already unlocked or assembled (LUKS, LVM, VeraCrypt: /dev/mapper/NAME), and loop
devices attached to a file. Partitions are not listed on their own: each disk's volume layer
finds them. Left out, each with its reason: devices of size 0 (an empty card reader, a
detached loop), RAM disks (ram*, zram*), snap packages' loop devices, and the device triage
runs from (the USB stick: the device holding the executable, or the package when run from
source), with whatever is built on it (a mapper device over it, a loop over a file on it).

Nothing here opens a device; the scan opens each read-only, as for `triage scan /dev/sdX`.
TRIAGE_LIVE_ROOT (tests only) makes /sys and /dev be read under another folder."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set

ROOT_VARIABLE = "TRIAGE_LIVE_ROOT"
RAM_DISKS = ("ram", "zram")
SNAP_FOLDER = "/var/lib/snapd/snaps/"


@dataclass(frozen=True)
class Device:
    name: str              # the kernel's name: sda, nvme0n1, dm-0, loop3
    path: str              # what the scan opens: /dev/sda, /dev/mapper/cryptroot
    size: int              # bytes


@dataclass(frozen=True)
class Skipped:
    name: str
    path: str
    reason: str


@dataclass
class Found:
    devices: List[Device]
    skipped: List[Skipped]
    numbers: Dict[int, str]       # st_dev of a disk or partition -> the disk's name

    def holding(self, path) -> Optional[Device]:
        """The listed device that holds `path` (or its nearest existing parent), if any: an
        output folder there would write to the evidence."""
        at = Path(os.path.abspath(path))
        while not at.exists() and at != at.parent:
            at = at.parent
        name = self.numbers.get(os.stat(at).st_dev)
        return next((d for d in self.devices if d.name == name), None)


def root() -> Path:
    return Path(os.environ.get(ROOT_VARIABLE) or "/")


def running_from() -> List[str]:
    """Files whose device must not be scanned: the frozen executable, or the package."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [str(Path(__file__).resolve().parents[1])]


def discover(base: Optional[Path] = None, own: Optional[Iterable[int]] = None) -> Found:
    """The devices to scan and those left out. `own`: device numbers (st_dev) of the files triage
    runs from; default: running_from()."""
    base = root() if base is None else Path(base)
    sys_block = base / "sys" / "block"
    try:
        names = sorted(os.listdir(sys_block))
    except OSError as exc:
        from ..errors import EvidenceError
        raise EvidenceError(f"{sys_block}: cannot list the block devices: "
                            f"{exc.strerror or exc}") from None
    if own is None:
        own = {os.stat(p).st_dev for p in running_from()}
    numbers = _device_numbers(sys_block, names)
    # The disks holding triage, then everything built on them, to a fixed point.
    avoid: Set[str] = {numbers[n] for n in own if n in numbers}
    changed = True
    while changed:
        changed = False
        for name in names:
            if name not in avoid and (_slaves(sys_block / name) & avoid
                                      or _backing_device(sys_block / name, numbers) in avoid):
                avoid.add(name)
                changed = True
    devices, skipped = [], []
    for name in names:
        entry = sys_block / name
        path = _dev_path(base, entry, name)
        size = _read_int(entry / "size") * 512
        reason = _why_not(name, entry, size, avoid)
        if reason:
            skipped.append(Skipped(name, path, reason))
        else:
            devices.append(Device(name, path, size))
    return Found(devices, skipped, numbers)


def _why_not(name: str, entry: Path, size: int, avoid: Set[str]) -> Optional[str]:
    if name.startswith(RAM_DISKS):
        return "a RAM disk"
    if name in avoid:
        return "holds the running triage (the device it was started from)"
    if size == 0:
        return "empty (size 0)"
    if name.startswith("loop"):
        backing = _read_text(entry / "loop" / "backing_file")
        if not backing:
            return "a loop device attached to no file"
        if backing.startswith(SNAP_FOLDER):
            return "a snap package (installed software, read-only squashfs)"
    return None


def _device_numbers(sys_block: Path, names: List[str]) -> Dict[int, str]:
    """st_dev -> disk name, for every disk and every partition of one (by its `dev` file)."""
    found: Dict[int, str] = {}
    for name in names:
        entry = sys_block / name
        for dev_file in [entry / "dev", *sorted(entry.glob("*/dev"))]:
            if dev_file.parent != entry and not (dev_file.parent / "partition").exists():
                continue
            number = _parse_dev(_read_text(dev_file))
            if number is not None:
                found[number] = name
    return found


def _slaves(entry: Path) -> Set[str]:
    """The disks a mapper or RAID device is built on (its slaves may be partitions)."""
    try:
        parts = os.listdir(entry / "slaves")
    except OSError:
        return set()
    return {_disk_of(part, entry.parent) or part for part in parts}


def _disk_of(name: str, sys_block: Path) -> Optional[str]:
    """The whole disk a partition name belongs to (sda1 -> sda), or the name if it is one."""
    if (sys_block / name).exists():
        return name
    for disk in sys_block.iterdir():
        if (disk / name / "partition").exists():
            return disk.name
    return None


def _backing_device(entry: Path, numbers: Dict[int, str]) -> Optional[str]:
    backing = _read_text(entry / "loop" / "backing_file")
    if not backing:
        return None
    try:
        return numbers.get(os.stat(backing).st_dev)
    except OSError:
        return None


def _dev_path(base: Path, entry: Path, name: str) -> str:
    mapper = _read_text(entry / "dm" / "name")
    if mapper:
        return str(base / "dev" / "mapper" / mapper)
    return str(base / "dev" / name)


def _parse_dev(text: Optional[str]) -> Optional[int]:
    try:
        major, minor = (int(x) for x in (text or "").split(":"))
    except ValueError:
        return None
    return os.makedev(major, minor)


def _read_text(path: Path) -> Optional[str]:
    try:
        return path.read_text(errors="surrogateescape").strip() or None
    except OSError:
        return None


def _read_int(path: Path) -> int:
    try:
        return int(_read_text(path) or 0)
    except ValueError:
        return 0


def targets(outdir) -> tuple:
    """(device paths to scan, lines saying what is scanned and what is not and why). Raises
    EvidenceError when there is nothing to scan, or when `outdir` lies on a device to be
    scanned (the output would be written to the evidence)."""
    from ..errors import EvidenceError
    from ..safetext import path_text
    found = discover()
    lines = [f"live: scanning {path_text(d.path)} ({d.size:,} bytes)" for d in found.devices]
    lines += [f"live: not scanning {path_text(s.path)}: {s.reason}" for s in found.skipped]
    if not found.devices:
        raise EvidenceError(f"--live: no block device to scan on this machine ("
                            f"{len(found.skipped)} left out: "
                            f"{', '.join(s.name + ' ' + s.reason for s in found.skipped)})")
    holder = found.holding(outdir)
    if holder is not None:
        raise EvidenceError(f"{outdir}: lies on {holder.path}, which --live scans, and "
                            f"evidence is never written to; give -o a folder on the device "
                            f"triage runs from (the USB stick)")
    return [d.path for d in found.devices], lines
