"""triage files: listing and hashing in worker processes."""

import hashlib
import json
import os

from click.testing import CliRunner

from triage.cli import cli


def test_a_file_that_crashes_its_worker_is_an_error_line_and_the_listing_goes_on(
        tmp_path, monkeypatch):
    from triage.commands import files
    folder = tmp_path / "evidence"
    folder.mkdir()
    for i in range(100):
        (folder / f"f{i:02d}.bin").write_bytes(b"x" * (i + 1))
    os.link(folder / "f40.bin", folder / "f40.zz.bin")   # another name of the crashing file
    describe = files.describe

    def crashing(item, hashes, archives=None):
        if getattr(item, "path", "") == "/f40.bin" and hashes:
            os._exit(1)        # as a C library crashing on the content would
        return describe(item, hashes, archives)

    monkeypatch.setattr(files, "describe", crashing)
    result = CliRunner().invoke(cli, ["files", str(folder), "--hash", "md5", "--workers", "2"],
                                standalone_mode=False)
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert result.exception is None and result.return_value == 3
    by_path = {}
    for line in lines:
        by_path.setdefault(line["path"], []).append(line)
    assert len(by_path) == 101 and len(lines) == 102
    for i in range(100):
        if i != 40:
            (record,) = by_path[f"/f{i:02d}.bin"]
            assert record["md5"] == hashlib.md5(b"x" * (i + 1)).hexdigest()
    listed, error = by_path["/f40.bin"]
    assert listed["md5"] is None and listed["size"] == 41
    assert error["error"] == ("not examined: the worker process reading it died (a library "
                              "crashed on its content)")
    # its hard link is the same content, not read again (it would crash again): no digest
    (link,) = by_path["/f40.zz.bin"]
    assert link["md5"] is None and link["size"] == 41


def test_a_listed_file_is_told_no_container_by_its_probe_alone(tmp_path):
    """Listed without hashes, a file is told no container as a scan tells it: its first 4 KiB,
    ISO's marks and its last 4 KiB (12,293 bytes of 100,000), where the 64 KiB head was read;
    a zip is still read on and its member listed."""
    import io
    import zipfile
    from dataclasses import replace
    from triage import containers
    from triage.commands.files import describe
    from triage.evidence import open_evidence
    folder = tmp_path / "evidence"
    folder.mkdir()
    data = bytes(i * 7 % 251 for i in range(100_000))
    (folder / "plain.bin").write_bytes(data)
    with zipfile.ZipFile(folder / "a.zip", "w") as z:
        z.writestr("inner.txt", "member\n")
    handed = []

    class Counting(io.BytesIO):
        def read(self, size=-1):
            block = super().read(size)
            handed.append(len(block))
            return block
    with open_evidence(str(folder)) as ev:
        entries = {e.path: e for e in ev.entries()}
    records = describe(replace(entries["/plain.bin"], open=lambda: Counting(data)), (),
                       containers.Bounds())
    assert [r["path"] for r in records] == ["/plain.bin"] and sum(handed) == 12_293
    assert [r["path"] for r in describe(entries["/a.zip"], (), containers.Bounds())] == [
        "/a.zip", "/a.zip!/inner.txt"]
