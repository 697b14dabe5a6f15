"""Perceptual scan throughput (issue 11): `triage scan FOLDER` against the physical limit measured
in the same run, and against Meta's python-threatexchange on the same queries.

    pip install -r benchmarks/requirements.txt          # the photo corpus, threatexchange
    python benchmarks/perceptual_scan.py [--repeat 3] [--part jpegs,corpus,camera,e01,build]

Data (built once under $TRIAGE_BENCH_DATA/perceptual-v1, default /work/bench-data; nothing in
git): the 29 photos of the offline corpus (perceptual_corpus.py), each in 8 forms: JPEG q90 and
q75, turned 90 degrees clockwise, mirrored, letterboxed (black bars, 12% top and bottom),
cropped 5% a side, half size, and lossless (PNG for even photos, HEIC for odd ones): 232 files.
  * corpus: the photos at their own sizes (200 to 1411 px a side);
  * camera: the photos first enlarged to a long side of 4000 px (12 MP), then the same 8 forms;
  * e01: the camera folder in an ext4 file system (mkfs.ext4 -d) acquired as E01 (ewfacquire).

  * jpegs: the issue's first case, 60 JPEGs of 12 MP (the 27 photos other than the references
    enlarged to a long side of 4000 px, each saved at one of q60, q65, ... q90): no positive,
    the query's cost alone (a hit also costs its canonical values for the report, ~0.3 s of
    CPU at 12 MP: the camera part has 16 positives in 232).

Two of the photos are the references: their 16 files are the positives, the other 216 must
not match. Sets (the same for every contender that takes them):
  * built: `triage hashset build` on the two reference photos as they ship (pdq, phash), plus an
    imported filler of 10,000 random pdq+phash entries, plus 1,000,000 random MD5s with sizes
    (hashdeep format: the size prefilter applies, as with NSRL);
  * whole: the references' whole-image PDQ only (from `triage hash`), among 10,000 random
    PDQs, imported (what IWF/VICS/ThreatExchange exports hold), plus the same MD5s.

Contenders, interleaved round by round, the median of `--repeat` runs kept:
  * limit: Pillow's reduced JPEG decoding (`draft`, 1/8 scale) + one `pdqhash.compute` of each
    file, read from the folder, in one process per core: what the hardware can do for the
    cheapest PDQ of every picture. "limit, grey" does the same with a grey DCT-domain decode,
    which triage's query uses.
  * triage scan with each set; "beyond start-up" takes out the run of the same scan on an
    empty folder (loading 1 M MD5s and the workers' start), the rate a long scan settles at.
  * threatexchange: `PdqSignal.hash_from_file` + `PDQIndex.query` per file, as its `match`
    command does (upright only), in one process as the command runs, and in one per core;
    with `--rotations` (8 re-encoded rotations each), on a sample.

Every run checks what it found against the positives: recall and false matches are printed
beside the speed. The machine is shared and loaded: absolute rates move between runs, the
ratios within a run much less."""

from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DATA, Timing, build_e01, build_ext4, machine, rounds, run,  # noqa: E402
                    table, warm)
from perceptual_corpus import photos  # noqa: E402

TRIAGE = [sys.executable, "-m", "triage"]
CORES = os.cpu_count() or 1
REFERENCES = ("skimage/chelsea.png", "vectors/image3.jpg")
FILLER, MD5S = 10_000, 1_000_000
CAMERA_SIDE = 4000
FORMS = ("q90", "q75", "rot90", "mirror", "letterbox", "crop5", "half", "lossless")
JPEGS, JPEG_QUALITIES = 60, (60, 65, 70, 75, 80, 85, 90)
VERSION = 1


# --- data ------------------------------------------------------------------------------------

