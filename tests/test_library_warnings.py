"""library_warnings: what a library says while a file is handled is that file's, one line each,
never the values a document library put in its message. (Pillow's warnings and log records
through the picture decoder: tests/test_imaging.py.)"""

from __future__ import annotations

import logging
import warnings

from triage.library_warnings import collected, install

SECRET = "a title from inside the document"


def test_a_nested_block_collects_its_own_and_the_outer_goes_on_after_it():
    with collected() as outer:
        warnings.warn("before")
        with collected() as inner:
            warnings.warn("inside")
        warnings.warn("after")
    assert inner == ["UserWarning: inside"]
    assert outer == ["UserWarning: before", "UserWarning: after"]


def test_pypdf_records_keep_their_message_without_its_values():
    log = logging.getLogger("pypdf._doc_common")
    with collected() as said:
        log.warning("Unknown destination: %(title)r %(fit_args)s",
                     {"title": SECRET, "fit_args": "/Fit"})
        log.warning("incorrect startxref pointer(%(n)d), %(share)5.1f%% %%", {"n": 3, "share": 9})
        log.warning("EOF marker not found")
    assert said == ["pypdf._doc_common: Unknown destination: ... ...",
                    "pypdf._doc_common: incorrect startxref pointer(...), ...% %",
                    "pypdf._doc_common: EOF marker not found"]


def test_outside_a_collection_a_pypdf_record_is_shown_without_its_values(capsys, monkeypatch):
    # as in the CLI, where no other handler hears it (pytest's own is set aside)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    install()
    logging.getLogger("pypdf._reader").warning("invalid pdf header: %(header)r",
                                               {"header": SECRET})
    assert capsys.readouterr().err == "invalid pdf header: ...\n"


def test_pillow_records_keep_their_values():
    with collected() as said:
        logging.getLogger("PIL.TiffImagePlugin").warning("More samples per pixel: %s", 1000)
    assert said == ["PIL.TiffImagePlugin: More samples per pixel: 1000"]
