"""Experiments and figures of the chapter on the VAE (chapter 04; see experiments/__init__.py).

Each function runs one of the chapter's harnesses (a loop over settings, repeated draws, a
training run) and returns the numbers a notebook check asserts on; the checks themselves stay
in the notebook. ``plot_*`` functions draw a figure from numbers already computed (or from a
model, for pictures no check relies on) and return the Figure. Formula IDs refer to
book/formulas.yml (VA1-VA19).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import integrate, stats
from torch.distributions import Bernoulli, MultivariateNormal, Normal, kl_divergence

from unsupervised._validation import (
    Array,
    Flag,
    Function,
    Instance,
    Integer,
    Real,
    Seed,
    Sizes,
    Tensor,
    validate,
)
from unsupervised.datasets import GaussianMixture
from unsupervised.plotting import image_grid
from unsupervised.training import fit
from unsupervised.vae import VAE, InferenceNetwork, LinearGaussian, elbo_loss, reparameterize

__all__ = [
    "random_spd",
    "curve_square_counts",
    "kl_by_quadrature",
    "joint_moments_two_ways",
    "q_family",
    "sample_moments",
    "sigma_lower_bound",
    "kl_relative_error",
    "kl_monte_carlo",
    "single_draw_reference",
    "iw_by_hand",
    "train_digit_vaes",
    "em_trace",
    "ppca_ml",
    "variational_em",
    "quad_posterior_1d",
    "grid_posterior",
    "q_params",
    "fit_gaussian_q",
    "m_step_evidence",
    "elbo_sigma_points",
    "vae_two_forms",
    "variance_of_two_forms",
    "mc_error_curve",
    "gradient_estimators",
    "sign_experiment",
    "iw_linear_gaussian",
    "iw_blocks",
    "latent_layout",
    "plot_two_step",
    "plot_generative_classifier",
    "plot_elbo_kl_shift",
    "plot_em",
    "plot_posteriors",
    "plot_mc_error",
    "plot_gradient_estimators",
    "plot_sign_experiment",
    "plot_training_curves",
    "plot_reconstructions",
    "plot_latent",
    "plot_interpolation",
    "plot_iw_gap",
    "plot_iw_bound",
]

F64 = torch.float64
_LG = Instance(LinearGaussian)
_MODEL = Instance(VAE)


def _need_latent(model, k):
    if model.W.shape[1] != k:
        raise ValueError(f"model must have k = {k} latent dimensions, got {model.W.shape[1]}")


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _data(model, x):
    # A validated float64 tensor in the model's dtype (data of the digits are exact in float32).
    return x.detach().to(model.dtype)


# ------------------------------------------------------------------- deep generative models
@validate(rng=Instance(np.random.Generator), k=Integer(1), scale=Real(low=0, open=True))
def random_spd(rng: np.random.Generator, k: int, scale: float = 1.0) -> np.ndarray:
    """A random symmetric positive definite k x k matrix, scale (A A^T / k + 0.3 I) with A
    standard normal (k x k), drawn from ``rng`` (a covariance for the checks)."""
    A = rng.standard_normal((k, k))
    return scale * (A @ A.T / k + 0.3 * np.eye(k))


@validate(n=Integer(1), seed=Seed(), sides=Array(ndim=1, low=0))
def curve_square_counts(n: int, seed: int, sides: np.ndarray) -> dict:
    """The law of g(z) = (z, z^2), z ~ N(0, 1), near the point (1, 1) of its curve.

    Draws n values of z (``np.random.default_rng(seed)``) and counts, for each side h in
    ``sides``, the samples in the square of side h centred at (1, 1). Its exact probability is
    P = Phi(sqrt(1 + h/2)) - Phi(sqrt(1 - h/2)) (SciPy's normal cdf). Returns arrays of shape
    (len(sides),): ``inside`` (counts), ``expected`` = n P, ``sd`` = sqrt(n P (1 - P)) (the
    binomial standard deviation) and ``density`` = inside / (n h^2).
    """
    z = np.random.default_rng(seed).standard_normal(n)
    x = np.column_stack([z, z**2])
    inside = np.array([int(np.all(np.abs(x - 1.0) < h / 2, axis=1).sum()) for h in sides])
    p = stats.norm.cdf(np.sqrt(1 + sides / 2)) - stats.norm.cdf(np.sqrt(1 - sides / 2))
    return {
        "inside": inside,
        "expected": n * p,
        "sd": np.sqrt(n * p * (1 - p)),
        "density": inside / (n * sides**2),
    }


@validate(
    p=Instance(GaussianMixture),
    q=Instance(GaussianMixture),
    low=Real(),
    high=Real(),
    limit=Integer(1),
)
def kl_by_quadrature(
    p: GaussianMixture, q: GaussianMixture, low: float = -15.0, high: float = 15.0, limit: int = 400
) -> float:
    """KL(p || q) = int p log(p / q) dx over [low, high] for two mixtures in d = 1, by SciPy's
    adaptive quadrature (epsabs 1e-12; its error here is ~1e-12)."""

    def integrand(x):
        X = np.array([[x]])
        lp, lq = p._log_pdf(X)[0], q._log_pdf(X)[0]
        return math.exp(lp) * (lp - lq)

    return integrate.quad(integrand, low, high, epsabs=1e-12, limit=limit)[0]


@validate(x=Array(ndim=1), mixture=Instance(GaussianMixture))
def plot_two_step(x: np.ndarray, mixture: GaussianMixture):
    """Histogram of two-step samples x (N,) with the mixture's density and its weighted
    components (d = 1)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    grid = np.linspace(-5, 5.5, 600)
    ax.hist(x, bins=120, density=True, color="0.8", label="two-step samples")
    ax.plot(grid, mixture.pdf(grid[:, None]), color="C0", label="p(x) = sum_z p(z) p(x|z)")
    for k in range(mixture.n_components):
        sd = math.sqrt(mixture.covs[k, 0, 0])
        ax.plot(
            grid,
            mixture.weights[k] * stats.norm.pdf(grid, mixture.means[k, 0], sd),
            "--",
            lw=1,
            label=f"p(z={k + 1}) p(x|z={k + 1})",
        )
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    return fig


@validate(fitted=Instance(GaussianMixture), X=Array(ndim=2), y=Array(ndim=1))
def plot_generative_classifier(fitted: GaussianMixture, X: np.ndarray, y: np.ndarray):
    """Left: the estimated density p(x) = sum_y p(x, y) of a class-wise mixture (d = 2);
    right: argmax_y p(y | x) (Bayes' rule) over the training points X (N, 2), labels y (N,)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True, sharey=True)
    g1, g2 = np.meshgrid(np.linspace(-4, 4, 300), np.linspace(-3.5, 3.5, 300))
    grid = np.column_stack([g1.ravel(), g2.ravel()])
    axes[0].contourf(g1, g2, fitted.pdf(grid).reshape(g1.shape), levels=20, cmap="Greys")
    axes[0].set_title("estimated density p(x) = sum_y p(x, y)")
    axes[1].contourf(
        g1,
        g2,
        fitted.responsibilities(grid).argmax(1).reshape(g1.shape),
        levels=[-0.5, 0.5, 1.5, 2.5],
        colors=["C0", "C1", "C2"],
        alpha=0.25,
    )
    for c in range(fitted.n_components):
        axes[1].scatter(*X[y == c].T, s=6, color=f"C{c}", label=f"y = {c}")
    axes[1].set_title("argmax_y p(y|x) by Bayes' rule")
    axes[1].legend(markerscale=2, fontsize=9)
    for ax in axes:
        ax.set_xlabel("$x_1$")
    axes[0].set_ylabel("$x_2$")
    return fig


# ----------------------------------------------------------------------------- VA1-VA4
@validate(model=_LG, n=Integer(2), seed=Seed())
def joint_moments_two_ways(model: LinearGaussian, n: int, seed: int = 1) -> dict:
    """Sample (z, x) of a linear-Gaussian model both ways (VA1) and return their moments.

    "z then x": ``model.sample`` (z ~ p(z), x ~ p(x|z)), generator seeded ``seed``; "x then z":
    x = b + L eps with L L^T = W W^T + sigma^2 I (seed + 1), z ~ p(z|x) from
    ``model.posterior`` (seed + 2). Returns ``{"z then x": (mean, cov), "x then z": (mean,
    cov)}`` of the stacked (z, x), shapes (k + d,) and (k + d, k + d), and the joint law's own
    ``"mean"`` (0, b) and ``"cov"`` [[I, W^T], [W, W W^T + sigma^2 I]] built from W, b, sigma^2.
    """
    W, b, s2 = model.W, model.b, model.sigma2
    d, k = W.shape
    C_x = W @ W.T + s2 * torch.eye(d, dtype=F64)
    x_a, z_a = model.sample(n, generator=_gen(seed), return_latent=True)
    x_b = (
        b + torch.randn((n, d), generator=_gen(seed + 1), dtype=F64) @ torch.linalg.cholesky(C_x).T
    )
    post = model.posterior(x_b)
    z_b = (
        post.mean + torch.randn((n, k), generator=_gen(seed + 2), dtype=F64) @ post.scale_tril[0].T
    )
    out = {}
    for name, zz, xx in (("z then x", z_a, x_a), ("x then z", z_b, x_b)):
        both = torch.cat([zz, xx], 1)
        out[name] = (both.mean(0), torch.cov(both.T))
    out["mean"] = torch.cat([torch.zeros(k, dtype=F64), b])
    out["cov"] = torch.cat(
        [torch.cat([torch.eye(k, dtype=F64), W.T], 1), torch.cat([W, C_x], 1)], 0
    )
    return out


@validate(posterior=Instance(MultivariateNormal), rng=Instance(np.random.Generator))
def q_family(posterior: MultivariateNormal, rng: np.random.Generator) -> dict:
    """Four Gaussian q per point for the VA2 check, from the posterior N(m_n, S) of N points in
    k dimensions: the posterior itself, the prior N(0, I), a random Gaussian (means standard
    normal, covariances ``random_spd``, drawn from ``rng`` in that order) and the posterior with
    4 times its covariance. Returns {name: (mean (N, k), cov (N, k, k))}."""
    m, S = posterior.mean, posterior.covariance_matrix
    N, k = m.shape
    return {
        "posterior": (m, S),
        "prior N(0, I)": (torch.zeros(N, k, dtype=F64), torch.eye(k, dtype=F64).expand(N, -1, -1)),
        "random Gaussian": (
            torch.tensor(rng.standard_normal((N, k))),
            torch.tensor(np.stack([random_spd(rng, k) for _ in range(N)])),
        ),
        "posterior, 4x cov": (m, 4 * S),
    }


@validate(
    model=_LG,
    x=Tensor(ndim=2),
    mean=Tensor(ndim=2),
    cov=Tensor(ndim=3),
    t=Array(ndim=1),
    direction=Tensor(ndim=1),
)
def plot_elbo_kl_shift(
    model: LinearGaussian,
    x: torch.Tensor,
    mean: torch.Tensor,
    cov: torch.Tensor,
    t: np.ndarray,
    direction: np.ndarray,
):
    """log p(x) = ELBO + KL (VA2) as q's mean moves along mean + t u (u = ``direction``):
    x (1, d), the posterior's mean (1, k) and covariance (1, k, k), t (T,)."""
    from unsupervised.divergences import gaussian_kl

    x0 = x.expand(len(t), -1)
    m = mean + torch.tensor(t)[:, None] * direction
    S = cov.expand(len(t), -1, -1)
    elbo = model.elbo(x0, m, S).numpy()
    kl = gaussian_kl(m, S, mean, cov).numpy()
    log_px = model.log_marginal(x)[0].item()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.fill_between(t, elbo.min() - 1, elbo, color="C0", alpha=0.3, label="ELBO(q)")
    ax.fill_between(t, elbo, elbo + kl, color="C3", alpha=0.3, label="KL(q || p(z|x))")
    ax.axhline(log_px, color="k", ls="--", lw=1.5, label="log p(x)")
    ax.set_ylim(elbo.min() - 0.5, log_px + 1)
    ax.set_xlabel("t  (mean of q = posterior mean + t u)")
    ax.set_ylabel("nats")
    ax.set_title("log p(x) = ELBO + KL for every q")
    ax.legend(loc="lower center", fontsize=9)
    return fig


@validate(model=_LG, X=Tensor(ndim=2), steps=Integer(1))
def em_trace(model: LinearGaussian, X: torch.Tensor, steps: int) -> tuple:
    """``steps`` EM iterations (``em_step``) from ``model`` on X (N, d).

    Returns (log, final): ``log`` of shape (steps, 3) holds per iteration t the sums over the
    N samples of log p(X | theta_t), ELBO(q_t, theta_t) and ELBO(q_t, theta_t+1), with
    q_t = p(z | x, theta_t) (VA2, VA11); ``final`` is the last model.
    """
    log = []
    for _ in range(steps):
        post = model.posterior(X)  # E-step
        lp = model.log_marginal(X).sum().item()
        elbo_e = model.elbo(X, post.mean, post.covariance_matrix).sum().item()
        nxt = model.em_step(X)  # M-step
        elbo_m = nxt.elbo(X, post.mean, post.covariance_matrix).sum().item()
        log.append((lp, elbo_e, elbo_m))
        model = nxt
    return np.array(log), model


@validate(X=Array(ndim=2), k=Integer(1))
def ppca_ml(X: np.ndarray, k: int) -> LinearGaussian:
    """The maximum-likelihood probabilistic PCA in closed form (Tipping & Bishop): b = sample
    mean, sigma^2 = mean of the d - k smallest eigenvalues of the sample covariance (divided by
    N), W = U_k (Lambda_k - sigma^2 I)^(1/2) (up to a rotation of the latent space)."""
    lam, U = np.linalg.eigh(np.cov(X.T, bias=True))
    lam, U = lam[::-1], U[:, ::-1]
    s2 = lam[k:].mean()
    return LinearGaussian(U[:, :k] * np.sqrt(lam[:k] - s2), X.mean(0), s2)


@validate(em_log=Array(ndim=2), lp_ml=Real(), n=Integer(1), n_show=Integer(1))
def plot_em(em_log: np.ndarray, lp_ml: float, n: int, n_show: int = 5):
    """Left: the first ``n_show`` EM steps (M-step slanted, E-step vertical) per sample; right:
    the gap to the ML log-likelihood ``lp_ml`` (per sample) and the KL after each M-step.
    ``em_log`` (T, 3) from ``em_trace``, n samples."""
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.8))
    ax = axes[0]
    path_t, path_v = [0], [em_log[0, 1] / n]
    for t in range(n_show):
        path_t += [t + 1, t + 1]
        path_v += [em_log[t, 2] / n, em_log[t + 1, 0] / n]
    ax.plot(path_t, path_v, "-", color="C0", label="ELBO: M-step (slanted), E-step (vertical)")
    ax.plot(
        np.arange(n_show + 1), em_log[: n_show + 1, 0] / n, "ks", ms=5, label="log p(x | theta_t)"
    )
    ax.set_xlabel("EM iteration t")
    ax.set_ylabel("per-sample value (nats)")
    ax.set_title("E-step closes the gap, M-step raises the ELBO")
    ax.legend(fontsize=9)
    ax = axes[1]
    iters = np.arange(len(em_log))
    ax.semilogy(iters, lp_ml - em_log[:, 0] / n, color="k", label="log p(ML) - log p(theta_t)")
    ax.semilogy(
        iters[:-1],
        (em_log[1:, 0] - em_log[:-1, 2]) / n,
        color="C3",
        ls="--",
        label="KL after the M-step (per sample)",
    )
    ax.set_xlabel("EM iteration t")
    ax.set_ylabel("nats")
    ax.set_title("linear convergence to the ML solution")
    ax.legend(fontsize=9)
    return fig


