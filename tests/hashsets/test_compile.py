import numpy as np

from triage.hashsets.compile import Compiler
from triage.records import SetEntry


def test_duplicates_collapse_and_categories_conflict():
    c = Compiler()
    v = "00" * 15 + "ff"
    for entry in [SetEntry("md5", v, "1"), SetEntry("md5", v, "1"), SetEntry("md5", v, "2"),
                  SetEntry("md5", "ff" * 16, None, size=5)]:
        c.add(entry)
    specs, arrays = c.finish()
    md5 = specs["md5"]
    assert md5["rows"] == 3 and md5["distinct"] == 2
    assert md5["stats"] == {"rows_read": 4, "duplicate_values": 1, "duplicate_examples": [v],
                            "conflicting_values": 1}
    assert md5["all_sized"] is False and md5["sized"] == 1
    assert arrays["md5.size"].dtype == np.uint32
    assert arrays["md5.sizes"].tolist() == [5]
    assert arrays["md5.hi"].tolist() == [0, 0, 2**64 - 1]


def test_large_sizes_use_uint64():
    c = Compiler()
    c.add(SetEntry("sha1", "ab" * 20, size=2**40))
    _, arrays = c.finish()
    assert arrays["sha1.size"].dtype == np.uint64
    assert arrays["sha1.rest"].shape == (1, 12)
