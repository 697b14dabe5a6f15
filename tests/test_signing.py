"""Signed sets and signed reports: keys with a passphrase, a signature over every byte of a
set, `scan --trust` refusing what is unsigned, signed by another key or altered by one byte,
and `report verify` finding any altered, missing or unlisted output."""

from __future__ import annotations

import json
import subprocess

import pytest

from support import FIXTURES, run_triage
from triage import signing
from triage.errors import HashSetError
from triage.hashsets import store
from triage.hashsets.hashset import HashSet

DEMO = FIXTURES / "demo"
PASS = {"TRIAGE_KEY_PASSPHRASE": "field-kit-passphrase"}


def new_key(folder, name):
    run = run_triage("keys", "new", "-o", folder / name, env=PASS)
    assert run.code == 0, run.stderr
    return folder / f"{name}.key", folder / f"{name}.pub"


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kit")
    key, pub = new_key(folder, "lab")
    other_key, other_pub = new_key(folder, "other")
    compiled = folder / "alert.tset"
    assert run_triage("hashset", "import", DEMO / "demo-alert.json", "-o", compiled).code == 0
    signed = folder / "alert.signed"
    signed.write_bytes(compiled.read_bytes())
    run = run_triage("hashset", "sign", signed, "--key", key, env=PASS)
    assert run.code == 0, run.stderr
    return folder, key, pub, other_key, other_pub, compiled, signed


def test_a_new_key_is_protected_and_named_as_ssh_keygen_names_it(kit):
    folder, key, pub, *_ = kit
    assert key.stat().st_mode & 0o777 == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    who = run_triage("keys", "fingerprint", pub).stdout.strip()
    assert who == signing.fingerprint(signing.load_public(pub))
    keygen = subprocess.run(["ssh-keygen", "-lf", pub], capture_output=True, text=True)
    if keygen.returncode == 0:
        assert keygen.stdout.split()[1] == who
    with pytest.raises(Exception):
        signing.load_signer(key, "a wrong passphrase")
    assert signing.load_signer(key, PASS["TRIAGE_KEY_PASSPHRASE"]).fingerprint == who


def test_keys_are_never_replaced_and_need_a_passphrase(kit, tmp_path):
    folder, key, *_ = kit
    before = key.read_bytes()
    run = run_triage("keys", "new", "-o", folder / "lab", env=PASS)
    assert run.code == 2 and run.stderr.splitlines() == [
        f"triage: error: {key}: already exists; a key is never replaced (choose another name "
        f"or remove it)"]
    assert key.read_bytes() == before
    run = run_triage("keys", "new", "-o", tmp_path / "short", env={"TRIAGE_KEY_PASSPHRASE": "x"})
    assert run.code == 2 and "at least 8 characters" in run.stderr
    assert not list(tmp_path.iterdir())


def test_the_signer_is_shown_and_checked(kit):
    folder, key, pub, _, other_pub, compiled, signed = kit
    who = signing.fingerprint(signing.load_public(pub))
    info = run_triage("hashset", "info", signed, "--json").json()
    assert info["signer"] == who
    assert run_triage("hashset", "info", compiled, "--json").json()["signer"] is None
    assert f"signed:     by {who}" in run_triage("hashset", "info", signed).stdout
    trust = [signing.load_public(pub)]
    with HashSet(signed, trust=trust) as hs:
        assert hs.info.signer == who
    with pytest.raises(HashSetError, match="which is not a trusted key"):
        HashSet(signed, trust=[signing.load_public(other_pub)])
    with pytest.raises(HashSetError, match="not signed"):
        HashSet(compiled, trust=trust)
    # The signature is a trailer: the set without it is byte for byte the compiled one but
    # for the trailer length in the prefix.
    data, plain = signed.read_bytes(), compiled.read_bytes()
    assert len(data) == len(plain) + store.TRAILER.size
    assert data[:12] == plain[:12] and data[16:len(plain)] == plain[16:]


def test_one_changed_byte_anywhere_is_caught(kit, tmp_path):
    """Every byte of the prefix, the header and its padding, a sample of the data, and every
    byte of the signature trailer: flipped, the set is refused (never opened as sound)."""
    folder, key, pub, *_ = kit
    signed = kit[6]
    data = signed.read_bytes()
    trust = [signing.load_public(pub)]
    data_start = store._align(store.PREFIX.size + int.from_bytes(data[16:24], "little"))
    positions = sorted(set(range(0, data_start, 7)) | set(range(data_start, len(data), 997))
                       | set(range(len(data) - store.TRAILER.size, len(data))))
    bad = tmp_path / "bad.tset"
    for at in positions:
        altered = bytearray(data)
        altered[at] ^= 0x01
        bad.write_bytes(altered)
        with pytest.raises(HashSetError):
            HashSet(bad, trust=trust).close()
        with pytest.raises(HashSetError):      # altered is refused even without --trust
            HashSet(bad).close()


