"""BitLocker and FileVault: no Linux tool writes them, so unlocking has not been verified on a
real volume (README). What is tested: detection by the real libbde/libfvde (a volume with the
signature and a damaged header is named as such, never taken for NTFS), and the credential
plumbing with the library replaced by a stand-in whose volume "decrypts" to a real FAT image:
every credential tried in order, the key protectors reported while locked, the credential
type (never its value) reported once open, and the volume's files listed through it."""

from __future__ import annotations

import sys
import types

import pytest

from triage.evidence import open_evidence
from triage.evidence.access import Access, Credential

RECOVERY = "123456-123456-123456-123456-123456-123456-123456-123456"


def with_signature(images, tmp_path, at: int, signature: bytes, name: str):
    data = bytearray((images / "ntfs.raw").read_bytes())
    data[at:at + len(signature)] = signature
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("at,signature,kind", [(3, b"-FVE-FS-", "bitlocker"),
                                               (88, b"CS", "filevault")])
def test_a_damaged_header_is_named_by_the_real_library(images, tmp_path, at, signature, kind):
    path = with_signature(images, tmp_path, at, signature, f"{kind}.raw")
    if kind == "filevault":
        path.write_bytes(b"\0\0" + path.read_bytes()[2:])   # no NTFS boot sector left
    with open_evidence(str(path), Access()) as ev:
        (volume,) = ev.volumes
    assert volume.path == kind and volume.fs_type is None
    assert volume.error.startswith(f"encrypted ({kind}): cannot be opened: ")
    assert [layer["kind"] for layer in volume.layers] == [kind]


class FakeVolume:
    """A libbde volume stand-in: locked until the recovery password is given; its plaintext
    is a real FAT16 image."""

    tried: list = []

    def __init__(self, plain: bytes):
        self.plain, self.locked, self.given = plain, True, None

    def open_file_object(self, f):
        self.file = f

    def is_locked(self):
        return self.locked

    def set_password(self, value):
        self.given = ("password", value)

    def set_recovery_password(self, value):
        self.given = ("recovery_password", value)

    def read_startup_key(self, path):
        self.given = ("startup_key", path)

    def set_keys(self, fvek, tweak):
        self.given = ("key_data", fvek + tweak)

    def unlock(self):
        FakeVolume.tried.append(self.given[0])
        self.locked = self.given != ("recovery_password", RECOVERY)
        return not self.locked

    def get_identifier(self):
        return "5d2a9e1c-0000-4000-8000-00000000b17e"

    def get_description(self):
        return "DESKTOP-1 C: 01/02/2024"

    def get_encryption_method(self):
        return 0x8004

    def get_number_of_key_protectors(self):
        return 2

    def get_key_protector(self, i):
        kinds = [(0x0100, "aaaa"), (0x0800, "bbbb")]
        return types.SimpleNamespace(get_type=lambda: kinds[i][0],
                                     get_identifier=lambda: kinds[i][1])

    def get_size(self):
        return len(self.plain)

    def read_buffer_at_offset(self, size, offset):
        return self.plain[offset:offset + size]

    def close(self):
        pass


@pytest.fixture
def fake_bde(images, monkeypatch):
    plain = (images / "fat16.raw").read_bytes()
    module = types.SimpleNamespace(
        volume=lambda: FakeVolume(plain),
        check_volume_signature_file_object=lambda f: f.read(11)[3:11] == b"-FVE-FS-")
    monkeypatch.setitem(sys.modules, "pybde", module)
    FakeVolume.tried = []
    return plain


def test_a_locked_bitlocker_volume_lists_its_protectors(images, tmp_path, fake_bde):
    path = with_signature(images, tmp_path, 3, b"-FVE-FS-", "bde.raw")
    with open_evidence(str(path), Access([Credential("password", "wrong")])) as ev:
        (volume,) = ev.volumes
        assert list(ev.entries()) and all(not hasattr(e, "open") for e in ev.entries())
    (layer,) = volume.layers
    assert layer["kind"] == "bitlocker" and layer["locked"] is True
    assert layer["protectors"] == ["TPM aaaa", "recovery password bbbb"]
    assert layer["id"] == "5d2a9e1c-0000-4000-8000-00000000b17e"
    assert volume.error.startswith("encrypted (bitlocker): none of the 1 credential(s) given "
                                   "opens it; it needs its recovery password")
    assert "wrong" not in volume.error
    assert FakeVolume.tried == ["password"]


def test_each_credential_is_tried_until_one_opens_it(images, tmp_path, fake_bde):
    path = with_signature(images, tmp_path, 3, b"-FVE-FS-", "bde.raw")
    access = Access([Credential("password", "wrong"), Credential("key_data", "00" * 32),
                     Credential("recovery_password", RECOVERY)])
    with open_evidence(str(path), access) as ev:
        (volume,) = ev.volumes
        files = [e for e in ev.entries() if hasattr(e, "open")]
    assert FakeVolume.tried == ["password", "key_data", "recovery_password"]
    assert volume.fs_type == "fat16" and volume.path == "bitlocker"
    assert volume.description == "bitlocker > fat16"
    layer = volume.layers[0]
    assert (layer["locked"], layer["unlocked_with"]) == (False, "recovery_password")
    assert RECOVERY not in repr(volume.layers)
    assert len(files) == 26     # fat16.raw's files (its truth: 26), read through the layer
    # A reopen (a worker) tries only the credential that worked, remembered by position.
    FakeVolume.tried = []
    with open_evidence(str(path), access) as ev:
        assert ev.volumes[0].fs_type == "fat16"
    assert FakeVolume.tried == ["recovery_password"]
