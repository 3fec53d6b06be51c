"""Tests of unsupervised.sparse_coding (formulas SC1-SC7) and of the chapter's checkers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg, optimize
from sklearn.decomposition import sparse_encode
from sklearn.linear_model import Lasso

from helpers import run, stub
from unsupervised.datasets import image_patches
from unsupervised.exercises import _common
from unsupervised.exercises import sparse_coding as ex
from unsupervised.sparse_coding import (
    dictionary_objective,
    encode,
    exp_penalty,
    exp_penalty_grad,
    exp_prox,
    l1_penalty,
    learn_dictionary,
    lipschitz_constant,
    log_penalty,
    log_penalty_grad,
    log_prox,
    objective,
    sklearn_alpha,
    soft_threshold,
    update_dictionary,
    zca_whitening,
)


def random_problem(seed, N=40, d=8, p=20, scale=1.0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, p))
    A /= np.linalg.norm(A, axis=0)
    X = rng.normal(scale=scale, size=(N, d))
    return X, A


def kkt_violation(X, A, Z, eta):
    """Largest violation of the l1 optimality conditions, relative to eta / 2:
    c = A^T (x - A z); c_i = (eta/2) sign(z_i) where z_i != 0, |c_i| <= eta/2 where z_i = 0."""
    t = eta / 2
    C = (X - Z @ A.T) @ A
    on = Z != 0
    active = np.abs(C - t * np.sign(Z))[on]
    inactive = (np.abs(C) - t)[~on]
    worst = max(active.max(initial=0.0), inactive.max(initial=0.0))
    return worst / t


@pytest.fixture(scope="module")
def patch_problem():
    """Mean-removed 8x8 patches and a small dictionary learned on them (normalised atoms)."""
    X = image_patches(1500, seed=3)
    A, _, _ = learn_dictionary(X, 48, eta=0.15, lam=1e-3, n_iter=4, seed=0, normalize_atoms=True)
    return X, A


# --------------------------------------------------------------------------- SC3-SC5
def test_penalties_hand_values():
    Z = np.array([[0.0, 1.0, -2.0], [0.5, 0.0, 0.0]])
    np.testing.assert_allclose(l1_penalty(Z), [3.0, 0.5])
    np.testing.assert_allclose(log_penalty(Z), [np.log(2) + np.log(5), np.log(1.25)])
    np.testing.assert_allclose(
        exp_penalty(Z), [-(1 + np.exp(-1) + np.exp(-4)), -(np.exp(-0.25) + 2)]
    )
    assert l1_penalty(np.array([1.0, -1.0])) == 2.0  # one code -> a scalar


@pytest.mark.parametrize(
    "penalty, grad", [(log_penalty, log_penalty_grad), (exp_penalty, exp_penalty_grad)]
)
def test_smooth_penalty_gradients_match_finite_differences(penalty, grad):
    rng = np.random.default_rng(0)
    Z = rng.normal(scale=1.5, size=(5, 7))
    h = 1e-6
    fd = np.zeros_like(Z)
    for i in range(Z.shape[0]):
        for j in range(Z.shape[1]):
            E = np.zeros_like(Z)
            E[i, j] = h
            fd[i, j] = (penalty(Z + E)[i] - penalty(Z - E)[i]) / (2 * h)
    # central differences: error ~ h^2 * f''' ~ 1e-12, plus rounding ~ 1e-16 / h ~ 1e-10
    np.testing.assert_allclose(grad(Z), fd, atol=1e-8)


def test_soft_threshold_satisfies_the_subgradient_conditions():
    # u = prox(v) iff 0 in u - v + t d|u|: u - v + t sign(u) = 0 if u != 0, |v| <= t if u = 0
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.normal(scale=2, size=500), [0.7, -0.7, 0.0]])
    t = 0.7
    u = soft_threshold(v, t)
    on = u != 0
    np.testing.assert_allclose(u[on] - v[on] + t * np.sign(u[on]), 0.0, atol=1e-14)
    assert np.all(np.abs(v[~on]) <= t)
    assert np.all(np.sign(u[on]) == np.sign(v[on]))
    # and it is the minimiser: no point of a fine grid does better
    for vi, ui in zip(v[:50], u[:50]):
        grid = np.linspace(-8, 8, 16001)
        assert (
            0.5 * (ui - vi) ** 2 + t * abs(ui)
            <= np.min(0.5 * (grid - vi) ** 2 + t * np.abs(grid)) + 1e-12
        )


@pytest.mark.parametrize(
    "prox, h", [(log_prox, lambda u: np.log1p(u * u)), (exp_prox, lambda u: -np.exp(-u * u))]
)
@pytest.mark.parametrize("t", [0.2, 1.0, 3.0, 10.0])  # convex and non-convex regimes
def test_smooth_prox_is_the_global_minimiser(prox, h, t):
    rng = np.random.default_rng(2)
    v = rng.uniform(-6, 6, size=60)
    u = prox(v, t)
    grid = np.linspace(-7, 7, 70001)
    for vi, ui in zip(v, u):
        best = np.min(0.5 * (grid - vi) ** 2 + t * h(grid))
        # the grid spacing 2e-4 makes the grid minimum too high by at most ~1e-8
        assert 0.5 * (ui - vi) ** 2 + t * h(ui) <= best + 1e-12
        assert abs(ui) <= abs(vi) + 1e-15 and ui * vi >= 0


def test_log_prox_is_continuous_when_convex_and_jumps_when_not():
    v = np.linspace(0, 12, 4001)
    assert np.max(np.diff(log_prox(v, 1.0))) < 0.01  # t < 4: continuous
    assert np.max(np.diff(log_prox(v, 8.0))) > 1.0  # t > 4: a jump (v ~ 8)
    assert np.max(np.diff(exp_prox(v, 3.0))) > 1.0  # t > 1.12: a jump


# --------------------------------------------------------------------------- SC2
def test_objective_hand_value():
    X = np.array([[1.0, 2.0], [0.0, -1.0]])
    A = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    Z = np.array([[1.0, 0.0, 0.5], [0.0, -2.0, 0.0]])
    # residuals: x1 - A z1 = (1, 2) - (1.5, 0.5) = (-0.5, 1.5);
    #            x2 - A z2 = (0, -1) - (0, -2) = (0, 1)
    expected = (0.25 + 2.25) + 1.0 + 0.3 * (1.5 + 2.0)
    assert objective(X, A, Z, 0.3) == pytest.approx(expected, rel=1e-15)
    expected_log = 3.5 + 0.3 * (np.log(2) + np.log(1.25) + np.log(5))
    assert objective(X, A, Z, 0.3, penalty="log") == pytest.approx(expected_log, rel=1e-15)


def test_lipschitz_constant_is_twice_the_largest_eigenvalue():
    # Against an independent solver: LAPACK's symmetric eigh of A^T A (lipschitz_constant uses
    # the SVD behind np.linalg.norm(A, 2)). Both give lambda_max to ~p eps ||G||, ~5e-15 here;
    # rtol 1e-12 leaves room and still rejects any other constant (1.0001 L, L / 2, ...).
    X, A = random_problem(3)
    L = lipschitz_constant(A)
    lam, V = linalg.eigh(A.T @ A)
    np.testing.assert_allclose(L, 2 * lam[-1], rtol=1e-12)

    def grad(z):
        return 2 * A.T @ (A @ z - X[0])

    rng = np.random.default_rng(4)
    z = rng.normal(size=A.shape[1])
    # L bounds the gradient's change in every direction ...
    for _ in range(50):
        w = rng.normal(size=A.shape[1])
        assert np.linalg.norm(grad(z + w) - grad(z)) <= L * np.linalg.norm(w) * (1 + 1e-12)
    # ... and is attained along the top eigenvector, so no smaller constant works.
    w = V[:, -1]
    np.testing.assert_allclose(np.linalg.norm(grad(z + w) - grad(z)), L, rtol=1e-12)


# --------------------------------------------------------------------------- SC6
@pytest.mark.parametrize("seed, eta", [(0, 0.05), (1, 0.5), (2, 2.0)])
def test_active_set_codes_satisfy_the_optimality_conditions(seed, eta):
    X, A = random_problem(seed, N=60, d=10, p=30)
    Z = encode(X, A, eta)
    # exact solves: the conditions hold to rounding (relative 1e-8 of eta / 2)
    assert kkt_violation(X, A, Z, eta) < 1e-8


def test_ista_fista_and_active_set_reach_the_same_minimum():
    X, A = random_problem(5, N=20, d=8, p=16)
    eta = 0.4
    Z_as = encode(X, A, eta)
    Z_f, hist_f = encode(X, A, eta, method="fista", max_iter=20000, tol=1e-15, return_history=True)
    Z_i, hist_i = encode(X, A, eta, method="ista", max_iter=200, tol=0.0, return_history=True)
    F = objective(X, A, Z_as, eta)
    assert objective(X, A, Z_f, eta) == pytest.approx(F, rel=1e-10)
    assert F <= objective(X, A, Z_i, eta) + 1e-12
    assert np.all(np.diff(hist_i) <= 1e-12 * hist_i[0])  # ISTA is monotone
    assert hist_f[0] == pytest.approx(objective(X, A, np.zeros_like(Z_as), eta))


def test_ista_and_fista_obey_the_beck_teboulle_bounds():
    # Cited results (Beck & Teboulle 2009, Theorems 3.1 and 4.4), step 1 / L, start z_0 = 0:
    # F(z_k) - F* <= L ||z*||^2 / (2k) (ISTA) and <= 2 L ||z*||^2 / (k + 1)^2 (FISTA).
    X, A = random_problem(11, N=30, d=10, p=25)
    eta = 0.3
    Z_star = encode(X, A, eta)  # exact (active set)
    F_star = objective(X, A, Z_star, eta)
    L, R2, K = lipschitz_constant(A), np.sum(Z_star**2), 400
    _, h_i = encode(X, A, eta, method="ista", max_iter=K, tol=0.0, return_history=True)
    _, h_f = encode(X, A, eta, method="fista", max_iter=K, tol=0.0, return_history=True)
    k_i, k_f = np.arange(1, len(h_i)), np.arange(1, len(h_f))
    # rounding of F (a sum of 300 terms) ~1e-13 relative; 1e-12 F* is added to each bound
    assert np.all(h_i[1:] - F_star <= L * R2 / (2 * k_i) + 1e-12 * F_star)
    assert np.all(h_f[1:] - F_star <= 2 * L * R2 / (k_f + 1) ** 2 + 1e-12 * F_star)
    # the faster-looking (wrong) rates 1/k^2 for ISTA and 1/k^3 for FISTA do not hold here
    assert np.any(h_i[1:] - F_star > L * R2 / (2 * k_i**2))
    assert np.any(h_f[1:] - F_star > 2 * L * R2 / (k_f + 1) ** 3)


def test_encode_matches_sklearn_lasso_cd_with_default_settings(patch_problem):
    X, A = patch_problem
    eta = 0.15
    Z = encode(X, A, eta)  # default settings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lasso_cd convergence notes
        C = sparse_encode(X, A.T, algorithm="lasso_cd", alpha=sklearn_alpha(eta))
    ours, theirs = objective(X, A, Z, eta), objective(X, A, C, eta)
    assert abs(ours - theirs) <= 1e-6 * theirs
    assert kkt_violation(X, A, Z, eta) < 1e-8
    assert 1 <= np.mean(np.count_nonzero(Z, axis=1)) <= 40


def test_sklearn_alpha_is_the_scaling_of_sklearns_lasso():
    # sparse_encode fits Lasso(alpha / d) on (A, x): check on one sample that Lasso's
    # objective is SC6 divided by 2 d when alpha = eta / 2.
    X, A = random_problem(6, N=1, d=12, p=30)
    eta = 0.8
    d = X.shape[1]
    lasso = Lasso(
        alpha=sklearn_alpha(eta) / d, fit_intercept=False, tol=1e-12, max_iter=100000
    ).fit(A, X[0])
    z = lasso.coef_
    lasso_obj = np.sum((X[0] - A @ z) ** 2) / (2 * d) + sklearn_alpha(eta) / d * np.abs(z).sum()
    assert lasso_obj * 2 * d == pytest.approx(objective(X, A, z[None], eta), rel=1e-12)
    assert objective(X, A, z[None], eta) == pytest.approx(
        objective(X, A, encode(X, A, eta), eta), rel=1e-9
    )


def test_encode_warm_start_single_sample_and_large_eta():
    X, A = random_problem(7, d=12, p=24)
    eta = 1.0
    Z = encode(X, A, eta)
    Z_warm = encode(X, A, eta, init=Z + 0.05 * (Z != 0))
    np.testing.assert_allclose(Z_warm, Z, atol=1e-9)
    z0 = encode(X[0], A, eta)
    assert z0.shape == (A.shape[1],)
    np.testing.assert_allclose(z0, Z[0], atol=1e-12)
    big = 2.0 * np.max(np.abs(X @ A)) + 1.0  # eta / 2 >= max |A^T x|
    assert not np.any(encode(X, A, big))


@pytest.mark.parametrize("penalty", ["log", "exp"])
def test_smooth_penalties_by_proximal_gradient(penalty):
    X, A = random_problem(8, N=15, d=6, p=12)
    eta = 0.5
    Z, hist = encode(X, A, eta, penalty=penalty, max_iter=5000, tol=0.0, return_history=True)
    assert np.all(np.diff(hist) <= 1e-12 * abs(hist[0]))  # never increases
    # a fixed point of the proximal-gradient map: z = prox(z - grad / L, eta / L)
    L = lipschitz_constant(A)
    prox = log_prox if penalty == "log" else exp_prox
    step = prox(Z - 2 * (Z @ A.T - X) @ A / L, eta / L)
    np.testing.assert_allclose(step, Z, atol=1e-6)
    # and there, the gradient of the smooth objective vanishes
    grad_pen = log_penalty_grad(Z) if penalty == "log" else exp_penalty_grad(Z)
    np.testing.assert_allclose(2 * (Z @ A.T - X) @ A + eta * grad_pen, 0.0, atol=1e-5)


# --------------------------------------------------------------------------- SC7
def test_dictionary_update_has_zero_gradient_and_beats_perturbations():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(50, 6))
    Z = rng.normal(size=(50, 9)) * (rng.random((50, 9)) < 0.4)
    lam = 0.7
    A = update_dictionary(X, Z, lam)
    assert A.shape == (6, 9)
    grad = -2 * (X - Z @ A.T).T @ Z + lam * A
    assert np.abs(grad).max() < 1e-10
    J = dictionary_objective(X, A, Z, 0.0, lam)
    for _ in range(50):
        assert dictionary_objective(X, A + 1e-3 * rng.normal(size=A.shape), Z, 0.0, lam) > J


def test_dictionary_update_without_ridge_is_least_squares():
    rng = np.random.default_rng(10)
    X = rng.normal(size=(30, 5))
    Z = rng.normal(size=(30, 4))
    A = update_dictionary(X, Z, 0.0)
    np.testing.assert_allclose(A, np.linalg.lstsq(Z, X, rcond=None)[0].T, atol=1e-12)
    # and a generic optimiser agrees with the ridge closed form
    lam = 1.3

    def f(a):
        Aa = a.reshape(5, 4)
        return np.sum((X - Z @ Aa.T) ** 2) + lam / 2 * np.sum(Aa**2)

    res = optimize.minimize(f, np.zeros(20), method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(update_dictionary(X, Z, lam), res.x.reshape(5, 4), atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    eta=st.floats(0.05, 2.0),
    lam=st.floats(0.01, 5.0),
    p=st.integers(2, 12),
)
def test_alternating_optimisation_never_increases_the_objective(seed, eta, lam, p):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(2, 7))
    X = rng.normal(size=(int(rng.integers(p, 30)), d))
    A = rng.normal(size=(d, p))
    Z = None
    J_prev = np.inf
    for _ in range(4):
        Z = encode(X, A, eta, init=Z)  # SC6
        J_codes = dictionary_objective(X, A, Z, eta, lam)
        assert J_codes <= J_prev * (1 + 1e-9) + 1e-12
        A = update_dictionary(X, Z, lam)  # SC7
        J_prev = dictionary_objective(X, A, Z, eta, lam)
        assert J_prev <= J_codes * (1 + 1e-12) + 1e-12


def test_learn_dictionary_history_is_monotone_and_reproducible():
    X = image_patches(400, seed=1)
    A1, Z1, h1 = learn_dictionary(X, 20, eta=0.1, lam=0.5, n_iter=6, seed=4)
    A2, _, _ = learn_dictionary(X, 20, eta=0.1, lam=0.5, n_iter=6, seed=4)
    np.testing.assert_array_equal(A1, A2)
    assert A1.shape == (64, 20) and Z1.shape == (400, 20)
    J = np.column_stack([h1["objective_codes"], h1["objective"]]).ravel()
    assert np.all(np.diff(J) <= 0)
    assert set(h1) == {
        "objective",
        "objective_codes",
        "loss",
        "nonzeros",
        "unused",
        "resampled",
        "seconds",
    }
    assert kkt_violation(X, A1, Z1, 0.1) < 1e-8  # codes of the final A


def test_learn_dictionary_with_normalised_atoms():
    X = image_patches(400, seed=2)
    A, Z, h = learn_dictionary(
        X, 16, eta=0.1, lam=1e-3, n_iter=4, seed=0, normalize_atoms=True, resample_unused=True
    )
    norms = np.linalg.norm(A, axis=0)
    np.testing.assert_allclose(norms[norms > 0], 1.0, atol=1e-12)
    assert h["objective"][-1] < h["objective_codes"][0]


def _l1_objective_by_hand(X, A, Z, eta):
    """||X - Z A^T||_F^2 + eta * sum |Z|, written out (not the library's objective)."""
    R = X - Z @ A.T
    return float(np.sum(R * R) + eta * np.sum(np.abs(Z)))


def test_learn_dictionary_first_round_by_hand():
    """One round redone from the building blocks: the random start is p distinct non-zero rows
    of X scaled to unit norm (drawn with the seed), then encode (SC6), update (SC7), and with
    normalize_atoms the atoms are scaled to unit norm and their codes by the inverse."""
    X = image_patches(300, seed=3)
    eta, lam, p, seed = 0.1, 0.2, 12, 7
    rng = np.random.default_rng(seed)
    norms = np.linalg.norm(X, axis=1)
    pick = rng.choice(np.nonzero(norms > 0)[0], size=p, replace=False)
    A0 = (X[pick] / norms[pick, None]).T
    Z1 = encode(X, A0, eta)
    A1 = update_dictionary(X, Z1, lam)
    col = np.linalg.norm(A1, axis=0)
    live = col > 0
    A_n, Z_n = A1.copy(), Z1.copy()
    A_n[:, live] /= col[live]
    Z_n[:, live] *= col[live]
    for normalize in (False, True):
        A, _, h = learn_dictionary(
            X, p, eta=eta, lam=lam, n_iter=1, seed=seed, normalize_atoms=normalize
        )
        A_ref, Z_ref = (A_n, Z_n) if normalize else (A1, Z1)
        # both sides make the same encode call, so they differ only by rounding in the
        # update and normalisation; any wrong step changes A by more than 1e-3 here
        np.testing.assert_allclose(A, A_ref, rtol=1e-6, atol=1e-9)
        J_codes = _l1_objective_by_hand(X, A0, Z1, eta) + 0.5 * lam * np.sum(A0 * A0)
        assert h["objective_codes"][0] == pytest.approx(J_codes, rel=1e-9)
        loss = _l1_objective_by_hand(X, A_ref, Z_ref, eta)
        assert h["loss"][0] == pytest.approx(loss, rel=1e-9)
        assert h["objective"][0] == pytest.approx(
            loss + 0.5 * lam * np.sum(A_ref * A_ref), rel=1e-9
        )
        assert h["nonzeros"][0] == pytest.approx(np.mean(np.count_nonzero(Z_ref, axis=1)))
        assert h["unused"][0] == int(np.sum(~np.any(Z_ref != 0, axis=0)))
        assert h["resampled"][0] == 0
        assert 0 < h["seconds"][0] < 600


def test_learn_dictionary_resamples_an_unused_atom_from_the_worst_residual():
    """Data in the first 4 of 5 coordinates (unequal scales), three starting atoms along the
    first three and one along the 5th: no code uses the last, the ridge update sets it to 0,
    and resampling replaces it by the normalised residual of one of the worst-reconstructed
    samples, scaled to the median norm of the three used atoms (unequal, so not their mean)."""
    rng = np.random.default_rng(0)
    X = np.zeros((60, 5))
    X[:, :4] = rng.standard_normal((60, 4)) * np.array([1.0, 3.0, 0.5, 1.0])
    init = np.zeros((5, 4))
    init[0, 0] = init[1, 1] = init[2, 2] = 1.0
    init[4, 3] = 1.0  # orthogonal to every sample
    eta, lam = 0.5, 0.1
    A, Z, h = learn_dictionary(
        X, 4, eta=eta, lam=lam, n_iter=1, init=init, resample_unused=True, seed=0
    )
    assert h["unused"][0] == 1 and h["resampled"][0] == 1
    Z1 = encode(X, init, eta)
    A1 = update_dictionary(X, Z1, lam)
    np.testing.assert_allclose(A[:, :3], A1[:, :3], rtol=1e-6, atol=1e-9)
    new = A[:, 3]
    norms = np.linalg.norm(A1[:, :3], axis=0)
    used_norm = np.median(norms)
    assert (
        abs(used_norm - norms.mean()) > 1e-3 * used_norm
    )  # they differ (2.4%), far beyond rel=1e-9
    assert np.linalg.norm(new) == pytest.approx(used_norm, rel=1e-9)
    R = X - Z1 @ A1.T
    err = np.sum(R * R, axis=1)
    worst = np.argsort(-err)[:4]  # 4 candidates per dead atom
    direction = R[worst] / np.linalg.norm(R[worst], axis=1, keepdims=True)
    assert np.min(np.linalg.norm(direction - new / used_norm, axis=1)) < 1e-6
    assert np.any(Z[:, 3] != 0)  # the final codes use it again
    A, _, h = learn_dictionary(
        X,
        4,
        eta=eta,
        lam=lam,
        n_iter=1,
        init=init,
        resample_unused=True,
        normalize_atoms=True,
        seed=0,
    )
    assert h["resampled"][0] == 1
    np.testing.assert_allclose(np.linalg.norm(A, axis=0), 1.0, atol=1e-12)  # unit atoms stay unit


def test_zca_whitening_decorrelates():
    X = image_patches(3000, seed=5)
    Xw, W = zca_whitening(X, eps=1e-6)
    cov = np.cov(Xw.T, bias=True)
    # mean-removed patches have one zero-variance direction (the constant patch)
    s = np.linalg.eigvalsh(cov)
    assert np.sum(s > 0.5) == 63 and np.allclose(s[s > 0.5], 1.0, atol=1e-3)
    np.testing.assert_allclose(W, W.T, atol=1e-12)


def test_learn_dictionary_with_the_log_penalty_against_bfgs_and_ridge():
    """penalty="log" reaches the encodings (mutmut dropped the argument with no test failing):
    one round from a given start, redone with independent tools. The dictionary is
    undercomplete with orthonormal atoms, so each sample's log objective
    ||x - A z||^2 + eta sum log(1 + z_i^2) is strictly convex (Hessian >= 2 - eta / 4 > 0:
    h'' >= -1/4) and SciPy's BFGS finds its unique minimiser; sklearn's Ridge(alpha = lam / 2)
    is the SC7 update of those codes; the final codes are BFGS's again under that dictionary."""
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(12)
    N, d, p, eta, lam = 40, 8, 4, 0.5, 0.5
    X = rng.normal(size=(N, d))
    A0 = np.linalg.qr(rng.normal(size=(d, p)))[0]

    def codes(A):
        def f(z, x):
            r = x - A @ z
            return r @ r + eta * np.sum(np.log1p(z * z)), -2 * A.T @ r + eta * 2 * z / (1 + z * z)

        out = [
            optimize.minimize(
                f, np.zeros(p), args=(x,), jac=True, method="BFGS", options={"gtol": 1e-12}
            ).x
            for x in X
        ]
        return np.array(out)

    def J(A, Z):
        return np.sum((X - Z @ A.T) ** 2) + eta * np.sum(np.log1p(Z * Z)) + lam / 2 * np.sum(A * A)

    A, Z, h = learn_dictionary(
        X, p, eta, lam, 1, penalty="log", init=A0, encode_kwargs={"tol": 0.0, "max_iter": 20000}
    )
    Z1 = codes(A0)
    A1 = Ridge(alpha=lam / 2, fit_intercept=False).fit(Z1, X).coef_  # (d, p)
    # ISTA stops when F stops changing in float64: codes accurate to ~sqrt(eps) ~ 1e-7 (the
    # l1 codes, what a dropped penalty gives, are 1e-2 away)
    np.testing.assert_allclose(A, A1, atol=1e-5)
    assert 2 * np.linalg.eigvalsh(A1.T @ A1)[0] - eta / 4 > 0  # still strictly convex
    np.testing.assert_allclose(Z, codes(A1), atol=1e-5)
    # J at the minimiser is insensitive to first order: 1e-8 relative
    assert h["objective_codes"][0] == pytest.approx(J(A0, Z1), rel=1e-8)
    assert h["objective"][0] == pytest.approx(J(A1, Z1), rel=1e-8)
    assert np.abs(Z - encode(X, A, eta)).max() > 1e-2  # the l1 codes are another answer


def test_zca_whitening_against_the_inverse_square_root():
    """W is (C + eps s_max I)^(-1/2) for the covariance C of the data (SciPy's
    fractional_matrix_power, a Schur method, is the reference); the result does not depend
    on the scale of X (tried at 1e200 and 1e-200, where C itself would overflow or
    underflow); data without variance has nothing to whiten and is refused."""
    from scipy.linalg import fractional_matrix_power

    rng = np.random.default_rng(13)
    X = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6)) + 3.0
    eps = 0.05
    C = np.cov(X.T, bias=True)
    W_ref = fractional_matrix_power(C + eps * np.linalg.eigvalsh(C)[-1] * np.eye(6), -0.5)
    Xw, W = zca_whitening(X, eps=eps)
    np.testing.assert_allclose(W, W_ref.real, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(Xw, (X - X.mean(axis=0)) @ W_ref.real, rtol=1e-9, atol=1e-11)
    for c in (1e200, 1e-200):
        Xw_c, W_c = zca_whitening(X * c, eps=eps)
        np.testing.assert_allclose(Xw_c, Xw, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(W_c * c, W, rtol=1e-12, atol=1e-15)
    for flat in (np.full((5, 3), 2.5), X[:1]):
        with pytest.raises(ValueError, match=r"\bX\b.*zero variance"):
            zca_whitening(flat)


def test_encode_reads_lists_float32_strided_arrays_and_tensors_that_require_grad():
    import torch

    X, A = random_problem(14, N=10, d=6, p=9)
    Z = encode(X, A, 0.2)
    np.testing.assert_array_equal(encode(X.tolist(), A.tolist(), 0.2), Z)
    np.testing.assert_array_equal(encode(torch.tensor(X, requires_grad=True), A, 0.2), Z)
    np.testing.assert_array_equal(encode(X[::-1], A, 0.2), Z[::-1])
    X32 = X.astype(np.float32)
    np.testing.assert_array_equal(
        encode(X32, A, np.float32(0.5)), encode(X32.astype(float), A, 0.5)
    )


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: encode(np.ones((3, 4)), np.ones((5, 6)), 0.1), "X"),
        (lambda: encode(np.ones((3, 4)), np.ones((4, 6)), -1.0), "eta"),
        (lambda: encode(np.ones((3, 4)), np.ones((4, 6)), 0.1, penalty="l2"), "penalty"),
        (lambda: encode(np.ones((3, 4)), np.ones((4, 6)), 0.1, method="lasso_lars"), "method"),
        (
            lambda: encode(np.ones((3, 4)), np.ones((4, 6)), 0.1, penalty="log", method="fista"),
            "method",
        ),
        (lambda: encode(np.full((3, 4), np.nan), np.ones((4, 6)), 0.1), "X"),
        (lambda: encode(np.ones((3, 4)), np.ones((4, 6)), 0.1, init=np.ones((3, 5))), "init"),
        (lambda: encode(np.ones((3, 4)), np.ones((4, 6)), 0.1, max_iter=0), "max_iter"),
        (lambda: encode(np.ones((3, 4)), np.ones(4), 0.1), "A"),
        (lambda: objective(np.ones((3, 4)), np.ones((4, 6)), np.ones((2, 6)), 0.1), "Z"),
        (lambda: update_dictionary(np.ones((3, 4)), np.ones((2, 6)), 0.1), "X"),
        (lambda: update_dictionary(np.ones((3, 4)), np.ones((3, 6)), -0.1), "lam"),
        (lambda: soft_threshold(np.ones(3), -1.0), "t"),
        (lambda: log_prox(np.ones(3), float("nan")), "t"),
        (lambda: learn_dictionary(np.ones((5, 4)), 10, 0.1, 1.0, 2), "n_atoms"),
        (lambda: learn_dictionary(np.ones((5, 4)), 2, 0.1, 0.0, 2), "lam"),
        (lambda: learn_dictionary(np.ones((5, 4)), 2, 0.1, 1.0, 0), "n_iter"),
        (lambda: learn_dictionary(np.ones((5, 4)), 2, 0.1, 1.0, 2, init=np.ones((3, 2))), "init"),
        (lambda: zca_whitening(np.ones((5, 4)), eps=0.0), "eps"),
        (lambda: l1_penalty([1.0, np.inf]), "Z"),
        (
            lambda: dictionary_objective(
                np.ones((3, 4)), np.ones((4, 6)), np.ones((3, 6)), 0.1, -1
            ),
            "lam",
        ),
        (lambda: soft_threshold(np.ones((2, 3)), np.ones(2)), "t"),
        (lambda: zca_whitening(np.ones((5, 4))), "X"),
        (
            lambda: learn_dictionary(np.ones((5, 4)), 2, 0.1, 1.0, 2, encode_kwargs={"eta": 1}),
            "encode_kwargs",
        ),
        (
            lambda: learn_dictionary(
                np.eye(4), 2, 0.1, 1.0, 2, penalty="log", encode_kwargs={"method": "fista"}
            ),
            "encode_kwargs",
        ),
        (
            lambda: learn_dictionary(np.eye(4), 2, 0.1, 1.0, 2, encode_kwargs={"tol": -1.0}),
            "encode_kwargs",
        ),
        (lambda: learn_dictionary(np.eye(4) * 1e200, 2, 0.1, 1.0, 2), "X"),
        (lambda: encode(np.ones((3, 4)), np.ones((4, 6)) * 1e200, 0.1), "X"),
        (
            lambda: encode(np.ones((3, 4)), np.ones((4, 6)), 0.1, return_history="False"),
            "return_history",
        ),
        (lambda: learn_dictionary(np.eye(4), 2, 0.1, 1.0, 2, seed=2.5), "seed"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        call()


# --------------------------------------------------------------------------- checkers
def test_soft_threshold_checker(capsys):
    ok, out = run(
        ex.check_soft_threshold, lambda v, t: np.sign(v) * np.maximum(np.abs(v) - t, 0), capsys
    )
    assert ok and _common.CORRECT in out
    ok, out = run(ex.check_soft_threshold, lambda v, t: np.where(np.abs(v) > t, v, 0.0), capsys)
    assert not ok and "硬阈值" in out
    ok, out = run(ex.check_soft_threshold, lambda v, t: v - t * np.sign(v), capsys)
    assert not ok and "变号" in out
    ok, out = run(ex.check_soft_threshold, stub, capsys)
    assert not ok and "尚未实现" in out
    ok, out = run(ex.check_soft_threshold, lambda v, t: 1 / 0, capsys)
    assert not ok and "ZeroDivisionError" in out


def test_dictionary_update_checker(capsys):
    def right(X, Z, lam):
        return np.linalg.solve(Z.T @ Z + lam / 2 * np.eye(Z.shape[1]), Z.T @ X).T

    def slip(X, Z, lam):
        return np.linalg.solve(Z.T @ Z + lam * np.eye(Z.shape[1]), Z.T @ X).T

    ok, out = run(ex.check_dictionary_update, right, capsys)
    assert ok
    ok, out = run(ex.check_dictionary_update, slip, capsys)
    assert not ok and "λ/2" in out
    ok, out = run(ex.check_dictionary_update, lambda X, Z, lam: right(X, Z, lam).T, capsys)
    assert not ok and "(d, p)" in out
    ok, _ = run(ex.check_dictionary_update, lambda X, Z, lam: update_dictionary(X, Z, lam), capsys)
    assert ok  # the library agrees


def test_optimal_scale_and_sklearn_alpha_checkers(capsys):
    ok, _ = run(ex.check_optimal_scale, lambda e, lam, a, f: (e * a / (lam * f)) ** (1 / 3), capsys)
    assert ok
    ok, out = run(
        ex.check_optimal_scale, lambda e, lam, a, f: (2 * e * a / (lam * f)) ** (1 / 3), capsys
    )
    assert not ok and "2" in out
    ok, _ = run(ex.check_sklearn_alpha, sklearn_alpha, capsys)
    assert ok
    ok, out = run(ex.check_sklearn_alpha, lambda e: e / 128, capsys)
    assert not ok and "d" in out
    ok, out = run(ex.check_sklearn_alpha, lambda e: ..., capsys)
    assert not ok


def test_ista_and_fista_take_the_step_one_over_l():
    """The solvers' first iterates are the textbook proximal-gradient steps with step 1 / L,
    L = 2 lambda_max(A^T A) from scipy's eigh (a step 1.25 / L or 1 / (2L) gives other
    iterates; the Beck-Teboulle bounds are too loose to tell)."""
    import scipy.linalg

    rng = np.random.default_rng(11)
    A, X, eta = rng.normal(size=(12, 20)), rng.normal(size=(6, 12)), 0.4
    L = 2 * scipy.linalg.eigh(A.T @ A, eigvals_only=True)[-1]
    step = lambda Z: soft_threshold(Z - 2 * (Z @ A.T - X) @ A / L, eta / L)
    Z_ista = Z_fista = Y = np.zeros((6, 20))
    t = 1.0
    for _ in range(5):
        Z_ista = step(Z_ista)
        Z_next, t_next = step(Y), (1 + np.sqrt(1 + 4 * t * t)) / 2
        Y, Z_fista, t = Z_next + (t - 1) / t_next * (Z_next - Z_fista), Z_next, t_next
    # Tolerance: the library's L (an SVD) and eigh's agree to ~1e-15; five steps keep that small.
    np.testing.assert_allclose(
        encode(X, A, eta, method="ista", max_iter=5, tol=0), Z_ista, rtol=1e-10, atol=1e-13
    )
    np.testing.assert_allclose(
        encode(X, A, eta, method="fista", max_iter=5, tol=0), Z_fista, rtol=1e-10, atol=1e-13
    )


def test_nonconvex_ista_ends_where_it_starts_when_there_are_two_minima():
    """One pixel, atoms 1 and 0.8, x = 3, log penalty, eta = 1: two strict local minima (using
    mostly atom 1, or mostly atom 2). ISTA from 0 and from (0, 3.75) ends in different ones; each
    agrees with SciPy's BFGS from the same start, and the lower one beats a brute-force grid."""
    A, x, eta = np.array([[1.0, 0.8]]), np.array([3.0]), 1.0

    def F(z):
        return float(np.sum((x - A @ z) ** 2) + eta * np.sum(np.log1p(z * z)))

    def grad(z):
        return -2 * A.T @ (x - A @ z) + eta * 2 * z / (1 + z * z)

    ends = []
    for z0 in (np.zeros(2), np.array([0.0, 3.75])):
        z = encode(x, A, eta, penalty="log", method="ista", max_iter=5000, tol=0.0, init=z0)
        ref = optimize.minimize(F, z0, jac=grad, method="BFGS", options={"gtol": 1e-12}).x
        # ISTA with tol=0 stops when F stops changing in float64: z accurate to ~sqrt(eps).
        np.testing.assert_allclose(z, ref, atol=1e-6)
        hess = 2 * A.T @ A + eta * np.diag(2 * (1 - z**2) / (1 + z**2) ** 2)
        assert np.abs(grad(z)).max() < 1e-6 and np.linalg.eigvalsh(hess).min() > 0.1
        ends.append(z)
    assert np.linalg.norm(ends[0] - ends[1]) > 1.0
    g = np.arange(-500, 2501) * 0.002
    G1, G2 = np.meshgrid(g, g)
    grid_min = ((x[0] - G1 - 0.8 * G2) ** 2 + eta * (np.log1p(G1**2) + np.log1p(G2**2))).min()
    assert F(ends[0]) <= grid_min + 1e-12 and F(ends[1]) > grid_min + 0.1


def _sc7_right(X, Z, lam):
    return np.linalg.solve(Z.T @ Z + lam / 2 * np.eye(Z.shape[1]), Z.T @ X).T


_RIGHT_ANSWERS = {
    "check_soft_threshold": lambda v, t: np.sign(v) * np.maximum(np.abs(v) - t, 0.0),
    "check_dictionary_update": _sc7_right,
    "check_optimal_scale": lambda e, lam, a, f: (e * a / (lam * f)) ** (1 / 3),
    "check_sklearn_alpha": lambda e: e / 2,
}


@pytest.mark.parametrize("checker", sorted(_RIGHT_ANSWERS))
def test_checkers_read_tensors_that_require_grad_and_never_raise(checker, capsys):
    """A right answer returned as a float64 tensor that requires grad passes; answers of
    every wrong kind (no value, text, NaN, complex, an object, exit(), an int beyond float64,
    a bool, a placeholder, a non-function) fail with a message, and nothing raises."""
    import torch

    check, right = getattr(ex, checker), _RIGHT_ANSWERS[checker]

    def as_tensor(*args):
        value = np.asarray(right(*args), dtype=np.float64)
        return torch.tensor(value, dtype=torch.float64, requires_grad=True)

    ok, _ = run(check, as_tensor, capsys)
    assert ok
    wrong = [
        lambda *a: None,
        lambda *a: "0.5",
        lambda *a: float("nan"),
        lambda *a: 1j,
        lambda *a: torch.tensor(float("nan"), requires_grad=True),
        lambda *a: object(),
        lambda *a: exit(),
        lambda *a: 10**400,
        lambda *a: True,
        lambda *a: ...,
        3,
    ]
    for answer in wrong:
        ok, out = run(check, answer, capsys)
        assert not ok and _common.CORRECT not in out


def test_active_set_stopping_rule_takes_an_atom_just_above_eta_over_two():
    # Orthonormal atoms: the code is the soft threshold of c = A^T x at t = eta / 2, so an atom
    # with |c_i| = t (1 + 1e-7) belongs in the code with z_i = 1e-7 t. The default rule
    # |c_i| <= t (1 + 1e-10) must take it; a looser rule (1 + 1e-4) would stop at z_i = 0.
    eta, t = 0.6, 0.3
    A = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 6)))[0]
    c = np.array([2.0, -1.0, t * (1 + 1e-7), -t * (1 - 1e-7), 0.1, 0.0])
    z = encode(A @ c, A, eta)
    expected = np.sign(c) * np.maximum(np.abs(c) - t, 0.0)
    assert z[2] != 0 and z[3] == 0
    np.testing.assert_allclose(z, expected, rtol=1e-6, atol=1e-14)
