"""A seeded mutator over the fixture images: partition tables (MBR, EBR, GPT), boot sectors and
superblocks, ext group descriptors and inode tables, directory entries, the NTFS MFT, ISO
volume descriptors, EWF headers, section descriptors, tables and chunk data, and truncation.

Every mutant must end `triage files --hash md5` with exit 0, 2 or 3 and `triage inspect` with
0 or 2, with no traceback and never `internal error`, at most one stderr line per problem it
reports, valid UTF-8 JSON on stdout, within a memory limit (RLIMIT_AS) and a time limit. The
regions come from parsing the images' own bytes here (never from triage). A failure names the
seed: `pytest tests/evidence/test_fuzz.py -k SEED` makes the same mutant again.

Small by default (one mutant of each kind); the slow test runs more seeds, scaled by
TRIAGE_SLOW_SCALE."""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from support import REPO, slow_scale

MIB = 1 << 20
MEMORY = 1 << 30          # address space of one run: triage needs ~300 MB for these images
SECONDS = 60              # wall clock of one run (they take about a second)
INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)

# Base images: the committed ones (disks cut after the volumes the mutants aim at, to keep the
# copies small; the cut is one more thing to survive).
BASES = {"mbr.raw": 52 * MIB, "gpt.raw": 48 * MIB, "fat16.raw": None, "ext4.raw": None,
         "ntfs.raw": None, "exfat.raw": None, "iso9660.iso": None, "mbr.E01": None}


@dataclass(frozen=True)
class Target:
    kind: str
    base: str
    start: int
    end: int


# --- where the structures are, from the bytes -----------------------------------------------

def partitions(data: bytes) -> List[Tuple[int, int]]:
    """(table entry offset, volume offset) of every partition: the GPT's entries, or the MBR's
    primaries and the logical ones along the extended partition's chain of EBRs."""
    u32 = lambda at: struct.unpack_from("<I", data, at)[0]
    if data[512:520] == b"EFI PART":
        table = struct.unpack_from("<Q", data, 512 + 72)[0] * 512
        count, size = struct.unpack_from("<II", data, 512 + 80)
        return [(table + i * size, struct.unpack_from("<Q", data, table + i * size + 32)[0] * 512)
                for i in range(count) if any(data[table + i * size:table + i * size + 16])]
    out, extended = [], None
    for entry in range(446, 510, 16):
        if data[entry + 4] in (0x05, 0x0F, 0x85):
            extended = u32(entry + 8)
        elif data[entry + 4]:
            out.append((entry, u32(entry + 8) * 512))
    ebr, seen = extended, set()
    while ebr is not None and ebr not in seen and ebr * 512 + 512 <= len(data):
        seen.add(ebr)
        logical, following = ebr * 512 + 446, ebr * 512 + 462
        if data[logical + 4]:
            out.append((logical, ebr * 512 + u32(logical + 8) * 512))
        ebr = extended + u32(following + 8) if data[following + 4] else None
    return out


