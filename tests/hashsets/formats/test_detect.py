import pytest

from support import FIXTURES
from triage.errors import HashSetError
from triage.hashsets.formats import detect


def test_unknown_and_empty_files_are_one_line_errors(tmp_path):
    readme = FIXTURES / "hashsets" / "real" / "README.md"
    with pytest.raises(HashSetError, match=r"README.md: not a hash-set format triage knows"):
        detect(readme)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(HashSetError, match="empty file"):
        detect(empty)
    with pytest.raises(HashSetError, match="cannot read"):
        detect(tmp_path / "missing.txt")


def test_detection_ignores_the_extension(tmp_path):
    disguised = tmp_path / "list.json"
    disguised.write_bytes((FIXTURES / "hashsets" / "real" / "hashdeep-sample.txt").read_bytes())
    assert detect(disguised).name == "hashdeep"
