"""iOS backups (iTunes or Finder) met while walking a folder or a disk image's file system.

A backup is a folder holding `Manifest.db`, an SQLite catalogue whose `Files` table maps each
stored file's name (`fileID`, the SHA-1 of `domain-relativePath`, stored as
`<first two hex digits>/<fileID>`) to the name it had on the phone (`domain`, `relativePath`;
`flags` 1 is a file, 2 a folder, 4 a link). The stored files are the evidence's own files and
are judged as any file; each keeps its real path and gains `backup_path`, its
`domain/relativePath`, so the examiner sees both. Nothing is opened as a container.

An encrypted backup (`Manifest.plist`'s `IsEncrypted`, and a `Manifest.db` that is no SQLite
database) is reported, "encrypted iOS backup, not examined": its stored files are still listed,
as the ciphertext they are. The catalogue is read read-only and immutable (SQLite writes no
journal or lock file beside it: the evidence is never written); one read out of a disk image
is held in memory (sqlite3 deserialize), never written anywhere.

Backups from iOS 5 to 9 keep their catalogue in `Manifest.mbdb` instead, a binary file (big
endian: "mbdb\\x05\\x00", then a record a file: five strings (domain, path, link target, data
hash, encryption key; a string is a 16-bit length and UTF-8, 0xFFFF for none), 16-bit mode,
64-bit inode, 32-bit uid and gid, three 32-bit times, 64-bit size, 8-bit protection class,
8-bit property count and that many pairs of strings), and store each file under its fileID in
the backup's root folder itself."""

from __future__ import annotations

import hashlib
import os
import plistlib
import re
import sqlite3
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, Iterable, Iterator, Optional, Tuple
from urllib.parse import quote

from ..errors import one_line
from ..records import FileEntry, ScanError
from ..safetext import path_text

MANIFEST = "Manifest.db"
MBDB = "Manifest.mbdb"        # iOS 5 to 9: files stored flat in the root, no <xx> folders
CATALOGUES = (MANIFEST, MBDB)
PLIST = "Manifest.plist"
FILE_FLAG = 1
MAX_PLIST = 16 << 20   # a Manifest.plist is a few KiB (its keybag included)
MAX_CATALOGUE = 1 << 30   # a Manifest.db read out of a disk image is held in memory
KEPT = 8   # catalogues a lister keeps read from one task to the next (a task needs two at most)
_FILE_ID = re.compile(r"[0-9a-f]{40}")


@dataclass
class Backup:
    """One backup folder: its stored names (fileID) and their names on the phone, or why it
    was not examined."""

    root: str
    names: Dict[str, str] = field(default_factory=dict)
    problem: Optional[str] = None
    flat: bool = False   # Manifest.mbdb's layout: stored files in the root itself

    def phone_path(self, path: str) -> Optional[str]:
        """`domain/relativePath` of the stored file at `path` (under root), or None."""
        folder, name = os.path.split(path)
        if self.flat:
            if folder != self.root:
                return None
        elif os.path.dirname(folder) != self.root or os.path.basename(folder) != name[:2]:
            return None
        return self.names.get(name.lower())


def read(root: str) -> Backup:
    """The backup whose root folder is `root` (it holds Manifest.db, or Manifest.mbdb)."""
    encrypted = _plist_encrypted(os.path.join(root, PLIST))
    if not os.path.isfile(os.path.join(root, MANIFEST)) and \
            os.path.isfile(os.path.join(root, MBDB)):
        return _examined(Backup(root, flat=True), encrypted,
                         lambda: mbdb_names(_read_whole(os.path.join(root, MBDB))))
    return _examined(Backup(root), encrypted, lambda: _catalogue(os.path.join(root, MANIFEST)))


def _read_whole(path: str) -> bytes:
    from ..evidence.folder import open_readonly
    with open_readonly(path) as f:
        data = f.read(MAX_CATALOGUE + 1)
    if len(data) > MAX_CATALOGUE:
        raise OSError(f"over the {MAX_CATALOGUE:,} bytes read")
    return data


