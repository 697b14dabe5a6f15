"""Which mounted file systems show the running kernel's state rather than stored files, by
device number (Linux's mount table): a folder walk does not go into them.

Reading them can block for ever (`/proc/kmsg`), never end (`/proc/kcore` is as large as the
address space), mount network shares (autofs) or act on the system (a sysfs or debugfs
attribute). hashdeep and find walk into them; a scan of `/` on a running machine then never
finishes."""

from __future__ import annotations

import os
from typing import Dict

MOUNT_TABLE = "/proc/self/mountinfo"

KERNEL_STATE = frozenset({
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
    "efivarfs", "fusectl", "mqueue", "nsfs", "proc", "rpc_pipefs", "securityfs", "sysfs",
    "tracefs",
})


def kernel_state(table: str = MOUNT_TABLE) -> Dict[int, str]:
    """{device number (st_dev): file system type} of every mounted kernel-state file system;
    empty where the mount table cannot be read (not Linux, or no /proc)."""
    try:
        with open(table, "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    found = {}
    for line in lines:
        # "36 35 98:0 /root /mount/point options [optional fields] - type source options"
        mount, dash, fs = line.partition(b" - ")
        fields, kind = mount.split(), fs.split()[:1]
        if not dash or len(fields) < 5 or not kind:
            continue
        kind = kind[0].decode("ascii", "replace")
        major, colon, minor = fields[2].partition(b":")
        if kind in KERNEL_STATE and colon and major.isdigit() and minor.isdigit():
            found[os.makedev(int(major), int(minor))] = kind
    return found


def not_walked(kind: str) -> str:
    """Why a folder on a kernel-state file system was not walked (an error record's reason)."""
    return f"not walked: a {kind} file system (the running kernel's state, not stored files)"
