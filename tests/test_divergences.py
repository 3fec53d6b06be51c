"""Tests of unsupervised.divergences (formula VA16)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import MultivariateNormal, kl_divergence

from unsupervised.divergences import gaussian_kl


def random_spd(rng, k, batch=()):
    A = rng.standard_normal((*batch, k, k))
    return A @ np.swapaxes(A, -1, -2) + 0.5 * np.eye(k)


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
    ref = kl_divergence(
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
def test_bad_input_raises_value_error_naming_the_argument(args, name):
    with pytest.raises(ValueError, match=name):
        gaussian_kl(*args)
