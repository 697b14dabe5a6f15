"""`triage files`: every file entry of an evidence item, one JSON object a line."""

from __future__ import annotations

import os
import sys
from functools import partial
from typing import Dict, Iterator, List, Optional, Sequence

import click
from tqdm import tqdm

from .. import containers, reading
from ..errors import EXIT_CLEAN, EXIT_INCOMPLETE, READ_ERRORS, one_line
from ..evidence import open_evidence
from ..jsonout import dumps
from ..prefetch import asked_ahead
from ..library_warnings import collected
from ..progress import progress_bar
from ..records import ScanError
from ..safetext import visible
from ..workers import Workers, batches, not_examined
from .options import PathArg, evidence_access, signal_list


@click.command()
@click.argument("evidence", type=PathArg(exists=False))
@evidence_access
@click.option("--hash", "hashes", default=None, metavar="ALGOS", callback=signal_list("exact"),
              help="Digests to compute in one pass, e.g. md5,sha1,sha256.")
@click.option("--no-deleted", is_flag=True, help="Only allocated files.")
@click.option("--no-archives", is_flag=True,
              help="Do not list the members of archives and compressed files.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Files hashed in parallel (default: one per CPU).")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
def files(evidence, hashes, no_deleted, no_archives, workers, progress):
    """List every file of EVIDENCE (disk image, E01, split raw, device or folder): allocated and
    deleted files of every partition and file system, NTFS streams as `path:stream`.

    One JSON object a line with evidence, volume, path, inode, allocated, size, times and the
    requested hashes, in a stable order. A part that cannot be read becomes a line with an
    "error" key (also shown on stderr) and the listing goes on; the exit code is then 3. What
    a library says of a container it opens (a PDF it repairs) is a warning on stderr only. A
    deleted file recovered only in part carries "recovered": the bytes its hashes cover.
    Members of archives and compressed files (recognised by content) follow their container
    as `container!/member`, with container_path, member_path and container_md5."""
    errors = 0
    archives = None if no_archives else containers.Bounds()
    with open_evidence(evidence) as ev, progress_bar(progress, unit=" files") as bar:
        # files read next (hashed, or told containers): their runs, read by (RunReader)
        items = ev.entries(deleted=not no_deleted, runs=bool(hashes) or archives is not None)
        if hashes:
            pool = Workers(partial(describe_once, hashes=hashes, archives=archives),
                           workers or os.cpu_count() or 2, crashed=partial(crashed, hashes=hashes))
            work = batches(_marked(items), lambda marked: getattr(marked[0], "size", 0))
            outputs = _reused((out for _, results in pool.map(work) for out in results), hashes)
        else:
            if archives is not None:   # what telling each file's container reads, asked ahead
                items = asked_ahead(items, _probed)
            pool, outputs = None, (describe(item, (), archives) for item in items)
        try:
            for records in outputs:
                for record in records:
                    if "warning" in record:
                        _warn(record, record["warning"])
                        continue
                    sys.stdout.write(dumps(record) + "\n")
                    if "error" in record:
                        errors += 1
                        _warn(record, record["error"])
                bar.update(1)
        finally:
            if pool is not None:
                pool.close()
    return EXIT_INCOMPLETE if errors else EXIT_CLEAN


def _probed(item) -> list:
    """What _describe reads of a listed file to tell a container (containers.probe_spans)."""
    if isinstance(item, ScanError) or item.member is not None or item.encrypted is not None \
            or item.size < containers.MIN_SIZE:
        return []
    return containers.probe_spans(item.size)


def _marked(items) -> Iterator[tuple]:
    """(item, content key or None, whether that content was listed before under another name:
    a hard link, a deleted name whose inode a live file now owns)."""
    seen = set()
    for item in items:
        if isinstance(item, ScanError):
            yield item, None, False
            continue
        key = item.content_key()
        yield item, key, key in seen
        seen.add(key)


def describe_once(marked: tuple, hashes: Sequence[str],
                  archives: Optional[containers.Bounds] = None) -> tuple:
    """describe(), reading a content only under its first name."""
    item, key, again = marked
    if again:
        return key, again, describe(item, ())
    return key, again, describe(item, hashes, archives)


def crashed(marked: tuple, hashes: Sequence[str], stalled: Optional[float] = None) -> tuple:
    """What describe_once gives for a file whose reading took its worker process down (a
    library crashing on its content, found by workers.Workers), or left it stuck in a read
    for `stalled` seconds: its listing, no hashes, and an error line; the listing goes on."""
    item, key, again = marked
    if isinstance(item, ScanError):
        return key, again, [_error_record(item)]
    record = {**item.to_dict(), **{name: None for name in hashes}}
    return None, again, [record, _entry_error(item, not_examined("reading", stalled))]