def _best_diagonal_q(model, X):
    # The diagonal Gaussian closest to the posterior in KL(q || p) (VA8): the posterior mean and
    # variances 1 / Lambda_jj, Lambda = the posterior precision matrix.
    post = model.posterior(X)
    return post.mean, torch.diag(1.0 / torch.linalg.inv(post.covariance_matrix[0]).diagonal())


@validate(model=_LG, X=Tensor(ndim=2), steps=Integer(1), exact_steps=Integer(0))
def variational_em(
    model: LinearGaussian, X: torch.Tensor, steps: int = 1000, exact_steps: int = 30
):
    """Exact EM (``exact_steps`` steps) and variational EM with the best diagonal Gaussian q
    (mean = posterior mean, variances 1 / Lambda_jj; ``steps`` steps), both from ``model`` on X.

    Returns a dict of arrays of sums over the N samples: ``lp_exact`` (exact_steps + 1,),
    ``lp_vem`` (steps + 1,) (log p after each step, the start first) and ``elbo_vem`` (2 steps,):
    ELBO after each approximate E-step and after each M-step; ``grad_max``: the largest
    |gradient| of sum ELBO(q, theta) at the first M-step's theta (autograd; VA2, VA11);
    ``q0`` = (mean (N, k), cov (k, k)), the first E-step's q.
    """
    exact_t, vem_t = model, model
    lp0 = model.log_marginal(X).sum().item()
    lp_exact, lp_vem, elbo_vem, grad_max = [lp0], [lp0], [], None
    for it in range(steps):
        if it < exact_steps:
            exact_t = exact_t.em_step(X)
            lp_exact.append(exact_t.log_marginal(X).sum().item())
        m_d, S_d = _best_diagonal_q(vem_t, X)
        elbo_vem.append(vem_t.elbo(X, m_d, S_d).sum().item())
        vem_next = vem_t.em_step(X, m_d, S_d)
        if it == 0:
            q0 = (m_d, S_d)
            p_v = [p.clone().requires_grad_() for p in (vem_next.W, vem_next.b, vem_next.sigma2)]
            g_v = torch.autograd.grad(LinearGaussian(*p_v).elbo(X, m_d, S_d).sum(), p_v)
            grad_max = max(g.abs().max().item() for g in g_v)
        elbo_vem.append(vem_next.elbo(X, m_d, S_d).sum().item())
        vem_t = vem_next
        lp_vem.append(vem_t.log_marginal(X).sum().item())
    return {
        "lp_exact": np.array(lp_exact),
        "lp_vem": np.array(lp_vem),
        "elbo_vem": np.array(elbo_vem),
        "grad_max": grad_max,
        "q0": q0,
    }


