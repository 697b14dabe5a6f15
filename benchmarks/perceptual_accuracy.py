"""Robustness and accuracy of the perceptual signals: recall per transform at each signal's
radius, false matches among distinct images, and a ROC plot.

    pip install -r benchmarks/requirements.txt
    python benchmarks/perceptual_accuracy.py [--photos N] [--plot docs/perceptual_roc.png]

Positives: every photo of the offline corpus (benchmarks/perceptual_corpus.py), transformed,
encoded and decoded again, queried the way `triage scan` queries (scanners.perceptual:
dihedral PDQ, unletterboxed and central forms) against the untouched photo's hash. Two kinds
of set are measured: "plain" holds the whole-image hash only (sets imported from elsewhere);
"built" also holds the central regions (reference_hashes, as a set built from reference
images can). "bare" is the plain library on the transformed image alone, for comparison.

Negatives: every pair of distinct images among the photos and the non-overlapping tiles cut
from them (a photo and its own tiles are not a pair), queried the same way."""

from __future__ import annotations

import argparse
import io
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perceptual_corpus import photos  # noqa: E402

from triage import imaging, signals  # noqa: E402
from triage.scanners import perceptual  # noqa: E402
from triage.scanners.perceptual import reference_hashes  # noqa: E402

SIGNALS = ["pdq", "phash", "dhash", "ahash", "whash", "phash256", "dhash256", "ahash256",
           "whash256"]
TILES = 3   # a 3 x 3 grid of distractor tiles from every photo


def _png(image):
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _jpeg(quality):
    def encode(image):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        return out.getvalue()
    return encode


def _resize(factor):
    return lambda im: _png(im.resize((max(8, round(im.width * factor)),
                                      max(8, round(im.height * factor))), Image.LANCZOS))


