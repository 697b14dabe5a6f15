import hashlib
import os

import pytest

from triage.hashsets import load
from triage.hashsets.build import build_set


def test_build_hashes_regular_files_without_following_symlinks(tmp_path):
    ref = tmp_path / "ref"
    (ref / "sub").mkdir(parents=True)
    (ref / "a.bin").write_bytes(b"alpha")
    (ref / "sub" / "b.bin").write_bytes(b"\x00" * 70000)
    os.symlink("/etc/passwd", ref / "link")
    os.mkfifo(ref / "fifo")
    out = tmp_path / "ref.tset"
    build_set(ref, out, category="1")
    with load(out) as hs:
        assert hs.info.entries == 6
        assert hs.info.signals == {"md5": 2, "sha1": 2, "sha256": 2}
        manifest = "".join(
            f"{rel}\t{len(data)}\t{sig}\t{hashlib.new(sig, data).hexdigest()}\n"
            for rel, data in (("a.bin", b"alpha"), ("sub/b.bin", b"\x00" * 70000))
            for sig in ("md5", "sha1", "sha256"))
        assert hs.info.sources == [{"path": str(ref), "format": "folder",
                                    "sha256": hashlib.sha256(manifest.encode()).hexdigest()}]
        found = hs.lookup("sha256", [hashlib.sha256(b"alpha").digest()])[0]
        assert [(e.size, e.name, e.category) for e in found] == [(5, "a.bin", "1")]
        assert hs.may_match("md5", 70000) and not hs.may_match("md5", 6)


def test_build_rejects_signal_it_cannot_compute(tmp_path):
    with pytest.raises(ValueError, match="photodna"):
        build_set(tmp_path, tmp_path / "x.tset", names=["photodna"])
