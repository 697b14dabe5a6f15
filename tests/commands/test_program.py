"""The `triage` program as a user starts it (`python -m triage`, cli.run): its exit codes and
output are main()'s, its exit skips only the interpreter's teardown."""

import subprocess
import sys
from pathlib import Path

import numpy

from support import FIXTURES, run_triage


def test_the_program_exits_with_main_s_code_and_its_output_whole(tmp_path):
    version = run_triage("--version")
    assert (version.code, version.stdout.strip()) == (0, "triage, version 0.1.0")
    missing = run_triage("scan", tmp_path / "nothing", "--hashset", tmp_path / "none.tset",
                         "-o", tmp_path / "out")
    assert missing.code == 2 and missing.stderr.count("\n") == 1
    # a long output, every line of it written before the exit
    listed = run_triage("hashset", "info", FIXTURES / "hashsets" / "real" / "Z00236.hsh",
                        "--json")
    assert listed.code == 0 and listed.stdout.rstrip().endswith("}")


def test_a_reader_that_leaves_early_is_no_error():
    """`triage files FOLDER | head -c 10`: the pipe closes under the program's output (half a
    MB here, past what the pipe holds), which ends it with 0 and nothing on stderr."""
    folder = Path(numpy.__file__).parent
    whole = subprocess.run([sys.executable, "-m", "triage", "files", str(folder)],
                           capture_output=True)
    assert whole.returncode == 0 and len(whole.stdout) > 1 << 17
    pipe = subprocess.run(f"{sys.executable} -m triage files {folder} | head -c 10; "
                          f"echo \"${{PIPESTATUS[0]}}\" >&2", shell=True, executable="/bin/bash",
                          capture_output=True, text=True)
    assert pipe.stdout == '{"evidence' and pipe.stderr == "0\n"