def kept(catalogues: dict) -> dict:
    """A lister's catalogues read so far (`catalogues`, kept from one of its tasks to the next:
    a folder walk's, an image's directories'), emptied first where they hold more than KEPT."""
    if len(catalogues) > KEPT:
        catalogues.clear()
    return catalogues


def named(entries: Iterable, read_file: Callable[[str, int], Optional[bytes]],
          backups: Optional[Dict[Tuple[str, bool], Optional[Backup]]] = None) -> Iterator:
    """The entries of a walked file system (a disk image's), each file stored in an iOS backup
    carrying its name on the phone (`backup_path`), as the folder walk names them. A file
    shaped as a stored one (`<root>/<2 hex>/<fileID>`) has its backup's catalogue looked up
    by path once per root, whatever order the walk meets them in (the stored files come
    before Manifest.db in an NTFS directory). `read_file(path, limit)`: the bytes of the file
    at `path` in the same file system, None when there is none; OSError when unreadable or
    over `limit` bytes. An encrypted or unreadable backup is a ScanError on its root, once.
    `backups`: the catalogues read so far, by (root, flat), kept from one call to the next (a
    shared walk's directories, each listed in a call of its own); a backup's error is told by
    the call that reads its catalogue."""
    if backups is None:
        backups = {}
    for item in entries:
        # a stored file's name is 40 characters: most paths fail stored() at the first look,
        # tested here without the call (the costliest step of an image's walk in Python)
        if isinstance(item, FileEntry) and item.path[-41:-40] == "/":
            where = stored(item.path)
            if where is not None:
                root, file_id, flat = where
                if (root, flat) not in backups:
                    backups[root, flat] = backup = read_in(root, read_file, flat)
                    if backup is not None and backup.problem is not None:
                        yield ScanError(item.evidence, backup.problem, item.volume, root)
                backup = backups[root, flat]
                phone = backup.names.get(file_id) if backup is not None else None
                if phone is not None:
                    item = replace(item, backup_path=phone)
        yield item


def stored(path: str) -> Optional[Tuple[str, str, bool]]:
    """(backup root, fileID, flat) of a path shaped as a stored file: `<root>/<xx>/<fileID>`
    with <xx> its first two hex digits (flat False: Manifest.db's layout), or
    `<root>/<fileID>` (flat True: Manifest.mbdb's); None for any other path."""
    folder, _, name = path.rpartition("/")
    if len(name) != 40:
        return None
    name = name.lower()
    if not _FILE_ID.fullmatch(name):
        return None
    root, _, sub = folder.rpartition("/")
    if sub.lower() == name[:2]:
        return root or "/", name, False
    return folder or "/", name, True


def read_in(root: str, read_file: Callable[[str, int], Optional[bytes]], flat: bool = False
            ) -> Optional[Backup]:
    """The backup at `root` of a file system read through `read_file` (see named), or None
    when `root` holds no catalogue (Manifest.db, or Manifest.mbdb when `flat`)."""
    base = root.rstrip("/")
    name = MBDB if flat else MANIFEST
    backup = Backup(root, flat=flat)
    try:
        catalogue = read_file(f"{base}/{name}", MAX_CATALOGUE)
    except OSError as exc:
        backup.problem = f"iOS backup not examined: {name} unreadable: {one_line(exc)}"
        return backup
    if catalogue is None:
        return None
    try:
        plist = read_file(f"{base}/{PLIST}", MAX_PLIST)
    except OSError:
        plist = None   # the catalogue tells
    return _examined(backup, _encrypted(plist),
                     lambda: (mbdb_names if flat else _catalogue_of)(catalogue))


