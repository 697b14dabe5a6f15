"""The results database of one scan (SQLite, WAL): what was done, found and not readable.

Everything is written as it happens, a file's verdict and its findings in one transaction, so
a scan killed at any moment loses at most the files in flight; `--resume` skips every file
already marked done. Reports are rendered from this database alone."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import msgspec

from .errors import TriageError

DB_NAME = "results.sqlite"
SCHEMA_VERSION = 3   # 2: a file's content key, other names of one content, the scan's identity;
#                     3: a file's key led by its folder's (file_key)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scan (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, info TEXT NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS hashsets (id INTEGER PRIMARY KEY, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS done (
    key BLOB PRIMARY KEY, evidence_id INTEGER NOT NULL, volume INTEGER, status TEXT NOT NULL,
    bytes INTEGER NOT NULL, hashed INTEGER NOT NULL, decoded INTEGER NOT NULL,
    content BLOB NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS findings (
    id INTEGER PRIMARY KEY, evidence_id INTEGER NOT NULL, key BLOB NOT NULL UNIQUE,
    entry TEXT NOT NULL, hashes TEXT NOT NULL, matches TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS names (
    key BLOB PRIMARY KEY, content BLOB NOT NULL, entry TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS names_by_content ON names (content);
CREATE TABLE IF NOT EXISTS damage (
    evidence_id INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
    PRIMARY KEY (evidence_id, offset)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY, evidence_id INTEGER, severity TEXT NOT NULL,
    record TEXT NOT NULL, UNIQUE (severity, record));
"""

# Verdicts a file can get; `done.status`. "same": another name (a hard link, a reallocated
# name) of content that was judged under its first name, and is not read again.
STATUSES = ("hit", "known", "clean", "skipped", "error", "same")
# What a file's `decoded` column holds: what was decoded to be matched perceptually. (A
# results database of format 2.1 or before holds 1 for either.)
DECODED_PICTURE, DECODED_VIDEO = 1, 2


_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def _loads(text: str):
    """json.loads, by msgspec where it reads the text (4-7x as fast: a report decodes four
    values a hit), by json where msgspec refuses what json reads (NaN, the escape of a lone
    surrogate, a number past a float's range): the same values either way."""
    try:
        return _decode(text)
    except msgspec.MsgspecError:
        return json.loads(text)


def _dumps(value) -> str:
    """json.dumps of a value without floats (a finding's entry, its hashes), by msgspec where
    it can (a tenth of the time); by json where msgspec refuses it (a lone surrogate): what
    _loads reads back is the value either way. Not for floats: msgspec writes NaN as null."""
    try:
        return _encode(value).decode("utf-8")
    except (msgspec.MsgspecError, UnicodeError):
        return json.dumps(value)


def entry_key(key: str) -> bytes:
    """A compact, stable identity for a file entry (its evidence, volume, inode and path)."""
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def volume_index(entry) -> Optional[int]:
    """A file entry's volume in the `done` table: its index, None for a folder's file."""
    return None if entry.volume is None else entry.volume.index


def file_key(entry) -> bytes:
    """A file entry's key in the `done` table: entry_key of FileEntry.key(), led by its
    folder's digest, so that a batch of one folder's files lands on a few pages of the table
    (with keys in random order every commit rewrote a page a file: 3.7x the time)."""
    return _near(entry.path.rpartition("/")[0]) + entry_key(entry.key())


def content_key(entry) -> bytes:
    """The results database's key of what an entry reads (FileEntry.content_key), compact."""
    return entry_key("\x00".join(map(str, entry.content_key())))


@lru_cache(maxsize=1024)
def _near(folder: str) -> bytes:
    return hashlib.blake2b(folder.encode("utf-8", "surrogatepass"), digest_size=4).digest()


@dataclass
class Summary:
    files_seen: int = 0
    files_hashed: int = 0
    files_skipped: int = 0
    # clean by a sub-file fingerprint (edges) no set lists: their first and last 4 KiB read,
    # neither hashed whole nor decoded (counted apart from files_hashed and files_skipped)
    files_screened: int = 0
    files_known: int = 0
    other_names: int = 0        # names of a file already seen under another (not read again)
    images_decoded: int = 0
    videos_decoded: int = 0
    bytes_read: int = 0
    hits: int = 0
    hits_by_category: Dict[str, int] = field(default_factory=dict)
    errors: int = 0
    warnings: int = 0


