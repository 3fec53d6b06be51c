"""Tests of unsupervised.density (formulas DE1-DE4, DE6-DE10)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate, optimize, stats
from scipy.special import logsumexp
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import KernelDensity

from helpers import random_spd
from unsupervised.density import (
    HistogramDensity,
    KNNDensity,
    ParzenWindow,
    binomial_pmf,
    binomial_pmf_as_printed,
    gaussian_log_likelihood,
    gaussian_mle,
    hypercube_kernel,
)

X3 = np.array([[0.0], [1.0], [3.0]])  # the 3-point 1-D example used by the hand computations
X3_2D = np.array([[0.0, 0.0], [1.0, 1.0], [3.0, 0.5]])


# --------------------------------------------------------------------------- references
def brute_force_log_kde(X, Q, h):
    """Gaussian KDE from explicit differences x - x^(n) (no ||x||^2 + ||y||^2 - 2xy)."""
    sq = ((Q[:, None, :] - X[None, :, :]) ** 2).sum(axis=-1)
    d = X.shape[1]
    log_norm = np.log(len(X)) + 0.5 * d * np.log(2 * np.pi * h * h)
    return logsumexp(-sq / (2 * h * h), axis=1) - log_norm


def ball_volume(d, r):
    """Volume of the d-ball, written independently of the library's gammaln form."""
    if d == 1:
        return 2 * r
    if d == 2:
        return np.pi * r**2
    if d == 3:
        return 4 / 3 * np.pi * r**3
    return np.pi ** (d / 2) / math.gamma(d / 2 + 1) * r**d


def brute_force_knn_density(X, Q, k):
    dist = np.sqrt(((Q[:, None, :] - X[None, :, :]) ** 2).sum(axis=-1))
    r = np.partition(dist, k - 1, axis=1)[:, k - 1]
    return k / (len(X) * ball_volume(X.shape[1], r))


# --------------------------------------------------------------------------- DE1, DE2
@pytest.mark.parametrize("d", [1, 3, 5])
def test_gaussian_log_likelihood_matches_scipy(d):
    rng = np.random.default_rng(d)
    mean, cov = rng.standard_normal(d), random_spd(rng, d, ridge=d)
    X = rng.standard_normal((40, d)) * 3
    expected = stats.multivariate_normal(mean, cov).logpdf(X).reshape(-1)
    ours = gaussian_log_likelihood(X, mean, cov)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)


def test_sum_of_log_likelihoods_is_log_of_product_and_survives_underflow():
    # DE1: on small data the sum of the library's log densities equals the log of the product
    # of densities computed independently (SciPy); on large data that product underflows to 0
    # while the sum stays finite and equals SciPy's sum of log densities.
    rng = np.random.default_rng(0)
    mean, cov = np.array([0.5, -1.0]), np.array([[1.5, 0.4], [0.4, 0.8]])
    ref = stats.multivariate_normal(mean, cov)
    X = rng.standard_normal((5, 2))
    ll = gaussian_log_likelihood(X, mean, cov)
    # 5 densities of relative rounding ~1e-16 each: the two sides agree to ~1e-15 relative.
    assert ll.sum() == pytest.approx(np.log(np.prod(ref.pdf(X))), rel=1e-12)
    X = rng.standard_normal((2000, 2))
    ll = gaussian_log_likelihood(X, mean, cov)
    assert np.prod(ref.pdf(X)) == 0.0 and np.isfinite(ll.sum())
    assert ll.sum() == pytest.approx(ref.logpdf(X).sum(), rel=1e-12)


def test_gaussian_mle_equals_sample_mean_and_biased_covariance():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 3)) @ rng.standard_normal((3, 3)) + 2.0
    mean, cov = gaussian_mle(X)
    assert mean.shape == (3,) and cov.shape == (3, 3)
    np.testing.assert_allclose(mean, np.mean(X, axis=0), rtol=1e-13)
    np.testing.assert_allclose(cov, np.cov(X, rowvar=False, bias=True), rtol=1e-12)


def test_gaussian_mle_of_a_batch_equals_each_data_set_s_mle():
    # A batch (B, N, d) gives, per data set, numpy's mean and biased covariance.
    X = np.random.default_rng(3).standard_normal((4, 30, 2)) * [1.0, 3.0]
    mean, cov = gaussian_mle(X)
    assert mean.shape == (4, 2) and cov.shape == (4, 2, 2)
    for b in range(4):
        np.testing.assert_allclose(mean[b], X[b].mean(axis=0), rtol=1e-13)
        np.testing.assert_allclose(cov[b], np.cov(X[b], rowvar=False, bias=True), rtol=1e-12)