def _examined(backup: Backup, encrypted: bool, catalogue: Callable[[], Dict[str, str]]
              ) -> Backup:
    if encrypted:
        backup.problem = "encrypted iOS backup, not examined"
        return backup
    try:
        backup.names = catalogue()
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "encrypted" in str(exc):
            backup.problem = ("iOS backup not examined: its Manifest.db is no SQLite database "
                              "(an encrypted backup's is)")
        else:
            backup.problem = f"iOS backup not examined: Manifest.db unreadable: {one_line(exc)}"
    except (OSError, MbdbError) as exc:
        name = MBDB if backup.flat else MANIFEST
        backup.problem = f"iOS backup not examined: {name} unreadable: {one_line(exc)}"
    return backup


def _plist_encrypted(path: str) -> bool:
    """Manifest.plist's IsEncrypted; False when there is no readable plist (the catalogue
    then tells)."""
    from ..evidence.folder import open_readonly
    try:
        with open_readonly(path) as f:
            data = f.read(MAX_PLIST + 1)
    except OSError:
        return False
    return _encrypted(data if len(data) <= MAX_PLIST else None)


def _encrypted(plist: Optional[bytes]) -> bool:
    if plist is None:
        return False
    try:
        info = plistlib.loads(plist)
    except (ValueError, plistlib.InvalidFileException):
        return False
    return isinstance(info, dict) and info.get("IsEncrypted") is True


def _catalogue(path: str) -> Dict[str, str]:
    """fileID -> domain/relativePath of every stored file in the catalogue."""
    uri = "file:" + quote(os.path.abspath(path)) + "?mode=ro&immutable=1"
    return _names(sqlite3.connect(uri, uri=True))


def _catalogue_of(data: bytes) -> Dict[str, str]:
    """The same from the catalogue's bytes (read out of a disk image), held in memory: nothing
    is written anywhere."""
    db = sqlite3.connect(":memory:")
    try:
        db.deserialize(data)
    except sqlite3.DatabaseError:
        db.close()
        raise
    return _names(db)


def _names(db: sqlite3.Connection) -> Dict[str, str]:
    try:
        rows = db.execute("SELECT fileID, domain, relativePath FROM Files WHERE flags = ?",
                          (FILE_FLAG,))
        return {str(file_id).lower(): _joined(domain, relative)
                for file_id, domain, relative in rows if file_id}
    finally:
        db.close()


class MbdbError(ValueError):
    """A Manifest.mbdb that is not one, or ends inside a record."""


def mbdb_names(data: bytes) -> Dict[str, str]:
    """fileID -> domain/path of every regular file (mode 0x8000) in a Manifest.mbdb."""
    if not data.startswith(b"mbdb\x05\x00"):
        raise MbdbError("no mbdb header (mbdb\\x05\\x00)")
    names: Dict[str, str] = {}
    at = 6
    end = len(data)

    def take(n: int) -> bytes:
        nonlocal at
        if at + n > end:
            raise MbdbError(f"ends inside a record at byte {at:,}")
        out = data[at:at + n]
        at += n
        return out

    def text() -> Optional[bytes]:
        length = int.from_bytes(take(2), "big")
        return None if length == 0xFFFF else take(length)

    while at < end:
        domain, path = text(), text()
        for _ in range(3):   # link target, data hash, encryption key
            text()
        mode = int.from_bytes(take(2), "big")
        take(8 + 4 + 4 + 12 + 8 + 1)   # inode, uid, gid, three times, size, protection
        for _ in range(take(1)[0] * 2):   # properties: name and value strings
            text()
        if mode & 0xF000 != 0x8000:
            continue
        domain_text = (domain or b"").decode("utf-8", "surrogateescape")
        path_text_ = (path or b"").decode("utf-8", "surrogateescape")
        file_id = hashlib.sha1(f"{domain_text}-{path_text_}".encode(
            "utf-8", "surrogateescape")).hexdigest()
        names[file_id] = _joined(domain_text, path_text_)
    return names


def _joined(domain, relative) -> str:
    domain, relative = str(domain or ""), str(relative or "")
    return path_text(f"{domain}/{relative}" if relative else domain)