def _reused(outputs, hashes: Sequence[str]) -> Iterator[List[dict]]:
    """The records of each item, another name of a content given the digests read under its
    first (which comes before it: outputs keep the walk's order)."""
    digests: Dict[tuple, dict] = {}
    for key, again, records in outputs:
        if key is not None:
            if again:   # (no digests where the first name's reading crashed its worker)
                records[0].update(digests.get(key, {k: None for k in hashes}))
            else:
                digests[key] = {k: records[0].get(k) for k in (*hashes, "recovered")
                                if k in records[0]}
        yield records


def describe(item, hashes: Sequence[str],
             archives: Optional[containers.Bounds] = None) -> List[dict]:
    """The JSON objects one listed item prints: a file (with its hashes), an error, or both
    when a file's content cannot be read; a container's members (`archives`: their bounds)
    after it, each the same way."""
    if isinstance(item, ScanError):
        return [_error_record(item)]
    records: List[dict] = []
    _describe(item, tuple(hashes), archives, None, (), records)
    return records


def _describe(entry, hashes, archives, budget, parents, out: List[dict]) -> None:
    record = entry.to_dict()
    out.append(record)
    locked = containers.encrypted(entry)
    if locked:
        record.update({name: None for name in hashes})
        out.append(_entry_error(entry, locked))
        return
    sniff = containers.Sniff(archives is not None and entry.size >= containers.MIN_SIZE)
    if not hashes and not sniff.enabled:
        return
    try:
        # listed, not hashed: its first 4 KiB (and ISO's marks, its last 4 KiB) tell most
        # files are no container, as a scan tells them, where the SNIFF head read 64 KiB
        if not hashes and entry.member is None and not containers.probe_entry(entry)[0]:
            return
        with entry.open() as reader:
            contents = reading.read(reader, hashes, size=entry.size, more=sniff)
    except containers.LISTING_ERRORS as exc:
        if entry.member is None and not isinstance(exc, READ_ERRORS):
            raise
        record.update({name: None for name in hashes})
        out.append(_entry_error(entry, f"read failed: {one_line(exc)}"))
        return
    record.update({name: contents.digests[name] for name in hashes})
    if hashes and contents.bytes_read < entry.size:
        # a deleted file recovered in part: the hashes cover what was there
        record["recovered"] = contents.bytes_read
    kind = sniff.kind or (containers.appended_to(entry, contents) if sniff.enabled else None)
    if kind is None:
        return
    # an appended archive is told after the read, which took no MD5
    md5 = contents.digests.get("md5") or containers.md5_of(entry)
    refused = containers.refusal(archives, md5, parents)
    if refused:
        out.append(_entry_error(entry, refused))
        return
    budget = budget or containers.Budget(archives, entry.size)
    first = {}   # a member's stored name -> where its record is: another name gets its digests
    with collected() as said:   # what the container's library says (a child's are its own)
        for child in containers.expand(entry, kind, budget, md5):
            if isinstance(child, ScanError):
                out.append(_error_record(child))
            elif child.member.same_as is not None:   # a tar hard link: nothing of its own
                named = out[first[child.member.same_as]] if child.member.same_as in first else {}
                out.append({**child.to_dict(), **{name: named.get(name) for name in hashes}})
            else:
                first[child.member.member_path] = len(out)   # _describe puts it there first
                _describe(child, hashes, archives, budget, parents + (md5,), out)
    out += [_warning(entry, f"container library warning: {w}") for w in said]


def _error_record(error: ScanError) -> dict:
    record = error.to_dict()
    record["error"] = record.pop("reason")
    return record


def _warning(entry, reason: str) -> dict:
    """A warning on a listed file: shown on stderr, not listed (a file's content was read, but
    its library said something worth a look)."""
    record = _entry_error(entry, reason)
    record["warning"] = record.pop("error")
    return record


def _entry_error(entry, reason: str) -> dict:
    """The error line of a listed file whose content could not be read or examined."""
    return _error_record(ScanError(entry.evidence, reason, entry.volume, entry.path,
                                   entry.inode))


def _warn(record: dict, reason: str) -> None:
    volume = record.get("volume")
    where = record.get("path") or (f"volume {volume['index']}" if volume else "")
    tqdm.write(visible(f"triage: warning: {record['evidence']}: {where}: {reason}"),
               file=sys.stderr)
