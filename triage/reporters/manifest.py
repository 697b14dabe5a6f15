"""manifest.json: every output file of a scan with its size and SHA-256, so a reader can tell
that the reports handed over are the ones the tool wrote; manifest.sig (with `--sign KEY`):
an Ed25519 signature of manifest.json's exact bytes, so they can tell who vouches for it.

manifest.sig is JSON: the signed file's name, the signer's public key (base64, raw 32 bytes)
and fingerprint, and the signature (base64, 64 bytes). The signature is over manifest.json
itself, nothing added, so `openssl pkeyutl -verify -rawin` can check it too (docs/fieldkit.md).

`check` re-hashes every listed output against the manifest and checks the signature: what
`triage report verify` reports."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from .. import TOOL_NAME, __version__
from ..atomic import write_all
from ..errors import TriageError
from ..jsonout import dumps

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNATURE_FORMAT = "triage-manifest-signature"
MAX_MANIFEST = 16 << 20      # a manifest lists a handful of files: anything larger is not one


def write_manifest(outdir: Path, outputs: List[Path], signer=None) -> List[Path]:
    """Write manifest.json (and, given a signer, manifest.sig) together; without a signer a
    manifest.sig left by an earlier run is removed, as it no longer matches. Returns the files
    written."""
    files = []
    for path in sorted(outputs, key=lambda p: p.name):
        files.append({"name": path.name, "size": path.stat().st_size,
                      "sha256": _sha256(path)})
    manifest = {"format": "triage-manifest", "tool": {"name": TOOL_NAME, "version": __version__},
                "files": files}
    body = (dumps(manifest, indent=2) + "\n").encode("utf-8")
    written = {Path(outdir) / MANIFEST: body}
    if signer is not None:
        written[Path(outdir) / SIGNATURE] = signature_file(body, signer)
    write_all(written)
    if signer is None:
        (Path(outdir) / SIGNATURE).unlink(missing_ok=True)
    return list(written)


def signature_file(body: bytes, signer) -> bytes:
    return (dumps({"format": SIGNATURE_FORMAT, "signed": MANIFEST,
                   "key": base64.b64encode(signer.public).decode(),
                   "fingerprint": signer.fingerprint,
                   "signature": base64.b64encode(signer.sign(body)).decode()}, indent=2)
            + "\n").encode("utf-8")


def stale_signature(outdir: Path, signer) -> Optional[Path]:
    """The manifest.sig that writing the manifest without a signer will remove, if any."""
    path = Path(outdir) / SIGNATURE
    return path if signer is None and (path.exists() or path.is_symlink()) else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Check:
    files: int = 0                                   # listed outputs that matched
    # (file, what is wrong with it): an output altered, missing or unlisted, or the signature
    altered: List[Tuple[str, str]] = field(default_factory=list)
    signer: Optional[str] = None                     # the fingerprint, when the signature holds

    @property
    def intact(self) -> bool:
        return not self.altered


def check(outdir: Path, trust: Optional[Sequence[bytes]] = None,
          outputs: Sequence[str] = ()) -> Check:
    """Every file manifest.json lists, re-hashed; manifest.sig checked; files named like an
    output (`outputs`) that the manifest does not list are reported too. `trust`: public keys
    one of which must have signed the manifest. Raises TriageError when the manifest cannot
    be read at all (exit 2)."""
    outdir = Path(outdir)
    body, listed = _read_manifest(outdir / MANIFEST)
    result = Check()
    names = set()
    for entry in listed:
        name = entry["name"]
        names.add(name)
        path = outdir / name
        if not path.is_file() or path.is_symlink():
            result.altered.append((name, "missing"))
            continue
        try:
            size, digest = path.stat().st_size, _sha256(path)
        except OSError as exc:
            raise TriageError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if digest != entry["sha256"] or size != entry["size"]:
            result.altered.append((name, "altered (SHA-256 or size differs from the manifest)"))
        else:
            result.files += 1
    for name in sorted(set(outputs) - names - {MANIFEST, SIGNATURE}):
        if (outdir / name).exists():
            result.altered.append((name, "present but not in the manifest"))
    _check_signature(outdir / SIGNATURE, body, trust, result)
    return result


def _read_manifest(path: Path):
    try:
        with open(path, "rb") as f:
            body = f.read(MAX_MANIFEST + 1)
    except OSError as exc:
        raise TriageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        if len(body) > MAX_MANIFEST:
            raise ValueError
        manifest = json.loads(body)
        listed = manifest["files"]
        if manifest.get("format") != "triage-manifest" or not isinstance(listed, list):
            raise ValueError
        for entry in listed:
            name = entry["name"]
            if not (isinstance(name, str) and name and "/" not in name and name not in (".", "..")
                    and type(entry["size"]) is int and isinstance(entry["sha256"], str)):
                raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        raise TriageError(f"{path}: not a triage manifest") from None
    return body, listed


def _check_signature(path: Path, body: bytes, trust, result: Check) -> None:
    from .. import signing   # `cryptography` is loaded only to check a signature
    if not (path.exists() or path.is_symlink()):
        if trust is not None:
            result.altered.append((SIGNATURE, "missing: the manifest is not signed, and "
                                   "--trust asks for a signature by a trusted key"))
        return
    try:
        with open(path, "rb") as f:
            sig = json.loads(f.read(64 * 1024))
        public = base64.b64decode(sig["key"], validate=True)
        signature = base64.b64decode(sig["signature"], validate=True)
        if sig.get("format") != SIGNATURE_FORMAT or len(public) != signing.KEY_SIZE:
            raise ValueError
    except OSError as exc:
        raise TriageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError,
            RecursionError):
        result.altered.append((SIGNATURE, "damaged (not a triage manifest signature)"))
        return
    who = signing.fingerprint(public)
    if not signing.verify(public, signature, body):
        result.altered.append((SIGNATURE, f"the signature does not match {MANIFEST}"))
    elif trust is not None and public not in trust:
        result.altered.append((SIGNATURE, f"signed by {who}, which is not a trusted key"))
    else:
        result.signer = who
