"""`scan --live`: the machine's block devices from /sys/block, the device triage runs from and
what is built on it left out, each device then scanned read-only. A made-up /sys and /dev
(TRIAGE_LIVE_ROOT) stand in for a machine; a loop device gives the real read."""

from __future__ import annotations

import json
import os

import pytest

from support import FIXTURES, load_truth
from triage.errors import EvidenceError
from triage.evidence import live

DEMO = FIXTURES / "demo"


def disk(root, name, dev, sectors, partitions=(), **files):
    entry = root / "sys" / "block" / name
    entry.mkdir(parents=True)
    (entry / "dev").write_text(f"{dev}\n")
    (entry / "size").write_text(f"{sectors}\n")
    for part, part_dev in partitions:
        (entry / part).mkdir()
        (entry / part / "dev").write_text(f"{part_dev}\n")
        (entry / part / "partition").write_text("1\n")
    for path, text in files.items():
        target = entry / path.replace("__", "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            target.mkdir()
        else:
            target.write_text(f"{text}\n")
    return entry


@pytest.fixture
def machine(tmp_path):
    """A laptop: an NVMe disk with a LUKS partition unlocked as /dev/mapper/cryptdata, a SATA
    disk, the USB stick triage runs from (sdb) with a mapper device over it, an empty card
    reader, a RAM disk, a detached loop, a snap's loop, and a loop over an image file."""
    root = tmp_path / "root"
    disk(root, "nvme0n1", "259:0", 1000, [("nvme0n1p1", "259:1"), ("nvme0n1p2", "259:2")])
    disk(root, "sda", "8:0", 2000, [("sda1", "8:1")])
    disk(root, "sdb", "8:16", 300, [("sdb1", "8:17")])
    disk(root, "sdc", "8:32", 0)
    crypt = disk(root, "dm-0", "253:0", 900, dm__name="cryptdata", slaves=None)
    (crypt / "slaves" / "nvme0n1p2").mkdir()
    stick_crypt = disk(root, "dm-1", "253:1", 250, dm__name="stickdata", slaves=None)
    (stick_crypt / "slaves" / "sdb1").mkdir()
    disk(root, "zram0", "252:0", 4000)
    disk(root, "loop0", "7:0", 0)
    disk(root, "loop1", "7:1", 80, loop__backing_file="/var/lib/snapd/snaps/core_1.snap")
    image = tmp_path / "image.raw"
    image.write_bytes(b"\0" * 4096)
    disk(root, "loop2", "7:2", 8, loop__backing_file=str(image))
    return root


def test_the_devices_of_the_machine_are_listed_and_the_stick_left_out(machine):
    found = live.discover(machine, own={os.makedev(8, 17)})
    dev = machine / "dev"
    assert [(d.name, d.path, d.size) for d in found.devices] == [
        ("dm-0", str(dev / "mapper" / "cryptdata"), 900 * 512),
        ("loop2", str(dev / "loop2"), 8 * 512),
        ("nvme0n1", str(dev / "nvme0n1"), 1000 * 512),
        ("sda", str(dev / "sda"), 2000 * 512)]
    assert {s.name: s.reason for s in found.skipped} == {
        "dm-1": "holds the running triage (the device it was started from)",
        "loop0": "empty (size 0)",
        "loop1": "a snap package (installed software, read-only squashfs)",
        "sdb": "holds the running triage (the device it was started from)",
        "sdc": "empty (size 0)",
        "zram0": "a RAM disk"}


def test_a_loop_over_a_file_on_the_stick_is_left_out(machine, tmp_path):
    image = tmp_path / "image.raw"
    found = live.discover(machine, own={os.stat(image).st_dev})
    # Here the image's own device is not in the made-up machine: a machine whose disk holds
    # both triage and the image.
    (machine / "sys" / "block" / "sda" / "dev").write_text(
        f"{os.major(os.stat(image).st_dev)}:{os.minor(os.stat(image).st_dev)}\n")
    found = live.discover(machine, own={os.stat(image).st_dev})
    skipped = {s.name: s.reason for s in found.skipped}
    assert skipped["sda"] == skipped["loop2"] == \
        "holds the running triage (the device it was started from)"
    assert "sdb" not in skipped and "dm-1" not in skipped


def test_an_output_folder_on_a_scanned_device_is_refused(machine, tmp_path, monkeypatch):
    number = os.stat(tmp_path).st_dev
    (machine / "sys" / "block" / "sda" / "dev").write_text(
        f"{os.major(number)}:{os.minor(number)}\n")
    monkeypatch.setenv(live.ROOT_VARIABLE, str(machine))
    monkeypatch.setattr(live, "running_from", lambda: ["/proc"])    # triage on another device
    with pytest.raises(EvidenceError, match="which --live scans, and evidence is never "
                                            "written to"):
        live.targets(tmp_path / "out")


def test_no_device_to_scan_is_one_line(tmp_path, triage):
    root = tmp_path / "root"
    disk(root, "loop0", "7:0", 0)
    run = triage("scan", "--live", "--hashset", DEMO / "demo-alert.json", "-o",
                 tmp_path / "out", env={live.ROOT_VARIABLE: str(root)})
    assert run.code == 2
    assert run.stderr == ("triage: error: --live: no block device to scan on this machine (1 "
                          "left out: loop0 empty (size 0))\n")
    run = triage("scan", "--hashset", DEMO / "demo-alert.json", "-o", tmp_path / "out")
    assert run.code == 2 and "Missing argument 'EVIDENCE...' (or --live)" in run.stderr


def test_live_scans_a_real_device_read_only(loop_device, images, tmp_path, triage):
    """The made-up machine's one disk is a real (read-only) loop device over the FAT image:
    the live scan sees every file the image holds, as a scan of the image itself does."""
    name = os.path.basename(loop_device)
    number = os.stat(loop_device).st_rdev
    root = tmp_path / "root"
    disk(root, name, f"{os.major(number)}:{os.minor(number)}",
         os.path.getsize(images / "fat16.raw") // 512, loop__backing_file="/evidence/fat16.raw")
    (root / "dev").mkdir()
    (root / "dev" / name).symlink_to(loop_device)
    out = tmp_path / "live"
    run = triage("scan", "--live", "--hashset", DEMO / "demo-known-good.txt", "-o", out,
                 env={live.ROOT_VARIABLE: str(root)})
    assert run.code == 0, run.stderr
    assert run.stderr.splitlines()[0] == (f"live: scanning {root / 'dev' / name} "
                                          f"({os.path.getsize(images / 'fat16.raw'):,} bytes)")
    report = json.loads((out / "report.json").read_text())
    assert [e["container"] for e in report["evidence"]] == ["device"]
    image_run = triage("scan", images / "fat16.raw", "--hashset", DEMO / "demo-known-good.txt",
                       "-o", tmp_path / "image", "-q")
    assert image_run.code == 0
    image_report = json.loads((tmp_path / "image" / "report.json").read_text())
    assert report["summary"]["files_seen"] == image_report["summary"]["files_seen"]
    assert report["summary"]["files_seen"] == len(load_truth("fat16.raw")["files"])
