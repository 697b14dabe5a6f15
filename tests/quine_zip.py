"""A zip file that contains itself: `r.zip` whose one member, `r.zip`, inflates to the very bytes
of the file (Russ Cox's construction, "Zip Files All The Way Down", 2010), built here from its
description.

DEFLATE is a language of two instructions: "literal n" (a stored block: the next n bytes are
output as they are) and "repeat n" (copy n bytes from n back in what was output). With every
instruction exactly 5 bytes long (a stored block's header is 5 bytes; a repeat is a fixed-Huffman
block whose copies are split so that its bits come to exactly 40), a program in units of one
instruction can print a prefix P, itself, and a suffix S:

    L p+1  [P, L p+1]          prints P, L p+1
    R p+1                      prints P, L p+1 again
    L1     [R p+1]             prints R p+1
    L1     [L1]                prints L1
    L4     [R p+1, L1, L1, L4] prints them
    R4                         and again
    L4     [R4, L4, R4, L4]
    R4
    L4     [R4, L0, L0, L s+1]
    R4
    L0
    L0
    L s+1  [R s+1, S]
    R s+1                      the last block

With P the zip's local header and S its central directory, the member's data is the program and
its content P + program + S: the file. Its CRC-32 is written in both P and S, inside the content it
checks; CRC-32 is affine over GF(2), so the value that checks itself is solved for as a linear
system (Cox searched the 2^32 values instead)."""

from __future__ import annotations

import functools
import struct
import zlib
from typing import List, Optional, Tuple

NAME = b"r.zip"
UNIT = 5   # bytes of an instruction (but "R p+1" and "R s+1")
# The local header's extra field pads the prefix to 60 bytes, so that "R p+1" (a copy of 65
# bytes from 65 back) fits a block of 10 bytes: Android's zipalign padding record (0xD935),
# which readers skip.
PADDING = struct.pack("<HH", 0xD935, 16) + bytes(16)

# DEFLATE's length and distance codes (RFC 1951 3.2.5): (symbol, base, extra bits)
_LENGTHS = [(257 + i, base, extra) for i, (base, extra) in enumerate(
    [(3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0), (9, 0), (10, 0), (11, 1), (13, 1), (15, 1),
     (17, 1), (19, 2), (23, 2), (27, 2), (31, 2), (35, 3), (43, 3), (51, 3), (59, 3), (67, 4),
     (83, 4), (99, 4), (115, 4), (131, 5), (163, 5), (195, 5), (227, 5)])] + [(285, 258, 0)]
_DISTANCES = [(code, base, extra) for code, (base, extra) in enumerate(
    [(1, 0), (2, 0), (3, 0), (4, 0), (5, 1), (7, 1), (9, 2), (13, 2), (17, 3), (25, 3),
     (33, 4), (49, 4), (65, 5), (97, 5), (129, 6), (193, 6), (257, 7), (385, 7)])]


class Bits:
    """DEFLATE's bit order: data elements from their least significant bit, Huffman codes
    from their most significant."""

    def __init__(self):
        self.bits: List[int] = []

    def number(self, value: int, width: int) -> None:
        self.bits += [(value >> i) & 1 for i in range(width)]

    def code(self, value: int, width: int) -> None:
        self.bits += [(value >> i) & 1 for i in reversed(range(width))]

    def bytes(self) -> bytes:
        assert len(self.bits) % 8 == 0
        return bytes(sum(bit << i for i, bit in enumerate(self.bits[k:k + 8]))
                     for k in range(0, len(self.bits), 8))


def _pick(table, value):
    return max((row for row in table if row[1] <= value), key=lambda row: row[1])


def _copy_bits(length: int, distance: int) -> int:
    symbol, _, extra = _pick(_LENGTHS, length)
    return (7 if symbol < 280 else 8) + extra + 5 + _pick(_DISTANCES, distance)[2]


@functools.lru_cache(maxsize=None)
def _parts(left: int, bits: int, distance: int) -> Optional[Tuple[int, ...]]:
    """Copies of `left` bytes from `distance` back in exactly `bits` bits, or None."""
    if left == 0:
        return () if bits == 0 else None
    for part in range(min(258, left), 2, -1):
        cost = _copy_bits(part, distance)
        if cost <= bits and left - part not in (1, 2):
            rest = _parts(left - part, bits - cost, distance)
            if rest is not None:
                return (part,) + rest
    return None


def _split(length: int, distance: int, size: int) -> Tuple[int, ...]:
    """Copy lengths adding up to `length`, all from `distance` back, whose block (3 header
    bits, the copies, a 7-bit end code) is exactly `size` bytes."""
    found = _parts(length, 8 * size - 10, distance)
    if found is None:
        raise ValueError(f"no {size}-byte block repeats {length} bytes")
    return found


