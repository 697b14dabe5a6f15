"""Benchmark of the evidence layer (issue 2): listing and hashing a large disk image with
`triage files`, side by side in one run with The Sleuth Kit and hashdeep, and against the
hashing limit of this machine's CPU measured in the same run.

    python benchmarks/evidence_listing.py [--scale 1] [--repeat 3] [--ntfs] [--ewf] [--part listing]

Data (built once, cached under $TRIAGE_BENCH_DATA, default /work/bench-data): a tree of
100,000 files, 3 GB in all (log-normal sizes from empty to ~30 MB, content from a seeded
random pool, every file distinct), and an ext4 image of it made with `mkfs.ext4 -d`; with
--ntfs also an NTFS image (mkntfs, the tree copied in through ntfs-3g). --scale multiplies the
file count and the bytes (0.02 for a quick run).

Contenders, each run --repeat times interleaved round by round, the median kept, and each run
preceded by the same page-cache warm-up (every byte of its input read once, so all of them
start warm and the tools are measured, not the disk):
  * listing: `triage files IMG` (no hashes) against `fls -r -p IMG`; and the walk alone, the
    file entries made inside one process (opening and output left out), with the compiled
    lister and with pytsk3's alone, against `fls -r -p IMG > /dev/null`, in wall and CPU
    seconds; the same walk of the tree as a folder, with the compiled lister (_oslist.c) and
    with os.scandir's alone, against `find TREE -type f -printf` of each file's size, inode and
    times (a stat a file, as the walk does) to a file;
  * hashing: `triage files IMG --hash md5` and `--hash md5,sha1,sha256` (default workers: one
    process per core) against `hashdeep -r` with the same algorithms on the source tree the
    image was made from (the same files byte for byte; checked: every MD5 must agree), with
    its default threads (one per core) and -j1;
  * the largest files one by one: `icat IMG INODE | md5sum` against triage's reader and hasher
    on the same inodes (the code each `triage files` worker runs on a file, in one process);
  * the CPU limit: hashlib on data in memory, the same digests in 1 MiB updates, one process
    and one per core;
  * with --ewf, the ext4 image as an E01 (ewfacquire, deflate fast): `triage files E01 --hash
    md5` against the same on the raw image (what the container costs, damaged-chunk checks
    included), and `triage inspect E01 --verify` against `ewfverify` (both re-read every chunk
    against its checksum and the media against the stored hashes).
Ratios: triage's files/s over fls's (target >= 0.5); each hashing contender's MB/s over the CPU
limit with as many processes as it hashes with in parallel (triage and hashdeep: one per core;
hashdeep -j1: one) (target for triage >= 0.9), and over hashdeep's."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DATA, Timing, build_e01, build_ext4, build_ntfs, cpu_limit,  # noqa: E402
                    generate_tree, print_machine, rounds, run, table, warm)

FILES, BYTES, SIGMA, SEED = 100_000, 3_000_000_000, 2.0, 1
TRIAGE = [sys.executable, "-m", "triage"]
ALGOS = ("md5", "md5,sha1,sha256")
CORES = os.cpu_count() or 1
SAMPLE = 20          # the largest files, for icat | md5sum

# The reader and hasher `triage files --hash` uses (TskReader, chunks, digest_stream) on given
# inodes, opened by address: the peer of a loop of `icat | md5sum`, which pays no listing either.
TRIAGE_INODES = """
import sys
from triage.evidence import open_evidence
from triage.evidence.tsk_walk import TskReader
from triage.hashing import chunks, digest_stream
with open_evidence(sys.argv[1]) as ev:
    fs = ev.file_system(ev.volumes[0].index)
    for inode in map(int, sys.argv[2:]):
        f = fs.open_meta(inode=inode)
        with TskReader(f, f.info.meta.size) as r:
            print(digest_stream(chunks(r), ["md5"])["md5"], inode)
