"""Tests of unsupervised.experiments.sparse_coding (its chapter's experiments and figures)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from unsupervised import sparse_coding as sc
from unsupervised.experiments import sparse_coding as experiment


def test_module_lists_its_public_functions():
    assert all(callable(getattr(experiment, name)) for name in experiment.__all__)


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    return rng.normal(size=(7, 5)), rng.normal(size=(5, 9))  # X (N, d), A (d, p)


def test_optimality_gaps_on_an_orthonormal_dictionary():
    # A = I: the l1 optimum is the soft threshold at eta/2 and c = x - z.
    x = np.array([[2.0, -0.3, 0.1, -1.5]])
    z = sc.soft_threshold(x, 0.5)
    on, off = experiment.optimality_gaps(x, np.eye(4), z, 1.0)
    assert on < 1e-15 and off == pytest.approx(0.3)
    on_bad, _ = experiment.optimality_gaps(x, np.eye(4), 1.1 * z, 1.0)
    assert on_bad == pytest.approx(0.1 * 1.5)  # c_4 = -1.5 + 1.1 * 1.0, |c + 0.5| = 0.15


def test_prior_masses_match_the_closed_forms():
    m = experiment.prior_masses([1.0], [10.0, 100.0])
    assert m["laplace"] == pytest.approx(4.0, rel=1e-9)
    np.testing.assert_allclose(m["log"], [np.pi, np.pi / 2], rtol=1e-9)
    np.testing.assert_allclose(m["mass_log"], 2 * np.arcsinh([10.0, 100.0]), rtol=1e-9)
    np.testing.assert_allclose(m["excess_exp"][0], m["bump"][0], rtol=1e-7)
    m = experiment.prior_masses([1.0], [10.0], laplace_beta=2.0, log_betas=[1.5])
    assert m["laplace"] == pytest.approx(1.0, rel=1e-9)  # 2 / beta
    assert m["log"][0] == pytest.approx(2.0, rel=1e-9)  # sqrt(pi) G(1) / G(3/2) = 2
    with pytest.raises(ValueError):
        experiment.prior_masses([1.0], [10.0], log_betas=[0.5])  # not integrable


def _log_h(u):
    return np.log1p(u * u)


def test_smooth_penalty_evidence_agrees_for_the_library_and_catches_a_wrong_gradient():
    args = (sc.log_penalty, sc.log_penalty_grad, lambda z: torch.log(1 + z**2), sc.log_prox)
    ev = experiment.smooth_penalty_evidence(*args, _log_h, 1.0, 6.0, step=1e-3)
    np.testing.assert_allclose(ev["grad"], ev["fd"], atol=1e-8)
    np.testing.assert_allclose(ev["grad"], ev["grad_ad"], rtol=1e-13, atol=1e-15)
    assert ev["h2"] == pytest.approx(-0.25, abs=1e-6)
    assert ev["u2"] == pytest.approx(3.0, abs=0.01)
    assert ev["convex"]["excess"] <= 1e-12 and ev["nonconvex"]["slope"] > 10
    wrong = experiment.smooth_penalty_evidence(
        sc.log_penalty, lambda Z: 1.1 * sc.log_penalty_grad(Z), *args[2:], _log_h, 1.0, 6.0,
        step=1e-2,
    )  # fmt: skip
    assert np.abs(wrong["grad"] - wrong["fd"]).max() > 1e-3


def test_ista_run_is_the_textbook_iteration(problem):
    X, A = problem
    eta, step = 0.4, 1 / sc.lipschitz_constant(A)
    run = experiment.ista_run(X, A, eta, step, 3)
    Z, F = np.zeros((7, 9)), [sc.objective(X, A, np.zeros((7, 9)), eta)]
    for _ in range(3):
        Z_next = sc.soft_threshold(Z - step * 2 * (Z @ A.T - X) @ A, step * eta)
        F.append(sc.objective(X, A, Z_next, eta))
        Z = Z_next
    np.testing.assert_allclose(run["F"], F, rtol=1e-12)
    assert np.all(np.diff(run["F"]) <= 0) and run["moves"].shape == (3,)
    assert not np.isfinite(experiment.ista_run(X, A, eta, 1e3 * step, 400)["F"][-1])


def test_code_hessians_match_autograd(problem):
    X, A = problem
    Z = np.random.default_rng(1).normal(size=(2, 9))
    for penalty, h in (
        ("log", lambda z: torch.log(1 + z**2)),
        ("exp", lambda z: -torch.exp(-(z**2))),
    ):
        H = experiment.code_hessians(A, 0.7, Z, penalty)
        for n in range(2):
            x, At = torch.tensor(X[n]), torch.tensor(A)

            def f(z, x=x, At=At, h=h):
                return ((x - At @ z) ** 2).sum() + 0.7 * h(z).sum()

            ref = torch.autograd.functional.hessian(f, torch.tensor(Z[n])).numpy()
            np.testing.assert_allclose(H[n], ref, rtol=1e-12, atol=1e-12)


def test_newton_polish_reaches_a_stationary_point_and_nonconvex_starts_report_it(problem):
    X, A = problem
    Z0 = sc.encode(X, A, 2.0, penalty="log", max_iter=50)
    Z, g = experiment.newton_polish(X, A, 2.0, Z0, "log")
    assert g < 1e-9
    grad = 2 * (Z @ A.T - X) @ A + 2.0 * sc.log_penalty_grad(Z)
    assert np.abs(grad).max() < 1e-9
    r = experiment.nonconvex_starts(X, A, 2.0, "log", iters=50)
    assert r["grad_a"] < 1e-9 and r["F_newton"][0] <= r["F_ista"][0]
    np.testing.assert_allclose(r["F_ista"][0], sc.objective(X, A, r["Z_zero"], 2.0, "log"))
    assert r["kurt"] == pytest.approx(experiment.kurtosis(r["Z_a"]))


def test_nonconvex_starts_polish_each_start_separately():
    # A non-convex problem on which the zero and the pinv starts end in different points
    # (Newton from the pinv start has not reached a minimum), so Z_b, polished from the pinv
    # start, differs from Z_a, and min_eig must be taken over both.
    rng = np.random.default_rng(2)
    A, X = rng.normal(size=(2, 3)), 3 * rng.normal(size=(4, 2))
    r = experiment.nonconvex_starts(X, A, 1.0, "log", iters=400)
    Z_b, g_b = experiment.newton_polish(X, A, 1.0, r["Z_pinv"], "log")
    np.testing.assert_array_equal(r["Z_b"], Z_b)
    assert r["grad_b"] == g_b
    assert r["gap_conv"] == np.abs(r["Z_a"] - r["Z_b"]).max() > 0.1
    eigs = [
        np.linalg.eigvalsh(experiment.code_hessians(A, 1.0, Z, "log")).min()
        for Z in (r["Z_a"], Z_b)
    ]
    assert r["min_eig"] == min(eigs) < eigs[0]
    pinv = np.linalg.lstsq(A, X.T, rcond=None)[0].T
    np.testing.assert_array_equal(
        r["Z_pinv"], sc.encode(X, A, 1.0, penalty="log", max_iter=400, init=pinv)
    )


def test_ridge_codes_lbfgs_match_the_closed_form(problem):
    X, A = problem
    closed = np.linalg.solve(A.T @ A + 0.5 * np.eye(9), (X @ A).T).T
    np.testing.assert_allclose(experiment.ridge_codes_lbfgs(X, A, 0.5), closed, atol=1e-6)


def test_kurtosis_known_values():
    assert experiment.kurtosis(np.array([[1.0, -1.0], [-1.0, 1.0]])) == pytest.approx(1.0)
    gauss = np.random.default_rng(0).normal(size=(400, 500))
    assert experiment.kurtosis(gauss) == pytest.approx(3.0, abs=0.05)


def test_orientation_and_participation():
    yy, xx = np.mgrid[0:8, 0:8]
    stripes = np.cos(2 * np.pi * yy / 4).reshape(1, 64)  # one orientation
    noise = np.random.default_rng(0).normal(size=(200, 64))
    assert experiment.orientation_concentration(stripes)[0] > 0.8
    assert np.median(experiment.orientation_concentration(noise)) < 0.3
    one_pixel, flat = np.eye(64)[:1], np.ones((1, 64))
    np.testing.assert_allclose(experiment.participation(np.vstack([one_pixel, flat])), [1 / 64, 1])


def test_debias_is_least_squares_on_the_support(problem):
    X, A = problem
    Z = np.zeros((7, 9))
    Z[:, [1, 4]] = 1.0
    out = experiment.debias(X, A, Z)
    ref = np.linalg.lstsq(A[:, [1, 4]], X.T, rcond=None)[0].T
    np.testing.assert_allclose(out[:, [1, 4]], ref, rtol=1e-10)
    assert np.all(np.delete(out, [1, 4], axis=1) == 0)


def test_sparsity_curve_and_best_m_term(problem):
    X, A = problem
    curve = experiment.sparsity_curve(X, A, [1e-8, 1e6])
    assert curve[1, 0] == 0 and curve[1, 1] == pytest.approx(1.0)  # eta huge: all codes zero
    assert curve[0, 1] < 1e-10  # tiny eta, 9 atoms span R^5: exact after debiasing
    nnz, err = experiment.best_m_term_curve(X, np.zeros(5), np.eye(5))
    assert nnz[-1] == 5 and err[-1] == pytest.approx(0.0, abs=1e-12)
    assert err[0] == pytest.approx(1 - np.max(X**2) / np.sum(X**2))
    assert experiment.nonzeros_for_error(nnz, err, err[2]) == nnz[2]


def test_timed_returns_the_result():
    seconds, out = experiment.timed(lambda: 42, repeat=2)
    assert out == 42 and 0 <= seconds < 1


def test_figures_return_figures():
    figs = [
        experiment.plot_penalties(
            np.zeros(3), np.zeros((3, 3)), np.zeros(4), np.zeros((3, 2, 4)), np.ones((3, 2))
        ),
        experiment.plot_convergence(np.ones(5), np.ones(5), np.ones(4), np.ones(4)),
        experiment.plot_learned(np.zeros((4, 64)), np.ones(3)),
        experiment.plot_sparsity_curves(np.ones(3), np.ones(3), np.ones((2, 2)), np.ones((2, 2))),
    ]
    assert [len(f.axes) for f in figs][:2] == [6, 1]
    for f in figs:
        assert isinstance(f, plt.Figure)
        plt.close(f)


def test_toy_local_minimum_reaches_the_minimum_from_zero():
    r = experiment.toy_local_minimum(np.array([[1.0, 0.8]]), np.array([3.0]), 1.0, np.zeros(2))
    np.testing.assert_allclose(r["z_ista"], r["z_bfgs"], atol=1e-6)
    assert r["grad"] < 1e-6 and r["hess_eig"].min() > 0 and r["grad_bfgs"] < 1e-6
    g = np.arange(-500, 2501) * 0.002
    G1, G2 = np.meshgrid(g, g)
    F_grid = (3 - G1 - 0.8 * G2) ** 2 + np.log1p(G1**2) + np.log1p(G2**2)
    assert abs(r["F"] - F_grid.min()) < 1e-4


def test_nonzeros_factor_and_same_error_gain():
    nnz, err = np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.2, 0.1])
    curve = np.array([[2.0, 0.3], [1.0, 0.6], [4.0, 0.15]])
    np.testing.assert_allclose(experiment.nonzeros_factor(nnz, err, curve), [1.0, 1.0, 0.75])
    for row, f in zip(curve, experiment.nonzeros_factor(nnz, err, curve)):
        assert f == experiment.nonzeros_for_error(nnz, err, row[1]) / row[0]
    ref = np.array([[3.0, 0.1], [1.0, 0.5]])
    gain = experiment.same_error_gain(ref, np.array([[4.0, 0.3], [1.0, 0.9]]))
    assert gain[0] == pytest.approx(4.0 / 2.0 - 1) and np.isnan(gain[1])
    with pytest.raises(ValueError):
        experiment.same_error_gain(ref[::-1], ref)  # errors must increase
    with pytest.raises(ValueError):
        experiment.same_error_gain(np.ones((2, 3)), ref)


def test_solver_histories_start_at_zero_and_reach_the_optimum(problem):
    X, A = problem
    h = experiment.solver_histories(X, A, 0.5, 3000, 800)
    assert (
        len(h["hist_ista"]) <= 3001 and len(h["hist_fista"]) <= 801
    )  # tol=0: stops once F is flat
    assert h["hist_ista"][0] == pytest.approx(np.sum(X**2))  # Z_0 = 0
    np.testing.assert_allclose(h["F_star"], sc.objective(X, A, h["Z_star"], 0.5))
    np.testing.assert_allclose(h["hist_fista"][-1], h["F_star"], rtol=1e-8)
    np.testing.assert_allclose(h["hist_ista"][-1], h["F_star"], rtol=1e-8)


def test_whitened_patches_are_scaled_and_share_the_transform():
    from unsupervised.datasets import image_patches

    P = experiment.whitened_patches(500, 50)
    assert P["X"].shape == (500, 64) and P["X_test"].shape == (50, 64)
    assert np.mean(np.sum(P["X"] ** 2, axis=1)) == pytest.approx(1.0)
    np.testing.assert_array_equal(P["raw_train"], image_patches(500, seed=0, downscale=3))
    # the same linear map on both sets: applied to the training patches it gives X
    ratio = P["X_white"] / P["X"]
    np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-10)


def test_encoder_comparison_agrees_with_scikit_learn(problem):
    X, A = problem
    c = experiment.encoder_comparison(X, A, 0.5)
    assert abs(c["F_ex"] - c["F_cd"]) / c["F_cd"] < 1e-6
    assert c["t_ex"] >= 0 and len(c["h_fista"]) <= 3001
    np.testing.assert_allclose(c["F_ex"], sc.objective(X, A, c["Z_ex"], 0.5))