def test_gradient_of_log_likelihood_vanishes_at_the_mle():
    # DE2: central finite differences of the total log-likelihood in every direction of the
    # mean and of the (symmetric) covariance are ~0 at the MLE, and clearly not 0 nearby.
    rng = np.random.default_rng(2)
    X = rng.standard_normal((200, 2)) @ np.array([[1.0, 0.3], [0.0, 0.7]]) + [1.0, -2.0]
    mean, cov = gaussian_mle(X)

    def total(m, c):
        return gaussian_log_likelihood(X, m, c).sum()

    def gradient(m, c, eps=1e-5):
        g = []
        for i in range(2):
            e = np.zeros(2)
            e[i] = eps
            g.append((total(m + e, c) - total(m - e, c)) / (2 * eps))
        for i, j in [(0, 0), (1, 1), (0, 1)]:
            E = np.zeros((2, 2))
            E[i, j] = E[j, i] = eps
            g.append((total(m, c + E) - total(m, c - E)) / (2 * eps))
        return np.array(g)

    # total is ~ -500; rounding of the differences gives an error ~ 1e-13 * 500 / 1e-5 ~ 1e-5.
    assert np.max(np.abs(gradient(mean, cov))) < 1e-4
    assert np.max(np.abs(gradient(mean + 0.05, cov))) > 1.0


def test_numerical_optimiser_reaches_the_closed_form_mle():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 2)) @ np.array([[2.0, 0.0], [0.5, 0.5]]) + [3.0, -1.0]
    mean, cov = gaussian_mle(X)

    def unpack(theta):  # mean and a Cholesky factor with log-diagonal, so cov stays SPD
        L = np.array([[np.exp(theta[2]), 0.0], [theta[3], np.exp(theta[4])]])
        return theta[:2], L @ L.T

    def nll(theta):
        m, c = unpack(theta)
        return -gaussian_log_likelihood(X, m, c).sum()

    start = [-5.0, 5.0, 0.0, 0.0, 0.0]
    result = optimize.minimize(nll, x0=start, method="BFGS", options={"gtol": 1e-8})
    m_opt, c_opt = unpack(result.x)
    np.testing.assert_allclose(m_opt, mean, atol=1e-5)
    np.testing.assert_allclose(c_opt, cov, atol=1e-4)
    assert result.fun == pytest.approx(-gaussian_log_likelihood(X, mean, cov).sum(), abs=1e-6)


# --------------------------------------------------------------------------- DE4
@pytest.mark.parametrize(
    "n,p", [(0, 0.3), (1, 0.5), (10, 0.3), (50, 0.01), (200, 0.9), (7, 0.0), (7, 1.0)]
)
def test_binomial_pmf_matches_scipy_and_sums_to_one(n, p):
    k = np.arange(n + 1)
    pmf = binomial_pmf(k, n, p)
    assert pmf.shape == (n + 1,)
    np.testing.assert_allclose(pmf, stats.binom.pmf(k, n, p), rtol=1e-10, atol=1e-300)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)


def test_binomial_pmf_large_n_in_log_space():
    n, p = 10_000, 0.3
    pmf = binomial_pmf(np.arange(n + 1), n, p)
    assert np.all(np.isfinite(pmf))
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)  # gammaln rounding accumulates to ~3e-12
    middle = np.arange(2900, 3100)
    np.testing.assert_allclose(pmf[middle], stats.binom.pmf(middle, n, p), rtol=1e-9)
    assert np.sum(np.arange(n + 1) * pmf) == pytest.approx(n * p, rel=1e-9)  # DE5: E[K] = N P


def test_binomial_pmf_scalar_and_hand_value():
    assert binomial_pmf(2, 4, 0.5) == pytest.approx(6 / 16, rel=1e-14)
    assert binomial_pmf(np.array([[0, 1], [2, 3]]), 3, 0.5).shape == (2, 2)


def test_printed_binomial_formula_is_not_a_pmf():
    # DE4 as printed, exponent 1 - K: by the binomial theorem its sum over K = 0..n is
    # (1 - p)^(1 - n), which exceeds 1 for n >= 2 and 0 < p < 1; it is 1 for n = 1 or p = 0.
    for n, p in [(4, 0.3), (2, 0.5), (10, 0.05), (50, 0.6)]:
        total = binomial_pmf_as_printed(np.arange(n + 1), n, p).sum()
        assert total == pytest.approx((1 - p) ** (1 - n), rel=1e-12) and total > 1
    assert binomial_pmf_as_printed(np.arange(2), 1, 0.3).sum() == pytest.approx(1.0, rel=1e-14)
    assert binomial_pmf_as_printed(np.arange(8), 7, 0.0).sum() == pytest.approx(1.0, rel=1e-14)


# --------------------------------------------------------------------------- DE7
def test_hypercube_kernel_values_and_strict_boundary():
    u = np.array([[0.0, 0.0], [0.49, -0.49], [0.5, 0.0], [0.0, -0.5], [0.7, 0.1]])
    np.testing.assert_array_equal(hypercube_kernel(u), [1.0, 1.0, 0.0, 0.0, 0.0])
    assert hypercube_kernel(np.zeros((3, 4, 2))).shape == (3, 4)
    assert hypercube_kernel(np.array([0.1, 0.2])) == 1.0


