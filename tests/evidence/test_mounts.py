"""A folder walk does not go into file systems of the running kernel's state (/proc, /sys):
reading /proc/kmsg blocks for ever, so a scan of `/` on a running machine never finished."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from support import proc_mounted
from triage.evidence import mounts

EMPTY_MD5 = hashlib.md5(b"").hexdigest()

TABLE = b"""\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 22 0:21 / /sys rw,nosuid shared:2 master:7 - sysfs sysfs rw
25 24 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
26 22 0:25 / /run rw,nosuid - tmpfs tmpfs rw,size=1632316k
27 22 0:50 / /mnt/my\\040share rw - fuse.sshfs user@host:/ rw
28 22 0:60 / /media/usb rw - vfat /dev/sdb1 rw
this line is not a mount
29 22 x:1 / /bad rw - proc proc rw
"""


def test_the_mount_table_gives_the_kernel_state_file_systems_by_device(tmp_path):
    table = tmp_path / "mountinfo"
    table.write_bytes(TABLE)
    assert mounts.kernel_state(str(table)) == {os.makedev(0, 22): "proc",
                                                os.makedev(0, 21): "sysfs",
                                                os.makedev(0, 27): "cgroup2"}


def test_without_a_mount_table_every_folder_is_walked(tmp_path):
    assert mounts.kernel_state(str(tmp_path / "missing")) == {}


def _proc_mounted() -> bool:
    return os.path.isdir("/proc/self") and os.stat("/proc").st_dev in mounts.kernel_state()


@pytest.mark.skipif(not _proc_mounted(), reason="needs Linux's /proc")
def test_a_scan_of_proc_itself_ends_with_one_error_and_reads_nothing(tmp_path, triage):
    sized = tmp_path / "empty.hashdeep"   # NSRL lists the empty file: every 0-byte file is read
    sized.write_text(f"%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n0,{EMPTY_MD5},empty\n")
    out = triage("scan", "/proc", "--hashset", sized, "-o", tmp_path / "out", "--json",
                 timeout=120)
    assert out.code == 3, out.stderr
    report = out.json()
    assert report["summary"]["files_seen"] == 0
    assert report["summary"]["errors"] == 1
    errors = json.loads((tmp_path / "out" / "report.json").read_text())["errors"]
    assert [(e["path"], e["reason"]) for e in errors] == [
        ("/", "not walked: a proc file system (the running kernel's state, not stored files)")]


@pytest.fixture
def folder_with_proc(tmp_path):
    """A folder of two files with a proc file system mounted inside it (as / holds /proc)."""
    folder = tmp_path / "root"
    (folder / "etc").mkdir(parents=True)
    (folder / "etc" / "hostname").write_bytes(b"seized\n")
    (folder / "zero").write_bytes(b"")
    with proc_mounted(folder / "proc"):
        yield folder


def test_a_walk_passes_a_proc_mount_by_with_one_error(folder_with_proc, triage):
    # Before: every /proc file was read whole, and /proc/kmsg blocked the listing for ever.
    out = triage("files", folder_with_proc, "--hash", "md5", timeout=120)
    assert out.code == 3, out.stderr
    records = out.lines()
    assert [(r["path"], r["md5"]) for r in records if "error" not in r] == [
        ("/zero", EMPTY_MD5), ("/etc/hostname", hashlib.md5(b"seized\n").hexdigest())]
    assert [(r["path"], r["error"]) for r in records if "error" in r] == [
        ("/proc", "not walked: a proc file system (the running kernel's state, not stored "
                  "files)")]
