"""Safe, bounded decoding of image bytes found on evidence, and the geometric helpers the
perceptual hashes need (uniform-border detection, block means).

Evidence is hostile input: a decompression bomb, a truncated JPEG or a file that decodes
forever must become an `ImageDecodeError` with a reason, never a crash, a hang or a message
that quotes content. One `Budget` (pixels and a deadline) goes with each picture from its
decoding to its last hash, so no copy made of it (enlarged, unbordered, a region, turned) can
cost more than decoding was allowed to."""

from __future__ import annotations

import io
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Tuple

import magic
import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError, features

from . import library_warnings

try:  # HEIC/HEIF (iPhone photos) need libheif; decode them when the plugin is there
    import pillow_heif

    pillow_heif.register_heif_opener()
    _HEIF = True
except ImportError:  # pragma: no cover - depends on the installation
    _HEIF = False

# A truncated file is an error, never half a picture hashed: Pillow's default, kept whatever
# another library may have set. Pillow's decompression-bomb guard is left on, as it ships (it
# refuses pictures over twice its limit); between its limit (89 Mpx) and that, where it only
# warns (on opening, loading a TIFF, cropping), our own MAX_PIXELS decides, so its warning
# would only say on stderr what the budget already settled.
ImageFile.LOAD_TRUNCATED_IMAGES = False
library_warnings.ignore(Image.DecompressionBombWarning)

MAX_PIXELS = 120_000_000   # above a 108-megapixel phone photo; beyond this, refuse
TIME_LIMIT = 10.0          # seconds to decode one picture and hash every form the scan searches
# `triage hash` and `hashset build` hash the picture as found, at full size, as other PDQ tools
# do: pdqhash took 20 s (and 3 GB) on a 110-megapixel picture on the 2 loaded cores here.
FULL_SIZE_TIME_LIMIT = 60.0
HEAD = 4096                # bytes that `sniff` needs

_MIME = {
    "image/jpeg", "image/png", "image/gif", "image/bmp", "image/x-ms-bmp", "image/tiff",
    "image/webp",
}
if features.check("avif"):
    _MIME.add("image/avif")
if _HEIF:
    _MIME.update({"image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"})
MIME_TYPES = frozenset(_MIME)


class ImageDecodeError(ValueError):
    """The bytes are not an image we can decode within the limits. The message is the reason
    only: never a byte of the content. `severity` and `reason()` say how the file's record
    reads, the same in the scan, `triage hash` and `hashset build`."""

    severity = "error"
    what = "image not decoded"

    def reason(self) -> str:
        return f"{self.what}: {self}"


class OverBudget(ImageDecodeError):
    """A picture derived from a decoded one (enlarged, unbordered, a region, turned), or the
    hashing itself, went past the picture's budget."""

    what = "image not hashed"


class Unhashable(ImageDecodeError):
    """No perceptual hash of the picture would mean anything (scanners.perceptual.check_shape
    says so from its header): nothing to compare, its digests still checked, so a warning."""

    severity = "warning"
    what = "no perceptual hash"


@dataclass
class Budget:
    """What one picture may cost, from the start of its decoding to its last hash: no picture
    held for it, decoded or derived, over `max_pixels`, and all of it done within `time_limit`
    seconds of `started`. One object goes with the picture through every step, so the pixels
    and the deadline that bound decoding bound each derived copy too. Plain values: it can
    travel to a worker process with the bytes it budgets."""

    max_pixels: int = MAX_PIXELS
    time_limit: float = TIME_LIMIT
    started: float = field(default_factory=time.monotonic)
    # How far into the picture's bytes its decoder read: past its end (JPEG's EOI, PNG's
    # IEND) by at most a block, so what follows is told without parsing the picture again
    # (containers.trailing).
    consumed: int = 0

    def admit(self, width: int, height: int, what: str = "image") -> None:
        """Refuse a picture of this size before it is made."""
        if width * height > self.max_pixels:
            raise OverBudget(f"{what} too large: {width}x{height} pixels "
                             f"(limit {self.max_pixels})")

    def check(self, doing: str = "decoding and hashing") -> None:
        """Refuse to go on once the deadline has passed. Called between steps, each of them
        bounded by the pixel cap, so no step can run away."""
        if time.monotonic() - self.started > self.time_limit:
            raise OverBudget(f"{doing} took longer than {self.time_limit:g} s")


