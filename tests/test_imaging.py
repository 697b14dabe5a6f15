import io
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from triage import imaging
from triage.imaging import Budget, ImageDecodeError, OverBudget, decode, sniff

import hostile_pictures as hostile
from hostile_pictures import with_size

VECTORS = Path(__file__).resolve().parent.parent / "fixtures" / "vectors"
JPEG = (VECTORS / "pdq" / "pdqhash-python" / "image1.jpg").read_bytes()


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def gradient(width=96, height=64) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    y = np.linspace(0, 255, height, dtype=np.uint8)
    return Image.fromarray(np.dstack([np.add.outer(y, x) // 2, np.tile(x, (height, 1)),
                                      np.tile(y[:, None], (1, width))]).astype(np.uint8))


@pytest.mark.parametrize("fmt,mime", [
    ("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("BMP", "image/bmp"),
    ("TIFF", "image/tiff"), ("WEBP", "image/webp"),
])
def test_each_supported_format_is_sniffed_and_decoded(fmt, mime):
    data = encode(gradient(), fmt)
    assert sniff(data[:64]) == mime
    image = decode(data)
    assert (image.mode, image.size) == ("RGB", (96, 64))


def test_heic_and_avif_are_decoded_when_a_plugin_is_there():
    for fmt, mime in (("AVIF", "image/avif"), ("HEIF", "image/heic")):
        if mime not in imaging.MIME_TYPES:
            continue   # plugin not installed here: sniff must then refuse it (next test)
        image = decode(encode(gradient(), fmt))
        assert image.size == (96, 64)


def test_type_is_judged_by_content_not_by_name():
    assert sniff(b"%PDF-1.7\n" + b"x" * 100) is None
    assert sniff(b"") is None
    assert sniff(encode(gradient(), "ICO")) is None     # not a format we hash
    assert sniff(encode(gradient(), "PPM")) is None


def test_a_head_that_begins_as_no_picture_does_is_told_without_libmagic_and_as_libmagic_would():
    """sniff asks libmagic only of a head that begins as a supported picture may: the same
    answer as libmagic's for every file of the fixtures (pictures, archives, documents, disk
    images, hash sets, text) and every format Pillow writes here, big-endian TIFF included."""
    import magic
    from support import FIXTURES

    def libmagic(head):
        mime = magic.from_buffer(head[:imaging.HEAD], mime=True) if head else None
        return mime if mime in imaging.MIME_TYPES else None
    heads = [path.read_bytes()[:imaging.HEAD] for path in sorted(FIXTURES.rglob("*"))
             if path.is_file() and not path.is_symlink()]
    Image.init()   # every plugin, so that SAVE names every format Pillow writes
    for fmt in sorted(Image.SAVE):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)   # IM: to go in Pillow 15
                heads.append(encode(gradient(), fmt)[:imaging.HEAD])
        except Exception:   # noqa: BLE001 - a format that cannot hold this picture
            continue
    big_endian = io.BytesIO()
    with Image.open(io.BytesIO(encode(gradient(), "TIFF"))) as tiff:
        tiff.save(big_endian, "TIFF", tiffinfo={}, compression=None)
    heads.append(big_endian.getvalue()[:imaging.HEAD])
    heads.append(b"MM\x00*" + big_endian.getvalue()[4:imaging.HEAD])
    answers = [(sniff(head), libmagic(head)) for head in heads]
    assert all(ours == theirs for ours, theirs in answers)
    found = {theirs for _, theirs in answers if theirs}
    assert {"image/jpeg", "image/png", "image/gif", "image/tiff", "image/webp"} <= found
    assert len(heads) > 150 and sum(1 for _, theirs in answers if theirs is None) > 100


def test_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (32, 32), c) for c in ((250, 0, 0), (0, 0, 250))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    pixel = decode(out.getvalue()).getpixel((5, 5))
    assert pixel[0] > 200 and pixel[2] < 50


def test_modes_become_rgb_without_compositing_alpha_and_grey_stays_grey():
    rgba = Image.new("RGBA", (8, 8), (10, 20, 30, 0))
    assert decode(encode(rgba, "PNG")).getpixel((0, 0)) == (10, 20, 30)
    grey16 = Image.new("I;16", (8, 8), 200)
    assert decode(encode(grey16, "PNG")).mode == "RGB"
    assert decode(encode(Image.new("L", (8, 8), 7), "PNG")).getpixel((0, 0)) == 7
    assert decode(encode(Image.new("P", (8, 8), 3), "GIF")).mode == "RGB"


