"""Plain helpers shared by several test modules (fixtures are in tests/conftest.py)."""

import re

import numpy as np
import torch


def torch_generator(seed):
    """A CPU torch.Generator seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)


def random_spd(rng, k, batch=(), ridge=0.5):
    """Random symmetric positive definite matrices of shape (*batch, k, k): A A^T + ridge I."""
    A = rng.standard_normal((*batch, k, k))
    return A @ np.swapaxes(A, -1, -2) + ridge * np.eye(k)


# --------------------------------------------------------------------------- exercise checkers


def assert_no_numbers(out):
    """A checker's message carries no decimal numbers at all, so no expected value can leak."""
    assert not re.search(r"\d\.\d|\d{2,}", out), out


def run(checker, answer, capsys):
    """Call a checker on the learner's answer; return (verdict, printed message). Every
    checker returns a bool and prints a message, which never leaks a value."""
    result = checker(answer)
    out = capsys.readouterr().out
    assert isinstance(result, bool)
    assert out.strip(), "a checker always prints a message"
    assert_no_numbers(out)
    return result, out


def stub(*args):
    """The learner's function before it is written."""
    raise NotImplementedError
