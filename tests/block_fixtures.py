"""An ext4 image holding reference pictures found by their 4 KiB blocks, and the block set made
from them (compiled and sealed), shared by the reporter and sealed-set tests.

`b.jpg` is a live file (a hit, and a fragment claimed by inode 12); `loose` is written raw
into free blocks that no file claims (a fragment of unallocated space only). Where each
picture's blocks lie is worked out here by finding their bytes in the image, not by triage."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

from support import run_triage

BLOCK = 4096
TOOLS = ("mkfs.ext4", "debugfs")


def available() -> bool:
    return all(shutil.which(t) for t in TOOLS)


@dataclass
class BlockEvidence:
    image: Path
    compiled: Path
    sealed: Path
    pictures: Dict[str, bytes]      # name -> bytes: "live" (b.jpg), "loose" (raw in free space)
    loose_at: int                   # media offset of the loose picture

    def md5(self, name: str) -> str:
        return hashlib.md5(self.pictures[name]).hexdigest()

    def runs(self, name: str) -> List[dict]:
        """The picture's full blocks as runs on the media, found by their bytes."""
        raw = self.image.read_bytes()
        picture = self.pictures[name]
        runs: List[dict] = []
        last = None
        for i in range(0, len(picture) // BLOCK * BLOCK, BLOCK):
            offset = raw.find(picture[i:i + BLOCK])
            assert offset >= 0 and raw.find(picture[i:i + BLOCK], offset + 1) < 0
            if last is not None and offset == last + BLOCK:
                runs[-1]["length"] += BLOCK
            else:
                runs.append({"offset": offset, "length": BLOCK})
            last = offset
        return runs


def make(base: Path) -> BlockEvidence:
    ref = base / "ref"
    ref.mkdir()
    pictures = {"live": random.Random(21).randbytes(10 * BLOCK + 300),
                "loose": random.Random(22).randbytes(12 * BLOCK + 7)}
    for name, data in pictures.items():
        (ref / f"{name}.jpg").write_bytes(data)
    compiled, sealed = base / "ref.tset", base / "ref.sealed"
    run = run_triage("hashset", "build", ref, "-o", compiled, "--blocks", "--category", "1",
                     "--no-progress")
    assert run.code == 0, run.stderr
    run = run_triage("hashset", "seal", compiled, "-o", sealed)
    assert run.code == 0, run.stderr
    tree = base / "tree"
    tree.mkdir()
    (tree / "b.jpg").write_bytes(pictures["live"])
    image = base / "ext4.raw"
    subprocess.run(["mkfs.ext4", "-q", "-F", "-b", str(BLOCK), "-d", str(tree), str(image),
                    "8M"], check=True, capture_output=True)
    # 16 free blocks from block 1,200 on (debugfs's find-free-blocks), contiguous
    found = subprocess.run(["debugfs", "-R", "ffb 16 1200", str(image)], capture_output=True,
                           text=True, check=True).stdout
    free = [int(b) for b in found.split(":", 1)[1].split()]
    assert free == list(range(free[0], free[0] + 16))
    loose_at = free[0] * BLOCK
    with open(image, "r+b") as f:
        f.seek(loose_at)
        f.write(pictures["loose"])
    return BlockEvidence(image, compiled, sealed, pictures, loose_at)


@dataclass
class BlockScan:
    outdir: Path
    report: dict


def scan(evidence: BlockEvidence, hashset: Path, outdir: Path) -> BlockScan:
    """`--blocks`, a `--sample` certain to hit (4 KiB at 99 % reads all but 1 % of the
    windows, fewer than the pictures' blocks) and a `--time-budget` that is not spent, every
    report format written."""
    run = run_triage("scan", evidence.image, "--hashset", hashset, "--blocks", "--sample",
                     "0.99", "--min-amount", "4KiB", "--time-budget", "1h", "-o", outdir,
                     "--format", "json,csv,html,dfxml,case", "-q")
    assert run.code == 1, run.stderr
    return BlockScan(outdir, json.loads((outdir / "report.json").read_text("utf-8")))
