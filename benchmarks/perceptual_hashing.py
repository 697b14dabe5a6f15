"""Hashing speed on the photo corpus: triage's bounded decode + hash against the plain
libraries, side by side in one run, with a check that the values are the same.

    pip install -r benchmarks/requirements.txt
    python benchmarks/perceptual_hashing.py [--rounds 5] [--camera]

Rows:
  * plain `imagehash.phash(Image.open(f))` vs `triage.signals.perceptual.PHASH.compute(decode(f))`
  * plain `pdqhash.compute(np.asarray(Image.open(f).convert("RGB")))` vs `PDQ.compute(decode(f))`
  * the whole query of `triage scan` (scanners.perceptual.query_hashes: PDQ x 8 dihedral and
    pHash, on the image, its unletterboxed form and 4 central regions), for what a scan pays
  * Pillow's reduced-size JPEG decoding (`draft`), which the issue asks about: its speed and
    how far it moves PDQ (it is not used: see docs/perceptual.md).

`--camera`: the same rows on the photos enlarged to a long side of 4000 px (JPEG q90), what a
phone or camera writes; the corpus photos themselves are small."""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perceptual_corpus import photos  # noqa: E402

from triage import imaging  # noqa: E402
from triage.scanners.perceptual import query_hashes  # noqa: E402
from triage.signals.perceptual import PDQ, PHASH  # noqa: E402


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
    return len(query_hashes(imaging.decode(data), {"pdq", "phash"}))


def draft_pdq(data):
    image = Image.open(io.BytesIO(data))
    if image.format == "JPEG":
        image.draft("RGB", (256, 256))   # DCT-domain scaling by 1/2, 1/4 or 1/8
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--camera", action="store_true",
                        help="enlarge every photo to a long side of 4000 px first")
    args = parser.parse_args(argv)
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
                  "triage scan query (pdq+phash, all forms)": triage_query,
                  "pdqhash with JPEG draft": draft_pdq}, files, args.rounds)

    print("| what | images/s | vs plain library | same values |")
    print("|---|---|---|---|")
    rows = (("plain imagehash.phash", "plain imagehash.phash", "-"),
            ("triage phash", "plain imagehash.phash", same_phash),
            ("plain pdqhash.compute", "plain pdqhash.compute", "-"),
            ("triage pdq", "plain pdqhash.compute", same_pdq),
            ("triage scan query (pdq+phash, all forms)", "plain pdqhash.compute", "-"),
            ("pdqhash with JPEG draft", "plain pdqhash.compute", "-"))
    for name, base, same in rows:
        print(f"| {name} | {rate[name]:.1f} | {rate[name] / rate[base]:.2f}x | {same} |")

    jpegs = [d for d in files if Image.open(io.BytesIO(d)).format == "JPEG"]
    moved = [PDQ.distance(plain_pdq(d), draft_pdq(d)) for d in jpegs]
    print(f"\nJPEG draft moved PDQ by {min(moved)}..{max(moved)} bits (median "
          f"{statistics.median(moved)}) over {len(jpegs)} JPEGs.")


if __name__ == "__main__":
    main()
