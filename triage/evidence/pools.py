"""Pools as layers: one source holding several volumes. LVM2 (libvslvm: each logical volume
a volume) and APFS containers (libfsapfs: each APFS volume a volume, its file system read by
libfsapfs; an encrypted one unlocked with a password or recovery key from the Access).

Each member gets a fresh volume index (the partition's own index names the partition, which
is no volume here), and a path naming the member: `p3/lvm:vg/home`, `p2/apfs:Data`."""

from __future__ import annotations

from typing import List

from . import libyal_fs
from .access import Unlocked
from .chain import LIB_ERRORS, Layer, Link, lib_reason
from .crypto import needs
from .sources import FileObject, LibyalSource


class Lvm(Layer):
    name, library = "lvm", "libvslvm"

    def open(self, explorer, source, head, place):
        if head[512:520] != b"LABELONE" and head[0:8] != b"LABELONE":
            return False
        import pyvslvm
        handle = pyvslvm.handle()
        fileobj = FileObject(source)
        link = Link("lvm", "lvm", "lvm", {})
        try:
            handle.open_file_object(fileobj)
            handle.open_physical_volume_files_as_file_objects([fileobj])
            group = handle.get_volume_group()
            members = [group.get_logical_volume(i)
                       for i in range(group.get_number_of_logical_volumes())]
            group_name = group.get_name() or ""
            physical = group.get_number_of_physical_volumes()
        except LIB_ERRORS as exc:
            explorer.add(place.deeper(link), source, fs=None,
                         error=f"LVM physical volume that cannot be opened: {lib_reason(exc)}")
            return True
        explorer.keep.append(LibyalSource(handle, 0, keep=[fileobj]))
        if physical > 1:
            link.facts["physical_volumes"] = physical
        if not members:
            explorer.add(place.deeper(link), source, fs=None,
                         error=f"LVM volume group {group_name} has no logical volume")
            return True
        for lv in members:
            name = lv.get_name() or str(lv.get_identifier())
            member = Link("lvm", f"lvm:{group_name}/{name}", f"lvm:{group_name}/{name}",
                          {"volume_group": group_name, "name": name,
                           "uuid": lv.get_identifier()})
            lv_source = LibyalSource(lv, int(lv.get_size()))
            explorer.keep.append(lv_source)
            here = place.deeper(member, index=explorer.fresh())
            here.label = f"LVM logical volume {group_name}/{name}"
            explorer.explore(lv_source, here)
        return True


class ApfsContainer(Layer):
    name, library = "apfs", "libfsapfs"

    def open(self, explorer, source, head, place):
        if head[32:36] != b"NXSB":
            return False
        import pyfsapfs
        container = pyfsapfs.container()
        fileobj = FileObject(source)
        try:
            container.open_file_object(fileobj)
            count = container.get_number_of_volumes()
            uuid = container.get_identifier()
        except LIB_ERRORS as exc:
            explorer.add(place.deeper(Link("apfs_container", "apfs", "apfs", {})), source,
                         fs=None, error=f"APFS container that cannot be opened: {lib_reason(exc)}")
            return True
        explorer.keep.append(LibyalSource(container, 0, keep=[fileobj]))
        pool = Link("apfs_container", "apfs", "", {"uuid": uuid, "volumes": count})
        for i in range(count):
            self._volume(explorer, source, place, pool, container, i)
        return True

    def _volume(self, explorer, source, place, pool, container, i):
        index = explorer.fresh()
        try:
            volume = container.get_volume(i)
            name = volume.get_name() or f"volume{i + 1}"
            uuid = volume.get_identifier()
            locked = volume.is_locked()
        except LIB_ERRORS as exc:
            link = Link("apfs", f"apfs:#{i + 1}", f"apfs:#{i + 1}", {"file_system": True})
            here = place.deeper(pool).deeper(link, index=index)
            explorer.add(here, source, fs=None,
                         error=f"APFS volume {i + 1} cannot be opened: {lib_reason(exc)}")
            return
        link = Link("apfs", f"apfs:{name}", f"apfs:{name}",
                    {"file_system": True, "library": "libfsapfs", "name": name, "uuid": uuid,
                     "encrypted": bool(locked)})
        here = place.deeper(pool).deeper(link, index=index)
        here.label = f"APFS volume {name}"
        if locked and not self._unlock(explorer, volume, here, link):
            link.facts["locked"] = True
            explorer.add(here, source, fs=None, error=needs(
                f"APFS volume {name} {uuid}",
                "its password (password:-) or recovery key (recovery_password:...)",
                len(explorer.access.credentials)), length=0)
            return
        fs = libyal_fs.LibyalFileSystem("apfs", volume)
        explorer.keep.append(fs)
        explorer.add(here, source, fs=fs, fs_type="apfs", length=_size(volume))

    def _unlock(self, explorer, volume, place, link) -> bool:
        access, evidence, key_path = explorer.access, explorer.evidence, place.path()
        known = access.known(evidence, key_path)
        order = range(len(access.credentials)) if known is None else (
            [] if known.credential is None else [known.credential])
        for number in order:
            credential = access.credentials[number]
            try:
                if credential.type == "password":
                    volume.set_password(credential.value)
                elif credential.type == "recovery_password":
                    volume.set_recovery_password(credential.value)
                else:
                    continue
                if volume.unlock():
                    access.learn(evidence, key_path, Unlocked(number, credential.type))
                    link.facts["locked"] = False
                    link.facts["unlocked_with"] = credential.type
                    return True
            except LIB_ERRORS:
                continue
        if known is None:
            access.learn(evidence, key_path, Unlocked(None))
        return False





def _size(volume) -> int:
    """An APFS volume's size: libfsapfs cannot always tell it (space is shared in the
    container); 0 then."""
    try:
        return int(volume.get_size() or 0)
    except LIB_ERRORS:
        return 0
LAYERS: List[Layer] = [Lvm(), ApfsContainer()]
