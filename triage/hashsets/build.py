"""Build a set from reference files: every regular file under a folder (symlinks not
followed, FIFOs and devices never opened), each read once for all requested signals."""

from __future__ import annotations

import hashlib
import os
from functools import partial
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from .. import reading, signals
from ..workers import BATCH_COST, ordered
from ..errors import HashSetError
from ..evidence.folder import inside, open_readonly, regular_files
from ..library_warnings import collected
from ..progress import progress_bar
from ..reading import Contents
from ..safetext import path_text
from ..signals.exact import FINGERPRINT
from ..records import ScanError, SetEntry
from .compile import Compiler
from .formats.base import Item
from .importer import KINDS, ProblemSink, Tally, write_set
from .problems import Problem

DEFAULT_SIGNALS = ("md5", "sha1", "sha256", FINGERPRINT, "pdq", "phash", "vpdq")


Value = Tuple[str, str, Optional[int], Optional[str]]     # signal, value, quality, id

MAX_SHARED = 4   # a block in more reference files than this is common structure, not evidence


def exact_values(contents: Contents, names: List[str], path: Path) -> List[Value]:
    return [(name, contents.digests[name], None, None) for name in names]


def block_values(contents: Contents, names: List[str], path: Path) -> List[Value]:
    """A file's probative 4 KiB blocks (signals.blocks), each identified by the file's MD5 and
    the block's number, which is what a fragment found on the media reports."""
    md5 = contents.digests["md5"]
    return [(name, value, None, f"{md5}:{index}") for name in names
            for index, value in (token.split(":") for token in contents.digests[name].split())]


def perceptual_values(contents: Contents, names: List[str], path: Path) -> List[Value]:
    """Every hash a reference picture should be stored under (the whole image, without its
    borders, and central regions), so shrunk, re-saved and cropped copies match. Files that
    are not images give nothing; an image that cannot be decoded or hashed within its budget
    is a problem (ValueError)."""
    if contents.picture is None:
        return []
    if contents.too_large:
        raise ValueError(f"image larger than {reading.MAX_IMAGE_BYTES} bytes: not decoded")
    from ..imaging import ImageDecodeError
    from ..scanners.perceptual import full_size_budget, hash_picture
    try:
        hashes = hash_picture(contents.data, names, full_size_budget())
    except ImageDecodeError as exc:
        raise ValueError(exc.reason()) from None
    except MemoryError:   # the decoded picture itself: up to 4 bytes a pixel
        raise ValueError("image not hashed: out of memory") from None
    return list(dict.fromkeys((h.signal, h.value, h.quality, None) for h in hashes))


def video_values(contents: Contents, names: List[str], path: Path) -> List[Value]:
    """A reference video's frames (one a second, as vPDQ samples), each in its eight rotations
    and flips, so turned and mirrored copies match with one PDQ a found frame, and the frames
    beside it, for copies at another frame rate; all under the video's ID, the digest of its
    vPDQ text. An animated GIF, APNG or WebP is a video too.
    Files that are neither give nothing; one that cannot be decoded is a problem."""
    from ..video import VideoDecodeError, hash_video, is_animated
    if contents.video is None and not (contents.data is not None and is_animated(contents.data)):
        return []
    from ..scanners.video import reference_id
    try:
        with open_readonly(str(path)) as source:
            hashed = hash_video(source, reference=True)
    except VideoDecodeError as exc:
        raise ValueError(exc.reason()) from None
    ident = reference_id([f.line() for f in hashed.frames if f.variant == "original"])
    if hashed.warnings:
        raise PartialValues([(name, f.line(), f.quality, ident) for name in names
                             for f in hashed.frames], hashed.warnings)
    return [(name, f.line(), f.quality, ident) for name in names for f in hashed.frames]


class PartialValues(ValueError):
    """Values worth keeping, with warnings about how they were made (a video hashed in part)."""

    def __init__(self, values: List[Value], warnings: List[str]):
        super().__init__("; ".join(warnings))
        self.values = values


# How each kind of signal is computed from a file's contents (read once for all of them): one
# entry per kind, so a new kind is added here and nowhere else.
CALCULATORS: Dict[str, Callable[[Contents, List[str], Path], List[Value]]] = {
    "exact": exact_values, "perceptual": perceptual_values, "video": video_values,
    "block": block_values}