@validate(model=_LG, x=Tensor(ndim=2), bound=Real(low=0, open=True))
def quad_posterior_1d(model: LinearGaussian, x: torch.Tensor, bound: float = 12.0) -> dict:
    """Bayes' rule (VA4) by adaptive quadrature for k = 1: the evidence int p(x|z) p(z) dz, the
    posterior mean and variance, over [-bound, bound] with SciPy's quad (epsrel 1e-12).
    x (1, d). Returns floats ``evidence``, ``mean``, ``var``."""
    _need_latent(model, 1)

    def joint(z):
        return math.exp(model.log_joint(x, torch.tensor([[z]], dtype=F64)).item())

    opts = dict(epsabs=0, epsrel=1e-12, limit=200)
    ev = integrate.quad(joint, -bound, bound, **opts)[0]
    mean = integrate.quad(lambda z: z * joint(z), -bound, bound, **opts)[0] / ev
    var = integrate.quad(lambda z: (z - mean) ** 2 * joint(z), -bound, bound, **opts)[0] / ev
    return {"evidence": ev, "mean": mean, "var": var}


@validate(model=_LG, x=Tensor(ndim=2), n=Integer(2), width=Real(low=0, open=True))
def grid_posterior(model: LinearGaussian, x: torch.Tensor, n: int, width: float = 8.0) -> dict:
    """Bayes' rule (VA4) on a grid for k = 2: the trapezoid rule over +-``width`` posterior
    standard deviations (the closed-form posterior only places the grid), n points per axis.
    x (1, d). Returns ``log_evidence`` (float), the posterior ``mean`` (2,) and ``cov`` (2, 2)
    of the normalised grid values, the grid ``Z1``, ``Z2`` (n, n) and ``density`` (n, n)."""
    _need_latent(model, 2)
    post = model.posterior(x)
    sd = post.covariance_matrix[0].diagonal().sqrt()
    axes = [
        torch.linspace(
            post.mean[0, j] - width * sd[j], post.mean[0, j] + width * sd[j], n, dtype=F64
        )
        for j in range(2)
    ]
    Z1, Z2 = torch.meshgrid(*axes, indexing="ij")
    Z = torch.stack([Z1.ravel(), Z2.ravel()], 1)
    joint = torch.exp(model.log_joint(x.expand(len(Z), -1), Z)).reshape(Z1.shape)

    def integrate_2d(values):
        return torch.trapezoid(torch.trapezoid(values, axes[1], dim=1), axes[0]).item()

    evidence = integrate_2d(joint)
    density = joint / evidence
    mean = [integrate_2d(density * Zj) for Zj in (Z1, Z2)]
    cov = np.array(
        [
            [
                integrate_2d(density * (Zi - mean[i]) * (Zj - mean[j]))
                for j, Zj in enumerate((Z1, Z2))
            ]
            for i, Zi in enumerate((Z1, Z2))
        ]
    )
    return {
        "log_evidence": math.log(evidence),
        "mean": np.array(mean),
        "cov": cov,
        "Z1": Z1,
        "Z2": Z2,
        "density": density,
    }