def literal(data: bytes, final: bool = False) -> bytes:
    """A stored block: header bits (byte-aligned, so one byte), LEN, NLEN, the data."""
    return bytes([int(final)]) + struct.pack("<HH", len(data), len(data) ^ 0xFFFF) + data


def header(length: int) -> bytes:
    """The 5 bytes that begin a stored block of `length` bytes."""
    return literal(bytes(length))[:UNIT]


def repeat(length: int, size: int = UNIT, final: bool = False) -> bytes:
    """A fixed-Huffman block of `size` bytes copying `length` bytes from `length` back."""
    out = Bits()
    out.number(int(final), 1)
    out.number(1, 2)                          # BTYPE 01: fixed Huffman codes
    for part in _split(length, length, size):
        symbol, base, extra = _pick(_LENGTHS, part)
        if symbol < 280:
            out.code(symbol - 256, 7)
        else:
            out.code(0xC0 + symbol - 280, 8)
        out.number(part - base, extra)
        code, base, extra = _pick(_DISTANCES, length)
        out.code(code, 5)
        out.number(length - base, extra)
    out.code(0, 7)                            # end of block (256)
    block = out.bytes()
    assert len(block) == size
    return block


def program(prefix: bytes, suffix: bytes) -> bytes:
    """DEFLATE data whose inflation is prefix + itself + suffix. Unlike the units of the
    description, "R p+1" here is a 10-byte block (a copy of the 60 to 64 bytes of the prefix
    and a header from that far back needs more than 40 bits): one literal of 5 bytes brings what
    is owed to 15 bytes, as the two 1-unit literals do there."""
    p, s = len(prefix), len(suffix)
    r_p = repeat(p + UNIT, size=10)
    r_4 = repeat(4 * UNIT)
    r_s = next(repeat(s + size, size, final=True) for size in range(UNIT, 16)
               if _fits(s + size, size))
    l0, l4, l_s = header(0), header(4 * UNIT), header(len(r_s) + s)
    owed = r_p[UNIT:] + header(UNIT) + r_p[:UNIT]   # after "L1 [first 5 bytes of R p+1]"
    assert len(owed) == 3 * UNIT
    return b"".join([
        header(p + UNIT) + prefix + header(p + UNIT),   # L p+1 [P, L p+1]
        r_p,                                            # R p+1
        header(UNIT) + r_p[:UNIT],                      # L1 [...]
        l4 + owed + l4,                                 # L4 [what is owed, L4]
        r_4,
        l4 + r_4 + l4 + r_4 + l4,
        r_4,
        l4 + r_4 + l0 + l0 + l_s,
        r_4,
        l0,
        l0,
        l_s + r_s + suffix,
        r_s,
    ])


def _fits(length: int, size: int) -> bool:
    try:
        _split(length, length, size)
        return True
    except ValueError:
        return False


def _headers(crc: int, code_size: int, file_size: int) -> Tuple[bytes, bytes]:
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, code_size,
                        file_size, len(NAME), len(PADDING)) + NAME + PADDING
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                          code_size, file_size, len(NAME), 0, 0, 0, 0, 0, 0) + NAME
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + code_size, 0)
    return local, central + end


def _file(crc: int) -> bytes:
    local, suffix = _headers(crc, 0, 0)
    code_size = len(program(local, suffix))
    file_size = len(local) + code_size + len(suffix)
    local, suffix = _headers(crc, code_size, file_size)
    return local + program(local, suffix) + suffix


def quine() -> bytes:
    """r.zip, holding r.zip: itself, byte for byte, CRC-32 and all."""
    base = zlib.crc32(_file(0))
    # crc32(file(c)) = base ^ M c over GF(2): a column of M per bit of c
    columns = [zlib.crc32(_file(1 << i)) ^ base for i in range(32)]
    # solve (M + I) c = base, Gaussian elimination on 32 rows of 33 bits
    rows = []
    for bit in range(32):
        row = sum((((columns[i] >> bit) & 1) ^ (i == bit)) << i for i in range(32))
        rows.append([row, (base >> bit) & 1])
    pivots = []
    for col in range(32):
        pivot = next((r for r in range(len(pivots), 32) if rows[r][0] >> col & 1), None)
        if pivot is None:
            continue
        top = len(pivots)
        rows[top], rows[pivot] = rows[pivot], rows[top]
        for r in range(32):
            if r != top and rows[r][0] >> col & 1:
                rows[r][0] ^= rows[top][0]
                rows[r][1] ^= rows[top][1]
        pivots.append(col)
    if any(row == 0 and value for row, value in rows):
        raise ValueError("no CRC-32 checks itself for this layout")
    crc = sum(rows[i][1] << col for i, col in enumerate(pivots))
    data = _file(crc)
    assert zlib.crc32(data) == crc
    return data