def fs_targets(name: str, data: bytes, volume: int) -> List[Target]:
    """The structures of the file system at `volume` (by its own magic numbers)."""
    out = [Target("boot sector", name, volume, volume + 512)]
    boot = data[volume:volume + 512]
    sb = volume + 1024
    if data[sb + 56:sb + 58] == b"\x53\xef":                       # ext2/3/4
        block = 1024 << struct.unpack_from("<I", data, sb + 24)[0]
        first_data = struct.unpack_from("<I", data, sb + 20)[0]
        gdt = volume + (first_data + 1) * block
        inodes = volume + struct.unpack_from("<I", data, gdt + 8)[0] * block
        inode_size = struct.unpack_from("<H", data, sb + 88)[0] or 128
        root = inodes + inode_size                                  # inode 2
        out += [Target("superblock", name, sb, sb + 256),
                Target("group descriptors", name, gdt, gdt + 64),
                Target("inode table", name, inodes, inodes + 16 * inode_size)]
        if struct.unpack_from("<H", data, root + 40)[0] == 0xF30A:   # an extent tree
            start = struct.unpack_from("<I", data, root + 40 + 20)[0]
            out.append(Target("directory entries", name, volume + start * block,
                              volume + (start + 1) * block))
    elif boot[3:11] == b"NTFS    ":
        cluster = struct.unpack_from("<H", boot, 11)[0] * boot[13]
        mft = volume + struct.unpack_from("<Q", boot, 48)[0] * cluster
        out += [Target("mft", name, mft, mft + 12 * 1024),
                Target("directory entries", name, mft + 5 * 1024, mft + 6 * 1024)]
    elif boot[3:11] == b"EXFAT   ":
        out.append(Target("superblock", name, volume, volume + 12 * 512))
    elif boot[510:512] == b"\x55\xaa" and struct.unpack_from("<H", boot, 11)[0] in (512, 4096):
        bps = struct.unpack_from("<H", boot, 11)[0]
        reserved, fats = struct.unpack_from("<H", boot, 14)[0], boot[16]
        fat_size = struct.unpack_from("<H", boot, 22)[0] or struct.unpack_from("<I", boot, 36)[0]
        fat = volume + reserved * bps
        root = fat + fats * fat_size * bps
        out += [Target("fat", name, fat, fat + 4096),
                Target("directory entries", name, root, root + 2048)]
    elif data[volume + 32769:volume + 32774] == b"CD001":
        out.append(Target("volume descriptors", name, volume + 32768, volume + 32768 + 3 * 2048))
    return out


def ewf_targets(name: str, data: bytes) -> List[Target]:
    out = [Target("ewf file header", name, 0, 13)]
    at = 13
    while at + 76 <= len(data):
        kind = data[at:at + 16].rstrip(b"\0").decode("ascii", "replace")
        following, size = struct.unpack_from("<QQ", data, at + 16)
        out.append(Target("ewf section descriptor", name, at, at + 76))
        if kind in ("header", "header2", "volume", "disk", "table", "table2", "digest", "hash"):
            out.append(Target(f"ewf {kind}", name, at + 76, min(at + size, len(data))))
        elif kind == "sectors":
            out.append(Target("ewf chunk data", name, at + 76, at + size))
        if kind in ("done", "next") or following <= at:
            break
        at = following
    return out


def targets(bases: Dict[str, bytes]) -> List[Target]:
    out: List[Target] = []
    for name, data in bases.items():
        if name.endswith(".E01"):
            out += ewf_targets(name, data)
            out.append(Target("truncation", name, 13, len(data)))
            continue
        volumes = partitions(data) if data[510:512] == b"\x55\xaa" else []
        kind = "gpt entries" if data[512:520] == b"EFI PART" else "partition table"
        if data[512:520] == b"EFI PART":
            out.append(Target("gpt header", name, 512, 512 + 92))
        for table, volume in volumes:
            out.append(Target(kind, name, table, table + (128 if kind == "gpt entries" else 16)))
            if volume + 2048 <= len(data):
                out += fs_targets(name, data, volume)
        if not volumes:
            out += fs_targets(name, data, 0)
        out.append(Target("truncation", name, 512, len(data)))
    return [t for t in out if t.end <= len(bases[t.base]) and t.start < t.end]


# --- mutations ------------------------------------------------------------------------------

