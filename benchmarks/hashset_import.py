"""Benchmark: `triage hashset import` of the same N entries (default 1 million) written in every
text format triage reads, side by side in one run, each against the md5sum list's time.

    python benchmarks/hashset_import.py [--n 1000000] [--repeat 3] [--workdir DIR]

The sources hold the same MD5s (and, where the format has the column, the same sizes,
categories and file names); NSRL RDS 2 rows also carry the SHA-1 and CRC32 every real RDS row
has. Each import is the real command (`python -m triage hashset import SRC -o SET
--no-progress`), start-up included, in its own process; rounds are interleaved (every format
once a round, so a change in the machine's load hits them all) and the median of `--repeat`
rounds is kept. Reported: wall seconds, CPU seconds, peak memory (the child's own maxrss) and
each format's wall time over the md5sum list's."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, median, print_machine, table, warm  # noqa: E402

CATEGORIES = np.array(["1", "2", "3", "4", "0"])
WEIGHTS = [0.35, 0.25, 0.1, 0.1, 0.2]
STEP = 100_000


def records(n: int, seed: int = 7):
    """Blocks of (md5 hex, sha1 hex, crc32 hex, size, category, name) lists."""
    rng = np.random.default_rng(seed)
    for start in range(0, n, STEP):
        m = min(STEP, n - start)
        md5 = [bytes(d).hex() for d in rng.integers(0, 256, (m, 16), dtype=np.uint8)]
        sha1 = [bytes(d).hex() for d in rng.integers(0, 256, (m, 20), dtype=np.uint8)]
        crc = [f"{c:08X}" for c in rng.integers(0, 1 << 32, m, dtype=np.uint64).tolist()]
        sizes = np.clip(rng.lognormal(12, 1.5, m), 1, 4e9).astype(np.int64).tolist()
        cats = CATEGORIES[rng.choice(len(CATEGORIES), m, p=WEIGHTS)].tolist()
        names = [f"img{start + i:07d}.jpg" for i in range(m)]
        yield md5, sha1, crc, sizes, cats, names


def md5sum(f, block):
    md5, _, _, _, _, names = block
    f.writelines(f"{h}  {n}\n" for h, n in zip(md5, names))


def sha1sum(f, block):
    _, sha1, _, _, _, names = block
    f.writelines(f"{h}  {n}\n" for h, n in zip(sha1, names))


def hashdeep(f, block):
    md5, _, _, sizes, _, names = block
    f.writelines(f"{s},{h},{n}\n" for h, s, n in zip(md5, sizes, names))


def nsrl(f, block):
    md5, sha1, crc, sizes, _, names = block
    f.writelines(f'"{s1.upper()}","{h.upper()}","{c}","{n}",{s},1,"WIN",""\n'
                 for s1, h, c, n, s in zip(sha1, md5, crc, names, sizes))


def csv_table(f, block):
    md5, _, _, sizes, cats, names = block
    f.writelines(f"{h},{s},{c},{n}\n" for h, s, c, n in zip(md5, sizes, cats, names))


def tsv_table(f, block):
    md5, _, _, sizes, cats, names = block
    f.writelines(f"{h}\t{s}\t{c}\t{n}\n" for h, s, c, n in zip(md5, sizes, cats, names))


def hashkeeper(f, block, counter=[4151000]):
    md5, _, _, sizes, _, names = block
    rows = []
    for h, s, n in zip(md5, sizes, names):
        counter[0] += 1
        rows.append(f'{counter[0]},671,"{n}",,"{h.upper()}",{s},,,,,,\n')
    f.writelines(rows)


def vics(f, block, first=[True]):
    md5, _, _, sizes, cats, names = block
    parts = []
    for h, s, c, n in zip(md5, sizes, cats, names):
        parts.append(json.dumps({"MediaID": 0, "Category": int(c), "MD5": h, "MediaSize": s,
                                 "IsPrecategorized": True, "MediaFiles": [{"FileName": n}]}))
    if not first[0]:
        f.write(",\n")
    first[0] = False
    f.write(",\n".join(parts))


FORMATS = {
    # name: (file name, head, writer, tail)
    "md5sum": ("list.md5", "", md5sum, ""),
    "sha1sum": ("list.sha1", "", sha1sum, ""),
    "hashdeep": ("list.hashdeep", "%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n", hashdeep, ""),
    "NSRL RDS 2": ("NSRLFile.txt", '"SHA-1","MD5","CRC32","FileName","FileSize","ProductCode",'
                   '"OpSystemCode","SpecialCode"\n', nsrl, ""),
    "CSV": ("list.csv", "md5,size,category,name\n", csv_table, ""),
    "TSV": ("list.tsv", "md5\tsize\tcategory\tname\n", tsv_table, ""),
    "HashKeeper": ("Z00001.hsh", '"file_id","hashset_id","file_name","directory","hash",'
                   '"file_size","date_modified","time_modified","time_zone","comments",'
                   '"date_accessed","time_accessed"\n', hashkeeper, ""),
    "VICS JSON": ("list.json", '{"@odata.context":"http://github.com/VICSDATAMODEL/ProjectVic/'
                  'DataModels/2.0.xml/Default/$metadata#Media","value":[\n', vics, "\n]}\n"),
}


def generate(workdir: Path, n: int) -> dict:
    stamp = workdir / "sources.json"
    paths = {name: workdir / spec[0] for name, spec in FORMATS.items()}
    if stamp.exists() and json.loads(stamp.read_text()) == {"n": n, "version": 2} \
            and all(p.exists() for p in paths.values()):
        return paths
    workdir.mkdir(parents=True, exist_ok=True)
    files = {name: open(paths[name], "w", encoding="utf-8") for name in FORMATS}
    for name, (_, head, _, _) in FORMATS.items():
        files[name].write(head)
    for block in records(n):
        for name, (_, _, writer, _) in FORMATS.items():
            writer(files[name], block)
    for name, (_, _, _, tail) in FORMATS.items():
        files[name].write(tail)
        files[name].close()
    stamp.write_text(json.dumps({"n": n, "version": 2}))
    return paths


# What is timed: each format's source, and the md5sum and sha1sum lists together, the peer of
# NSRL RDS 2 (whose every row holds an MD5 and a SHA-1: twice the entries of the others).
PEERS = {"md5sum + sha1sum": ("md5sum", "sha1sum")}


def timed_import(sources, out: Path):
    """(wall s, CPU s, peak MiB, entries) of one `triage hashset import`, the child's own
    rusage (wait4), so each run's peak memory is its own."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "triage", "hashset", "import",
                                 *map(str, sources), "-o", str(out), "--no-progress",
                                 "--json"],
                                stdout=stdout, stderr=stderr, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        if proc.returncode != 0:
            sys.exit(f"benchmark: import of {sources} failed ({proc.returncode}): "
                     f"{stderr.read()[-2000:]}")
        info = json.loads(stdout.read())
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, info["entries"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/triage-import-bench"))
    parser.add_argument("--only", help="comma-separated formats to run (md5sum always runs)")
    args = parser.parse_args()
    paths = generate(args.workdir, args.n)
    sources = {name: [paths[name]] for name in FORMATS if name != "sha1sum"}
    sources.update({peer: [paths[x] for x in parts] for peer, parts in PEERS.items()})
    names = list(sources)
    if args.only:
        wanted = {x.strip() for x in args.only.split(",")} | {"md5sum"}
        names = [x for x in names if x in wanted]
    print(f"hashset import, {args.n:,} records per source, median of {args.repeat} rounds")
    print_machine()
    walls = {name: [] for name in names}
    cpus = {name: [] for name in names}
    peaks = {name: [] for name in names}
    entries = {}
    out = args.workdir / "out.tset"
    for _ in range(args.repeat):
        for name in names:
            warm(*sources[name])
            wall, cpu, peak, entries[name] = timed_import(sources[name], out)
            walls[name].append(wall)
            cpus[name].append(cpu)
            peaks[name].append(peak)
    base = median(walls["md5sum"])
    rows = []
    for name in names:
        wall = median(walls[name])
        size = sum(p.stat().st_size for p in sources[name]) / 1e6
        rows.append([name, size, entries[name], wall, median(cpus[name]), max(peaks[name]),
                     f"{wall / base:.2f}x"])
    print(table(["source", "MB", "entries", "import s", "CPU s", "peak MiB", "vs md5sum"],
                rows))
    if "NSRL RDS 2" in names and "md5sum + sha1sum" in names:
        ratio = median(walls["NSRL RDS 2"]) / median(walls["md5sum + sha1sum"])
        print(f"\nNSRL RDS 2 against the same MD5s and SHA-1s as md5sum + sha1sum lists: "
              f"{ratio:.2f}x")

if __name__ == "__main__":
    main()
