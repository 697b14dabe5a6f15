"""Encrypted volumes as layers: LUKS1/LUKS2 (luks.py), BitLocker and BitLocker To Go
(libbde), FileVault 2 / CoreStorage (libfvde). APFS's own encryption is a property of its
volumes (pools.py).

Every credential of the Access is tried on every encrypted volume, in the order given. A
volume none opens is kept as a volume that cannot be read, with its kind, identifier and key
protectors (as far as its header lists them) and what would open it; the error never holds a
credential. What opened a volume (the credential's position, and for LUKS the volume key) is
remembered in the Access, so a worker process reopening the evidence does not derive keys
again."""

from __future__ import annotations

from typing import List, Optional, Tuple

from .access import Access, Credential, Unlocked
from .chain import LIB_ERRORS, Layer, Link, Place, lib_reason
from .sources import BytesSource, FileObject, LibyalSource, Source


LUKS_MAGIC = b"LUKS\xba\xbe"


def needs(kind: str, what: str, given: int) -> str:
    """The error of a volume no credential opened: what it is and what would open it."""
    if given:
        return (f"encrypted ({kind}): none of the {given} credential(s) given opens it; "
                f"it needs {what}")
    return f"encrypted ({kind}): needs a credential: {what} (--credential TYPE:VALUE)"


def _locked(explorer, source: Source, place: Place, link: Link, what: str) -> None:
    link.facts["locked"] = True
    explorer.add(place.deeper(link), source, fs=None,
                 error=needs(link.label, what, len(explorer.access.credentials)))


def _unlocked_by(link: Link, credential: Optional[Credential]) -> None:
    link.facts["locked"] = False
    link.facts["unlocked_with"] = None if credential is None else credential.type


class Luks(Layer):
    name, library = "luks", "triage (cryptography)"

    def open(self, explorer, source, head, place):
        if head[:6] != LUKS_MAGIC:
            return False
        from . import luks     # numpy and cryptography: loaded only for a LUKS volume
        read = source.read
        try:
            header = luks.read_header(read)
        except luks.LuksError as exc:
            kind = f"luks{head[7]}"
            explorer.add(place.deeper(Link(kind, kind, kind, {"locked": True})), source,
                         fs=None, error=f"encrypted ({kind}): the header cannot be read: {exc}")
            return True
        kind = f"luks{header.version}"
        link = Link(kind, kind, kind, {
            "uuid": header.uuid, "cipher": header.encryption,
            "protectors": [f"keyslot {s.number} ({s.kdf.get('type')})" for s in header.keyslots]})
        if header.label:
            link.facts["label"] = header.label
        access, evidence, key_path = explorer.access, explorer.evidence, place.path(link)
        known = access.known(evidence, key_path)
        try:
            if known is None:
                known = _luks_unlock(header, access, read)
                access.learn(evidence, key_path, known)
        except luks.LuksError as exc:
            link.facts["locked"] = True
            explorer.add(place.deeper(link), source, fs=None,
                         error=f"encrypted ({kind}): cannot be opened: {exc}")
            return True
        if known.key is None:
            _locked(explorer, source, place, link,
                    "a password (password:- asks for it) or its volume key (key_data:HEX)")
            return True
        try:
            volume = luks.LuksVolume(header, known.key, read, source.size)
        except luks.LuksError as exc:
            explorer.add(place.deeper(link), source, fs=None,
                         error=f"encrypted ({kind}): cannot be read: {exc}")
            return True
        link.facts["locked"] = False
        link.facts["unlocked_with"] = known.type
        explorer.explore(BytesSource(volume.read, volume.size), place.deeper(link))
        return True


def _luks_unlock(header, access: Access, read) -> Unlocked:
    from . import luks
    for number, credential in enumerate(access.credentials):
        if credential.type == "password":
            key = luks.unlock(header, credential.value.encode("utf-8"), read)
        elif credential.type == "key_data":
            candidate = credential.key_bytes()
            key = candidate if luks.check_key(header, candidate) else None
        else:
            continue
        if key is not None:
            return Unlocked(number, credential.type, key)
    return Unlocked(None)


# --- libbde and libfvde ----------------------------------------------------------------------

BDE_PROTECTORS = {
    0x0000: "clear key", 0x0100: "TPM", 0x0200: "startup key", 0x0500: "TPM and PIN",
    0x0800: "recovery password", 0x2000: "password",
}