def mutate(data: bytes, target: Target, rng: random.Random) -> bytes:
    if target.kind == "truncation":
        return data[:rng.randrange(target.start, target.end)]
    out = bytearray(data)
    span = target.end - target.start
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(("bits", "integer", "fill", "copy"))
        at = target.start + rng.randrange(span)
        if op == "bits":
            for _ in range(rng.randint(1, 8)):
                bit = rng.randrange(span * 8)
                out[target.start + bit // 8] ^= 1 << (bit % 8)
        elif op == "integer" and at + 4 <= target.end:
            value = rng.choice(INTERESTING + (rng.getrandbits(32),))
            width = rng.choice((1, 2, 4))
            out[at:at + width] = (value & ((1 << 8 * width) - 1)).to_bytes(width, "little")
        elif op == "fill":
            length = min(rng.randint(1, 64), target.end - at)
            out[at:at + length] = bytes([rng.choice((0, 0xFF))]) * length
        else:
            length = min(rng.randint(4, 64), target.end - at)
            source = target.start + rng.randrange(max(1, span - length))
            out[at:at + length] = out[source:source + length]
    return bytes(out)


# --- running --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bases(images):
    out = {}
    for name, cut in BASES.items():
        data = (images / name).read_bytes()
        out[name] = data[:cut] if cut else data
    return out


@pytest.fixture(scope="module")
def runner():
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fuzz_runner.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)

    def run(args, folder: Path) -> dict:
        job = {"args": [str(a) for a in args], "stdout": str(folder / "stdout"),
               "stderr": str(folder / "stderr"), "memory": MEMORY, "seconds": SECONDS}
        proc.stdin.write(json.dumps(job) + "\n")
        proc.stdin.flush()
        result = json.loads(proc.stdout.readline())
        result["stdout"] = (folder / "stdout").read_bytes()
        result["stderr"] = (folder / "stderr").read_bytes().decode("utf-8", "replace")
        return result

    yield run
    proc.stdin.close()
    proc.wait(timeout=60)


def check(result: dict, command: str, seed: str) -> None:
    where = f"{command} on mutant {seed}: {result['stderr'][-400:]!r}"
    assert result["signal"] is None, f"killed by signal {result['signal']} ({where})"
    assert result["seconds"] < SECONDS and result["max_rss"] < MEMORY, where
    assert "Traceback" not in result["stderr"] and "internal error" not in result["stderr"], where
    rows = [json.loads(line) for line in result["stdout"].decode("utf-8").splitlines()
            if line.strip() and command == "files"]
    problems = sum("error" in r for r in rows) + (result["code"] == 2)
    stderr = result["stderr"].splitlines()
    if command == "files":
        assert result["code"] in (0, 2, 3), where
        assert len(stderr) <= problems, where
        assert (result["code"] == 3) == (problems > 0 and result["code"] != 2), where
    else:
        assert result["code"] in (0, 2), where
        assert len(stderr) == (result["code"] == 2), where
    if result["code"] == 2:
        assert stderr[0].startswith("triage: error: "), where


def fuzz(bases, runner, tmp_path, seed: int, kind: str = None) -> None:
    rng = random.Random(seed)
    choices = [t for t in targets(bases) if kind is None or t.kind == kind]
    target = rng.choice(choices)
    mutant = tmp_path / f"mutant-{seed}{Path(target.base).suffix}"
    mutant.write_bytes(mutate(bases[target.base], target, rng))
    label = f"{seed} ({target.kind} of {target.base})"
    check(runner(["files", mutant, "--hash", "md5", "--workers", "1", "--no-progress"], tmp_path),
          "files", label)
    check(runner(["inspect", mutant, "--no-progress"], tmp_path), "inspect", label)
    mutant.unlink()


KINDS = ["partition table", "gpt header", "gpt entries", "boot sector", "superblock",
         "group descriptors", "inode table", "directory entries", "mft", "fat",
         "volume descriptors", "ewf file header", "ewf section descriptor", "ewf volume",
         "ewf table", "ewf chunk data", "truncation"]


def test_every_kind_of_structure_is_a_target(bases):
    assert {t.kind for t in targets(bases)} >= set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_one_mutant_of_each_kind(bases, runner, tmp_path, kind):
    fuzz(bases, runner, tmp_path, 1000 + KINDS.index(kind), kind)


@pytest.mark.slow
def test_many_mutants(bases, runner, tmp_path):
    for seed in range(int(24 * slow_scale())):
        fuzz(bases, runner, tmp_path, seed)
