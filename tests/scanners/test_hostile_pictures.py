"""A real scan of a folder of hostile pictures beside a known one, run as a user runs it but
under memory and CPU limits: the known picture is found, each hostile one is a record, and
the scan ends within the limits (issue 10 #1: a 3.6 KB 1x1000 PNG cost 59 s and 2.2 GB, a
100 KB 1x30000 PNG ended the scan in `internal error: MemoryError`)."""

import json
import resource
import shutil
import subprocess
import sys

import hostile_pictures as hostile

MEMORY = 1280 << 20     # address space of the scan and of each worker: 1.25 GiB
CPU_SECONDS = 60        # each process


def limited():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def test_hostile_pictures_are_records_and_the_known_one_is_found_within_bounds(tmp_path):
    from triage.imaging import decode
    from triage.signals.perceptual import PDQ
    folder = tmp_path / "evidence"
    folder.mkdir()
    shutil.copyfile(hostile.BRIDGE, folder / "known.jpg")
    for name, data in [("strip-1x1000.png", hostile.strip_png(1, 1000)),
                       ("strip-1x30000.png", hostile.strip_png(1, 30000)),
                       ("bomb.png", hostile.png_bomb()),
                       ("tagged.tif", hostile.tiff_warning()),
                       ("samples.tif", hostile.tiff_logged_error()),
                       ("big.tif", hostile.tiff_110_megapixels())]:
        (folder / name).write_bytes(data)
    known = PDQ.compute(decode(hostile.BRIDGE.read_bytes())).value
    alert = tmp_path / "alert.csv"
    alert.write_text(f"pdq,category\n{known},1\n")
    out = tmp_path / "out"

    proc = subprocess.run([sys.executable, "-m", "triage", "scan", str(folder), "--hashset",
                           str(alert), "-o", str(out), "-q", "--workers", "2"],
                          preexec_fn=limited, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""   # no library warning, no internal error: everything is in the report
    report = json.loads((out / "report.json").read_text())
    assert report["complete"] is True
    assert [h["path"] for h in report["hits"]] == ["/known.jpg"]
    assert [(e["path"], e["reason"]) for e in report["errors"]] == [
        ("/bomb.png", "image not decoded: decompression bomb: pixel count beyond Pillow's limit"),
        ("/samples.tif", "image not decoded: image/tiff could not be identified")]
    assert [(e["path"], e["reason"]) for e in report["warnings"]] == [
        ("/samples.tif", "image library warning: PIL.TiffImagePlugin: More samples per pixel "
                         "than can be decoded: 1000"),
        ("/strip-1x1000.png",
         "no perceptual hash: 1x1000 pixels, one side over 16 times the other"),
        ("/strip-1x30000.png",
         "no perceptual hash: 1x30000 pixels, one side over 16 times the other"),
        ("/tagged.tif", "image library warning: UserWarning: Tag data larger than file. "
                        "Skipping tag 270")]
    # known.jpg, tagged.tif and big.tif (110 Mpx, within the cap) were decoded: past the
    # memory limit, big.tif would be an error record ("out of memory")
    assert report["summary"]["images_decoded"] == 3
