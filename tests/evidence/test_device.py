"""A block device is opened read-only and listed like the image it holds. Needs root and a free
loop device (`losetup -r`, itself read-only); skipped where the machine has neither."""

from __future__ import annotations

import pytest

from support import load_truth


def test_device_lists_what_the_image_holds(loop_device, triage):
    run = triage("files", loop_device, "--hash", "md5,sha1,sha256")
    assert run.code == 0, run.stderr
    truth = load_truth("fat16.raw")
    assert sorted((r["path"], r["inode"], r["allocated"], r["size"], r.get("md5"))
                  for r in run.lines()) == sorted(
        (f["path"], f["inode"], f["allocated"], f["size"], f["md5"]) for f in truth["files"])
    info = triage("inspect", loop_device, "--json").json()
    assert info["container"] == "device" and info["size"] == truth["media_size"]


def test_a_device_is_read_as_a_file_and_asked_for_ahead(loop_device, images, monkeypatch):
    """On Linux a block device is read as a raw image is (its size where it ends, positioned
    reads), so what a scan will read is asked of the OS ahead on the device's descriptor."""
    import os
    from triage.evidence import media
    if not media.DEVICES_READ_AS_FILES:
        pytest.skip("devices are read by TSK here")
    opened = media.open_media(loop_device)
    try:
        assert isinstance(opened.img, media.RawImg)
        assert opened.size == (images / "fat16.raw").stat().st_size
        with open(images / "fat16.raw", "rb") as f:
            f.seek(opened.size - 4096)
            assert opened.read(opened.size - 4096, 4096) == f.read()
        asked = []
        monkeypatch.setattr(os, "posix_fadvise", lambda *args: asked.append(args))
        opened.prefetch(512, 4096)
        assert asked == [(opened.img._fd, 512, 4096, os.POSIX_FADV_WILLNEED)]
    finally:
        opened.close()