@validate(model=_LG, x=Tensor(ndim=2), n=Integer(2))
def plot_posteriors(model: LinearGaussian, x: torch.Tensor, n: int = 801):
    """Left: the posterior of the linear-Gaussian model on a grid (``grid_posterior``) against
    the closed form; right: the ring-shaped posterior of x ~ N(||z||^2, 0.2^2) at x = 2."""
    g = grid_posterior(model, x, n)
    post = model.posterior(x)
    sd = post.covariance_matrix[0].diagonal().sqrt()
    Z = torch.stack([g["Z1"].ravel(), g["Z2"].ravel()], 1)
    closed = torch.exp(post.log_prob(Z)).reshape(g["Z1"].shape)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ax = axes[0]
    ax.contour(
        g["Z1"].numpy(),
        g["Z2"].numpy(),
        g["density"].numpy(),
        levels=6,
        colors="C0",
        linewidths=4,
        alpha=0.5,
    )
    ax.contour(
        g["Z1"].numpy(),
        g["Z2"].numpy(),
        closed.numpy(),
        levels=6,
        colors="k",
        linestyles="--",
        linewidths=1,
    )
    m = post.mean[0]
    ax.set_xlim(m[0].item() - 4 * sd[0].item(), m[0].item() + 4 * sd[0].item())
    ax.set_ylim(m[1].item() - 4 * sd[1].item(), m[1].item() + 4 * sd[1].item())
    ax.set_title("linear decoder: grid (thick) vs closed form (dashed)", fontsize=11)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ring = torch.linspace(-3, 3, 401, dtype=F64)
    R1, R2 = torch.meshgrid(ring, ring, indexing="ij")
    joint = torch.exp(
        Normal(R1**2 + R2**2, 0.2).log_prob(torch.tensor(2.0, dtype=F64))
        + Normal(0.0, 1.0).log_prob(R1)
        + Normal(0.0, 1.0).log_prob(R2)
    )
    evidence = torch.trapezoid(torch.trapezoid(joint, ring, dim=1), ring).item()
    ax = axes[1]
    ax.contourf(R1.numpy(), R2.numpy(), (joint / evidence).numpy(), levels=12, cmap="Blues")
    ax.set_title("nonlinear decoder: x ~ N(||z||^2, 0.2^2), x = 2", fontsize=11)
    ax.set_xlabel("$z_1$")
    ax.set_aspect("equal")
    return fig


# ----------------------------------------------------------------------------- VA5, VA6, VA16
@validate(
    mu=Tensor(ndim=2, shape=(None, 2)),
    sigma=Tensor(ndim=2, low=0, shape=(None, 2)),
    n=Integer(2),
    seed=Seed(),
)
def sample_moments(mu: torch.Tensor, sigma: torch.Tensor, n: int, seed: int) -> dict:
    """n draws of ``reparameterize(mu, sigma)`` (VA18; mu, sigma (N, 2), generator seeded ``seed``):
    their ``mean`` and ``var`` (N, 2) and the correlation ``corr`` (N,) of the two coordinates."""
    z = reparameterize(mu, sigma, generator=_gen(seed), n_samples=n)  # (n, N, 2)
    corr = torch.stack([torch.corrcoef(z[:, i].T)[0, 1] for i in range(mu.shape[0])])
    return {"mean": z.mean(0), "var": z.var(0), "corr": corr}


@validate(encoder=Instance(InferenceNetwork), x=Tensor(ndim=2))
def sigma_lower_bound(encoder: InferenceNetwork, x: torch.Tensor) -> tuple:
    """The VA6 lower bound of sigma_I for every input, softplus(b3 + sum_i min(W3_ji, 0)) (k,),
    from the ``std`` layer of an ``InferenceNetwork``, and the smallest sigma_I (k,) over x (N, d)
    scaled by 1, 1e3, 1e6 and -1e6 (saturated sigmoids)."""
    if encoder.activation != "sigmoid":
        raise ValueError(f"the bound needs a sigmoid hidden layer, got {encoder.activation!r}")
    W3, b3 = encoder.std.weight.detach(), encoder.std.bias.detach()
    floor = torch.nn.functional.softplus(b3 + W3.clamp(max=0).sum(1))
    x = x.to(W3.dtype)
    extreme = torch.cat([x, 1e3 * x, 1e6 * x, -1e6 * x])
    return floor, encoder(extreme)[1].detach().min(0).values


@validate(rng=Instance(np.random.Generator), ks=Sizes(), n_pairs=Integer(1))
def kl_relative_error(rng: np.random.Generator, ks: tuple, n_pairs: int = 20) -> float:
    """The largest relative difference between ``divergences.gaussian_kl`` (VA16) and
    ``torch.distributions.kl_divergence`` over n_pairs random pairs of Gaussians for each
    dimension k in ``ks`` (means standard normal, covariances ``random_spd`` with scales
    uniform in [0.2, 3], all drawn from ``rng``)."""
    from unsupervised.divergences import gaussian_kl

    worst = 0.0
    for k in ks:
        mu1, mu2 = torch.tensor(rng.standard_normal((2, n_pairs, k)))
        cov1 = torch.tensor(
            np.stack([random_spd(rng, k, rng.uniform(0.2, 3)) for _ in range(n_pairs)])
        )
        cov2 = torch.tensor(
            np.stack([random_spd(rng, k, rng.uniform(0.2, 3)) for _ in range(n_pairs)])
        )
        ours = gaussian_kl(mu1, cov1, mu2, cov2)
        ref = kl_divergence(MultivariateNormal(mu1, cov1), MultivariateNormal(mu2, cov2))
        worst = max(worst, ((ours - ref).abs() / ref.abs()).max().item())
    return worst


@validate(
    mu1=Tensor(ndim=1),
    cov1=Tensor(ndim=2),
    mu2=Tensor(ndim=1),
    cov2=Tensor(ndim=2),
    n=Integer(2),
    seed=Seed(),
)
def kl_monte_carlo(
    mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor, n: int, seed: int
) -> torch.Tensor:
    """n draws of log p1(z) - log p2(z), z ~ p1 = N(mu1, cov1), p2 = N(mu2, cov2)
    (torch.distributions densities; generator seeded ``seed``): their mean estimates
    KL(p1 || p2) (VA16)."""
    p1, p2 = MultivariateNormal(mu1, cov1), MultivariateNormal(mu2, cov2)
    z = mu1 + torch.randn((n, len(mu1)), generator=_gen(seed), dtype=F64) @ p1.scale_tril.T
    return p1.log_prob(z) - p2.log_prob(z)


@validate(model=_MODEL, x=Tensor(ndim=2), n=Integer(2), seed=Seed())
def single_draw_reference(model: VAE, x: torch.Tensor, n: int, seed: int) -> tuple:
    """An independent reference for a Bernoulli VAE's ELBO of one row x (1, d) (VA15): n
    brute-force draws of log p(x|z), z ~ q (torch.distributions.Bernoulli; generator seeded
    ``seed``), and the KL term in closed form by torch.distributions. Returns (draws (n,), kl)."""
    x = _data(model, x)
    with torch.no_grad():
        mu, sigma = model.encoder(x)
        z = mu + sigma * torch.randn((n, mu.shape[1]), generator=_gen(seed), dtype=model.dtype)
        draws = Bernoulli(probs=model.decoder(z)).log_prob(x).sum(-1)
        kl = kl_divergence(Normal(mu, sigma), Normal(0.0, 1.0)).sum().item()
    return draws, kl


@validate(model=_MODEL, x=Tensor(ndim=2), K=Integer(1), seed=Seed())
def iw_by_hand(model: VAE, x: torch.Tensor, K: int, seed: int) -> torch.Tensor:
    """L_K = log (1/K) sum_j p(x, z_j) / q(z_j | x) of a Bernoulli VAE by hand, x (N, d) -> (N,):
    the eps (K, N, k) drawn like the library's (generator seeded ``seed``), the generative network
    layer by layer (logits a = W5 sigmoid(W4 z + b4) + b5), densities by torch.distributions."""
    x = _data(model, x)
    with torch.no_grad():
        mu, sigma = model.encoder(x)
        z = mu + sigma * torch.randn((K, *mu.shape), generator=_gen(seed), dtype=model.dtype)
        logits = model.decoder.out(torch.sigmoid(model.decoder.hidden(z)))
        log_w = (
            Bernoulli(logits=logits).log_prob(x).sum(-1)
            + Normal(0.0, 1.0).log_prob(z).sum(-1)
            - Normal(mu, sigma).log_prob(z).sum(-1)
        )
        return torch.logsumexp(log_w, 0) - math.log(K)