# How every type above begins, as libmagic's own tests for them begin (BMP with OS/2's forms
# and a bare DIB's header sizes, WebP as any RIFF, HEIF and AVIF as any ISO file): a head that
# begins otherwise is told no picture without asking libmagic, which took ~1.5 ms for 4 KiB
# of text (most of a perceptual scan of /usr/share, its gzipped manual pages read as members).
_STARTS = (b"\xff\xd8", b"\x89PNG\r\n\x1a\n", b"GIF8", b"BM", b"BA", b"CI", b"CP", b"IC", b"PT",
           b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+", b"RIFF",
           *(size.to_bytes(4, "little") for size in (12, 40, 52, 56, 64, 108, 124)))


def sniff(head: bytes) -> Optional[str]:
    """The MIME type of `head` (the first bytes of a file) when it is an image we decode, by
    content (libmagic), never by name."""
    if not (head.startswith(_STARTS) or head.startswith(b"ftyp", 4)):
        return None
    mime = magic.from_buffer(head[:HEAD], mime=True)
    return mime if mime in MIME_TYPES else None


class _DeadlineReader(io.BytesIO):
    """Pillow feeds its decoders from `read()` in blocks; checking the clock there bounds the
    decoding time without threads or signals (which only the main thread may use)."""

    def __init__(self, data: bytes, budget: Budget):
        super().__init__(data)
        self.budget = budget

    def read(self, size=-1):
        self.budget.check("decoding")
        data = super().read(size)
        self.budget.consumed = max(self.budget.consumed, self.tell())
        return data


def decode(data: bytes, budget: Optional[Budget] = None,
           prepare: Optional[Callable[[Image.Image], None]] = None) -> Image.Image:
    """Decode `data` into a loaded RGB image, or L for an 8-bit greyscale one (the first frame
    of an animation), within `budget` (a fresh default one when none is given). EXIF
    orientation is deliberately ignored, as PDQ's reference does: the dihedral hashes cover
    rotated copies.

    `prepare(image)` sees the opened picture, its size and format known, before a pixel is
    decoded: it may refuse it (its exception passes unchanged) or ask for a reduced decode
    (`Image.draft`)."""
    budget = budget or Budget()
    library_warnings.install()   # Pillow's bomb warning stays ignored, whoever reset the filters
    mime = sniff(data[:HEAD])
    if mime is None:
        raise ImageDecodeError("not a supported image type")
    with _decoding(mime):
        image = Image.open(_DeadlineReader(data, budget))
        width, height = image.size
        budget.admit(width, height)
        if width < 1 or height < 1:
            raise ImageDecodeError("image has no pixels")
    with _decoding(mime):
        image.seek(0)
    if prepare is not None:
        prepare(image)
    with _decoding(mime):
        image.load()
        budget.admit(*image.size)   # a reduced decode may differ from the header's size
        budget.check("decoding")
        return _normalised(image)


