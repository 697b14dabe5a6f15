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



# -- the block-sweep evidence (tests/block_fixtures.py), shared by reporters and sealed sets ----

@pytest.fixture(scope="session")
def block_evidence(tmp_path_factory):
    import block_fixtures
    if not block_fixtures.available():
        pytest.skip("needs e2fsprogs")
    return block_fixtures.make(tmp_path_factory.mktemp("block-evidence"))


@pytest.fixture(scope="session")
def block_scan(block_evidence, tmp_path_factory):
    """The block evidence scanned with the compiled block set, every format written."""
    import block_fixtures
    return block_fixtures.scan(block_evidence, block_evidence.compiled,
                               tmp_path_factory.mktemp("block-scan") / "out")


@pytest.fixture(scope="session")
def sealed_block_scan(block_evidence, tmp_path_factory):
    """The same scan with the sealed copy of the set."""
    import block_fixtures
    return block_fixtures.scan(block_evidence, block_evidence.sealed,
                               tmp_path_factory.mktemp("sealed-block-scan") / "out")