"""


# The walk alone, in one process: the file entries `triage files` and `triage scan` consume,
# timed from the first to the last (opening the evidence and writing JSON left out), with the
# compiled lister (an image's: triage/evidence/_tskwalk.c; a folder's, "oslist": _oslist.c)
# or, for comparison, pytsk3's or os.scandir's alone; with the cyclic collector set as every
# triage command sets it.
TRIAGE_WALK = """
import json, sys, time
from triage.cli import collect_rarely
from triage.evidence import folder, open_evidence, tsk_walk
from triage.records import FileEntry
collect_rarely()
if sys.argv[2] == "pytsk3":
    tsk_walk._tskwalk = None
elif sys.argv[2] == "scandir":
    folder._oslist = None
elif (tsk_walk._tskwalk if sys.argv[2] == "compiled" else folder._oslist) is None:
    sys.exit("the compiled lister is not built (apt install libtsk-dev; pip install -e .)")
with open_evidence(sys.argv[1]) as ev:
    start, cpu = time.perf_counter(), time.process_time()
    n = sum(1 for e in ev.entries() if isinstance(e, FileEntry))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"seconds": seconds, "cpu": cpu, "entries": n}))
"""


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies the file count and bytes (default 1: 100,000 files, 3 GB)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each contender (median kept)")
    ap.add_argument("--ntfs", action="store_true", help="also an NTFS image (needs root, FUSE)")
    ap.add_argument("--ewf", action="store_true", help="also the ext4 image as an E01")
    ap.add_argument("--part", choices=("all", "listing"), default="all",
                    help="listing: only the listing and the walk (no hashing, no largest files)")
    args = ap.parse_args(argv)

    files, nbytes = max(100, round(FILES * args.scale)), int(BYTES * args.scale)
    base = DATA / f"listing-s{args.scale:g}"
    base.mkdir(parents=True, exist_ok=True)
    print(f"data in {base}: building if needed ...", flush=True)
    tree = generate_tree(base / "tree", files, nbytes, SIGMA, SEED)
    images = {"ext4": build_ext4(tree, base / "ext4.img")}
    if args.ntfs:
        images["ntfs"] = build_ntfs(tree, base / "ntfs.img")
    out = base / "out"
    out.mkdir(exist_ok=True)

    print("machine:")
    print_machine()
    print(f"command: python benchmarks/evidence_listing.py --scale {args.scale:g} "
          f"--repeat {args.repeat}{' --ntfs' if args.ntfs else ''}{' --ewf' if args.ewf else ''}"
          f"{' --part listing' if args.part == 'listing' else ''}")
    payload = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    print(f"tree: {files:,} files, {payload / 1e9:.2f} GB; images: " +
          ", ".join(f"{k} {p.stat().st_size / 1e9:.2f} GB" for k, p in images.items()))

    folder_listing(tree, args.repeat)
    for fs, image in images.items():
        listed = listing(fs, image, out, args.repeat)
        if args.part == "listing":
            continue
        hashing(fs, image, tree, out, args.repeat, payload, listed)
        largest(fs, image, out, args.repeat)
    if args.ewf:
        ewf(images["ext4"], build_e01(images["ext4"]), out, args.repeat, payload)


def ewf(image: Path, e01: Path, out: Path, repeat: int, payload: int) -> None:
    """What reading through the EWF container costs, libewf's checksum-error checks included
    (a clean image: no chunk is damaged, so no file's extents are ever looked up)."""
    def files(path, name):
        def contender():
            with open(out / name, "wb") as f:
                return run(TRIAGE + ["files", str(path), "--hash", "md5"], stdout=f)
        return contender

    def verify():
        with open(out / "inspect-verify.json", "wb") as f:
            return run(TRIAGE + ["inspect", str(e01), "--verify", "--json"], stdout=f)

    contenders = {"triage files RAW --hash md5": files(image, "files-raw.jsonl"),
                  "triage files E01 --hash md5": files(e01, "files-e01.jsonl"),
                  "triage inspect E01 --verify": verify,
                  "ewfverify -q E01": lambda: run(["ewfverify", "-q", str(e01)])}
    best = rounds(contenders, repeat, lambda name: warm(image if "RAW" in name else e01))
    digests = [sorted((r["path"], r["md5"]) for r in map(json.loads, open(out / name))
                      if "error" not in r) for name in ("files-raw.jsonl", "files-e01.jsonl")]
    info = json.load(open(out / "inspect-verify.json"))
    if digests[0] != digests[1] or info["damaged"] or not info["verification"]["hashes"]["md5"]["match"]:
        sys.exit("benchmark: the E01 does not read as its raw image, or does not verify")
    raw, whole = best["triage files RAW --hash md5"], best["ewfverify -q E01"]
    rows = [[k, t.seconds, t.cores, t.seconds / raw.seconds if "files" in k else "",
             t.seconds / whole.seconds if "files" not in k else ""] for k, t in best.items()]
    print(table(["contender", "seconds", "CPU cores busy", "vs the raw image", "vs ewfverify"],
                rows, f"EWF: the ext4 image as {e01.name} ({e01.stat().st_size / 1e9:.2f} GB, "
                      f"{payload / 1e9:.2f} GB of files)"))


def listing(fs: str, image: Path, out: Path, repeat: int) -> None:
    fls_out, triage_out = out / f"fls-{fs}.txt", out / f"files-{fs}.jsonl"

    def fls():
        with open(fls_out, "wb") as f:
            return run(["fls", "-r", "-p", str(image)], stdout=f)

    def triage():
        with open(triage_out, "wb") as f:
            return run(TRIAGE + ["files", str(image)], stdout=f)

    walked = {}

    def walk(lister):
        return walk_in_process(image, lister, walked)

    def fls_null():
        return run(["fls", "-r", "-p", str(image)])

    best = rounds({"fls -r -p": fls, "triage files": triage, "fls -r -p > /dev/null": fls_null,
                   "triage walk (in process)": walk("compiled"),
                   "triage walk, pytsk3 lister (in process)": walk("pytsk3")},
                  repeat, lambda _: warm(image))
    # Both list every regular file (fls's "r/r" lines, allocated and deleted); the count each
    # printed must agree, or the speeds would not be comparable.
    fls_files = sum(1 for line in open(fls_out, "rb") if line.split(b" ", 1)[0].endswith(b"/r"))
    triage_files = sum(1 for line in open(triage_out, "rb") if b'"error"' not in line)
    if fls_files != triage_files or any(counts != {fls_files} for counts in walked.values()):
        sys.exit(f"benchmark: fls lists {fls_files} files, triage {triage_files}, "
                 f"the walks {walked}")
    rate = {k: fls_files / t.seconds for k, t in best.items()}
    whole = [k for k in best if "in process" not in k and "null" not in k]
    print(table(["tool", "seconds", "files", "files/s", "CPU cores busy", "vs fls"],
                [[k, t.seconds, fls_files, rate[k], t.cores, rate[k] / rate["fls -r -p"]]
                 for k, t in best.items() if k in whole],
                f"Listing, {fs} image (whole commands, JSON written)"))
    peer = best["fls -r -p > /dev/null"]
    print(table(["tool", "seconds", "CPU seconds", "files/s", "files per CPU-second",
                 "vs fls (wall)", "vs fls (CPU)"],
                [[k, t.seconds, t.cpu, fls_files / t.seconds, fls_files / t.cpu,
                  peer.seconds / t.seconds, peer.cpu / t.cpu]
                 for k, t in best.items() if k not in whole],
                f"The walk, {fs} image: entries made in the process (start-up and output left "
                f"out) against the whole of `fls -r -p > /dev/null` (its start-up included) "
                f"(target: >= 0.5x)"))
    return best["triage files"]


def walk_in_process(evidence: Path, lister: str, walked: dict):
    """A contender: TRIAGE_WALK of `evidence` with `lister`, its entry count added to
    walked[lister] (the counts must agree across runs and with the peer)."""
    def timed():
        proc = subprocess.run([sys.executable, "-c", TRIAGE_WALK, str(evidence), lister],
                              capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"benchmark: the walk failed: {proc.stderr[-2000:]}")
        got = json.loads(proc.stdout)
        walked.setdefault(lister, set()).add(got["entries"])
        return Timing(got["seconds"], got["cpu"])
    return timed


def folder_listing(tree: Path, repeat: int) -> None:
    """The walk of a folder: entries made in the process, compiled and by os.scandir, against
    GNU find stat'ing every file (its start-up included, its output to a file)."""
    walked = {}

    def walk(lister):
        return walk_in_process(tree, lister, walked)

    found, listed = set(), tree.parent / "out" / "find-folder.txt"

    def find():
        with open(listed, "wb") as f:
            took = run(["find", str(tree), "-type", "f", "-printf", "%s %i %T@ %A@ %C@\n"],
                       stdout=f)
        found.add(sum(1 for _ in open(listed, "rb")))
        return took

    best = rounds({"find -type f -printf (size, inode, times)": find,
                   "triage walk, compiled lister (in process)": walk("oslist"),
                   "triage walk, os.scandir lister (in process)": walk("scandir")},
                  repeat, lambda _: None)
    if len(found) != 1 or any(counts != found for counts in walked.values()):
        sys.exit(f"benchmark: find lists {found} files, the walks {walked}")
    files = found.pop()
    peer = best["find -type f -printf (size, inode, times)"]
    print(table(["tool", "seconds", "CPU seconds", "files/s", "files per CPU-second",
                 "vs find (wall)", "vs find (CPU)"],
                [[k, t.seconds, t.cpu, files / t.seconds, files / t.cpu,
                  peer.seconds / t.seconds, peer.cpu / t.cpu] for k, t in best.items()],
                f"The walk of the tree as a folder ({files:,} files, metadata in the page "
                f"cache): entries made in the process (start-up left out) against the whole of "
                f"find (its start-up included)"))


def hashing(fs, image, tree, out, repeat, payload, listed) -> None:
    """`listed` is the listing run of triage: what `--hash` adds to it is the hashing alone."""
    contenders, inputs = {}, {}
    for algos in ALGOS:
        def triage(algos=algos):
            with open(out / f"files-{fs}-{algos}.jsonl", "wb") as f:
                return run(TRIAGE + ["files", str(image), "--hash", algos], stdout=f)
        contenders[f"triage files --hash {algos}"] = triage
        inputs[f"triage files --hash {algos}"] = image
        for threads in ("", "1"):
            def hashdeep(algos=algos, threads=threads):
                cmd = ["hashdeep", "-r", "-l", "-c", algos] + (["-j", threads] if threads else [])
                with open(out / f"hashdeep-{algos}-{threads or 'n'}.txt", "wb") as f:
                    return run(cmd + ["."], stdout=f, cwd=tree)
            name = f"hashdeep -c {algos}" + (f" -j{threads}" if threads else "")
            contenders[name] = hashdeep
            inputs[name] = tree
        for n in (1, CORES):
            contenders[f"CPU limit {algos} x{n}"] = lambda a=algos, n=n: cpu_limit(
                a.split(","), payload, n)
    best = rounds(contenders, repeat, lambda name: warm(inputs[name]) if name in inputs else None)
    check_same_md5(out / f"files-{fs}-md5.jsonl", out / "hashdeep-md5-n.txt")
    rows = []
    for name, t in best.items():
        if name.startswith("CPU limit"):
            algos, n = name.split()[2], int(name.split()[3][1:])
            rows.append([f"hashlib in memory, {n} process(es)", algos, t.seconds,
                         payload / t.seconds / 1e6, "", t.cores, 1.0, "", ""])
            continue
        triage = name.startswith("triage")
        algos = name.split()[-1] if triage else name.split()[2]
        # Held against the limit of as many processes as it hashes with: `triage files --hash`
        # runs one worker process per core, hashdeep one thread per core (or -j1).
        parallel = 1 if "-j1" in name else CORES
        limit = best[f"CPU limit {algos} x{parallel}"]
        alone = payload / (t.seconds - listed.seconds) / 1e6 if triage else ""
        # Per CPU-second as well as per wall-second: other work on a shared machine slows the
        # wall clock, but not what each byte costs the CPU.
        rows.append([name, algos, t.seconds, payload / t.seconds / 1e6, alone, t.cores,
                     limit.seconds / t.seconds, (payload / t.cpu) / (payload / limit.cpu),
                     best[f"hashdeep -c {algos}"].seconds / t.seconds])
    print(table(["contender", "digests", "seconds", "MB/s", "MB/s beyond the listing",
                 "CPU cores busy", "vs CPU limit (same processes or threads)",
                 "vs CPU limit per CPU-second", "vs hashdeep"], rows,
                f"Hashing every file, {fs} image (triage) and its source tree (hashdeep), "
                f"{payload / 1e9:.2f} GB (target: triage >= 0.9x the CPU limit)"))


def check_same_md5(triage_jsonl: Path, hashdeep_txt: Path) -> None:
    """Both tools must have hashed the tree's files to the same MD5s. On NTFS triage also lists
    the file system's own files ($MFT, $LogFile, ...), which the tree does not hold: counted,
    and left out of the comparison."""
    ours = {}
    for line in open(triage_jsonl):
        rec = json.loads(line)
        if "error" not in rec:
            ours[rec["path"]] = rec
    theirs = {}
    for line in open(hashdeep_txt):
        if line.startswith(("%", "#")):
            continue
        size, md5, name = line.rstrip("\n").split(",", 2)
        theirs[name[1:]] = md5          # "./d000/..." -> "/d000/..."
    differ = [p for p, md5 in theirs.items() if p not in ours or ours[p]["md5"] != md5]
    if differ:
        sys.exit(f"benchmark: triage and hashdeep disagree on {len(differ)} files, "
                 f"e.g. {differ[:3]}")
    extra = [r for p, r in ours.items() if p not in theirs]
    note = ""
    if extra:
        # "recovered": the bytes really there ($BadClus:$Bad claims the volume's size, holds 0)
        nbytes = sum(r.get("recovered", r["size"]) for r in extra)
        note = (f"; triage also hashed {len(extra)} file-system files the tree does not hold "
                f"({nbytes / 1e6:.0f} MB), not counted in its MB/s")
    print(f"\ncheck: triage (image) and hashdeep (tree) give the same MD5 for all "
          f"{len(theirs):,} files{note}")


def largest(fs: str, image: Path, out: Path, repeat: int) -> None:
    records = [json.loads(line) for line in open(out / f"files-{fs}-md5.jsonl")]
    records = [r for r in records if "error" not in r and ":" not in r["path"]]
    sample = sorted(records, key=lambda r: -r["size"])[:SAMPLE]
    inodes = [str(r["inode"]) for r in sample]
    total = sum(r["size"] for r in sample)
    loop = " ; ".join(f"icat {image} {i} | md5sum" for i in inodes)
    icat_out, triage_out = out / f"icat-{fs}.txt", out / f"inodes-{fs}.txt"

    def icat():
        with open(icat_out, "wb") as f:
            return run(loop, stdout=f, shell=True)

    def triage():
        with open(triage_out, "wb") as f:
            return run([sys.executable, "-c", TRIAGE_INODES, str(image)] + inodes, stdout=f)

    best = rounds({"icat piped to md5sum": icat, "triage reader + md5": triage}, repeat,
                  lambda _: warm(image))
    theirs = sorted(line.split()[0] for line in open(icat_out))
    ours = sorted(line.split()[0] for line in open(triage_out))
    expected = sorted(r["md5"] for r in sample)
    if not theirs == ours == expected:
        sys.exit("benchmark: icat | md5sum and triage disagree on the largest files")
    rows = [[k, t.seconds, total / t.seconds / 1e6, t.cores,
             best["icat piped to md5sum"].seconds / t.seconds] for k, t in best.items()]
    print(table(["tool", "seconds", "MB/s", "CPU cores busy", "vs icat piped to md5sum"], rows,
                f"The {len(sample)} largest files of the {fs} image, {total / 1e6:.0f} MB "
                f"(from {sample[-1]['size'] / 1e6:.1f} MB to {sample[0]['size'] / 1e6:.1f} MB), "
                f"MD5 (same digests checked)"))


if __name__ == "__main__":
    main()
