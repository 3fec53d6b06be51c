"""Experiments and figures of the chapter on density estimation (chapter 03; see
experiments/__init__.py).

The harnesses of ``notebooks/03_density_estimation.ipynb``: the autograd gradient and a
generic optimiser of the Gaussian log-likelihood (DE2's independent references), the
convexity of eta^T Lambda^-1 eta, the EM runs of the latent-variable example, the Monte Carlo
errors of the Gaussian and multinomial maximum-likelihood fits and the samples they need
(erratum DE2), the histogram-vs-multinomial inequality, the Parzen estimates written from
their definitions (DE3, DE7-DE9), the histogram estimate's sampling distribution (DE6), the
Gaussian-kernel MISE experiments (de-amise), the accuracy of scikit-learn's KernelDensity,
the kNN estimate's integral (DE10), and the chapter's figures. The checks themselves stay in
the notebook; what is computed here is evidence.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import integrate, optimize, stats
from scipy.special import gammaln, logsumexp
from sklearn.mixture import GaussianMixture as EMGaussianMixture
from sklearn.neighbors import KernelDensity

from .._validation import (
    Array,
    Flag,
    Function,
    Instance,
    Integer,
    Real,
    RngSeed,
    Sizes,
    Text,
    validate,
)
from ..datasets import GaussianMixture
from ..density import (
    HistogramDensity,
    KNNDensity,
    ParzenWindow,
    binomial_pmf,
    gaussian_mle,
    hypercube_kernel,
)
from ..divergences import gaussian_kl
from ..plotting import plot_density_1d

__all__ = [
    "loglik_gradient",
    "location_log_likelihoods",
    "mle_by_bfgs",
    "convexity_gaps",
    "kl_to_moment_matched_gaussian",
    "em_fits",
    "gaussian_fit_errors",
    "table_errors",
    "samples_needed",
    "histogram_bin_gaps",
    "cube_estimate",
    "cube_box_integral",
    "gaussian_kernel_box_integral",
    "histogram_estimates_at",
    "ise_experiment",
    "roughness_laplacian",
    "min_log_mise",
    "n_needed_mise",
    "kde_accuracy",
    "knn_integrals",
    "curse_levels",
    "curse_samples_needed",
    "cube_estimate_integral",
    "plane_integral",
    "heldout_curves",
    "n_needed_grid",
    "ball_volume_mc",
    "histogram_integrals",
    "window_counts_loop",
    "windows_per_sample",
    "format_table",
    "box_counts",
    "fraction_moments",
    "hypercube_grid_integral",
    "plot_underflow",
    "plot_model_choice",
    "plot_latent",
    "plot_samples_needed",
    "plot_binomial",
    "plot_convergence",
    "plot_histograms",
    "plot_bandwidths",
    "plot_bandwidth_selection",
    "plot_comparison",
]

_POS = Real(low=0, open=True)
_RNG = Instance(np.random.Generator)


# ------------------------------------------------------------------ parametric (DE1, DE2)
@validate(X=Array(ndim=2), mean=Array(ndim=1), cov=Array(ndim=2))
def loglik_gradient(X: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> tuple:
    """Gradient of sum_n log N(x^(n) | mean, cov) by autograd of torch.distributions
    (independent of the library): returns (d l / d mean (d,), d l / d cov (d, d)). X (N, d)."""
    loc = torch.tensor(mean, requires_grad=True)
    cov_t = torch.tensor(cov, requires_grad=True)
    dist = torch.distributions.MultivariateNormal(loc, covariance_matrix=cov_t)
    dist.log_prob(torch.from_numpy(X)).sum().backward()
    return loc.grad.numpy(), cov_t.grad.numpy()


@validate(x=Array(ndim=1), mu_grid=Array(ndim=1))
def location_log_likelihoods(x: np.ndarray, mu_grid: np.ndarray) -> tuple:
    """Erratum DE1: for a 1-D location model with unit scale, sum_n log F(x^(n) - mu) (F the
    normal CDF, SciPy's logcdf) and sum_n log N(x^(n) | mu, 1), each of shape (len(mu_grid),)."""
    diff = x[None, :] - mu_grid[:, None]
    ll_cdf = stats.norm.logcdf(diff).sum(axis=1)
    ll_pdf = stats.norm.logpdf(diff).sum(axis=1)
    return ll_cdf, ll_pdf


@validate(X=Array(ndim=2), gtol=_POS)
def mle_by_bfgs(X: np.ndarray, gtol: float = 1e-9) -> dict:
    """DE2 without the closed form: BFGS (SciPy) on the mean negative log-likelihood
    -(1/N) sum_n log N(x^(n) | mu, L L^T), written here from the Gaussian density, with the
    Cholesky factor's diagonal as exponentials (unconstrained), started from zeros.

    Returns {"mean": (d,), "cov": (d, d), "fun": the minimum, "nit": iterations}.
    """
    N, d = X.shape
    rows, cols = np.tril_indices(d)
    diag = rows == cols

    def unpack(theta):
        entries = np.where(diag, np.exp(theta[d:]), theta[d:])
        L = np.zeros((d, d))
        L[rows, cols] = entries
        return theta[:d], L

    def mean_nll(theta):
        mu, L = unpack(theta)
        z = np.linalg.solve(L, (X - mu).T)
        return (
            0.5 * d * np.log(2 * np.pi)
            + np.log(np.diag(L)).sum()
            + 0.5 * np.mean(np.sum(z * z, axis=0))
        )

    res = optimize.minimize(
        mean_nll, np.zeros(d + d * (d + 1) // 2), method="BFGS", options={"gtol": gtol}
    )
    mu, L = unpack(res.x)
    return {"mean": mu, "cov": L @ L.T, "fun": float(res.fun), "nit": int(res.nit)}


@validate(
    n_pairs=Integer(minimum=1),
    dim=Integer(minimum=1),
    seed=RngSeed(),
    f=Function("f(eta, Lambda) -> float", none=True),
)
def convexity_gaps(n_pairs: int, dim: int = 3, seed: int = 22, f: Callable | None = None):
    """(f(a) + f(b))/2 - f((a + b)/2) for f(eta, Lambda) = eta^T Lambda^-1 eta (or the given
    ``f``) on n_pairs random pairs (eta ~ 3 N(0, I), Lambda = A A^T + 0.05 I): non-negative
    iff f is jointly convex on these points (DE2, step 5(c)). Returns shape (n_pairs,)."""
    rng = np.random.default_rng(seed)
    if f is None:

        def f(eta, lam):
            return eta @ np.linalg.solve(lam, eta)

    gaps = np.empty(n_pairs)
    for i in range(n_pairs):
        pair = []
        for _ in range(2):
            A = rng.standard_normal((dim, dim))
            pair.append((rng.standard_normal(dim) * 3, A @ A.T + 0.05 * np.eye(dim)))
        (e1, L1), (e2, L2) = pair
        gaps[i] = 0.5 * (f(e1, L1) + f(e2, L2)) - f((e1 + e2) / 2, (L1 + L2) / 2)
    return gaps


@validate(mixture=Instance(GaussianMixture))
def kl_to_moment_matched_gaussian(mixture: GaussianMixture) -> float:
    """KL(p || N(m, v)) for a 1-D mixture p and the Gaussian with p's mean m = sum_k w_k mu_k and
    variance v = sum_k w_k (s_k^2 + mu_k^2) - m^2 (the N -> infinity limit of one Gaussian's ML
    fit): int p log(p / N(m, v)) over [-20, 20] (quad, epsabs 1e-12)."""
    w, mu, var = mixture.weights, mixture.means[:, 0], mixture.covs[:, 0, 0]
    m = float(np.sum(w * mu))
    v = float(np.sum(w * (var + mu**2)) - m**2)

    def p(t):
        return float(mixture.pdf(np.array([[t]]))[0])

    def integrand(t):
        return p(t) * (np.log(p(t)) - stats.norm.logpdf(t, m, np.sqrt(v)))

    return float(integrate.quad(integrand, -20, 20, epsabs=1e-12, limit=200)[0])


@validate(
    X=Array(ndim=2),
    X_test=Array(ndim=2),
    n_components=Integer(minimum=1),
    n_starts=Integer(minimum=1),
)
def em_fits(X: np.ndarray, X_test: np.ndarray, n_components: int, n_starts: int = 5) -> dict:
    """EM (scikit-learn) from random responsibilities, seeds 0..n_starts-1, tol 1e-6: the best
    held-out mean log-likelihood "ll" and the iterations "iters" (n_starts,); and the seed-0
    start with the default tol 1e-3: "ll_early", "iter_early", "means_early" (K, d)."""
    runs = [
        EMGaussianMixture(
            n_components=n_components, init_params="random", tol=1e-6, max_iter=1000, random_state=s
        ).fit(X)
        for s in range(n_starts)
    ]
    early = EMGaussianMixture(n_components=n_components, init_params="random", random_state=0).fit(
        X
    )
    return {
        "ll": float(max(run.score(X_test) for run in runs)),
        "iters": np.array([run.n_iter_ for run in runs]),
        "ll_early": float(early.score(X_test)),
        "iter_early": int(early.n_iter_),
        "means_early": early.means_,
    }


# ------------------------------------------------------------ the curse (erratum DE2)
@validate(d=Integer(minimum=1), n=Integer(minimum=2), reps=Integer(minimum=1), rng=_RNG)
def gaussian_fit_errors(d: int, n: int, reps: int, rng: np.random.Generator) -> np.ndarray:
    """2 KL(N(0, I_d) || N(mu_hat, Sigma_hat)) for reps data sets of n standard normal samples,
    (mu_hat, Sigma_hat) from the library's gaussian_mle (batched) and the KL from
    divergences.gaussian_kl (VA16). Returns shape (reps,)."""
    if n <= d:
        raise ValueError(f"n must exceed d = {d} (else Sigma_hat is singular); got n = {n}")
    X = rng.standard_normal((reps, n, d))
    mu, cov = gaussian_mle(X)
    return 2 * gaussian_kl(np.zeros(d), np.eye(d), mu, cov)


@validate(
    d=Integer(minimum=1),
    n=Integer(minimum=1),
    reps=Integer(minimum=1),
    rng=_RNG,
    m_bins=Integer(minimum=2),
)
def table_errors(d: int, n: int, reps: int, rng: np.random.Generator, m_bins: int = 3):
    """Cell-level chi-square sum_cells (K/N - P)^2 / P of the multinomial MLE K/N on the m^d
    equal-probability cells of N(0, I_d) (each axis cut at the normal quantiles j/m), for
    reps data sets of n samples. Returns shape (reps,)."""
    edges = stats.norm.ppf(np.arange(1, m_bins) / m_bins)
    cells = m_bins**d
    X = rng.standard_normal((reps, n, d))
    cell = (np.searchsorted(edges, X) * m_bins ** np.arange(d)).sum(axis=-1)
    counts = np.bincount(
        (cell + cells * np.arange(reps)[:, None]).ravel(), minlength=reps * cells
    ).reshape(reps, cells)
    P = 1.0 / cells
    return (((counts / n - P) ** 2) / P).sum(axis=1)


def _crossing(n_prev, e_prev, n, e, tau):
    t = np.log(e_prev / tau) / np.log(e_prev / e)
    return float(np.exp(np.log(n_prev) + t * np.log(n / n_prev)))


@validate(
    error=Function("error(d, n, reps, rng) -> (reps,)"),
    d=Integer(minimum=1),
    n0=Integer(minimum=1),
    reps=Integer(minimum=2),
    seed=Integer(minimum=0),
    tau=_POS,
    exact=Function("exact(d, n) -> mean error", none=True),
)
def samples_needed(
    error: Callable,
    d: int,
    n0: int,
    reps: int,
    seed: int,
    tau: float = 0.1,
    exact: Callable | None = None,
) -> dict:
    """N*: where the Monte Carlo mean error first falls to tau on the grid n0 * 2^(j/2), seeds
    [seed, d, j], log-interpolated between the two bracketing grid points. Returns "n",
    "rel_se" (the larger relative standard error of the two bracketing means) and, with
    ``exact``, "n_exact_grid" (the same interpolation on the exact means) and "z" (2,), the
    bracketing means' z-scores against the exact means."""
    previous = None
    for j in range(60):
        n = int(np.ceil(n0 * 2 ** (j / 2)))
        v = error(d, n, reps, np.random.default_rng([seed, d, j]))
        e, se = v.mean(), v.std(ddof=1) / np.sqrt(reps)
        if e <= tau and previous is None:
            raise ValueError(f"n0: the mean error at n0 = {n} is already <= tau; start lower")
        if e <= tau:
            n_prev, e_prev, se_prev = previous
            out = {
                "n": _crossing(n_prev, e_prev, n, e, tau),
                "rel_se": max(se_prev / e_prev, se / e),
            }
            if exact is not None:
                x_prev, x = exact(d, n_prev), exact(d, n)
                out["n_exact_grid"] = _crossing(n_prev, x_prev, n, x, tau)
                out["z"] = np.array([(e_prev - x_prev) / se_prev, (e - x) / se])
            return out
        previous = (n, e, se)
    raise RuntimeError("grid too short")


@validate(n_sets=Integer(minimum=1), n=Integer(minimum=1), width=_POS, origin=Real())
def histogram_bin_gaps(n_sets: int, n: int = 60, width: float = 0.5, origin: float = -3.0):
    """Steps 1-3 of the histogram's lower bound on 1-D standard normal data (seeds [9, s]): for
    each data set and occupied bin c of HistogramDensity(width, origin), int_c (p_hat - p)^2 / p
    (quad) minus (P_hat_c - P_c)^2 / P_c (P_c from SciPy's normal CDF). Returns (gaps, exact):
    two 1-D arrays, ``exact`` the same gaps by the identity P_hat_c^2 (int_c 1/p / w^2 - 1/P_c)
    (expanding both squares; int_c 1/p by quad), which pins both sides of the bound."""
    gaps, exact = [], []
    for s in range(n_sets):
        x = np.random.default_rng([9, s]).standard_normal((n, 1))
        est = HistogramDensity(width, origin=[origin]).fit(x)
        for key, count in est.counts_.items():
            lo = origin + key[0] * width
            c_hat = est.density(np.array([[lo + width / 2]]))[0]
            P_c = stats.norm.cdf(lo + width) - stats.norm.cdf(lo)
            lhs = integrate.quad(
                lambda t, c=c_hat: (c - stats.norm.pdf(t)) ** 2 / stats.norm.pdf(t),
                lo,
                lo + width,
                epsabs=1e-13,
                epsrel=1e-12,
            )[0]
            gaps.append(lhs - (count / n - P_c) ** 2 / P_c)
            inv_p = integrate.quad(lambda t: 1 / stats.norm.pdf(t), lo, lo + width, epsrel=1e-12)[0]
            exact.append((count / n) ** 2 * (inv_p / width**2 - 1 / P_c))
    return np.array(gaps), np.array(exact)


# ------------------------------------------------------- Parzen estimates by definition (DE3)
@validate(X=Array(ndim=2), Q=Array(ndim=2), h=_POS)
def cube_estimate(X: np.ndarray, Q: np.ndarray, h: float) -> np.ndarray:
    """Hypercube estimate K / (N h^d) at the queries Q (M, d), K counted pairwise with DE7's
    strict inequality (no library call). Returns shape (M,)."""
    inside = np.all(np.abs(Q[:, None, :] - X[None, :, :]) < h / 2, axis=-1)
    return inside.sum(axis=1) / (len(X) * h ** X.shape[1])


@validate(X=Array(ndim=2), h=_POS, lower=Array(ndim=1), upper=Array(ndim=1))
def cube_box_integral(X: np.ndarray, h: float, lower: np.ndarray, upper: np.ndarray) -> float:
    """int over the box [lower, upper] of the hypercube estimate: it is constant between the
    breakpoints x^(n)_i +- h/2 (and the box edges) of each axis, so the midpoint rule on that
    grid is exact up to rounding."""
    if not len(lower) == len(upper) == X.shape[1]:
        raise ValueError(
            f"lower and upper need d = {X.shape[1]} entries; got {len(lower)}, {len(upper)}"
        )
    if np.any(np.asarray(lower) >= np.asarray(upper)):
        raise ValueError(f"lower must be < upper in every coordinate; got {lower}, {upper}")
    mids, widths = [], []
    for i in range(X.shape[1]):
        b = np.concatenate([X[:, i] - h / 2, X[:, i] + h / 2, [lower[i], upper[i]]])
        b = np.unique(b[(b >= lower[i]) & (b <= upper[i])])
        mids.append((b[1:] + b[:-1]) / 2)
        widths.append(np.diff(b))
    grid = np.stack(np.meshgrid(*mids, indexing="ij"), axis=-1).reshape(-1, X.shape[1])
    cell = np.prod(
        np.stack(np.meshgrid(*widths, indexing="ij"), axis=-1).reshape(-1, X.shape[1]), axis=1
    )
    return float(np.sum(cube_estimate(X, grid, h) * cell))


@validate(X=Array(ndim=2), h=_POS, lower=Array(ndim=1), upper=Array(ndim=1), tol=_POS)
def gaussian_kernel_box_integral(
    X: np.ndarray, h: float, lower: np.ndarray, upper: np.ndarray, tol: float
) -> float:
    """int over the box [lower, upper] (d = 1 or 2) of the Gaussian-kernel estimate written
    from its definition, (1/N) sum_n prod_i N(x_i | x^(n)_i, h^2) with SciPy's normal pdf, by
    quad (d = 1) or dblquad (d = 2) with epsabs = epsrel = tol."""

    def p(*coords):
        return np.mean(
            np.prod([stats.norm.pdf(c, X[:, i], h) for i, c in enumerate(coords)], axis=0)
        )

    if X.shape[1] == 1:
        return float(integrate.quad(p, lower[0], upper[0], epsabs=tol, epsrel=tol)[0])
    if X.shape[1] == 2:
        return float(
            integrate.dblquad(
                lambda y, x: p(x, y), lower[0], upper[0], lower[1], upper[1], epsabs=tol, epsrel=tol
            )[0]
        )
    raise ValueError(f"X must have 1 or 2 columns; got shape {X.shape}")


# ------------------------------------------------------------------------- DE6
@validate(
    mixture=Instance(GaussianMixture),
    x0=Real(),
    n=Integer(minimum=1),
    h=_POS,
    sets=Integer(minimum=1),
    seed=RngSeed(),
)
def histogram_estimates_at(
    mixture: GaussianMixture, x0: float, n: int, h: float, sets: int, seed: int
) -> np.ndarray:
    """The library's K / (N h) at x0: HistogramDensity(h, origin=x0 - h/2) fitted to each of
    ``sets`` data sets of n samples from a 1-D mixture (one draw of sets * n, seed). (sets,)."""
    x_sets = mixture.sample(sets * n, seed=seed).reshape(sets, n, 1)
    return np.array(
        [
            HistogramDensity(h, origin=[x0 - h / 2]).fit(xs).density(np.array([[x0]]))[0]
            for xs in x_sets
        ]
    )


# ---------------------------------------------------------------- the MISE (de-amise)
@validate(
    d=Integer(minimum=1),
    h=_POS,
    n=Integer(minimum=1),
    reps=Integer(minimum=2),
    half=_POS,
    n_grid=Integer(minimum=2),
    seed=RngSeed(),
)
def ise_experiment(
    d: int, h: float, n: int, reps: int, half: float, n_grid: int, seed: int
) -> dict:
    """ISE int (p_hat - p)^2 of the library's Gaussian-kernel ParzenWindow(h) on reps data sets
    of n samples of N(0, I_d) (trapezoid rule on the grid [-half, half]^d of n_grid points per
    axis). Returns "ise" (reps,), "grid" (G, d), "mean" and "sd" (G,), the estimates' pointwise
    mean and standard deviation (ddof 1) over the data sets."""
    axis = np.linspace(-half, half, n_grid)
    G = np.stack(np.meshgrid(*[axis] * d, indexing="ij"), axis=-1).reshape(-1, d)
    p_G = stats.multivariate_normal(np.zeros(d), np.eye(d)).pdf(G).reshape([n_grid] * d)
    rng = np.random.default_rng(seed)
    ise, p_hats = [], []
    for _ in range(reps):
        est = ParzenWindow(h, kernel="gaussian").fit(rng.standard_normal((n, d)))
        p_hats.append(est.density(G))
        sq = (p_hats[-1].reshape([n_grid] * d) - p_G) ** 2
        for _ in range(d):
            sq = integrate.trapezoid(sq, axis, axis=0)
        ise.append(sq)
    p_hats = np.array(p_hats)
    return {"ise": np.array(ise), "grid": G, "mean": p_hats.mean(0), "sd": p_hats.std(0, ddof=1)}


@validate(d=Integer(minimum=1))
def roughness_laplacian(d: int) -> float:
    """int (laplacian p)^2 dx for p = N(0, I_d), by shells: laplacian p = p (r^2 - d), shell
    area d V_d r^(d-1) (quad, epsrel 1e-13)."""
    shell = d * np.pi ** (d / 2) / np.exp(gammaln(d / 2 + 1))

    def f(r):
        return (
            ((2 * np.pi) ** (-d / 2) * np.exp(-r * r / 2) * (r * r - d)) ** 2 * shell * r ** (d - 1)
        )

    return float(integrate.quad(f, 0, np.inf, epsabs=1e-14, epsrel=1e-13)[0])


@validate(mise=Function("mise(h, N, d)"), n=_POS, d=Integer(minimum=1))
def min_log_mise(mise: Callable, n: float, d: int) -> float:
    """min over h of log mise(h, n, d) (bounded scalar search over log h in [-10, 2])."""
    return _min_log_mise(mise, n, d)


def _min_log_mise(mise, n, d):
    res = optimize.minimize_scalar(
        lambda lh: np.log(mise(np.exp(lh), n, d)),
        bounds=(-10, 2),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return float(res.fun)


@validate(mise=Function("mise(h, N, d)"), d=Integer(minimum=1), eps=_POS, relative=Flag())
def n_needed_mise(mise: Callable, d: int, eps: float, relative: bool = True) -> float:
    """The smallest (continuous) N with min_h mise(h, N, d) <= eps * (4 pi)^(-d/2) (relative:
    int p^2 for p = N(0, I_d)) or <= eps (absolute); 1.0 if N = 1 suffices (brentq in log N
    on [0, 35], xtol 1e-10)."""
    return _n_needed(mise, d, eps, relative)


def _n_needed(mise, d, eps, relative):
    target = np.log(eps) - (0.5 * d * np.log(4 * np.pi) if relative else 0.0)

    def f(log_n):
        return _min_log_mise(mise, np.exp(log_n), d) - target

    if f(0.0) <= 0:
        return 1.0
    return float(np.exp(optimize.brentq(f, 0.0, 35.0, xtol=1e-10)))


@validate(
    d=Integer(minimum=1),
    h=_POS,
    q_scale=_POS,
    n=Integer(minimum=1),
    m=Integer(minimum=1),
    seed=RngSeed(),
)
def kde_accuracy(
    d: int, h: float, q_scale: float, n: int = 2000, m: int = 500, seed: int | tuple = 0
) -> dict:
    """|error in log p| of the library's Gaussian ParzenWindow and of scikit-learn's
    KernelDensity against a direct float64 log-sum-exp over the pairwise differences, for n
    standard normal training points and m queries q_scale * N(0, I_d) (one generator, seed).
    Returns "ours" (m,), "sklearn" (m,), "reference" (m,) (log p), and the summary the
    chapter prints: "ours_max", "sklearn_median", "sklearn_max", "log_p_worst" (log p at
    scikit-learn's worst query) and "rank_worst" (the fraction of queries whose log p is at most
    that one's)."""
    rng = np.random.default_rng(seed)
    X, Q = rng.standard_normal((n, d)), q_scale * rng.standard_normal((m, d))
    sq = ((Q[:, None, :] - X[None, :, :]) ** 2).sum(axis=-1)
    reference = logsumexp(-sq / (2 * h**2), axis=1) - np.log(n) - 0.5 * d * np.log(2 * np.pi * h**2)
    ours = ParzenWindow(h, kernel="gaussian").fit(X).log_density(Q)
    sk = KernelDensity(bandwidth=h).fit(X).score_samples(Q)
    err_ours, err_sk = np.abs(ours - reference), np.abs(sk - reference)
    worst = reference[np.argmax(err_sk)]
    return {
        "ours": err_ours,
        "sklearn": err_sk,
        "reference": reference,
        "ours_max": float(err_ours.max()),
        "sklearn_median": float(np.median(err_sk)),
        "sklearn_max": float(err_sk.max()),
        "log_p_worst": float(worst),
        "rank_worst": float(np.mean(reference <= worst)),
    }


@validate(
    knn=Instance(KNNDensity), decades=Integer(minimum=1), per_decade=Integer(minimum=2), inner=_POS
)
def knn_integrals(
    knn: KNNDensity, decades: int = 5, per_decade: int = 400, inner: float = 10.0
) -> np.ndarray:
    """int_{-L}^{L} p_hat for a fitted 1-D kNN estimate at L = inner * 10^j, j = 0..decades:
    trapezoid on [-inner, inner] (200,001 points), then both tails on a log grid (x = e^t,
    ``per_decade`` points per decade, cumulative trapezoid in t). Returns (decades + 1,)."""
    x_bulk = np.linspace(-inner, inner, 200_001)
    I_bulk = integrate.trapezoid(knn.density(x_bulk.reshape(-1, 1)), x_bulk)
    t = np.linspace(np.log(inner), np.log(inner * 10.0**decades), decades * per_decade + 1)
    x_tail = np.exp(t)
    tails = (knn.density(x_tail.reshape(-1, 1)) + knn.density(-x_tail.reshape(-1, 1))) * x_tail
    I_tail = integrate.cumulative_trapezoid(tails, t, initial=0.0)
    return I_bulk + I_tail[::per_decade]


# ------------------------------------------------------------ more harnesses
@validate(
    exact=Function("exact(d, n) -> E[2 KL]"), n=Integer(minimum=10), m_bins=Integer(minimum=2)
)
def curse_levels(exact: Callable, n: int = 4000, m_bins: int = 3) -> list:
    """N times the mean error at N = n, with its Monte Carlo standard error and its exact value:
    the Gaussian fit (d = 2, 5; 4 x 250 data sets, seeds [5, d, c]) against ``exact``, the
    multinomial table (d = 2, 4; 1000 sets, seeds [6, d]) against C - 1, and a 9-cell partition
    of very unequal probabilities (200,000 sets of 200 draws, seed 8) against 8. Returns a list
    of (name, d, mean, se, exact)."""
    rows = []
    for d in (2, 5):
        v = n * np.concatenate(
            [gaussian_fit_errors(d, n, 250, np.random.default_rng([5, d, c])) for c in range(4)]
        )
        rows.append(("Gaussian", d, v.mean(), v.std(ddof=1) / np.sqrt(len(v)), n * exact(d, n)))
    for d in (2, 4):
        v = n * table_errors(d, n, 1000, np.random.default_rng([6, d]), m_bins)
        rows.append(("multinomial", d, v.mean(), v.std(ddof=1) / np.sqrt(len(v)), m_bins**d - 1))
    P = np.array([0.6, 0.2, 0.1, 0.05, 0.02, 0.01, 0.01, 0.005, 0.005])
    K = np.random.default_rng(8).multinomial(200, P, size=200_000)
    v = (((K / 200 - P) ** 2) / P).sum(axis=1) * 200
    rows.append(("unequal", 1, v.mean(), v.std(ddof=1) / np.sqrt(len(v)), len(P) - 1))
    return rows


@validate(
    exact=Function("exact(d, n) -> E[2 KL]"),
    tau=_POS,
    m_bins=Integer(minimum=2),
    d_gauss=Integer(minimum=1),
    d_hist=Integer(minimum=1),
)
def curse_samples_needed(
    exact: Callable, tau: float = 0.1, m_bins: int = 3, d_gauss: int = 10, d_hist: int = 7
) -> dict:
    """N*(d) for the Gaussian fit (d = 1..d_gauss; grid from N = d + 3, reps with reps * (number
    of parameters) >= 20000, seed 0) and the multinomial table (d = 1..d_hist; grid from 2,
    reps * (cells - 1) >= 4000, seed 1), by ``samples_needed``; and the root of exact(d, N) =
    tau (brentq). Returns "n_gauss", "n_gauss_exact", "n_hist", "z_gauss" (d_gauss, 2),
    "n_exact_grid", "rel_se_gauss", "rel_se_hist"."""
    res_g = [
        samples_needed(
            gaussian_fit_errors,
            d,
            d + 3,
            int(np.ceil(20000 / (d * (d + 3) / 2))),
            0,
            tau,
            exact=exact,
        )
        for d in range(1, d_gauss + 1)
    ]
    table = lambda d, n, reps, rng: table_errors(d, n, reps, rng, m_bins)
    res_h = [
        samples_needed(table, d, 2, max(20, 4000 // (m_bins**d - 1)), 1, tau)
        for d in range(1, d_hist + 1)
    ]
    roots = [
        optimize.brentq(lambda n, d=d: exact(d, n) - tau, d + 2.5, 1e6)
        for d in range(1, d_gauss + 1)
    ]
    return {
        "n_gauss": np.array([r["n"] for r in res_g]),
        "n_gauss_exact": np.array(roots),
        "n_hist": np.array([r["n"] for r in res_h]),
        "z_gauss": np.array([r["z"] for r in res_g]),
        "n_exact_grid": np.array([r["n_exact_grid"] for r in res_g]),
        "rel_se_gauss": np.array([r["rel_se"] for r in res_g]),
        "rel_se_hist": np.array([r["rel_se"] for r in res_h]),
    }


def _check_parzen(est, kernel):
    if not hasattr(est, "X_"):
        raise ValueError("est must be a fitted ParzenWindow (call est.fit(X) first)")
    if kernel is not None and est.kernel != kernel:
        raise ValueError(f"est must use kernel={kernel!r}; got {est.kernel!r}")


@validate(est=Instance(ParzenWindow))
def cube_estimate_integral(est: ParzenWindow) -> float:
    """int p_hat over R^d for a fitted hypercube ParzenWindow (d = 1 or 2): the estimate is
    constant between the sorted breakpoints x^(n)_i +- h/2 of each axis (on each rectangle of
    their grid in 2-D), so the sum of its midpoint values times the lengths (areas) is exact."""
    _check_parzen(est, "hypercube")
    X, h = est.X_, est.h
    if X.shape[1] > 2:
        raise ValueError(f"est must be fitted to 1-D or 2-D data; got d = {X.shape[1]}")
    b = [np.sort(np.concatenate([X[:, j] - h / 2, X[:, j] + h / 2])) for j in range(X.shape[1])]
    mids = np.meshgrid(*[(bj[1:] + bj[:-1]) / 2 for bj in b], indexing="ij")
    sizes = np.meshgrid(*[np.diff(bj) for bj in b], indexing="ij")
    Q = np.column_stack([m.ravel() for m in mids])
    return float(np.sum(est.density(Q) * np.prod([s.ravel() for s in sizes], axis=0)))


@validate(est=Instance(ParzenWindow), margin=_POS, spacing=_POS)
def plane_integral(est: ParzenWindow, margin: float, spacing: float) -> float:
    """int p_hat over the plane for a fitted 2-D estimate: the 2-D trapezoid rule on a grid of
    the given spacing reaching ``margin`` beyond the data on every side."""
    _check_parzen(est, None)
    X = est.X_
    if X.shape[1] != 2:
        raise ValueError(f"est must be fitted to 2-D data; got d = {X.shape[1]}")
    gx, gy = (np.arange(X[:, j].min() - margin, X[:, j].max() + margin, spacing) for j in (0, 1))
    GX, GY = np.meshgrid(gx, gy, indexing="ij")
    dens = est.density(np.column_stack([GX.ravel(), GY.ravel()])).reshape(GX.shape)
    return float(integrate.trapezoid(integrate.trapezoid(dens, gy, axis=1), gx))


@validate(x=Array(ndim=2), x_val=Array(ndim=2), h_grid=Array(ndim=1, low=0))
def heldout_curves(x: np.ndarray, x_val: np.ndarray, h_grid: np.ndarray) -> tuple:
    """Held-out mean log-likelihood of the Gaussian and of the hypercube ParzenWindow fitted to x,
    on x_val, for each h in h_grid: two arrays of shape (len(h_grid),) (the hypercube's may be
    -inf)."""
    gauss = [ParzenWindow(h, kernel="gaussian").fit(x).log_density(x_val).mean() for h in h_grid]
    box = [ParzenWindow(h).fit(x).log_density(x_val).mean() for h in h_grid]
    return np.array(gauss), np.array(box)


@validate(
    mise=Function("mise(h, N, d)"),
    dims=Array(ndim=1, low=1),
    eps=Array(ndim=1, low=0),
    relative=Flag(),
)
def n_needed_grid(
    mise: Callable, dims: np.ndarray, eps: np.ndarray, relative: bool = True
) -> np.ndarray:
    """``n_needed_mise`` for every (eps, d): array of shape (len(eps), len(dims))."""
    if np.any(np.asarray(dims) != np.round(dims)):
        raise ValueError(f"dims must be whole numbers; got {dims}")
    if np.any(np.asarray(eps) <= 0):
        raise ValueError(f"eps must be > 0; got {eps}")
    return np.array([[_n_needed(mise, int(d), e, relative) for d in dims] for e in eps])


@validate(d=Integer(minimum=1), n=Integer(minimum=2), rng=_RNG)
def ball_volume_mc(d: int, n: int, rng: np.random.Generator) -> tuple:
    """Monte Carlo volume of the unit d-ball: 2^d times the fraction of n uniform points in
    [-1, 1]^d inside it, and its standard error: (V, se)."""
    inside = np.mean(np.sum(rng.uniform(-1, 1, size=(n, d)) ** 2, axis=1) < 1)
    return 2**d * inside, 2**d * np.sqrt(inside * (1 - inside) / n)


@validate(est=Instance(HistogramDensity))
def histogram_integrals(est: HistogramDensity) -> tuple:
    """int p_hat for a fitted HistogramDensity two ways: the sum over the occupied bins of
    p_hat(centre) * width^d, and (1-D only, else NaN) a Riemann sum on bin-aligned cells of
    width / 8 covering the data (exact for a step function). Returns (sum, riemann)."""
    w = est.bin_width
    keys = np.array(list(est.counts_))
    exact = float(np.sum(est.density(est.origin_ + (keys + 0.5) * w) * w**est.n_features_in_))
    if est.n_features_in_ != 1:
        return exact, float("nan")
    span = int(np.ceil(np.ptp(est.X_) / w))
    fine = est.origin_[0] + (np.arange(-8, 8 * span + 16) + 0.5) * w / 8
    return exact, float(np.sum(est.density(fine.reshape(-1, 1))) * w / 8)


@validate(X=Array(ndim=2), Q=Array(ndim=2), h=_POS)
def window_counts_loop(X: np.ndarray, Q: np.ndarray, h: float) -> np.ndarray:
    """DE8 as the plainest double loop: for each query q, the number of rows x of X with
    |x_i - q_i| < h/2 for every i. Returns an int array of shape (M,)."""
    return np.array(
        [sum(1 for x in X if all(abs(xi - qi) < h / 2 for xi, qi in zip(x, q))) for q in Q]
    )


@validate(pool=Array(ndim=1), n_sets=Integer(minimum=1), n=Integer(minimum=1), a=Real(), b=Real())
def box_counts(pool: np.ndarray, n_sets: int, n: int, a: float, b: float) -> np.ndarray:
    """The first n_sets * n values of ``pool`` cut into n_sets data sets of n samples each, and
    for each set the number K of samples in [a, b] (DE4's count). Returns an int array of shape
    (n_sets,)."""
    if n_sets * n > len(pool):
        raise ValueError(f"pool holds {len(pool)} values, fewer than n_sets * n = {n_sets * n}")
    sets = pool[: n_sets * n].reshape(n_sets, n)
    return np.count_nonzero((sets >= a) & (sets <= b), axis=1)


@validate(
    pool=Array(ndim=1),
    n_sets=Integer(minimum=2),
    sizes=Sizes(),
    a=Real(),
    b=Real(),
    P=Real(low=0, high=1),
)
def fraction_moments(pool: np.ndarray, n_sets: int, sizes, a: float, b: float, P: float):
    """DE5's evidence: for each N in ``sizes``, K / N over the n_sets data sets of
    ``box_counts(pool, n_sets, N, a, b)``: its sample mean, its sample variance (ddof = 1) and
    the exact fourth central moment sum_K binomial_pmf(K; N, P) (K/N - P)^4 (DE4). Returns an
    array of shape (len(sizes), 4): rows (N, mean, variance, mu4)."""
    rows = []
    for n in sizes:
        frac = box_counts(pool, n_sets, n, a, b) / n
        k = np.arange(n + 1)
        mu4 = np.sum(binomial_pmf(k, n, P) * (k / n - P) ** 4)
        rows.append((n, frac.mean(), frac.var(ddof=1), mu4))
    return np.array(rows)


@validate(d=Integer(minimum=1), cells=Integer(minimum=1))
def hypercube_grid_integral(d: int, cells: int) -> float:
    """DE7's int phi(u) du by the midpoint rule: the library's ``hypercube_kernel`` summed over
    the centres of a grid of cells^d equal cells covering [-1, 1]^d, times the cell volume
    (2 / cells)^d. Exact (up to rounding) when the grid lines include +-1/2 (cells divisible
    by 4)."""
    edges = np.linspace(-1, 1, cells + 1)
    mids = (edges[1:] + edges[:-1]) / 2
    grid = np.stack(np.meshgrid(*[mids] * d, indexing="ij"), axis=-1).reshape(-1, d)
    return float(hypercube_kernel(grid).sum() * (2 / cells) ** d)


@validate(x=Array(ndim=2), h=_POS, step=_POS)
def windows_per_sample(x: np.ndarray, h: float, step: float) -> tuple:
    """Erratum DE6: query points on the grid of spacing ``step`` covering the 1-D data +- h, and
    for each sample the number of open windows of side h centred on them that contain it (brute
    force). Returns (queries (M, 1), counts (N,))."""
    if x.shape[1] != 1:
        raise ValueError(f"x must be 1-D data of shape (N, 1); got shape {x.shape}")
    k = np.arange(np.floor((x.min() - h) / step), np.ceil((x.max() + h) / step) + 1)
    q = (k * step).reshape(-1, 1)
    return q, np.sum(np.abs(x[:, 0][:, None] - q[:, 0][None, :]) < h / 2, axis=1)


@validate(header=Text(), rows=Instance((list, tuple, np.ndarray)), fmt=Text())
def format_table(header: str, rows, fmt: str) -> str:
    """The text of a printed table: ``header`` on the first line, then ``fmt.format(*row)``
    for each row (a tuple, or a row of a 2-D array). Returns one string, lines joined by
    newlines."""
    return "\n".join([header] + [fmt.format(*row) for row in rows])


# --------------------------------------------------------------------------- figures
@validate(
    running_sum=Array(ndim=1),
    running_product=Array(ndim=1, finite=False, low=0),
    n_underflow=Integer(minimum=1),
)
def plot_underflow(running_sum: np.ndarray, running_product: np.ndarray, n_underflow: int):
    """log10 of the running log-likelihood sum and of the running product of densities (DE1)."""
    n_axis = np.arange(1, len(running_sum) + 1)
    log_tiny = np.log(np.finfo(np.float64).smallest_subnormal)
    with np.errstate(divide="ignore"):
        log10_product = np.log10(running_product)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(n_axis, running_sum / np.log(10), label=r"$\sum_n \log p(x^{(n)}|\theta)$ / ln 10")
    ax.plot(n_axis, log10_product, "--", lw=2.5, label=r"$\log_{10} \prod_n p(x^{(n)}|\theta)$")
    ax.axhline(log_tiny / np.log(10), color="0.4", lw=1, ls=":", label="smallest float64")
    ax.axvline(n_underflow, color="C1", lw=1, ls=":")
    ax.set_xlabel("number of samples N")
    ax.set_ylabel(r"$\log_{10}$ likelihood")
    ax.legend()
    return fig


@validate(
    x_train=Array(ndim=2),
    grid=Array(ndim=1),
    p_one=Array(ndim=1),
    p_mix=Array(ndim=1),
    p_true=Array(ndim=1),
)
def plot_model_choice(x_train, grid, p_one, p_mix, p_true):
    """The training histogram, one Gaussian's ML fit, the EM mixture and the true density."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.hist(x_train.ravel(), bins=40, density=True, color="0.85", label="training data")
    plot_density_1d(
        ax,
        grid,
        {"one Gaussian (ML)": p_one, "2-component mixture (EM)": p_mix},
        true_density=p_true,
    )
    ax.set_title("model choice: the wrong family cannot be fixed by more data")
    return fig


@validate(X=Array(ndim=2), labels=Array(ndim=1))
def plot_latent(X: np.ndarray, labels: np.ndarray):
    """2-D samples coloured by their hidden component (left) and as observed (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharex=True, sharey=True)
    for k, marker in zip(range(int(labels.max()) + 1), "o^sv*"):
        sel = labels == k
        axes[0].scatter(*X[sel].T, s=6, marker=marker, alpha=0.6, label=f"z = {k + 1}")
    axes[0].set_title("complete data (x, z)")
    axes[0].legend(markerscale=2)
    axes[1].scatter(*X.T, s=6, color="0.4", alpha=0.6)
    axes[1].set_title("what we observe: x only")
    for ax in axes:
        ax.set_xlabel("$x_1$")
    axes[0].set_ylabel("$x_2$")
    return fig


@validate(
    dims_gauss=Array(ndim=1),
    n_gauss=Array(ndim=1),
    n_gauss_exact=Array(ndim=1),
    dims_hist=Array(ndim=1),
    n_hist=Array(ndim=1),
    tau=_POS,
    m_bins=Integer(minimum=2),
)
def plot_samples_needed(dims_gauss, n_gauss, n_gauss_exact, dims_hist, n_hist, tau=0.1, m_bins=3):
    """N*(d) of the Gaussian and multinomial fits against their laws, and N*(d) / N*(d - 1)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    d_fine = np.linspace(1, dims_gauss.max(), 200)
    ax = axes[0]
    ax.semilogy(dims_gauss, n_gauss, "o", color="C0", label="Gaussian ML (measured)")
    ax.semilogy(dims_gauss, n_gauss_exact, color="C0", lw=1, label="Gaussian, exact E[2 KL]")
    ax.semilogy(
        d_fine,
        d_fine * (d_fine + 3) / (2 * tau),
        color="C0",
        lw=1,
        ls="--",
        label=r"$d(d+3)/(2\tau)$",
    )
    ax.semilogy(dims_hist, n_hist, "s", color="C3", label="multinomial ML (measured)")
    sel = d_fine <= dims_hist.max()
    ax.semilogy(
        d_fine[sel],
        (m_bins ** d_fine[sel] - 1) / tau,
        color="C3",
        lw=1,
        label=rf"$({m_bins}^d-1)/\tau$",
    )
    ax.set_xlabel("dimension d")
    ax.set_ylabel(r"samples needed $N^*$")
    ax.set_title("samples for a fixed accuracy")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(dims_gauss[1:], n_gauss[1:] / n_gauss[:-1], "o-", color="C0", label="Gaussian ML")
    ax.plot(dims_hist[1:], n_hist[1:] / n_hist[:-1], "s-", color="C3", label="multinomial ML")
    ax.axhline(1, color="0.5", lw=1, ls=":")
    ax.axhline(m_bins, color="C3", lw=1, ls=":")
    ax.set_xlabel("dimension d")
    ax.set_ylabel(r"$N^*(d)\,/\,N^*(d-1)$")
    ax.set_title("growth factor per added dimension")
    ax.legend()
    return fig


@validate(
    freq=Array(ndim=1), pmf=Array(ndim=1), pmf_printed=Array(ndim=1), P=_POS, S=Integer(minimum=1)
)
def plot_binomial(freq, pmf, pmf_printed, P, S):
    """Simulated frequencies of K against the binomial pmf (DE4), and the printed formula."""
    ks = np.arange(len(pmf))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    ax = axes[0]
    ax.bar(ks, freq, color="0.8", label=f"simulated, S = {S}")
    ax.plot(ks, pmf, "o", ms=4, color="C0", label="binomial pmf")
    ax.set_xlim(-0.5, 25.5)
    ax.set_ylim(0, 1.25 * freq.max())
    ax.set_xlabel("K (samples in R)")
    ax.set_ylabel("probability")
    ax.set_title(f"N = {len(pmf) - 1}, P = {P:.3f}")
    ax.legend(loc="upper left", fontsize=9)
    ax = axes[1]
    ax.semilogy(ks, pmf, "o", ms=4, color="C0", label="exponent N - K (corrected)")
    ax.semilogy(ks, pmf_printed, "x", ms=5, color="C3", label="exponent 1 - K (as printed)")
    ax.axhline(1, color="0.5", lw=1, ls=":")
    ax.set_xlabel("K")
    ax.set_ylabel(r"$P_K$ (log scale)")
    ax.set_title("the printed formula is not a distribution")
    ax.legend()
    return fig


@validate(
    Ns=Array(ndim=1), hs=Array(ndim=1), table=Array(ndim=2), schedule=Array(ndim=1), x0=Real()
)
def plot_convergence(Ns, hs, table, schedule, x0):
    """Relative RMSE of K/(N h) at x0 for fixed h (rows of table) and for h_N (DE6)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for h, row in zip(hs, table):
        ax.loglog(Ns, row, "o-", lw=1, ms=4, label=f"fixed h = {h:g}")
    ax.loglog(Ns, schedule, "k^-", lw=2, label=r"$h_N = (N/100)^{-1/5}$")
    ax.set_xlabel("number of samples N")
    ax.set_ylabel(r"relative RMSE of $K/(Nh)$")
    ax.set_title(rf"$p(x_0) \approx K/(NV)$ at $x_0 = {x0:g}$")
    ax.legend(fontsize=9)
    return fig


@validate(x=Array(ndim=2), grid=Array(ndim=1), widths=Array(ndim=1), p_true=Array(ndim=1))
def plot_histograms(x, grid, widths, p_true):
    """HistogramDensity of x for each bin width, one panel each, with the true density."""
    fig, axes = plt.subplots(1, len(widths), figsize=(4 * len(widths), 3.4), sharey=True)
    for ax, w in zip(np.atleast_1d(axes), widths):
        est = HistogramDensity(w).fit(x)
        plot_density_1d(
            ax,
            grid,
            {f"histogram, h = {w:g}": est.density(grid.reshape(-1, 1))},
            true_density=p_true,
        )
        ax.legend(loc="upper left", fontsize=9)
    np.atleast_1d(axes)[0].set_ylim(0, 0.55)
    return fig


@validate(x=Array(ndim=2), grid=Array(ndim=1), hs=Array(ndim=1), p_true=Array(ndim=1))
def plot_bandwidths(x, grid, hs, p_true):
    """Hypercube and Gaussian Parzen estimates of x for each bandwidth in hs, one panel each."""
    fig, axes = plt.subplots(1, len(hs), figsize=(4 * len(hs), 3.4), sharey=True)
    titles = ["too small", "about right", "too large"]
    Q = grid.reshape(-1, 1)
    for i, (ax, h) in enumerate(zip(np.atleast_1d(axes), hs)):
        plot_density_1d(
            ax,
            grid,
            {  # the hypercube first, so the smooth curve stays visible
                "hypercube kernel": ParzenWindow(h).fit(x).density(Q),
                "Gaussian kernel": ParzenWindow(h, kernel="gaussian").fit(x).density(Q),
            },
            samples=x,
            true_density=p_true,
        )
        ax.set_title(f"h = {h:g}" + (f": {titles[i]}" if len(hs) == 3 else ""))
        ax.legend(loc="upper left", fontsize=8)
    np.atleast_1d(axes)[0].set_ylim(0, 0.7)
    return fig


@validate(
    h_grid=Array(ndim=1),
    ll_gauss=Array(ndim=1),
    ll_box=Array(ndim=1, finite=False),
    ll_true=Real(),
    h_best=_POS,
    h_silverman=_POS,
)
def plot_bandwidth_selection(h_grid, ll_gauss, ll_box, ll_true, h_best, h_silverman):
    """Held-out mean log-likelihood against h for both kernels (-inf left out)."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.semilogx(h_grid, ll_gauss, "o-", ms=3, label="Gaussian kernel")
    ax.semilogx(
        h_grid,
        np.where(np.isfinite(ll_box), ll_box, np.nan),
        "s-",
        ms=3,
        label="hypercube kernel (missing: -inf)",
    )
    ax.axhline(ll_true, color="k", ls="--", lw=1, label="true density")
    ax.axvline(h_best, color="C0", ls=":", lw=1)
    ax.axvline(h_silverman, color="C2", ls=":", lw=1, label="Silverman's rule")
    ax.set_ylim(ll_true - 0.6, ll_true + 0.1)
    ax.set_xlabel("bandwidth h")
    ax.set_ylabel("held-out mean log-likelihood")
    ax.legend(fontsize=9)
    return fig


@validate(
    x=Array(ndim=2),
    grid=Array(ndim=1),
    p_true=Array(ndim=1),
    h_hist=_POS,
    h_gauss=_POS,
    k=Integer(minimum=1),
    L_values=Array(ndim=1),
    integrals=Array(ndim=1),
)
def plot_comparison(x, grid, p_true, h_hist, h_gauss, k, L_values, integrals):
    """Histogram, Gaussian Parzen and kNN estimates of x (left); the kNN integral over [-L, L]."""
    Q = grid.reshape(-1, 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.6, 1]})
    plot_density_1d(
        axes[0],
        grid,
        {
            f"histogram, h = {h_hist:g}": HistogramDensity(h_hist).fit(x).density(Q),
            f"Parzen (Gaussian), h = {h_gauss:.2f}": ParzenWindow(h_gauss, kernel="gaussian")
            .fit(x)
            .density(Q),
            f"kNN, K = {k}": KNNDensity(k).fit(x).density(Q),
        },
        samples=x,
        true_density=p_true,
    )
    axes[0].set_ylim(0, 0.5)
    axes[0].legend(loc="upper left", fontsize=9)
    axes[0].set_title(f"N = {len(x)} samples from the mixture")
    axes[1].semilogx(L_values, integrals, "o-", color="C2", label=f"kNN, K = {k}")
    axes[1].axhline(1, color="k", ls="--", lw=1, label="a density integrates to 1")
    axes[1].set_xlabel("L")
    axes[1].set_ylabel(r"$\int_{-L}^{L} \hat p(x)\,dx$")
    axes[1].set_title("the kNN estimate is not normalised")
    axes[1].legend(fontsize=9)
    return fig
