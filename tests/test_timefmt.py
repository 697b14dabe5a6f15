from triage.timefmt import iso


def test_iso_formats_utc_with_optional_fraction():
    assert iso(1795907100) == "2026-11-28T23:05:00Z"
    assert iso(1795907100, 123456700) == "2026-11-28T23:05:00.1234567Z"
    assert iso(-1) == "1969-12-31T23:59:59Z"
    assert iso(5, 120) == "1970-01-01T00:00:05.00000012Z"


def test_iso_edges_and_absent_values():
    assert iso(0) is None and iso(None) is None          # unset
    assert iso(253402300799) == "9999-12-31T23:59:59Z"
    assert iso(-62135596800) == "0001-01-01T00:00:00Z"
    assert iso(253402300800) is None                     # beyond year 9999: corrupt, not fatal
    assert iso(10 ** 20) is None
