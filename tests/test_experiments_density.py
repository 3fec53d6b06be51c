"""Tests of unsupervised.experiments.density (its chapter's experiments and figures), each
against an independent reference or a known value."""

from __future__ import annotations

import re

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats
from scipy.special import digamma

from unsupervised.datasets import GaussianMixture
from unsupervised.density import HistogramDensity, KNNDensity, ParzenWindow
from unsupervised.experiments import density as experiment

matplotlib.use("Agg")
MIX = GaussianMixture(weights=[0.4, 0.6], means=[-2.0, 1.5], covs=[0.36, 1.0])


def _exact(d, n):
    i = np.arange(1, d + 1)
    return (n + 1) * d / (n - d - 2) - d + digamma((n - i) / 2).sum() + d * np.log(2 / n)


def _mise(h, N, d):
    return (4 * np.pi) ** (-d / 2) * (
        1 / (N * h**d)
        + (1 - 1 / N) * (1 + h * h) ** (-d / 2)
        - 2 ** (d / 2 + 1) * (2 + h * h) ** (-d / 2)
        + 1
    )


def test_module_lists_its_public_functions():
    assert all(callable(getattr(experiment, name)) for name in experiment.__all__)


def test_loglik_gradient_matches_the_closed_form_gradient():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    mean, cov = np.array([0.1, -0.2]), np.array([[1.5, 0.3], [0.3, 0.8]])
    g_mean, g_cov = experiment.loglik_gradient(X, mean, cov)
    P = np.linalg.inv(cov)
    np.testing.assert_allclose(g_mean, P @ (X - mean).sum(0), rtol=1e-10)
    S = (X - mean).T @ (X - mean)
    np.testing.assert_allclose(g_cov, -0.5 * len(X) * P + 0.5 * P @ S @ P, rtol=1e-10)


def test_location_log_likelihoods_are_sums_of_scipy_terms():
    x, mu = np.array([0.3, -1.0, 2.0]), np.array([-1.0, 0.0, 1.0])
    ll_cdf, ll_pdf = experiment.location_log_likelihoods(x, mu)
    for j, m in enumerate(mu):
        assert ll_cdf[j] == pytest.approx(np.log(stats.norm.cdf(x - m)).sum(), rel=1e-12)
        assert ll_pdf[j] == pytest.approx(np.log(stats.norm.pdf(x - m)).sum(), rel=1e-12)


def test_mle_by_bfgs_finds_the_sample_mean_and_biased_covariance():
    X = np.random.default_rng(1).normal(size=(300, 3)) @ np.diag([1.0, 2.0, 0.5])
    fit = experiment.mle_by_bfgs(X, gtol=1e-9)
    np.testing.assert_allclose(fit["mean"], X.mean(0), atol=1e-6)
    np.testing.assert_allclose(fit["cov"], np.cov(X.T, bias=True), atol=1e-6)


def test_convexity_gaps_are_nonnegative_and_a_concave_function_would_fail():
    gaps = experiment.convexity_gaps(200, dim=2, seed=0)
    assert gaps.shape == (200,) and gaps.min() > -1e-10 and gaps.max() > 0
    # Negative control: eta^T Lambda eta is not jointly convex in (eta, Lambda).
    bad = experiment.convexity_gaps(200, dim=2, seed=0, f=lambda eta, lam: eta @ lam @ eta)
    assert bad.min() < -1


def test_kl_to_moment_matched_gaussian_of_a_gaussian_is_zero_and_positive_for_a_mixture():
    single = GaussianMixture(weights=[1.0], means=[0.5], covs=[2.0])
    assert abs(experiment.kl_to_moment_matched_gaussian(single)) < 1e-10
    # Monte Carlo reference for the two-component mixture.
    x = MIX.sample(200_000, seed=0)
    m = float(np.sum(MIX.weights * MIX.means[:, 0]))
    v = float(np.sum(MIX.weights * (MIX.covs[:, 0, 0] + MIX.means[:, 0] ** 2)) - m**2)
    mc = np.mean(MIX.log_pdf(x) - stats.norm.logpdf(x[:, 0], m, np.sqrt(v)))
    assert experiment.kl_to_moment_matched_gaussian(MIX) == pytest.approx(mc, abs=0.01)


def test_em_fits_reach_the_true_density_and_report_iterations():
    mix = GaussianMixture(
        weights=[0.5, 0.3, 0.2],
        means=[[-1.5, 0.0], [1.5, 1.0], [0.5, -1.8]],
        covs=[[[0.5, 0.2], [0.2, 0.4]], [[0.3, -0.1], [-0.1, 0.6]], [[0.4, 0.0], [0.0, 0.2]]],
    )
    X, X_test = mix.sample(1500, seed=20), mix.sample(2000, seed=21)
    out = experiment.em_fits(X, X_test, n_components=3, n_starts=5)
    assert abs(out["ll"] - mix.log_pdf(X_test).mean()) < 0.05
    assert out["iters"].shape == (5,) and out["means_early"].shape == (3, 2)


