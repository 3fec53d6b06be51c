"""Tests of the default exact l1 encoder, the LARS-Lasso homotopy (src/unsupervised/_lars.py,
behind encode's "lars" method): against independent solvers (scikit-learn's coordinate
descent run to 1e-14, SciPy's L-BFGS-B on the split problem) and the optimality conditions
written out here; the samples it hands to the feature-sign fallback; determinism. The
edges (eta = 0, tiny eta, repeated atoms) are in tests/test_lasso.py for both exact methods."""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest
from scipy import optimize
from sklearn.linear_model import Lasso

from helpers import kkt_violation, unit_atoms
from unsupervised.datasets import image_patches
from unsupervised.sparse_coding import encode, objective


def lasso_cd(X, A, eta):
    """scikit-learn's coordinate descent on the same problem (alpha = eta / (2 d): Lasso
    minimises ||x - A z||^2 / (2 d) + alpha ||z||_1), run to tol 1e-14."""
    model = Lasso(alpha=eta / (2 * A.shape[0]), fit_intercept=False, tol=1e-14, max_iter=100_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array([model.fit(A, x).coef_.copy() for x in X])


def lbfgs_split(x, A, eta):
    """The same minimum by SciPy's L-BFGS-B on z = u - v, u, v >= 0 (a smooth problem)."""
    p = A.shape[1]

    def f(uv):
        u, v = uv[:p], uv[p:]
        r = A @ (u - v) - x
        g = 2 * A.T @ r
        return r @ r + eta * uv.sum(), np.concatenate([g + eta, -g + eta])

    res = optimize.minimize(
        f,
        np.zeros(2 * p),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0, None)] * (2 * p),
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 20_000},
    )
    return res.x[:p] - res.x[p:]


@pytest.mark.parametrize("d, p, eta", [(16, 40, 0.3), (16, 40, 0.02), (30, 20, 0.1), (8, 64, 0.5)])
def test_lars_reaches_the_minimum_of_independent_solvers(d, p, eta):
    """Random unit atoms, 40 samples (supports up to d atoms in the second case): the
    homotopy finishes every sample itself, its codes satisfy the optimality conditions to
    1e-9 eta/2 (rounding of c is ~1e-15 here), and its objective is not above coordinate
    descent's (at tol 1e-14) by more than 1e-12 relative. The codes are compared through
    the objective, not entry by entry: where a support has about d atoms, CD stops with
    codes 1e-2 away at an objective within 1e-15 (an ill-conditioned minimum)."""
    rng = np.random.default_rng(d * p)
    A, X = unit_atoms(rng, d, p), rng.normal(size=(40, d))
    Z, history = encode(X, A, eta, method="lars", return_history=True)
    assert history.size == 0  # no sample needed the fallback
    assert kkt_violation(X, A, Z, eta) <= 1e-9 * eta / 2
    Z_cd = lasso_cd(X, A, eta)
    F, F_cd = objective(X, A, Z, eta), objective(X, A, Z_cd, eta)
    assert F <= F_cd * (1 + 1e-12)
    z_lb = lbfgs_split(X[0], A, eta)
    assert objective(X[0], A, Z[0], eta) <= objective(X[0], A, z_lb, eta) * (1 + 1e-12)


def test_lars_and_the_feature_sign_solver_give_the_same_codes_on_image_patches():
    """Two different exact algorithms on the benchmark's kind of data (mean-removed 8 x 8
    patches, a dictionary of 256 atoms drawn from patches): the same codes to 1e-9 and the
    same objective to 1e-13 relative (both are exact; what is left is rounding)."""
    X = image_patches(600, seed=3)
    rng = np.random.default_rng(0)
    A = image_patches(256, seed=4).T
    A = A / np.linalg.norm(A, axis=0)
    for eta in (0.05, 0.15):
        Z = encode(X, A, eta, method="lars")
        Z_fs = encode(X, A, eta, method="active_set")
        assert kkt_violation(X, A, Z, eta) <= 1e-9 * eta / 2
        np.testing.assert_allclose(Z, Z_fs, atol=1e-9)
        F, F_fs = objective(X, A, Z, eta), objective(X, A, Z_fs, eta)
        assert abs(F - F_fs) <= 1e-13 * F_fs
        assert np.mean(np.count_nonzero(Z, axis=1)) > 2  # not a trivial problem
    del rng


def test_the_samples_lars_cannot_finish_go_to_the_fallback_and_end_optimal():
    """Two ways the homotopy gives up, each finished by the feature-sign solver (the history
    counts the samples it refined): an atom repeated (its second copy lies in the span of
    the support: a zero Cholesky pivot) and a step limit of 1 (every sample that needs a
    second atom). The codes are optimal in both cases. (A support of d atoms is not one:
    while it is unchanged |c_j| / lam is constant for the atoms outside, so none enters
    before a departure; the "d atoms" case shows the homotopy finishing such samples.)"""
    rng = np.random.default_rng(5)
    A, X = unit_atoms(rng, 6, 12), rng.normal(size=(30, 6))
    cases = {
        "repeated atom": (np.hstack([A, A[:, :1]]), 0.05, {}),
        "step limit": (A, 0.05, {"max_iter": 1}),
        "d atoms": (A, 1e-6, {}),
    }
    for name, (A_, eta, options) in cases.items():
        Z, history = encode(X, A_, eta, method="lars", return_history=True, **options)
        if name == "d atoms":
            assert history.size == 0 and np.count_nonzero(Z, axis=1).max() == 6
        else:
            assert history.size > 0 and history[0] > 0, name
        assert kkt_violation(X, A_, Z, eta) <= 1e-8 * eta / 2 + 1e-13, name
        Z_fs = encode(X, A_, eta, method="active_set")
        F, F_fs = objective(X, A_, Z, eta), objective(X, A_, Z_fs, eta)
        assert F <= F_fs * (1 + 1e-12), name


def test_zero_atoms_samples_and_a_large_eta():
    """A zero atom never enters a code; x = 0 and eta >= 2 max |A^T x| give z = 0 exactly."""
    rng = np.random.default_rng(6)
    A, X = unit_atoms(rng, 10, 25), rng.normal(size=(20, 10))
    A[:, 7] = 0.0
    X[3] = 0.0
    Z = encode(X, A, 0.2, method="lars")
    assert np.all(Z[:, 7] == 0) and np.all(Z[3] == 0)
    assert kkt_violation(X, A, Z, 0.2) <= 1e-9 * 0.1
    eta_max = 2 * np.abs(X @ A).max(axis=1)
    for n in (0, 1):
        assert np.count_nonzero(encode(X[n], A, eta_max[n] * (1 + 1e-9), method="lars")) == 0
        assert np.count_nonzero(encode(X[n], A, eta_max[n] * (1 - 1e-6), method="lars")) == 1


def test_lars_is_deterministic_and_does_not_depend_on_the_number_of_threads():
    """Samples are independent, so the codes are bit-identical across calls and for one
    thread or all of them (numba's prange splits the samples, not the arithmetic)."""
    X = image_patches(300, seed=7)
    A = image_patches(128, seed=8).T
    A = A / np.linalg.norm(A, axis=0)
    Z = encode(X, A, 0.1)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        Z1 = encode(X, A, 0.1)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(Z, Z1) and np.array_equal(Z, encode(X, A, 0.1))
