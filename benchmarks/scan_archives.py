"""Benchmark of scanning inside archives (issue 13): `triage scan` of a folder of zips of
pictures, reading the members where they are, against the peer way of doing it: extract every
zip with `7z x`, then `hashdeep -r` matching on the extracted tree. Side by side in one run.
With `--kind deb`, the same pictures in Debian packages (ar, holding data.tar.xz) and the peer
`dpkg-deb -x` of every package.

    python benchmarks/scan_archives.py [--scale 0.05] [--repeat 3] [--kind zip|deb]

Data (built once, cached under $TRIAGE_BENCH_DATA, default /work/bench-data): a folder of zips
(deflate, as `zip` and Windows make them) of JPEG pictures, 1.6 GB of zips at --scale 1 (200
zips of 50 pictures of ~160 KB; --scale 1.26 for the issue's 2 GB); the default --scale 0.05 is
79 MB (10 zips), for a loaded shared
machine: say which scale a number is from. Pictures are cut from a pool of 64 real JPEG
encodings (PIL) of seeded smooth images, each made distinct by a trailer after its end-of-image
marker (valid JPEGs, every MD5 distinct). 1 % of the pictures are planted in the sets, among
100,000 random MD5s with sizes from the same range:
  * `set-sized.hashdeep` (size,md5,filename: hashdeep's known-file format) and
  * `set-unsized.md5` (md5sum lines, no sizes).

Contenders (each run --repeat times interleaved, the median kept, each after the same warm-up):
  * `7z x` of every zip into a fresh folder, then `hashdeep -c md5 -r -l -m -k
    set-sized.hashdeep` on it: what an examiner does without a tool that reads archives
    (extraction writes every member to disk: the scratch folder is on the same disk);
  * `triage scan FOLDER --hashset SET -q` with the sized and with the unsized set: the sized
    set lets members of other sizes go unread past the head that tells a nested archive; the
    unsized one makes triage hash every member, as hashdeep does; and with the sized set
    compiled once by `triage hashset import` (a lab compiles once and scans many disks; the
    text sets are compiled on every run, as hashdeep loads its file every run).
Every contender's matched files must be exactly the planted ones (checked)."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, Timing, print_machine, rounds, run, table, warm  # noqa: E402

ZIPS, PER_ZIP, SEED, POOL = 200, 50, 13, 64
RANDOM_ENTRIES = 100_000


def jpeg_pool(rng) -> list:
    from PIL import Image
    pool = []
    for _ in range(POOL):
        h, w = 600, 800
        y, x = np.mgrid[0:h, 0:w]
        img = np.zeros((h, w, 3))
        for c in range(3):
            for _ in range(4):
                fx, fy, ph = rng.uniform(0.002, 0.03, 2).tolist() + [rng.uniform(0, 6.3)]
                img[..., c] += np.sin(x * fx + y * fy + ph)
        img = ((img - img.min()) / (np.ptp(img) or 1) * 255).astype(np.uint8)
        noise = rng.integers(0, 40, img.shape, dtype=np.uint8)
        out = io.BytesIO()
        Image.fromarray(img + noise).save(out, "JPEG", quality=int(rng.integers(80, 95)))
        pool.append(out.getvalue())
    return pool


def write_zip(path: Path, members) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in members:
            out.writestr(name, data)


def write_deb(path: Path, members) -> None:
    """A Debian package as dpkg-deb lays it out: ar of debian-binary, control.tar.xz and
    data.tar.xz (the members under ./)."""
    work = path.with_suffix(".work")
    work.mkdir()
    try:
        (work / "debian-binary").write_text("2.0\n")
        for tar_name, content in (("control.tar.xz", [("./control", b"Package: album\n")]),
                                  ("data.tar.xz", [(f"./{n}", d) for n, d in members])):
            with tarfile.open(work / tar_name, "w:xz", preset=1) as tar:
                for name, data in content:
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        subprocess.run(["ar", "rc", str(path), "debian-binary", "control.tar.xz", "data.tar.xz"],
                       cwd=work, check=True)
    finally:
        shutil.rmtree(work)


# kind (the files' suffix): how one is written, the peer's extraction, and how the peer
# extracts every one of them from {ev} into a folder each under {scratch}
KINDS = {
    "zip": (write_zip, "7z x", "7z x -bd -y '-o{scratch}/*' '{ev}/*.zip' >/dev/null"),
    "deb": (write_deb, "dpkg-deb -x", "for d in '{ev}'/*.deb; do dpkg-deb -x \"$d\" "
                                      "\"{scratch}/$(basename \"$d\" .deb)\" || exit 1; done"),
}


def build(scale: float, kind: str = "zip") -> Path:
    zips = max(2, round(ZIPS * scale))
    write = KINDS[kind][0]
    base = DATA / (f"archives-{zips}x{PER_ZIP}" if kind == "zip" else
                   f"archives-{kind}-{zips}x{PER_ZIP}")
    stamp = base / "built.json"
    if stamp.is_file():
        return base
    shutil.rmtree(base, ignore_errors=True)
    (base / "ev").mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    pool = jpeg_pool(rng)
    planted = []
    for z in range(zips):
        members = []
        for p in range(PER_ZIP):
            data = pool[int(rng.integers(POOL))] + f"triage-bench {z} {p}".encode()
            name = f"DCIM/{z:04d}/IMG_{p:04d}.jpg"
            members.append((name, data))
            if rng.random() < 0.01 or (z == 0 and p == 0):
                planted.append((len(data), hashlib.md5(data).hexdigest(), name))
        write(base / "ev" / f"album{z:04d}.{kind}", members)
    sizes = [s for s, _, _ in planted]
    lo, hi = min(len(p) for p in pool), max(len(p) for p in pool) + 64
    with open(base / "set-sized.hashdeep", "w") as sized, \
            open(base / "set-unsized.md5", "w") as unsized:
        sized.write("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n")
        rows = [(int(rng.integers(lo, hi)), os.urandom(16).hex(), f"r{i}")
                for i in range(RANDOM_ENTRIES)] + planted
        rows.sort(key=lambda r: r[1])
        for size, md5, name in rows:
            sized.write(f"{size},{md5},{name}\n")
            unsized.write(f"{md5}  {name}\n")
    stamp.write_text(json.dumps({"zips": zips, "per_zip": PER_ZIP, "planted": len(planted),
                                 "bytes": sum(p.stat().st_size for p in (base / "ev").iterdir()),
                                 "sizes": sorted(sizes)}))
    return base


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kind", choices=sorted(KINDS), default="zip",
                    help="zips (peer: 7z x), or Debian packages (peer: dpkg-deb -x)")
    args = ap.parse_args()
    base = build(args.scale, args.kind)
    facts = json.loads((base / "built.json").read_text())
    ev, scratch = base / "ev", base / "extracted"
    print_machine()
    print(f"  data: {facts['zips']} {args.kind}s x {facts['per_zip']} pictures, "
          f"{facts['bytes'] / 1e6:,.0f} MB of {args.kind}s, {facts['planted']} planted among "
          f"{RANDOM_ENTRIES:,} set entries (--scale {args.scale})")
    sets = {"sized": base / "set-sized.hashdeep", "unsized": base / "set-unsized.md5",
            "compiled": base / "set-sized.tset"}
    if not sets["compiled"].is_file():
        run([sys.executable, "-m", "triage", "hashset", "import", str(sets["sized"]), "-o",
             str(sets["compiled"])])
    outs = {name: base / f"out-{name}" for name in sets}

    def triage(kind):
        def go() -> Timing:
            shutil.rmtree(outs[kind], ignore_errors=True)
            return run([sys.executable, "-m", "triage", "scan", str(ev), "--hashset",
                        str(sets[kind]), "-o", str(outs[kind]), "-q"])
        return go

    _, extractor, extraction = KINDS[args.kind]
    extract = extraction.format(ev=ev, scratch=scratch)
    peer_name = f"{extractor} + hashdeep -r -m (sized set)"

    def extract_and_hashdeep() -> Timing:
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        cmd = (f"cd {scratch} && {extract} && "
               f"hashdeep -c md5 -r -l -m -k {base / 'set-sized.hashdeep'} . "
               f"> {base / 'hashdeep.out'}")
        return run(cmd, shell=True)

    contenders = {peer_name: extract_and_hashdeep,
                  "triage scan (sized set)": triage("sized"),
                  "triage scan (unsized set)": triage("unsized"),
                  "triage scan (sized set, compiled once)": triage("compiled")}
    timings = rounds(contenders, args.repeat, lambda name: warm(ev, *sets.values()))
    # every contender found exactly the planted files
    found_hd = len((base / "hashdeep.out").read_text().splitlines())
    for kind, out in outs.items():
        report = json.loads((out / "report.json").read_text())
        assert len(report["hits"]) == facts["planted"], (kind, len(report["hits"]))
    assert found_hd == facts["planted"], found_hd
    shutil.rmtree(scratch, ignore_errors=True)
    peer = timings[peer_name].seconds
    mb = facts["bytes"] / 1e6
    peer_cpu = timings[peer_name].cpu
    print(table(["contender", "seconds", f"MB of {args.kind}s/s", "CPU cores busy",
                 "CPU seconds", "vs the peer (wall)", "vs the peer (CPU)"],
                [[name, t.seconds, mb / t.seconds, t.cores, t.cpu, f"{peer / t.seconds:.2f}x",
                  f"{peer_cpu / t.cpu:.2f}x"]
                 for name, t in timings.items()],
                title=f"Scanning {facts['zips']} {args.kind}s of pictures ({mb:,.0f} MB), "
                      f"median of {args.repeat}"))


if __name__ == "__main__":
    main()