# --------------------------------------------------------------------------- hand computations
def test_histogram_by_hand():
    # bin_width 2 from origin 0: bins [0, 2) holds {0, 1}, [2, 4) holds {3}; p = K / (3 * 2)
    est = HistogramDensity(bin_width=2.0).fit(X3)
    np.testing.assert_allclose(
        est.density(np.array([[0.5], [1.99], [3.9], [4.0], [-0.1]])), [1 / 3, 1 / 3, 1 / 6, 0, 0]
    )
    # 2-D: bins of side 2 from (0, 0); (0,0),(1,1) share a bin; V = 2^2 = 4
    est = HistogramDensity(bin_width=2.0).fit(X3_2D)
    Q = np.array([[0.5, 0.5], [3.5, 1.5], [5.0, 5.0]])
    np.testing.assert_allclose(est.density(Q), [2 / 12, 1 / 12, 0])
    # explicit origin shifts the grid: bins [-1, 1), [1, 3), [3, 5)
    est = HistogramDensity(bin_width=2.0, origin=[-1.0]).fit(X3)
    np.testing.assert_allclose(est.density(np.array([[0.0], [2.0], [4.0]])), [1 / 6, 1 / 6, 1 / 6])


def test_hypercube_parzen_by_hand():
    # h = 2: counts points with |x_n - x| < 1 (strict). At x = 2: |1 - 2| = |3 - 2| = 1 -> K = 0;
    # at x = 0: |0 - 0| = 0 counts, |1 - 0| = 1 does not -> K = 1.
    est = ParzenWindow(h=2.0).fit(X3)
    Q = np.array([[0.5], [2.0], [2.5], [0.0]])
    np.testing.assert_array_equal(est.window_counts(Q), [2, 0, 1, 1])
    np.testing.assert_allclose(est.density(Q), [2 / 6, 0, 1 / 6, 1 / 6])
    est = ParzenWindow(h=2.0).fit(X3_2D)  # h^d = 4
    np.testing.assert_allclose(est.density(np.array([[0.5, 0.5], [2.5, 0.5]])), [2 / 12, 1 / 12])


def test_gaussian_parzen_by_hand():
    phi = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    est = ParzenWindow(h=1.0, kernel="gaussian").fit(X3)
    expected = (phi(0) + phi(1) + phi(3)) / 3
    assert est.density(np.array([[0.0]]))[0] == pytest.approx(expected, rel=1e-13)
    est = ParzenWindow(h=0.5, kernel="gaussian").fit(X3)  # N(x | x_n, h^2) = phi((x - x_n)/h) / h
    expected = (phi(2.0) + phi(0.0) + phi(4.0)) / (3 * 0.5)
    assert est.density(np.array([[1.0]]))[0] == pytest.approx(expected, rel=1e-13)


def test_knn_by_hand():
    est = KNNDensity(k=2).fit(X3)
    # x = 0.5: distances 0.5, 0.5, 2.5 -> r = 0.5, V = 2r = 1, p = 2 / 3
    # x = 5: distances 5, 4, 2 -> r = 4, V = 8, p = 2 / 24
    np.testing.assert_allclose(est.density(np.array([[0.5], [5.0]])), [2 / 3, 1 / 12], rtol=1e-14)
    est = KNNDensity(k=1).fit(np.array([[3.0, 4.0], [10.0, 10.0]]))
    # x = 0: r = 5, V = 25 pi, p = 1 / (2 * 25 pi)
    assert est.density(np.zeros((1, 2)))[0] == pytest.approx(1 / (50 * np.pi), rel=1e-14)
    # training points are not excluded: r = 0 at a training point when k = 1
    assert est.density(np.array([[3.0, 4.0]]))[0] == np.inf


# --------------------------------------------------------------------------- independent references
@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_hypercube_counts_match_brute_force(d):
    rng = np.random.default_rng(d)
    for X, Q in [
        (rng.standard_normal((300, d)), rng.standard_normal((100, d))),
        # points on a lattice, so many lie exactly on a cube face: the strict "<" matters
        (rng.integers(-4, 5, (300, d)) * 0.25, rng.integers(-4, 5, (100, d)) * 0.25),
    ]:
        h = 1.5  # h / 2 = 0.75 is a lattice step: ties on the faces
        est = ParzenWindow(h).fit(X)
        brute = np.sum(np.all(np.abs(X[None, :, :] - Q[:, None, :]) < h / 2, axis=-1), axis=1)
        np.testing.assert_array_equal(est.window_counts(Q), brute)
        np.testing.assert_allclose(est.density(Q), brute / (len(X) * h**d), rtol=1e-14)


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_knn_matches_brute_force(d):
    rng = np.random.default_rng(10 + d)
    X, Q = rng.standard_normal((400, d)), rng.standard_normal((150, d)) * 1.5
    for k in (1, 5, 400):
        ours = KNNDensity(k).fit(X).density(Q)
        np.testing.assert_allclose(ours, brute_force_knn_density(X, Q, k), rtol=1e-10, atol=0)


@pytest.mark.parametrize("d,shift", [(2, 0.0), (10, 0.0), (2, 50.0), (10, -20.0)])
def test_gaussian_parzen_is_exact_against_explicit_differences(d, shift):
    rng = np.random.default_rng(20 + d)
    X = rng.standard_normal((500, d)) + shift
    Q = np.vstack([rng.standard_normal((200, d)), 3 * rng.standard_normal((100, d))]) + shift
    for h in (0.3, 1.0):
        expected = brute_force_log_kde(X, Q, h)
        ours = ParzenWindow(h, "gaussian").fit(X).log_density(Q)
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-10)
        chunked = ParzenWindow(h, "gaussian", chunk_size=7).fit(X).log_density(Q)
        np.testing.assert_allclose(chunked, ours, rtol=0, atol=1e-12)


