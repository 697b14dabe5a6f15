"""What a scan says it ran on: the installed libraries' versions as importlib.metadata tells
them, found without it."""

import importlib.metadata
import sys

from triage import TOOL_NAME, environment


def test_the_libraries_are_the_runtime_requirements_at_importlib_metadata_s_versions():
    libraries = dict(environment.libraries())
    requires = [r for r in importlib.metadata.requires(TOOL_NAME) or [] if "extra ==" not in r]
    assert len(requires) >= 30
    for req in requires:
        name = req.split(">")[0].split("=")[0].split(";")[0].strip()
        assert libraries[name] == importlib.metadata.version(name), name
    assert libraries["Python"] == sys.version.split()[0]


def test_distributions_are_told_by_their_folders_names_the_first_on_the_path_winning(
        tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in ("Pillow_Heif-1.9.0.dist-info", "zope.interface-7.2.dist-info",
                   "notes.txt", "nodash.dist-info"):
        (first / folder).mkdir(parents=True)
    (second / "pillow_heif-0.1.dist-info").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(tmp_path / "gone"), str(first), str(second)])
    found = environment.distributions()
    assert found == {"pillow-heif": ("1.9.0", str(first / "Pillow_Heif-1.9.0.dist-info")),
                     "zope-interface": ("7.2", str(first / "zope.interface-7.2.dist-info"))}


def test_requirements_are_the_metadata_headers_requires_dist_lines(tmp_path):
    (tmp_path / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: x\nRequires-Dist: click>=8.1\n"
        "Requires-Dist: pytest; extra == \"test\"\n\nRequires-Dist: not-a-header\n")
    assert environment.requirements(str(tmp_path)) == ["click>=8.1",
                                                        'pytest; extra == "test"']
    assert environment.requirements(str(tmp_path / "none")) == []
