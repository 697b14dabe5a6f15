"""What a reader says about a record it could not take whole. Never carries file content:
only where (line, record or row) and why."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    where: str | int           # 12 (line), "record 3" (JSON), "row 9" (SQLite), "" (whole file)
    reason: str
    code: str = "malformed"    # malformed | missing-size | unsupported
    severity: str = "error"    # error | warning

    def line(self, path) -> str:
        """The one-line form users see: `FILE:LINE: reason`."""
        return f"{path}:{self.where}: {self.reason}" if self.where != "" else f"{path}: {self.reason}"
