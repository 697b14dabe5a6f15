"""Block sets: every full 4 KiB block of a reference file, less those that identify nothing."""

import random

import numpy as np
import pytest
from click.testing import CliRunner

from triage.cli import cli
from triage.hashsets import load
from triage.hashsets.build import build_set
from triage.signals.blocks import BLOCK, BlockHasher, key, probative

RANDOM = random.Random(3).randbytes(BLOCK)


@pytest.mark.parametrize("block, expected", [
    (RANDOM, True),
    (bytes(BLOCK), False),                                   # constant
    (b"\xff" * BLOCK, False),
    (bytes(range(256)) * 16, False),                         # a 256-byte pattern repeated
    (random.Random(4).randbytes(1024) * 4, False),           # random, but 1 KiB repeated
    (bytes(random.Random(5).choices(b"abcd", k=BLOCK)), False),   # 2 bits a byte
    (bytes(random.Random(6).choices(range(32, 127), k=BLOCK)), True),  # text-like, ~6.6 bits
])
def test_probative(block, expected):
    assert probative(block) is expected


def test_blocks_are_aligned_to_the_file_start_and_numbered():
    data = RANDOM + bytes(BLOCK) + RANDOM[::-1] + b"tail"
    h = BlockHasher()
    for i in range(0, len(data), 1000):          # blocks straddle the updates
        h.update(data[i:i + 1000])
    assert h.total == 3
    assert h.blocks == [(0, key(RANDOM)), (2, key(RANDOM[::-1]))]
    assert key(RANDOM)[:8] == __import__("xxhash").xxh3_64_digest(RANDOM)


def _folder(tmp_path, name, files):
    folder = tmp_path / name
    folder.mkdir()
    for n, data in files.items():
        (folder / n).write_bytes(data)
    return folder


def test_shared_and_known_good_blocks_are_dropped(tmp_path):
    rng = random.Random(9)
    common, innocent = rng.randbytes(BLOCK), rng.randbytes(BLOCK)
    own = [rng.randbytes(BLOCK) for _ in range(6)]
    # six files share `common`; every file has `innocent`, which a known-good set lists
    ref = _folder(tmp_path, "ref", {f"r{i}": common + innocent + own[i] for i in range(6)})
    good = tmp_path / "good.tset"
    build_set(_folder(tmp_path, "good", {"os.dll": innocent + rng.randbytes(BLOCK)}), good,
              names=("md5", "block"), kind="known-good")
    out = tmp_path / "ref.tset"
    with load(good) as known:
        build_set(ref, out, names=("md5", "block"), category="1", known_good_blocks=[known])
    with load(out) as hs:
        assert hs.rows("block") == 6
        entries = hs.entries("block", np.arange(6))
        assert sorted(e.value for e in entries) == sorted(key(b).hex() for b in own)
        by_value = {e.value: e for e in entries}
        e = by_value[key(own[2]).hex()]
        md5 = hs.entries("md5", hs.find("md5", [__import__("hashlib").md5(
            common + innocent + own[2]).digest()])[1])[0].value
        assert (e.id, e.size, e.name, e.category) == (f"{md5}:2", 3 * BLOCK, "r2", "1")
    # allowed to be shared by all six: `common` stays
    build_set(ref, tmp_path / "wide.tset", names=("md5", "block"), max_shared=6)
    with load(tmp_path / "wide.tset") as hs:
        # own, common and innocent (no known-good given) in each of the six files
        assert (hs.rows("block"), hs.info.signals["block"]) == (18, 6 + 1 + 1)


def test_the_cli_builds_blocks_and_info_counts_them(tmp_path):
    ref = _folder(tmp_path, "ref", {"a": RANDOM * 1 + random.Random(1).randbytes(3 * BLOCK)})
    out = tmp_path / "b.tset"
    result = CliRunner().invoke(cli, ["hashset", "build", str(ref), "-o", str(out), "--blocks",
                                      "--no-progress"], standalone_mode=False)
    assert result.return_value == 0, result.output
    assert "  block                 4             4 sized" in result.output
    check = CliRunner().invoke(cli, ["hashset", "validate", str(out)], standalone_mode=False)
    assert check.return_value == 0
