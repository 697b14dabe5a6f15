"""The one-file build (packaging/): it unpacks beside itself, never into the machine's temp
folder, and writes nothing outside the output folder and that unpacked copy. Every write is
seen with strace (each open for writing, mkdir, rename, unlink, chmod... of every process),
under an empty TMPDIR and HOME that must stay empty.

The launcher is checked on a stand-in program on every run of the suite. The real build
(PyInstaller) is marked `onefile`: at the small size it builds the frozen folder and runs the
demo scan from it; with TRIAGE_SLOW_SCALE >= 10 it builds the one file and runs that. Both
run with the project's virtual environment, the system's Python and its libmagic hidden (a
private mount namespace), so only what is inside the build can be used."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from support import FIXTURES, REPO, slow_scale

PACKAGING = REPO / "packaging"
DEMO = FIXTURES / "demo"
CLEAN_PATH = "/usr/bin:/bin"
WRITE_CALLS = ("chdir,fchdir,open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,"
               "rmdir,link,linkat,symlink,symlinkat,truncate,chmod,fchmodat,utimensat,"
               "mknod,mknodat")
WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")
PATH_ARG = re.compile(r'(?:(\d+)<([^>]*)>, )?"((?:[^"\\]|\\.)*)"')
# Where a run may write besides the output folder and the unpacked copy: nothing on a disk.
# /dev/shm is memory (multiprocessing's semaphores live there for an instant).
HARMLESS = ("/dev/null", "/dev/tty", "/dev/shm/", "/proc/")


def audited(command, cwd, env, strace_log):
    """Run `command` under strace (every process); (completed process, paths written)."""
    full = ["strace", "-f", "-qq", "-y", "-s", "4096", "-o", str(strace_log),
            "-e", f"trace={WRITE_CALLS}", *command]
    proc = subprocess.run(full, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    return proc, written(strace_log.read_text(errors="replace"), Path(cwd))


def written(log: str, cwd: Path) -> set:
    """Every path a traced call wrote (created, opened for writing, renamed, removed, ...),
    made absolute: relative to the call's directory descriptor (strace -y names it) or to the
    process's working directory (followed through chdir and fchdir, as tar -C and mkdir -p do)."""
    found, where = set(), {}
    for line in log.splitlines():
        call = re.match(r"(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+)", line)
        if not call or call.group(4).startswith("-"):
            continue
        pid, name, args = call.group(1), call.group(2), call.group(3)
        here = where.get(pid, str(cwd))
        paths = [os.path.normpath(os.path.join(base or here,
                                               bytes(path, "utf-8").decode("unicode_escape")))
                 for _, base, path in PATH_ARG.findall(args)]
        if name == "chdir":
            where[pid] = paths[0]
        elif name == "fchdir":           # fchdir(3</the/folder>)
            where[pid] = re.match(r"\d+<([^>]*)>", args).group(1)
        elif name not in ("open", "openat") or WRITE_FLAGS.search(args):
            found.update(paths)
    return found


def outside(paths, *allowed) -> list:
    return sorted(p for p in paths if not p.startswith(HARMLESS)
                  and not any(p == str(a) or p.startswith(str(a) + "/") for a in allowed))


def clean_env(tmp_path) -> dict:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "home").mkdir()
    return {"PATH": CLEAN_PATH, "TMPDIR": str(tmp_path / "tmp"), "HOME": str(tmp_path / "home")}


needs_strace = pytest.mark.skipif(shutil.which("strace") is None,
                                  reason="strace is needed to see every write (apt strace)")


# -- the launcher, on a stand-in program ------------------------------------------------------

STAND_IN = """#!/bin/sh
# Stands in for the frozen program: says where it runs and writes one file into -o's folder.
echo "args: $*"
mkdir -p "$2"
echo written > "$2/result.txt"
"""


@pytest.fixture
def one_file(tmp_path):
    folder = tmp_path / "bundle" / "triage"
    folder.mkdir(parents=True)
    (folder / "triage").write_text(STAND_IN)
    (folder / "triage").chmod(0o755)
    (folder / "library.so").write_bytes(os.urandom(300_000))
    stick = tmp_path / "stick"
    stick.mkdir()
    subprocess.run(["bash", PACKAGING / "assemble.sh", tmp_path / "bundle", stick / "triage"],
                   check=True, capture_output=True)
    return stick / "triage"


@needs_strace
def test_the_launcher_unpacks_once_beside_itself_and_writes_nowhere_else(one_file, tmp_path):
    stick = one_file.parent
    assert subprocess.run(["sha256sum", "-c", "triage.sha256"], cwd=stick,
                          capture_output=True).returncode == 0
    env = clean_env(tmp_path)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    out = stick / "case-1"
    proc, paths = audited([one_file, "-o", out], cwd, env, tmp_path / "strace1")
    assert proc.returncode == 0, proc.stderr
    unpacked = [p for p in stick.iterdir() if p.name.startswith(".triage-")]
    assert len(unpacked) == 1 and re.fullmatch(r"\.triage-[0-9a-f]{16}", unpacked[0].name)
    assert proc.stdout.splitlines() == [f"args: -o {out}"]
    assert (out / "result.txt").read_text() == "written\n"
    assert (unpacked[0] / "triage" / "library.so").stat().st_size == 300_000
    # Unpacked into .triage-ID.partial.PID beside it, then renamed into place.
    assert [p for p in outside(paths, out, unpacked[0])
            if not p.startswith(f"{unpacked[0]}.partial.")] == []
    assert any(p.startswith(f"{unpacked[0]}.partial.") for p in paths)
    for folder in ("tmp", "home", "cwd"):
        assert list((tmp_path / folder).iterdir()) == []
    # The second run starts from the copy: nothing is unpacked again.
    inode = (unpacked[0] / "triage" / "triage").stat().st_ino
    proc, paths = audited([one_file, "-o", stick / "case-2"], cwd, env, tmp_path / "strace2")
    assert proc.returncode == 0, proc.stderr
    assert outside(paths, stick / "case-2") == []
    assert (unpacked[0] / "triage" / "triage").stat().st_ino == inode
    assert sorted(p.name for p in stick.iterdir()) == [
        unpacked[0].name, "case-1", "case-2", "triage", "triage.sha256"]


