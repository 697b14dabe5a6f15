"""Archives made with the real tools (zip, 7z, tar, gzip, bzip2, xz, zstd) around real photos
(the PDQ vectors' LabelMe subset): known pictures planted exactly and re-encoded, beside
unrelated ones, in every kind of container, and a reference set built from the originals."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Dict, List

from support import FIXTURES

PHOTOS = FIXTURES / "vectors" / "pdq" / "threatexchange" / "labelme-subset"
# in the set (PDQ quality 100: the two smallest photos, quality 3 and 4, are unrelated ones)
KNOWN = ["q0122.jpg", "q0291.jpg", "q0746.jpg", "q1050.jpg"]
UNRELATED = ["q2821.jpg", "q0003.jpg", "q0004.jpg"]             # never hits
RAR = FIXTURES / "archives" / "rar"


def reencoded(name: str) -> bytes:
    """The known photo saved again (other JPEG quality, a little smaller): other bytes, the
    same picture to a perceptual hash."""
    from PIL import Image
    with Image.open(PHOTOS / name) as img:
        img = img.convert("RGB")
        img = img.resize((img.width * 9 // 10, img.height * 9 // 10))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=70)
    return out.getvalue()


def tool(*args: str, cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def reference_set(tmp_path_factory) -> Path:
    """A compiled set (md5, sha1, sha256, pdq, phash) of the known photos, by `hashset build`."""
    from support import run_triage
    folder = tmp_path_factory.mktemp("reference")
    refs = folder / "known"
    refs.mkdir()
    for name in KNOWN:
        shutil.copy(PHOTOS / name, refs / name)
    out = folder / "known.tset"
    run = run_triage("hashset", "build", str(refs), "-o", str(out), "--category", "1")
    assert run.code == 0, run.stderr
    return out


# Each container: (file name in the evidence folder, how to make it from a work folder holding
# its members, {member path: (content source, expected verdict)}).
def build_collection(root: Path) -> Dict[str, Dict[str, str]]:
    """Make one archive of every kind under root/ev; returns {hit path: how it matches}.
    Every archive holds one known photo (exact or re-encoded) and one unrelated one."""
    ev = root / "ev"
    ev.mkdir()
    work = root / "work"
    expected: Dict[str, str] = {}
    kinds = [
        # name, command (run in its own folder of members), exact?, the known member's name
        # there ({inner}: its path in the folder, {base}: its file name)
        ("deflate.zip", ["zip", "-q", "-r", "{out}", "."], True, "{inner}"),
        ("bzip2.zip", ["zip", "-q", "-Z", "bzip2", "-r", "{out}", "."], False, "{inner}"),
        ("deflate64.zip", ["7z", "a", "-tzip", "-mm=Deflate64", "{out}", "."], True, "{inner}"),
        ("lzma.zip", ["7z", "a", "-tzip", "-mm=LZMA", "{out}", "."], False, "{inner}"),
        ("zip64.zip", ["zip", "-q", "-fz", "-r", "{out}", "."], True, "{inner}"),
        ("solid.7z", ["7z", "a", "-ms=on", "{out}", "."], False, "{inner}"),
        ("plain.tar", ["tar", "cf", "{out}", "."], True, "./{inner}"),
        ("gz.tar.gz", ["tar", "czf", "{out}", "."], False, "./{inner}"),
        ("bz.tbz", ["tar", "cjf", "{out}", "."], True, "./{inner}"),
        ("xz.txz", ["tar", "cJf", "{out}", "."], False, "./{inner}"),
        ("zst.tar.zst", ["tar", "--zstd", "-cf", "{out}", "."], True, "./{inner}"),
        ("disc.iso", ["genisoimage", "-quiet", "-R", "-o", "{out}", "."], False, "{inner}"),
        # GNU cpio stores `./sub/x` as `sub/x`
        ("newc.cpio", ["sh", "-c", 'find . | cpio -o -H newc --quiet > "$0"', "{out}"], True,
         "{inner}"),
        ("cabinet.cab", ["sh", "-c", 'gcab -c "$0" $(find . -type f)', "{out}"], False,
         "./{inner}"),
        # GNU ar: flat names, modes without a file type, and a symbol table (an object's)
        ("static.a", ["sh", "-c", 'echo "int one(void) { return 1; }" | cc -x c -c -o one.o - '
                      '&& ar rcs "$0" "$1" one.o other.jpg notes.txt', "{out}", "{inner}"],
         True, "{base}"),
        # a Debian package: ar, then xz, then tar
        ("package.deb", ["sh", "-c", 'echo 2.0 > debian-binary && tar cJf data.tar.xz ./sub '
                         './other.jpg ./notes.txt && ar rc "$0" debian-binary data.tar.xz',
                         "{out}"], False, "data.tar.xz!/./{inner}"),
    ]
    pick = 0
    for name, command, exact, shown in kinds:
        members = work / name
        (members / "sub").mkdir(parents=True)
        known = KNOWN[pick % len(KNOWN)]
        pick += 1
        inner = f"sub/{known}" if exact else f"sub/re-{known}"
        (members / inner).write_bytes((PHOTOS / known).read_bytes() if exact
                                      else reencoded(known))
        shutil.copy(PHOTOS / UNRELATED[pick % len(UNRELATED)], members / "other.jpg")
        (members / "notes.txt").write_text("nothing to see\n" * 40)
        tool(*[part.replace("{out}", str(ev / name)).replace("{inner}", inner)
               for part in command], cwd=members)
        member = shown.format(inner=inner, base=Path(inner).name)
        expected[f"/{name}!/{member}"] = "exact" if exact else "perceptual"
    # single compressed files, each one known photo
    for suffix, command in ((".gz", ["gzip", "-kn"]), (".bz2", ["bzip2", "-k"]),
                            (".xz", ["xz", "-k"]), (".zst", ["zstd", "-q"])):
        known = KNOWN[pick % len(KNOWN)]
        pick += 1
        single = work / f"single{suffix}"
        single.mkdir()
        shutil.copy(PHOTOS / known, single / known)
        tool(*command, known, cwd=single)
        shutil.move(str(single / (known + suffix)), ev / f"{known}{suffix}")
        expected[f"/{known}{suffix}!/{known}"] = "exact"
    # nested two deep: outer.zip!/middle.7z!/inner.jpg, and deeper beside it
    nest = work / "nest"
    nest.mkdir()
    (nest / "inner.jpg").write_bytes(reencoded(KNOWN[3]))
    shutil.copy(PHOTOS / UNRELATED[0], nest / "unrelated.jpg")
    tool("7z", "a", "middle.7z", "inner.jpg", "unrelated.jpg", cwd=nest)
    tool("zip", "-q", str(ev / "outer.zip"), "middle.7z", cwd=nest)
    expected["/outer.zip!/middle.7z!/inner.jpg"] = "perceptual"
    # unrelated files only, and a text file that merely looks like nothing
    shutil.copy(PHOTOS / UNRELATED[1], ev / "loose.jpg")
    return expected


def collection(tmp_path_factory):
    root = tmp_path_factory.mktemp("collection")
    expected = build_collection(root)
    return root / "ev", expected


def hit_paths(report: dict) -> List[str]:
    return sorted(h["path"] for h in report["hits"])


def tar_head(name: str = "a.txt", data: bytes = b"hello") -> bytes:
    """A one-member ustar archive, as tarfile writes it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def as_v7(head: bytes) -> bytes:
    """The same header as an old (v7) tar writes it: no magic, its checksum made again."""
    block = bytearray(head[:512])
    block[257:265] = bytes(8)
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\x00 " % sum(block)
    return bytes(block) + head[512:]