def test_gaussian_fit_errors_equal_numpy_two_kl():
    errors = experiment.gaussian_fit_errors(3, 20, 4, np.random.default_rng(5))
    X = np.random.default_rng(5).standard_normal((4, 20, 3))
    for r in range(4):
        mu, cov = X[r].mean(0), np.cov(X[r].T, bias=True)
        ref = np.trace(np.linalg.inv(cov)) + mu @ np.linalg.solve(cov, mu) - 3
        ref += np.linalg.slogdet(cov)[1]
        assert errors[r] == pytest.approx(ref, rel=1e-10)


def test_table_errors_have_mean_cells_minus_one_over_n():
    v = experiment.table_errors(2, 50, 20_000, np.random.default_rng(0), m_bins=3)
    assert abs(v.mean() * 50 - 8) < 5 * v.std() * 50 / np.sqrt(len(v))


def test_samples_needed_on_an_exact_error_law():
    # error = 1/n exactly: the interpolation gives N* = 1/tau.
    law = lambda d, n, reps, rng: 1.0 / n + 1e-9 * rng.standard_normal(reps)
    out = experiment.samples_needed(law, 1, 2, 5, 0, tau=0.1, exact=lambda d, n: 1.0 / n)
    assert out["n"] == pytest.approx(10.0, rel=1e-6)
    assert out["n_exact_grid"] == pytest.approx(10.0, rel=1e-9)


def test_histogram_bin_gaps_are_nonnegative_and_equal_the_identity():
    gaps, exact = experiment.histogram_bin_gaps(3, n=40)
    assert gaps.min() > -1e-10 and gaps.size > 5
    # Expanding both squares: gap = P_hat^2 (int_c 1/p / w^2 - 1/P_c), pinning both sides.
    np.testing.assert_allclose(gaps, exact, rtol=1e-8)


def test_experiment_functions_reject_bad_inputs_by_name():
    X1 = np.random.default_rng(0).normal(size=(20, 1))
    X2 = np.random.default_rng(0).normal(size=(20, 2))
    cases = [
        (
            lambda: experiment.cube_estimate_integral(ParzenWindow(0.5, kernel="gaussian").fit(X1)),
            "est",
        ),
        (lambda: experiment.cube_estimate_integral(ParzenWindow(0.5)), "est"),
        (lambda: experiment.plane_integral(ParzenWindow(0.5).fit(X1), 4.0, 0.25), "est"),
        (lambda: experiment.plane_integral(ParzenWindow(0.5), 4.0, 0.25), "est"),
        (lambda: experiment.cube_box_integral(X2, 1.0, [0.0], [1.0]), "lower"),
        (lambda: experiment.cube_box_integral(X2, 1.0, [1.0, 1.0], [0.0, 2.0]), "lower"),
        (lambda: experiment.windows_per_sample(X2, 0.5, 0.0625), "x"),
        (lambda: experiment.n_needed_grid(_mise, np.array([1.5]), np.array([0.1])), "dims"),
        (lambda: experiment.n_needed_grid(_mise, np.array([1]), np.array([0.0])), "eps"),
        (lambda: experiment.gaussian_fit_errors(3, 3, 2, np.random.default_rng(0)), "n"),
        (
            lambda: experiment.samples_needed(
                lambda d, n, reps, rng: 1e-3 + 1e-9 * rng.standard_normal(reps), 1, 2, 5, 0
            ),
            "n0",
        ),
    ]
    for call, name in cases:
        with pytest.raises(ValueError, match=name):
            call()


def test_fraction_moments_match_the_binomial():
    pool = np.random.default_rng(0).uniform(size=20_000 * 10)
    rows = experiment.fraction_moments(pool, 20_000, [10], 0.0, 0.3, 0.3)
    n, mean, var, mu4 = rows[0]
    assert n == 10 and abs(mean - 0.3) < 5 * np.sqrt(0.021 / 20_000)
    assert abs(var - 0.021) < 0.002
    # Fourth central moment of Binomial(n, p) / n: p q (1 + 3 (n - 2) p q) / n^3.
    pq = 0.3 * 0.7
    assert mu4 == pytest.approx(pq * (1 + 3 * (10 - 2) * pq) / 10**3, rel=1e-12)


