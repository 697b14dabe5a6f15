"""The archive collection and the reference set, made once per session
(tests/archive_fixtures.py)."""

import pytest

import archive_fixtures


@pytest.fixture(scope="session")
def reference_set(tmp_path_factory):
    return archive_fixtures.reference_set(tmp_path_factory)


@pytest.fixture(scope="session")
def collection(tmp_path_factory):
    return archive_fixtures.collection(tmp_path_factory)