def buildable(name: str) -> str:
    """The kind of a signal `build` computes from files; ValueError for any other name."""
    kind = signals.get(name).kind
    if kind not in CALCULATORS:
        raise ValueError(f"signal {name!r} cannot be computed from files by build")
    return kind


def walk(folder: Path) -> Iterator[Union[Tuple[Path, os.stat_result], ScanError]]:
    """(path, stat) of each regular file under `folder` as a scan of it lists them (by name,
    links not followed, folders past the path limit reached), and a ScanError for each part
    that cannot be listed: os.walk passed those by without a word, and their files were
    missing from the set."""
    root = os.path.abspath(folder)
    for item in regular_files(root):
        if isinstance(item, ScanError):
            yield item
        else:
            yield folder / os.path.relpath(item[0], root), item[1]


def build_entries(folder, names: Iterable[str] = DEFAULT_SIGNALS,
                  category: Optional[str] = None, progress=None,
                  workers: Optional[int] = None) -> Iterator[Item]:
    """(where, SetEntry or Problem) of every regular file under `folder`, in the walk's order,
    the files read and hashed in `workers` processes (one per CPU)."""
    folder = Path(folder)
    names = list(names)
    by_kind: Dict[str, List[str]] = {}
    for name in names:
        by_kind.setdefault(buildable(name), []).append(name)
    # Every stream-computed value in the one read; a block is named by its file's MD5.
    digests = list(dict.fromkeys([*by_kind.get("exact", ()), *by_kind.get("block", ()),
                                  *(["md5"] if "block" in by_kind else [])]))
    task = partial(_file_items, folder, by_kind, digests, category)
    for size, items in ordered(task, walk(folder), _cost, workers):
        yield from items
        if progress is not None and size is not None:
            progress.update(size)


def _cost(item) -> int:
    """A picture, decoded and hashed at full size, is a batch of its own; other files cost
    what they read (workers.batches)."""
    if isinstance(item, ScanError):
        return 0
    path, info = item
    return BATCH_COST if reading.likely_picture(path.name) else info.st_size


def _file_items(folder: Path, by_kind: Dict[str, List[str]], digests: List[str],
                category: Optional[str], item) -> Tuple[Optional[int], List[Item]]:
    """(its size, or None when it was not read, and its items) for one file (path, stat) of
    the walk, or for a part of the folder that could not be listed (ScanError)."""
    if isinstance(item, ScanError):
        where = item.path.lstrip("/") or "."
        return None, [(where, Problem(where, item.reason, severity="error"))]
    path, info = item
    where = str(path.relative_to(folder))
    values: List[Value] = []
    try:
        with open_readonly(str(path)) as f:   # as the walk's, past the path limit too
            contents = reading.read(f, digests,
                                    pictures="perceptual" in by_kind or "video" in by_kind,
                                    videos="video" in by_kind, size=info.st_size)
    except OSError as exc:
        return None, [(where, Problem(where, f"cannot read: {exc.strerror or exc}",
                                      severity="error"))]
    problems: List[str] = []
    with collected() as said:
        for kind, members in by_kind.items():
            try:
                values += CALCULATORS[kind](contents, members, path)
            except PartialValues as exc:
                values += exc.values
                problems.append(str(exc))
            except ValueError as exc:   # e.g. an undecodable picture: its digests still count
                problems.append(str(exc))
    problems += [f"image library warning: {reason}" for reason in said]
    common = sorted({signal for signal, value, _, _ in values
                     if value in signals.get(signal).trivial})
    if common:
        # an alert set listing the empty file's MD5 calls every empty file on a seized device
        # a hit
        values = [v for v in values if v[1] not in signals.get(v[0]).trivial]
        problems.append(f"{', '.join(common)} not kept: the value of an empty or all-zero "
                        f"file, which countless innocent files share")
    items: List[Item] = [(where, Problem(where, reason, severity="warning"))
                         for reason in problems]
    items += [(where, SetEntry(signal, value, category, None, info.st_size, where, quality,
                               ident))
              for signal, value, quality, ident in values]
    return info.st_size, items