def test_gaussian_parzen_does_not_depend_on_the_chunk_size():
    # N large enough that the default (cache-sized) chunk splits the queries; far rows among
    # the near ones: at distance 20-40 (h = 0.4) every term exp(-r^2 / 2h^2) underflows, so
    # those rows take the shifted logsumexp and stay finite; at 1e200 the squared distance
    # overflows and log p is -inf, in the reference as well.
    rng = np.random.default_rng(41)
    X, Q, h = rng.standard_normal((6000, 3)), rng.standard_normal((240, 3)), 0.4
    far = slice(None, None, 17)
    Q[far] *= (
        np.linspace(20.0, 40.0, len(Q[far]))[:, None] / np.linalg.norm(Q[far], axis=1)[:, None]
    )
    Q[5] = [1e200, 0.0, 0.0]
    with np.errstate(over="ignore"):
        expected = brute_force_log_kde(X, Q, h)
        terms = np.exp(-((Q[far, None, :] - X[None]) ** 2).sum(axis=-1) / (2 * h * h))
    assert np.all(terms.sum(axis=1) == 0.0)  # the plain sum of exps underflows
    assert expected[5] == -np.inf and np.all(np.isfinite(np.delete(expected, 5)))
    default = ParzenWindow(h, "gaussian").fit(X).log_density(Q)
    np.testing.assert_allclose(default, expected, rtol=0, atol=1e-10)
    for chunk in (1, 7, len(Q)):
        chunked = ParzenWindow(h, "gaussian", chunk_size=chunk).fit(X).log_density(Q)
        np.testing.assert_allclose(chunked, default, rtol=0, atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_gaussian_parzen_matches_sklearn_kernel_density(d):
    # sklearn's tree algorithm is not exact far from the data even with its default
    # atol = rtol = 0: with scikit-learn 1.9.1, d = 10, N = 2000 standard normal points, h = 0.5
    # and 500 queries 3 * standard normal (seeds as in chapter 03, "这些数字能信到第几位"), the
    # largest log-density error was ~1e2. With leaf_size >= N the tree is a single leaf and
    # every kernel term is evaluated, so only rounding differs: atol 1e-9.
    rng = np.random.default_rng(30 + d)
    X, Q = rng.standard_normal((200, d)), rng.standard_normal((50, d)) * 2
    for h in (0.2, 0.7):
        ref = KernelDensity(bandwidth=h, leaf_size=len(X)).fit(X).score_samples(Q)
        ours = ParzenWindow(h, "gaussian").fit(X).log_density(Q)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------- API
@pytest.mark.parametrize(
    "make",
    [
        lambda: HistogramDensity(0.5),
        lambda: ParzenWindow(0.5),
        lambda: ParzenWindow(0.5, "gaussian"),
        lambda: KNNDensity(3),
    ],
)
def test_estimator_api(make):
    rng = np.random.default_rng(4)
    X, Q = rng.standard_normal((30, 2)), np.vstack([rng.standard_normal((10, 2)), [[50.0, 50.0]]])
    est = make()
    with pytest.raises(NotFittedError):
        est.density(Q)
    assert est.fit(X) is est
    log_p, p = est.log_density(Q), est.density(Q)
    assert log_p.shape == p.shape == (11,) and p.dtype == np.float64
    np.testing.assert_allclose(p, np.exp(log_p), rtol=1e-15)
    if isinstance(est, HistogramDensity) or getattr(est, "kernel", "") == "hypercube":
        assert log_p[-1] == -np.inf and p[-1] == 0.0


# --------------------------------------------------------------------------- properties
def data(n_min=1, n_max=15, d=1):
    return st.integers(n_min, n_max).flatmap(
        lambda n: arrays(np.float64, (n, d), elements=st.floats(-3, 3, allow_nan=False))
    )


@settings(max_examples=40, deadline=None)
@given(X=data(d=2), Q=data(d=2), h=st.floats(0.05, 3.0), k=st.integers(1, 15))
def test_densities_are_non_negative_and_finite(X, Q, h, k):
    for est in (HistogramDensity(h), ParzenWindow(h), ParzenWindow(h, "gaussian")):
        p = est.fit(X).density(Q)
        assert p.shape == (len(Q),) and np.all(p >= 0) and np.all(np.isfinite(p))
    k = min(k, len(X))
    est = KNNDensity(k).fit(X)
    p, r = est.density(Q), est.kth_neighbour_distance(Q)
    assert np.all(p >= 0) and not np.any(np.isnan(p))
    # finite in log space wherever r > 0 (p itself overflows to inf for r < ~1e-154 in 2-D)
    assert np.all(np.isfinite(est.log_density(Q)[r > 0]))


def aligned_midpoints(lo, hi, step, anchor):
    """Midpoints of cells of width ``step`` on a grid through ``anchor`` covering [lo, hi]."""
    j0 = math.floor((lo - anchor) / step) - 1
    j1 = math.ceil((hi - anchor) / step) + 1
    return anchor + (np.arange(j0, j1) + 0.5) * step


@settings(max_examples=30, deadline=None)
@given(X=data(d=1), w=st.floats(0.1, 2.0))
def test_histogram_integrates_to_one_1d(X, w):
    # Midpoint rule on a grid aligned with the bin edges (20 cells per bin): the estimate is
    # constant on every cell, so the sum is exact up to rounding.
    est = HistogramDensity(w).fit(X)
    step = w / 20
    grid = aligned_midpoints(X.min() - w, X.max() + w, step, est.origin_[0])
    assert np.sum(est.density(grid[:, None])) * step == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(X=data(d=2), w=st.floats(0.2, 2.0))
def test_histogram_integrates_to_one_2d(X, w):
    est = HistogramDensity(w).fit(X)
    step = w / 4
    g0 = aligned_midpoints(X[:, 0].min() - w, X[:, 0].max() + w, step, est.origin_[0])
    g1 = aligned_midpoints(X[:, 1].min() - w, X[:, 1].max() + w, step, est.origin_[1])
    G = np.stack(np.meshgrid(g0, g1, indexing="ij"), axis=-1).reshape(-1, 2)
    assert np.sum(est.density(G)) * step**2 == pytest.approx(1.0, abs=1e-9)
    # the same, bin by bin: density at each occupied bin's centre times w^2
    centres = est.origin_ + (np.array(list(est.counts_)) + 0.5) * w
    assert np.sum(est.density(centres)) * w**2 == pytest.approx(1.0, abs=1e-12)


def exact_piecewise_constant_integral(est, X, h):
    """Integral of the hypercube estimate: it is constant between the breakpoints x_n +- h/2
    of every axis, so evaluate at the midpoint of every grid cell and sum value x volume."""
    d = X.shape[1]
    axes = [np.unique(np.concatenate([X[:, i] - h / 2, X[:, i] + h / 2])) for i in range(d)]
    mids = [(a[1:] + a[:-1]) / 2 for a in axes]
    widths = [np.diff(a) for a in axes]
    M = np.stack(np.meshgrid(*mids, indexing="ij"), axis=-1).reshape(-1, d)
    V = np.prod(np.stack(np.meshgrid(*widths, indexing="ij"), axis=-1).reshape(-1, d), axis=1)
    return np.sum(est.density(M) * V)


@settings(max_examples=30, deadline=None)
@given(X=data(d=1), h=st.floats(0.05, 3.0))
def test_hypercube_parzen_integrates_to_one_1d(X, h):
    est = ParzenWindow(h).fit(X)
    assert exact_piecewise_constant_integral(est, X, h) == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(X=data(n_max=10, d=2), h=st.floats(0.1, 3.0))
def test_hypercube_parzen_integrates_to_one_2d(X, h):
    est = ParzenWindow(h).fit(X)
    assert exact_piecewise_constant_integral(est, X, h) == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(X=data(d=1), h=st.floats(0.1, 2.0))
def test_gaussian_parzen_integrates_to_one_1d(X, h):
    # Trapezoid rule with step h/10 over [min - 12h, max + 12h]: for a sum of Gaussians of
    # width h the trapezoid error is ~exp(-2 pi^2 (h/step)^2) and the cut tails ~exp(-72).
    est = ParzenWindow(h, "gaussian").fit(X)
    grid = np.arange(X.min() - 12 * h, X.max() + 12 * h, h / 10)
    assert np.trapezoid(est.density(grid[:, None]), grid) == pytest.approx(1.0, abs=1e-8)


@settings(max_examples=25, deadline=None)
@given(X=data(d=2), h=st.floats(0.2, 2.0))
def test_gaussian_parzen_integrates_to_one_2d(X, h):
    # Step h/4 per axis: trapezoid error ~exp(-2 pi^2 16) per axis, negligible.
    est = ParzenWindow(h, "gaussian").fit(X)
    g0 = np.arange(X[:, 0].min() - 10 * h, X[:, 0].max() + 10 * h, h / 4)
    g1 = np.arange(X[:, 1].min() - 10 * h, X[:, 1].max() + 10 * h, h / 4)
    G = np.stack(np.meshgrid(g0, g1, indexing="ij"), axis=-1).reshape(-1, 2)
    p = est.density(G).reshape(len(g0), len(g1))
    total = np.trapezoid(np.trapezoid(p, g1, axis=1), g0)
    assert total == pytest.approx(1.0, abs=1e-8)


def knn_integral_1d(est, lo, hi, L):
    """Integral of a 1-D kNN estimate over [lo - L, hi + L]: trapezoid on a fine uniform grid
    over [lo, hi] and, in the tails, on a uniform grid in t with x = hi + (e^t - 1)."""
    mid = np.linspace(lo, hi, 20001)
    total = np.trapezoid(est.density(mid[:, None]), mid)
    t = np.linspace(0.0, np.log1p(L), 20001)
    for sign, edge in ((1.0, hi), (-1.0, lo)):
        x = edge + sign * np.expm1(t)
        total += np.trapezoid(est.density(x[:, None]) * np.exp(t), t)
    return total


@settings(max_examples=25, deadline=None)
@given(
    gaps=st.lists(st.floats(0.1, 2.0), min_size=2, max_size=12),
    start=st.floats(-3, 3),
    k_frac=st.floats(0, 1),
)
def test_knn_integral_keeps_growing_beyond_one_in_1d(gaps, start, k_frac):
    # DE10's known failure. Beyond the largest point x_max the k-th neighbour is the k-th
    # largest point a, so p(x) = k / (2 N (x - a)) and the tail integral grows like
    # (k / 2N) log L without bound. Distinct points and k >= 2 keep r(x) > 0 everywhere.
    X = (start + np.concatenate([[0.0], np.cumsum(gaps)]))[:, None]
    N = len(X)
    k = 2 + int(k_frac * (N - 2))
    est = KNNDensity(k).fit(X)
    lo, hi = X.min() - 1, X.max() + 1
    integrals = [knn_integral_1d(est, lo, hi, L) for L in (1e1, 1e5, 1e10, 1e20, 1e40)]
    assert np.all(np.diff(integrals) > 0.1 * k / N)  # each step adds at least ~(k/N) log 10^5
    assert integrals[-1] > 1.5
    # the right tail alone matches the closed form (k / 2N) log((hi + L - a) / (hi - a))
    a = np.sort(X[:, 0])[-k]
    t = np.linspace(0.0, np.log1p(1e10), 20001)
    x = hi + np.expm1(t)
    tail = np.trapezoid(est.density(x[:, None]) * np.exp(t), t)
    assert tail == pytest.approx(k / (2 * N) * np.log((hi + 1e10 - a) / (hi - a)), rel=1e-5)


# --------------------------------------------------------------------------- bad input
GOOD = np.random.default_rng(5).standard_normal((10, 2))
BAD_X = [
    ("nan", np.array([[0.0, np.nan], [1.0, 2.0]])),
    ("inf", np.array([[0.0, np.inf], [1.0, 2.0]])),
    ("1-D", np.zeros(5)),
    ("3-D", np.zeros((2, 2, 2))),
    ("empty", np.zeros((0, 2))),
]
ESTIMATORS = [
    lambda: HistogramDensity(0.5),
    lambda: ParzenWindow(0.5),
    lambda: ParzenWindow(0.5, "gaussian"),
    lambda: KNNDensity(1),
]


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize("label,bad", BAD_X)
def test_bad_training_data_names_X(make, label, bad):
    with pytest.raises(ValueError, match=r"^X "):
        make().fit(bad)


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize(
    "bad",
    [
        np.array([[np.nan, 0.0]]),
        np.array([[0.0, -np.inf]]),
        np.zeros((3, 3)),
        np.zeros(2),
        np.zeros((1, 1)),
    ],
)
def test_bad_queries_name_Q(make, bad):
    est = make().fit(GOOD)
    with pytest.raises(ValueError, match=r"^Q "):
        est.density(bad)


@pytest.mark.parametrize("h", [0, -1.0, np.nan, np.inf, "wide"])
def test_bad_bandwidth_names_h(h):
    with pytest.raises(ValueError, match=r"^h "):
        ParzenWindow(h)


@pytest.mark.parametrize("w", [0, -0.5, np.nan])
def test_bad_bin_width_names_bin_width(w):
    with pytest.raises(ValueError, match=r"^bin_width "):
        HistogramDensity(w)


def test_bad_histogram_origin():
    with pytest.raises(ValueError, match=r"^origin "):
        HistogramDensity(1.0, origin=[0.0]).fit(GOOD)


def test_unknown_kernel_names_kernel():
    with pytest.raises(ValueError, match=r"^kernel "):
        ParzenWindow(1.0, kernel="epanechnikov")


@pytest.mark.parametrize("k", [0, -2, 1.5])
def test_bad_k_names_k(k):
    with pytest.raises(ValueError, match=r"^k "):
        KNNDensity(k)


def test_k_larger_than_N_names_k():
    with pytest.raises(ValueError, match=r"^k .*N"):
        KNNDensity(11).fit(GOOD)


def test_bad_gaussian_parameters():
    with pytest.raises(ValueError, match=r"^cov .*symmetric"):
        gaussian_log_likelihood(GOOD, np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"^cov .*positive definite"):
        gaussian_log_likelihood(GOOD, np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match=r"^cov "):
        gaussian_log_likelihood(GOOD, np.zeros(2), np.eye(3))
    with pytest.raises(ValueError, match=r"^mean "):
        gaussian_log_likelihood(GOOD, np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match=r"^X "):
        gaussian_mle(np.array([[np.nan, 1.0]]))


@pytest.mark.parametrize(
    "args,name",
    [
        ((-1, 5, 0.5), "k"),
        ((6, 5, 0.5), "k"),
        ((1.5, 5, 0.5), "k"),
        ((1, 5, 1.2), "p"),
        ((1, 5, -0.1), "p"),
        ((1, -5, 0.5), "n"),
        ((1, 2.5, 0.5), "n"),
    ],
)
def test_bad_binomial_arguments(args, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        binomial_pmf(*args)


def test_hypercube_kernel_rejects_nan():
    with pytest.raises(ValueError, match=r"^u "):
        hypercube_kernel(np.array([[np.nan, 0.0]]))


# --------------------------------------------------------------------------- DE3
def test_box_probability_hand_computation_hypercube():
    # X3 = {0, 1, 3}, h = 2: the cubes are (-1, 1), (0, 2), (2, 4). The box [0.5, 2.5]
    # overlaps them by 0.5, 1.5 and 0.5, so P = (0.5 + 1.5 + 0.5) / (3 * 2) = 5/12.
    est = ParzenWindow(2.0).fit(X3)
    assert est.box_probability([0.5], [2.5]) == pytest.approx(5 / 12, rel=1e-15)
    # 2-D: one point at the origin, h = 1, box [0, 1] x [-1, 0.25]: overlap 0.5 * 0.75.
    est2 = ParzenWindow(1.0).fit(np.zeros((1, 2)))
    assert est2.box_probability([0.0, -1.0], [1.0, 0.25]) == pytest.approx(0.375, rel=1e-15)


def test_box_probability_hand_computation_gaussian():
    # One training point at 0, h = 2: P([a, b]) = Phi(b / 2) - Phi(a / 2), from scipy.
    est = ParzenWindow(2.0, kernel="gaussian").fit(np.zeros((1, 1)))
    P = est.box_probability([[-1.0], [3.0], [-np.inf]], [[2.0], [40.0], [np.inf]])
    expected = [
        stats.norm.cdf(1.0) - stats.norm.cdf(-0.5),
        stats.norm.sf(1.5) - stats.norm.sf(20.0),
        1.0,
    ]
    np.testing.assert_allclose(P, expected, rtol=1e-13)
    # Deep in the upper tail the difference of CDFs would round to 0; the survival form does not.
    tail = est.box_probability([30.0], [31.0])
    np.testing.assert_allclose(tail, stats.norm.sf(15.0) - stats.norm.sf(15.5), rtol=1e-10)
    assert tail > 0


@pytest.mark.parametrize("kernel", ["hypercube", "gaussian"])
def test_box_probability_matches_numerical_integration_1d(kernel):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 1))
    est = ParzenWindow(0.7, kernel=kernel).fit(X)
    a, b = -0.4, 1.3
    if kernel == "gaussian":

        def pdf(t):  # direct formula, independent of the library
            return stats.norm.pdf((t - X[:, 0]) / 0.7).sum() / (30 * 0.7)

        ref, _ = integrate.quad(pdf, a, b, epsabs=1e-13, epsrel=1e-13, limit=200)
    else:
        # piecewise constant between breakpoints: the midpoint rule is exact
        br = np.concatenate([X[:, 0] - 0.35, X[:, 0] + 0.35, [a, b]])
        br = np.sort(br[(br >= a) & (br <= b)])
        mid = (br[1:] + br[:-1]) / 2
        dens = (np.abs(mid[:, None] - X[None, :, 0]) < 0.35).sum(axis=1) / (30 * 0.7)
        ref = np.sum(dens * np.diff(br))
    assert est.box_probability([a], [b]) == pytest.approx(ref, abs=1e-11)