class Libyal(Layer):
    """An encrypted volume a libyal library reads (BitLocker, FileVault 2): opened, then each
    credential the library knows tried with `unlock()`."""

    module = ""
    kind = ""
    accepts: Tuple[str, ...] = ()
    what = ""

    def _lib(self):
        return __import__(self.module)

    def recognises(self, source: Source) -> bool:
        return bool(self._lib().check_volume_signature_file_object(FileObject(source)))

    def open(self, explorer, source, head, place):
        if not self.quick(head):
            return False
        try:
            if not self.recognises(source):
                return False
        except LIB_ERRORS:
            return False
        volume = self._lib().volume()
        link = Link(self.kind, self.kind, self.kind, {})
        try:
            fileobj = FileObject(source)
            self.attach(volume, fileobj)
            link.facts.update(self.facts(volume))
        except LIB_ERRORS as exc:
            explorer.add(place.deeper(link), source, fs=None,
                         error=f"encrypted ({self.kind}): cannot be opened: {lib_reason(exc)}")
            return True
        access, evidence, key_path = explorer.access, explorer.evidence, place.path(link)
        known = access.known(evidence, key_path)
        order = range(len(access.credentials)) if known is None else (
            [] if known.credential is None else [known.credential])
        used = None
        if not volume.is_locked():
            used = -1
        else:
            for number in order:
                credential = access.credentials[number]
                if credential.type in self.accepts and self.try_one(volume, credential):
                    used = number
                    break
        if known is None:
            access.learn(evidence, key_path, Unlocked(
                None if used is None or used < 0 else used,
                None if used is None or used < 0 else access.credentials[used].type))
        if used is None:
            explorer.keep.append(volume)
            _locked(explorer, source, place, link, self.what)
            return True
        _unlocked_by(link, None if used < 0 else access.credentials[used])
        child = LibyalSource(volume, int(volume.get_size()), keep=[fileobj])
        explorer.keep.append(child)
        explorer.explore(child, place.deeper(link))
        return True

    def quick(self, head: bytes) -> bool:
        return True

    def attach(self, volume, fileobj) -> None:
        volume.open_file_object(fileobj)

    def facts(self, volume) -> dict:
        return {}

    def try_one(self, volume, credential: Credential) -> bool:
        try:
            self.give(volume, credential)
            return bool(volume.unlock())
        except LIB_ERRORS:
            return False

    def give(self, volume, credential: Credential) -> None:
        if credential.type == "password":
            volume.set_password(credential.value)
        elif credential.type == "recovery_password":
            volume.set_recovery_password(credential.value)
        elif credential.type == "startup_key":
            volume.read_startup_key(credential.value)
        else:
            volume.set_keys(*self.split_key(credential.key_bytes()))

    def split_key(self, key: bytes):
        """key_data as the library's set_keys(key, tweak) takes it."""
        raise NotImplementedError


class BitLocker(Libyal):
    name, library, module, kind = "bitlocker", "libbde", "pybde", "bitlocker"
    accepts = ("password", "recovery_password", "startup_key", "key_data")
    what = ("its recovery password (recovery_password:...), password, startup key file "
            "(startup_key:FILE.BEK) or key_data (FVEK)")

    def quick(self, head):
        # "-FVE-FS-" (Windows Vista and later) or the To Go boot sector with FVE metadata
        return head[3:11] in (b"-FVE-FS-", b"MSWIN4.1")

    def facts(self, volume) -> dict:
        out = {}
        for name, getter in (("id", "get_identifier"), ("description", "get_description"),
                             ("encryption_method", "get_encryption_method")):
            try:
                value = getattr(volume, getter)()
            except LIB_ERRORS:
                value = None
            if value not in (None, ""):
                out[name] = value if isinstance(value, (str, int)) else str(value)
        protectors = []
        try:
            for i in range(volume.get_number_of_key_protectors()):
                protector = volume.get_key_protector(i)
                kind = BDE_PROTECTORS.get(protector.get_type(), f"type {protector.get_type():#x}")
                protectors.append(f"{kind} {protector.get_identifier()}")
        except LIB_ERRORS:
            pass
        out["protectors"] = protectors
        return out

    def split_key(self, key):
        # the FVEK, and for AES-CBC with the Elephant diffuser its TWEAK key after it
        half = len(key) // 2 if len(key) > 32 else len(key)
        return key[:half], key[half:]


class FileVault(Libyal):
    name, library, module, kind = "filevault", "libfvde", "pyfvde", "filevault"
    accepts = ("password", "recovery_password", "key_data")
    what = "its user password (password:-), recovery key (recovery_password:...) or key_data"

    def quick(self, head):
        return head[88:90] == b"CS"     # the CoreStorage volume header's signature

    def attach(self, volume, fileobj):
        volume.open_file_object(fileobj)
        opener = getattr(volume, "open_physical_volume_files_as_file_objects", None)
        if opener is not None:
            try:
                opener([fileobj])
            except LIB_ERRORS:
                pass

    def facts(self, volume) -> dict:
        return {"protectors": ["password", "recovery key"]}

    def split_key(self, key):
        return key[:16], key[16:]      # the volume key, then the tweak key


LAYERS: List[Layer] = [Luks(), BitLocker(), FileVault()]