def test_cube_estimate_and_box_integral_by_hand():
    X = np.array([[0.0], [0.2], [1.0]])
    np.testing.assert_allclose(
        experiment.cube_estimate(X, np.array([[0.1], [0.75]]), 1.0), [2 / 3, 1 / 3]
    )
    # Integral over the whole support is 1; over [0, 0.5] it is the overlaps / (N h).
    assert experiment.cube_box_integral(X, 1.0, [-5.0], [5.0]) == pytest.approx(1.0, abs=1e-12)
    assert experiment.cube_box_integral(X, 1.0, [0.0], [0.5]) == pytest.approx(
        (0.5 + 0.5 + 0.0) / 3, abs=1e-12
    )


def test_gaussian_kernel_box_integral_matches_normal_cdfs():
    X = np.array([[0.0, 1.0], [1.0, -1.0]])
    h, lo, hi = 0.5, np.array([-0.5, -1.0]), np.array([1.0, 0.5])
    ref = np.mean([np.prod(stats.norm.cdf(hi, x, h) - stats.norm.cdf(lo, x, h)) for x in X])
    assert experiment.gaussian_kernel_box_integral(X, h, lo, hi, 1e-11) == pytest.approx(
        ref, abs=1e-9
    )
    assert experiment.gaussian_kernel_box_integral(X[:, :1], h, lo[:1], hi[:1], 1e-12) == (
        pytest.approx(np.mean(stats.norm.cdf(1.0, X[:, 0], h) - stats.norm.cdf(-0.5, X[:, 0], h)))
    )


def test_histogram_estimates_at_have_the_binomial_mean():
    est = experiment.histogram_estimates_at(MIX, 1.5, 200, 0.5, 400, seed=0)
    P = float(MIX.cdf([1.75])[0] - MIX.cdf([1.25])[0])
    se = np.sqrt(P * (1 - P) / 200) / 0.5 / np.sqrt(400)
    assert abs(est.mean() - P / 0.5) < 5 * se


def test_ise_experiment_mean_ise_matches_the_exact_mise():
    run = experiment.ise_experiment(1, 0.4, 50, 200, 8.0, 801, seed=1)
    ise = run["ise"]
    assert abs(ise.mean() - _mise(0.4, 50, 1)) < 5 * ise.std(ddof=1) / np.sqrt(len(ise))


def test_roughness_laplacian_closed_form():
    for d in (1, 3):
        assert experiment.roughness_laplacian(d) == pytest.approx(
            d * (d + 2) / 4 * (4 * np.pi) ** (-d / 2), rel=1e-9
        )


def test_min_log_mise_and_n_needed_against_a_grid_search():
    h = np.geomspace(1e-3, 5, 200_001)
    assert experiment.min_log_mise(_mise, 100.0, 1) == pytest.approx(
        np.log(_mise(h, 100.0, 1)).min(), abs=1e-8
    )
    n_star = experiment.n_needed_mise(_mise, 1, 0.1)
    assert np.exp(experiment.min_log_mise(_mise, n_star, 1)) == pytest.approx(
        0.1 * (4 * np.pi) ** -0.5, rel=1e-8
    )
    grid = experiment.n_needed_grid(_mise, np.array([1, 2]), np.array([0.1, 0.01]))
    assert grid.shape == (2, 2) and grid[0, 0] == pytest.approx(n_star, rel=1e-12)
    assert experiment.n_needed_mise(_mise, 10, 1e-3, relative=False) == 1.0


def test_kde_accuracy_reference_is_scipy_logsumexp_and_ours_is_exact():
    acc = experiment.kde_accuracy(2, 0.5, 1.0, n=100, m=30, seed=[7, 2])
    rng = np.random.default_rng([7, 2])
    X, Q = rng.standard_normal((100, 2)), rng.standard_normal((30, 2))
    ref = np.log(
        np.mean(
            stats.multivariate_normal.pdf(
                Q[:, None, :] - X[None], mean=np.zeros(2), cov=0.25 * np.eye(2)
            ),
            axis=1,
        )
    )
    np.testing.assert_allclose(acc["reference"], ref, atol=1e-10)
    assert acc["ours"].max() < 1e-10
    worst = int(np.argmax(acc["sklearn"]))
    assert acc["sklearn_max"] == acc["sklearn"][worst] and acc["ours_max"] == acc["ours"].max()
    assert acc["sklearn_median"] == np.median(acc["sklearn"])
    assert acc["log_p_worst"] == ref[worst] or abs(acc["log_p_worst"] - ref[worst]) < 1e-10
    # The rank by sorting: position of the worst query among the sorted log p, over m.
    order = np.sort(acc["reference"])
    assert acc["rank_worst"] == (np.searchsorted(order, acc["reference"][worst], "right")) / 30


def test_knn_integrals_increase_by_k_over_n_ln_10_per_decade():
    x = np.random.default_rng(0).normal(size=(200, 1))
    I_L = experiment.knn_integrals(KNNDensity(10).fit(x), decades=4)
    np.testing.assert_allclose(np.diff(I_L)[2:], 10 / 200 * np.log(10), rtol=0.01)


