"""A block device is opened read-only and listed like the image it holds. Needs root and a free
loop device (`losetup -r`, itself read-only); skipped where the machine has neither."""

from __future__ import annotations

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
