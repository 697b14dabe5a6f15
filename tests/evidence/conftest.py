"""Fixtures the evidence tests share."""

from __future__ import annotations

import shutil
import subprocess

import pytest


@pytest.fixture
def loop_device(images):
    """A read-only loop device (`losetup -r`) over the FAT16 image: needs root and a free
    loop device; skipped where the machine has neither."""
    if shutil.which("losetup") is None:
        pytest.skip("losetup is not installed")
    made = subprocess.run(["losetup", "-r", "-f", "--show", str(images / "fat16.raw")],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"no loop device here: {made.stderr.strip()}")
    device = made.stdout.strip()
    yield device
    subprocess.run(["losetup", "-d", device], check=False)
