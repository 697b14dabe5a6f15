"""Volume Shadow Copies of NTFS volumes (libvshadow), with `--vss`: each snapshot a volume of its
own (`p2/vss1`), its file system read by The Sleuth Kit, its files listed as `vss<n>:/path` and
only where they differ from the live volume (deleted material often survives only there): a
file at the same path with the same MFT entry, size, modification and change time is the live
file and is not listed again."""

from __future__ import annotations

from typing import Dict, Iterator, Tuple, Union

from dataclasses import replace

from ..records import FileEntry, ScanError, Volume
from .chain import LIB_ERRORS, Link, Place, lib_reason
from .sources import FileObject, LibyalSource, Source


def add_stores(explorer, source: Source, place: Place, live: Volume) -> None:
    """After the live NTFS volume `live` was added at `place`: a volume for each of its
    snapshots, when the Access asks for them."""
    if not explorer.access.snapshots or live.fs_type != "ntfs" or any(
            link.kind == "vss" for link in place.links):
        return
    import pyvshadow
    fileobj = FileObject(source)
    try:
        if not pyvshadow.check_volume_signature_file_object(fileobj):
            return
        volume = pyvshadow.volume()
        volume.open_file_object(fileobj)
        count = volume.get_number_of_stores()
    except LIB_ERRORS as exc:
        here = place.deeper(Link("vss", "vss", "vss", {}), index=explorer.fresh())
        explorer.add(here, source, fs=None, error=f"volume shadow copies that cannot be "
                                                 f"opened: {lib_reason(exc)}")
        return
    explorer.keep.append(LibyalSource(volume, 0, keep=[fileobj]))
    from .layers import TskFileSystem
    for number in range(1, count + 1):
        facts = {"store": number}
        try:
            store = volume.get_store(number - 1)
            facts["identifier"] = str(store.get_identifier())
            created = store.get_creation_time()
            if created is not None:
                facts["created"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
            snapshot = LibyalSource(store, int(store.get_volume_size()))
        except LIB_ERRORS as exc:
            here = place.deeper(Link("vss", f"vss{number}", f"vss{number}", facts),
                                index=explorer.fresh())
            explorer.add(here, source, fs=None,
                         error=f"shadow copy {number} cannot be opened: {lib_reason(exc)}")
            continue
        explorer.keep.append(snapshot)
        here = place.deeper(Link("vss", f"vss{number}", f"vss{number}", facts),
                            index=explorer.fresh())
        before = len(explorer.volumes)
        if not TskFileSystem().open(explorer, snapshot, b"", here):
            explorer.add(here, snapshot, fs=None, error=explorer.why or "no file system")
        for added in explorer.volumes[before:]:
            explorer.snapshot_of[added.index] = (live.index, number)


Key = Tuple[int, int, int, int]


def _key(entry: FileEntry) -> Key:
    return (entry.inode or 0, entry.size, entry.times[0][0], entry.times[2][0])


def live_files(entries) -> Dict[str, Key]:
    """path -> what identifies the live file there."""
    return {e.path: _key(e) for e in entries if isinstance(e, FileEntry)}


def differing(snapshot_entries, live: Dict[str, Key], number: int
              ) -> Iterator[Union[FileEntry, ScanError]]:
    """The snapshot's entries that are not the live file at their path, named `vss<n>:/path`."""
    prefix = f"vss{number}:"
    for entry in snapshot_entries:
        if isinstance(entry, ScanError):
            yield replace(entry, path=None if entry.path is None else prefix + entry.path)
            continue
        if live.get(entry.path) == _key(entry):
            continue
        yield replace(entry, path=prefix + entry.path)
