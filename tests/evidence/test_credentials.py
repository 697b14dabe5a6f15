"""Encrypted volumes and credentials: a locked volume is reported (kind, id, protectors), the
scan exits 3 and says in plain words what was not examined and what to supply; a wrong
credential is one line naming the volume; credentials never reach a report, the results
database, an error, the resume identity or a printed command."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import jsonschema

from support import FIXTURES, REPO, build_script
from triage.evidence import open_evidence
from triage.evidence.access import Access, Credential, parse_credential
from triage.errors import TriageError

PASSWORD = "triage-TEST"
SCHEMA = json.loads((REPO / "triage" / "schemas" / "report.schema.json").read_text("utf-8"))


def known_md5() -> str:
    return hashlib.md5(build_script().KNOWN).hexdigest()


def alert_set(tmp_path: Path) -> Path:
    path = tmp_path / "alert.txt"
    path.write_text(f"{known_md5()}  known.bin\n")
    return path


def every_file_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*")
                     if p.is_file())


def test_a_locked_volume_is_reported_and_the_scan_says_what_to_supply(images, triage,
                                                                       tmp_path):
    out = tmp_path / "o"
    run = triage("scan", images / "luks2-lvm.raw", "--hashset", alert_set(tmp_path), "-o", out)
    assert run.code == 3, run.stdout + run.stderr
    assert "NOT examined" in run.stdout and "--credential" in run.stdout
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    (volume,) = report["evidence"][0]["volumes"]
    layer = volume["layers"][-1]
    assert (layer["kind"], layer["locked"]) == ("luks2", True)
    assert layer["uuid"] and layer["protectors"] == ["keyslot 0 (argon2id)"]
    assert volume["fs_type"] is None and volume["path"] == "p4/luks2"
    assert "needs a credential" in volume["error"]
    html = (out / "report.html").read_text()
    assert "NOT examined" in html


def test_hits_inside_luks_lvm_apfs_and_virtual_disks(images, triage, tmp_path):
    """One scan over the layered fixtures finds each planted file where it lies."""
    apfs_truth = json.loads((FIXTURES / "truth/layers/apfs.raw.json").read_text())
    apfs_file = next(f for f in apfs_truth["dfvfs"]["file_systems"][0]["files"]
                     if f["path"] == "/passwords.txt")
    child_truth = json.loads((FIXTURES / "truth/layers/ext4-child.qcow2.json").read_text())
    added = next(f for f in child_truth["tsk"][0]["files"] if f["path"] == "/added-in-child.bin")
    ext4_truth = json.loads((FIXTURES / "truth/ext4.raw.json").read_text())
    big = max(ext4_truth["files"], key=lambda f: f["size"] if f["allocated"] else 0)
    alert = tmp_path / "alert.txt"
    alert.write_text(f"{known_md5()}  known\n{apfs_file['md5']}  apfs\n{added['md5']}  child\n"
                     f"{big['md5']}  big\n")
    evidence = ["luks1.raw", "luks2-lvm.raw", "lvm.raw", "apfs.raw", "ext4.vmdk",
                "ext4-child.qcow2"]
    out = tmp_path / "o"
    run = triage("scan", *[images / e for e in evidence], "--hashset", alert, "-o", out,
                 "--credential", "password:wrong-one", "--credential", f"password:{PASSWORD}")
    assert run.code == 1, run.stdout + run.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    paths = {ev["path"]: {v["index"]: v for v in ev["volumes"]} for ev in report["evidence"]}
    found = sorted((Path(h["evidence"]).name, (h["volume"] or {}).get("path"), h["path"])
                   for h in report["hits"])
    assert found == sorted([
        ("apfs.raw", "apfs:apfs_test", "/passwords.txt"),
        ("ext4-child.qcow2", None, "/added-in-child.bin"),
        ("ext4-child.qcow2", None, big["path"]),
        ("ext4.vmdk", None, big["path"]),
        ("luks1.raw", "luks1", "/known.bin"),
        ("luks2-lvm.raw", "p4/luks2/lvm:vg_luks/root", "/home/user/known.bin"),
        ("lvm.raw", "p2/lvm:vg_triage/home", "/user/known.bin"),
    ])
    luks = paths[str(images / "luks1.raw")][0]["layers"][0]
    assert (luks["kind"], luks["unlocked_with"], luks["locked"]) == ("luks1", "password", False)
    # the password is nowhere in what the scan wrote
    assert PASSWORD not in every_file_text(out)
    assert "wrong-one" not in every_file_text(out)


def test_a_wrong_credential_is_one_line_naming_the_volume(images, triage):
    run = triage("files", images / "luks1.raw", "--credential", "password:not-it")
    assert run.code == 3
    (error,) = [r for r in run.lines() if "error" in r]
    assert "none of the 1 credential(s) given opens it" in error["error"]
    assert "not-it" not in run.stdout + run.stderr
    assert "luks1" in error["error"] and error["volume"]["path"] == "luks1"
    assert len([l for l in run.stderr.splitlines() if l.startswith("triage: warning")]) == 1


def test_the_password_can_be_asked_and_read_from_a_file(images, tmp_path):
    truth = json.loads((FIXTURES / "truth/layers/luks1.raw.json").read_text())
    want = sorted(f["md5"] for f in truth["tsk"][0]["files"] if f["allocated"])
    asked = subprocess.run([sys.executable, "-m", "triage", "files", str(images / "luks1.raw"),
                            "--hash", "md5", "--no-deleted", "--credential", "password:-"],
                           input=PASSWORD + "\n", capture_output=True, text=True)
    assert asked.returncode == 0, asked.stderr
    assert sorted(json.loads(l)["md5"] for l in asked.stdout.splitlines()) == want
    creds = tmp_path / "creds"
    creds.write_text(f"# fixture\n\npassword:nope\npassword:{PASSWORD}\n")
    from_file = subprocess.run([sys.executable, "-m", "triage", "files",
                                str(images / "luks1.raw"), "--hash", "md5", "--no-deleted",
                                "--credential-file", str(creds)], capture_output=True, text=True)
    assert from_file.returncode == 0, from_file.stderr
    assert sorted(json.loads(l)["md5"] for l in from_file.stdout.splitlines()) == want


def test_a_bad_credential_line_is_named_by_number_never_quoted(tmp_path, triage, images):
    creds = tmp_path / "creds"
    creds.write_text("password:fine\nsecret-without-type\n")
    run = triage("files", images / "luks1.raw", "--credential-file", creds)
    assert run.code == 2
    assert f"{creds}:2:" in run.stderr and "secret-without-type" not in run.stderr
    run = triage("files", images / "luks1.raw", "--credential", "pin:1234")
    assert run.code == 2 and "1234" not in run.stderr


def test_credentials_stay_out_of_the_database_the_identity_and_the_resume_command(
        images, triage, tmp_path):
    out = tmp_path / "o"
    run = triage("scan", images / "luks1.raw", "--hashset", alert_set(tmp_path), "-o", out,
                 "--credential", f"password:{PASSWORD}")
    assert run.code == 1
    with sqlite3.connect(out / "results.sqlite") as conn:
        dump = "\n".join(conn.iterdump())
    assert PASSWORD not in dump
    identity = json.loads(dict(sqlite3.connect(out / "results.sqlite").execute(
        "SELECT key, value FROM scan").fetchall())["identity"])
    assert PASSWORD not in json.dumps(identity)
    # The same evidence with another credential is the same scan to resume.
    again = triage("scan", images / "luks1.raw", "--hashset", alert_set(tmp_path), "-o", out,
                   "--resume", "--credential", "password:other")
    assert "differs" not in again.stderr


def test_resume_command_masks_credentials():
    import click
    from triage.commands.options import replay
    ctx = click.Context(click.Command("scan"), obj={"argv": [
        "scan", "x.raw", "--credential", "password:s3cret", "--credential=key_data:00ff",
        "--credential", "startup_key:/media/usb/KEY.BEK"]})
    ctx.info_name = "scan"
    args = replay(ctx)
    assert "s3cret" not in " ".join(args) and "00ff" not in " ".join(args)
    assert args[args.index("x.raw"):] == ["x.raw", "--credential", "password:-", "--credential=key_data:-",
                                          "--credential", "startup_key:/media/usb/KEY.BEK"]


def test_credentials_never_pickle_or_show():
    credential = parse_credential(f"password:{PASSWORD}")
    access = Access([credential])
    assert PASSWORD not in repr(credential) + repr(access)
    import pickle
    for thing in (credential, access):
        with pytest.raises(TypeError):
            pickle.dumps(thing)
    with pytest.raises(TriageError):
        parse_credential("key_data:xyz")


def test_workers_read_through_the_remembered_key(images):
    """A forked worker reopens the evidence with the parent's Access: the LUKS key is found in
    memory, not derived again (no credential at all is needed the second time)."""
    access = Access([Credential("password", PASSWORD)])
    path = str(images / "luks1.raw")
    with open_evidence(path, access) as ev:
        first = [v.fs_type for v in ev.volumes]
    access.credentials = ()          # what a reopen has left: what was learnt
    with open_evidence(path, access) as ev:
        assert [v.fs_type for v in ev.volumes] == first == ["ext4"]


def test_the_process_title_never_shows_a_credential(images, tmp_path):
    """What `ps` shows of a running scan (its workers included) has the value masked."""
    import os
    import time
    proc = subprocess.Popen([sys.executable, "-m", "triage", "scan", str(images / "luks1.raw"),
                             "--hashset", str(alert_set(tmp_path)), "-o", str(tmp_path / "o"),
                             "--credential", f"password:{PASSWORD}", "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = []
    try:
        deadline = time.time() + 30
        while proc.poll() is None and time.time() < deadline:
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"luks1.raw" in cmdline:
                    seen.append(cmdline)
            time.sleep(0.05)
    finally:
        proc.wait(timeout=60)
    titled = [c for c in seen if b"password:-" in c]
    assert titled, "the scan ended before its title was seen"
    leaked = [c for c in seen if PASSWORD.encode() in c]
    # only the first instants of the process, before its options are read, may show it
    assert len(leaked) < len(seen)
    assert all(PASSWORD.encode() not in c for c in seen[seen.index(titled[0]):])
