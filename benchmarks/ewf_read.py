"""Benchmark of reading E01 images: triage's EWF reader and scan, with the pyewf installed and
with any other build of it (packaging/pyewf-with-zlib.sh makes one that inflates with zlib),
against `ewfverify` and against the raw image, in one run.

    python benchmarks/ewf_read.py [--scale 1] [--repeat 3] [--pyewf NAME=DIR ...]

DIR is a folder holding a pyewf extension module (a virtual environment's site-packages, say):
it is put first on PYTHONPATH for that build's contenders. Data: scan_exact.py's (built once,
cached under $TRIAGE_BENCH_DATA): the ext4 image of the 20,000-file, 2.8 GB folder, its E01
(`ewfacquire`, deflate fast) and the realistic sized set of 1 M MD5s.

Contenders, interleaved round by round, the median of --repeat kept, all from a warm page cache:
  * `ewfverify -q IMAGE.E01`: the system's libewf (ewf-tools) reads every chunk and takes the
    MD5 of the media; the peer;
  * `md5sum IMAGE.raw`: the same MD5 of the same bytes, read raw: the limit;
  * per pyewf build, libewf's reader (triage.evidence.libewf.Handle) reading the whole media
    in 1 MiB reads into an MD5: ewfverify's work;
  * the same through the media as a scan reads it, its chunks read directly from the segment
    files (triage.evidence.ewf_chunks);
  * per pyewf build, `triage scan IMAGE.E01 --hashset SET -q`, and `triage scan IMAGE.raw` as
    its limit, with the sized set; and both with the fingerprinted set (scan_exact.py's
    --part subfile), where a scan reads a few KiB at each end of each file.
Checks: every MD5 is the raw image's; every scan matched exactly the planted files."""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DATA, build_e01, build_ext4, generate_tree, print_machine,  # noqa: E402
                    rounds, run, table, warm)
from scan_exact import (BYTES, FILES, PLANTED, SEED, SIGMA, TRIAGE,  # noqa: E402
                        fingerprinted_set, make_sets, report_found)

READ = """
import hashlib, sys
from triage.evidence.libewf import Handle, load
handle, md5, offset = Handle(sys.argv[1:], load()), hashlib.md5(), 0
while offset < handle.media_size:
    data = handle.read(offset, min(1 << 20, handle.media_size - offset))
    md5.update(data)
    offset += len(data)
print(md5.hexdigest())
"""
# What a scan reads an E01 through since issue 15's stop of 2026-12-04: its chunks found in the
# segment files and inflated with Python's zlib (triage.evidence.ewf_chunks), libewf only for
# what a checksum does not vouch for.
READ_DIRECT = """
import hashlib, sys
from triage.evidence.media import open_media
media, md5, offset = open_media(sys.argv[1]), hashlib.md5(), 0
if not media.img.direct:
    sys.exit("the E01's chunks are not read directly")
while offset < media.size:
    data = media.read(offset, min(1 << 20, media.size - offset))
    md5.update(data)
    offset += len(data)
print(md5.hexdigest())
"""
USES_ZLIB = "from triage.evidence.libewf import inflates_with_zlib; print(inflates_with_zlib())"


def environment(directory) -> dict:
    env = dict(os.environ)
    if directory:
        env["PYTHONPATH"] = os.pathsep.join([str(directory), env.get("PYTHONPATH", "")])
    return env


