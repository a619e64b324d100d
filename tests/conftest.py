"""Fixtures shared by all test folders."""

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """torch on one thread for the test, restored afterwards: tiny models gain nothing
    from threads, and on a busy machine OpenMP threads waiting for each other made
    such tests 10x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