@validate(X_train=Tensor(ndim=2), X_test=Tensor(ndim=2), epochs=Integer(1), latent=Sizes())
def train_digit_vaes(
    X_train: torch.Tensor, X_test: torch.Tensor, epochs: int = 200, latent: tuple = (8, 2)
) -> dict:
    """Train one Bernoulli VAE (256 sigmoid hidden units, seed 0) per latent size in ``latent``
    with ``training.fit`` (``elbo_loss()``, Adam lr 3e-3, batches of 100, seed 0, ``epochs``
    epochs) and the held-out ELBO of X_test every epoch (``heldout_elbo``). Returns
    {k: (model, history)}."""
    from unsupervised.vae import heldout_elbo

    X_train, X_test = X_train.to(torch.float32), X_test.to(torch.float32)
    out = {}
    for k in latent:
        model = VAE(X_train.shape[1], n_latent=k, n_hidden=256, seed=0)
        history = fit(
            model,
            X_train,
            elbo_loss(),
            epochs=epochs,
            batch_size=100,
            lr=3e-3,
            seed=0,
            callback=heldout_elbo(X_test),
        )
        out[k] = (model, history)
    return out


# ----------------------------------------------------------------------------- VA8-VA11
@validate(theta=Tensor(ndim=1), diagonal=Flag())
def q_params(theta: torch.Tensor, diagonal: bool) -> tuple:
    """theta -> (mean (2,), covariance (2, 2)) of a Gaussian q for k = 2. Diagonal: theta =
    (m1, m2, log s1, log s2); full: theta = (m1, m2, log L11, log L22, L21), covariance L L^T
    with L lower triangular."""
    if len(theta) != (4 if diagonal else 5):
        raise ValueError(f"theta must have {4 if diagonal else 5} entries, got {len(theta)}")
    return _q_params(theta, diagonal)


def _q_params(theta, diagonal):
    m = theta[:2]
    if diagonal:
        return m, torch.diag(torch.exp(2 * theta[2:4]))
    zero = torch.zeros((), dtype=theta.dtype)
    L = torch.stack(
        [torch.stack([torch.exp(theta[2]), zero]), torch.stack([theta[4], torch.exp(theta[3])])]
    )
    return m, L @ L.T


