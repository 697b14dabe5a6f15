"""Every pluggable family refuses a name registered twice instead of silently replacing it."""

import pytest

from triage.evidence.media import CONTAINERS
from triage.hashsets.formats import FORMATS
from triage.registry import Registry
from triage.reporters import REPORTERS, register as register_reporter
from triage.signals import SIGNALS, register as register_signal
from triage.signals.exact import MD5


def test_a_registry_keeps_order_and_refuses_a_second_entry_of_a_name():
    shapes = Registry("shape")
    shapes.add("square", 4)
    shapes.add("triangle", 3)
    assert list(shapes) == ["square", "triangle"] and shapes["triangle"] == 3
    with pytest.raises(ValueError, match="shape 'square' is registered twice"):
        shapes.add("square", 5)
    assert shapes["square"] == 4


def test_the_built_in_families_refuse_duplicates():
    with pytest.raises(ValueError, match="signal 'md5' is registered twice"):
        register_signal(type("MD5Again", (MD5,), {}))
    with pytest.raises(ValueError, match="report format 'csv' is registered twice"):
        register_reporter("csv", "other.csv")(lambda report: b"")
    with pytest.raises(ValueError, match="hash-set format"):
        FORMATS.add("vics", FORMATS["vics"])
    with pytest.raises(ValueError, match="container"):
        CONTAINERS.add("ewf", CONTAINERS["ewf"])
    assert SIGNALS["md5"] is MD5 and REPORTERS["csv"].filename == "report.csv"
