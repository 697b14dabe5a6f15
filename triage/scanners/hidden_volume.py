"""Files that look like an encrypted container (a VeraCrypt or TrueCrypt volume, a LUKS or
dm-crypt image without its header, any whole-file cipher): a size in whole 512-byte sectors, no
file type, and bytes as even as random ones from the first. Nothing inside such a file can be
examined without its password; a scan says so as a warning on the file, as TCHunt and the
commercial triage tools flag them, so that the examiner can ask for it or image it apart.

The test is the one those tools use, on the first 4 KiB: the chi-square statistic of its byte
counts against the uniform distribution (255 degrees of freedom: about 255, standard deviation
about 22.6, for random bytes; text, code, pictures and compressed files with a header are far
above it, or have a type)."""

from __future__ import annotations

from typing import Optional

import numpy as np

SECTOR = 512
MIN_SIZE = 1 << 20        # smaller volumes hold little; below it, noise would be flagged
SAMPLE = 4096
CHI2_LIMIT = 400.0        # 255 + 6.4 standard deviations: random bytes stay under it


def candidate(size: int) -> bool:
    """Whether a file of this size may be an encrypted volume (whole sectors, not tiny)."""
    return size >= MIN_SIZE and size % SECTOR == 0


def random_looking(head: bytes) -> bool:
    """Whether `head` (a file's first SAMPLE bytes) is as even as random bytes."""
    if len(head) < SAMPLE:
        return False
    counts = np.bincount(np.frombuffer(head[:SAMPLE], np.uint8), minlength=256)
    expected = SAMPLE / 256
    return float(((counts - expected) ** 2).sum() / expected) < CHI2_LIMIT


def warning(head: bytes, size: int) -> Optional[str]:
    """The warning for a file of `size` bytes beginning with `head`, or None: random-looking
    bytes that libmagic gives no type (a compressed or encrypted format it knows has one)."""
    if not (candidate(size) and random_looking(head)):
        return None
    import magic
    if magic.from_buffer(head, mime=True) != "application/octet-stream":
        return None
    return (f"possible encrypted container: {size:,} bytes of random-looking data with no file "
            f"type (as a VeraCrypt or TrueCrypt volume looks); nothing inside it can be "
            f"examined without its password")