@validate(objective=Function("objective(mean, cov) -> scalar tensor"), diagonal=Flag())
def fit_gaussian_q(objective, diagonal: bool) -> tuple:
    """Minimise ``objective(mean, cov)`` over Gaussian q with k = 2 (``q_params``) by L-BFGS
    (strong Wolfe line search, gradient tolerance 1e-12) from the prior N(0, I) (VA8, VA10).
    Returns (mean (2,), cov (2, 2), objective value)."""
    theta = torch.zeros(4 if diagonal else 5, dtype=F64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [theta],
        lr=1,
        max_iter=500,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        value = objective(*_q_params(theta, diagonal))
        value.backward()
        return value

    opt.step(closure)
    m, S = _q_params(theta.detach(), diagonal)
    return m, S, objective(m, S).item()


@validate(
    theta_old=_LG, X=Tensor(ndim=2), n_perturb=Integer(1), scale=Real(low=0, open=True), seed=Seed()
)
def m_step_evidence(
    theta_old: LinearGaussian,
    X: torch.Tensor,
    n_perturb: int = 200,
    scale: float = 1e-3,
    seed: int = 1000,
) -> dict:
    """One M-step (``em_step``) from theta_old with q_n = p(z | x_n, theta_old) (VA11).

    Returns ``grad_max`` (the largest |autograd gradient| of sum_n ELBO(q_n, theta) at
    theta_new), ``worse`` (how many of ``n_perturb`` relative perturbations of size ``scale``,
    generators seeded seed, seed + 1, ..., lower the ELBO) and ``chain`` = [log p(theta_new),
    ELBO(q, theta_new), ELBO(q, theta_old), log p(theta_old)] (sums over X).
    """
    q = theta_old.posterior(X)
    theta_new = theta_old.em_step(X)

    def total(W, b, s2):
        return LinearGaussian(W, b, s2).elbo(X, q.mean, q.covariance_matrix).sum()

    params = [p.clone().requires_grad_() for p in (theta_new.W, theta_new.b, theta_new.sigma2)]
    best = total(*params)
    grad_max = max(g.abs().max().item() for g in torch.autograd.grad(best, params))
    worse = 0
    for i in range(n_perturb):
        # A fresh generator seeded seed + i for each parameter tensor (the same draws of each).
        perturbed = [
            p.detach() * (1 + scale * torch.randn(p.shape, generator=_gen(seed + i), dtype=F64))
            for p in params
        ]
        worse += int(total(*perturbed).item() < best.item())
    chain = [
        theta_new.log_marginal(X).sum().item(),
        best.item(),
        total(theta_old.W, theta_old.b, theta_old.sigma2).item(),
        theta_old.log_marginal(X).sum().item(),
    ]
    return {"grad_max": grad_max, "worse": worse, "chain": chain}


# ----------------------------------------------------------------------------- VA12-VA15
@validate(model=_LG, x=Tensor(ndim=2), mean=Tensor(ndim=2), cov=Tensor(ndim=3))
def elbo_sigma_points(
    model: LinearGaussian, x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor
) -> dict:
    """The exact ELBO of q = N(m, S) in the linear-Gaussian model without its closed forms (VA12).

    For f quadratic in z, E_q[f] is the mean of f over the 2k points m +- sqrt(k) l_i
    (S = L L^T, l_i the columns of L); log p(x|z), log p(z), log q(z) are quadratic in z, and
    their densities come from torch.distributions. x (N, d), mean (N, k), cov (N, k, k).
    Returns (N,) tensors ``elbo`` (VA3 form), ``reconstruction`` (E_q log p(x|z)) and ``kl``
    (KL(q || N(0, I)) by ``torch.distributions.kl_divergence``).
    """
    k = mean.shape[1]
    prior = MultivariateNormal(torch.zeros(k, dtype=F64), torch.eye(k, dtype=F64))
    L = torch.linalg.cholesky(cov)
    offsets = math.sqrt(k) * L.transpose(-2, -1)
    z = torch.cat([mean[:, None] + offsets, mean[:, None] - offsets], 1)  # (N, 2k, k)
    log_lik = Normal(z @ model.W.T + model.b, model.sigma2.sqrt()).log_prob(x[:, None]).sum(-1)
    q = MultivariateNormal(mean[:, None], scale_tril=L[:, None])
    elbo = (log_lik + prior.log_prob(z) - q.log_prob(z)).mean(1)
    return {
        "elbo": elbo,
        "reconstruction": log_lik.mean(1),
        "kl": kl_divergence(MultivariateNormal(mean, cov), prior),
    }


@validate(model=_MODEL, x=Tensor(ndim=2), n_samples=Integer(1), seed=Seed())
def vae_two_forms(model: VAE, x: torch.Tensor, n_samples: int, seed: int) -> dict:
    """The two single-draw ELBO estimates of a Bernoulli VAE by hand with torch.distributions,
    on eps of shape (M, N, k) drawn from a generator seeded ``seed`` (the draws the library
    makes with the same generator): ``log_w`` = log p(x|z) + log p(z) - log q(z|x) (VA3) and
    ``split`` = log p(x|z) - KL(q || N(0, I)) (VA12), each (M, N)."""
    x = _data(model, x)
    with torch.no_grad():
        mu, sigma = model.encoder(x)
        eps = torch.randn((n_samples, *mu.shape), generator=_gen(seed), dtype=model.dtype)
        z = mu + sigma * eps
        log_lik = Bernoulli(probs=model.decoder(z)).log_prob(x).sum(-1)
        log_w = (
            log_lik + Normal(0.0, 1.0).log_prob(z).sum(-1) - Normal(mu, sigma).log_prob(z).sum(-1)
        )
        split = log_lik - kl_divergence(Normal(mu, sigma), Normal(0.0, 1.0)).sum(-1)
    return {"log_w": log_w, "split": split}


@validate(
    model=_LG, x=Tensor(ndim=1), mean=Tensor(ndim=1), cov=Tensor(ndim=2), n=Integer(2), seed=Seed()
)
def variance_of_two_forms(
    model: LinearGaussian, x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor, n: int, seed: int
) -> tuple:
    """A = log p(x|z), B = log q(z) - log p(z), z ~ q = N(mean, cov) (n draws, seed): returns
    (std of A - B (one VA3 draw), std of A (one VA12 draw), var B - 2 cov(A, B)); VA12 has
    the smaller variance iff the last is positive. Densities by torch.distributions."""
    q = MultivariateNormal(mean, cov)
    z = mean + torch.randn((n, len(mean)), generator=_gen(seed), dtype=F64) @ q.scale_tril.T
    A = Normal(z @ model.W.T + model.b, model.sigma2.sqrt()).log_prob(x).sum(-1)
    B = q.log_prob(z) - Normal(0.0, 1.0).log_prob(z).sum(-1)
    C = torch.cov(torch.stack([A, B]))
    return (A - B).std().item(), A.std().item(), (C[1, 1] - 2 * C[0, 1]).item()


@validate(
    model=_LG,
    x=Tensor(ndim=2),
    mu=Tensor(ndim=2),
    sigma=Tensor(ndim=2, low=0),
    M_values=Array(ndim=1, low=1),
    repeats=Integer(2),
    exact=Real(),
    seed=Seed(),
)
def mc_error_curve(
    model: LinearGaussian,
    x: torch.Tensor,
    mu: torch.Tensor,
    sigma: torch.Tensor,
    M_values: np.ndarray,
    repeats: int,
    exact: float,
    seed: int,
) -> tuple:
    """The Monte Carlo estimate (VA13) of E_q log p(x|z), q = N(mu, diag(sigma^2)) (x, mu,
    sigma of shape (1, .)), repeated ``repeats`` times for each M in ``M_values``
    (``reparameterize``, generator seeded seed + i for the i-th M). Returns arrays (len(M),):
    the mean squared error against ``exact`` and its standard error (std of the squared
    errors / sqrt(repeats))."""
    mse, se = [], []
    for i, M in enumerate(M_values):
        z = reparameterize(
            mu.expand(repeats, -1),
            sigma.expand(repeats, -1),
            generator=_gen(seed + i),
            n_samples=int(M),
        )
        est = model.log_likelihood(x.expand(repeats, -1), z).mean(0)
        sq = (est - exact) ** 2
        mse.append(sq.mean().item())
        se.append(sq.std().item() / math.sqrt(repeats))
    return np.array(mse), np.array(se)


@validate(
    M_values=Array(ndim=1), mse=Array(ndim=1), s2=Real(low=0), repeats=Integer(1), slope=Real()
)
def plot_mc_error(M_values: np.ndarray, mse: np.ndarray, s2: float, repeats: int, slope: float):
    """RMSE of the VA13 estimate against M with the closed form s / sqrt(M) (log-log)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.loglog(M_values, np.sqrt(mse), "o", label=f"measured RMSE ({repeats} repeats)")
    ax.loglog(M_values, np.sqrt(s2 / M_values), "k--", lw=1, label="s / sqrt(M) (closed form)")
    ax.set_xlabel("samples per estimate M")
    ax.set_ylabel("RMSE of the reconstruction term")
    ax.set_title(f"Monte Carlo error shrinks like M^(-1/2) (fitted slope {slope:.3f})")
    ax.legend()
    return fig


# ----------------------------------------------------------------------------- VA18, VA19
@validate(
    model=_LG,
    x=Tensor(ndim=2),
    mu=Tensor(ndim=1),
    sigma=Tensor(ndim=1, low=0),
    repeats=Integer(2),
    seed=Seed(),
)
def gradient_estimators(
    model: LinearGaussian,
    x: torch.Tensor,
    mu: torch.Tensor,
    sigma: torch.Tensor,
    repeats: int,
    seed: int,
) -> dict:
    """Single-draw estimates of the gradient of E_q log p(x|z) with respect to (mu, sigma),
    q = N(mu, diag(sigma^2)), x (1, d) (VA18). The same ``repeats`` eps (seed) for all.

    Returns (R, 2k) tensors ``reparameterisation`` (autograd through z = mu + sigma eps),
    ``score function`` (autograd of f(z) log q(z), z fixed), ``score fn. + baseline`` (with
    b = the exact E_q f), ``hand`` (f(z) grad log q written out: eps / sigma, (eps^2 - 1) /
    sigma), and ``exact`` (2k,): autograd of the closed form ``model.reconstruction``.
    """
    m_leaf, s_leaf = mu.clone().requires_grad_(), sigma.clone().requires_grad_()
    exact_obj = model.reconstruction(x, m_leaf[None], torch.diag(s_leaf**2)[None])[0]
    g_exact = torch.cat(torch.autograd.grad(exact_obj, [m_leaf, s_leaf]))
    eps = torch.randn((repeats, len(mu)), generator=_gen(seed), dtype=F64)
    x_R = x.expand(repeats, -1)
    m_rep = mu.expand(repeats, -1).clone().requires_grad_()
    s_rep = sigma.expand(repeats, -1).clone().requires_grad_()
    model.log_likelihood(x_R, m_rep + s_rep * eps).sum().backward()
    m_sc = mu.expand(repeats, -1).clone().requires_grad_()
    s_sc = sigma.expand(repeats, -1).clone().requires_grad_()
    z_fixed = mu + sigma * eps
    f = model.log_likelihood(x_R, z_fixed)
    (f * Normal(m_sc, s_sc).log_prob(z_fixed).sum(-1)).sum().backward()
    score = torch.cat([eps / sigma, (eps**2 - 1) / sigma], 1)
    return {
        "exact": g_exact.detach(),
        "reparameterisation": torch.cat([m_rep.grad, s_rep.grad], 1),
        "score function": torch.cat([m_sc.grad, s_sc.grad], 1),
        "hand": f[:, None] * score,
        "score fn. + baseline": (f - exact_obj.item())[:, None] * score,
    }


@validate(grads=Instance(dict))
def plot_gradient_estimators(grads: dict):
    """Histograms of the single-draw estimates of d E_q[log p(x|z)] / d mu_1 of the three
    estimators of ``gradient_estimators`` (its dict), with the exact gradient."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    first = {name: g[:, 0].detach().numpy() for name, g in grads.items() if name != "exact"}
    lo, hi = np.percentile(first["score function"], [1, 99])
    bins = np.linspace(lo, hi, 120)
    ax.hist(first["score function"], bins=bins, density=True, alpha=0.5, label="score function")
    ax.hist(
        first["score fn. + baseline"],
        bins=bins,
        density=True,
        alpha=0.5,
        label="score function + baseline",
    )
    ax.hist(
        first["reparameterisation"], bins=bins, density=True, alpha=0.7, label="reparameterisation"
    )
    ax.axvline(grads["exact"][0].item(), color="k", ls="--", lw=1.5, label="exact gradient")
    ax.set_xlabel(r"single-draw estimate of $\partial\, E_q[\log p(x|z)] / \partial \mu_1$")
    ax.set_ylabel("density")
    ax.legend(fontsize=9)
    return fig


def _printed_loss(model, x, generator):
    # The source's J, literally: -||x - mu_G||^2 + KL(N(mu_I, diag(sigma_I)) || N(0, I)).
    mu, sigma = model.encoder(x)
    mu_G = model.decoder(reparameterize(mu, sigma, generator=generator))
    kl_printed = 0.5 * (sigma + mu**2 - 1 - torch.log(sigma)).sum(-1)
    return -(-((x - mu_G) ** 2).sum(-1) + kl_printed).mean()


def _sign_only_loss(model, x, generator):
    # log N(x | mu_G, I) + KL(N(mu_I, sigma_I^2 I) || N(0, I)): only the sign of the KL is wrong.
    _, rec, kl = model.elbo(x, generator=generator, return_terms=True)
    return -(rec + kl).mean()


@validate(X=Tensor(ndim=2), steps=Integer(1), n_eval=Integer(1), seed=Seed())
def sign_experiment(X: torch.Tensor, steps: int = 300, n_eval: int = 200, seed: int = 191) -> dict:
    """Train a Gaussian-likelihood VAE (sigma^2 = 1, k = 2, 32 hidden, seed 2) on the grey
    digits X (N, 64) with three objectives (VA19): the source's printed one, the one with only
    the sign of the KL wrong, and eq. VA19 (``elbo_loss()``). ``training.fit``: ``steps`` Adam
    steps (lr 3e-3) on batches of 100 drawn with replacement, the same seed for all three.
    Every 10 steps the true ELBO and its KL term are measured on the first ``n_eval`` rows (one
    draw each, generator seeded 193). Returns {name: array (steps / 10, 3)} with columns step,
    KL, true ELBO (means over the rows)."""
    X = X.to(torch.float32)

    def measure(step, model, g_eval):
        with torch.no_grad():
            elbo, _, kl = model.elbo(X[:n_eval], generator=g_eval, return_terms=True)
        return {"true_kl": kl.mean().item(), "true_elbo": elbo.mean().item()}

    runs = {}
    for name, loss in (
        ("printed", _printed_loss),
        ("sign only", _sign_only_loss),
        ("corrected", elbo_loss()),
    ):
        model = VAE(X.shape[1], n_latent=2, n_hidden=32, likelihood="gaussian", sigma2=1.0, seed=2)
        g_eval = _gen(193)
        h = fit(
            model,
            X,
            loss,
            steps=steps,
            batch_size=100,
            lr=3e-3,
            seed=seed,
            callback=lambda step, model, g_eval=g_eval: measure(step, model, g_eval),
            callback_every=10,
        )
        runs[name] = np.column_stack([h["true_kl_at"], h["true_kl"], h["true_elbo"]])
    return runs


@validate(runs=Instance(dict))
def plot_sign_experiment(runs: dict):
    """KL term (log scale) and true ELBO against the training step for the runs of
    ``sign_experiment``."""
    labels = {
        "printed": "printed: -||x - mu_G||^2 + KL",
        "sign only": "sign only: log N(x | mu_G, I) + KL",
        "corrected": "eq. VA19: log N(x | mu_G, I) - KL",
    }
    styles = {"printed": ("C3", "-"), "sign only": ("C1", "--"), "corrected": ("C0", "-")}
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.6))
    for name, r in runs.items():
        colour, ls = styles.get(name, ("C2", ":"))
        for ax, col in zip(axes, (1, 2)):
            ax.plot(
                r[:, 0],
                r[:, col],
                color=colour,
                ls=ls,
                lw=2 if ls == "-" else 1.5,
                label=labels.get(name, name),
            )
    axes[0].set_yscale("log")
    axes[0].set_ylabel("KL(q(z|x) || N(0, I))")
    axes[1].set_ylabel("true ELBO (nats)")
    for ax in axes:
        ax.set_xlabel("training step")
    axes[0].legend(fontsize=8, loc="center right")
    axes[0].set_title("the flipped sign drives q away from the prior")
    axes[1].set_title("and lowers the objective it should raise")
    return fig


