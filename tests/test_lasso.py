"""Tests of the exact l1 encoder (src/unsupervised/_lasso.py, behind encode's "active_set"
method) at the edges of its range: eta = 0, tiny eta, singular sets, warm starts on more
than d atoms. Its accuracy on ordinary problems is tested in tests/test_sparse_coding.py."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import optimize

from helpers import kkt_violation, unit_atoms
from unsupervised.sparse_coding import encode, objective


@pytest.fixture(autouse=True, scope="module")
def compiled():
    """The timed tests below guard against hangs, not compile time: numba compiles the
    homotopy (_lars.py) at its first call in a process (seconds; cached afterwards)."""
    encode(np.ones((1, 2)), np.eye(2), 0.1)


def basis_pursuit(A, x):
    """min ||z||_1 subject to A z = x, as a linear programme (z = u - v, u, v >= 0; HiGHS)."""
    p = A.shape[1]
    res = optimize.linprog(
        np.ones(2 * p), A_eq=np.hstack([A, -A]), b_eq=x, bounds=(0, None), method="highs"
    )
    assert res.status == 0
    return res.x[:p] - res.x[p:]


@pytest.mark.parametrize("d, p", [(8, 20), (20, 8)])
def test_eta_zero_is_the_minimum_norm_least_squares_solution(d, p):
    """eta = 0: SC6 is least squares; encode returns numpy.linalg.lstsq's minimum-norm
    solution, at once (it took 11-17 s on 50 samples through the active set), for every
    penalty, and FISTA from z = 0 converges to the same code (gradient steps from 0 stay in
    the row space of A)."""
    rng = np.random.default_rng(0)
    A, X = unit_atoms(rng, d, p), rng.normal(size=(50, d))
    ref = np.linalg.lstsq(A, X.T, rcond=None)[0].T
    start = time.perf_counter()
    Z, history = encode(X, A, 0.0, return_history=True)
    assert time.perf_counter() - start < 1.0
    np.testing.assert_allclose(Z, ref, atol=1e-12)
    assert history.shape == (0,)
    np.testing.assert_allclose(encode(X, A, 0, penalty="log"), ref, atol=1e-12)
    np.testing.assert_allclose(encode(X[0], A, 0.0, method="active_set"), ref[0], atol=1e-12)
    # FISTA stops when F stops changing in float64: near the minimum F - F* ~ |dz|^2, so dz
    # ~ sqrt(eps F / lambda_min) ~ 1e-6 here; any other least-squares solution is O(1) away
    Z_f = encode(X, A, 0.0, method="fista", max_iter=5000, tol=0.0)
    np.testing.assert_allclose(Z_f, ref, atol=1e-5)
    if p > d:  # underdetermined: another exact code exists, with a larger norm
        null = np.linalg.svd(A)[2][-1]
        assert np.allclose(A @ (ref[0] + null), X[0])
        assert np.linalg.norm(ref[0]) < np.linalg.norm(ref[0] + null)


@pytest.mark.parametrize("eta", [1e-9, 1e-6, 1e-4])
def test_small_eta_codes_are_exact_and_fast(eta):
    """Overcomplete (d = 8, p = 20) with a small eta: the codes have d atoms and an exact
    fit, and the active set must pivot between such sets (FISTA took 10-14 s on 50 samples
    here). The codes satisfy the optimality conditions to within rounding, and as eta -> 0
    their l1 norm tends to basis pursuit's (SciPy's linear programme), from below."""
    rng = np.random.default_rng(1)
    A, X = unit_atoms(rng, 8, 20), rng.normal(size=(50, 8))
    start = time.perf_counter()
    Z = encode(X, A, eta)
    assert time.perf_counter() - start < 5.0
    # rounding of c = b - G z is ~1e-15 here; 1e-8 eta/2 is the solver's own tolerance scale
    assert kkt_violation(X, A, Z, eta) <= 1e-8 * eta / 2 + 1e-13
    assert np.mean(np.count_nonzero(Z, axis=1) == 8) > 0.9
    for n in range(5):
        z_bp = basis_pursuit(A, X[n])
        l1, l1_bp = np.abs(Z[n]).sum(), np.abs(z_bp).sum()
        # the lasso path: ||z_eta||_1 <= ||z_BP||_1, and the gap and the misfit are O(eta)
        assert l1 <= l1_bp * (1 + 1e-9)
        assert l1_bp - l1 <= 100 * eta * l1_bp
        assert np.linalg.norm(X[n] - A @ Z[n]) <= 100 * eta


def test_tiny_eta_undercomplete_is_least_squares_to_rounding():
    """p < d with a full-rank A: for eta = 1e-12 the code is the least-squares solution up to
    O(eta); this took 6-9 s on 50 samples (a tolerance below rounding could never be met)."""
    rng = np.random.default_rng(2)
    A, X = unit_atoms(rng, 20, 8), rng.normal(size=(50, 20))
    start = time.perf_counter()
    Z = encode(X, A, 1e-12)
    assert time.perf_counter() - start < 2.0
    np.testing.assert_allclose(Z, np.linalg.lstsq(A, X.T, rcond=None)[0].T, atol=1e-10)


def test_a_warm_start_on_more_than_d_atoms_gives_the_same_codes():
    """A start with all p > d atoms non-zero (its systems are singular) ends at the same
    optimum as the start from 0 (the problem is strictly convex for these generic atoms)."""
    rng = np.random.default_rng(3)
    A, X = unit_atoms(rng, 6, 15), rng.normal(size=(20, 6))
    for eta in (1e-6, 0.3):
        Z0 = encode(X, A, eta, method="active_set")  # the method that uses init ("lars"
        Z1 = encode(X, A, eta, method="active_set", init=rng.normal(size=(20, 15)))  # not)
        np.testing.assert_allclose(Z1, Z0, atol=1e-9)
        assert kkt_violation(X, A, Z1, eta) < 1e-8 * eta


def test_repeated_atoms_with_a_tiny_eta_end_quickly_with_a_good_code():
    """Every atom twice (singular sets at any size) and eta = 1e-9: the solver's FISTA
    fallback crawls there; it stops when it stalls (6 samples took 6-8 s before). The code
    is finite and no worse than the minimum-norm least-squares code, and for a usual eta the
    repeated atoms change nothing (the optimum splits a coefficient between the two copies,
    with the same objective as the code on the atoms once)."""
    rng = np.random.default_rng(4)
    A, X = unit_atoms(rng, 4, 5), rng.normal(size=(6, 4))
    AA = np.hstack([A, A])
    start = time.perf_counter()
    Z = encode(X, AA, 1e-9)
    assert time.perf_counter() - start < 3.0
    ls = np.linalg.lstsq(AA, X.T, rcond=None)[0].T
    assert objective(X, AA, Z, 1e-9) <= objective(X, AA, ls, 1e-9)
    Z2 = encode(X, AA, 0.3)
    assert objective(X, AA, Z2, 0.3) == pytest.approx(
        objective(X, A, encode(X, A, 0.3), 0.3), rel=1e-9
    )