def test_scan_trust_refuses_unsigned_foreign_and_altered_sets(kit, tmp_path):
    folder, key, pub, _, other_pub, compiled, signed = kit
    altered = tmp_path / "altered.tset"
    data = bytearray(signed.read_bytes())
    data[len(data) // 2] ^= 0x40
    altered.write_bytes(data)
    who = signing.fingerprint(signing.load_public(pub))
    cases = [
        (compiled, pub, f"{compiled}: not signed, and --trust accepts only sets signed by a "
                        f"trusted key (`triage hashset sign`)"),
        (DEMO / "demo-alert.json", pub, f"{DEMO / 'demo-alert.json'}: not signed (a source "
                                        f"list, not a compiled set), and --trust accepts only "
                                        f"sets signed by a trusted key"),
        (signed, other_pub, f"{signed}: signed by {who}, which is not a trusted key (--trust)"),
        (altered, pub, None),
    ]
    for hs, trusted, line in cases:
        out = tmp_path / f"out-{hs.name}-{trusted.name}"
        run = run_triage("scan", DEMO / "demo.E01", "--hashset", hs, "--trust", trusted,
                         "-o", out, "-q")
        assert run.code == 2
        assert len(run.stderr.splitlines()) == 1
        if line:
            assert run.stderr == f"triage: error: {line}\n"
        else:
            assert run.stderr.startswith(f"triage: error: {altered}: ")
        assert not out.exists()
    run = run_triage("scan", DEMO / "demo.E01", "--hashset", signed, "--trust", other_pub,
                     "--trust", pub, "-o", tmp_path / "ok", "-q")
    assert run.code == 1, run.stderr
    report = json.loads((tmp_path / "ok" / "report.json").read_text())
    assert report["hashsets"][0]["signer"] == who
    assert f'signed by <code>{who}</code>' in (tmp_path / "ok" / "report.html").read_text()


def test_a_signed_report_verifies_and_every_change_is_named(kit, tmp_path):
    folder, key, pub, _, other_pub, compiled, signed = kit
    out = tmp_path / "case"
    run = run_triage("scan", DEMO / "demo.E01", "--hashset", signed, "--trust", pub,
                     "--sign", key, "-o", out, "-q", env=PASS)
    assert run.code == 1, run.stderr
    who = signing.fingerprint(signing.load_public(pub))
    sig = json.loads((out / "manifest.sig").read_text())
    assert sig["fingerprint"] == who and sig["signed"] == "manifest.json"
    run = run_triage("report", "verify", out, "--trust", pub)
    assert run.code == 0, run.stderr
    assert run.stdout == f"{out}: intact: 4 file(s) match manifest.json, signed by {who}\n"
    assert run_triage("report", "verify", out, "--trust", other_pub).code == 1
    originals = {p.name: p.read_bytes() for p in out.iterdir()}
    for name in sorted(originals):
        path = out / name
        changed = bytearray(originals[name])
        changed[len(changed) // 3] ^= 0x01
        path.write_bytes(changed)
        run = run_triage("report", "verify", out)
        if name == "manifest.json":
            # A changed manifest is either unreadable (exit 2) or no longer what was signed.
            assert run.code in (1, 2)
            if run.code == 1:
                assert f"{out}: manifest.sig: the signature does not match manifest.json" \
                    in run.stdout.splitlines()
        else:
            assert run.code == 1, (name, run.stdout)
            expected = (f"{out}: manifest.sig: damaged (not a triage manifest signature)",
                        f"{out}: manifest.sig: the signature does not match manifest.json",
                        f"{out}: {name}: altered (SHA-256 or size differs from the manifest)")
            assert any(line in expected for line in run.stdout.splitlines()), run.stdout
        path.write_bytes(originals[name])
    assert run_triage("report", "verify", out).code == 0
    # Missing, unlisted, unsigned.
    (out / "report.csv").unlink()
    (out / "report.dfxml").write_text("<x/>")
    run = run_triage("report", "verify", out)
    assert run.code == 1
    assert run.stdout.splitlines()[:2] == [f"{out}: report.csv: missing",
                                           f"{out}: report.dfxml: present but not in the manifest"]
    (out / "report.csv").write_bytes(originals["report.csv"])
    (out / "report.dfxml").unlink()
    (out / "manifest.sig").unlink()
    assert run_triage("report", "verify", out).code == 0
    run = run_triage("report", "verify", out, "--trust", pub)
    assert run.code == 1 and "manifest.sig: missing" in run.stdout


def test_verify_render_and_keys_answer_in_json(kit, tmp_path):
    """What a lab's pipeline reads: `report verify --json` (each problem by file), `report
    render --json`, `keys new --json`, `keys fingerprint --json`, `hashset sign --json`."""
    folder, key, pub, _, other_pub, compiled, signed = kit
    who = signing.fingerprint(signing.load_public(pub))
    made = json.loads(run_triage("keys", "new", "-o", tmp_path / "k", "--json",
                                 env=PASS).stdout)
    assert made == {"private": str(tmp_path / "k.key"), "public": str(tmp_path / "k.pub"),
                    "fingerprint": signing.fingerprint(signing.load_public(tmp_path / "k.pub"))}
    assert json.loads(run_triage("keys", "fingerprint", pub, "--json").stdout) == {
        "key": str(pub), "fingerprint": who}
    resigned = tmp_path / "alert.tset"
    resigned.write_bytes(compiled.read_bytes())
    run = run_triage("hashset", "sign", resigned, "--key", key, "--json", env=PASS)
    assert json.loads(run.stdout) == {"set": str(resigned), "signer": who}
    out = tmp_path / "case"
    run = run_triage("scan", DEMO / "demo.E01", "--hashset", signed, "--sign", key, "-o", out,
                     "-q", env=PASS)
    assert run.code == 1, run.stderr
    run = run_triage("report", "verify", out, "--trust", pub, "--json")
    assert run.code == 0 and json.loads(run.stdout) == {
        "outdir": str(out), "intact": True, "files_matched": 4, "signer": who, "problems": []}
    (out / "report.csv").write_text("changed\n")
    run = run_triage("report", "verify", out, "--trust", other_pub, "--json")
    assert run.code == 1 and run.stderr == ""
    assert json.loads(run.stdout) == {
        "outdir": str(out), "intact": False, "files_matched": 3, "signer": None, "problems": [
            {"file": "report.csv",
             "problem": "altered (SHA-256 or size differs from the manifest)"},
            {"file": "manifest.sig", "problem": f"signed by {who}, which is not a trusted key"}]}
    run = run_triage("report", "render", out, "--format", "json", "--json")
    assert run.code == 0, run.stderr
    assert json.loads(run.stdout) == {
        "outdir": str(out), "written": [str(out / "report.json"), str(out / "manifest.json")],
        "signature_removed": str(out / "manifest.sig")}


def test_verify_of_an_unreadable_folder_is_exit_2(tmp_path):
    run = run_triage("report", "verify", tmp_path)
    assert run.code == 2
    assert run.stderr == f"triage: error: {tmp_path / 'manifest.json'}: cannot read: No such " \
                         f"file or directory\n"
    (tmp_path / "manifest.json").write_text("{not json")
    run = run_triage("report", "verify", tmp_path)
    assert run.code == 2
    assert run.stderr == f"triage: error: {tmp_path / 'manifest.json'}: not a triage manifest\n"
    run = run_triage("report", "verify", tmp_path / "nowhere")
    assert run.code == 2
    assert run.stderr == (f"triage: error: triage report verify: Invalid value for 'OUTDIR': "
                          f"Directory '{tmp_path / 'nowhere'}' does not exist.\n")


def test_render_and_resume_re_sign_or_remove_the_stale_signature(kit, tmp_path):
    folder, key, pub, *_ = kit
    signed = kit[6]
    out = tmp_path / "case"
    assert run_triage("scan", DEMO / "demo.E01", "--hashset", signed, "--sign", key, "-o", out,
                      "-q", env=PASS).code == 1
    run = run_triage("report", "render", out, "--format", "json,html", "--sign", key, env=PASS)
    assert run.code == 0 and (out / "manifest.sig").exists()
    assert run_triage("report", "verify", out, "--trust", pub).code == 0
    run = run_triage("report", "render", out)
    assert run.code == 0
    assert run.stderr == (f"triage: note: {out / 'manifest.sig'} removed: it signed the "
                          f"manifest before this render; give --sign KEY to sign the new one\n")
    assert not (out / "manifest.sig").exists()
    assert run_triage("report", "verify", out).code == 0
    # --resume of a finished scan rewrites the reports: signed again, or the signature goes.
    assert run_triage("report", "render", out, "--sign", key, env=PASS).code == 0
    run = run_triage("scan", DEMO / "demo.E01", "--hashset", signed, "-o", out, "--resume",
                     "-q")
    assert run.code == 1
    assert run.stderr == (f"triage: note: {out / 'manifest.sig'} removed: it signed the "
                          f"manifest before this resume; give --sign KEY to sign the new one\n")
    run = run_triage("scan", DEMO / "demo.E01", "--hashset", signed, "-o", out, "--resume",
                     "--sign", key, "-q", env=PASS)
    assert run.code == 1 and run.stderr == ""
    assert run_triage("report", "verify", out, "--trust", pub).code == 0
    # --force replaces the scan, signature included.
    run = run_triage("scan", DEMO / "demo.E01", "--hashset", signed, "-o", out, "--force", "-q")
    assert run.code == 1 and not (out / "manifest.sig").exists()


def test_a_wrong_passphrase_stops_before_the_scan(kit, tmp_path):
    folder, key, *_ = kit
    out = tmp_path / "case"
    run = run_triage("scan", DEMO / "demo.E01", "--hashset", kit[6], "--sign", key, "-o", out,
                     "-q", env={"TRIAGE_KEY_PASSPHRASE": "not the passphrase"})
    assert run.code == 2
    assert run.stderr == (f"triage: error: {key}: cannot unlock the key: wrong passphrase, or "
                          f"not a key file\n")
    assert not out.exists()
