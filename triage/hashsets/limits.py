"""Bounds on what one hash-set source can make a reader hold or do. Each is far beyond any real
set (real lines are a few hundred bytes, real VICS records nest 5 deep, the whole NSRL RDS is
tens of GB) and each is listed in the README's "Limits": a source past one is refused with one
line naming the file, the place and the bound (exit 2), never read short or silently empty."""

from __future__ import annotations

# One line of a text source (plain list, table, hashdeep, HashKeeper, NSRL RDS 2), and one value
# of an NSRL RDS 3 database, in bytes (characters for UTF-16 sources).
MAX_LINE = 1 << 20
# One VICS JSON record (a Media object), in bytes.
MAX_RECORD = 16 << 20
# Nesting of JSON objects and arrays (a VICS case export nests 7 deep).
MAX_DEPTH = 64
# What one zip member may inflate to, in bytes, and how many times its compressed size.
# Real NSRL text compresses 3-5 times; a zip bomb inflates about 1,000 times per layer.
MAX_INFLATED = 1 << 40
MAX_RATIO = 100
# SQLite virtual-machine steps an NSRL RDS 3 query may take: a floor, plus a share per byte of
# the database (a real RDS 3 scan takes a few steps a byte), so a hostile view (a recursive
# CTE, a join of a table with itself many times) ends instead of running forever.
SQL_STEPS_FLOOR = 50_000_000
SQL_STEPS_PER_BYTE = 64
# Rows that FILE may yield per byte of the database: a stored row takes dozens of bytes, so
# more rows than bytes can only come from a view that invents them.
SQL_ROWS_PER_BYTE = 1


def size_text(n: int) -> str:
    """A bound as people read it: 1 MiB, 16 MiB, 1 TiB."""
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift} {unit}"
    return f"{n:,} bytes"