# ----------------------------------------------------------------------------- digits
@validate(history8=Instance(dict), history2=Instance(dict))
def plot_training_curves(history8: dict, history2: dict):
    """Training and held-out ELBO and the KL term per epoch of two ``fit`` histories
    (k = 8 and k = 2)."""
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.6), sharey=True)
    for ax, (name, h) in zip(axes, (("k = 8", history8), ("k = 2", history2))):
        ax.plot(h["epoch"], h["elbo"], label="training (during the epoch)")
        ax.plot(h["epoch"], h["val_elbo"], label="held-out")
        ax.plot(h["epoch"], -np.asarray(h["kl"]), ":", color="0.4", label="- KL term (training)")
        ax.set_title(f"VAE with {name} latent dimensions")
        ax.set_xlabel("epoch")
    ax.set_ylim(-45, 0)
    axes[0].set_ylabel("ELBO per image (nats)")
    axes[0].legend()
    return fig


@validate(model=_MODEL, X=Tensor(ndim=2), seed=Seed())
def plot_reconstructions(model: VAE, X: torch.Tensor, seed: int = 300):
    """16 held-out digits X[:16] with their reconstructions mu_G(mu_I(x)), and 32 prior
    samples mu_G(z), z ~ N(0, I) (generator seeded ``seed``)."""
    with torch.no_grad():
        show = _data(model, X[:16])
        recon = model.reconstruct(show)
        prior_means = model.sample(32, generator=_gen(seed), mean=True)
    fig, axes = plt.subplots(2, 1, figsize=(9, 3.9))
    image_grid(np.vstack([show.numpy(), recon.numpy()]), ncols=16, ax=axes[0])
    axes[0].set_title(
        "held-out digits (top row) and their reconstructions mu_G(mu_I(x)) (bottom row), k = 8"
    )
    image_grid(prior_means.numpy(), ncols=16, ax=axes[1])
    axes[1].set_title("samples from the prior: mu_G(z), z ~ N(0, I)")
    return fig


@validate(codes=Array(ndim=2), labels=Array(ndim=1))
def latent_layout(codes: np.ndarray, labels: np.ndarray) -> dict:
    """Where the digits sit in a latent space: codes (N, k), labels (N,) in 0..9. Returns the
    per-digit median codes ``medians`` (10, k), their distances ``dist`` (10,) to the median
    of all codes, and ``accuracy``: the fraction of codes closest to their own digit's median."""
    medians = np.array([np.median(codes[labels == c], axis=0) for c in range(10)])
    dist = np.linalg.norm(medians - np.median(codes, axis=0), axis=1)
    nearest = np.argmin(((codes[:, None, :] - medians[None]) ** 2).sum(-1), axis=1)
    return {"medians": medians, "dist": dist, "accuracy": float(np.mean(nearest == labels))}


@validate(
    model=_MODEL,
    X_train=Tensor(ndim=2),
    y_train=Array(ndim=1),
    X_test=Tensor(ndim=2),
    y_test=Array(ndim=1),
)
def plot_latent(model: VAE, X_train, y_train, X_test, y_test):
    """Left: the posterior means mu_I of a k = 2 model (training dots, held-out crosses) coloured
    by digit, each digit at its median; right: a 12 x 12 grid of prior quantiles decoded."""
    with torch.no_grad():
        mu_tr = model.encode(_data(model, X_train))[0].numpy()
        mu_te = model.encode(_data(model, X_test))[0].numpy()
        grid_q = stats.norm.ppf(np.linspace(0.04, 0.96, 12))
        zz = torch.tensor(
            np.array([[a, b] for b in grid_q[::-1] for a in grid_q]), dtype=model.dtype
        )
        manifold = model.decode(zz)
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.4))
    axes[0].scatter(*mu_tr.T, c=y_train, cmap="tab10", s=6, alpha=0.7)
    axes[0].scatter(*mu_te.T, c=y_test, cmap="tab10", s=22, marker="x")
    for digit in range(10):
        centre = np.median(mu_tr[y_train == digit], axis=0)
        axes[0].text(
            *centre,
            str(digit),
            fontsize=14,
            weight="bold",
            ha="center",
            va="center",
            bbox=dict(boxstyle="round", fc="white", alpha=0.7),
        )
    axes[0].set_xlabel("$\\mu_{I,1}$")
    axes[0].set_ylabel("$\\mu_{I,2}$")
    axes[0].set_title("k = 2: posterior means (dots: training, x: held-out)")
    image_grid(manifold.numpy(), ncols=12, ax=axes[1])
    axes[1].set_title("decoded grid of z (prior quantiles 0.04 ... 0.96)")
    return fig


