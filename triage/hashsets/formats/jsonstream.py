"""A bounded streaming splitter for JSON documents whose records sit in arrays: VICS's `value[]`
(hash-set shape) or `value[].Media[]` (case export). It finds each record's bytes without
parsing them, so a parser in C can take many records at once, and it bounds what a hostile file
can make it hold: nesting depth (MAX_DEPTH), one record (MAX_RECORD), the bytes between two
records (MAX_RECORD); everything else streams through in 1 MiB chunks.

The structure is read with numpy, a chunk at a time: string quotes (a quote after an odd run of
backslashes is escaped), then the brackets outside strings and the depth after each. Only the
few brackets above the record level go through Python; the records' own opening and closing
brackets are paired as whole arrays. Parsing a record is the consumer's job (vics.py); a record
whose inside is not valid JSON is that record's problem, while a broken structure (a string or
bracket left open at the end, a bracket that closes nothing, content after the document) would
lose what follows, so it raises SourceError with its line and column."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import BinaryIO, Iterator, List, Optional, Tuple, Union

import numpy as np

from ..limits import MAX_DEPTH, MAX_RECORD, size_text
from ..problems import Problem, SourceError

CHUNK = 1 << 20
KEY_TAIL = 4096                 # bytes kept before a chunk, to read the key of an array there
HASHSET, CASE = "hashset", "case"
_OPEN, _CLOSE = 0x7B, 0x7D      # `{` and `[`, `}` and `]`, once OR-ed with 0x20
_WS = b" \t\r\n"


@dataclass
class Position:
    """Line and column (from 1; the column in bytes) of offsets into `data`, whose first byte
    is at `line`, `column` of the file."""

    data: bytes
    line: int
    column: int

    def at(self, offset: int) -> Tuple[int, int]:
        newlines = self.data.count(b"\n", 0, offset)
        if not newlines:
            return self.line, self.column + offset
        return self.line + newlines, offset - self.data.rfind(b"\n", 0, offset)

    def text(self, offset: int) -> str:
        return "line {} column {}".format(*self.at(offset))


@dataclass
class Batch:
    """Consecutive records of one record array: `spans[i]` is record `first + i`'s
    [start, end) in `data`; between two of them lies nothing but a comma and blanks when the
    file is sound (the consumer checks)."""

    data: bytes
    spans: np.ndarray               # (records, 2): start, end
    first: int
    position: Position

    def region(self) -> bytes:
        """From the first record's start to the last one's end: a JSON array's inside."""
        return self.data[int(self.spans[0, 0]):int(self.spans[-1, 1])]


