"""Hostile archives are stopped by their bounds, reported as error records, and the scan goes
on to find what else is there: a zip bomb, a 42.zip-style nest, nesting past the depth bound,
an archive of many empty members (zip and tar.gz), a member slower than the time bound. Each
test prints its wall time and the scan's peak memory (the largest process's RSS)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from archive_fixtures import KNOWN, PHOTOS
from support import REPO, slow_scale

MIB = 1 << 20


def measured_scan(evidence: Path, hashset: Path, out: Path, *extra: str):
    """Run `triage scan` in a wrapper that reports the peak RSS of the scan's processes;
    returns (exit code, report, seconds, peak MiB)."""
    wrapper = ("import resource, subprocess, sys; "
               "code = subprocess.run(sys.argv[1:]).returncode; "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "triage",
                           "scan", str(evidence), "--hashset", str(hashset), "-o", str(out),
                           "-q", *extra], capture_output=True, text=True, cwd=REPO, timeout=600)
    seconds = time.monotonic() - started
    assert "internal error" not in proc.stderr, proc.stderr
    peak = int(proc.stdout.strip().splitlines()[-1]) / 1024
    report = json.loads((out / "report.json").read_text())
    return proc.returncode, report, seconds, peak


def planted(folder: Path) -> str:
    """A known photo beside the hostile archive: the scan must still find it."""
    (folder / "known.jpg").write_bytes((PHOTOS / KNOWN[0]).read_bytes())
    return "/known.jpg"


def sized_set(path: Path, *sizes: int) -> Path:
    """A set whose entries have these sizes (digests nobody has), so that members of those
    sizes are read whole, and the known photo by its MD5."""
    data = (PHOTOS / KNOWN[0]).read_bytes()
    rows = [f"{hashlib.md5(data).hexdigest()},{len(data)}"]
    rows += [f"{hashlib.md5(str(s).encode()).hexdigest()},{s}" for s in sizes]
    path.write_text("md5,size\n" + "\n".join(rows) + "\n")
    return path


def zip_bomb(path: Path, inflated: int) -> None:
    """One member of `inflated` zero bytes, deflated (about 1,000:1)."""
    block = bytes(MIB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("zeros.bin", "w", force_zip64=True) as f:
            for _ in range(inflated // MIB):
                f.write(block)


def test_a_zip_bomb_is_stopped_at_the_inflated_bound(tmp_path):
    ev = tmp_path / "ev"
    ev.mkdir()
    inflated = int(256 * MIB * slow_scale())
    zip_bomb(ev / "bomb.zip", inflated)
    known = planted(ev)
    code, report, seconds, peak = measured_scan(ev, sized_set(tmp_path / "s.csv", inflated),
                                                tmp_path / "o")
    print(f"\nzip bomb ({(ev / 'bomb.zip').stat().st_size:,} bytes -> {inflated:,}): "
          f"{seconds:.1f} s, peak {peak:.0f} MiB")
    assert code == 1
    assert [h["path"] for h in report["hits"]] == [known]
    assert [(e["path"], e["reason"]) for e in report["errors"]] == [
        ("/bomb.zip!/zeros.bin", "not examined: more than 67,108,864 bytes inflated (the "
                                 "bound for an archive of this size)")]
    assert peak < 400


def nest_42(path: Path, levels: int, copies: int) -> None:
    """42.zip's shape: `copies` copies of the level below at every level, `levels` deep, the
    bottom `copies` members of 4 MiB of zeros."""
    leaf = bytes(4 * MIB)
    data = None
    for level in range(levels):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for i in range(copies):
                if data is None:
                    z.writestr(f"{i}.bin", leaf)
                else:
                    z.writestr(f"{i}.zip", data)
        data = out.getvalue()
    path.write_bytes(data)


def test_a_42_zip_nest_is_stopped_by_the_depth_and_inflated_bounds(tmp_path):
    ev = tmp_path / "ev"
    ev.mkdir()
    nest_42(ev / "42.zip", levels=5, copies=16)
    known = planted(ev)
    code, report, seconds, peak = measured_scan(
        ev, sized_set(tmp_path / "s.csv"), tmp_path / "o")
    print(f"\n42.zip-style ({(ev / '42.zip').stat().st_size:,} bytes, 16^5 x 4 MiB = 4 TiB "
          f"inflated): {seconds:.1f} s, peak {peak:.0f} MiB, "
          f"{report['summary']['files_seen']:,} files seen")
    assert code == 1
    assert [h["path"] for h in report["hits"]] == [known]
    reasons = {e["reason"] for e in report["errors"]}
    # the depth bound refuses the fifth level wherever it is met, and the inflated bound
    # (64 MiB for an archive this small) stops the rest: a few thousand files at most
    assert reasons == {
        "archive not opened: nested deeper than 4 containers (the depth bound)",
        "not examined: more than 67,108,864 bytes inflated (the bound for an archive of "
        "this size)"}
    assert report["summary"]["files_seen"] < 16 ** 3
    assert report["summary"]["bytes_read"] < 2 * 64 * MIB
    assert peak < 400


def test_nesting_past_the_depth_bound_is_reported_once_where_it_stops(tmp_path):
    ev = tmp_path / "ev"
    ev.mkdir()
    data = (PHOTOS / KNOWN[0]).read_bytes()
    name = "known.jpg"
    for level in range(6):   # known.jpg in 6 zips, one inside the other
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr(name, data)
        data, name = out.getvalue(), f"level{level}.zip"
    (ev / name).write_bytes(data)
    code, report, _, _ = measured_scan(ev, sized_set(tmp_path / "s.csv"), tmp_path / "o")
    assert code == 3
    assert report["hits"] == []
    stop = "/level5.zip!/level4.zip!/level3.zip!/level2.zip!/level1.zip"
    assert [(e["path"], e["reason"]) for e in report["errors"]] == [
        (stop, "archive not opened: nested deeper than 4 containers (the depth bound)")]


def test_the_depth_bound_is_an_option_of_the_scan(tmp_path):
    from triage.containers import Bounds
    from triage.scan import ScanRequest, scan
    ev = tmp_path / "ev"
    ev.mkdir()
    data = (PHOTOS / KNOWN[0]).read_bytes()
    name = "known.jpg"
    for level in range(6):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as z:
            z.writestr(name, data)
        data, name = out.getvalue(), f"level{level}.zip"
    (ev / name).write_bytes(data)
    outcome = scan(ScanRequest([str(ev)], [str(sized_set(tmp_path / "s.csv"))],
                               tmp_path / "o", workers=1, bounds=Bounds(depth=6)))
    assert (outcome.summary.hits, outcome.summary.errors) == (1, 0)


def empty_members_zip(path: Path, count: int) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(count):
            z.writestr(f"e{i}", b"")


def empty_members_tgz(path: Path, count: int) -> None:
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        for i in range(count):
            tar.addfile(tarfile.TarInfo(f"e{i}"))


@pytest.mark.slow
def test_archives_of_many_empty_members_are_stopped_at_the_member_bound(tmp_path):
    """1 M empty members at TRIAGE_SLOW_SCALE=8; 125,000 by default (over the default bound of
    100,000 all the same)."""
    count = min(1_000_000, int(125_000 * slow_scale()))
    ev = tmp_path / "ev"
    ev.mkdir()
    empty_members_zip(ev / "many.zip", count)
    empty_members_tgz(ev / "many.tar.gz", count)
    known = planted(ev)
    code, report, seconds, peak = measured_scan(ev, sized_set(tmp_path / "s.csv"),
                                                tmp_path / "o")
    print(f"\n{count:,} empty members, zip and tar.gz: {seconds:.1f} s, peak {peak:.0f} MiB")
    assert code == 1
    assert [h["path"] for h in report["hits"]] == [known]
    assert sorted((e["path"], e["reason"]) for e in report["errors"]) == [
        ("/many.tar.gz", "archive not examined after 100,000 members: more than 100,000 "
                         "members (the member bound)"),
        ("/many.zip", f"archive not examined at its start: its directory lists {count:,} "
                      f"members, more than the member bound of 100,000")]
    assert report["summary"]["files_seen"] == 3 + 100_000
    assert peak < 600


def test_a_member_over_the_time_bound_is_an_error_and_the_rest_goes_on(tmp_path):
    from triage.containers import Bounds
    from triage.scan import ScanRequest, scan
    ev = tmp_path / "ev"
    ev.mkdir()
    with zipfile.ZipFile(ev / "slow.zip", "w") as z:
        z.writestr("a.bin", b"a" * 5000)
        z.writestr("b.bin", b"b" * 5000)
    known = planted(ev)
    # a negative time bound: every member is over it at its first read, deterministically
    outcome = scan(ScanRequest([str(ev)], [str(sized_set(tmp_path / "s.csv"))],
                               tmp_path / "o", workers=1, bounds=Bounds(member_seconds=-1)))
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert [h["path"] for h in report["hits"]] == [known]
    assert [(e["path"], e["reason"]) for e in report["errors"]] == [
        (f"/slow.zip!/{m}", "not examined: a member took longer than -1 s to read")
        for m in ("a.bin", "b.bin")]
    assert outcome.exit_code == 1


def test_a_zip_that_contains_itself_is_reported_once_and_the_scan_goes_on(tmp_path):
    """A real quine: r.zip whose one member r.zip inflates to the file itself, byte for byte
    (tests/quine_zip.py, Russ Cox's construction). unzip, 7z and zipfile read it as a valid
    archive holding itself; triage opens it once, refuses the member as one of its own
    containers, and finds the known photo beside it."""
    import quine_zip
    data = quine_zip.quine()
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "r.zip").write_bytes(data)
    listed = subprocess.run(["unzip", "-l", str(ev / "r.zip")], capture_output=True, text=True,
                            check=True).stdout
    assert f"{len(data)}  1980-01-01 00:00   r.zip" in listed and "1 file" in listed
    assert subprocess.run(["unzip", "-p", str(ev / "r.zip"), "r.zip"], capture_output=True,
                          check=True).stdout == data
    tested = subprocess.run(["7z", "t", str(ev / "r.zip")], capture_output=True, text=True)
    assert tested.returncode == 0 and "Everything is Ok" in tested.stdout
    with zipfile.ZipFile(ev / "r.zip") as z:
        assert z.namelist() == ["r.zip"] and z.read("r.zip") == data
    known = planted(ev)
    code, report, seconds, peak = measured_scan(ev, sized_set(tmp_path / "s.csv", len(data)),
                                                tmp_path / "o")
    print(f"\nquine r.zip ({len(data)} bytes, holding itself): {seconds:.1f} s, "
          f"peak {peak:.0f} MiB")
    assert code == 1
    assert [h["path"] for h in report["hits"]] == [known]
    assert [(e["path"], e["reason"]) for e in report["errors"]] == [
        ("/r.zip!/r.zip", "archive not opened: it contains itself (it is one of its "
                          "containers)")]
    assert report["summary"]["files_seen"] == 3   # r.zip, its member, the photo
    assert peak < 400


def test_a_container_that_contains_itself_is_not_opened_again():
    """Refusal by identity among the containers it is in; the depth bound would stop a quine
    in any case."""
    from triage.containers import Bounds, refusal
    bounds = Bounds()
    assert refusal(bounds, "a" * 32, ()) is None
    assert refusal(bounds, "a" * 32, ("b" * 32, "a" * 32)) == (
        "archive not opened: it contains itself (it is one of its containers)")
    assert refusal(bounds, "c" * 32, ("1", "2", "3", "4")) == (
        "archive not opened: nested deeper than 4 containers (the depth bound)")
