"""Tests of unsupervised.divergences: the Gaussian KL (VA16) and the KL and JS divergences
of densities on a grid (GAN chapter, GA6-GA10).

References: torch.distributions and Monte Carlo for the Gaussian KL; SciPy's entropy (KL of
discrete distributions) and jensenshannon, closed forms, quadrature of hand-written
integrands and the defining properties (non-negativity, symmetry, bounds) for the grid
divergences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate, stats
from scipy.spatial.distance import jensenshannon
from torch.distributions import MultivariateNormal
from torch.distributions import kl_divergence as torch_kl

from helpers import random_spd
from unsupervised.divergences import gaussian_kl, js_divergence, kl_divergence


# =========================================================================== gaussian_kl (VA16)
# --------------------------------------------------------------------------- values
def test_hand_value_in_one_dimension():
    # KL(N(0, 1) || N(1, 4)) = 1/2 (1/4 + 1/4 - 1 + log 4) = 1/2 (log 4 - 1/2)
    kl = gaussian_kl([0.0], [[1.0]], [1.0], [[4.0]])
    assert isinstance(kl, np.ndarray) and kl.shape == ()
    assert math.isclose(float(kl), 0.5 * (math.log(4.0) - 0.5), rel_tol=1e-14)


@pytest.mark.parametrize("k", [1, 3, 6])
def test_matches_torch_distributions(k):
    rng = np.random.default_rng(k)
    mu1, mu2 = rng.standard_normal((2, 7, k))
    cov1, cov2 = random_spd(rng, k, (7,)), random_spd(rng, k, (7,))
    ours = gaussian_kl(mu1, cov1, mu2, cov2)
    ref = torch_kl(
        MultivariateNormal(torch.tensor(mu1), torch.tensor(cov1)),
        MultivariateNormal(torch.tensor(mu2), torch.tensor(cov2)),
    ).numpy()
    assert ours.shape == (7,)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


def test_matches_monte_carlo():
    rng = np.random.default_rng(5)
    k = 3
    mu1, mu2 = rng.standard_normal((2, k))
    cov1, cov2 = random_spd(rng, k), random_spd(rng, k)
    p1, p2 = (
        MultivariateNormal(torch.tensor(mu1), torch.tensor(cov1)),
        MultivariateNormal(torch.tensor(mu2), torch.tensor(cov2)),
    )
    z = torch.tensor(rng.multivariate_normal(mu1, cov1, size=200_000))
    log_ratio = (p1.log_prob(z) - p2.log_prob(z)).numpy()
    se = log_ratio.std(ddof=1) / math.sqrt(len(log_ratio))
    assert abs(log_ratio.mean() - float(gaussian_kl(mu1, cov1, mu2, cov2))) < 5 * se


def test_zero_for_equal_distributions_and_asymmetric_otherwise():
    rng = np.random.default_rng(6)
    mu, cov = rng.standard_normal(4), random_spd(rng, 4)
    assert abs(float(gaussian_kl(mu, cov, mu, cov))) < 1e-12
    cov2 = random_spd(rng, 4)
    assert abs(float(gaussian_kl(mu, cov, mu, cov2)) - float(gaussian_kl(mu, cov2, mu, cov))) > 1e-3


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    k=st.integers(1, 5),
    scale=st.floats(0.05, 20.0),
    shift=st.floats(-5.0, 5.0),
)
def test_non_negative(seed, k, scale, shift):
    rng = np.random.default_rng(seed)
    cov1, cov2 = scale * random_spd(rng, k), random_spd(rng, k)
    kl = float(gaussian_kl(rng.standard_normal(k), cov1, shift + rng.standard_normal(k), cov2))
    assert kl >= -1e-9


def test_broadcasting_a_batch_against_one_distribution():
    rng = np.random.default_rng(7)
    mu1, cov1 = rng.standard_normal((5, 3)), random_spd(rng, 3, (5,))
    kl = gaussian_kl(mu1, cov1, np.zeros(3), np.eye(3))
    one_by_one = [float(gaussian_kl(m, c, np.zeros(3), np.eye(3))) for m, c in zip(mu1, cov1)]
    np.testing.assert_allclose(kl, one_by_one, rtol=1e-13)


def test_torch_in_torch_out_and_differentiable():
    rng = np.random.default_rng(8)
    mu1 = torch.tensor(rng.standard_normal(2), requires_grad=True)
    A = torch.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    mu2, cov2 = torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64) * 2

    def f(m, a):
        return gaussian_kl(m, a @ a.T + 0.3 * torch.eye(2, dtype=torch.float64), mu2, cov2)

    out = f(mu1, A)
    assert isinstance(out, torch.Tensor)
    assert torch.autograd.gradcheck(f, (mu1, A))
    # Gradient in the mean: S2^-1 (mu1 - mu2)
    out.backward()
    np.testing.assert_allclose(mu1.grad.numpy(), mu1.detach().numpy() / 2.0, rtol=1e-12)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "args, name",
    [
        (([0.0, 0.0], np.eye(2), [0.0], np.eye(2)), "mu2"),
        (([0.0, 0.0], np.eye(3), [0.0, 0.0], np.eye(2)), "cov1"),
        (([0.0, 0.0], np.eye(2), [0.0, 0.0], np.ones((2, 2))), "cov2"),  # singular
        (([0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]], [0.0, 0.0], np.eye(2)), "cov1"),  # not symmetric
        (([np.nan, 0.0], np.eye(2), [0.0, 0.0], np.eye(2)), "mu1"),
        ((np.zeros((3, 2)), np.eye(2), np.zeros((4, 2)), np.eye(2)), "broadcast"),
    ],
)
def test_gaussian_kl_bad_input_names_the_argument(args, name):
    with pytest.raises(ValueError, match=name):
        gaussian_kl(*args)


# =========================================================================== grid divergences
X = np.linspace(-10.0, 10.0, 4001)
DX = float(X[1] - X[0])
LOG2 = math.log(2.0)


def normal(mu, sigma):
    return stats.norm.pdf(X, mu, sigma)


def box(a, b):
    return np.where((X >= a) & (X < b), 1.0, 0.0) / (b - a)


# --------------------------------------------------------------------------- KL
def test_kl_of_two_gaussians_matches_the_closed_form():
    mu1, s1, mu2, s2 = -0.5, 0.8, 1.0, 1.3
    closed = math.log(s2 / s1) + (s1**2 + (mu1 - mu2) ** 2) / (2 * s2**2) - 0.5
    assert kl_divergence(normal(mu1, s1), normal(mu2, s2), DX) == pytest.approx(closed, abs=1e-9)


def test_kl_matches_scipy_entropy_on_discrete_distributions():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(30)), rng.dirichlet(np.ones(30))
    # A pmf is a density on a grid with dx = 1.
    assert kl_divergence(p, q, 1.0) == pytest.approx(stats.entropy(p, q), rel=1e-12)


def test_kl_is_zero_for_equal_densities_and_uses_the_0_log_0_convention():
    p = box(-1, 1)  # zero on most of the grid
    assert kl_divergence(p, p, DX) == pytest.approx(0.0, abs=1e-12)
    # p = 0 where q > 0 contributes nothing: KL(box || wider box) = log(width ratio).
    assert kl_divergence(box(-1, 1), box(-2, 2), DX) == pytest.approx(math.log(2.0), abs=1e-9)


def test_kl_is_infinite_where_p_has_mass_and_q_has_none():
    assert kl_divergence(box(-2, 2), box(-1, 1), DX) == math.inf
    assert kl_divergence(normal(0, 1), box(-1, 1), DX) == math.inf


def test_kl_is_asymmetric():
    p, q = normal(0, 1), 0.5 * normal(-2, 0.5) + 0.5 * normal(2, 0.5)
    assert abs(kl_divergence(p, q, DX) - kl_divergence(q, p, DX)) > 0.1


densities = arrays(np.float64, 20, elements=st.floats(0.0, 10.0, allow_subnormal=False))


@settings(max_examples=60, deadline=None)
@given(densities, densities)
def test_kl_is_non_negative_for_normalised_densities(p, q):
    if p.sum() == 0 or q.sum() == 0:
        return
    dx = 0.1
    p, q = p / (p.sum() * dx), q / (q.sum() * dx)
    assert kl_divergence(p, q, dx) >= -1e-12


# --------------------------------------------------------------------------- JS
def test_js_matches_scipy_jensenshannon():
    p, q = normal(-1, 1), normal(1.5, 0.6)
    # scipy returns the JS *distance* sqrt(JS) of the normalised vectors (natural log).
    assert js_divergence(p, q, DX) == pytest.approx(jensenshannon(p, q) ** 2, abs=1e-9)


def test_js_is_log_2_for_disjoint_supports_whatever_the_gap():
    for shift in (2.0, 3.0, 5.5):
        assert js_divergence(box(-2, 0), box(shift - 1, shift), DX) == pytest.approx(
            LOG2, abs=1e-12
        )


def test_js_is_zero_for_equal_densities():
    p = 0.3 * normal(-2, 0.5) + 0.7 * normal(1, 1)
    assert js_divergence(p, p, DX) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(densities, densities)
def test_js_is_symmetric_and_between_0_and_log_2(p, q):
    if p.sum() == 0 or q.sum() == 0:
        return
    dx = 0.25
    p, q = p / (p.sum() * dx), q / (q.sum() * dx)
    js = js_divergence(p, q, dx)
    assert -1e-12 <= js <= LOG2 + 1e-12
    assert js == pytest.approx(js_divergence(q, p, dx), abs=1e-12)


@pytest.mark.parametrize("t", [0.5, 1.0, 1.5, 1.875])
def test_js_of_two_overlapping_boxes_matches_the_closed_form(t):
    """p = U[0, 2], q = U[t, t + 2]: m = 1/4 where only one has mass, 1/2 on the overlap, so
    KL(p || m) = KL(q || m) = (t / 2) log 2 and JS = (t / 2) log 2 (0 <= t <= 2).
    A grid of step 1/8 holds the box edges exactly (binary fractions)."""
    x = np.arange(-16, 48) / 8.0
    dx = 1 / 8

    def u(a):
        return np.where((x >= a) & (x < a + 2), 0.5, 0.0)

    assert js_divergence(u(0.0), u(t), dx) == pytest.approx(t / 2 * LOG2, rel=1e-13)
    # The second reference: SciPy's JS distance of the two pmfs u * dx (natural log).
    assert js_divergence(u(0.0), u(t), dx) == pytest.approx(
        jensenshannon(u(0.0) * dx, u(t) * dx) ** 2, rel=1e-12
    )
    # KL(p || m) alone, with m = 1/4 on [0, t) and [2, t + 2), 1/2 on [t, 2), written out.
    m = np.where((x >= 0) & (x < t + 2), 0.25, 0.0) + np.where((x >= t) & (x < 2), 0.25, 0.0)
    assert kl_divergence(u(0.0), m, dx) == pytest.approx(t / 2 * LOG2, rel=1e-13)


def test_js_of_two_gaussians_matches_quadrature_of_the_definition():
    """JS(N(0, 1) || N(1, 0.5^2)) by adaptive quadrature of the defining integrand
    1/2 p log(2p / (p + q)) + 1/2 q log(2q / (p + q)), densities written out by hand. On the
    grid the Riemann sum of a smooth, fast-decaying integrand is accurate far below 1e-9."""

    def gauss(t, mu, s):
        return math.exp(-0.5 * ((t - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi))

    def integrand(t):
        p, q = gauss(t, 0.0, 1.0), gauss(t, 1.0, 0.5)
        m = 0.5 * (p + q)
        return 0.5 * (p * math.log(p / m) if p > 0 else 0.0) + 0.5 * (
            q * math.log(q / m) if q > 0 else 0.0
        )

    reference, _ = integrate.quad(integrand, -10, 10, epsabs=1e-13, epsrel=1e-12, limit=200)
    assert 0.05 < reference < LOG2
    assert js_divergence(normal(0, 1), normal(1, 0.5), DX) == pytest.approx(reference, abs=1e-9)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("fn", [kl_divergence, js_divergence])
@pytest.mark.parametrize(
    "p, q, dx, name",
    [
        ([0.5, -0.1], [0.5, 0.5], 1.0, "p"),
        ([0.5, 0.5], [0.5, np.nan], 1.0, "q"),
        ([0.5, 0.5], [0.3, 0.3, 0.4], 1.0, "q"),
        ([0.5, 0.5], [0.5, 0.5], 0.0, "dx"),
        ([0.5, 0.5], [0.5, 0.5], -1.0, "dx"),
        ([0.5, 0.5], [0.5, 0.5], "a", "dx"),
        ([], [], 1.0, "p"),
        ([0.5, np.inf], [0.5, 0.5], 1.0, "p"),
    ],
)
def test_grid_bad_input_names_the_argument(fn, p, q, dx, name):
    with pytest.raises(ValueError, match=name):
        fn(p, q, dx)


def test_grid_divergences_read_tensors_that_require_grad_and_lists():
    p = torch.tensor([0.25, 0.75], requires_grad=True)
    q = [0.5, 0.5]
    expected = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    assert kl_divergence(p, q, 1.0) == pytest.approx(expected, rel=1e-7)  # float32 entries
    assert js_divergence(np.float32([0.25, 0.75]), q, 1) == pytest.approx(
        jensenshannon([0.25, 0.75], q) ** 2, rel=1e-6
    )


@pytest.mark.parametrize("bad", ["1.0", True, 1 + 1j, np.inf, None])
def test_grid_dx_must_be_a_positive_real_number(bad):
    with pytest.raises(ValueError, match=r"^dx "):
        kl_divergence([0.5, 0.5], [0.5, 0.5], bad)
