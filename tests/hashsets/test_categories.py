from triage.hashsets import categories


def test_labels_and_schemes():
    assert categories.label(1) == "1"
    assert categories.label(" 2 ") == "2"
    assert categories.label("") is None
    assert categories.label("CAT A") == "CAT A"
    assert categories.detect(["1", "2", "0"]) == "vics"
    assert categories.detect(["A", "C"]) == "caid"
    assert categories.detect(["notable"]) == "free"
    assert categories.is_known_good("vics", ["8"]) is True
    assert categories.is_known_good("vics", ["8", "1"]) is False
    assert categories.combine(["vics", "vics", None]) == "vics"
    assert categories.combine(["vics", "nsrl"]) == "mixed"
    assert categories.describe("vics", "3") == "CGI / animation"