@validate(model=_MODEL, X=Tensor(ndim=2), y=Array(ndim=1))
def plot_interpolation(model: VAE, X: torch.Tensor, y: np.ndarray):
    """Linear interpolation mu_G((1 - t) mu_a + t mu_b) between the first held-out 0 and 6,
    1 and 7, 3 and 8 (10 steps each, with the two end images)."""
    X = _data(model, X)
    rows = []
    with torch.no_grad():
        for a, b in ((0, 6), (1, 7), (3, 8)):
            i, j = int(np.flatnonzero(y == a)[0]), int(np.flatnonzero(y == b)[0])
            ends, _ = model.encode(X[[i, j]])
            t = torch.linspace(0, 1, 10, dtype=model.dtype)[:, None]
            rows.append(
                np.vstack(
                    [
                        X[i].numpy(),
                        model.decode((1 - t) * ends[0] + t * ends[1]).numpy(),
                        X[j].numpy(),
                    ]
                )
            )
    fig, ax = plt.subplots(figsize=(10, 3.2))
    image_grid(np.vstack(rows), ncols=12, ax=ax)
    ax.set_title("interpolation in latent space (k = 8): x_a, mu_G((1 - t) mu_a + t mu_b), x_b")
    return fig


# ----------------------------------------------------------------------------- importance weighting
@validate(
    model=_LG,
    x=Tensor(ndim=2),
    c=Real(low=0, open=True),
    K_max=Integer(1),
    blocks=Integer(2),
    n_post=Integer(2),
    seed=Seed(),
)
def iw_linear_gaussian(
    model: LinearGaussian,
    x,
    c: float = 1.5,
    K_max: int = 4096,
    blocks: int = 1000,
    n_post: int = 1_000_000,
    seed: int = 420,
) -> dict:
    """The importance-weighted bound L_K in the linear-Gaussian model, where log p(x) is exact.

    Proposal q = N(m_p + s_p, c lambda_max I) (m_p, s_p the posterior mean and standard
    deviations, lambda_max the largest eigenvalue of the posterior covariance), x (1, d).
    Draws blocks * K_max z ~ q (seed) and n_post posterior draws (seed + 1). Returns
    ``log_px``; ``log_w`` (blocks * K_max,) = log p(x, z) - log q(z); ``log_w_sup`` = log sup
    w / p(x) at ``z_star`` (k,) (the stationary point of a concave quadratic), the proposal
    ``q`` (MultivariateNormal); ``min_eig`` of Lambda_p - Lambda_q;
    ``kl`` = KL(q || posterior) (torch.distributions); ``chi2`` = E_post[p/q] - 1 and its
    standard error ``chi2_se``; ``c3`` = E_post r^2 - 3 E_post r + 2 and ``c3_direct`` (mean of
    (r - 1)^3 under q) with its standard error ``c3_se``.
    """
    post = model.posterior(x)
    m_p, S_p = post.mean[0], post.covariance_matrix[0]
    k = len(m_p)
    S_q = c * torch.linalg.eigvalsh(S_p).max() * torch.eye(k, dtype=F64)
    m_q = m_p + S_p.diagonal().sqrt()
    q, p = MultivariateNormal(m_q, S_q), MultivariateNormal(m_p, S_p)
    Lam_p, Lam_q = torch.linalg.inv(S_p), torch.linalg.inv(S_q)
    z_star = torch.linalg.solve(Lam_p - Lam_q, Lam_p @ m_p - Lam_q @ m_q)
    log_px = model.log_marginal(x).item()
    z = m_q + torch.randn((blocks * K_max, k), generator=_gen(seed), dtype=F64) @ q.scale_tril.T
    log_w = model.log_joint(x.expand(len(z), -1), z) - q.log_prob(z)
    z_post = m_p + torch.randn((n_post, k), generator=_gen(seed + 1), dtype=F64) @ p.scale_tril.T
    ratio = torch.exp(p.log_prob(z_post) - q.log_prob(z_post))
    cubed = (torch.exp(log_w - log_px) - 1) ** 3
    return {
        "log_px": log_px,
        "log_w": log_w,
        "log_w_sup": (p.log_prob(z_star) - q.log_prob(z_star)).item(),
        "z_star": z_star,
        "q": q,
        "min_eig": torch.linalg.eigvalsh(Lam_p - Lam_q).min().item(),
        "kl": kl_divergence(q, p).item(),
        "chi2": ratio.mean().item() - 1,
        "chi2_se": ratio.std().item() / math.sqrt(n_post),
        "c3": (ratio**2).mean().item() - 3 * ratio.mean().item() + 2,
        "c3_direct": cubed.mean().item(),
        "c3_se": cubed.std().item() / math.sqrt(len(cubed)),
    }


@validate(log_w=Tensor(ndim=(1, 2)), K_values=Sizes())
def iw_blocks(log_w: torch.Tensor, K_values: tuple) -> dict:
    """E[L_K] estimates from one set of log-weights: the draws (first axis, length a multiple
    of every K) are split into disjoint blocks of K, L_K = logsumexp(block) - log K per block.
    log_w (S,) or (S, N). Returns {K: tensor (S / K,) or (S / K, N)} of the blocks' L_K."""
    return {
        K: torch.logsumexp(log_w.reshape(-1, K, *log_w.shape[1:]), 1) - math.log(K)
        for K in K_values
    }


@validate(K=Array(ndim=1), gaps=Array(ndim=1), se=Array(ndim=1), chi2=Real())
def plot_iw_gap(K: np.ndarray, gaps: np.ndarray, se: np.ndarray, chi2: float):
    """log p(x) - mean L_K against K (2 SE bars) with the delta method's chi^2 / (2K)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.errorbar(K, gaps, yerr=2 * se, fmt="o", label="log p(x) - mean L_K (2 SE bars)")
    K_line = np.logspace(0, np.log10(K.max()), 100)
    ax.plot(K_line, chi2 / (2 * K_line), "k--", lw=1, label="chi^2 / (2K) (delta method)")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_xlabel("number of importance samples K")
    ax.set_ylabel("gap to the exact log p(x) (nats)")
    ax.set_title("linear-Gaussian model: the IWAE gap closes like 1/K")
    ax.legend(fontsize=9)
    return fig


@validate(K=Array(ndim=1), means=Array(ndim=1), elbo=Real())
def plot_iw_bound(K: np.ndarray, means: np.ndarray, elbo: float):
    """The held-out mean of L_K against K, with the held-out ELBO."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.semilogx(K, means, "o-", label="E[L_K], held-out mean")
    ax.axhline(elbo, color="C3", ls="--", label="ELBO, held-out mean")
    ax.set_xlabel("number of importance samples K")
    ax.set_ylabel("nats per image")
    ax.set_title("the importance-weighted bound tightens with K")
    ax.legend(fontsize=9)
    return fig
