"""Ed25519 keys and signatures (through `cryptography`): who vouches for a hash set, and that
a scan's outputs are the ones the tool wrote.

Keys: `NAME.key` is the private key as PKCS#8 PEM encrypted under a passphrase (what `openssl
pkey` reads), `NAME.pub` the public key as one OpenSSH line (`ssh-ed25519 AAAA... triage`). A
key is named by its fingerprint, `SHA256:` and the unpadded base64 of the SHA-256 of its
OpenSSH blob: what `ssh-keygen -lf NAME.pub` prints, so it can be checked with a common tool.

The passphrase comes from TRIAGE_KEY_PASSPHRASE (for CI and scripts) or, failing that, is
asked on the terminal; it is never an argument (a command line is visible in /proc)."""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from pathlib import Path
from typing import Iterable, List, Optional

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import TriageError

PASSPHRASE_VARIABLE = "TRIAGE_KEY_PASSPHRASE"
MIN_PASSPHRASE = 8
KEY_SIZE = 32
SIGNATURE_SIZE = 64
MAX_KEY_FILE = 64 * 1024     # a key file is a few hundred bytes: anything far larger is not one


def fingerprint(public: bytes) -> str:
    """`SHA256:...` of a raw 32-byte public key, as ssh-keygen -l prints it."""
    blob = _ssh_string(b"ssh-ed25519") + _ssh_string(public)
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _ssh_string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def raw_public(key) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verify(public: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


class Signer:
    """A private key, unlocked: signs, and names its public key."""

    def __init__(self, key: Ed25519PrivateKey, path: Optional[Path] = None):
        self._key = key
        self.path = path
        self.public = raw_public(key.public_key())
        self.fingerprint = fingerprint(self.public)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


# -- key files --------------------------------------------------------------------------------

def new_key(name: Path, passphrase: str) -> tuple:
    """Write NAME.key (encrypted, readable by its owner only) and NAME.pub; refuse to replace
    either. Returns (private path, public path, fingerprint)."""
    name = Path(name)
    private, public = name.with_name(name.name + ".key"), name.with_name(name.name + ".pub")
    for path in (private, public):
        if path.exists() or path.is_symlink():
            raise TriageError(f"{path}: already exists; a key is never replaced (choose another "
                              f"name or remove it)")
    if len(passphrase) < MIN_PASSPHRASE:
        raise TriageError(f"{private}: the passphrase must have at least {MIN_PASSPHRASE} "
                          f"characters")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(passphrase.encode()))
    line = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH) + b" triage\n"
    try:
        # O_EXCL: never through a file or link that appeared meanwhile; 0600 from the start.
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        fd = os.open(public, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(line)
    except OSError as exc:
        raise TriageError(f"{exc.filename or private}: cannot write: "
                          f"{exc.strerror or exc}") from None
    return private, public, fingerprint(raw_public(key.public_key()))


def _read_key_file(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise TriageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_FILE:
        raise TriageError(f"{path}: not a key file (larger than {MAX_KEY_FILE} bytes)")
    return data


def load_public(path) -> bytes:
    """The raw public key of an OpenSSH line or a PEM public key; a private key file gives
    its public half only if it is not encrypted, so the .pub is what to pass."""
    path = Path(path)
    data = _read_key_file(path)
    try:
        if data.lstrip().startswith(b"ssh-"):
            key = serialization.load_ssh_public_key(data.strip().split(b"\n")[0])
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnicodeError):
        raise TriageError(f"{path}: not an Ed25519 public key (expected NAME.pub from "
                          f"`triage keys new`)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise TriageError(f"{path}: not an Ed25519 public key")
    return raw_public(key)


def load_trusted(paths: Iterable) -> List[bytes]:
    return [load_public(p) for p in paths]


def load_signer(path, passphrase: Optional[str] = None) -> Signer:
    """The private key at `path`, unlocked with `passphrase` (default: passphrase())."""
    path = Path(path)
    data = _read_key_file(path)
    if b"PRIVATE KEY" not in data:
        raise TriageError(f"{path}: not a private key (the .key file of `triage keys new`)")
    secret = passphrase if passphrase is not None else read_passphrase(path)
    try:
        key = serialization.load_pem_private_key(data, secret.encode())
    except (ValueError, TypeError):
        raise TriageError(f"{path}: cannot unlock the key: wrong passphrase, or not a key "
                          f"file") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise TriageError(f"{path}: not an Ed25519 private key")
    return Signer(key, path)


def read_passphrase(path, confirm: bool = False) -> str:
    """TRIAGE_KEY_PASSPHRASE, or the terminal; one line of error when neither is there."""
    given = os.environ.get(PASSPHRASE_VARIABLE)
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise TriageError(f"{path}: a passphrase is needed: run on a terminal or set "
                          f"{PASSPHRASE_VARIABLE}")
    import click
    return click.prompt(f"Passphrase for {path}", hide_input=True,
                        confirmation_prompt=confirm, err=True)
