"""Tests of the grid divergences kl_divergence and js_divergence (GAN chapter, GA6-GA10).

References: SciPy's entropy (KL of discrete distributions) and jensenshannon, closed-form
Gaussian KL, and the defining properties (non-negativity, symmetry, bounds)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from scipy.spatial.distance import jensenshannon

from unsupervised.divergences import js_divergence, kl_divergence

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
    assert kl_divergence(u(0.0), 0.5 * (u(0.0) + u(t)), dx) == pytest.approx(
        t / 2 * LOG2, rel=1e-13
    )


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
def test_bad_input_raises_value_error_naming_the_argument(fn, p, q, dx, name):
    with pytest.raises(ValueError, match=name):
        fn(p, q, dx)