def test_a_damaged_file_is_one_line_and_leaves_nothing(one_file, tmp_path):
    data = one_file.read_bytes()
    one_file.write_bytes(data[:len(data) - 200_000])
    env = clean_env(tmp_path)
    proc = subprocess.run([one_file, "--version"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (f"triage: error: {one_file}: cannot unpack "
                                            f"(damaged or truncated: check its SHA-256)")
    assert sorted(p.name for p in one_file.parent.iterdir()) == ["triage", "triage.sha256"]


def test_an_unwritable_place_to_unpack_is_one_line(one_file, tmp_path):
    env = {**clean_env(tmp_path), "TRIAGE_UNPACK_DIR": "/proc/no-such-folder"}
    proc = subprocess.run([one_file, "--version"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == ("triage: error: /proc/no-such-folder: cannot unpack beside the "
                           "executable (not writable); set TRIAGE_UNPACK_DIR to a folder on "
                           "the stick\n")


# -- the real build ---------------------------------------------------------------------------

HIDDEN_FOLDERS = [REPO / ".venv", REPO / "build" / "onefile" / "venv", Path("/usr/lib/python3"),
                  *Path("/usr/lib").glob("python3.*"), *Path("/usr/local/lib").glob("python3*")]
HIDDEN_FILES = [*Path("/usr/lib/x86_64-linux-gnu").glob("libmagic.so*"),
                *Path("/usr/lib/file").glob("magic.mgc"), *Path("/usr/bin").glob("python3*")]


def hidden(command) -> list:
    """`command` in a private mount namespace where the Python installs and libmagic are
    hidden: empty folders over the folders, /dev/null over the files."""
    mounts = [f"mount -t tmpfs none '{d}'" for d in HIDDEN_FOLDERS if d.is_dir()]
    mounts += [f"mount --bind /dev/null '{f}'" for f in HIDDEN_FILES
               if f.exists() and not f.is_symlink()]
    script = " && ".join(mounts + ['exec "$@"'])
    return ["unshare", "-m", "sh", "-c", script, "hide", *map(str, command)]


@pytest.mark.onefile
@pytest.mark.slow
@needs_strace
def test_the_frozen_build_runs_the_demo_scan_and_writes_only_its_output(tmp_path):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("hiding the Python installs needs root (a private mount namespace)")
    full = slow_scale() >= 10
    dist = tmp_path / "stick"
    started = time.monotonic()
    build = subprocess.run(["bash", PACKAGING / "build-onefile.sh", "--out", dist,
                            *([] if full else ["--onedir"])], cwd=REPO, capture_output=True,
                           text=True, timeout=1800)
    assert build.returncode == 0, build.stderr[-3000:]
    built = time.monotonic() - started
    program = dist / "triage" if full else dist / "triage" / "triage"
    glibc = re.search(r"needs glibc ([0-9.]+)", build.stdout).group(1)
    if Path("/usr/include/zlib.h").exists():   # the kit's pyewf inflates E01 chunks with zlib
        assert "pyewf: inflates with zlib" in build.stdout, build.stdout
    env = clean_env(tmp_path)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    timings = []
    for _ in range(3):          # the first run of the one file unpacks it
        started = time.monotonic()
        version = subprocess.run(hidden([program, "--version"]), env=env, cwd=cwd,
                                 capture_output=True, text=True)
        timings.append(time.monotonic() - started)
        assert version.returncode == 0, version.stderr
    out = dist / "case"
    proc, paths = audited(hidden([program, "scan", DEMO / "demo.E01", "--hashset",
                                  DEMO / "demo-alert.json", "--hashset",
                                  DEMO / "demo-known-good.txt", "-o", out, "-q"]),
                          cwd, env, tmp_path / "strace")
    assert proc.returncode == 1, proc.stderr
    report = json.loads((out / "report.json").read_text())
    if Path("/usr/include/zlib.h").exists():   # the frozen kit's libewf inflates with zlib
        assert "zlib" in {lib["name"] for lib in report["environment"]["libraries"]}
    expected = json.loads((DEMO / "expected.json").read_text())
    assert report["summary"]["hits"] == expected["summary"]["hits"] == 7
    # The frozen program keeps its temporary files in tmp/ beside itself.
    allowed = [out, *dist.glob(".triage-*")] if full else [out, program.parent / "tmp"]
    assert outside(paths, *allowed) == []
    for folder in ("tmp", "home", "cwd"):
        assert list((tmp_path / folder).iterdir()) == []
    size = program.stat().st_size if full else sum(
        p.stat().st_size for p in program.parent.rglob("*") if p.is_file())
    print(f"\n{'one file' if full else 'folder'}: {size / 1e6:.1f} MB, built in {built:.0f} s, "
          f"--version in {', '.join(f'{t:.2f}' for t in timings)} s, needs glibc {glibc}")