class Results:
    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self._conn = conn
        self._failed: Optional[sqlite3.Error] = None
        self._pending = 0
        self._last_commit = time.monotonic()

    # --- opening ----------------------------------------------------------------------------

    @classmethod
    def create(cls, outdir: Path) -> "Results":
        try:
            outdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TriageError(f"{outdir}: cannot create the output folder: "
                              f"{exc.strerror or exc}") from None
        path = outdir / DB_NAME
        if path.exists():
            path.unlink()
            for suffix in ("-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        results = cls._connect(path)
        results.set("schema_version", SCHEMA_VERSION)
        results.commit()
        return results

    @classmethod
    def open(cls, outdir: Path) -> "Results":
        path = Path(outdir) / DB_NAME
        if not path.is_file():
            raise TriageError(f"{outdir}: no scan results here ({DB_NAME} is missing)")
        results = cls._connect(path)
        version = results.get("schema_version")
        if version != SCHEMA_VERSION:
            raise TriageError(f"{path}: results database version {version!r} is not "
                              f"{SCHEMA_VERSION}; re-run the scan")
        return results

    @classmethod
    def peek(cls, outdir: Path) -> Optional[dict]:
        """The scan-wide values (identity, complete, ...) of OUTDIR's results database, read
        without writing or creating anything; None when there is none, or none readable (a
        database killed before its first commit)."""
        path = Path(outdir) / DB_NAME
        if not path.is_file():
            return None
        try:
            with closing(sqlite3.connect(path.absolute().as_uri() + "?mode=ro", uri=True)) as c:
                return {key: json.loads(value)
                        for key, value in c.execute("SELECT key, value FROM scan")}
        except sqlite3.Error:
            return None

    @classmethod
    def _connect(cls, path: Path) -> "Results":
        try:
            conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc) or "malformed" in str(exc):
                raise TriageError(f"{path}: not a triage results database: {exc}") from None
            raise TriageError(f"{path}: cannot write: {exc}") from None
        conn.execute("BEGIN")
        return cls(path, conn)

    def close(self) -> None:
        if self._failed is None and self._conn.in_transaction:
            self._conn.execute("COMMIT")
        self._conn.close()

    def abandon(self) -> None:
        """Close without committing what is pending (it could not be written, or what it
        would claim, e.g. reports written, did not happen); committed work stays."""
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        self._conn.close()

    # --- writing ----------------------------------------------------------------------------

    def commit(self) -> None:
        """Make everything written so far durable (and start the next transaction)."""
        if self._conn.in_transaction:
            self._write("COMMIT")
        self._write("BEGIN")
        self._pending = 0
        self._last_commit = time.monotonic()

    def _write(self, sql: str, params=(), many: bool = False):
        """Every write goes through here. After a failed write (a full disk) SQLite may have
        rolled the transaction back on its own and fallen into autocommit, where a file's
        verdict could be stored without its finding: so the first failure is final for this
        connection, and a write outside a transaction opens one first."""
        if self._failed is not None:
            raise self._failed
        try:
            if not self._conn.in_transaction and sql not in ("BEGIN", "COMMIT"):
                self._conn.execute("BEGIN")
            return (self._conn.executemany if many else self._conn.execute)(sql, params)
        except sqlite3.Error as exc:
            self._failed = exc
            try:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise

    def _written(self, count: int = 1, urgent: bool = False) -> None:
        # Batch commits for speed, but never hold more than a second or a few hundred files.
        self._pending += count
        if urgent or self._pending >= 500 or time.monotonic() - self._last_commit > 1.0:
            self.commit()

    def set(self, key: str, value) -> None:
        self._write("INSERT OR REPLACE INTO scan VALUES (?, ?)", (key, json.dumps(value)))

    def get(self, key: str, default=None):
        row = self._conn.execute("SELECT value FROM scan WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def add_evidence(self, path: str, info: dict) -> int:
        row = self._conn.execute("SELECT id FROM evidence WHERE path = ?", (path,)).fetchone()
        if row:
            self._write("UPDATE evidence SET info = ? WHERE id = ?", (json.dumps(info), row[0]))
            return row[0]
        cur = self._write("INSERT INTO evidence (path, info) VALUES (?, ?)",
                          (path, json.dumps(info)))
        return cur.lastrowid

    def finish_evidence(self, evidence_id: int) -> None:
        self._write("UPDATE evidence SET finished = 1 WHERE id = ?", (evidence_id,))
        self.commit()

    def set_hashsets(self, infos: List[dict]) -> None:
        self._write("DELETE FROM hashsets")
        self._write("INSERT INTO hashsets (info) VALUES (?)", [(json.dumps(i),) for i in infos],
                    many=True)

    def record(self, evidence_id: int, key: bytes, content: bytes, volume: Optional[int],
               status: str, bytes_read: int, hashed: bool, decoded: bool,
               finding: Optional[dict] = None) -> None:
        """One file's verdict, by name (`key`) and content; a finding (a hit) belongs to the
        content, and is committed at once."""
        self.record_many(evidence_id, [(key, volume, status, bytes_read, hashed, decoded,
                                        content)],
                         [] if finding is None else [(content, finding)])

    def record_many(self, evidence_id: int, rows: List[tuple],
                    findings: List[tuple] = ()) -> None:
        """Many files' verdicts in one statement (a worker's batch, the files settled by their
        size): `rows` of (key, volume, status, bytes read, hashed, decoded, content), and the
        findings among them as (content, finding). They are written in one transaction: a
        scan stopped at any moment has recorded all of them or none. Findings are committed
        at once. One statement a batch rather than one a file: a fifth of a screened scan's
        main process went to single-row inserts."""
        with self._whole():
            self._write("INSERT OR REPLACE INTO done VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [(key, evidence_id, volume, status, bytes_read, int(hashed), decoded,
                          content)
                         for key, volume, status, bytes_read, hashed, decoded, content in rows],
                        many=True)
            if findings:   # one statement for all (a disk full of hits had one a hit)
                self._write(
                    "INSERT OR REPLACE INTO findings (evidence_id, key, entry, hashes, matches) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(evidence_id, content, _dumps(finding["entry"]),
                      _dumps(finding["hashes"]), json.dumps(finding["matches"]))
                     for content, finding in findings], many=True)
        self._written(len(rows), urgent=bool(findings))

    @contextmanager
    def _whole(self):
        """The writes inside are kept all or none, even when an exception (Ctrl-C, SIGTERM, a
        spent time budget) lands between two of them: the scan then commits what is pending,
        which must never hold a hit's verdict without its finding (a resume would skip it)."""
        self._write("SAVEPOINT whole")
        try:
            yield
        except BaseException:
            try:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK TO whole")
                    self._conn.execute("RELEASE whole")
            except sqlite3.Error:
                pass
            raise
        self._write("RELEASE whole")

    def record_name(self, evidence_id: int, key: bytes, content: bytes, volume: Optional[int],
                    entry: dict) -> None:
        """Another name of content already judged under its first name: listed, not read."""
        with self._whole():
            self._write("INSERT OR REPLACE INTO done VALUES (?, ?, ?, 'same', 0, 0, 0, ?)",
                        (key, evidence_id, volume, content))
            self._write("INSERT OR REPLACE INTO names VALUES (?, ?, ?)",
                        (key, content, _dumps(entry)))
        self._written()

    def add_damage(self, evidence_id: int, offset: int, length: int) -> None:
        """A damaged range of the media (a chunk whose checksum fails), met by any reader."""
        self._write("INSERT OR IGNORE INTO damage VALUES (?, ?, ?)", (evidence_id, offset, length))

    def damage(self, evidence_id: int) -> List[dict]:
        return [{"offset": o, "length": n} for o, n in self._conn.execute(
            "SELECT offset, length FROM damage WHERE evidence_id = ? ORDER BY offset",
            (evidence_id,))]

    def add_error(self, evidence_id: Optional[int], error: dict,
                  severity: str = "error") -> None:
        """An error (content not checked) or a warning (checked, worth a look); recording the
        same one twice, as a resumed scan does, keeps one."""
        self._write(
            "INSERT OR IGNORE INTO errors (evidence_id, severity, record) VALUES (?, ?, ?)",
            (evidence_id, severity, json.dumps(error, sort_keys=True)))
        self._written()

    def absorb(self, path: Path) -> None:
        """Add every record of another results database of this scan, a part of it scanned
        on its own (triage batch, triage.scope): verdicts, findings, other names, errors and
        damaged ranges, its evidence matched to this one's by path (finished when every part
        finished it). Parts judge disjoint files, so a verdict or finding met twice is a
        fault, not a duplicate: it raises."""
        if self._conn.in_transaction:   # SQLite attaches outside a transaction only
            self._write("COMMIT")
        try:
            self._conn.execute("ATTACH DATABASE ? AS part", (str(path),))
        except sqlite3.Error as exc:
            raise TriageError(f"{path}: cannot read: {exc}") from None
        try:
            version = self._conn.execute(
                "SELECT value FROM part.scan WHERE key = 'schema_version'").fetchone()
            if version is None or json.loads(version[0]) != SCHEMA_VERSION:
                raise TriageError(f"{path}: not a results database of version {SCHEMA_VERSION}")
            for part_id, ev_path, info, finished in self._conn.execute(
                    "SELECT id, path, info, finished FROM part.evidence ORDER BY id").fetchall():
                known = self._conn.execute("SELECT id FROM evidence WHERE path = ?",
                                           (ev_path,)).fetchone()
                info = json.loads(info)
                if known is not None:
                    # A part walks its volume from the start to its range's end: the disk
                    # images met are the union of the parts', in walk order.
                    kept = json.loads(self._conn.execute(
                        "SELECT info FROM evidence WHERE id = ?", known).fetchone()[0])
                    met = kept.get("container_files") or []
                    info["container_files"] = met + [c for c in info.get("container_files")
                                                     or [] if c not in met]
                ev_id = self.add_evidence(ev_path, info)
                self._write("UPDATE evidence SET finished = ? WHERE id = ?",
                            (int(bool(finished) and (known is None or self._finished(ev_id))),
                             ev_id))
                self._absorb_rows(ev_id, part_id)
            self._write("INSERT INTO names SELECT key, content, entry FROM part.names")
            self._write("INSERT OR IGNORE INTO errors (evidence_id, severity, record) SELECT "
                        "NULL, severity, record FROM part.errors WHERE evidence_id IS NULL "
                        "ORDER BY id")
            self._write("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        finally:
            self._conn.execute("DETACH DATABASE part")
            if self._failed is None:
                self._write("BEGIN")

    def _finished(self, evidence_id: int) -> bool:
        return bool(self._conn.execute("SELECT finished FROM evidence WHERE id = ?",
                                       (evidence_id,)).fetchone()[0])

    def _absorb_rows(self, ev_id: int, part_id: int) -> None:
        ids = (ev_id, part_id)
        self._write("INSERT INTO done SELECT key, ?, volume, status, bytes, hashed, decoded, "
                    "content FROM part.done WHERE evidence_id = ?", ids)
        self._write("INSERT INTO findings (evidence_id, key, entry, hashes, matches) SELECT ?, "
                    "key, entry, hashes, matches FROM part.findings WHERE evidence_id = ? "
                    "ORDER BY id", ids)
        self._write("INSERT OR IGNORE INTO damage SELECT ?, offset, length FROM part.damage "
                    "WHERE evidence_id = ?", ids)
        self._write("INSERT OR IGNORE INTO errors (evidence_id, severity, record) SELECT ?, "
                    "severity, record FROM part.errors WHERE evidence_id = ? ORDER BY id", ids)

    # --- reading ----------------------------------------------------------------------------

    def done_keys(self) -> set:
        return {row[0] for row in self._conn.execute("SELECT key FROM done")}

    def judged_contents(self) -> set:
        """The content of every file judged so far (under its first name)."""
        return {row[0] for row in self._conn.execute(
            "SELECT content FROM done WHERE status != 'same'")}

    def evidence(self) -> List[dict]:
        rows = self._conn.execute("SELECT id, path, info, finished FROM evidence ORDER BY id")
        return [{"id": i, "path": p, "info": json.loads(info), "finished": bool(f)}
                for i, p, info, f in rows]

    def hashsets(self) -> List[dict]:
        return [json.loads(r[0]) for r in
                self._conn.execute("SELECT info FROM hashsets ORDER BY id")]

    def findings(self) -> Iterator[dict]:
        """Each hit: the entry of the name it was judged under, the other names of its content
        (`names`), its hashes and matches."""
        names: Dict[bytes, List[dict]] = {}
        for content, entry in self._conn.execute(   # one query, not one a hit
                "SELECT names.content, names.entry FROM names JOIN findings "
                "ON findings.key = names.content ORDER BY names.key"):
            names.setdefault(content, []).append(_loads(entry))
        rows = self._conn.execute("SELECT key, entry, hashes, matches FROM findings")
        for content, entry, hashes, matches in rows.fetchall():
            yield {"entry": _loads(entry), "names": names.get(content, []),
                   "hashes": _loads(hashes), "matches": _loads(matches)}

    def errors(self, severity: str = "error") -> List[dict]:
        return [json.loads(r[0]) for r in self._conn.execute(
            "SELECT record FROM errors WHERE severity = ? ORDER BY id", (severity,))]

    def tally(self) -> List[tuple]:
        """The files' verdicts counted in one pass over them: (evidence id, volume, status,
        files, bytes read, hashed, pictures decoded, videos decoded, neither hashed nor
        decoded) a group, what summary() and volume_counts() tell. The report asks both:
        one scan of the table each was 10 ms a scan of 20,000 files."""
        return self._conn.execute(
            "SELECT evidence_id, volume, status, COUNT(*), SUM(bytes), SUM(hashed), "
            "SUM(decoded = ?), SUM(decoded = ?), SUM(hashed = 0 AND decoded = 0) FROM done "
            "GROUP BY evidence_id, volume, status", (DECODED_PICTURE, DECODED_VIDEO)).fetchall()

    def volume_counts(self, evidence_id: int, tally: Optional[List[tuple]] = None
                      ) -> Dict[Optional[int], Dict[str, int]]:
        """Files seen (contents: a file under several names counts once, its other names under
        "same") and how they ended, per volume of one evidence item (of `tally`, where
        given)."""
        counts: Dict[Optional[int], Dict[str, int]] = {}
        for ev, volume, status, count, *_ in self.tally() if tally is None else tally:
            if ev != evidence_id:
                continue
            c = counts.setdefault(volume, {"files_seen": 0, **{s: 0 for s in STATUSES}})
            c["files_seen"] += 0 if status == "same" else count
            c[status] = count
        return counts

    def summary(self, tally: Optional[List[tuple]] = None) -> Summary:
        """The scan's counts (of `tally`, where given) and its hits by category."""
        s = Summary()
        q = self._conn.execute
        for _, _, status, count, total, hashed, pictures, videos, unread in \
                self.tally() if tally is None else tally:
            if status == "same":
                s.other_names += count
                continue
            s.files_seen += count
            s.bytes_read += total or 0
            s.files_hashed += hashed or 0
            s.images_decoded += pictures or 0
            s.videos_decoded += videos or 0
            if status == "skipped":
                s.files_skipped += count
            if status == "clean":   # clean, yet neither hashed nor decoded: screened
                s.files_screened += unread or 0
            if status == "known":
                s.files_known += count
        categories: Dict[str, int] = {}
        for (matches,) in q("SELECT matches FROM findings"):   # a hit's matches are all it needs
            s.hits += 1
            for cat in sorted({m.get("category") or "uncategorised" for m in _loads(matches)
                               if m["kind"] == "alert"}):
                categories[cat] = categories.get(cat, 0) + 1
        s.hits_by_category = dict(sorted(categories.items()))
        s.errors = q("SELECT COUNT(*) FROM errors WHERE severity = 'error'").fetchone()[0]
        s.warnings = q("SELECT COUNT(*) FROM errors WHERE severity = 'warning'").fetchone()[0]
        return s
