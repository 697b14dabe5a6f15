"""SOURCES into evidence items: files, folders of items found by content, CSV manifests; ids
that are unique folder names; bad input as one line naming the place."""

from __future__ import annotations

import os
import shutil

import pytest
from PIL import Image

from support import proc_mounted
from triage.batch.sources import resolve
from triage.errors import TriageError


@pytest.fixture
def shelf(images, tmp_path):
    """A folder of evidence as a lab receives it: an E01 set, a split raw set, raw images in
    a subfolder (one with the same name as another), and files that are no disk image."""
    root = tmp_path / "shelf"
    (root / "usb").mkdir(parents=True)
    (root / "laptop").mkdir()
    for name in ("mbr-split.E01", "mbr-split.E02", "mbr-split.E03", "mbr-split.E04",
                 "mbr-split.E05", "gpt.raw.000", "gpt.raw.001", "gpt.raw.002"):
        os.symlink(images / name, root / "laptop" / name)   # links are not followed in a walk
        shutil.copyfile(images / name, root / name)
    shutil.copyfile(images / "fat16.raw", root / "usb" / "stick.dd")
    shutil.copyfile(images / "ext4.raw", root / "usb" / "card.dd")
    (root / "usb" / "sub").mkdir()
    shutil.copyfile(images / "fat16.raw", root / "usb" / "sub" / "stick.dd")
    (root / "acquisition log.txt").write_text("ewfacquire 20140807\n")
    Image.new("RGB", (64, 48), "teal").save(root / "usb" / "photo.png")
    return root


def test_a_folder_of_items_is_found_by_content_first_segments_only(shelf):
    found = resolve([str(shelf)])
    assert [(os.path.relpath(i.path, shelf), i.evidence_id) for i in found.items] == [
        ("gpt.raw.000", "gpt.raw.000"),
        ("mbr-split.E01", "mbr-split.E01"),
        ("usb/card.dd", "card.dd"),
        ("usb/stick.dd", "stick.dd"),
        ("usb/sub/stick.dd", "stick.dd-2")]
    skipped = {os.path.relpath(s["path"], shelf): s["reason"] for s in found.skipped}
    assert sorted(skipped) == ["acquisition log.txt", "usb/photo.png"]
    assert skipped["acquisition log.txt"].startswith("no partition table or file system found")
    assert "loose picture" in skipped["usb/photo.png"]
    assert str(shelf) in found.folders


def test_a_manifest_names_items_ids_notes_and_folders(shelf, tmp_path):
    creds = tmp_path / "keys.txt"
    creds.write_text("password:secret\n")
    manifest = tmp_path / "case.csv"
    manifest.write_text(
        "Path, Evidence_ID ,notes,kind,credential_file\n"
        f"{shelf}/usb/card.dd,EX-2,\"SD card, from the camera\",,{creds}\n"
        "shelf/mbr-split.E01,,,,\n"                    # relative to the manifest's folder
        f"{shelf}/usb,EX-3,mounted,folder,\n"
        "\n"
        f"{shelf}/usb/sub,,,,\n")                       # a folder of items
    found = resolve([str(manifest)])
    got = [(i.evidence_id, os.path.relpath(i.path, shelf), i.notes, i.kind, i.credential_file,
            i.source) for i in found.items]
    assert got == [
        ("EX-2", "usb/card.dd", "SD card, from the camera", None, str(creds),
         f"{manifest}:2"),
        ("mbr-split.E01", "mbr-split.E01", None, None, None, f"{manifest}:3"),
        ("EX-3", "usb", "mounted", "folder", None, f"{manifest}:4"),
        ("stick.dd", "usb/sub/stick.dd", None, None, None, f"{manifest}:6 (folder)")]


@pytest.mark.parametrize("text, message", [
    ("path,evidence_id,colour\nx,1,red\n", ":1: unknown column 'colour'"),
    ("path,evidence_id\n{missing},A\n", ":2: {missing}: No such file or directory"),
    ("path,evidence_id\n{image},A\n{image2},a\n", ":3: evidence_id 'a' is also given at "),
    ("path,evidence_id\n{image},../up\n", ":2: evidence_id '../up' must be a plain name"),
    ("path,evidence_id\n{image},case.json\n", "is the name of one of the case's own files"),
    ("path,evidence_id\n{image},a\x1bb\n", "holds control or invisible characters"),
    ("path,kind\n{image},disk\n", ":2: kind 'disk' is not one of: folder"),
    ("path,kind\n{image},folder\n", ":2: kind folder, but "),
    ("path,evidence_id\n{folder},X\n", "is a folder of evidence items, which take their own"),
    ("path,credential_file\n{image},nokeys.txt\n", ":2: credential file "),
    ("path\n{image},extra\n", ":2: 2 fields, but the header names 1"),
    ("path,evidence_id\n,A\n", ":2: no path"),
    ("path,path\nx,y\n", ":1: a column is named twice"),
])
def test_bad_manifests_are_one_line_naming_the_line(images, tmp_path, text, message):
    manifest = tmp_path / "m.csv"
    image2 = tmp_path / "copy.raw"
    shutil.copyfile(images / "fat16.raw", image2)
    fill = {"missing": "gone.E01", "image": images / "fat16.raw", "image2": image2,
            "folder": images}
    manifest.write_text(text.format(**fill))
    with pytest.raises(TriageError) as info:
        resolve([str(manifest)])
    line = str(info.value)
    assert "\n" not in line and line.startswith(str(manifest))
    assert message.format(**fill) in line


def test_a_csv_that_is_no_manifest_is_refused_not_scanned(tmp_path):
    table = tmp_path / "hits.csv"
    table.write_text("md5,name\n00,x\n")
    with pytest.raises(TriageError, match=r"hits.csv:1: not a batch manifest"):
        resolve([str(table)])


def test_the_same_item_twice_is_refused(images, tmp_path):
    with pytest.raises(TriageError, match="given twice"):
        resolve([str(images / "fat16.raw"), str(images / "fat16.raw")])


def test_a_missing_source_names_it(tmp_path):
    with pytest.raises(TriageError, match=r"nothere.E01: No such file or directory"):
        resolve([str(tmp_path / "nothere.E01")])


def test_default_ids_avoid_given_ones_and_the_case_files(images, tmp_path):
    for name in ("case.json", "x.raw"):
        shutil.copyfile(images / "fat16.raw", tmp_path / name)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,evidence_id\n{images / 'ext4.raw'},X.RAW\n")
    found = resolve([str(tmp_path / "case.json"), str(tmp_path / "x.raw"), str(manifest)])
    assert [i.evidence_id for i in found.items] == ["case.json-2", "x.raw-2", "X.RAW"]


def test_a_kernel_state_mount_in_a_source_folder_stops_the_batch_named(tmp_path):
    """A source folder is listed as a scan lists a folder: a proc file system inside it is
    named as such. Before, the batch walked into it and stopped on whatever /proc file it could
    not open first (`p/1/fdinfo: Permission denied`)."""
    with proc_mounted(tmp_path / "p"), pytest.raises(TriageError) as caught:
        resolve([str(tmp_path)])
    assert str(caught.value) == (f"{tmp_path}/p: not walked: a proc file system (the running "
                                 f"kernel's state, not stored files)")
