"""What a reader says about a record it could not take whole, and about a source it cannot read
on. Never carries file content: only where (line, record or row) and why."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import HashSetError


@dataclass(frozen=True)
class Problem:
    where: str | int           # 12 (line), "record 3" (JSON), "row 9" (SQLite), "" (whole file)
    reason: str
    code: str = "malformed"    # malformed | missing-size | unsupported
    severity: str = "error"    # error | warning

    def line(self, path) -> str:
        """The one-line form users see: `FILE:LINE: reason`."""
        return f"{path}:{self.where}: {self.reason}" if self.where != "" else f"{path}: {self.reason}"


class SourceError(HashSetError):
    """A source that cannot be read on from `where`: a bound passed (limits.py), a structure
    broken so that the rest of the file would be lost. Fatal for that source; the importer
    names the file (`SourceError.at(path)`), readers deep down need not know it."""

    def __init__(self, where, reason: str):
        self.problem = Problem(where, " ".join(str(reason).split()))
        super().__init__(self.problem.line("source"))

    def at(self, path) -> HashSetError:
        return HashSetError(self.problem.line(path))
