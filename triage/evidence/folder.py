"""Walk a folder (a mounted volume or any directory tree) the way `hashdeep -r` does, without
changing it: no symlinks followed, no FIFOs or device nodes opened, atime left alone where the OS
allows (O_NOATIME)."""

from __future__ import annotations

import errno
import io
import os
import stat
import sys
from dataclasses import MISSING, fields, replace
from collections import OrderedDict
from typing import Iterator, NamedTuple, Optional, Tuple, Union

from ..containers import iosbackup
from ..errors import one_line
from ..safetext import path_text
from ..records import FileEntry, ScanError, quick_maker
from . import mounts

try:   # the compiled lister (_oslist.c, Linux): optional, the same entries as scandir's
    from . import _oslist
except ImportError:
    _oslist = None
if not sys.platform.startswith("linux"):
    _oslist = None

_NOATIME = getattr(os, "O_NOATIME", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BASE_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | _NOFOLLOW
_DIRECTORY = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
# A path this many bytes long or longer is reached a folder at a time (openat), below the
# system's limit (PATH_MAX, 4096 on Linux): deep nesting hides files from tools that walk by
# whole paths (hashdeep passes them by without a word).
LONG_PATH = 3800
DEEP_LEVELS = 1024   # folders past LONG_PATH reached at most (each open walks down them all)
# Names a folder may hold to be listed by the compiled lister, which makes all its entries at
# once (about 1.3 KB each): a folder of more is listed by scandir, an entry at a time.
COMPILED_LIMIT = 1 << 16


def open_readonly(path: str, follow_symlinks: bool = False) -> io.BufferedReader:
    """Open a file read-only without updating its access time when the OS lets us. Files of a
    walked folder are never followed out of it; an evidence image named by a link is."""
    # what os.fdopen(fd, "rb", buffering=0) gives, made directly
    return io.FileIO(open_descriptor(path, follow_symlinks), "rb")


def open_descriptor(path: str, follow_symlinks: bool = False) -> int:
    """open_readonly's file as a bare descriptor, for reads by os.pread alone (the caller
    closes it)."""
    flags = _BASE_FLAGS if not follow_symlinks else _BASE_FLAGS & ~_NOFOLLOW
    try:
        return _open(path, flags | _NOATIME)
    except PermissionError:
        # O_NOATIME is refused on files we do not own (unless root); read anyway.
        return _open(path, flags)


class OsFile(NamedTuple):
    """A folder's file as its FileEntry opens it (`open`): called, a file object; its
    `descriptor()` the same file as a bare descriptor, which the workers' batch screen reads
    with os.pread alone (a file object, made and closed for two reads of 4 KiB, was a sixth of
    a screened file's time). Pickled as its two fields."""

    path: str
    follow: bool = False

    def __call__(self) -> io.FileIO:
        return open_readonly(self.path, self.follow)

    def descriptor(self) -> int:
        return open_descriptor(self.path, self.follow)

    def __reduce__(self):
        # as its fields, made again by calling the class: a NamedTuple's own pickling asks
        # __getnewargs__ of each (a third more of a batch's pickling, every file has one)
        return OsFile, tuple(self)


def _open(path: str, flags: int) -> int:
    try:
        return os.open(path, flags)
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
    folder, name = os.path.split(path)
    parent = _folder_fd(folder)
    try:
        return os.open(name, flags, dir_fd=parent)
    finally:
        os.close(parent)


def _folder_fd(path: str) -> int:
    """A descriptor of the folder at `path`, however long: its longest leading part within
    LONG_PATH opened as any path is (links followed, as the walk's root may be reached by one),
    then each folder below it in turn, none of them a link (the walk follows none); at most
    DEEP_LEVELS of them, which bounds what each deep folder and file costs to open."""
    parts = path.split(os.sep)
    cut = len(parts) - _past_limit(parts)
    fd = os.open(os.sep.join(parts[:cut]) or os.sep, _DIRECTORY)
    try:
        for part in parts[cut:]:
            if part:
                below = os.open(part, _DIRECTORY | _NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = below
    except BaseException:
        os.close(fd)
        raise
    return fd


def _past_limit(parts) -> int:
    """How many of a path's folders lie past its longest leading part within LONG_PATH; more
    than DEEP_LEVELS raises."""
    cut, length = 0, -1
    for part in parts:   # the leading parts' length in bytes, separators counted
        length += len(os.fsencode(part)) + 1
        if length >= LONG_PATH:
            break
        cut += 1
    past = len(parts) - max(cut, 1)
    if past > DEEP_LEVELS:
        raise OSError(errno.ENAMETOOLONG, f"nested more than {DEEP_LEVELS:,} folders past the "
                                          f"system's path limit: not examined")
    return past


def walk(root: str, evidence: str) -> Iterator[Union[FileEntry, ScanError]]:
    """Every regular file under `root`, sorted by name within each folder for stable output.
    A file stored in an iOS backup met on the way carries its name on the phone."""
    root = os.path.abspath(root)
    backups = {}   # an iOS backup's root folder -> its catalogue (containers.iosbackup)
    maker = _maker(evidence)
    for item in _tree(root, evidence, backups, maker):
        yield _made(item, root, evidence, backups)


def _maker(evidence: str) -> tuple:
    """What the compiled lister makes a file's FileEntry from (_children's `maker`)."""
    return FileEntry, {**_ENTRY_DEFAULTS, "evidence": evidence, "allocated": True}, OsFile


def _made(item, root: str, evidence: str, backups: dict) -> Union[FileEntry, ScanError]:
    """A file's entry as the walk gives it, from what _tree gives (an entry the compiled
    lister made, or a path and its stat), with its name on the phone where an iOS backup
    stores it; a ScanError as it is."""
    if type(item) is FileEntry:   # made by the compiled lister
        entry, path = item, item.open.path
    elif isinstance(item, ScanError):
        return item
    else:
        path, st = item
        entry = _entry(path, st, root, evidence)
    phone = _phone_path(backups, path) if backups else None
    return entry if phone is None else replace(entry, backup_path=phone)


def regular_files(root: str) -> Iterator[Union[Tuple[str, os.stat_result], ScanError]]:
    """(path, stat) of every regular file under `root`, as walk() lists them, and a ScanError
    for what cannot be listed: for reading a folder that is not evidence (`hashset build`)."""
    return _tree(os.path.abspath(root))


def sizes(root: str) -> Iterator[int]:
    """The size of every file walk() lists, in its order, without making their entries (the
    progress bar's count ahead of the scan: half the walk's time)."""
    for item in _tree(os.path.abspath(root)):
        if not isinstance(item, ScanError):
            yield item[1].st_size


def _tree(root: str, evidence: str = "", backups: Optional[dict] = None, maker=None
          ) -> Iterator[Union[Tuple[str, os.stat_result], FileEntry, ScanError]]:
    """(path, stat) of every regular file under `root`, depth-first, by name within each
    folder, and a ScanError for what cannot be listed or stat'ed, and for each mount of the
    running kernel's state met (mounts.py), which is not walked. With `backups`, the catalogue
    of each iOS backup met is read into it before the backup's files are given. With `maker`
    (_children), a file the compiled lister lists is given as its FileEntry."""
    kernel = mounts.kernel_state()
    try:
        top = os.stat(root).st_dev
    except OSError:
        top = None   # told when it is listed
    if top in kernel:
        yield ScanError(evidence, mounts.not_walked(kernel[top]), path="/")
        return
    pending = [(root, top)]
    held = _Held()   # deep folders' descriptors, their entries stat through them
    try:
        while pending:
            folder, device = pending.pop()
            items, subfolders = _folder_items(root, folder, device, kernel, held, evidence,
                                              backups, maker)
            yield from items
            pending.extend(reversed(subfolders))
    finally:
        held.close()


def _folder_items(root: str, folder: str, device: Optional[int], kernel: dict, held: "_Held",
                  evidence: str = "", backups: Optional[dict] = None, maker=None
                  ) -> Tuple[list, list]:
    """One folder's step of the walk (_tree): what it gives of the folder's own names, in
    name order (as _tree gives them), and the subfolders to walk next, (path, st_dev) by
    name. The one place that decides what a folder's names are: the walk in this process
    and a worker's share of it (Task) both take it."""
    try:
        children = _children(root, folder, held, maker)
    except OSError as exc:
        return [ScanError(evidence, f"cannot list folder: {one_line(exc)}",
                          path=_relative(root, folder))], []
    items, subfolders = [], []
    # read first: an old backup's stored files sit beside Manifest.mbdb, some sorted before it
    if backups is not None and any(_catalogue(child) for child in children):
        backup = backups[folder] = iosbackup.read(folder)
        if backup.problem is not None:
            items.append(ScanError(evidence, backup.problem, path=_relative(root, folder)))
    for child in children:
        if type(child) is not tuple:   # a FileEntry, made by the compiled lister
            items.append(child)
            continue
        kind, path, value = child
        if kind == _FILE:
            items.append((path, value))
        elif kind == _FOLDER:
            if _kernel_mount(value, device, kernel):
                items.append(ScanError(evidence, mounts.not_walked(kernel[value]),
                                       path=_relative(root, path)))
                continue
            subfolders.append((path, value))
        else:
            items.append(ScanError(evidence, f"cannot stat: {one_line(value)}",
                                   path=_relative(root, path)))
    return items, subfolders


def _kernel_mount(device: int, parent: Optional[int], kernel: dict) -> bool:
    """Whether a folder on `device`, in a folder on `parent`, is a mount of the running
    kernel's state (mounts.py): it is not walked."""
    return device != parent and device in kernel


class Task(NamedTuple):
    """A folder whose own files a worker lists and judges (the scan's walk shared among its
    workers: triage/shared_walk.py), as tasks() found it."""

    root: str
    evidence: str
    path: str
    device: Optional[int]   # its st_dev (None where the root could not be stat'ed)
    names: int              # how many names it held when tasks() listed it
    backup_above: bool      # its parent holds an iOS backup's catalogue (its files may be
    #                         that backup's, named by it)


def tasks(root: str, evidence: str) -> Iterator[Union[Task, ScanError]]:
    """Each folder _tree walks, in its order, as a Task: its names counted and its subfolders
    found by their type in the listing (one stat a folder, none a file), where _tree stats every
    name. What a worker then gives of each (Lister.entries), taken in this order, is walk()'s
    own. A folder that cannot be listed here is a Task all the same: its worker tells why."""
    root = os.path.abspath(root)
    kernel = mounts.kernel_state()
    try:
        top = os.stat(root).st_dev
    except OSError:
        top = None
    if top in kernel:
        yield ScanError(evidence, mounts.not_walked(kernel[top]), path="/")
        return
    pending = [(root, top, False)]
    held = _Held()
    try:
        while pending:
            folder, device, above = pending.pop()
            try:
                names, catalogue, subfolders = _glance(folder, held)
            except OSError:
                names, catalogue, subfolders = 0, False, []
            yield Task(root, evidence, folder, device, names, above)
            pending.extend(reversed([(path, value, catalogue) for path, value in subfolders
                                     if not _kernel_mount(value, device, kernel)]))
    finally:
        held.close()


def _glance(folder: str, held: "_Held") -> Tuple[int, bool, list]:
    """How many names `folder` holds, whether one is an iOS backup's catalogue (a regular
    file), and its subfolders as _children finds them, (path, st_dev) by name: a folder told
    by the listing's type (a stat where the file system gives none), not followed when a
    link, and one that cannot be stat'ed left out (_children makes it an error)."""
    names, catalogue, subfolders = 0, False, []
    for path, child in _listed(folder, held):
        names += 1
        if child.is_dir(follow_symlinks=False):
            try:
                subfolders.append((path, child.stat(follow_symlinks=False).st_dev))
            except OSError:
                continue
        elif child.name in iosbackup.CATALOGUES and child.is_file(follow_symlinks=False):
            catalogue = True
    return names, catalogue, subfolders


class Lister:
    """Lists Tasks' folders as walk() would (entries()), for one thread of one process: the
    deep folders' descriptors and the iOS backups' catalogues it has read are kept from one
    task to the next."""

    def __init__(self):
        self._held = _Held()
        self._backups: dict = {}   # a backup's folder -> its catalogue
        self._kernel = mounts.kernel_state()   # read once, as a walk does

    def entries(self, task: Task) -> Iterator[Union[FileEntry, ScanError]]:
        """What walk() gives of the task's folder's own names, in its order: listed now, each
        one's entry made as it is asked for."""
        backups = iosbackup.kept(self._backups)
        parent = os.path.dirname(task.path)
        if task.backup_above and parent not in backups:
            backups[parent] = iosbackup.read(parent)   # its problem is its own task's to tell
        items, _ = _folder_items(task.root, task.path, task.device, self._kernel, self._held,
                                 task.evidence, backups, _maker(task.evidence))
        # the catalogues its files may be named by (_phone_path): its own, and its parent's
        own = {k: backups[k] for k in (parent, task.path) if k in backups}
        return (_made(item, task.root, task.evidence, own) for item in items)

    def close(self) -> None:
        self._held.close()


# What _children gives of a name that is not a file it made: (kind, path, value).
_FILE, _FOLDER, _UNSTATED = "f", "d", "e"


def _children(root: str, folder: str, held: "_Held", maker=None) -> list:
    """Each name of `folder` in name order that the walk deals with: (_FILE, path, its stat),
    (_FOLDER, path, its st_dev), (_UNSTATED, path, the OSError of its stat); with `maker`
    (FileEntry, its first __dict__, OsFile) where the compiled lister runs, a file as its
    FileEntry. Links, FIFOs, sockets and device nodes are left out: no content of their own.
    OSError when the folder cannot be listed."""
    if maker is not None and _oslist is not None:
        prefix, shown = _joinable(folder), _joinable(_relative(root, folder))
        # the descriptor last: the lister closes it, whatever happens
        rows = _oslist.list(_listing_fd(folder, held), prefix, shown, maker, COMPILED_LIMIT)
        if rows is not None:   # else a name that is not UTF-8, or too many: scandir's, below
            return [row if type(row) is not tuple else
                    (row[0], prefix + row[1],
                     row[2] if row[0] == _FOLDER else OSError(row[2], os.strerror(row[2])))
                    for row in rows]
    children = []
    for path, child in _listed(folder, held):
        try:
            st = child.stat(follow_symlinks=False)
        except OSError as exc:
            children.append((_UNSTATED, path, exc))
            continue
        if stat.S_ISDIR(st.st_mode):
            children.append((_FOLDER, path, st.st_dev))
        elif stat.S_ISREG(st.st_mode):
            children.append((_FILE, path, st))
    return children


def _catalogue(child) -> bool:
    """Whether a child (_children) is an iOS backup's catalogue file."""
    if type(child) is not tuple:
        return child.path.rpartition("/")[2] in iosbackup.CATALOGUES
    kind, path, _ = child
    return kind == _FILE and os.path.basename(path) in iosbackup.CATALOGUES


def _joinable(folder: str) -> str:
    """`folder` with one trailing separator: a name added to it is a path."""
    return folder if folder.endswith(os.sep) else folder + os.sep


def _listing_fd(folder: str, held: "_Held") -> int:
    """A descriptor of `folder` to list it by (the caller closes it): a deep folder's from its
    parent's, which `held` keeps."""
    if _short(folder):
        return os.open(folder, _DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    return os.dup(held.open(folder))


def _short(folder: str) -> bool:
    # a name is 255 bytes at most; a character, 4 at most
    return len(folder) < (LONG_PATH - 256) // 4 or len(os.fsencode(folder)) < LONG_PATH - 256


def _listed(folder: str, held: "_Held") -> list:
    """(path, DirEntry) of each name in `folder`, sorted by name. A deep folder is listed
    through a descriptor `held` keeps (its entries stat through it)."""
    if _short(folder):
        with os.scandir(folder) as it:
            return sorted(((c.path, c) for c in it), key=lambda pc: pc[1].name)
    with os.scandir(held.open(folder)) as it:
        return sorted(((os.path.join(folder, c.name), c) for c in it), key=lambda pc: pc[1].name)


class _Held:
    """Descriptors of the deep folders the walk listed last: the next one, mostly a child of
    one of them, is opened from its parent's in one step, where from the path limit it takes a
    step a folder (a chain of 1,024 one-letter folders: 4.4 s, as many steps squared)."""

    KEPT = 64

    def __init__(self):
        self._fds: "OrderedDict[str, int]" = OrderedDict()

    def open(self, folder: str) -> int:
        parent = self._fds.get(os.path.dirname(folder))
        if parent is None:
            fd = _folder_fd(folder)
        else:
            _past_limit(folder.split(os.sep))   # the bound holds whichever way it is reached
            fd = os.open(os.path.basename(folder), _DIRECTORY | _NOFOLLOW, dir_fd=parent)
        self._fds[folder] = fd
        while len(self._fds) > self.KEPT:   # not the one just opened: it is the newest
            os.close(self._fds.popitem(last=False)[1])
        return fd

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def _phone_path(backups, path: str):
    """The name on the phone of a file stored in an iOS backup, or None."""
    if not backups:
        return None
    folder = os.path.dirname(path)
    backup = backups.get(os.path.dirname(folder))   # <root>/ab/abcd...
    if backup is None or backup.flat:
        backup = backups.get(folder)                # <root>/abcd... (Manifest.mbdb)
    return None if backup is None else backup.phone_path(path)


def single(path: str, evidence: str) -> FileEntry:
    """A loose file given as evidence, listed as the one file of its folder would be. It was
    named by the examiner, so a link to it is followed."""
    path = os.path.abspath(path)
    return _entry(path, os.stat(path), os.path.dirname(path), evidence, follow=True)


def _entry(path: str, st: os.stat_result, root: str, evidence: str,
           follow: bool = False) -> FileEntry:
    return _new_entry(
        evidence=evidence,
        path=_relative(root, path),
        size=st.st_size,
        allocated=True,
        inode=st.st_ino,
        times=(divmod(st.st_mtime_ns, 10**9), divmod(st.st_atime_ns, 10**9),
               divmod(st.st_ctime_ns, 10**9), _birth(st)),
        open=OsFile(path, follow),   # picklable: a worker process opens it
        device=st.st_dev if st.st_nlink > 1 else None,
    )


_new_entry = quick_maker(FileEntry)
_ENTRY_DEFAULTS = {f.name: f.default for f in fields(FileEntry) if f.default is not MISSING}


def _birth(st: os.stat_result):
    ns = getattr(st, "st_birthtime_ns", None)   # where the platform records it
    return (0, 0) if ns is None else divmod(ns, 10**9)


def _relative(root: str, path: str) -> str:
    # Every path the walk meets is root + sep + more (scandir joins them so): cut, not
    # os.path.relpath, which normalised both paths each time (most of the walk's time).
    if path.startswith(root) and path[len(root):len(root) + 1] == os.sep:
        rel = path[len(root) + 1:]
    elif path.startswith(root) and root.endswith(os.sep):   # the root is "/"
        rel = path[len(root):]
    else:
        rel = os.path.relpath(path, root)
    rel = "" if rel == "." else rel
    return "/" + path_text(os.fsdecode(rel)).replace(os.sep, "/")


def inside(path, folder) -> bool:
    """Whether `path` is `folder` or lies under it, symlinks resolved: where nothing may be
    written while the folder is read."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