def test_curse_levels_and_samples_needed():
    rows = experiment.curse_levels(_exact, n=400)
    for name, _, mean, se, theory in rows:
        assert abs(mean - theory) < 5 * se, name
    out = experiment.curse_samples_needed(_exact, tau=0.1, d_gauss=2, d_hist=2)
    np.testing.assert_allclose(out["n_hist"], [(3 - 1) / 0.1, (9 - 1) / 0.1], rtol=0.1)
    np.testing.assert_allclose(out["n_gauss"], out["n_gauss_exact"], rtol=0.1)


def test_cube_estimate_integral_and_plane_integral_are_one():
    X = np.random.default_rng(0).normal(size=(30, 2))
    assert experiment.cube_estimate_integral(ParzenWindow(0.5).fit(X)) == pytest.approx(
        1, abs=1e-12
    )
    assert experiment.cube_estimate_integral(ParzenWindow(0.5).fit(X[:, :1])) == pytest.approx(1)
    est = ParzenWindow(0.5, kernel="gaussian").fit(X)
    assert experiment.plane_integral(est, 4.0, 0.125) == pytest.approx(1, abs=1e-8)


def test_heldout_curves_equal_direct_means():
    x, v = MIX.sample(50, seed=0), MIX.sample(20, seed=1)
    g, b = experiment.heldout_curves(x, v, np.array([0.5]))
    direct = np.log(np.mean(stats.norm.pdf(v - x.T, scale=0.5), axis=1)).mean()
    assert g[0] == pytest.approx(direct, rel=1e-10) and b.shape == (1,)


def test_ball_volume_mc_is_near_pi():
    V, se = experiment.ball_volume_mc(2, 200_000, np.random.default_rng(0))
    assert abs(V - np.pi) < 5 * se


def test_histogram_integrals_are_one_and_window_counts_loop_matches_numpy():
    x = np.random.default_rng(0).normal(size=(100, 1))
    exact, riemann = experiment.histogram_integrals(HistogramDensity(0.3).fit(x))
    assert exact == pytest.approx(1, abs=1e-12) and riemann == pytest.approx(1, abs=1e-12)
    X, Q = (
        np.random.default_rng(1).normal(size=(50, 2)),
        np.random.default_rng(2).normal(size=(9, 2)),
    )
    ref = np.all(np.abs(Q[:, None] - X[None]) < 0.25, axis=-1).sum(1)
    np.testing.assert_array_equal(experiment.window_counts_loop(X, Q, 0.5), ref)


def test_windows_per_sample_is_eight_at_spacing_h_over_8():
    x = np.random.default_rng(0).normal(size=(20, 1))
    q, counts = experiment.windows_per_sample(x, 0.5, 0.0625)
    assert np.all(counts == 8) and q.shape[1] == 1


CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


@pytest.mark.parametrize("name", [n for n in experiment.__all__ if n.startswith("plot_")])
def test_figures_return_a_figure_without_cjk(name):
    from validation_cases import CASES

    fn, args, kwargs = CASES[f"unsupervised.experiments.density.{name}"]
    fig = fn(*args, **kwargs)
    assert isinstance(fig, plt.Figure)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts + [ax.title, ax.xaxis.label]]
    assert not any(CJK.search(t) for t in texts)
    plt.close(fig)


def test_format_table_lays_out_rows_under_the_header():
    rows = np.array([[1.0, 0.25], [10.0, 3.5]])
    text = experiment.format_table(" d   value", rows, "{:2.0f} {:8.4f}")
    assert text.split("\n") == [" d   value", " 1   0.2500", "10   3.5000"]
    assert experiment.format_table("h", [(2, "x")], "{}|{}") == "h\n2|x"


def test_box_counts_counts_each_data_set_by_a_loop():
    pool = np.random.default_rng(5).normal(size=70)
    counts = experiment.box_counts(pool, 6, 11, -0.5, 0.75)
    loop = [sum(1 for v in pool[11 * s : 11 * (s + 1)] if -0.5 <= v <= 0.75) for s in range(6)]
    assert counts.tolist() == loop
    assert experiment.box_counts(np.array([0.0, 1.0, 2.0, 1.0]), 2, 2, 1.0, 1.0).tolist() == [1, 1]
    with pytest.raises(ValueError):
        experiment.box_counts(pool, 8, 10, 0.0, 1.0)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_hypercube_grid_integral_is_one_on_aligned_grids_and_known_otherwise(d):
    assert abs(experiment.hypercube_grid_integral(d, 8) - 1) < 1e-12
    # Three cells per axis: only the centre cell's midpoint 0 lies inside, volume (2/3)^d.
    assert abs(experiment.hypercube_grid_integral(d, 3) - (2 / 3) ** d) < 1e-12
