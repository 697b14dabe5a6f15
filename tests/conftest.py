"""Shared fixtures: the committed disk images, decompressed once per session, and the `triage`
command runner. Plain helpers live in support.py (importable from any test)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from support import IMAGES, build_script, run_triage, sha256_file


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> Path:
    """Every fixture image, ready to open, in one folder. At the end of the session every one
    must hash as it did at the start: the whole suite is the read-only proof."""
    if not IMAGES.is_dir():
        pytest.skip("fixtures/images is missing")
    committed = {p.name: sha256_file(p) for p in IMAGES.iterdir()}
    folder = tmp_path_factory.mktemp("images")
    for source in sorted(IMAGES.iterdir()):
        if source.suffix == ".gz":
            with gzip.open(source, "rb") as src, open(folder / source.stem, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        elif source.is_file():
            shutil.copyfile(source, folder / source.name)
    for path in folder.iterdir():
        path.chmod(0o444)  # a write attempt would fail loudly, not silently alter evidence
    before = {p.name: sha256_file(p) for p in folder.iterdir()}
    yield folder
    after = {p.name: sha256_file(p) for p in folder.iterdir()}
    assert after == before, "a fixture image changed during the test session"
    assert {p.name: sha256_file(p) for p in IMAGES.iterdir()} == committed


@pytest.fixture
def triage():
    return run_triage


# Transforms the video tests use (fixtures/build_videos.py): one of each kind, short and small.
VIDEO_TRANSFORMS = ("h264-crf35", "vp9", "half-size", "trim-start", "fps-15", "letterbox-10",
                    "hflip", "avi-mpeg4", "gif", "webp")


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> dict:
    """One reference video (5 s, 320x240), its copies through VIDEO_TRANSFORMS and two
    unrelated videos, made with ffmpeg once per session; plus a set built from the reference
    (`hashset build`, vpdq only). {"refs", "copies": {transform: path}, "unrelated", "set"}."""
    build_videos = build_script("build_videos.py")
    if not build_videos.available():
        pytest.skip("ffmpeg is not installed")
    work = tmp_path_factory.mktemp("videos")
    made = build_videos.build(work, seconds=5, references=1, transforms=VIDEO_TRANSFORMS,
                              unrelated=2)
    from triage.hashsets.build import build_set
    build_set(work / "refs", work / "refs.set", names=["vpdq"])
    return {"refs": made["refs"], "copies": {t: p for (_, t), p in made["copies"].items()},
            "unrelated": made["unrelated"], "set": work / "refs.set", "work": work}