def _save(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def forms(image: Image.Image, index: int) -> Dict[str, bytes]:
    """The 8 files a photo is scanned as, by form name (with its file suffix)."""
    image = image.convert("RGB")
    w, h = image.size
    bar = round(h * 0.12)
    boxed = Image.new("RGB", (w, h + 2 * bar))
    boxed.paste(image, (0, bar))
    dx, dy = round(w * 0.05), round(h * 0.05)
    import pillow_heif
    pillow_heif.register_heif_opener()
    lossless = ("lossless.png", _save(image, "PNG")) if index % 2 == 0 else \
        ("lossless.heic", _save(image, "HEIF", quality=90))
    return dict([
        ("q90.jpg", _save(image, "JPEG", quality=90)),
        ("q75.jpg", _save(image, "JPEG", quality=75)),
        ("rot90.jpg", _save(image.transpose(Image.Transpose.ROTATE_270), "JPEG", quality=90)),
        ("mirror.jpg", _save(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "JPEG",
                             quality=85)),
        ("letterbox.jpg", _save(boxed, "JPEG", quality=90)),
        ("crop5.jpg", _save(image.crop((dx, dy, w - dx, h - dy)), "JPEG", quality=90)),
        ("half.jpg", _save(image.resize((w // 2, h // 2), Image.LANCZOS), "JPEG", quality=90)),
        lossless,
    ])


def camera(image: Image.Image) -> Image.Image:
    scale = CAMERA_SIDE / max(image.size)
    return image.convert("RGB").resize((round(image.width * scale), round(image.height * scale)),
                                       Image.LANCZOS)


def stem(name: str) -> str:
    return name.replace("/", "_").rsplit(".", 1)[0]


def build_folders(base: Path) -> Dict[str, Path]:
    """The corpus and camera folders, and the references folder; built once (a stamp)."""
    stamp = base / "folders.json"
    folders = {"corpus": base / "corpus", "camera": base / "camera", "refs": base / "refs",
               "empty": base / "empty"}
    if stamp.exists() and json.loads(stamp.read_text()) == {"version": VERSION}:
        return folders
    for path in folders.values():
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
    corpus = photos()
    for index, (name, data) in enumerate(corpus.items()):
        if name in REFERENCES:
            (folders["refs"] / f"{stem(name)}.{name.rsplit('.', 1)[1]}").write_bytes(data)
        image = Image.open(io.BytesIO(data))
        for kind, source in (("corpus", image), ("camera", camera(image))):
            for form, encoded in forms(source, index).items():
                (folders[kind] / f"{stem(name)}-{form}").write_bytes(encoded)
        print(f"  {index + 1}/{len(corpus)} photos", end="\r", flush=True)
    stamp.write_text(json.dumps({"version": VERSION}))
    return folders


def build_jpegs(base: Path) -> Path:
    """The `jpegs` folder: JPEGS camera-size JPEGs, photo i % 27 at quality i % 7 (27 and 7
    share no factor, so no file repeats another); built once (a stamp)."""
    folder, stamp = base / "jpegs", base / "jpegs.json"
    made = {"version": VERSION, "photos": "all but the references"}
    if stamp.exists() and json.loads(stamp.read_text()) == made:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    corpus = [(name, data) for name, data in photos().items() if name not in REFERENCES]
    enlarged = {}
    for i in range(JPEGS):
        name, data = corpus[i % len(corpus)]
        if name not in enlarged:
            enlarged[name] = camera(Image.open(io.BytesIO(data)))
        quality = JPEG_QUALITIES[i % len(JPEG_QUALITIES)]
        (folder / f"{stem(name)}-q{quality}.jpg").write_bytes(
            _save(enlarged[name], "JPEG", quality=quality))
    stamp.write_text(json.dumps(made))
    return folder


def positives(folder: Path) -> set:
    return {p.name for p in folder.iterdir() if any(p.name.startswith(stem(r) + "-")
                                                   for r in REFERENCES)}


def build_sets(base: Path, refs: Path) -> Dict[str, Path]:
    """The compiled sets (compiled afresh each run: the store format may have moved on)."""
    rng = np.random.default_rng(11)
    sets = {}
    filler = base / "filler.csv"
    with open(filler, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["pdq", "phash", "category"])
        for _ in range(FILLER):
            out.writerow([rng.bytes(32).hex(), rng.bytes(8).hex(), "3"])
    md5 = base / "md5.hashdeep"
    if not md5.exists():
        with open(md5, "w") as f:
            f.write("%%%% HASHDEEP-1.0\n%%%% size,md5,filename\n## benchmark set\n")
            sizes = np.clip(rng.lognormal(12, 1.5, MD5S), 1, 4e9).astype(np.int64)
            digests = rng.integers(0, 256, (MD5S, 16), dtype=np.uint8)
            f.writelines(f"{s},{bytes(d).hex()},known/{i:07d}.jpg\n"
                         for i, (s, d) in enumerate(zip(sizes.tolist(), digests)))
    hashed = subprocess.run(TRIAGE + ["hash", "--signal", "pdq", "--json",
                                      *map(str, sorted(refs.iterdir()))],
                            capture_output=True, text=True, check=True).stdout
    whole = base / "whole.csv"
    reference_pdq = [json.loads(line)["pdq"] for line in hashed.splitlines()]
    with open(whole, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["pdq", "category"])
        out.writerows([p, "1"] for p in reference_pdq)
        out.writerows([rng.bytes(32).hex(), "3"] for _ in range(FILLER))
    for name, source in (("filler", filler), ("md5", md5), ("whole", whole)):
        sets[name] = base / f"{name}.tset"
        sets[name].unlink(missing_ok=True)
        run(TRIAGE + ["hashset", "import", str(source), "-o", str(sets[name])])
    sets["built"] = base / "built.tset"
    sets["built"].unlink(missing_ok=True)
    run(TRIAGE + ["hashset", "build", str(refs), "-o", str(sets["built"]), "--signal",
                  "pdq,phash", "--category", "1"])
    sets["reference_pdq"] = reference_pdq
    return sets


# --- contenders ------------------------------------------------------------------------------

def _limit_one(args) -> int:
    path, grey = args
    import pdqhash
    import pillow_heif
    pillow_heif.register_heif_opener()   # the lossless share: PNG and HEIC, decoded whole
    image = Image.open(path)
    if image.format == "JPEG":
        image.draft("L" if grey else "RGB", (image.width // 8, image.height // 8))
    image = image.convert("L" if grey else "RGB")
    pixels = np.asarray(image)
    if grey:
        pixels = np.repeat(pixels[:, :, None], 3, axis=2)
    return int(pdqhash.compute(pixels)[1])


def limit(files: List[Path], grey: bool = False) -> Timing:
    """The physical limit: reduced decode + one pdqhash.compute a file, a process per core."""
    ctx = mp.get_context("fork")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    pool = ctx.Pool(CORES)
    pool.map(int, range(CORES))           # started: only the work is timed
    start = time.perf_counter()
    pool.map(_limit_one, [(str(p), grey) for p in files], chunksize=4)
    seconds = time.perf_counter() - start
    pool.close()
    pool.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Timing(seconds, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


TE_SCRIPT = r"""
import json, sys, time, pathlib
from concurrent.futures import ProcessPoolExecutor
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.pdq.pdq_index import PDQIndex
from threatexchange.content_type.photo import PhotoContent
hashes, files, processes, rotations = json.loads(sys.stdin.read())
index = PDQIndex([(h, i) for i, h in enumerate(hashes)])
def upright(path):
    try:
        h = PdqSignal.hash_from_file(pathlib.Path(path))
    except Exception:   # a picture its Pillow cannot open (HEIC: no plugin registered)
        return False
    return bool(h) and bool(index.query(h))
def turned(path):
    # as match_cmd._match_file with rotations=True: every simple rotation re-encoded and hashed
    try:
        rotated = PhotoContent.all_simple_rotations(pathlib.Path(path).read_bytes())
    except Exception:
        return False
    found = False
    for data in rotated.values():
        h = PdqSignal.hash_from_bytes(data)
        found = found or (bool(h) and bool(index.query(h)))
    return found
task = turned if rotations else upright
start = time.perf_counter()
if processes == 1:
    found = [task(f) for f in files]
else:
    with ProcessPoolExecutor(processes) as pool:
        found = list(pool.map(task, files, chunksize=4))
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "found": [f for f, ok in zip(files, found) if ok]}))
"""


def threatexchange(hashes: List[str], files: List[Path], processes: int = 1,
                   rotations: bool = False) -> tuple:
    """(Timing of the hashing and matching alone, names found) for threatexchange's PDQ."""
    before = os.times()
    proc = subprocess.run([sys.executable, "-c", TE_SCRIPT], input=json.dumps(
        [hashes, [str(f) for f in files], processes, rotations]), capture_output=True,
        text=True)
    if proc.returncode:
        sys.exit(f"benchmark: threatexchange failed: {proc.stderr[-2000:]}")
    after = os.times()
    out = json.loads(proc.stdout)
    cpu = (after.children_user - before.children_user) + (after.children_system -
                                                          before.children_system)
    return Timing(out["seconds"], cpu), {Path(f).name for f in out["found"]}


def scan(evidence: Path, sets: List[Path], outdir: Path) -> Timing:
    """A timed `triage scan`; exit 3 (some file not read) is reported, not fatal."""
    shutil.rmtree(outdir, ignore_errors=True)
    args = TRIAGE + ["scan", str(evidence), "-o", str(outdir), "-q", "--format", "json"]
    for s in sets:
        args += ["--hashset", str(s)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1, 3):
        sys.exit(f"benchmark: {' '.join(args)} failed ({proc.returncode}): "
                 f"{proc.stderr.decode()[-2000:]}")
    return Timing(seconds, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)


def scan_found(outdir: Path) -> set:
    report = json.loads((outdir / "report.json").read_text())
    return {Path(hit["path"]).name for hit in report["hits"]
            if any(m["signal"] in ("pdq", "phash") for m in hit["matches"])}, report


# --- the run ---------------------------------------------------------------------------------

def side_by_side(kind: str, folder: Path, evidence: Path, sets: dict, base: Path, repeat: int,
                 empty: Path, te_rotations: int, te: bool = True) -> None:
    files = sorted(p for p in folder.iterdir() if p.is_file())
    truth = positives(folder)
    n = len(files)
    out = base / "out"
    te_hashes = sets["reference_pdq"] + [line.split(",")[0] for line in open(
        base / "whole.csv").read().splitlines()[1 + len(sets["reference_pdq"]):]]
    set_lists = {"built set": [sets["built"], sets["filler"], sets["md5"]],
                 "whole-image PDQ set": [sets["whole"], sets["md5"]]}
    contenders, found, inputs = {}, {}, {}
    contenders["limit: draft + pdqhash, 1 process a core"] = lambda: limit(files)
    contenders["limit, grey decode"] = lambda: limit(files, grey=True)
    for label, chosen in set_lists.items():
        name = f"triage scan, {label}"
        target = out / f"{kind}-{label.split()[0]}"
        contenders[name] = lambda c=chosen, t=target: scan(evidence, c, t)
        contenders[f"{name}, empty folder"] = lambda c=chosen, t=target: scan(
            empty, c, t.with_name(t.name + "-empty"))
        found[name] = target
        inputs[name] = (evidence, *chosen)
    te_found = {}

    def run_te(processes):
        timing, te_found[processes] = threatexchange(te_hashes, files, processes)
        return timing
    if te:
        contenders["threatexchange match (upright), 1 process"] = lambda: run_te(1)
        contenders["threatexchange match (upright), 1 process a core"] = lambda: run_te(CORES)
    best = rounds(contenders, repeat, lambda name: warm(*inputs.get(name, (evidence,))))

    rows = []
    limit_rate = n / best["limit: draft + pdqhash, 1 process a core"].seconds
    for name, t in best.items():
        if name.endswith("empty folder"):
            continue
        rate = n / t.seconds
        beyond = ""
        recall = extra = ""
        cpu = t.cpu / n * 1000
        if name.startswith("triage scan"):
            startup = best[f"{name}, empty folder"]
            beyond = n / max(t.seconds - startup.seconds, 1e-9)
            cpu = (t.cpu - startup.cpu) / n * 1000
            got, report = scan_found(found[name])
            recall, extra = len(got & truth), len(got - truth)
            if report["summary"].get("errors"):
                print(f"  note: {name}: {report['summary']['errors']} error records")
        elif name.startswith("threatexchange"):
            got = te_found[CORES if "a core" in name else 1]
            recall, extra = len(got & truth), len(got - truth)
        shown = beyond if beyond != "" else rate
        rows.append([name, t.seconds, rate, beyond, shown / limit_rate, t.cores, cpu,
                     f"{recall}/{len(truth)}" if recall != "" else "", extra])
    if te and te_rotations:
        sample = [f for f in files if f.name in truth][:te_rotations // 2] + \
            [f for f in files if f.name not in truth][:te_rotations - te_rotations // 2]
        t, got = threatexchange(te_hashes, sample, 1, rotations=True)
        in_sample = {f.name for f in sample} & truth
        rows.append([f"threatexchange match --rotations, 1 process ({len(sample)} files)",
                     t.seconds, len(sample) / t.seconds, "", len(sample) / t.seconds / limit_rate,
                     t.cores, t.cpu / len(sample) * 1000,
                     f"{len(got & in_sample)}/{len(in_sample)}",
                     len(got - truth)])
    print(table(["contender", "seconds", "images/s", "images/s beyond start-up",
                 "vs limit", "CPU cores busy", "CPU ms an image (scans: beyond start-up)",
                 "positives found",
                 "false matches"], rows,
                f"{kind}: {n} files, {sum(f.stat().st_size for f in files) / 1e6:.0f} MB, "
                f"{len(truth)} positives"))
    for name in found:
        got, _ = scan_found(found[name])
        missed = sorted(truth - got)
        if missed:
            print(f"  {name} missed: {', '.join(missed)}")


def build_rate(folder: Path, base: Path, repeat: int) -> None:
    """`hashset build` (default signals: md5, sha1, sha256, pdq, phash) on a folder, and what
    100,000 such pictures would take at that rate."""
    files = [p for p in folder.iterdir() if p.is_file()]
    out = base / "build-rate.tset"

    def build():
        out.unlink(missing_ok=True)
        return run(TRIAGE + ["hashset", "build", str(folder), "-o", str(out)])
    best = rounds({"build": build}, repeat, lambda _: warm(folder))["build"]
    rate = len(files) / best.seconds
    import pillow_heif
    pillow_heif.register_heif_opener()   # to read the HEIC share's size
    mpx = sum(np.prod(Image.open(f).size) for f in files) / len(files) / 1e6
    print(table(["folder", "pictures", "mean Mpx", "seconds", "pictures/s", "CPU cores busy",
                 "100,000 pictures (extrapolated)"],
                [[folder.name, len(files), mpx, best.seconds, rate, best.cores,
                  f"{100_000 / rate / 60:.0f} min"]],
                f"hashset build, {folder.name}"))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--part", default="jpegs,corpus,camera,e01,build")
    ap.add_argument("--te-rotations", type=int, default=16,
                    help="files in the threatexchange --rotations sample (0: none)")
    ap.add_argument("--no-threatexchange", action="store_true",
                    help="leave threatexchange out (it runs ~1 image/s at 12 MP)")
    args = ap.parse_args(argv)
    parts = set(args.part.split(","))
    base = DATA / f"perceptual-v{VERSION}"
    base.mkdir(parents=True, exist_ok=True)
    print(f"data in {base}: building if needed ...", flush=True)
    folders = build_folders(base)
    if "jpegs" in parts:
        folders["jpegs"] = build_jpegs(base)
    sets = build_sets(base, folders["refs"])
    print("machine:")
    for key, value in machine().items():
        if key in ("cpu", "memory", "python"):
            print(f"  {key}: {value}")
    print(f"  load average at start: {os.getloadavg()[0]:.1f}")
    print(f"command: python benchmarks/perceptual_scan.py --repeat {args.repeat} --part "
          f"{args.part}\n")
    for kind in ("jpegs", "corpus", "camera"):
        if kind in parts:
            side_by_side(kind, folders[kind], folders[kind], sets, base, args.repeat,
                         folders["empty"], args.te_rotations, not args.no_threatexchange)
    if "e01" in parts:
        image = build_ext4(_stamped(folders["camera"]), base / "camera-ext4.img")
        e01 = build_e01(image)
        side_by_side("camera, E01 (ext4)", folders["camera"], e01, sets, base, args.repeat,
                     folders["empty"], 0, not args.no_threatexchange)
    if "build" in parts:
        for kind in ("corpus", "camera"):
            build_rate(folders[kind], base, args.repeat)


def _stamped(folder: Path) -> Path:
    """common.build_ext4 rebuilds from a source's stamp: the folder's own."""
    stamp = folder.with_name(folder.name + ".json")
    stamp.write_text(json.dumps({"version": VERSION}))
    return folder


if __name__ == "__main__":
    main()
