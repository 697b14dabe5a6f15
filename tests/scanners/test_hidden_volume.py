"""A file that looks like an encrypted container (whole 512-byte sectors, no file type, bytes
as even as random ones) gets a warning: nothing inside it can be examined without its
password."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import shutil

import pytest

from support import cipher_like, run_triage
from triage.scanners import hidden_volume

SIZE = 2 << 20


def test_only_random_looking_untyped_whole_sectors_are_flagged():
    random_head = cipher_like(hidden_volume.SAMPLE)
    assert hidden_volume.warning(random_head, SIZE) == (
        "possible encrypted container: 2,097,152 bytes of random-looking data with no file "
        "type (as a VeraCrypt or TrueCrypt volume looks); nothing inside it can be examined "
        "without its password")
    assert hidden_volume.warning(random_head, SIZE + 1) is None            # not whole sectors
    assert hidden_volume.warning(random_head, hidden_volume.MIN_SIZE - 512) is None
    assert hidden_volume.warning(bytes(hidden_volume.SAMPLE), SIZE) is None    # zeros
    text = (b"a line of plain text, as logs and documents hold\n" * 100)[:4096]
    assert hidden_volume.warning(text, SIZE) is None
    packed = gzip.compress(os.urandom(8192))[:hidden_volume.SAMPLE]   # random, but typed
    assert hidden_volume.random_looking(packed) and hidden_volume.warning(packed, SIZE) is None
    assert hidden_volume.warning(random_head[:100], SIZE) is None          # too short to tell


def test_a_scan_warns_of_it_and_its_verdict_stands(tmp_path):
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "backup.dat").write_bytes(cipher_like(SIZE))
    (ev / "odd.dat").write_bytes(os.urandom(SIZE + 100))
    (ev / "zeros.img").write_bytes(bytes(SIZE))
    sets = tmp_path / "set.md5"
    sets.write_text("0" * 32 + "  x\n")
    run = run_triage("scan", ev, "--hashset", sets, "-o", tmp_path / "out", "-q")
    assert run.code == 0, run.stderr            # a warning, not an error: the file was checked
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [(w["path"], w["reason"].split(":")[0]) for w in report["warnings"]] == [
        ("/backup.dat", "possible encrypted container")]


@pytest.mark.skipif(shutil.which("cryptsetup") is None, reason="needs cryptsetup")
def test_a_luks_container_has_a_type_and_is_not_flagged(tmp_path):
    """A LUKS file's header says what it is (triage opens it as evidence given a credential):
    libmagic names it, so it is not a nameless random file."""
    path = tmp_path / "vault.img"
    path.write_bytes(bytes(SIZE * 8))
    made = subprocess.run(["cryptsetup", "luksFormat", "-q", "--type", "luks2",
                           "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
                           str(path)], input=b"a passphrase", capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cryptsetup cannot format here: {made.stderr.decode().strip()}")
    with open(path, "rb") as f:
        assert hidden_volume.warning(f.read(hidden_volume.SAMPLE), path.stat().st_size) is None
