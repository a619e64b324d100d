"""Fixtures shared by the learning-core tests."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every learning-core test runs torch on one thread (tests/conftest.py)."""
    yield
