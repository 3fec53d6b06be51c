"""Tests of unsupervised.vae (formulas VA1-VA19) and of the chapter's exercise checkers."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from torch.distributions import Bernoulli, Normal, kl_divergence

from helpers import assert_no_numbers, random_spd, run, stub, torch_generator
from unsupervised.divergences import gaussian_kl
from unsupervised.exercises import _common
from unsupervised.exercises import vae as ex
from unsupervised.training import fit
from unsupervised.vae import (
    VAE,
    GenerativeNetwork,
    InferenceNetwork,
    LinearGaussian,
    elbo_loss,
    heldout_elbo,
    kl_standard_normal,
    reparameterize,
)

F64 = torch.float64


def random_linear_gaussian(rng, d, k):
    return LinearGaussian(
        rng.standard_normal((d, k)), rng.standard_normal(d), float(np.exp(rng.normal(scale=0.5)))
    )


# --------------------------------------------------------------------------- linear Gaussian
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 6), k=st.integers(1, 4))
def test_va2_identity_holds_exactly_for_random_parameters_and_random_q(seed, d, k):
    # VA2: log p(x) = ELBO(q) + KL(q || p(z | x)) for ANY q, here random Gaussians.
    rng = np.random.default_rng(seed)
    model = random_linear_gaussian(rng, d, k)
    x = torch.tensor(rng.standard_normal((5, d)) * 2)
    q_mean, q_cov = rng.standard_normal((5, k)), random_spd(rng, k, (5,), ridge=0.1)
    post = model.posterior(x)
    kl = gaussian_kl(torch.tensor(q_mean), torch.tensor(q_cov), post.mean, post.covariance_matrix)
    lhs = model.log_marginal(x)
    rhs = model.elbo(x, q_mean, q_cov) + kl
    torch.testing.assert_close(lhs, rhs, rtol=1e-10, atol=1e-10)
    assert torch.all(model.elbo(x, q_mean, q_cov) <= lhs + 1e-10)  # the ELBO is a lower bound


def test_log_marginal_and_posterior_match_independent_formulas():
    rng = np.random.default_rng(1)
    d, k = 5, 2
    model = random_linear_gaussian(rng, d, k)
    W, b, s2 = model.W.numpy(), model.b.numpy(), float(model.sigma2)
    X = rng.standard_normal((4, d))
    C = W @ W.T + s2 * np.eye(d)
    np.testing.assert_allclose(
        model.log_marginal(X).numpy(), stats.multivariate_normal(b, C).logpdf(X), rtol=1e-12
    )
    # Conditioning the joint Gaussian of (z, x): E[z | x] = W^T C^-1 (x - b), cov = I - W^T C^-1 W.
    post = model.posterior(X)
    np.testing.assert_allclose(
        post.mean.numpy(), (W.T @ np.linalg.solve(C, (X - b).T)).T, rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        post.covariance_matrix[0].numpy(),
        np.eye(k) - W.T @ np.linalg.solve(C, W),
        rtol=1e-10,
        atol=1e-12,
    )


def test_elbo_at_the_posterior_equals_log_marginal():
    rng = np.random.default_rng(2)
    model = random_linear_gaussian(rng, 4, 3)
    X = rng.standard_normal((6, 4))
    post = model.posterior(X)
    torch.testing.assert_close(
        model.elbo(X, post.mean, post.covariance_matrix),
        model.log_marginal(X),
        rtol=1e-12,
        atol=1e-12,
    )


def test_posterior_by_numerical_integration_in_one_dimension():
    # VA4: p(z | x) = p(x | z) p(z) / int p(x | z) p(z) dz, with the integral done by quad.
    model = LinearGaussian([[1.5], [-0.7]], [0.2, 0.1], 0.4)
    x = np.array([[1.0, -0.3]])

    def joint(z):
        return math.exp(float(model.log_joint(x, np.array([[z]]))[0]))

    # quad is asked for a relative accuracy of 1e-12 (it reports ~1e-13).
    evidence, _ = integrate.quad(joint, -12, 12, epsabs=0, epsrel=1e-12, limit=200)
    assert math.isclose(math.log(evidence), float(model.log_marginal(x)[0]), rel_tol=1e-11)
    mean, _ = integrate.quad(
        lambda z: z * joint(z) / evidence, -12, 12, epsabs=0, epsrel=1e-12, limit=200
    )
    assert math.isclose(mean, float(model.posterior(x).mean[0, 0]), rel_tol=1e-10)


def test_elbo_matches_monte_carlo():
    # VA3: ELBO = E_q[log p(x, z) - log q(z)], estimated with 100k draws.
    rng = np.random.default_rng(3)
    model = random_linear_gaussian(rng, 3, 2)
    x = torch.tensor(rng.standard_normal((1, 3)))
    m, S = rng.standard_normal(2), random_spd(rng, 2, ridge=0.1)
    q = torch.distributions.MultivariateNormal(torch.tensor(m), torch.tensor(S))
    z = torch.tensor(rng.multivariate_normal(m, S, size=100_000))
    w = (model.log_joint(x.expand(len(z), -1), z) - q.log_prob(z)).numpy()
    se = w.std(ddof=1) / math.sqrt(len(w))
    assert abs(w.mean() - float(model.elbo(x, m, S)[0])) < 5 * se


def test_em_step_raises_the_log_likelihood_and_is_a_stationary_point_of_the_elbo():
    rng = np.random.default_rng(4)
    true = random_linear_gaussian(rng, 5, 2)
    X = true.sample(300, generator=torch_generator(0))
    model = random_linear_gaussian(rng, 5, 2)
    values = [float(model.log_marginal(X).sum())]
    for _ in range(5):
        post = model.posterior(X)
        new = model.em_step(X)
        # M-step: the gradient of sum_n ELBO(q_n | theta) in theta vanishes at theta_new.
        W = new.W.clone().requires_grad_()
        b = new.b.clone().requires_grad_()
        s2 = new.sigma2.clone().requires_grad_()
        LinearGaussian(W, b, s2).elbo(X, post.mean, post.covariance_matrix).sum().backward()
        assert max(W.grad.abs().max(), b.grad.abs().max(), s2.grad.abs()) < 1e-8
        model = new
        values.append(float(model.log_marginal(X).sum()))
    assert np.all(np.diff(values) > 0), values


def test_em_step_with_a_given_q_is_the_m_step_of_variational_em():
    # With q_n given (here the best diagonal Gaussian, not the posterior), em_step must still
    # return the maximiser of sum_n ELBO(q_n | theta): the autograd gradient of the library's
    # closed-form ELBO (a different expression from em_step's normal equations) vanishes there,
    # and the ELBO does not go down. With q_n = the posterior it is the exact EM step.
    rng = np.random.default_rng(14)
    true = random_linear_gaussian(rng, 5, 2)
    X = true.sample(300, generator=torch_generator(3))
    model = random_linear_gaussian(rng, 5, 2)
    post = model.posterior(X)
    S_diag = torch.diag(1.0 / torch.linalg.inv(post.covariance_matrix[0]).diagonal())
    for m, S in (
        (post.mean, S_diag),
        (post.mean[0], S_diag.expand(300, -1, -1)),
        (post.mean, post.covariance_matrix),
    ):
        new = model.em_step(X, m, S)
        W = new.W.clone().requires_grad_()
        b = new.b.clone().requires_grad_()
        s2 = new.sigma2.clone().requires_grad_()
        LinearGaussian(W, b, s2).elbo(X, m, S).sum().backward()
        # Sums over 300 points of size ~1e3: float64 rounding ~1e-12.
        assert max(W.grad.abs().max(), b.grad.abs().max(), s2.grad.abs()) < 1e-8
        assert float(new.elbo(X, m, S).sum()) >= float(model.elbo(X, m, S).sum()) - 1e-9
    exact = model.em_step(X)
    for a, c in ((new.W, exact.W), (new.b, exact.b), (new.sigma2, exact.sigma2)):
        torch.testing.assert_close(a, c, rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match="q_cov"):
        model.em_step(X, post.mean)
    with pytest.raises(ValueError, match="q_mean"):
        model.em_step(X, np.zeros(3), S_diag)


def test_em_step_with_per_sample_q_covariances_is_the_m_step_by_hand():
    # q_n = N(m_n, S_n) with S_n different for every n (the (N, k, k) path of em_step). The
    # reference is the M-step written out in NumPy, one sample at a time: with z~_n = [z_n; 1],
    # E[z~_n z~_n^T] = m~_n m~_n^T + [[S_n, 0], [0, 0]],
    # W~ = (sum_n x_n m~_n^T)(sum_n E[z~ z~^T])^-1,
    # sigma2 = (1 / (N d)) sum_n (||x_n - W~ m~_n||^2 + tr(W S_n W^T)).
    rng = np.random.default_rng(21)
    N, d, k = 40, 4, 3
    model = random_linear_gaussian(rng, d, k)
    X = model.sample(N, generator=torch_generator(8))
    m = rng.standard_normal((N, k))
    S = random_spd(rng, k, (N,), ridge=0.1) * rng.uniform(0.2, 3.0, size=(N, 1, 1))
    new = model.em_step(X, m, S)
    Xn = X.numpy()
    A, B = np.zeros((k + 1, k + 1)), np.zeros((d, k + 1))
    for n in range(N):
        mt = np.append(m[n], 1.0)
        Ezz = np.outer(mt, mt)
        Ezz[:k, :k] += S[n]
        A += Ezz
        B += np.outer(Xn[n], mt)
    Wt = B @ np.linalg.inv(A)
    W_ref, b_ref = Wt[:, :k], Wt[:, k]
    s2_ref = sum(
        np.sum((Xn[n] - W_ref @ m[n] - b_ref) ** 2) + np.trace(W_ref @ S[n] @ W_ref.T)
        for n in range(N)
    ) / (N * d)
    # Sums of 40 terms of size ~10 in float64: rounding ~1e-13; the matrices are well conditioned.
    np.testing.assert_allclose(new.W.numpy(), W_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(new.b.numpy(), b_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(float(new.sigma2), s2_ref, rtol=1e-10)
    # The M-step reads the S_n only through their sum (so their mean for every n gives the
    # same result); using S_1 for every sample changes that sum, and sigma2 with it.
    same = model.em_step(X, m, np.broadcast_to(S[0], S.shape).copy())
    assert abs(float(same.sigma2) - s2_ref) > 1e-3
    # And the result is a stationary point of the library's ELBO with these q_n.
    Wg, bg, s2g = (t.clone().requires_grad_() for t in (new.W, new.b, new.sigma2))
    LinearGaussian(Wg, bg, s2g).elbo(X, m, S).sum().backward()
    assert max(Wg.grad.abs().max(), bg.grad.abs().max(), s2g.grad.abs()) < 1e-8


def test_variational_em_can_lower_the_log_likelihood_while_raising_the_elbo():
    # Start at a maximum-likelihood solution whose W^T W is not diagonal (a rotation of the
    # closed-form solution): exact EM stays there, but EM with the best diagonal q (variances
    # 1 / Lambda_jj) moves away and log p falls by nats, while its ELBO never decreases.
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.standard_normal((5, 2)))
    X = LinearGaussian(Q * [2.0, 1.2], rng.standard_normal(5), 0.2).sample(
        500, generator=torch_generator(40)
    )
    Xn = X.numpy()
    lam, U = np.linalg.eigh(np.cov(Xn.T, bias=True))
    lam, U = lam[::-1], U[:, ::-1]
    s2 = lam[2:].mean()
    th = np.pi / 5
    R = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    start = LinearGaussian(U[:, :2] * np.sqrt(lam[:2] - s2) @ R, Xn.mean(0), s2)
    lp0 = float(start.log_marginal(X).sum())
    exact, vem, lps, elbos = start, start, [], []
    for _ in range(10):
        exact = exact.em_step(X)
        post = vem.posterior(X)
        S = torch.diag(1.0 / torch.linalg.inv(post.covariance_matrix[0]).diagonal())
        elbos.append(float(vem.elbo(X, post.mean, S).sum()))
        vem = vem.em_step(X, post.mean, S)
        elbos.append(float(vem.elbo(X, post.mean, S).sum()))
        lps.append(float(vem.log_marginal(X).sum()))
    # log p sums ~3e3 in float64: rounding ~1e-12; the fall is several nats.
    assert abs(float(exact.log_marginal(X).sum()) - lp0) < 1e-8
    assert np.all(np.diff(elbos) >= -1e-8)
    # Some single step lowers log p by more than 1 nat (the largest fall, counting the first step).
    largest_fall = (-np.diff([lp0] + lps)).max()
    assert lps[-1] < lp0 - 5 and largest_fall > 1, largest_fall


def test_linear_gaussian_ancestral_sampling_has_the_marginal_mean_and_covariance():
    rng = np.random.default_rng(5)
    model = random_linear_gaussian(rng, 3, 2)
    n = 200_000
    X, Z = model.sample(n, generator=torch_generator(1), return_latent=True)
    C = model.marginal_cov().numpy()
    # Standard errors: the sample mean has sd sqrt(C_ii / n); the sample covariance entry
    # C_ij has sd sqrt((C_ii C_jj + C_ij^2) / n) for Gaussian data. Allow 5 of each.
    se_mean = np.sqrt(np.diag(C) / n)
    assert np.all(np.abs(X.numpy().mean(0) - model.b.numpy()) < 5 * se_mean)
    se_cov = np.sqrt((np.outer(np.diag(C), np.diag(C)) + C**2) / n)
    assert np.all(np.abs(np.cov(X.numpy().T) - C) < 5 * se_cov)
    # The latent draws: z ~ N(0, I) and Cov(x, z) = W (x = W z + b + noise); a sample
    # covariance of x_i and z_j has sd sqrt((C_ii + W_ij^2) / n).
    W = model.W.numpy()
    joint = np.cov(np.hstack([X.numpy(), Z.numpy()]).T)
    assert np.all(np.abs(joint[3:, 3:] - np.eye(2)) < 5 * np.sqrt(2 / n))
    assert np.all(np.abs(joint[:3, 3:] - W) < 5 * np.sqrt((np.diag(C)[:, None] + W**2) / n))
    # Without return_latent, sample returns the x of the same draws only.
    x_only = model.sample(n, generator=torch_generator(1))
    assert isinstance(x_only, torch.Tensor) and torch.equal(x_only, X)


def test_reconstruction_and_elbo_match_an_exact_sigma_point_rule():
    # For q = N(m, S) and f quadratic in z, E_q[f] equals the average of f over the 2k points
    # m +- sqrt(k) L e_i (S = L L^T): f(m + a) + f(m - a) = 2 f(m) + a^T H a, and the a a^T
    # average to S. log p(x|z), log p(z) and log q(z) are all quadratic in z, so this gives
    # E_q[log p(x|z)] (VA12's first term) and the ELBO (VA3) exactly, evaluated with
    # torch.distributions instead of the library's closed forms.
    rng = np.random.default_rng(8)
    for d, k in ((5, 2), (3, 3), (4, 1)):
        model = random_linear_gaussian(rng, d, k)
        x = torch.tensor(rng.standard_normal((4, d)))
        m = torch.tensor(rng.standard_normal((4, k)))
        S = torch.tensor(random_spd(rng, k, (4,), ridge=0.1))
        L = torch.linalg.cholesky(S)  # (4, k, k)
        offsets = math.sqrt(k) * L.transpose(-2, -1)  # rows: sqrt(k) L e_i
        z = torch.cat([m[:, None] + offsets, m[:, None] - offsets], 1)  # (4, 2k, k)
        mean_x = z @ model.W.T + model.b
        log_lik = Normal(mean_x, model.sigma2.sqrt()).log_prob(x[:, None]).sum(-1)
        q = torch.distributions.MultivariateNormal(m[:, None], scale_tril=L[:, None])
        log_w = log_lik + Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z)
        # Values ~10; float64 rounding ~1e-14.
        torch.testing.assert_close(
            model.reconstruction(x, m, S), log_lik.mean(1), rtol=0, atol=1e-10
        )
        torch.testing.assert_close(model.elbo(x, m, S), log_w.mean(1), rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(W=np.ones((3, 2)), b=np.ones(2), sigma2=1.0), "b"),
        (dict(W=np.ones(3), b=np.ones(3), sigma2=1.0), "W"),
        (dict(W=np.ones((3, 2)), b=np.ones(3), sigma2=0.0), "sigma2"),
        (dict(W=np.ones((3, 2)), b=np.ones(3), sigma2=-1.0), "sigma2"),
        (dict(W=np.full((3, 2), np.nan), b=np.ones(3), sigma2=1.0), "W"),
    ],
)
def test_linear_gaussian_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        LinearGaussian(**kwargs)


def test_linear_gaussian_rejects_bad_q_and_x():
    model = LinearGaussian(np.ones((3, 2)), np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="x"):
        model.log_marginal(np.ones((4, 2)))
    with pytest.raises(ValueError, match="q_mean"):
        model.elbo(np.ones((4, 3)), np.zeros(3), np.eye(2))
    with pytest.raises(ValueError, match="q_cov"):
        model.elbo(np.ones((4, 3)), np.zeros(2), -np.eye(2))
    with pytest.raises(ValueError, match=r"z must have shape \(N, 2\) or \(M, N, 2\)"):
        model.log_joint(np.ones((4, 3)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        model.sample(3, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="values of x are too large"):
        model.log_marginal(np.full((2, 3), 1e300))
    # A model whose covariances are not positive definite in float64 is refused at once.
    with pytest.raises(ValueError, match="W and sigma2"):
        LinearGaussian(np.ones((3, 2)), np.zeros(3), 1e-300)  # W W^T has rank 2 < 3
    with pytest.raises(ValueError, match="W and sigma2"):
        LinearGaussian(np.full((3, 2), 1e200), np.zeros(3), 1.0)


def test_linear_gaussian_stores_one_float64_number_for_sigma2():
    # A NumPy scalar, a float and a 0-d tensor (also one an em_step returned) all give a 0-d
    # float64 sigma2, so a model can be rebuilt from another's parameters.
    for sigma2 in (np.float64(0.5), 0.5, torch.tensor(0.5, dtype=torch.float32)):
        model = LinearGaussian(np.ones((3, 2)), np.zeros(3), sigma2)
        assert model.sigma2.shape == () and model.sigma2.dtype == F64
        again = LinearGaussian(model.W, model.b, model.sigma2)
        assert float(again.sigma2) == 0.5
    with pytest.raises(ValueError, match="sigma2"):
        LinearGaussian(np.ones((3, 2)), np.zeros(3), [0.5, 0.5])


# --------------------------------------------------------------------------- VA16-VA18
def test_kl_standard_normal_matches_torch_and_gaussian_kl():
    rng = np.random.default_rng(6)
    mu = torch.tensor(rng.standard_normal((8, 3)))
    sigma = torch.tensor(np.exp(rng.normal(size=(8, 3))))
    ours = kl_standard_normal(mu, sigma)
    ref = kl_divergence(Normal(mu, sigma), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    general = gaussian_kl(
        mu,
        torch.diag_embed(sigma**2),
        torch.zeros(3, dtype=torch.float64),
        torch.eye(3, dtype=torch.float64),
    )
    torch.testing.assert_close(ours, general, rtol=1e-12, atol=1e-12)
    # Hand value: mu = 1, sigma = 1 in one dimension: 1/2 (1 + 1 - 1 - 0) = 1/2.
    assert float(kl_standard_normal(torch.ones(1), torch.ones(1))) == 0.5


def test_reparameterized_samples_have_the_right_mean_and_covariance():
    mu = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    sigma = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)
    z = reparameterize(
        mu.expand(100_000, 3), sigma.expand(100_000, 3), generator=torch_generator(2)
    )
    se_mean = sigma / math.sqrt(100_000)
    assert torch.all((z.mean(0) - mu).abs() < 5 * se_mean)
    cov = torch.cov(z.T)
    # Standard errors: a sample variance has variance 2 sigma^4 / (n - 1); an off-diagonal
    # sample covariance of independent coordinates has standard error sigma_i sigma_j / sqrt(n).
    se_cov = torch.outer(sigma, sigma) / math.sqrt(100_000)
    se_cov.diagonal().mul_(math.sqrt(2.0))
    assert torch.all((cov - torch.diag(sigma**2)).abs() < 5 * se_cov), cov


def test_reparameterization_gradients_are_one_and_eps():
    mu = torch.zeros(4, 2, requires_grad=True)
    sigma = torch.ones(4, 2, requires_grad=True)
    g = torch_generator(3)
    z = reparameterize(mu, sigma, generator=g)
    eps = torch.randn((4, 2), generator=torch_generator(3))
    z.sum().backward()
    torch.testing.assert_close(mu.grad, torch.ones(4, 2))
    torch.testing.assert_close(sigma.grad, eps)
    assert reparameterize(mu, sigma, generator=torch_generator(0), n_samples=7).shape == (7, 4, 2)


@pytest.mark.parametrize("sigma", [0.0, -1.0])
def test_non_positive_sigma_raises(sigma):
    mu, s = torch.zeros(2, 3), torch.ones(2, 3)
    s[1, 2] = sigma
    with pytest.raises(ValueError, match="sigma"):
        reparameterize(mu, s)
    with pytest.raises(ValueError, match="sigma"):
        kl_standard_normal(mu, s)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="sigma must have the shape of mu"):
        reparameterize(torch.zeros(2, 3), torch.ones(2, 2))
    with pytest.raises(ValueError, match="sigma must have the shape of mu"):
        kl_standard_normal(torch.zeros(3), torch.ones(4))
    with pytest.raises(ValueError, match="n_samples"):
        reparameterize(torch.zeros(2), torch.ones(2), n_samples=0)


# --------------------------------------------------------------------------- networks
def test_inference_network_is_the_source_formula():
    # VA7: h = sigmoid(W1 x + b1), mu = W2 h + b2, sigma = softplus(W3 h + b3), by hand in NumPy.
    net = InferenceNetwork(5, 2, 7, seed=0, dtype=F64)
    x = np.random.default_rng(7).standard_normal((4, 5))
    W1, b1 = net.hidden.weight.detach().numpy(), net.hidden.bias.detach().numpy()
    W2, b2 = net.mean.weight.detach().numpy(), net.mean.bias.detach().numpy()
    W3, b3 = net.std.weight.detach().numpy(), net.std.bias.detach().numpy()
    h = 1 / (1 + np.exp(-(x @ W1.T + b1)))
    mu, sigma = net(torch.tensor(x))
    np.testing.assert_allclose(mu.detach().numpy(), h @ W2.T + b2, rtol=1e-12)
    np.testing.assert_allclose(sigma.detach().numpy(), np.log1p(np.exp(h @ W3.T + b3)), rtol=1e-12)
    assert torch.all(sigma > 0)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_generative_network_log_prob_matches_torch_distributions(likelihood):
    net = GenerativeNetwork(2, 6, 5, likelihood=likelihood, sigma2=0.3, seed=1, dtype=F64)
    z = torch.randn((3, 4, 2), generator=torch_generator(1), dtype=torch.float64)
    x = torch.rand((4, 6), generator=torch_generator(2), dtype=torch.float64).round()
    mu = net(z)
    if likelihood == "bernoulli":
        ref = Bernoulli(probs=mu).log_prob(x).sum(-1)
    else:
        ref = Normal(mu, math.sqrt(0.3)).log_prob(x).sum(-1)
    got = net.log_prob(x, z)
    assert got.shape == (3, 4)
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-10)


def test_vae_rejects_bad_input():
    model = VAE(4, 2, 8)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 4\)"):
        model.elbo(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="x must lie in"):
        model.elbo(torch.full((3, 4), 2.0))
    with pytest.raises(ValueError, match="n_samples"):
        model.elbo(torch.zeros(3, 4), n_samples=0)
    with pytest.raises(ValueError, match="likelihood"):
        VAE(4, 2, 8, likelihood="poisson")
    with pytest.raises(ValueError, match="sigma2"):
        VAE(4, 2, 8, likelihood="gaussian", sigma2=0.0)


def test_data_is_cast_to_the_model_and_nan_or_bad_shapes_are_refused():
    model = VAE(4, 2, 8, seed=0)  # float32
    x = np.random.default_rng(0).uniform(size=(5, 4))
    ref = model.elbo(torch.tensor(x, dtype=torch.float32), generator=torch_generator(0))
    for same in (x, x.tolist(), torch.tensor(x), torch.tensor(x, requires_grad=True)):
        assert torch.equal(model.elbo(same, generator=torch_generator(0)), ref)
    nan = x.copy()
    nan[2, 1] = np.nan
    with pytest.raises(ValueError, match="x must contain only finite values"):
        model.encoder(nan)
    with pytest.raises(ValueError, match="z must contain only finite values"):
        model.decoder.log_prob(x, np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="x must lie in"):
        model.decoder.log_prob(x - 0.5, np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"z must have shape \(N, 2\) or \(M, N, 2\)"):
        model.decoder.log_prob(x, np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., 2\)"):
        model.decode(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="mu"):
        reparameterize(torch.tensor(0.0), torch.tensor(1.0))
    # Finite values that overflow: the float32 cast, or the result (no silent inf or NaN).
    with pytest.raises(ValueError, match="x must be finite in the model's torch.float32"):
        model.elbo(np.full((2, 4), 1e300))
    gaussian = VAE(4, 2, 8, likelihood="gaussian")
    with pytest.raises(ValueError, match="values of x are too large"):
        gaussian.elbo(np.full((2, 4), 1e30))  # ||x - mu_G||^2 ~ 1e60 > float32's max
    with pytest.raises(ValueError, match="mu and sigma are too large"):
        kl_standard_normal(np.full(3, 1e300), np.ones(3))


# --------------------------------------------------------------------------- ELBO and IWAE
@pytest.fixture(scope="module")
def tiny_vae():
    """A VAE with k = 1 and d = 3 binary pixels: log p(x) = log int p(x|z) N(z) dz by quadrature.

    The decoder depends strongly on z, so q is far from the posterior and the ELBO gap is
    visible. The encoder's standard deviation is set to about 1.3 > 1, so the importance
    weights p(x|z) N(z|0,1) / q(z|x) are bounded and the IWAE estimate has a finite variance.
    """
    model = VAE(3, n_latent=1, n_hidden=6, likelihood="bernoulli", seed=3, dtype=torch.float64)
    with torch.no_grad():
        model.decoder.hidden.weight.mul_(4.0)
        model.decoder.out.weight.mul_(3.0)
        model.encoder.std.weight.zero_()
        model.encoder.std.bias.fill_(math.log(math.expm1(1.3)))
    X = torch.tensor(
        [[0.0, 0.0, 0.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64
    )
    log_px = []
    for x in X:

        def integrand(z, x=x):
            zt = torch.tensor([[z]], dtype=torch.float64)
            with torch.no_grad():
                log_lik = float(model.decoder.log_prob(x[None], zt)[0])
            return math.exp(log_lik) * stats.norm.pdf(z)

        log_px.append(math.log(integrate.quad(integrand, -10, 10, epsabs=1e-14, epsrel=1e-11)[0]))
    return model, X, torch.tensor(log_px, dtype=torch.float64)


def test_elbo_is_below_the_exact_log_likelihood(tiny_vae):
    model, X, log_px = tiny_vae
    with torch.no_grad():
        elbo = model.elbo(X, n_samples=20_000, generator=torch_generator(4))
    assert torch.all(elbo < log_px), (elbo, log_px)
    # The gap is KL(q || p(z|x)) > 0; it is not tiny for this model.
    assert torch.all(log_px - elbo > 1e-3)


def test_iwae_approaches_the_exact_log_likelihood(tiny_vae):
    model, X, log_px = tiny_vae
    K = 100_000
    iw = model.log_likelihood_iw(X, K, generator=torch_generator(5))
    # Standard error of log(mean of K weights) by the delta method: std(w) / (sqrt(K) mean(w)).
    w = torch.exp(model.log_importance_weights(X, K, generator=torch_generator(50)))
    se = w.std(0) / (math.sqrt(K) * w.mean(0))
    assert torch.all((iw - log_px).abs() < 5 * se + 1e-9), (iw, log_px, se)
    assert se.max() < 0.01


def test_iwae_is_non_decreasing_in_k_on_average(tiny_vae):
    model, X, log_px = tiny_vae
    Xr = X.repeat(500, 1)  # 500 independent estimates per data point
    means = [
        model.log_likelihood_iw(Xr, k, generator=torch_generator(6 + k)).mean().item()
        for k in (1, 2, 8, 32)
    ]
    assert np.all(np.diff(means) > 0), means
    assert means[-1] < log_px.mean().item() + 1e-3


@pytest.mark.parametrize("K", [1, 4])
def test_iwae_equals_the_importance_weighted_bound_by_hand(tiny_vae, K):
    # L_K = log (1/K) sum_j p(x, z_j) / q(z_j | x), written here with torch.distributions
    # (Bernoulli, Normal) from the same eps the library draws (one chunk of K). For K = 1
    # this is the single-draw VA3 estimate of the ELBO.
    model, X, _ = tiny_vae
    with torch.no_grad():
        mu, sigma = model.encoder(X)
        eps = torch.randn((K, *mu.shape), generator=torch_generator(7), dtype=torch.float64)
        z = mu + sigma * eps
        log_w = (
            Bernoulli(probs=model.decoder(z)).log_prob(X).sum(-1)
            + Normal(0.0, 1.0).log_prob(z).sum(-1)
            - Normal(mu, sigma).log_prob(z).sum(-1)
        )
        hand = torch.logsumexp(log_w, 0) - math.log(K)
        if K == 1:
            va3 = model.elbo(X, generator=torch_generator(7), analytic_kl=False)
            torch.testing.assert_close(va3, hand, rtol=1e-12, atol=1e-12)
    got = model.log_likelihood_iw(X, K, generator=torch_generator(7), chunk_size=K)
    # float64 throughout; Bernoulli(probs=...) goes through log(p) instead of the library's
    # logits form, which costs a few ulps of the ~1 nat values.
    torch.testing.assert_close(got, hand, rtol=1e-12, atol=1e-12)


def test_both_elbo_estimators_match_the_elbo_by_quadrature(tiny_vae):
    # VA12 and VA3 against an independent reference: k = 1, so the reconstruction term
    # E_q[log p(x | z)] is a 1-D integral (quad) and KL(q || N(0, 1)) comes from torch.
    model, X, _ = tiny_vae
    with torch.no_grad():
        mu, sigma = model.encoder(X)
    exact = []
    for n in range(len(X)):
        m, s = float(mu[n, 0]), float(sigma[n, 0])

        def integrand(z, n=n, m=m, s=s):
            with torch.no_grad():
                log_lik = model.decoder.log_prob(X[n : n + 1], torch.tensor([[z]], dtype=F64))
            return stats.norm.pdf(z, m, s) * float(log_lik[0])

        rec = integrate.quad(integrand, m - 12 * s, m + 12 * s, epsabs=1e-13, epsrel=1e-11)[0]
        kl = float(kl_divergence(Normal(mu[n], sigma[n]), Normal(0.0, 1.0)).sum())
        exact.append(rec - kl)
    exact = torch.tensor(exact, dtype=torch.float64)
    M = 50_000
    for seed, analytic in ((8, True), (9, False)):
        with torch.no_grad():
            single = model.elbo(
                X.repeat(M, 1), generator=torch_generator(seed), analytic_kl=analytic
            )
        single = single.reshape(M, len(X))  # M independent single-draw estimates
        se = single.std(0) / math.sqrt(M)
        # Unbiased (VA15): the mean of M draws is within 5 standard errors of the exact ELBO.
        assert torch.all((single.mean(0) - exact).abs() < 5 * se), (analytic, single.mean(0), exact)


def test_elbo_terms_and_va14_by_hand(tiny_vae):
    model, X, _ = tiny_vae
    with torch.no_grad():
        value, rec, kl = model.elbo(
            X, n_samples=3, generator=torch_generator(10), return_terms=True
        )
        mu, sigma = model.encoder(X)
        z = mu + sigma * torch.randn(
            (3, *mu.shape), generator=torch_generator(10), dtype=torch.float64
        )
        p = model.decoder(z)
        rec_hand = (X * torch.log(p) + (1 - X) * torch.log1p(-p)).sum(-1).mean(0)
        kl_hand = 0.5 * (sigma**2 + mu**2 - 1 - torch.log(sigma**2)).sum(-1)
    torch.testing.assert_close(rec, rec_hand, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(kl, kl_hand, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(value, rec_hand - kl_hand, rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def digits():
    # 300 of scikit-learn's 8x8 digits (grey levels / 16), binarised as in the chapter.
    from sklearn.datasets import load_digits

    return (load_digits().data[:300] / 16.0 > 0.5).astype(np.float32)


def test_training_with_fit_raises_the_elbo_and_is_reproducible(digits):
    histories = []
    for _ in range(2):
        model = VAE(64, 2, 32, seed=0)
        callback = heldout_elbo(digits[250:], seed=3)
        histories.append(
            fit(
                model,
                digits[:250],
                elbo_loss(),
                epochs=8,
                batch_size=50,
                lr=3e-3,
                seed=1,
                callback=callback,
            )
        )
    h1, h2 = histories
    assert set(h1) == {
        "epoch",
        "loss",
        "elbo",
        "reconstruction",
        "kl",
        "val_elbo",
        "val_elbo_at",
        "seconds",
    }
    np.testing.assert_array_equal(h1["epoch"], np.arange(1, 9))
    np.testing.assert_array_equal(h1["val_elbo_at"], np.arange(1, 9))
    assert h1["elbo"][-1] > h1["elbo"][0] + 5
    assert h1["val_elbo"][-1] > h1["val_elbo"][0] + 5
    for key in ("elbo", "kl", "val_elbo"):
        np.testing.assert_array_equal(h1[key], h2[key])
    np.testing.assert_array_equal(h1["loss"], -h1["elbo"])  # negation is exact in floats
    np.testing.assert_allclose(h1["reconstruction"] - h1["kl"], h1["elbo"], rtol=1e-5)


def test_fit_with_elbo_loss_is_adam_on_minus_the_mean_elbo_written_by_hand(digits):
    # The chapter's training written out: every epoch shuffles the rows with a CPU generator
    # seeded `seed`, every batch takes one Adam step on -mean ELBO with the eps drawn from a
    # second generator seeded `seed + 1`, and the held-out ELBO is measured after the epoch
    # with a generator seeded afresh. fit(elbo_loss(), heldout_elbo) gives the same weights,
    # bit for bit, and the same recorded ELBOs (this is what vae.train did before fit).
    X, X_val = torch.tensor(digits[:120]), torch.tensor(digits[250:])
    model, hand = VAE(64, 2, 16, seed=4), VAE(64, 2, 16, seed=4)
    history = fit(
        model,
        X,
        elbo_loss(),
        epochs=3,
        batch_size=50,
        lr=3e-3,
        seed=7,
        callback=heldout_elbo(X_val, seed=9),
    )
    shuffle, eps = torch_generator(7), torch_generator(8)
    optimiser = torch.optim.Adam(hand.parameters(), lr=3e-3)
    elbos, vals = [], []
    for _ in range(3):
        order = torch.randperm(len(X), generator=shuffle)
        total = 0.0
        for i in range(0, len(X), 50):
            elbo = hand.elbo(X[order[i : i + 50]], generator=eps)
            optimiser.zero_grad()
            (-elbo.mean()).backward()
            optimiser.step()
            total += elbo.sum().item()
        elbos.append(total / len(X))
        with torch.no_grad():
            vals.append(hand.elbo(X_val, generator=torch_generator(9)).mean().item())
    for p, q in zip(model.parameters(), hand.parameters()):
        assert torch.equal(p, q)
    # Batch means weighted by the batch share (fit) vs sums divided by N: float32 rounding.
    np.testing.assert_allclose(history["elbo"], elbos, rtol=1e-6)
    np.testing.assert_array_equal(history["val_elbo"], vals)


def test_elbo_loss_is_the_batch_mean_of_the_elbo_and_its_terms(tiny_vae):
    model, X, _ = tiny_vae
    for n_samples, analytic in ((1, True), (3, False)):
        out = elbo_loss(n_samples=n_samples, analytic_kl=analytic)(model, X, torch_generator(11))
        value, rec, kl = model.elbo(
            X, n_samples, generator=torch_generator(11), analytic_kl=analytic, return_terms=True
        )
        assert set(out) == {"loss", "elbo", "reconstruction", "kl"}
        for key, ref in (("loss", -value), ("elbo", value), ("reconstruction", rec), ("kl", kl)):
            assert torch.equal(out[key], ref.mean()), key
        assert out["loss"].requires_grad  # fit differentiates it


def test_training_arguments_are_checked(digits):
    model = VAE(64, 2, 8)
    with pytest.raises(ValueError, match=r"X_val must have shape \(N, 64\)"):
        fit(model, digits, elbo_loss(), epochs=1, callback=heldout_elbo(digits[:, :3]))
    with pytest.raises(ValueError, match="X_val must lie in"):
        fit(model, digits, elbo_loss(), epochs=1, callback=heldout_elbo(2 * digits))
    with pytest.raises(ValueError, match="X_val"):
        heldout_elbo(np.full((3, 64), np.nan))
    with pytest.raises(ValueError, match="n_samples"):
        elbo_loss(n_samples=0)
    # The loss checks the first batch a model sees (not every step): width, scale, model type.
    with pytest.raises(ValueError, match="data must lie in"):
        fit(model, 255 * digits, elbo_loss(), epochs=1)  # grey levels 0..255, not [0, 1]
    with pytest.raises(ValueError, match=r"data must have shape \(N, 64\)"):
        fit(model, digits[:, :10], elbo_loss(), epochs=1)
    with pytest.raises(ValueError, match="model must be a VAE"):
        fit(torch.nn.Linear(64, 64), digits, elbo_loss(), epochs=1)


def test_initial_weights_follow_the_seed_in_one_stream_and_not_the_dtype():
    state = torch.get_rng_state()
    a, b = VAE(64, 2, 8, seed=0), VAE(64, 2, 8, seed=1)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left alone
    assert not torch.equal(a.encoder.hidden.weight, b.encoder.hidden.weight)
    assert torch.equal(a.encoder.hidden.weight, VAE(64, 2, 8, seed=0).encoder.hidden.weight)
    # Drawn in float64 and cast: the float32 model is the float64 model rounded.
    c = VAE(64, 2, 8, seed=0, dtype=F64)
    for p, q in zip(a.parameters(), c.parameters()):
        assert p.dtype == torch.float32 and q.dtype == F64 and torch.equal(p, q.float())
    # One stream: the encoder is drawn first (as a stand-alone network with the same seed),
    # the decoder continues the stream instead of starting it again.
    for p, q in zip(a.encoder.parameters(), InferenceNetwork(64, 2, 8, seed=0).parameters()):
        assert torch.equal(p, q)
    assert not torch.equal(
        a.decoder.hidden.weight, GenerativeNetwork(2, 64, 8, seed=0).hidden.weight
    )
    # nn.Linear's default initialiser: weights and biases in [-1/sqrt(fan_in), 1/sqrt(fan_in)].
    for layer, fan_in in ((a.encoder.hidden, 64), (a.encoder.std, 8), (a.decoder.hidden, 2)):
        bound = 1 / math.sqrt(fan_in)
        assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
        assert layer.weight.abs().max() > 0.8 * bound  # not a narrower initialiser


def test_sample_decode_and_reconstruct_shapes():
    model = VAE(10, 3, 8)
    x, z = model.sample(5, generator=torch_generator(0), return_latent=True)
    assert x.shape == (5, 10) and z.shape == (5, 3)
    assert set(torch.unique(x).tolist()) <= {0.0, 1.0}  # Bernoulli draws
    # All randomness from the generator: z are its first draws, N(0, I) of the model's dtype.
    torch.testing.assert_close(z, torch.randn((5, 3), generator=torch_generator(0)))
    assert torch.equal(model.sample(5, generator=torch_generator(0)), x)
    assert torch.all((model.sample(4, mean=True) > 0) & (model.sample(4, mean=True) < 1))
    assert model.decode(torch.zeros(2, 7, 3)).shape == (2, 7, 10)
    assert model.reconstruct(np.zeros((4, 10))).shape == (4, 10)
    g = VAE(10, 3, 8, likelihood="gaussian")
    torch.testing.assert_close(
        g.sample(3, generator=torch_generator(1)), g.sample(3, generator=torch_generator(1))
    )


# --------------------------------------------------------------------------- exercise checkers
def kl_right(mu1, var1, mu2, var2):
    return 0.5 * (var1 / var2 + (mu2 - mu1) ** 2 / var2 - 1 + math.log(var2 / var1))


def test_gaussian_kl_checker(capsys):
    ok, out = run(ex.check_gaussian_kl, kl_right, capsys)
    assert ok and _common.CORRECT in out
    ok, out = run(ex.check_gaussian_kl, lambda a, b, c, d: kl_right(c, d, a, b), capsys)
    assert not ok and "不对称" in out
    assert_no_numbers(out)
    ok, out = run(ex.check_gaussian_kl, lambda a, b, c, d: 2 * kl_right(a, b, c, d), capsys)
    assert not ok and "1/2" in out
    ok, out = run(ex.check_gaussian_kl, stub, capsys)
    assert not ok and "尚未实现" in out


def log_marginal_right(x, W, b, sigma2):
    C = W @ W.T + sigma2 * np.eye(len(x))
    r = x - b
    return -0.5 * (
        len(x) * math.log(2 * math.pi) + np.linalg.slogdet(C)[1] + r @ np.linalg.solve(C, r)
    )


def test_linear_gaussian_checker(capsys):
    ok, out = run(ex.check_linear_gaussian_log_marginal, log_marginal_right, capsys)
    assert ok
    noise_only = lambda x, W, b, s2: stats.multivariate_normal(b, s2 * np.eye(len(x))).logpdf(x)
    ok, out = run(ex.check_linear_gaussian_log_marginal, noise_only, capsys)
    assert not ok and "σ²I" in out
    assert_no_numbers(out)
    ok, out = run(ex.check_linear_gaussian_log_marginal, lambda *a: 1 / 0, capsys)
    assert not ok and "ZeroDivisionError" in out


def test_printed_objective_variance_checker(capsys):
    assert run(ex.check_printed_objective_variance, 0.5, capsys)[0]
    assert run(ex.check_printed_objective_variance, lambda: 0.5, capsys)[0]
    for wrong in (1.0, 2.0, 3.7, "abc"):
        ok, out = run(ex.check_printed_objective_variance, wrong, capsys)
        assert not ok
        assert_no_numbers(out)
    ok, out = run(ex.check_printed_objective_variance, ..., capsys)
    assert not ok and "尚未实现" in out


def test_checkers_accept_tensors_that_require_grad_and_never_raise(capsys):
    # A learner may answer with torch: a 0-d tensor that requires grad is a number too.
    def kl_torch(*args):
        return torch.tensor(kl_right(*args), dtype=F64, requires_grad=True)

    def log_marginal_torch(*args):
        return torch.tensor(log_marginal_right(*args), requires_grad=True)

    assert run(ex.check_gaussian_kl, kl_torch, capsys)[0]
    assert run(ex.check_linear_gaussian_log_marginal, log_marginal_torch, capsys)[0]
    half = torch.tensor(0.5, requires_grad=True)
    assert run(ex.check_printed_objective_variance, half, capsys)[0]
    assert run(ex.check_printed_objective_variance, lambda: half, capsys)[0]
    # Answers that are not numbers are wrong answers, not errors.
    for wrong in (10**400, torch.ones(3, requires_grad=True), None, object(), 1 + 2j):
        ok, out = run(ex.check_printed_objective_variance, wrong, capsys)
        assert not ok
    ok, _ = run(ex.check_gaussian_kl, lambda *a: 10**400, capsys)
    assert not ok
    ok, out = run(ex.check_printed_objective_variance, lambda: 1 / 0, capsys)
    assert not ok and "ZeroDivisionError" in out