@pytest.mark.parametrize("cut,reason", [
    (len(JPEG) // 2, "corrupt image/jpeg: image file is truncated"),
    (100, "corrupt image/jpeg"),
])
def test_truncated_files_raise_a_reason_without_content(cut, reason):
    with pytest.raises(ImageDecodeError) as err:
        decode(JPEG[:cut])
    assert str(err.value).startswith(reason)
    assert "\n" not in str(err.value) and len(str(err.value)) < 200


def test_corrupt_compressed_data_is_an_error():
    png = bytearray(encode(gradient(), "PNG"))
    middle = len(png) // 2
    png[middle:middle + 64] = bytes(64)    # zeros inside the IDAT stream
    with pytest.raises(ImageDecodeError, match="^corrupt image/png: "):
        decode(bytes(png))


def test_not_an_image_is_refused_before_decoding():
    with pytest.raises(ImageDecodeError, match="not a supported image type"):
        decode(b"just some text, not an image")


def test_decompression_bomb_is_refused():
    # A header claiming 20000 x 20000: Pillow's guard trips before any pixel is inflated.
    bomb = with_size(encode(Image.new("L", (8, 8)), "PNG"), 20000, 20000)
    assert sniff(bomb) == "image/png"
    with pytest.raises(ImageDecodeError, match="decompression bomb"):
        decode(bomb)


def test_a_size_between_pillows_warning_and_its_error_meets_our_cap():
    big = with_size(encode(Image.new("L", (8, 8)), "PNG"), 12000, 11000)   # 132 Mpx
    with pytest.raises(ImageDecodeError, match=r"too large: 12000x11000 pixels"):
        decode(big)


def test_pixel_cap_is_checked_before_decoding():
    with pytest.raises(ImageDecodeError, match=r"too large: 96x64 pixels \(limit 1000\)"):
        decode(encode(gradient(), "PNG"), Budget(max_pixels=1000))


def test_time_cap_stops_a_slow_decode():
    data = encode(gradient(300, 300), "PNG")
    started = time.monotonic()
    with pytest.raises(ImageDecodeError, match="longer than 0 s"):
        decode(data, Budget(time_limit=0.0))
    assert time.monotonic() - started < 5


def test_a_budget_refuses_pictures_over_its_pixels_and_work_past_its_deadline():
    budget = Budget(max_pixels=1000, time_limit=5.0)
    budget.admit(40, 25)
    with pytest.raises(OverBudget, match=r"^enlarged copy too large: 41x25 pixels \(limit 1000\)$"):
        budget.admit(41, 25, "enlarged copy")
    budget.check()
    late = Budget(time_limit=5.0, started=time.monotonic() - 6)
    with pytest.raises(OverBudget) as err:
        late.check()
    assert err.value.reason() == "image not hashed: decoding and hashing took longer than 5 s"
    assert err.value.severity == "error"


def test_decoding_spends_the_budget_it_is_given():
    """One budget from the decode to the last hash: time already spent counts."""
    spent = Budget(started=time.monotonic() - imaging.TIME_LIMIT - 1)
    with pytest.raises(ImageDecodeError) as err:
        decode(JPEG, spent)
    assert err.value.reason() == f"image not decoded: decoding took longer than " \
                                 f"{imaging.TIME_LIMIT:g} s"
    assert not isinstance(err.value, OverBudget)   # at this stage nothing is decoded at all


def test_prepare_sees_the_picture_before_a_pixel_is_decoded():
    damaged = hostile.with_damaged_pixels(hostile.strip_png(1, 30000))
    seen = []

    def refuse(image):
        seen.append((image.size, image.format))
        raise imaging.Unhashable("refused from its header")

    with pytest.raises(imaging.Unhashable, match="refused from its header"):
        decode(damaged, prepare=refuse)     # the damaged pixels are never reached
    assert seen == [((1, 30000), "PNG")]
    with pytest.raises(ImageDecodeError, match="^corrupt image/png"):
        decode(damaged, prepare=seen.append)


@pytest.fixture(scope="module")
def tiff_110mpx():
    return hostile.tiff_110_megapixels()


def test_a_picture_between_pillows_warning_and_our_cap_says_nothing(tiff_110mpx):
    """110 Mpx: over Pillow's bomb warning (89 Mpx), under our cap, which decides. Pillow
    warns on opening it, on loading a TIFF's tiles and on cropping it: none of it is heard."""
    with warnings.catch_warnings(record=True) as heard:
        warnings.simplefilter("always")
        with imaging.library_warnings.collected() as said:
            image = decode(tiff_110mpx)
            inner = image.crop((0, 0, 10000, 10000))
    assert (image.size, image.mode, inner.size) == ((10500, 10500), "L", (10000, 10000))
    assert said == [] and heard == []


def test_library_warnings_and_log_records_become_one_line_reasons():
    with imaging.library_warnings.collected() as said:
        assert decode(hostile.tiff_warning()).size == (64, 64)
        decode(hostile.tiff_warning())      # the same warning again: one reason a file
    assert said == ["UserWarning: Tag data larger than file. Skipping tag 270"]
    with imaging.library_warnings.collected() as said:
        with pytest.raises(ImageDecodeError, match="^image/tiff could not be identified$"):
            decode(hostile.tiff_logged_error())
    assert said == ["PIL.TiffImagePlugin: More samples per pixel than can be decoded: 1000"]
    # Outside a collection, a warning goes where it went before.
    with warnings.catch_warnings(record=True) as heard:
        warnings.simplefilter("always")
        decode(hostile.tiff_warning())
    assert {str(w.message) for w in heard} == {"Tag data larger than file. Skipping tag 270"}


def test_each_thread_collects_its_own_warnings():
    import threading
    barrier = threading.Barrier(2)
    found = {}

    def collect(name):
        with imaging.library_warnings.collected() as said:
            barrier.wait()
            warnings.warn(f"from {name}")
            barrier.wait()
        found[name] = said

    threads = [threading.Thread(target=collect, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert found == {"a": ["UserWarning: from a"], "b": ["UserWarning: from b"]}


def unletterbox(image, **options):
    """The picture inside the bars imaging.borders finds, or None."""
    box = imaging.borders(image, **options)
    return None if box is None else image.crop(box)


def test_unletterbox_stops_at_the_deadline():
    framed = Image.new("RGB", (120, 100), (0, 0, 0))
    framed.paste(gradient(80, 60), (20, 20))
    with pytest.raises(OverBudget, match="took longer than 0 s"):
        unletterbox(framed, budget=Budget(time_limit=0.0, started=time.monotonic() - 1))


def test_unletterbox_removes_uniform_bars_of_each_side():
    picture = gradient(80, 60)
    framed = Image.new("RGB", (120, 100), (0, 0, 0))
    framed.paste(Image.new("RGB", (120, 10), (200, 200, 200)), (0, 0))   # a grey title bar
    framed.paste(picture, (25, 20))
    inner = unletterbox(framed)
    assert inner.size == (80, 60)
    assert np.array_equal(np.asarray(inner), np.asarray(picture))


def test_unletterbox_survives_jpeg_ringing():
    framed = Image.new("RGB", (160, 120), (0, 0, 0))
    framed.paste(gradient(128, 80).resize((128, 80)), (16, 20))
    inner = unletterbox(decode(encode(framed, "JPEG", quality=70)))
    left, top = 16, 20
    assert abs(inner.size[0] - 128) <= 4 and abs(inner.size[1] - 80) <= 4
    assert inner.size[0] <= 160 - left and inner.size[1] <= 120 - top


def test_unletterbox_leaves_plain_and_flat_images_alone():
    assert unletterbox(gradient()) is None
    assert unletterbox(Image.new("RGB", (50, 50), (9, 9, 9))) is None


@pytest.mark.parametrize("side", ["top", "bottom", "left", "right"])
def test_unletterbox_finds_a_bar_on_any_one_side(side):
    """Pictures whose four outer lines all have detail are passed over without converting every
    pixel; one flat side is enough to look further."""
    picture = gradient(90, 70)
    box = {"top": (0, 12, 90, 82), "bottom": (0, 0, 90, 70), "left": (12, 0, 102, 70),
           "right": (0, 0, 90, 70)}[side]
    size = (90, 82) if side in ("top", "bottom") else (102, 70)
    padded = Image.new("RGB", size, (30, 30, 30))
    padded.paste(picture, box[:2])
    inner = unletterbox(padded)
    assert inner is not None and inner.size == (90, 70)
    assert np.array_equal(np.asarray(inner), np.asarray(picture))




def test_detail_follows_pdq_quality():
    from triage.signals.perceptual import PDQ

    photo = decode(JPEG)
    small = decode((VECTORS / "pdq" / "threatexchange" / "misc-images" / "small.jpg").read_bytes())
    assert imaging.detail(photo) == 100 and PDQ.compute(photo).quality == 100
    assert imaging.detail(small) < 50 and PDQ.compute(small).quality == 0
    assert imaging.detail(Image.new("RGB", (64, 64), (30, 30, 30))) == 0
    stripes = Image.fromarray((np.indices((64, 64))[1] % 2 * 255).astype(np.uint8))
    assert imaging.detail(stripes) == 100