class Splitter:
    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.data = b""
        self.line, self.column = 1, 1     # where data[0] is in the file
        self.in_string = False
        self.backslashes = 0              # run of backslashes ending the bytes scanned so far
        self.depth = 0
        self.frames: List[list] = []      # [bracket byte, role, gap start] per open container
        self.shape: Optional[str] = None
        self.level: Optional[int] = None  # nesting level of records: 3 hash set, 5 case export
        self.pending: Optional[int] = None    # data offset of a record not yet closed
        self.count = 0                    # records found
        self.values = False               # a `value` array was seen
        self.end: Optional[int] = None    # data offset after the document's last `}`
        self.spans: List[np.ndarray] = []
        self.out: List[Union[Batch, Problem]] = []

    def __iter__(self) -> Iterator[Union[Batch, Problem]]:
        while True:
            chunk = self.stream.read(CHUNK)
            if not chunk:
                break
            start = len(self.data)
            self.data += chunk
            self._scan(start)
            self._flush()
            yield from self.out
            self.out.clear()
            self._trim()
        self._finish()
        yield from self.out

    # -- structure ----------------------------------------------------------------------------

    def _scan(self, start: int) -> None:
        arr = np.frombuffer(self.data, np.uint8, offset=start)
        quotes = np.flatnonzero(arr == 34)
        carried = self.backslashes
        slashed = self.data.find(b"\\", start) >= 0      # memchr: backslashes are rare
        slashes = arr == 92 if slashed or carried else None
        if len(quotes) and (carried or slashed):
            # A quote is escaped when an odd run of backslashes ends right before it.
            last_other = np.maximum.accumulate(np.where(slashes, -1, np.arange(len(arr))))
            before = quotes - 1
            other = np.where(before >= 0, last_other[np.maximum(before, 0)], -1)
            run = np.where(other >= 0, before - other, before + 1 + carried)
            quotes = quotes[(run & 1) == 0]
        if slashed and slashes[-1]:        # a run of backslashes ends the chunk
            others = np.flatnonzero(~slashes)
            self.backslashes = (carried + len(arr)) if not len(others) else \
                len(arr) - 1 - int(others[-1])
        else:
            self.backslashes = 0
        low = arr | 0x20                    # `[` and `{`, `]` and `}` alike (2 compares, not 4)
        at = np.flatnonzero((low == _OPEN) | (low == _CLOSE))
        outside = ((np.searchsorted(quotes, at) + self.in_string) & 1) == 0
        at = at[outside]
        self.in_string = bool((self.in_string + len(quotes)) & 1)
        if not len(at):
            return
        opens = low.take(at) == _OPEN
        after = self.depth + np.cumsum(np.where(opens, 1, -1))
        level = np.where(opens, after, after + 1)
        if after.min() < 0:
            i = int(np.argmax(after < 0))
            raise self._fatal(start + int(at[i]), "a closing bracket that closes nothing")
        if level.max() > MAX_DEPTH:
            i = int(np.argmax(level > MAX_DEPTH))
            raise self._fatal(start + int(at[i]), f"JSON nested deeper than {MAX_DEPTH} levels "
                                                  "(limit)")
        self.depth = int(after[-1])
        self._events(at + start, arr[at], opens, level)

    def _events(self, at: np.ndarray, brackets: np.ndarray, opens: np.ndarray,
                level: np.ndarray) -> None:
        i, n = 0, len(at)
        while i < n:
            if self.shape is None:     # the first value item: each bracket until its shape shows
                self._event(int(at[i]), int(brackets[i]), bool(opens[i]), int(level[i]))
                i += 1
                continue
            shallow = np.flatnonzero(level[i:] < self.level)
            j = i + int(shallow[0]) if len(shallow) else n
            if j > i and self._in_records():
                mine = level[i:j] == self.level
                self._records(at[i:j][mine], opens[i:j][mine])
            if j < n:
                self._event(int(at[j]), int(brackets[j]), bool(opens[j]), int(level[j]))
            i = j + 1

    def _event(self, at: int, bracket: int, is_open: bool, level: int) -> None:
        """A bracket above the record level (or inside the first value item), in Python."""
        if is_open:
            if self.end is not None:
                raise self._fatal(at, "content after the end of the JSON document")
            parent = self.frames[-1][1] if self.frames else None
            role = "other"
            if level == 1:
                if bracket != ord("{"):
                    raise self._fatal(at, "the document is not a JSON object")
                role = "root"
            elif level == 2 and parent == "root" and bracket == ord("[") \
                    and self._key(at) == "value":
                # A second `value` array in a hash-set file holds records as the first did.
                role = "records" if self.shape == HASHSET else "values"
                self.values = True
            elif level == 3 and parent in ("values", "records"):
                if self.shape is None:
                    role, self.pending = "first", at
                else:
                    role = "case"
            elif level == 4 and parent in ("case", "first") and bracket == ord("[") \
                    and self._key(at) == "Media":
                if parent == "first":
                    self.shape, self.level, self.pending = CASE, 5, None
                    self.frames[-1][1] = "case"
                role = "records"
            self.frames.append([bracket, role, at + 1, 0])
            return
        frame = self.frames.pop()
        if frame[0] != bracket - 2:            # `}` is `{` + 2, `]` is `[` + 2
            raise self._fatal(at, "a closing bracket of the wrong kind")
        role = frame[1]
        if role == "first":                    # the first value item ended without Media[]
            self.shape, self.level = HASHSET, 3
            values = self.frames[-1]
            values[1] = "records"
            self._records(np.array([at]), np.array([False]))
        elif role == "records":
            self._flush()
            self.frames.append(frame)      # _gap reads the array's own frame
            self._gap(frame[2], at, closing=True)
            self.frames.pop()
        elif role == "values" and self.shape is None:
            self.shape, self.level = HASHSET, 3
        elif role == "root":
            self.end = at + 1

    def _in_records(self) -> bool:
        return bool(self.frames) and self.frames[-1][1] == "records"

    def _records(self, at: np.ndarray, opens: np.ndarray) -> None:
        """Record-level brackets of one record array, in order: they alternate open, close."""
        if not len(at):
            return
        starts, ends = at[opens], at[~opens]
        if self.pending is not None:
            starts = np.concatenate([[self.pending], starts])
        done = len(ends)
        if done:
            spans = np.column_stack([starts[:done], ends + 1])
            longest = spans[:, 1] - spans[:, 0]
            if longest.max() > MAX_RECORD:
                i = int(np.argmax(longest > MAX_RECORD))
                raise self._fatal(int(spans[i, 0]), f"record {self.count + i + 1} is longer "
                                  f"than {size_text(MAX_RECORD)} (limit)")
            if not self.spans:
                self._gap(self.frames[-1][2], int(spans[0, 0]), closing=False)
            self.spans.append(spans)
            self.frames[-1][2] = int(spans[-1, 1])
            self.frames[-1][3] += done
        self.pending = int(starts[done]) if len(starts) > done else None

    def _gap(self, start: int, end: int, closing: bool) -> None:
        """What lies between the previous record (or the array's `[`) and the next record (or
        the array's `]`) must be a comma, or blanks only at the array's ends."""
        raw = self.data[start:end]
        gap = raw.strip(_WS)
        first = not self.frames[-1][3]
        at = start + len(raw) - len(raw.lstrip(_WS))
        if gap == (b"" if first or closing else b","):
            return
        if closing and gap == b",":
            self.out.append(self._problem(at, "a comma after the last record"))
        else:
            self.out.append(self._problem(at, "something other than a record between "
                                              "records"))

    def _flush(self) -> None:
        if not self.spans:
            return
        spans = np.concatenate(self.spans)
        self.spans = []
        self.out.append(Batch(self.data, spans, self.count + 1,
                              Position(self.data, self.line, self.column)))
        self.count += len(spans)

    def _trim(self) -> None:
        """Drop what is no longer needed: all but the open record, the current gap and a tail
        for reading keys. Past the bounds, stop."""
        size = len(self.data)
        if self.end is not None:
            # After the document only blanks may follow; nothing before them is needed.
            self._after_end()
            self._drop(size)
            self.end = 0
            return
        keep = max(0, size - KEY_TAIL)
        if self.pending is not None:
            if size - self.pending > MAX_RECORD:
                raise self._fatal(self.pending, f"record {self.count + 1} is longer than "
                                  f"{size_text(MAX_RECORD)} (limit)")
            keep = min(keep, self.pending)
        if self._in_records():
            gap = self.frames[-1][2]
            if size - gap > MAX_RECORD and self.pending is None:
                raise self._fatal(gap, f"more than {size_text(MAX_RECORD)} between two "
                                       "records (limit)")
            keep = min(keep, gap)
        if keep > 0:
            self._drop(keep)

    def _drop(self, keep: int) -> None:
        dropped = self.data[:keep]
        newlines = dropped.count(b"\n")
        if newlines:
            self.line += newlines
            self.column = keep - dropped.rfind(b"\n")
        else:
            self.column += keep
        self.data = self.data[keep:]
        if self.pending is not None:
            self.pending -= keep
        if self.end is not None:
            self.end -= keep
        for frame in self.frames:
            frame[2] -= keep

    def _finish(self) -> None:
        end = len(self.data)
        if self.in_string:
            raise self._fatal(end, "the file ends inside a string")
        if self.depth:
            raise self._fatal(end, f"the file ends inside {self.depth} open object(s) or "
                                   "array(s)")
        if self.end is None:
            raise self._fatal(end, "no JSON object in the file")
        self._after_end()
        if not self.values:
            raise SourceError("", "VICS JSON without a value array")

    # -- helpers ------------------------------------------------------------------------------

    def _after_end(self) -> None:
        rest = self.data[self.end:]
        if rest.strip(_WS):
            raise self._fatal(self.end + len(rest) - len(rest.lstrip(_WS)),
                              "content after the end of the JSON document")

    def _key(self, at: int) -> Optional[str]:
        """The object key right before the container opening at `at`, if any: `"key"`, blanks,
        `:`, blanks. Read backwards, so a file of many arrays costs one short look each."""
        head = self.data[max(0, at - KEY_TAIL):at].rstrip(_WS)
        if not head.endswith(b":"):
            return None
        head = head[:-1].rstrip(_WS)
        if not head.endswith(b'"'):
            return None
        start = len(head) - 1
        while True:
            start = head.rfind(b'"', 0, start)
            if start < 0:
                return None
            slashes = start - len(head[:start].rstrip(b"\\"))
            if not slashes & 1:
                break
        try:
            return json.loads(head[start:])
        except ValueError:
            return None

    def _where(self, at: int) -> str:
        return "{}:{}".format(*Position(self.data, self.line, self.column).at(at))

    def _fatal(self, at: int, reason: str) -> SourceError:
        return SourceError(self._where(at), f"{reason}, reading stopped")

    def _problem(self, at: int, reason: str) -> Problem:
        return Problem("", f"{reason} at {Position(self.data, self.line, self.column).text(at)}")
