"""Tests of unsupervised.experiments.vae (chapter 04's experiments and figures), each against
an independent reference or a known value."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from scipy import optimize, stats

from unsupervised.datasets import GaussianMixture
from unsupervised.experiments import vae as experiment
from unsupervised.vae import VAE, InferenceNetwork, LinearGaussian

F64 = torch.float64


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def lg():
    rng = np.random.default_rng(0)
    return LinearGaussian(W=rng.standard_normal((4, 2)), b=rng.standard_normal(4), sigma2=0.5)


@pytest.fixture
def vae():
    return VAE(6, n_latent=2, n_hidden=5, seed=0, dtype=F64)


def _binary(n, d, seed=0):
    return torch.tensor((np.random.default_rng(seed).uniform(size=(n, d)) > 0.5).astype(float))


def test_module_lists_its_public_functions():
    assert all(callable(getattr(experiment, name)) for name in experiment.__all__)


def test_random_spd_is_symmetric_positive_definite_and_reproducible():
    A = experiment.random_spd(np.random.default_rng(3), 4, scale=2.0)
    B = experiment.random_spd(np.random.default_rng(3), 4, scale=2.0)
    np.testing.assert_array_equal(A, B)
    np.testing.assert_allclose(A, A.T)
    assert np.linalg.eigvalsh(A).min() >= 2.0 * 0.3 - 1e-12  # A A^T / k >= 0, plus 0.3 I


def test_curve_square_counts_match_a_direct_count():
    out = experiment.curve_square_counts(20_000, 1, np.array([0.5]))
    z = np.random.default_rng(1).standard_normal(20_000)
    inside = np.sum((np.abs(z - 1) < 0.25) & (np.abs(z**2 - 1) < 0.25))
    assert out["inside"][0] == inside
    p = stats.norm.cdf(math.sqrt(1.25)) - stats.norm.cdf(math.sqrt(0.75))
    assert out["expected"][0] == pytest.approx(20_000 * p)
    assert out["density"][0] == pytest.approx(inside / (20_000 * 0.25))


def test_kl_by_quadrature_matches_the_closed_form_for_single_gaussians():
    p = GaussianMixture([1.0], [0.3], [0.8**2])
    q = GaussianMixture([1.0], [-0.5], [1.5**2])
    exact = math.log(1.5 / 0.8) + (0.8**2 + 0.8**2) / (2 * 1.5**2) - 0.5
    assert experiment.kl_by_quadrature(p, q) == pytest.approx(exact, abs=1e-10)
    assert experiment.kl_by_quadrature(p, p) == pytest.approx(0.0, abs=1e-12)


def test_joint_moments_two_ways_agree_with_the_joint_law(lg):
    out = experiment.joint_moments_two_ways(lg, 100_000, seed=3)
    C = torch.cat(
        [
            torch.cat([torch.eye(2, dtype=F64), lg.W.T], 1),
            torch.cat([lg.W, lg.W @ lg.W.T + 0.5 * torch.eye(4, dtype=F64)], 1),
        ]
    )
    torch.testing.assert_close(out["cov"], C)
    for name in ("z then x", "x then z"):
        mean, cov = out[name]
        assert (mean - out["mean"]).abs().max() < 0.05 and (cov - C).abs().max() < 0.1


def test_sample_moments_of_reparameterised_draws():
    mu, sigma = torch.tensor([[1.0, -2.0]], dtype=F64), torch.tensor([[0.5, 2.0]], dtype=F64)
    out = experiment.sample_moments(mu, sigma, 50_000, 0)
    torch.testing.assert_close(out["mean"], mu, atol=0.05, rtol=0)
    torch.testing.assert_close(out["var"], sigma**2, atol=0.1, rtol=0.05)
    assert abs(out["corr"].item()) < 0.03


def test_sigma_lower_bound_holds_and_is_attained_at_saturation():
    enc = InferenceNetwork(3, 2, 4, seed=1, dtype=F64)
    x = torch.tensor(np.random.default_rng(0).standard_normal((5, 3)))
    floor, smallest = experiment.sigma_lower_bound(enc, x)
    # independent reference: the smallest pre-activation over the 2^4 corners of h in [0, 1]^4
    W3, b3 = enc.std.weight.detach().numpy(), enc.std.bias.detach().numpy()
    corners = np.array(np.meshgrid(*[[0.0, 1.0]] * 4)).reshape(4, -1)
    np.testing.assert_allclose(floor, np.log1p(np.exp((W3 @ corners).min(1) + b3)), rtol=1e-12)
    with pytest.raises(ValueError, match="sigmoid"):
        experiment.sigma_lower_bound(InferenceNetwork(3, 2, 4, activation="tanh", seed=1), x)
    assert torch.all(smallest >= floor * (1 - 1e-12)) and torch.all(enc(x)[1] >= smallest)


def test_kl_relative_error_is_rounding_and_reproducible():
    a = experiment.kl_relative_error(np.random.default_rng(5), [1, 3], n_pairs=4)
    assert 0 <= a < 1e-10
    assert a == experiment.kl_relative_error(np.random.default_rng(5), [1, 3], n_pairs=4)


def test_kl_monte_carlo_estimates_the_gaussian_kl():
    mu1, mu2 = torch.tensor([0.0, 1.0], dtype=F64), torch.tensor([1.0, 0.0], dtype=F64)
    c1, c2 = torch.eye(2, dtype=F64), 2 * torch.eye(2, dtype=F64)
    d = experiment.kl_monte_carlo(mu1, c1, mu2, c2, 200_000, 0)
    exact = 0.5 * (1.0 + 1.0 - 2 + 2 * math.log(2))  # tr = 1, quad = 2/2, log det ratio = log 4
    assert abs(d.mean().item() - exact) < 5 * d.std().item() / math.sqrt(len(d))


def test_single_draw_reference_and_two_forms_against_bernoulli_by_numpy(vae):
    x = _binary(1, 6)
    draws, kl = experiment.single_draw_reference(vae, x, 4, 2)
    mu, sigma = (t.detach() for t in vae.encoder(x))
    assert kl == pytest.approx(0.5 * (sigma**2 + mu**2 - 1 - torch.log(sigma**2)).sum().item())
    z = mu + sigma * torch.randn((4, 2), generator=torch.Generator().manual_seed(2), dtype=F64)
    p = vae.decoder(z).detach()
    torch.testing.assert_close(draws, (x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(-1))
    forms = experiment.vae_two_forms(vae, x, 3, 0)
    assert forms["log_w"].shape == (3, 1) and forms["split"].shape == (3, 1)
    torch.testing.assert_close(
        forms["log_w"],
        vae.log_importance_weights(x, 3, generator=torch.Generator().manual_seed(0)).detach(),
    )


def test_iw_by_hand_is_the_library_bound(vae):
    x = _binary(3, 6)
    hand = experiment.iw_by_hand(vae, x, 4, 7)
    lib = vae.log_likelihood_iw(x, 4, generator=torch.Generator().manual_seed(7), chunk_size=4)
    torch.testing.assert_close(hand, lib)
    lw = vae.log_importance_weights(x, 4, generator=torch.Generator().manual_seed(7)).detach()
    torch.testing.assert_close(hand, torch.logsumexp(lw, 0) - math.log(4))


def test_train_digit_vaes_raises_the_elbo():
    X = _binary(200, 6)
    out = experiment.train_digit_vaes(X, X[:50], epochs=15, latent=[2])
    model, history = out[2]
    assert model.n_latent == 2 and len(history["val_elbo"]) == 15
    assert history["val_elbo"][-1] > history["val_elbo"][0]


def test_em_trace_and_ppca_ml(lg):
    X = lg.sample(400, generator=torch.Generator().manual_seed(1))
    log, final = experiment.em_trace(lg, X, 30)
    np.testing.assert_allclose(log[:, 0], log[:, 1], atol=1e-8)  # the E-step closes the gap
    assert np.all(np.diff(log[:, 0]) >= -1e-8)
    ml = experiment.ppca_ml(X.numpy(), 2)
    torch.testing.assert_close(
        ml.marginal_cov(), torch.tensor(np.cov(X.numpy().T, bias=True)), atol=0.2, rtol=0
    )
    assert ml.log_marginal(X).sum() >= final.log_marginal(X).sum() - 1e-8


def test_best_diagonal_q_is_the_kl_closest_diagonal_gaussian(lg):
    # the first E-step's q of variational_em against L-BFGS over diagonal Gaussians (VA8)
    X = lg.sample(3, generator=torch.Generator().manual_seed(4))
    m0, S0 = experiment.variational_em(lg, X, steps=1, exact_steps=0)["q0"]
    for n in range(3):
        m, S, _ = experiment.fit_gaussian_q(
            lambda m, S, n=n: -lg.elbo(X[n : n + 1], m[None], S).sum(), True
        )
        torch.testing.assert_close(m0[n], m, rtol=0, atol=1e-7)
        torch.testing.assert_close(S0, S, rtol=0, atol=1e-7)


def test_variational_em_keeps_the_elbo_rising(lg):
    X = lg.sample(200, generator=torch.Generator().manual_seed(2))
    out = experiment.variational_em(lg, X, steps=5, exact_steps=3)
    assert len(out["lp_exact"]) == 4 and len(out["lp_vem"]) == 6 and len(out["elbo_vem"]) == 10
    assert np.all(np.diff(out["elbo_vem"]) >= -1e-8) and out["grad_max"] < 1e-8
    assert np.all(out["lp_vem"][1:] >= out["elbo_vem"][1::2] - 1e-8)  # ELBO <= log p


def test_quad_and_grid_posteriors_match_the_closed_form(lg):
    lg1 = LinearGaussian(W=[[1.5], [-0.7]], b=[0.2, 0.1], sigma2=0.4)
    x1 = torch.tensor([[1.0, -0.3]], dtype=F64)
    q = experiment.quad_posterior_1d(lg1, x1)
    post = lg1.posterior(x1)
    assert math.log(q["evidence"]) == pytest.approx(lg1.log_marginal(x1).item(), rel=1e-9)
    assert q["mean"] == pytest.approx(post.mean.item(), rel=1e-9)
    x = lg.sample(1, generator=torch.Generator().manual_seed(0))
    g = experiment.grid_posterior(lg, x, 201)
    assert g["log_evidence"] == pytest.approx(lg.log_marginal(x).item(), rel=1e-9)
    np.testing.assert_allclose(
        g["cov"], lg.posterior(x).covariance_matrix[0].numpy(), rtol=1e-6, atol=1e-9
    )


def test_latent_size_is_checked(lg):
    lg1 = LinearGaussian(W=[[1.5], [-0.7]], b=[0.2, 0.1], sigma2=0.4)
    with pytest.raises(ValueError, match="k = 1"):
        experiment.quad_posterior_1d(lg, torch.zeros((1, 4), dtype=F64))
    with pytest.raises(ValueError, match="k = 2"):
        experiment.grid_posterior(lg1, torch.zeros((1, 2), dtype=F64), 11)
    with pytest.raises(ValueError, match="5 entries"):
        experiment.q_params(torch.zeros(4, dtype=F64), False)
    for k in (1, 3):
        with pytest.raises(ValueError):
            experiment.sample_moments(torch.zeros((1, k)), torch.ones((1, k)), 5, 0)


def test_q_params_and_fit_gaussian_q():
    m, S = experiment.q_params(torch.tensor([1.0, 2.0, 0.0, math.log(2.0), 0.5], dtype=F64), False)
    L = torch.tensor([[1.0, 0.0], [0.5, 2.0]], dtype=F64)
    torch.testing.assert_close(S, L @ L.T)
    target = torch.tensor([[2.0, 0.3], [0.3, 1.0]], dtype=F64)
    mean, cov, value = experiment.fit_gaussian_q(
        lambda m, S: ((m - 1) ** 2).sum() + ((S - target) ** 2).sum(), False
    )
    torch.testing.assert_close(cov, target, atol=1e-6, rtol=0)
    assert value < 1e-10


def test_m_step_evidence_chain(lg):
    X = lg.sample(100, generator=torch.Generator().manual_seed(3))
    old = LinearGaussian(W=lg.W + 0.5, b=lg.b, sigma2=1.0)
    out = experiment.m_step_evidence(old, X, n_perturb=5)
    assert out["grad_max"] < 1e-8 and out["worse"] == 5
    c = out["chain"]
    assert c[0] >= c[1] >= c[2] - 1e-9 and c[2] == pytest.approx(c[3], abs=1e-8)


def test_elbo_sigma_points_is_the_closed_form(lg):
    x = lg.sample(2, generator=torch.Generator().manual_seed(4))
    m = torch.tensor([[0.1, -0.2], [0.5, 0.3]], dtype=F64)
    S = torch.tensor([[[1.0, 0.2], [0.2, 0.5]], [[0.3, 0.0], [0.0, 0.7]]], dtype=F64)
    out = experiment.elbo_sigma_points(lg, x, m, S)
    torch.testing.assert_close(out["elbo"], lg.elbo(x, m, S))
    torch.testing.assert_close(out["reconstruction"], lg.reconstruction(x, m, S))


def test_variance_of_two_forms_at_the_posterior(lg):
    x = lg.sample(1, generator=torch.Generator().manual_seed(5))
    post = lg.posterior(x)
    sd3, sd12, crit = experiment.variance_of_two_forms(
        lg, x[0], post.mean[0], post.covariance_matrix[0], 1000, 0
    )
    assert sd3 < 1e-10 and sd12 > 0.01 and crit < 0
    # crit = var B - 2 cov(A, B) on the same draws, densities by SciPy
    m, S = np.array([0.3, -0.2]), np.array([[0.5, 0.1], [0.1, 0.3]])
    sd3, sd12, crit = experiment.variance_of_two_forms(lg, x[0], m, S, 2000, 3)
    L = np.linalg.cholesky(S)
    z = (
        m
        + torch.randn((2000, 2), generator=torch.Generator().manual_seed(3), dtype=F64).numpy()
        @ L.T
    )
    W, b, s2 = lg.W.numpy(), lg.b.numpy(), lg.sigma2.item()
    A = stats.norm(z @ W.T + b, math.sqrt(s2)).logpdf(x[0].numpy()).sum(-1)
    B = stats.multivariate_normal(m, S).logpdf(z) - stats.norm.logpdf(z).sum(-1)
    C = np.cov(A, B)
    assert abs(crit - (C[1, 1] - 2 * C[0, 1])) < 1e-9 * (1 + abs(crit))
    assert abs(sd3 - np.std(A - B, ddof=1)) < 1e-9 and abs(sd12 - np.std(A, ddof=1)) < 1e-9


def test_mc_error_curve_follows_s_over_sqrt_m(lg):
    x = lg.sample(1, generator=torch.Generator().manual_seed(6))
    mu, sigma = torch.zeros(1, 2, dtype=F64), torch.ones(1, 2, dtype=F64)
    exact = lg.reconstruction(x, mu, torch.eye(2, dtype=F64)[None]).item()
    mse, se = experiment.mc_error_curve(lg, x, mu, sigma, np.array([1, 16]), 4000, exact, 0)
    assert mse[0] / mse[1] == pytest.approx(16, rel=0.2)


def test_gradient_estimators_are_unbiased(lg):
    x = lg.sample(1, generator=torch.Generator().manual_seed(7))
    g = experiment.gradient_estimators(
        lg, x, torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64), 20_000, 1
    )
    torch.testing.assert_close(g["score function"], g["hand"])
    for name in ("reparameterisation", "score fn. + baseline"):
        se = g[name].std(0) / math.sqrt(20_000)
        assert torch.all((g[name].mean(0) - g["exact"]).abs() < 5 * se), name


def test_sign_experiment_returns_three_runs():
    X = torch.rand(150, 8, generator=torch.Generator().manual_seed(0))
    runs = experiment.sign_experiment(X, steps=20, n_eval=20)
    assert set(runs) == {"printed", "sign only", "corrected"}
    assert runs["printed"].shape == (2, 3) and np.all(runs["corrected"][:, 1] >= 0)
    assert runs["printed"][-1, 1] > runs["corrected"][-1, 1]
    for r in runs.values():
        np.testing.assert_array_equal(r[:, 0], [10, 20])
    # the KL grows under the two wrong-signed objectives and stays below them under eq. VA19
    assert runs["printed"][1, 1] > runs["printed"][0, 1]
    assert runs["sign only"][1, 1] > runs["sign only"][0, 1]
    assert runs["sign only"][-1, 1] > runs["corrected"][-1, 1]


def test_iw_linear_gaussian_and_blocks(lg):
    x = lg.sample(1, generator=torch.Generator().manual_seed(8))
    out = experiment.iw_linear_gaussian(lg, x, K_max=64, blocks=200, n_post=20_000, seed=1)
    assert out["min_eig"] > 0 and (out["log_w"] - out["log_px"]).max() <= out["log_w_sup"] + 1e-9
    L = experiment.iw_blocks(out["log_w"], [1, 64])
    torch.testing.assert_close(L[1], out["log_w"])
    gap1 = out["log_px"] - L[1].mean().item()
    assert abs(gap1 - out["kl"]) < 5 * L[1].std().item() / math.sqrt(len(L[1]))
    assert out["log_px"] - L[64].mean().item() < gap1
    # chi2 = int p^2 / q - 1 and c3 = int p^3 / q^2 - 3 int p^2 / q + 2 on a 2-D grid
    post = lg.posterior(x)
    m_p, S_p = post.mean[0].numpy(), post.covariance_matrix[0].numpy()
    q = out["q"]
    half = 12 * np.sqrt(np.linalg.eigvalsh(S_p).max())
    axes = [np.linspace(m_p[j] - half, m_p[j] + half, 801) for j in range(2)]
    Z = np.stack(np.meshgrid(*axes, indexing="ij"), -1)
    log_p = stats.multivariate_normal(m_p, S_p).logpdf(Z)
    log_q = stats.multivariate_normal(q.mean.numpy(), q.covariance_matrix.numpy()).logpdf(Z)

    def integral(v):
        return np.trapezoid(np.trapezoid(v, axes[1], axis=1), axes[0])

    e1, e2 = integral(np.exp(2 * log_p - log_q)), integral(np.exp(3 * log_p - 2 * log_q))
    assert abs(out["chi2"] - (e1 - 1)) < 5 * out["chi2_se"]
    assert abs(out["c3"] - (e2 - 3 * e1 + 2)) < 0.1 * abs(e2 - 3 * e1 + 2)
    assert abs(out["c3_direct"] - out["c3"]) < 5 * out["c3_se"]
    # log sup w / p(x) by a numerical maximiser (Nelder-Mead from the posterior mean)
    lq = stats.multivariate_normal(q.mean.numpy(), q.covariance_matrix.numpy()).logpdf
    res = optimize.minimize(
        lambda z: lq(z) - stats.multivariate_normal(m_p, S_p).logpdf(z),
        m_p,
        method="Nelder-Mead",
        options=dict(xatol=1e-10, fatol=1e-13, maxiter=4000),
    )
    assert abs(out["log_w_sup"] - (-res.fun)) < 1e-8
    blocks = experiment.iw_blocks(torch.log(torch.tensor([[1.0], [3.0]])), [2])
    torch.testing.assert_close(blocks[2], torch.log(torch.tensor([[2.0]])))


def test_latent_layout_on_separated_clusters():
    centres = np.arange(10)[:, None] * np.array([[3.0, 0.0]])
    labels = np.repeat(np.arange(10), 5)
    codes = centres[labels] + 0.01 * np.random.default_rng(0).standard_normal((50, 2))
    out = experiment.latent_layout(codes, labels)
    assert out["accuracy"] == 1.0
    np.testing.assert_allclose(out["dist"], np.abs(np.arange(10) * 3.0 - 13.5), atol=0.1)


def test_figures_are_drawn(lg, vae):
    mix = GaussianMixture([0.5, 0.5], [-1.0, 1.0], [0.5, 1.0])
    figs = [experiment.plot_two_step(mix.sample(100, seed=0)[:, 0], mix)]
    X2, y2 = GaussianMixture([0.3, 0.3, 0.4], [[-1, 0], [1, 1], [0.5, -1]], [np.eye(2)] * 3).sample(
        60, seed=0, return_labels=True
    )
    figs.append(experiment.plot_generative_classifier(GaussianMixture.fit_by_class(X2, y2), X2, y2))
    x = lg.sample(1, generator=torch.Generator().manual_seed(0))
    post = lg.posterior(x)
    figs.append(
        experiment.plot_elbo_kl_shift(
            lg,
            x,
            post.mean,
            post.covariance_matrix,
            np.linspace(-1, 1, 5),
            torch.tensor([1.0, 0.0], dtype=F64),
        )
    )
    figs.append(
        experiment.plot_em(
            np.array([[-3.0, -3, -2.5], [-2.4, -2.4, -2.2], [-2.1, -2.1, -2]]), -0.1, 10, 1
        )
    )
    figs.append(experiment.plot_posteriors(lg, x, 21))
    figs.append(experiment.plot_mc_error(np.array([1, 2]), np.array([1.0, 0.5]), 1.0, 4, -0.5))
    g = experiment.gradient_estimators(
        lg, x, torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64), 50, 0
    )
    figs.append(experiment.plot_gradient_estimators(g))
    figs.append(
        experiment.plot_sign_experiment({"corrected": np.array([[10, 1.0, -3.0], [20, 0.5, -2.0]])})
    )
    h = {"epoch": [1, 2], "elbo": [-3.0, -2.0], "val_elbo": [-3.0, -2.5], "kl": [0.1, 0.2]}
    figs.append(experiment.plot_training_curves(h, h))
    v64, D = VAE(64, n_latent=2, n_hidden=3, seed=0), torch.rand(20, 64)
    y = np.array([0, 6, 1, 7, 3, 8, 2, 4, 5, 9] * 2)
    figs.append(experiment.plot_reconstructions(v64, D))
    figs.append(experiment.plot_latent(v64, D, y, D[:10], y[:10]))
    figs.append(experiment.plot_interpolation(v64, D, y))
    figs.append(
        experiment.plot_iw_gap(np.array([1, 4]), np.array([0.1, 0.03]), np.array([0.01, 0.01]), 0.2)
    )
    figs.append(experiment.plot_iw_bound(np.array([1, 10]), np.array([-20.0, -19.5]), -21.0))
    for fig in figs:
        assert isinstance(fig, matplotlib.figure.Figure) and fig.axes
    assert len(figs[0].axes[0].lines) == 3  # the mixture's density and its two components


def test_q_family_holds_four_gaussians_per_point(lg):
    post = lg.posterior(lg.sample(3, generator=torch.Generator().manual_seed(9)))
    family = experiment.q_family(post, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    means = rng.standard_normal((3, 2))
    torch.testing.assert_close(family["random Gaussian"][0], torch.tensor(means))
    torch.testing.assert_close(family["posterior, 4x cov"][1], 4 * post.covariance_matrix)
    for m, S in family.values():
        assert m.shape == (3, 2) and S.shape == (3, 2, 2)
        assert torch.linalg.eigvalsh(S).min() > 0
