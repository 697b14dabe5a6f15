"""What the examiner supplies to open evidence beyond its path, and what was learnt with it.

Credentials for encrypted volumes (`--credential TYPE:VALUE`, `--credential-file`), the
parent of a differential virtual disk (`--parent`), and whether volume shadow copies are read
(`--vss`). An `Access` also remembers, per encrypted
volume, which credential opened it (by its position, never its value) and, for LUKS, the
volume key: a worker process forked from the scan reopens the evidence with the same `Access`
in its memory and does not run the key derivation again (Argon2id takes a second and up to a
GiB of memory per try).

Held in memory only: an `Access` and its credentials refuse to be pickled, their repr hides
values, and nothing here is written to a report, the results database or an error."""

from __future__ import annotations

import os
import string
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

from ..errors import TriageError

# As plaso and dfVFS spell them.
CREDENTIAL_TYPES = {
    "password": "a password or passphrase",
    "recovery_password": "a BitLocker recovery password (48 digits) or FileVault recovery key",
    "startup_key": "a BitLocker startup key file (.BEK)",
    "key_data": "a volume key in hex (LUKS master key; BitLocker FVEK or FileVault volume key)",
}
ASK = "-"   # `password:-`: asked on the terminal without echo


class Credential:
    """One credential: its type and value (for startup_key, the path of the .BEK file)."""

    __slots__ = ("type", "_value")

    def __init__(self, type: str, value: str):
        self.type, self._value = type, value

    @property
    def value(self) -> str:
        return self._value

    def key_bytes(self) -> bytes:
        """key_data as bytes (checked to be hex when parsed)."""
        return bytes.fromhex(self._value)

    def __repr__(self) -> str:
        return f"Credential({self.type}:<hidden>)"

    def __reduce__(self):
        raise TypeError("a credential is never pickled")


def parse_credential(text: str, ask=None, where: str = "--credential") -> Credential:
    """`TYPE:VALUE` as given on the command line or a line of a credential file. `ask(type)`
    reads a value given as `-`. TriageError names `where`, never the value."""
    kind, colon, value = text.partition(":")
    kind = kind.strip().lower()
    if not colon or kind not in CREDENTIAL_TYPES:
        raise TriageError(f"{where}: a credential is TYPE:VALUE with TYPE one of "
                          f"{', '.join(CREDENTIAL_TYPES)}")
    if value == ASK:
        if ask is None:
            raise TriageError(f"{where}: {kind}:- asks on the terminal, which is not possible "
                              f"here")
        value = ask(kind)
    if not value:
        raise TriageError(f"{where}: the {kind} is empty")
    if kind == "key_data":
        value = value.strip()
        if len(value) % 2 or not value or any(c not in string.hexdigits for c in value):
            raise TriageError(f"{where}: key_data must be hexadecimal digits, two per byte")
    elif kind == "startup_key":
        if not os.path.isfile(value):
            raise TriageError(f"{value}: startup key file not found")
    elif kind == "recovery_password":
        value = value.strip()
    return Credential(kind, value)


def read_credential_file(path: str, ask=None) -> List[Credential]:
    """One `TYPE:VALUE` a line; blank lines and lines starting with `#` are skipped. A bad
    line is named by its number, never quoted."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise TriageError(f"{path}: cannot read the credential file: "
                          f"{getattr(exc, 'strerror', None) or type(exc).__name__}") from None
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        out.append(parse_credential(line.rstrip("\r"), ask, where=f"{path}:{number}"))
    return out


@dataclass
class Unlocked:
    """How an encrypted volume was opened: the credential's position and type, and for a
    volume this package decrypts itself (LUKS) the volume key."""

    credential: Optional[int]            # position in Access.credentials; None: none worked
    type: Optional[str] = None
    key: Optional[bytes] = field(default=None, repr=False)


class Access:
    """Credentials and a parent path for opening evidence, and what they opened."""

    def __init__(self, credentials: Sequence[Credential] = (), parent: Optional[str] = None,
                 snapshots: bool = False):
        self.credentials: Tuple[Credential, ...] = tuple(credentials)
        self.parent = parent
        self.snapshots = snapshots      # --vss: NTFS volume shadow copies as volumes
        self._unlocked: Dict[Tuple[str, str], Unlocked] = {}

    def known(self, evidence: str, volume: str) -> Optional[Unlocked]:
        """What an earlier open in this process (or the process it was forked from) learnt
        about the encrypted volume at `volume` (its path) of `evidence`."""
        return self._unlocked.get((os.path.realpath(evidence), volume))

    def learn(self, evidence: str, volume: str, outcome: Unlocked) -> None:
        self._unlocked[(os.path.realpath(evidence), volume)] = outcome

    def install(self) -> "Access":
        """Make this the process's access for every evidence opened without one (worker
        processes forked later inherit it with the rest of the memory)."""
        global _installed
        _installed = self
        return self

    def __repr__(self) -> str:
        return f"Access({len(self.credentials)} credential(s), parent={self.parent!r})"

    def __reduce__(self):
        raise TypeError("credentials are never pickled")


# The process's Access, set by install() (the commands do it once their options are read): a
# reference to the explicit object, as reopen.installed() is.
_installed: Optional[Access] = None


def installed() -> Access:
    return _installed if _installed is not None else Access()


@contextmanager
def installing(access: Access) -> Iterator[Access]:
    """`access` installed for the time of a block, the previous one restored after it (a
    triage batch task: one item's credential file, then nothing of it left in the worker)."""
    global _installed
    before = _installed
    _installed = access
    try:
        yield access
    finally:
        _installed = before
