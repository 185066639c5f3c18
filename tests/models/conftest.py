"""Fixtures of the model-zoo tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_intra_op_thread():
    """Run torch on one thread: these tests run many small ops, and on a shared 2-core
    machine torch's thread pool spent 10-20x the CPU time of a single thread on them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