def output(command, env=None) -> str:
    return subprocess.run(command, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pyewf", action="append", default=[], metavar="NAME=DIR",
                    help="another pyewf build, in folder DIR")
    args = ap.parse_args(argv)
    builds = {"installed": None, **dict(item.split("=", 1) for item in args.pyewf)}
    files, nbytes = max(100, round(FILES * args.scale)), int(BYTES * args.scale)
    base = DATA / f"scan-s{args.scale:g}"
    base.mkdir(parents=True, exist_ok=True)
    tree = generate_tree(base / "folder", files, nbytes, SIGMA, SEED)
    raw = build_ext4(tree, base / "ext4.img")
    truth = make_sets(base, tree, max(1000, round(1_000_000 * args.scale)),
                      max(10, round(PLANTED * args.scale)))
    sized = base / "set-sized.tset"
    fingerprinted = fingerprinted_set(base, tree, truth, max(1000, round(1_000_000 * args.scale)))
    e01 = build_e01(raw)
    segments = sorted(str(p) for p in e01.parent.glob(e01.stem + ".E??"))
    size = raw.stat().st_size
    print("machine:")
    print_machine()
    print(f"command: python benchmarks/ewf_read.py --scale {args.scale:g} --repeat {args.repeat}"
          + "".join(f" --pyewf {item}" for item in args.pyewf))
    print(f"media: {size / 1e9:.2f} GB raw (ext4, {files:,} files); E01 "
          f"{sum(Path(s).stat().st_size for s in segments) / 1e9:.2f} GB in {len(segments)} "
          f"segment(s)")
    for name, directory in builds.items():
        zlib = output([sys.executable, "-c", USES_ZLIB], environment(directory)) == "True"
        print(f"pyewf {name}: inflates with {'zlib' if zlib else 'libewf own deflate'}")
    out = base / "out-ewf"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    md5s, outdirs = {}, {}

    def keep(name, command, env=None):
        def contender():
            path = out / f"{len(md5s)}-{re.sub(r'[^a-z0-9]+', '-', name)}.txt"
            with open(path, "w") as f:
                timing = run(command, stdout=f, env=env)
            md5s[name] = path
            return timing
        return contender

    def scan(name, evidence, env=None, hashset=sized):
        outdir = outdirs[name] = out / re.sub(r"[^a-z0-9]+", "-", name)

        def contender():
            shutil.rmtree(outdir, ignore_errors=True)
            return run(TRIAGE + ["scan", str(evidence), "--hashset", str(hashset), "-o",
                                 str(outdir), "-q"], env=env)
        return contender

    contenders = {"ewfverify -q": keep("ewfverify -q", ["ewfverify", "-q", str(e01)]),
                  "md5sum, raw": keep("md5sum, raw", ["md5sum", str(raw)])}
    for name, directory in builds.items():
        env = environment(directory)
        contenders[f"triage EWF reader, pyewf {name}"] = keep(
            f"triage EWF reader, pyewf {name}", [sys.executable, "-c", READ, *segments], env)
    contenders["triage EWF reader, chunks read directly"] = keep(
        "triage EWF reader, chunks read directly", [sys.executable, "-c", READ_DIRECT, str(e01)])
    for name, directory in builds.items():
        label = f"triage scan E01, pyewf {name}"
        contenders[label] = scan(label, e01, environment(directory))
    contenders["triage scan raw"] = scan("triage scan raw", raw)
    # the sub-file screen (issue 15): a few KiB at each end of each file, nearly every read a
    # chunk of its own
    contenders["triage scan E01, fingerprinted set"] = scan(
        "triage scan E01, fingerprinted set", e01, hashset=fingerprinted)
    contenders["triage scan raw, fingerprinted set"] = scan(
        "triage scan raw, fingerprinted set", raw, hashset=fingerprinted)
    best = rounds(contenders, args.repeat, lambda name: warm(
        raw if "raw" in name else e01, fingerprinted if "fingerprinted" in name else sized))
    want = hashlib.md5()
    with open(raw, "rb") as f:
        while block := f.read(8 << 20):
            want.update(block)
    for name, path in md5s.items():
        found = re.findall(r"\b[0-9a-f]{32}\b", path.read_text())
        if want.hexdigest() not in found:
            sys.exit(f"benchmark: {name} did not give the raw image's MD5 {want.hexdigest()}")
    for name, outdir in outdirs.items():
        if report_found(outdir) != set(truth):
            sys.exit(f"benchmark: {name} did not match exactly the planted files")
    print(f"\ncheck: every reader gave the raw image's MD5; every scan matched exactly the "
          f"{len(truth)} planted files")
    def limit(name):
        if "scan" not in name:
            return best["md5sum, raw"]
        return best["triage scan raw, fingerprinted set" if "fingerprinted" in name
                    else "triage scan raw"]

    rows = [[name, t.seconds, t.cpu, size / t.seconds / 1e6, t.cores,
             best["ewfverify -q"].seconds / t.seconds, limit(name).seconds / t.seconds]
            for name, t in best.items()]
    print(table(["contender", "seconds", "CPU seconds", "MB/s", "CPU cores busy",
                 "vs ewfverify", "vs raw"], rows, f"Reading a {size / 1e9:.2f} GB E01"))


if __name__ == "__main__":
    main()
