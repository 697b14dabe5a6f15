"""iOS backups (iTunes or Finder, iOS 10 and later) met while walking a folder.

A backup is a folder holding `Manifest.db`, an SQLite catalogue whose `Files` table maps each
stored file's name (`fileID`, the SHA-1 of `domain-relativePath`, stored as
`<first two hex digits>/<fileID>`) to the name it had on the phone (`domain`, `relativePath`;
`flags` 1 is a file, 2 a folder, 4 a link). The stored files are the evidence's own files and
are judged as any file; each keeps its real path and gains `backup_path`, its
`domain/relativePath`, so the examiner sees both. Nothing is opened as a container.

An encrypted backup (`Manifest.plist`'s `IsEncrypted`, and a `Manifest.db` that is no SQLite
database) is reported, "encrypted iOS backup, not examined": its stored files are still listed,
as the ciphertext they are. The catalogue is read read-only and immutable (SQLite writes no
journal or lock file beside it: the evidence is never written)."""

from __future__ import annotations

import os
import plistlib
import sqlite3
from dataclasses import dataclass, field
from typing import Dict, Optional
from urllib.parse import quote

from ..errors import one_line
from ..safetext import path_text

MANIFEST = "Manifest.db"
PLIST = "Manifest.plist"
FILE_FLAG = 1
MAX_PLIST = 16 << 20   # a Manifest.plist is a few KiB (its keybag included)


@dataclass
class Backup:
    """One backup folder: its stored names (fileID) and their names on the phone, or why it
    was not examined."""

    root: str
    names: Dict[str, str] = field(default_factory=dict)
    problem: Optional[str] = None

    def phone_path(self, path: str) -> Optional[str]:
        """`domain/relativePath` of the stored file at `path` (under root), or None."""
        folder, name = os.path.split(path)
        if os.path.dirname(folder) != self.root or os.path.basename(folder) != name[:2]:
            return None
        return self.names.get(name.lower())


def read(root: str) -> Backup:
    """The backup whose root folder is `root` (it holds Manifest.db)."""
    backup = Backup(root)
    encrypted = _plist_encrypted(os.path.join(root, PLIST))
    if encrypted:
        backup.problem = "encrypted iOS backup, not examined"
        return backup
    try:
        backup.names = _catalogue(os.path.join(root, MANIFEST))
    except sqlite3.DatabaseError as exc:
        if "not a database" in str(exc) or "encrypted" in str(exc):
            backup.problem = ("iOS backup not examined: its Manifest.db is no SQLite database "
                              "(an encrypted backup's is)")
        else:
            backup.problem = f"iOS backup not examined: Manifest.db unreadable: {one_line(exc)}"
    except OSError as exc:
        backup.problem = f"iOS backup not examined: Manifest.db unreadable: {one_line(exc)}"
    return backup


def _plist_encrypted(path: str) -> bool:
    """Manifest.plist's IsEncrypted; False when there is no readable plist (the catalogue
    then tells)."""
    from ..evidence.folder import open_readonly
    try:
        with open_readonly(path) as f:
            data = f.read(MAX_PLIST + 1)
        if len(data) > MAX_PLIST:
            return False
        info = plistlib.loads(data)
    except (OSError, ValueError, plistlib.InvalidFileException):
        return False
    return isinstance(info, dict) and info.get("IsEncrypted") is True


def _catalogue(path: str) -> Dict[str, str]:
    """fileID -> domain/relativePath of every stored file in the catalogue."""
    uri = "file:" + quote(os.path.abspath(path)) + "?mode=ro&immutable=1"
    db = sqlite3.connect(uri, uri=True)
    try:
        rows = db.execute("SELECT fileID, domain, relativePath FROM Files WHERE flags = ?",
                          (FILE_FLAG,))
        return {str(file_id).lower(): _joined(domain, relative)
                for file_id, domain, relative in rows if file_id}
    finally:
        db.close()


def _joined(domain, relative) -> str:
    domain, relative = str(domain or ""), str(relative or "")
    return path_text(f"{domain}/{relative}" if relative else domain)