def _manifest_line(where: str, entry: SetEntry) -> bytes:
    """A folder has no file digest of its own; its provenance digest is the SHA-256 of one line
    per value, `path<TAB>size<TAB>signal<TAB>value`, in the walk's sorted order, so the same
    reference files always give the same digest and any change to them changes it."""
    return f"{where}\t{entry.size}\t{entry.signal}\t{entry.value}\n".encode("utf-8",
                                                                             "surrogateescape")


def build_set(folder, out, *, names: Iterable[str] = DEFAULT_SIGNALS,
              category: Optional[str] = None, kind: Optional[str] = None,
              name: Optional[str] = None, version: Optional[str] = None,
              thresholds: Optional[Dict[str, int]] = None,
              on_problem: Optional[ProblemSink] = None, progress: bool = False,
              workers: Optional[int] = None, max_shared: int = MAX_SHARED,
              known_good_blocks=()) -> None:
    """`max_shared`, `known_good_blocks` (open sets with block digests): which blocks are
    dropped as non-probative, beyond those signals.blocks.probative refuses."""
    folder = Path(folder)
    names = list(names)
    if not folder.is_dir():
        raise HashSetError(f"{folder}: not a folder")
    if inside(out, folder):
        raise HashSetError(f"{out}: inside {folder}, the folder the set is built from; "
                           f"write the set outside it")
    if kind is not None and kind not in KINDS:
        raise HashSetError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    compiler = Compiler()
    tally = Tally()
    held: List[SetEntry] = []     # block entries, kept until every file has been seen
    kept = 0
    manifest = hashlib.sha256()
    with progress_bar(None if progress else False, desc="build", unit="B",
                      unit_scale=True) as bar:
        for where, item in build_entries(folder, names, category, bar if progress else None,
                                         workers):
            if isinstance(item, SetEntry):
                if item.signal == "block":
                    held.append(item)
                else:
                    compiler.add(item)
                    kept += 1
                tally.entry(where)
                manifest.update(_manifest_line(where, item))
            else:
                tally.problem(item)
                if on_problem is not None:
                    on_problem(folder, item)
    blocks = probative_blocks(held, max_shared, known_good_blocks)
    for entry in blocks:
        compiler.add(entry)
    tally.close()
    if not kept and not blocks:
        # an empty folder (a mount that failed, a wrong path) would make a set that finds
        # nothing, and say so nowhere
        raise NothingToBuild(f"{path_text(str(folder))}: " + (
            f"none of its {tally.records:,} file(s) gave a value to keep" if tally.records
            else "no files in it") + ": no set written")
    write_set(compiler, out, described=[{"kind": kind}],
              sources=[{"path": path_text(str(folder)), "sha256": manifest.hexdigest(),
                        "format": "folder"}],
              tally=tally, name=name or path_text(folder.resolve().name), version=version,
              kind=kind or "alert", thresholds=thresholds,
              fingerprinted=_fingerprinted(names))


class NothingToBuild(HashSetError):
    """A folder that gave no value to keep: no set is written (its files' problems say why)."""


def probative_blocks(entries: List[SetEntry], max_shared: int,
                     known_good=()) -> List[SetEntry]:
    """Block entries less those in more than `max_shared` distinct reference files (a header
    every file of a kind has) and those in any known-good block set."""
    files: Dict[str, set] = {}
    for e in entries:
        files.setdefault(e.value, set()).add(e.id.split(":")[0])
    common = {v for v, owners in files.items() if len(owners) > max_shared}
    known = set()
    values = sorted(files)
    for hs in known_good:
        index = hs.blocks()      # a compiled or a sealed known-good set alike
        if index is not None and values:
            known.update(values[q] for q, _ in index.confirm([bytes.fromhex(v)
                                                              for v in values]))
    return [e for e in entries if e.value not in common and e.value not in known]


def _fingerprinted(names: Iterable[str]) -> bool:
    """Every file gives every exact signal asked for: with a sub-file fingerprint among them,
    each full digest of the set has one."""
    names = [signals.get(n) for n in names]
    return any(s.partial for s in names) and any(
        s.kind == "exact" and not s.partial for s in names)