@contextmanager
def _decoding(mime: str) -> Iterator[None]:
    """Pillow's failures, and the budget's, as the one decode error with a reason."""
    try:
        yield
    except OverBudget as exc:   # at this stage the picture is not decoded at all
        raise ImageDecodeError(str(exc)) from None
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError:
        raise ImageDecodeError("decompression bomb: pixel count beyond Pillow's limit") from None
    except UnidentifiedImageError:
        raise ImageDecodeError(f"{mime} could not be identified") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError,
            MemoryError) as exc:
        # Pillow's messages name the codec problem ("image file is truncated"), not content.
        raise ImageDecodeError(f"corrupt {mime}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


def _normalised(image: Image.Image) -> Image.Image:
    # As python-threatexchange's PDQ hasher: 16-bit and grey+alpha go through RGB; alpha is
    # dropped without compositing, as imagehash's convert("L") drops it. 8-bit grey stays
    # grey: the pHash family hashes grey, and PDQ's RGB of it is the same luma.
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return image.convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


@dataclass(frozen=True)
class Reduced:
    """A picture as grey block means: each pixel of `image` (mode L) is the mean of a block of
    `block` (x, y) pixels of the picture as found, whose size is `size` (the last column and
    row of blocks may cover fewer). What the scan hashes a query from: the perceptual hashes
    squeeze every picture to 64 x 64 or less, and a JPEG decodes to block means in the DCT
    domain (Pillow's `draft`) for a fraction of a full decode."""

    image: Image.Image
    size: Tuple[int, int]
    block: Tuple[int, int] = (1, 1)

    def coarser(self, cells: int) -> "Reduced":
        """The same picture in larger blocks, keeping at least `cells` along each side."""
        factor = (max(1, self.image.width // cells), max(1, self.image.height // cells))
        if factor == (1, 1):
            return self
        return Reduced(self.image.reduce(factor), self.size,
                       (self.block[0] * factor[0], self.block[1] * factor[1]))

    def crop(self, box: Tuple[int, int, int, int]) -> "Reduced":
        """The blocks inside `box` (left, top, right, bottom, in blocks): that part of the
        picture."""
        left, top, right, bottom = box
        (bx, by), (width, height) = self.block, self.size
        return Reduced(self.image.crop(box),
                       (min(right * bx, width) - left * bx, min(bottom * by, height) - top * by),
                       self.block)


def draft_scale(size: Tuple[int, int], cells: int, whole_below: int) -> int:
    """The JPEG DCT scaling (8, 4, 2 or 1) that keeps at least `cells` blocks along the
    picture's short side; 1 for a picture under `whole_below` a side."""
    if min(size) < whole_below:
        return 1
    return next((s for s in (8, 4, 2) if min(size) // s >= cells), 1)


def decode_reduced(data: bytes, cells: int, whole_below: int, budget: Optional[Budget] = None,
                   prepare: Optional[Callable[[Image.Image], None]] = None) -> Reduced:
    """`data` decoded grey, as block means with at least `cells` blocks along each side when
    its short side is `whole_below` pixels or more, else whole: a JPEG at 1/2, 1/4 or 1/8
    scale straight to grey (no colour conversion, no chroma), any picture then box-reduced on
    each axis as far as `cells` allows. The decode's limits are `decode`'s; `prepare` sees
    the picture first, as there."""
    found = {}

    def reduce_in_decoder(image: Image.Image) -> None:
        if prepare is not None:
            prepare(image)
        found["size"] = image.size
        scale = draft_scale(image.size, cells, whole_below)
        if image.format == "JPEG" and scale > 1:
            image.draft("L", (image.width // scale, image.height // scale))
        config = getattr(image, "decoderconfig", None)
        found["scale"] = config[0] if config else 1

    image = decode(data, budget, prepare=reduce_in_decoder)
    return reduce(image, cells, whole_below, found["size"], found["scale"])


def reduce(image: Image.Image, cells: int, whole_below: int,
           size: Optional[Tuple[int, int]] = None, scale: int = 1) -> Reduced:
    """`image` (already `scale` times smaller than the picture of `size`, when it was
    decoded reduced) as grey block means with at least `cells` blocks along each side, or
    whole when the picture's short side is under `whole_below`."""
    grey = image if image.mode == "L" else image.convert("L")
    reduced = Reduced(grey, size or image.size, (scale, scale))
    return reduced if min(reduced.size) < whole_below else reduced.coarser(cells)


def borders(image: Image.Image, tolerance: int = 12, min_fraction: float = 0.25,
            budget: Optional[Budget] = None, blend: int = 0
            ) -> Optional[Tuple[int, int, int, int]]:
    """The box (left, top, right, bottom) of the image inside uniform bars on its sides
    (letterboxing, padding, a screenshot's title bar and frame), or None when there are none.
    Each side is judged on its own colour, so a black letterbox and a grey frame both go.
    Under the outermost bars, a further flat layer is peeled only in a colour some side's
    outermost bar has (the frame under a title bar): a photo's own flat sky under a letterbox
    bar stays. `blend`: up to this many rows between two such layers may be of neither colour
    (in a reduced picture, the block that straddles a title bar and the frame under it)."""
    if not any(_flat(line, tolerance) for line in _outer_lines(image)):
        return None   # most pictures: no side starts with a bar (saves converting every pixel)
    budget = budget or Budget()
    # int16, though uint8 would hold it in half the memory: measured on a scan of ordinary
    # photos, the smaller copy tripled the page faults of the arrays allocated after it (glibc
    # sizes its mmap threshold on the largest block freed), costing 20% more CPU.
    grey = np.asarray(image.convert("L"), dtype=np.int16)
    height, width = grey.shape
    cut = [0, 0, 0, 0]                       # top, bottom, left, right
    frame: Optional[list] = None             # colours of the outermost bars
    while True:
        budget.check()   # each peel is cheap, but nested frames could ask for many
        top, bottom, left, right = cut
        if height - top - bottom < 1 or width - left - right < 1:
            return None   # flat all through
        inner = grey[top:height - bottom, left:width - right]
        bars = _bars(inner, tolerance)
        if frame is None:
            frame = [colour for rows, colour in bars if rows]
        else:
            bars = [(rows, colour) if _framed(colour, frame, tolerance)
                    else (_blended(inner, side, rows, frame, tolerance, blend), colour)
                    for side, (rows, colour) in enumerate(bars)]
        if not any(rows for rows, _ in bars):
            break
        cut = [c + rows for c, (rows, _) in zip(cut, bars)]
    top, bottom, left, right = cut
    if cut == [0, 0, 0, 0]:
        return None
    if (height - top - bottom) < max(8, min_fraction * height) or \
            (width - left - right) < max(8, min_fraction * width):
        return None   # the whole picture is "border": a flat image, not a letterbox
    return left, top, width - right, height - bottom


def _framed(colour: float, frame: list, tolerance: int) -> bool:
    return any(abs(colour - f) <= tolerance for f in frame)


def _blended(grey: np.ndarray, side: int, rows: int, frame: list, tolerance: int,
             blend: int) -> int:
    """How many rows to peel from `side` of `grey` whose flat layer (`rows` deep) is in no
    frame colour: none, unless it is at most `blend` rows over a flat layer that is."""
    if not rows or rows > blend:
        return 0
    view = (grey, grey[::-1], grey.T, grey.T[::-1])[side][rows:]
    if not len(view):
        return 0
    under, colour = _bar(view, tolerance)
    return rows if under and _framed(colour, frame, tolerance) else 0


def _outer_lines(image: Image.Image) -> list:
    """The outermost row or column of each side, as grey levels."""
    width, height = image.size
    boxes = [(0, 0, width, 1), (0, height - 1, width, height),
             (0, 0, 1, height), (width - 1, 0, width, height)]
    return [np.asarray(image.crop(box).convert("L"), dtype=np.int16).ravel() for box in boxes]


def _flat(line: np.ndarray, tolerance: int) -> bool:
    """_bar's test for one line: at most 2% of it strays from its median."""
    return (np.abs(line - float(np.median(line))) > tolerance).mean() <= 0.02


def _bars(grey: np.ndarray, tolerance: int) -> list:
    return [_bar(grey, tolerance), _bar(grey[::-1], tolerance),
            _bar(grey.T, tolerance), _bar(grey.T[::-1], tolerance)]


MAX_BAR_ROWS = 256


def _bar(grey: np.ndarray, tolerance: int) -> tuple:
    """How many leading rows of `grey` are one flat colour (the first row's median), and that
    colour. A row counts as flat when at most 2% of its pixels stray: JPEG ringing at a bar's
    edge should not stop the strip. Rows are read in growing chunks: most pictures have no
    bar and cost one row; a flat one is read MAX_BAR_ROWS at a time, so the float copy of a
    chunk stays small whatever the picture's size."""
    colour = float(np.median(grey[0]))
    start, step = 0, 16
    while start < len(grey):
        stray = (np.abs(grey[start:start + step] - colour) > tolerance).mean(axis=1)
        not_flat = np.flatnonzero(stray > 0.02)
        if not_flat.size:
            return start + int(not_flat[0]), colour
        start, step = start + step, min(step * 2, MAX_BAR_ROWS)
    return len(grey), colour


def detail(image: Image.Image) -> int:
    """0..100: how much structure a picture has, measured as PDQ measures its quality (the
    summed luma gradient of a 64x64 thumbnail, 100 for any ordinary photo). The hash of a
    flat picture (a black frame, a blank page) is noise and matches every other flat one."""
    grey = np.asarray(image.convert("L").resize((64, 64), Image.Resampling.BOX),
                      dtype=np.float32)
    steps = np.concatenate([np.abs(np.diff(grey, axis=0)).ravel(),
                            np.abs(np.diff(grey, axis=1)).ravel()])
    return min(100, int((steps * 100 / 255).astype(np.int64).sum() // 90))
