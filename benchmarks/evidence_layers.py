"""Benchmark of layered evidence (issue 12): `triage files --hash md5` against dfVFS's
recursive hasher (its VolumeScanner over every partition and volume, an MD5 of every data
stream read in 32 KiB blocks, as dfVFS's examples/recursive_hasher.py does), side by side in one
run, on the layered fixtures and on large images made here.

    python benchmarks/evidence_layers.py [--scale 1] [--repeat 3] [--fixtures-only]

dfVFS runs in its own environment (DFVFS_PYTHON, default /tmp/dfvfs-venv/bin/python; make it
with `python3 -m venv /tmp/dfvfs-venv && /tmp/dfvfs-venv/bin/pip install dfvfs`).

Large data (built once under $TRIAGE_BENCH_DATA, default /work/bench-data): a tree of 4,000
files, 1.2 GB (the shared log-normal generator of common.py), an ext4 image of it
(`mkfs.ext4 -d`), and that image converted by qemu-img to VHDX and QCOW2 (>= 1 GB each: an APFS
image of that size cannot be written on Linux). --scale multiplies files and bytes.

Reported per image: files and bytes each tool hashed, seconds (median of --repeat, runs
interleaved, each after the same page-cache warm-up), files/s, MB/s, and triage's speed over
dfVFS's. dfVFS lists no deleted files and reads ext through libfsext: the file counts differ
where triage (TSK) also lists deleted ones; MB/s counts what each read."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, REPO, generate_tree, build_ext4, print_machine, table, warm  # noqa: E402

DFVFS_PYTHON = os.environ.get("DFVFS_PYTHON", "/tmp/dfvfs-venv/bin/python")
FILES, BYTES, SIGMA, SEED = 4_000, 1_200_000_000, 1.5, 12
PASSWORD = "triage-TEST"

# The peer: dfVFS's recursive hasher, run in dfVFS's environment.
DFVFS_HASHER = r"""
import hashlib, sys, json
from dfvfs.helpers import volume_scanner
from dfvfs.resolver import resolver

def walk(entry, out):
    for sub in entry.sub_file_entries:
        if sub.IsFile():
            for stream in sub.data_streams:
                f = sub.GetFileObject(data_stream_name=stream.name)
                h = hashlib.md5()
                n = 0
                while True:
                    block = f.read(32768)
                    if not block:
                        break
                    h.update(block)
                    n += len(block)
                out.append(n)
        if sub.IsDirectory():
            walk(sub, out)

options = volume_scanner.VolumeScannerOptions()
options.partitions = ["all"]
options.volumes = ["all"]
options.snapshots = ["none"]
options.credentials = [tuple(c.split(":", 1)) for c in sys.argv[2:]]
out = []
for spec in volume_scanner.VolumeScanner().GetBasePathSpecs(sys.argv[1], options=options):
    walk(resolver.Resolver.OpenFileEntry(spec), out)
print(json.dumps({"files": len(out), "bytes": sum(out)}))
"""


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(cmd):
    """Wall seconds and the output; the CPU seconds it and its children used are added to
    CPU_SECONDS[cmd's tool] (the machine is shared: CPU time is the steadier measure)."""
    started, cpu = time.perf_counter(), _cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    LAST_CPU[0] = _cpu() - cpu
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): {proc.stderr[-400:]}")
    return seconds, proc.stdout


LAST_CPU = [0.0]


def triage_run(image: Path, credentials):
    cmd = [sys.executable, "-m", "triage", "files", str(image), "--hash", "md5"]
    for c in credentials:
        cmd += ["--credential", c]
    seconds, out = timed(cmd)
    rows = [json.loads(line) for line in out.splitlines()]
    files = [r for r in rows if "error" not in r]
    return seconds, len(files), sum(r.get("recovered", r["size"]) for r in files
                                    if r.get("md5")), LAST_CPU[0]


def dfvfs_run(image: Path, credentials):
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(DFVFS_HASHER)
    try:
        seconds, out = timed([DFVFS_PYTHON, f.name, str(image), *credentials])
    finally:
        os.unlink(f.name)
    facts = json.loads(out.strip().splitlines()[-1])
    return seconds, facts["files"], facts["bytes"], LAST_CPU[0]


def measure(image: Path, credentials, repeat: int):
    runs = {"triage": [], "dfvfs": []}
    for _ in range(repeat):
        for name, fn in (("triage", triage_run), ("dfvfs", dfvfs_run)):
            warm(image)
            runs[name].append(fn(image, credentials))
    return {name: sorted(r)[len(r) // 2] for name, r in runs.items()}


def big_images(scale: float):
    folder = DATA / f"layers-s{scale:g}"
    folder.mkdir(parents=True, exist_ok=True)
    tree = generate_tree(folder / "tree", max(10, int(FILES * scale)), int(BYTES * scale),
                         SIGMA, SEED)
    raw = build_ext4(tree, folder / "ext4.raw")
    out = []
    for fmt, name in (("vhdx", "ext4.vhdx"), ("qcow2", "ext4.qcow2")):
        target = folder / name
        if not target.exists() or target.stat().st_mtime < raw.stat().st_mtime:
            subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", fmt, str(raw),
                            str(target)], check=True)
        out.append(target)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fixtures-only", action="store_true")
    ap.add_argument("--large-only", action="store_true", help="only the >= 1 GB images")
    args = ap.parse_args(argv)
    print_machine()
    import gzip
    import shutil
    work = Path(tempfile.mkdtemp(prefix="triage-layers-"))
    images = []
    for committed in sorted((REPO / "fixtures" / "images").iterdir()):
        name = committed.name[:-3] if committed.name.endswith(".gz") else committed.name
        if committed.name.endswith(".gz"):
            with gzip.open(committed) as src, open(work / name, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copyfile(committed, work / name)
    for truth in sorted((REPO / "fixtures" / "truth" / "layers").glob("*.json")):
        facts = json.loads(truth.read_text())
        if "file_systems" in facts["dfvfs"] and not args.large_only:   # an image both read
            images.append((work / facts["image"], facts["credentials"]))
    if not args.fixtures_only:
        images += [(p, []) for p in big_images(args.scale)]
    rows = []
    for image, credentials in images:
        result = measure(image, credentials, args.repeat)
        (ts, tf, tb, tc), (ds, df, db, dc) = result["triage"], result["dfvfs"]
        rows.append([image.name, f"{image.stat().st_size / 1e6:,.1f}",
                     tf, f"{tb / 1e6:,.1f}", f"{ts:.2f}", f"{tc:.2f}", f"{tf / ts:,.0f}",
                     f"{tb / 1e6 / ts:,.1f}",
                     df, f"{db / 1e6:,.1f}", f"{ds:.2f}", f"{dc:.2f}", f"{df / ds:,.0f}",
                     f"{db / 1e6 / ds:,.1f}",
                     f"{(tb / ts) / (db / ds):.2f}x" if db and tb else f"{ds / ts:.2f}x (time)",
                     f"{(tb / tc) / (db / dc):.2f}x" if db and tb else f"{dc / tc:.2f}x (cpu)"])
    print(table(["image", "MB", "triage files", "MB", "s", "CPU s", "files/s", "MB/s",
                 "dfVFS files", "MB", "s", "CPU s", "files/s", "MB/s", "triage/dfVFS MB/s",
                 "triage/dfVFS MB per CPU-s"], rows,
                title="triage files --hash md5 against dfVFS's recursive hasher"))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
