"""Hashing speed and fidelity on the photo corpus: triage's canonical values against the plain
libraries (same values, speed, memory), the scan's query from block means against the
physical limit, and how many bits the query's fast path moves each hash.

    pip install -r benchmarks/requirements.txt
    python benchmarks/perceptual_hashing.py [--rounds 5] [--camera]

Speed rows, one process, the functions taking turns within each round (median of rounds):
  * plain `imagehash.phash(Image.open(f))` vs `PHASH.compute(decode(f))` (canonical)
  * plain `pdqhash.compute(np.asarray(Image.open(f).convert("RGB")))` vs `PDQ.compute(decode(f))`
    (canonical: signals/pdq.py, bit for bit pdqhash's, in strips)
  * the scan's query (scanners.perceptual.query: decode as block means, PDQ in 8 rotations and
    flips, pHash, central region), and PDQ alone
  * the limit: Pillow's reduced JPEG decoding (`draft`, 1/8 scale) + one `pdqhash.compute`.

Fidelity: per variant, the distance between the query's hash and the canonical hash of the
picture turned that way (PDQ) or as found (pHash), over every photo: max and median.

`--camera`: the photos enlarged to a long side of 4000 px (JPEG q90), what a phone or camera
writes; the corpus photos themselves are small (200 to 1411 px a side)."""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perceptual_corpus import photos  # noqa: E402

from triage import imaging  # noqa: E402
from triage.scanners.perceptual import query  # noqa: E402
from triage.signals.pdq import DIHEDRAL  # noqa: E402
from triage.signals.perceptual import PDQ, PHASH  # noqa: E402
from triage.workers import one_math_thread  # noqa: E402

TURNS = dict(zip(DIHEDRAL, (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180,
                            Image.Transpose.ROTATE_270, Image.Transpose.FLIP_TOP_BOTTOM,
                            Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.TRANSPOSE,
                            Image.Transpose.TRANSVERSE)))


def plain_phash(data):
    return str(imagehash.phash(Image.open(io.BytesIO(data))))


def triage_phash(data):
    return PHASH.compute(imaging.decode(data)).value


def plain_pdq(data):
    bits, quality = pdqhash.compute(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def triage_pdq(data):
    return PDQ.compute(imaging.decode(data)).value


def triage_query(data):
    return len(query(data, {"pdq", "phash"}))


def triage_query_pdq(data):
    return len(query(data, {"pdq"}, central=False))


def limit(data):
    image = Image.open(io.BytesIO(data))
    if image.format == "JPEG":
        image.draft("RGB", (image.width // 8, image.height // 8))   # DCT-domain scaling
    bits, _ = pdqhash.compute(np.asarray(image.convert("RGB")))
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def camera_size(data: bytes) -> bytes:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    scale = 4000 / max(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)),
                         Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def rates(functions, files, rounds):
    """Images a second for each function: the median of `rounds` passes over every file, the
    functions taking turns within each round so that all see the same machine load."""
    times = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            started = time.perf_counter()
            for data in files:
                function(data)
            times[name].append(time.perf_counter() - started)
    return {name: len(files) / statistics.median(t) for name, t in times.items()}


def peak_memory(function, data) -> float:
    """MB of Python and numpy memory at the peak of one call (the picture's own pixels,
    held by Pillow in C, are not counted)."""
    image = imaging.decode(data)
    tracemalloc.start()
    try:
        function(image)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def moved(files):
    """variant -> distances between the query's hash and the canonical one, over the files."""
    out = {v: [] for v in ("pdq original", *(f"pdq {v}" for v in DIHEDRAL), "phash original")}
    for data in files:
        full = imaging.decode(data)
        found = {(h.signal, h.variant): h.value for h in query(data, {"pdq", "phash"})}
        out["pdq original"].append(PDQ.distance(found["pdq", "original"],
                                                PDQ.compute(full).value))
        for variant, turn in TURNS.items():
            out[f"pdq {variant}"].append(PDQ.distance(found["pdq", variant],
                                                      PDQ.compute(full.transpose(turn)).value))
        out["phash original"].append(PHASH.distance(found["phash", "original"],
                                                    PHASH.compute(full).value))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--camera", action="store_true",
                        help="enlarge every photo to a long side of 4000 px first")
    args = parser.parse_args(argv)
    one_math_thread()   # one process against one-threaded pdqhash, as each scan worker runs
    corpus = photos()
    files = list(corpus.values())
    if args.camera:
        files = [camera_size(d) for d in files]
    megapixels = sum(np.prod(Image.open(io.BytesIO(d)).size) for d in files) / 1e6
    print(f"# {len(files)} photos, {megapixels:.1f} megapixels in all; median of "
          f"{args.rounds} rounds, one process\n")

    same_phash = all(plain_phash(d) == triage_phash(d) for d in files)
    same_pdq = all(plain_pdq(d) == triage_pdq(d) for d in files)
    rate = rates({"plain imagehash.phash": plain_phash, "triage phash": triage_phash,
                  "plain pdqhash.compute": plain_pdq, "triage pdq": triage_pdq,
                  "limit: draft 1/8 + pdqhash.compute": limit,
                  "triage scan query (pdq x 8, phash, central)": triage_query,
                  "triage scan query (pdq x 8)": triage_query_pdq}, files, args.rounds)

    print("| what | images/s | vs plain library | vs limit | same values |")
    print("|---|---|---|---|---|")
    base = {"phash": "plain imagehash.phash", "pdq": "plain pdqhash.compute"}
    same = {"triage phash": same_phash, "triage pdq": same_pdq}
    for name, value in rate.items():
        plain = base["phash"] if "phash" in name and "query" not in name else base["pdq"]
        print(f"| {name} | {value:.1f} | {value / rate[plain]:.2f}x | "
              f"{value / rate['limit: draft 1/8 + pdqhash.compute']:.2f}x | "
              f"{same.get(name, '-')} |")

    largest = max(files, key=lambda d: np.prod(Image.open(io.BytesIO(d)).size))
    size = Image.open(io.BytesIO(largest)).size
    print(f"\nPeak memory of one PDQ of the largest picture ({size[0]}x{size[1]}): "
          f"pdqhash.compute {peak_memory(lambda im: pdqhash.compute(np.asarray(im)), largest):.0f}"
          f" MB, triage's canonical {peak_memory(PDQ.compute, largest):.0f} MB "
          f"(the decoded picture itself, held by Pillow, not counted)")

    print("\nBits the query's fast path moves each hash (against the canonical value of the "
          "picture so turned):\n")
    print("| hash | max | median | mean |")
    print("|---|---|---|---|")
    for variant, distances in moved(files).items():
        print(f"| {variant} | {max(distances)} | {statistics.median(distances):g} | "
              f"{statistics.mean(distances):.1f} |")


if __name__ == "__main__":
    main()
