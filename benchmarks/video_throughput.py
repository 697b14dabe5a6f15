"""vPDQ hashing throughput on 1080p video, side by side with FFmpeg decoding alone.

Makes a 1080p H.264 video (x264 defaults: a keyframe at most every 250 frames and at scene
cuts) from the PDQ test photos, then times, in one run and alternating, on this machine:

  * `ffmpeg -i V -vf fps=1 -f null -`: decoding every frame and picking one a second, the
    limit any frame-sampling hasher works within (FFmpeg's own threads);
  * `triage.video.hash_video(V, "second")`: decoding (PyAV's FFmpeg, its own threads), one
    frame a second scaled by FFmpeg and hashed with PDQ: what a scan does with a video;
  * `ffmpeg -skip_frame nokey -i V -f null -` and `hash_video(V, "keyframes")`: keyframes only.

Reports seconds of video per wall second (x real time), the ratio to the FFmpeg peer, and CPU
seconds of each (user + system, children included): the machine is shared, so wall times swing
with the load while CPU seconds say what the work costs.

    python benchmarks/video_throughput.py [--seconds 60] [--rounds 3] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from triage.video import hash_video  # noqa: E402

PHOTOS = sorted((REPO / "fixtures" / "vectors" / "pdq" / "pdqhash-python").glob("image*.jpg"))


def make_video(out: Path, seconds: int, fps: int = 30) -> Path:
    """A pan and zoom over the photos in turn, 1920x1080, H.264 (x264 preset veryfast)."""
    per = max(1.0, seconds / len(PHOTOS))
    inputs, chains = [], []
    for i, photo in enumerate(PHOTOS):
        inputs += ["-loop", "1", "-t", f"{per}", "-i", str(photo)]
        chains.append(f"[{i}]scale=2400:1350,setsar=1,zoompan=z='1+0.002*in':d=1:"
                      f"x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':s=1920x1080:fps={fps},"
                      f"trim=duration={per},setsar=1[v{i}]")
    graph = ";".join(chains) + ";" + "".join(f"[v{i}]" for i in range(len(PHOTOS))) + \
        f"concat=n={len(PHOTOS)}:v=1,format=yuv420p"
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *inputs, "-filter_complex", graph,
                    "-frames:v", str(seconds * fps), "-c:v", "libx264", "-preset", "veryfast",
                    "-crf", "23", str(out)], check=True)
    return out


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(work) -> tuple:
    cpu, wall = _cpu(), time.perf_counter()
    work()
    return time.perf_counter() - wall, _cpu() - cpu


def ffmpeg_fps1(video: Path):
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", str(video), "-vf", "fps=1",
                    "-f", "null", "-"], check=True)


def ffmpeg_keyframes(video: Path):
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-skip_frame", "nokey", "-i",
                    str(video), "-f", "null", "-"], check=True)


def ours(video: Path, mode: str):
    with open(video, "rb") as f:
        hashed = hash_video(f, mode)
    assert hashed.frames and not hashed.warnings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path)
    a = parser.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="video-throughput-"))
    video = work / f"1080p-{a.seconds}s.mp4"
    if not video.exists():
        make_video(video, a.seconds)
    runs = {
        "ffmpeg -vf fps=1 (decode limit)": lambda: ffmpeg_fps1(video),
        "triage vpdq, one frame a second": lambda: ours(video, "second"),
        "ffmpeg -skip_frame nokey (keyframe limit)": lambda: ffmpeg_keyframes(video),
        "triage vpdq, keyframes": lambda: ours(video, "keyframes"),
    }
    times = {name: [] for name in runs}
    for _ in range(a.rounds):          # alternating, so load swings hit every tool alike
        for name, work_ in runs.items():
            times[name].append(timed(work_))
    print(f"{video.name}: {a.seconds} s of 1920x1080 H.264, {os.cpu_count()} CPUs, "
          f"median of {a.rounds} rounds\n")
    print("| run | wall s | x real time | CPU s | ratio to its FFmpeg peer (wall) |")
    print("|---|---|---|---|---|")
    names = list(runs)
    for i, name in enumerate(names):
        wall = statistics.median(t for t, _ in times[name])
        cpu = statistics.median(c for _, c in times[name])
        peer = statistics.median(t for t, _ in times[names[i - i % 2]])
        ratio = "-" if i % 2 == 0 else f"{peer / wall:.2f}x"
        print(f"| {name} | {wall:.2f} | {a.seconds / wall:.1f}x | {cpu:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
