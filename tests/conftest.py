"""Fixtures shared by the library tests (pytest loads this file before the test modules).

Plain helper functions shared by several test modules are in tests/helpers.py."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """One torch thread per test process: the networks under test are tiny, and `make test-lib`
    runs two pytest-xdist workers on two cores, so more threads only compete."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def close_figures():
    """Close the figures a test drew (the plot_* functions return open Figures; pyplot keeps
    every one alive until closed)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
