"""Fixtures shared by the learning-core tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    # tiny models gain nothing from threads, and on a busy machine OpenMP threads
    # waiting for each other made these tests 10x slower; restored afterwards
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
