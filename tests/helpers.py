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


# --------------------------------------------------------------------------- l1 codes


def unit_atoms(rng, d, p):
    """A random dictionary (d, p) with unit-norm atoms (columns)."""
    A = rng.normal(size=(d, p))
    return A / np.linalg.norm(A, axis=0)


def kkt_violation(X, A, Z, eta):
    """Largest violation of the l1 optimality conditions of SC6 (c = A^T (x - A z)):
    c_i = (eta/2) sign(z_i) where z_i != 0, |c_i| <= eta/2 where z_i = 0."""
    t = eta / 2
    C = (X - Z @ A.T) @ A
    on = Z != 0
    return max(
        np.abs(C - t * np.sign(Z))[on].max(initial=0.0), (np.abs(C) - t)[~on].max(initial=0.0)
    )


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
