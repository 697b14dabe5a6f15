"""ext4 file-based encryption (fscrypt: Android's FBE, `fscrypt` and `e4crypt` on Linux): which
inodes hold ciphertext.

The Sleuth Kit reads an encrypted file's blocks as it reads any other's, so without this a scan
would hash the ciphertext, find nothing, and call the file clean. An inode is encrypted when its
i_flags carry EXT4_ENCRYPT_FL; TSK does not pass i_flags on, so they are read here from the
inode table, located as the kernel locates it (superblock, group descriptors, classic or
meta_bg layout). Only a file system whose superblock has the `encrypt` feature can hold such
inodes: on any other, nothing is read."""

from __future__ import annotations

import struct
from functools import lru_cache
from dataclasses import replace
from typing import Callable, Iterable, Iterator, Optional

from ..errors import READ_ERRORS
from ..records import FileEntry

SUPERBLOCK = 1024
MAGIC = 0xEF53
INCOMPAT_META_BG = 0x10
INCOMPAT_64BIT = 0x80
INCOMPAT_ENCRYPT = 0x10000
RO_COMPAT_SPARSE_SUPER = 0x1
ENCRYPT_FL = 0x800
KIND = "ext4 fscrypt file-based encryption"


class Inodes:
    """i_flags of an ext2/3/4 file system's inodes, read through `read(offset, length)` (the
    volume's bytes)."""

    def __init__(self, read: Callable[[int, int], bytes]):
        self._read = read
        sb = read(SUPERBLOCK, 1024)
        if len(sb) < 1024 or struct.unpack_from("<H", sb, 0x38)[0] != MAGIC:
            raise ValueError("not an ext superblock")
        self.count = struct.unpack_from("<I", sb, 0)[0]
        (self.first_data_block, log_block, self.blocks_per_group,
         self.inodes_per_group) = struct.unpack_from("<II4xI4xI", sb, 0x14)
        if log_block > 6:   # past 64 KiB blocks; a shift by a corrupt one would take gigabytes
            raise ValueError("an ext superblock with impossible geometry")
        self.block_size = 1024 << log_block
        rev = struct.unpack_from("<I", sb, 0x4C)[0]
        self.inode_size = struct.unpack_from("<H", sb, 0x58)[0] if rev else 128
        _, self.incompat, ro_compat = struct.unpack_from("<III", sb, 0x5C)
        self.sparse_super = bool(ro_compat & RO_COMPAT_SPARSE_SUPER)
        wide = self.incompat & INCOMPAT_64BIT
        self.desc_size = (struct.unpack_from("<H", sb, 0xFE)[0] or 64) if wide else 32
        self.first_meta_bg = struct.unpack_from("<I", sb, 0x104)[0]
        if not (self.inodes_per_group and self.blocks_per_group and self.inode_size >= 128
                and self.desc_size >= 32):
            raise ValueError("an ext superblock with impossible geometry")
        self.encryption = bool(self.incompat & INCOMPAT_ENCRYPT)
        self._table = lru_cache(maxsize=4096)(self._inode_table)

    def flags(self, inode: int) -> int:
        """The inode's i_flags."""
        if not 1 <= inode <= self.count:
            raise ValueError(f"inode {inode} is not one of the file system's")
        group, index = divmod(inode - 1, self.inodes_per_group)
        at = self._table(group) * self.block_size + index * self.inode_size + 0x20
        data = self._read(at, 4)
        if len(data) < 4:
            raise ValueError(f"inode {inode} lies past the volume's end")
        return struct.unpack("<I", data)[0]

    def encrypted(self, inode: int) -> bool:
        return bool(self.flags(inode) & ENCRYPT_FL)

    def _inode_table(self, group: int) -> int:
        """The first block of the group's inode table, from its group descriptor."""
        per_block = self.block_size // self.desc_size
        meta_group = group // per_block
        if self.incompat & INCOMPAT_META_BG and meta_group >= self.first_meta_bg:
            # meta_bg: each meta group's descriptors fill one block at the start of its first
            # group (after that group's superblock backup, where it has one)
            first = meta_group * per_block
            block = self.first_data_block + first * self.blocks_per_group + \
                (1 if self._has_superblock(first) else 0)
            at = block * self.block_size + (group % per_block) * self.desc_size
        else:
            at = (self.first_data_block + 1) * self.block_size + group * self.desc_size
        desc = self._read(at, self.desc_size)
        if len(desc) < self.desc_size:
            raise ValueError(f"the descriptor of group {group} lies past the volume's end")
        table = struct.unpack_from("<I", desc, 0x08)[0]
        if self.desc_size >= 64:
            table |= struct.unpack_from("<I", desc, 0x28)[0] << 32
        return table

    def _has_superblock(self, group: int) -> bool:
        if not self.sparse_super or group <= 1:
            return True
        return any(_power_of(group, base) for base in (3, 5, 7))


def _power_of(n: int, base: int) -> bool:
    while n % base == 0:
        n //= base
    return n == 1


def encrypted_inodes(read: Callable[[int, int], bytes]) -> Optional[Callable[[int], bool]]:
    """A test of whether an inode is encrypted, for a file system that may hold encrypted
    inodes; None for one that cannot (no `encrypt` feature, or not ext at all)."""
    try:
        inodes = Inodes(read)
    except (ValueError, struct.error, *READ_ERRORS):
        return None
    return inodes.encrypted if inodes.encryption else None


def flagged(items: Iterable, encrypted: Callable[[int], bool]) -> Iterator:
    """The walk's items, each file entry on an encrypted inode marked so (FileEntry.encrypted).
    An inode whose flags cannot be read is left as it is: its content is read, and fails or
    is judged as it reads."""
    for item in items:
        if isinstance(item, FileEntry) and item.inode:
            try:
                if encrypted(item.inode):
                    item = replace(item, encrypted=KIND)
            except (ValueError, struct.error, *READ_ERRORS):
                pass
        yield item