@pytest.mark.parametrize("kernel", ["hypercube", "gaussian"])
def test_box_probability_of_the_whole_space_is_one(kernel):
    est = ParzenWindow(0.3, kernel=kernel).fit(X3_2D)
    assert est.box_probability([-np.inf, -np.inf], [np.inf, np.inf]) == pytest.approx(
        1.0, abs=1e-14
    )
    assert est.box_probability([5.0, 5.0], [5.0, 7.0]) == 0.0  # a box of volume 0


def test_box_probability_bad_input_names_the_argument():
    est = ParzenWindow(1.0).fit(X3_2D)
    with pytest.raises(ValueError, match=r"^lower "):
        est.box_probability([0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"^upper "):
        est.box_probability([0.0, 0.0], [np.nan, 1.0])
    with pytest.raises(ValueError, match=r"^lower .*<= upper"):
        est.box_probability([1.0, 0.0], [0.0, 1.0])
    with pytest.raises(ValueError, match=r"^lower and upper"):
        est.box_probability([0.0, 0.0], [[1.0, 1.0], [2.0, 2.0]])
    with pytest.raises(NotFittedError):
        ParzenWindow(1.0).box_probability([0.0], [1.0])


# --------------------------------------------------------------------------- the validation policy
# (tests/test_validation_policy.py tries every declared bad value; these are the cases a
# learner meets first, and the checks that depend on the fitted state or on two arguments)
@pytest.mark.parametrize("h", ["0.5", True, 1 + 0j, None])
def test_bandwidth_must_be_a_real_number_not_a_string_or_bool(h):
    with pytest.raises(ValueError, match=r"^h "):
        ParzenWindow(h)


@pytest.mark.parametrize("kernel", ["Gaussian", None, 3])
def test_kernel_must_be_one_of_the_two(kernel):
    with pytest.raises(ValueError, match=r"^kernel .*'hypercube', 'gaussian'"):
        ParzenWindow(1.0, kernel=kernel)


@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize(
    "method", ["density", "log_density", "bin_counts", "window_counts", "kth_neighbour_distance"]
)
def test_an_unfitted_estimator_names_the_method_called(make, method):
    est = make()
    if not hasattr(est, method) or (method == "window_counts" and est.kernel != "hypercube"):
        return
    with pytest.raises(NotFittedError, match=rf"fit\(X\) before {method}\(Q\)") as err:
        getattr(est, method)(GOOD)
    assert isinstance(err.value, ValueError)


def test_box_probability_unfitted_names_box_probability():
    with pytest.raises(ValueError, match=r"before box_probability"):
        ParzenWindow(1.0).box_probability([0.0], [1.0])


@pytest.mark.parametrize("make", ESTIMATORS)
def test_queries_of_the_wrong_width_are_refused_naming_Q(make):
    est = make().fit(GOOD)
    with pytest.raises(ValueError, match=r"^Q must have 2 columns"):
        est.log_density(np.zeros((4, 3)))


@pytest.mark.parametrize("make", ESTIMATORS)
def test_tensors_that_require_grad_lists_and_float32_are_read_as_data(make):
    import torch

    X = torch.tensor(GOOD, requires_grad=True)
    Q = (GOOD[:3] + 0.1).tolist()
    expected = make().fit(GOOD).log_density(GOOD[:3] + 0.1)
    np.testing.assert_array_equal(make().fit(X).log_density(Q), expected)
    np.testing.assert_allclose(
        make().fit(GOOD.astype(np.float32)).log_density(Q), expected, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("h", [1e-200, 1e200])
def test_gaussian_window_refuses_an_h_whose_square_float64_cannot_hold(h):
    with pytest.raises(ValueError, match=r"^h "):
        ParzenWindow(h, kernel="gaussian")
    ParzenWindow(h)  # the hypercube only needs h itself


def test_gaussian_window_far_from_the_data_is_minus_inf_not_nan():
    est = ParzenWindow(1e-3, kernel="gaussian").fit(GOOD)
    log_p = est.log_density(np.array([[1e300, -1e300], [1e150, 0.0], [0.0, 0.0]]))
    # the first query overflows ||x||^2 (inf - inf inside); the second is finite and tiny
    assert log_p[0] == -np.inf and -np.inf < log_p[1] < -1e300 and np.isfinite(log_p[2])
    assert ParzenWindow(1.0, kernel="gaussian").fit(X3).log_density([[1e200]])[0] == -np.inf


def test_gaussian_window_refuses_data_too_spread_for_h():
    with pytest.raises(ValueError, match=r"^X .*spread"):
        ParzenWindow(1e-10, kernel="gaussian").fit(np.array([[-1e150], [1e150]]))


def test_box_probability_refuses_nan_but_takes_infinite_corners():
    est = ParzenWindow(1.0, kernel="gaussian").fit(X3)
    assert est.box_probability([-np.inf], [np.inf]) == pytest.approx(1.0, abs=1e-15)
    with pytest.raises(ValueError, match=r"^lower .*NaN"):
        est.box_probability([np.nan], [1.0])


@pytest.mark.parametrize(
    ("args", "name"),
    [((1, 5, True), "p"), ((1, "5", 0.5), "n"), (("1", 5, 0.5), "k"), ((1, True, 0.5), "n")],
)
def test_binomial_arguments_are_numbers_not_strings_or_bools(args, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        binomial_pmf(*args)


def test_knn_density_is_scale_equivariant_at_extreme_scales():
    # p_s(s x) = p(x) / s^d exactly (the tree works in power-of-two units of the data's scale;
    # before, squared distances underflowed to 0 at 1e-200 (+inf) and overflowed at 1e200)
    rng = np.random.default_rng(5)
    X, Q = rng.normal(size=(60, 2)), rng.normal(size=(7, 2))
    base = KNNDensity(4).fit(X).log_density(Q)
    for scale in (1e-200, 1e200):
        scaled = KNNDensity(4).fit(X * scale).log_density(Q * scale)
        np.testing.assert_allclose(scaled, base - 2 * np.log(scale), rtol=0, atol=1e-9)
    # a query far outside the data's scale (its distance overflows in the tree's units):
    # p = 1 / (pi r^2) with r = ||q - x|| for k = N = 1 (found by hypothesis)
    x1 = np.full((1, 2), 3.7e-171)
    for q in (np.array([[1.0, 1.0]]), np.array([[1e300, 1e300]])):
        r = np.hypot(*(q - x1)[0]) if q[0, 0] < 1e200 else np.sqrt(2.0) * 1e300
        expected = -np.log(np.pi) - 2 * np.log(r)
        assert KNNDensity(1).fit(x1).log_density(q)[0] == pytest.approx(expected, rel=1e-12)


def test_printed_binomial_refuses_a_value_float64_cannot_hold():
    with pytest.raises(ValueError, match="p and n"):
        binomial_pmf_as_printed(np.arange(4), 3, 1.0)  # (1 - 1)^(1 - k): division by zero
    with pytest.raises(ValueError, match="p and n"):
        binomial_pmf_as_printed(3000, 10_000, 0.3)