def _crop(fraction, one_side=False):
    def crop(im):
        dx, dy = round(im.width * fraction), round(im.height * fraction)
        box = (dx, 0, im.width, im.height) if one_side else (
            dx // 2, dy // 2, im.width - (dx - dx // 2), im.height - (dy - dy // 2))
        return _png(im.crop(box))
    return crop


def _letterbox(fraction):
    def pad(im):
        bar = round(im.height * fraction / 2)
        out = Image.new("RGB", (im.width, im.height + 2 * bar), (0, 0, 0))
        out.paste(im, (0, bar))
        return _jpeg(90)(out)
    return pad


def _transpose(method):
    return lambda im: _png(im.transpose(method))


def _rotate(degrees):
    return lambda im: _png(im.rotate(degrees, Image.BICUBIC))


def _enhance(kind, factor):
    return lambda im: _png(getattr(ImageEnhance, kind)(im).enhance(factor))


def _watermark(im):
    layer = Image.new("RGBA", im.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = ImageFont.load_default(size=max(10, im.height // 12))
    text = "(c) 2026 sample-watermark.example"
    draw.text((im.width // 20, im.height * 7 // 10), text, font=font, fill=(255, 255, 255, 150),
              stroke_width=1, stroke_fill=(0, 0, 0, 150))
    return _jpeg(90)(Image.alpha_composite(im.convert("RGBA"), layer).convert("RGB"))


def _screenshot(im):
    # A window: grey frame, a darker title bar above, as a screen capture of a viewer shows.
    frame, title = max(4, im.width // 25), max(12, im.height // 12)
    out = Image.new("RGB", (im.width + 2 * frame, im.height + 2 * frame + title), (236, 236, 236))
    out.paste(Image.new("RGB", (out.width, title), (52, 58, 64)), (0, 0))
    out.paste(im, (frame, title + frame))
    return _png(out)


T = Image.Transpose
TRANSFORMS = {
    "jpeg q90": _jpeg(90), "jpeg q70": _jpeg(70), "jpeg q50": _jpeg(50), "jpeg q30": _jpeg(30),
    "resize 0.25x": _resize(0.25), "resize 0.5x": _resize(0.5), "resize 0.75x": _resize(0.75),
    "resize 1.5x": _resize(1.5), "resize 2x": _resize(2.0),
    "crop 2%": _crop(0.02), "crop 5%": _crop(0.05), "crop 10%": _crop(0.10),
    "crop 10% one side": _crop(0.10, one_side=True),
    "letterbox 10%": _letterbox(0.10), "letterbox 20%": _letterbox(0.20),
    "rotate 90": _transpose(T.ROTATE_90), "rotate 180": _transpose(T.ROTATE_180),
    "rotate 270": _transpose(T.ROTATE_270), "flip top-bottom": _transpose(T.FLIP_TOP_BOTTOM),
    "mirror": _transpose(T.FLIP_LEFT_RIGHT), "transpose": _transpose(T.TRANSPOSE),
    "transverse": _transpose(T.TRANSVERSE),
    "rotate 2 deg": _rotate(2), "rotate 5 deg": _rotate(5),
    "greyscale": lambda im: _png(im.convert("L")),
    "brightness +20%": _enhance("Brightness", 1.2), "brightness -20%": _enhance("Brightness", 0.8),
    "contrast +20%": _enhance("Contrast", 1.2), "contrast -20%": _enhance("Contrast", 0.8),
    "watermark": _watermark, "screenshot border": _screenshot,
}


def query_of(data: bytes, central: bool = True):
    """What the scan searches for a file: its hashes from block means, with its central region
    when a built set is loaded (`central`)."""
    return perceptual.query(data, SIGNALS, central=central)


def query_of_image(image, central: bool = True):
    """The same for a picture already decoded (the distractor tiles)."""
    picture = imaging.reduce(image, perceptual.REDUCED_CELLS, perceptual.WHOLE_BELOW)
    return perceptual.query_hashes(picture, SIGNALS, central=central)


def plain(hashes):
    """A query against sets imported from elsewhere: no central region is searched."""
    return [h for h in hashes if not h.variant.startswith("central")]


def _rows(hashes):
    return np.array([np.frombuffer(bytes.fromhex(h.value), np.uint8) for h in hashes])


def _min_distance(queries, references) -> int:
    q, r = _rows(queries), _rows(references)
    xor = q[:, None, :] ^ r[None, :, :]
    return int(np.unpackbits(xor, axis=2).sum(axis=2).min())


def _usable(hashes):
    return [h for h in hashes if signals.get(h.signal).usable(h)]


def by_signal(hashes):
    grouped = defaultdict(list)
    for h in _usable(hashes):
        grouped[h.signal].append(h)
    return grouped


def measure(images, names):
    """Distances of every positive, in three settings, per signal and transform."""
    refs = {name: {"plain": by_signal([h for h in reference_hashes(im, SIGNALS)
                                       if h.variant == "original"]),
                   "built": by_signal(reference_hashes(im, SIGNALS))}
            for name, im in images.items()}
    dist = defaultdict(lambda: defaultdict(list))   # (signal, setting) -> transform -> [d]
    for transform, make in tqdm(TRANSFORMS.items(), desc="transforms", file=sys.stderr):
        for name in names:
            data = make(images[name])
            copy = imaging.decode(data)
            found = query_of(data)
            queries, queries_plain = by_signal(found), by_signal(plain(found))
            bare = by_signal([signals.get(s).compute(copy) for s in SIGNALS])
            for s in SIGNALS:
                for setting, q, r in (("plain", queries_plain, refs[name]["plain"]),
                                      ("built", queries, refs[name]["built"]),
                                      ("bare", bare, refs[name]["plain"])):
                    ok = q[s] and r[s]
                    dist[s, setting][transform].append(_min_distance(q[s], r[s]) if ok else 999)
    return dist


def distractors(images):
    """The photos and their tiles: (source photo, image)."""
    items = []
    for name, im in images.items():
        items.append((name, im))
        w, h = im.width // TILES, im.height // TILES
        for i in range(TILES):
            for j in range(TILES):
                items.append((name, im.crop((i * w, j * h, (i + 1) * w, (j + 1) * h))))
    return items


def false_matches(images):
    """Per signal and setting, the minimum distance of every distinct pair (both directions:
    either image as the query)."""
    items = distractors(images)
    queries, refs = [], []
    for _, im in tqdm(items, desc="distractors", file=sys.stderr):
        found = query_of_image(im)
        queries.append({"built": by_signal(found), "plain": by_signal(plain(found))})
        all_refs = reference_hashes(im, SIGNALS)
        refs.append({"plain": by_signal([h for h in all_refs if h.variant == "original"]),
                     "built": by_signal(all_refs)})
    source = [name for name, _ in items]
    out = {}
    for s in SIGNALS:
        for setting in ("plain", "built"):
            q_rows, q_owner, r_rows, r_owner = [], [], [], []
            for k, (q, r) in enumerate(zip(queries, refs)):
                q_rows += list(_rows(q[setting][s])) if q[setting][s] else []
                q_owner += [k] * len(q[setting][s])
                r_rows += list(_rows(r[setting][s])) if r[setting][s] else []
                r_owner += [k] * len(r[setting][s])
            qa, ra = np.array(q_rows), np.array(r_rows)
            qo, ro = np.array(q_owner), np.array(r_owner)
            n = len(items)
            best = np.full((n, n), 999, np.int32)
            words_q = qa.view(np.uint64)
            words_r = ra.view(np.uint64)
            for i in range(len(qa)):
                d = np.bitwise_count(words_q[i] ^ words_r).sum(axis=1)
                np.minimum.at(best[qo[i]], ro, d)
            best = np.minimum(best, best.T)
            pairs = [(a, b) for a in range(n) for b in range(a + 1, n)
                     if not (source[a] == source[b] and (a == _photo(a, source) or
                                                         b == _photo(b, source)))]
            out[s, setting] = np.array([best[a, b] for a, b in pairs])
            out[s, setting, "apart"] = np.array([best[a, b] for a, b in pairs
                                                 if source[a] != source[b]])
    return out, len(items)


def _photo(index, source):
    return source.index(source[index])   # the photo itself comes first among its tiles


def recall(distances, radius):
    d = np.array(distances)
    return (d <= radius).mean()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=0, help="use only the first N photos")
    parser.add_argument("--plot", default=str(Path(__file__).resolve().parents[1] / "docs" /
                                              "perceptual_roc.png"))
    args = parser.parse_args(argv)
    corpus = photos()
    names = list(corpus)[:args.photos or None]
    images = {n: imaging.decode(corpus[n]) for n in names}
    dist = measure(images, names)
    negatives, n_items = false_matches(images)

    print(f"# {len(names)} photos x {len(TRANSFORMS)} transforms; {n_items} distractor images, "
          f"{len(negatives['pdq', 'plain'])} distinct pairs "
          f"({len(negatives['pdq', 'plain', 'apart'])} from different photos)\n")
    chosen = {}
    print("## Radius per signal: false-matching pairs among the distractors\n")
    print("| signal | bits | default radius | false pairs at default (plain / built) "
          "| of which from different photos | largest radius with no false pair "
          "(plain / built) | closest distinct pair | recall at default / at no false pair "
          "(built, all transforms) |")
    print("|---|---|---|---|---|---|---|---|")
    for s in SIGNALS:
        cls = signals.get(s)
        neg_p, neg_b = negatives[s, "plain"], negatives[s, "built"]
        apart_p, apart_b = negatives[s, "plain", "apart"], negatives[s, "built", "apart"]
        r = chosen[s] = cls.threshold
        every = np.concatenate([np.array(v) for v in dist[s, "built"].values()])
        print(f"| {s} | {cls.bits} | {r} | {(neg_p <= r).sum()} / {(neg_b <= r).sum()} | "
              f"{(apart_p <= r).sum()} / {(apart_b <= r).sum()} | "
              f"{neg_p.min() - 1} / {neg_b.min() - 1} | {min(neg_p.min(), neg_b.min())} | "
              f"{100 * recall(every, r):.1f}% / {100 * recall(every, neg_b.min() - 1):.1f}% |")

    print("\n## Recall per transform at the default radius (built / plain / bare library)\n")
    print("| transform | " + " | ".join(SIGNALS) + " |")
    print("|---|" + "---|" * len(SIGNALS))
    for transform in TRANSFORMS:
        cells = []
        for s in SIGNALS:
            r = chosen[s]
            cells.append("/".join(f"{100 * recall(dist[s, k][transform], r):.0f}"
                                  for k in ("built", "plain", "bare")))
        print(f"| {transform} | " + " | ".join(cells) + " |")
    _plot(dist, negatives, args.plot)
    print(f"\nROC plot: {args.plot}")


def _plot(dist, negatives, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for s in SIGNALS:
        cls = signals.get(s)
        positives = np.concatenate([np.array(v) for v in dist[s, "built"].values()])
        neg = negatives[s, "built"]
        radii = np.arange(0, cls.bits // 2 + 1)
        tpr = [(positives <= r).mean() for r in radii]
        fpr = [max((neg <= r).mean(), 1e-6) for r in radii]
        ax.plot(fpr, tpr, label=s, linewidth=2 if s == "pdq" else 1)
        ax.scatter([max((neg <= cls.threshold).mean(), 1e-6)],
                   [(positives <= cls.threshold).mean()], s=18)
    ax.set_xscale("log")
    ax.set_xlabel("false-match rate over distinct pairs (1e-6 = none)")
    ax.set_ylabel("recall over all transforms")
    ax.set_title("Perceptual signals as triage queries them (dots: default radius)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
