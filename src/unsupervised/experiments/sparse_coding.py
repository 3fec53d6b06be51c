"""Experiments and figures of the chapter on sparse_coding (see experiments/__init__.py).

The harnesses of ``notebooks/01_sparse_coding.ipynb``: the optimality residuals of l1 codes
(SC6), the evidence behind the smooth penalties' checks (finite differences, autograd of the
printed formulas, brute-force proximal maps; SC4, SC5), plain ISTA with any step (the
ex-sc-step experiment), Newton's method on the non-convex objectives with the Hessians of the
printed penalties, ridge codes by L-BFGS, the atoms' orientation concentration and
participation ratio, the debiased sparsity-error curves against PCA's best m-term curve, a
timer, and the chapter's figures. Several of the chapter's independent references live
here, not in the notebook: the grid brute force and autograd (``smooth_penalty_evidence``),
BFGS (``toy_local_minimum``), L-BFGS (``ridge_codes_lbfgs``), Newton's method and the
Hessians (``newton_polish``, ``code_hessians``, ``nonconvex_starts``) and the optimality
residuals (``optimality_gaps``); none calls the library function it checks, and
``tests/test_experiments_sparse_coding.py`` pins each against a closed form or a known value.
The notebook's alternating loop against ``learn_dictionary`` is library against library.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import scipy.integrate
import scipy.optimize
import torch
from sklearn.decomposition import sparse_encode

from .._validation import Array, Choice, Function, Integer, Real, validate
from ..datasets import image_patches
from ..plotting import image_grid
from ..sparse_coding import encode, objective, sklearn_alpha, zca_whitening

__all__ = [
    "optimality_gaps",
    "prior_masses",
    "smooth_penalty_evidence",
    "solver_histories",
    "ista_run",
    "code_hessians",
    "newton_polish",
    "nonconvex_starts",
    "toy_local_minimum",
    "ridge_codes_lbfgs",
    "kurtosis",
    "orientation_concentration",
    "participation",
    "debias",
    "sparsity_curve",
    "best_m_term_curve",
    "nonzeros_for_error",
    "nonzeros_factor",
    "same_error_gain",
    "timed",
    "whitened_patches",
    "encoder_comparison",
    "plot_penalties",
    "plot_convergence",
    "plot_learned",
    "plot_sparsity_curves",
]

_POS = Real(low=0, open=True)


@validate(X=Array(ndim=(1, 2)), A=Array(ndim=2), Z=Array(ndim=(1, 2)), eta=_POS)
def optimality_gaps(X, A, Z, eta: float) -> tuple[float, float]:
    """The l1 problem's (SC6) optimality residuals at the codes ``Z``.

    With ``c = A^T (x - A z)`` per sample (x: rows of ``X`` (N, d) or one sample (d,); Z:
    (N, p) or (p,)), ``z`` is optimal iff ``c_i = eta/2 sign z_i`` on the support and
    ``|c_i| <= eta/2`` off it. Returns ``(max |c_i - eta/2 sign z_i|`` over the support,
    ``max |c_i|`` off it``)``, 0.0 for an empty set. Plain NumPy, no library call.
    """
    X, Z = np.atleast_2d(X), np.atleast_2d(Z)
    if X.shape[1] != A.shape[0]:
        raise ValueError(f"A: expected {X.shape[1]} rows (X's width), got {A.shape[0]}")
    if Z.shape != (len(X), A.shape[1]):
        raise ValueError(f"Z: expected shape {(len(X), A.shape[1])}, got {Z.shape}")
    C = (X - Z @ A.T) @ A
    on = Z != 0
    stationary = np.abs(C[on] - eta / 2 * np.sign(Z[on]))
    outside = np.abs(C[~on])
    return (
        float(stationary.max()) if stationary.size else 0.0,
        float(outside.max()) if outside.size else 0.0,
    )


@validate(
    value=Function("rho(Z) per row"),
    grad=Function("grad rho(Z)"),
    torch_rho=Function("h(z) elementwise, torch"),
    prox=Function("prox(v, t)"),
    hfun=Function("h(u) elementwise, numpy"),
    t_convex=_POS,
    t_nonconvex=_POS,
    step=Real(low=0, high=0.1, open=True),
)
def smooth_penalty_evidence(
    value: Callable,
    grad: Callable,
    torch_rho: Callable,
    prox: Callable,
    hfun: Callable,
    t_convex: float,
    t_nonconvex: float,
    step: float = 1e-4,
) -> dict:
    """The evidence of a smooth penalty's checks (SC4, SC5), for the library's ``value``,
    ``grad`` and ``prox`` against independent references.

    Returns a dict: ``grad`` (5, 7) the library's gradient at fixed random codes, ``fd`` its
    central differences of ``value`` (step 1e-6), ``grad_ad`` torch's gradient of the printed
    ``torch_rho``; ``rho`` / ``rho_ad`` the summed penalties (library / printed formula); ``h2``
    and ``u2`` the minimum of autograd's h'' on a grid of ``step`` over [0, 5] and where (as
    u^2); and per t in (t_convex, t_nonconvex) (keys ``"convex"``, ``"nonconvex"``): the
    library's proximal objective minus the best of a brute-force grid of ``step`` on [-10, 10]
    (``excess``: max over v, ``shortfall``: max of grid - library), the grid gap bound
    ``(step/2)^2 (1 + 2t)/2`` and the map's steepest slope on v in [-8, 8] (161 points).
    """
    Zs = np.random.default_rng(4).normal(scale=2.0, size=(5, 7))
    h = 1e-6
    fd = np.zeros_like(Zs)
    for i in range(Zs.shape[1]):
        e = np.zeros(Zs.shape[1])
        e[i] = h
        fd[:, i] = (value(Zs + e) - value(Zs - e)) / (2 * h)
    zt = torch.tensor(Zs, requires_grad=True)
    rho_t = torch_rho(zt).sum()
    rho_t.backward()
    out = dict(grad=grad(Zs), fd=fd, grad_ad=zt.grad.numpy(), rho=float(value(Zs).sum()))
    out["rho_ad"] = rho_t.item()
    n = int(round(5 / step))
    ug = (torch.arange(0, n + 1, dtype=torch.float64) * step).requires_grad_(True)
    (dh,) = torch.autograd.grad(torch_rho(ug).sum(), ug, create_graph=True)
    (d2h,) = torch.autograd.grad(dh.sum(), ug)
    k_min = int(torch.argmin(d2h))
    out["h2"], out["u2"] = d2h[k_min].item(), ug[k_min].item() ** 2
    v = np.linspace(-8, 8, 161)
    m = int(round(10 / step))
    grid = np.arange(-m, m + 1) * step
    for key, t in (("convex", t_convex), ("nonconvex", t_nonconvex)):
        u = prox(v, t)
        phi_lib = 0.5 * (u - v) ** 2 + t * hfun(u)
        th_grid = t * hfun(grid)
        phi_grid = np.array([np.min(0.5 * (grid - vi) ** 2 + th_grid) for vi in v])
        out[key] = dict(
            t=t,
            excess=float(np.max(phi_lib - phi_grid)),
            shortfall=float(np.max(phi_grid - phi_lib)),
            grid_gap=(step / 2) ** 2 * (1 + 2 * t) / 2,
            slope=float(np.abs(np.diff(u)).max() / (v[1] - v[0])),
        )
    return out


@validate(X=Array(ndim=2), A=Array(ndim=2), eta=_POS, step=_POS, steps=Integer(minimum=1))
def ista_run(X, A, eta: float, step: float, steps: int) -> dict:
    """Plain ISTA for the l1 problem (SC6) with a fixed ``step`` (any, even a divergent one).

    From Z = 0 (N, p), ``Z <- S_{step eta}(Z - step * 2 (Z A^T - X) A)``. Returns ``F``
    (steps + 1,): the objective sum ||x - A z||^2 + eta ||z||_1 at every iterate (inf once an
    iterate is no longer finite), and ``moves`` (steps,): ||Z_{k+1} - Z_k||_F^2. Plain NumPy.
    """
    if X.shape[1] != A.shape[0]:
        raise ValueError(f"A: expected {X.shape[1]} rows (X's width), got {A.shape[0]}")
    G, B = A.T @ A, X @ A
    Z = np.zeros((len(X), A.shape[1]))
    F, moves = [float(np.sum(X**2))], []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            V = Z - step * 2 * (Z @ G - B)
            Z_next = np.sign(V) * np.maximum(np.abs(V) - step * eta, 0.0)
            finite = bool(np.all(np.isfinite(Z_next)))
            F_next = np.sum((X - Z_next @ A.T) ** 2) + eta * np.abs(Z_next).sum()
            F.append(float(F_next) if finite else np.inf)
            moves.append(float(np.sum((Z_next - Z) ** 2)) if finite else np.inf)
            Z = Z_next
    return dict(F=np.asarray(F), moves=np.asarray(moves))


# h' and h'' of the printed penalties (SC4, SC5), written out for Newton's method.
_H1 = {"log": lambda u: 2 * u / (1 + u * u), "exp": lambda u: 2 * u * np.exp(-u * u)}
_H2 = {
    "log": lambda u: 2 * (1 - u * u) / (1 + u * u) ** 2,
    "exp": lambda u: (2 - 4 * u * u) * np.exp(-u * u),
}


def _hessians(A, eta, Z, penalty):
    H = np.repeat(2 * (A.T @ A)[None], len(Z), axis=0)
    diag = np.arange(A.shape[1])
    H[:, diag, diag] += eta * _H2[penalty](Z)
    return H


def _newton(X, A, eta, Z, penalty, steps):
    G, B = A.T @ A, X @ A
    for _ in range(steps):
        grad = 2 * (Z @ G - B) + eta * _H1[penalty](Z)
        Z = Z - np.linalg.solve(_hessians(A, eta, Z, penalty), grad[..., None])[..., 0]
    return Z, float(np.abs(2 * (Z @ G - B) + eta * _H1[penalty](Z)).max())


@validate(A=Array(ndim=2), eta=_POS, Z=Array(ndim=2), penalty=Choice(("log", "exp")))
def code_hessians(A, eta: float, Z, penalty: str) -> np.ndarray:
    """Per code (rows of Z, (N, p)), the Hessian 2 A^T A + eta diag(h''(z)) of
    ||x - A z||^2 + eta rho(z) with the printed h (SC4, SC5): (N, p, p)."""
    if Z.shape[1] != A.shape[1]:
        raise ValueError(f"Z: expected {A.shape[1]} columns (A's atoms), got {Z.shape[1]}")
    return _hessians(A, eta, Z, penalty)


@validate(
    X=Array(ndim=2),
    A=Array(ndim=2),
    eta=_POS,
    Z=Array(ndim=2),
    penalty=Choice(("log", "exp")),
    steps=Integer(minimum=1),
)
def newton_polish(X, A, eta: float, Z, penalty: str, steps: int = 8) -> tuple[np.ndarray, float]:
    """Newton's method from the codes Z (N, p) on every sample's smooth objective
    ||x - A z||^2 + eta rho(z) (SC4/SC5 penalties, h' and h'' written out from the printed
    formulas). Returns the codes (N, p) and the largest |gradient| entry after ``steps``."""
    if X.shape[1] != A.shape[0] or Z.shape != (len(X), A.shape[1]):
        raise ValueError(f"Z: expected shape {(len(X), A.shape[1])}, got {Z.shape}")
    return _newton(X, A, eta, Z, penalty, steps)


@validate(
    X=Array(ndim=2),
    A=Array(ndim=2),
    eta=_POS,
    penalty=Choice(("log", "exp")),
    iters=Integer(minimum=1),
)
def nonconvex_starts(X, A, eta: float, penalty: str, iters: int = 400) -> dict:
    """The library's ISTA (``encode(..., penalty, max_iter=iters)``) from two starts, the
    zero code and the pseudo-inverse's minimum-norm code, each then polished by Newton's
    method (``newton_polish``, 8 steps). Returns ``Z_zero``, ``Z_pinv`` (N, p) after ISTA,
    ``history`` (the zero start's objective per iteration), ``Z_a``, ``Z_b`` the polished
    codes (from the zero and the pinv start), ``grad_a``, ``grad_b`` their largest |gradient|,
    ``min_eig`` the smallest eigenvalue of the Hessians (``code_hessians``) at ``Z_a`` and
    ``Z_b`` over all samples, ``F_ista`` and ``F_newton`` the library's objective (SC2) at
    the two starts' codes before and after Newton, ``gap_400`` / ``gap_conv`` the largest
    difference of the two starts' codes before / after Newton, ``kurt`` the kurtosis of
    ``Z_a`` and ``concave`` the share of its coefficients where h'' < 0."""
    if X.shape[1] != A.shape[0]:
        raise ValueError(f"A: expected {X.shape[1]} rows (X's width), got {A.shape[0]}")
    Z_zero, hist = encode(X, A, eta, penalty=penalty, max_iter=iters, return_history=True)
    init = np.linalg.lstsq(A, X.T, rcond=None)[0].T
    Z_pinv = encode(X, A, eta, penalty=penalty, max_iter=iters, init=init)
    Z_a, g_a = _newton(X, A, eta, Z_zero, penalty, 8)
    Z_b, g_b = _newton(X, A, eta, Z_pinv, penalty, 8)
    min_eig = min(
        float(np.linalg.eigvalsh(_hessians(A, eta, Z, penalty))[:, 0].min()) for Z in (Z_a, Z_b)
    )
    F = [objective(X, A, Z, eta, penalty) for Z in (Z_zero, Z_pinv, Z_a, Z_b)]
    concave = {"log": 1.0, "exp": 1 / np.sqrt(2)}[penalty]  # h'' < 0 for |u| above this
    return dict(
        F_ista=F[:2],
        F_newton=F[2:],
        gap_400=float(np.abs(Z_zero - Z_pinv).max()),
        gap_conv=float(np.abs(Z_a - Z_b).max()),
        kurt=kurtosis(Z_a),
        concave=float(np.mean(np.abs(Z_a) > concave)),
        Z_zero=Z_zero,
        Z_pinv=Z_pinv,
        history=np.asarray(hist),
        Z_a=Z_a,
        Z_b=Z_b,
        grad_a=g_a,
        grad_b=g_b,
        min_eig=min_eig,
    )


@validate(X=Array(ndim=2), A=Array(ndim=2), eta=_POS)
def ridge_codes_lbfgs(X, A, eta: float) -> np.ndarray:
    """Ridge codes by direct minimisation: per row x of X (N, d), SciPy's L-BFGS-B on
    ||x - A z||^2 + eta ||z||^2 (gtol 1e-12, ftol 1e-15) from z = 0. Returns (N, p)."""
    if X.shape[1] != A.shape[0]:
        raise ValueError(f"A: expected {X.shape[1]} rows (X's width), got {A.shape[0]}")
    out = np.zeros((len(X), A.shape[1]))
    for n, x in enumerate(X):
        out[n] = scipy.optimize.minimize(
            lambda z, x=x: np.sum((x - A @ z) ** 2) + eta * np.sum(z**2),
            np.zeros(A.shape[1]),
            jac=lambda z, x=x: -2 * A.T @ (x - A @ z) + 2 * eta * z,
            method="L-BFGS-B",
            options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10000},
        ).x
    return out


@validate(Z=Array())
def kurtosis(Z) -> float:
    """E[z^4] / E[z^2]^2 over all entries of Z (3 for a Gaussian)."""
    return float(np.mean(Z**4) / np.mean(Z**2) ** 2)


@validate(atoms=Array(ndim=2), size=Integer(minimum=1), pad=Integer(minimum=1))
def orientation_concentration(atoms, size: int = 8, pad: int = 32) -> np.ndarray:
    """|sum_k P(k) exp(2i theta_k)| / sum_k P(k) of each atom's 2-D power spectrum P (zero
    padded to pad x pad, DC dropped): rows of ``atoms`` (n, size^2) -> (n,), in [0, 1]."""
    if atoms.shape[1] != size * size or pad < size:
        raise ValueError(f"atoms: expected {size * size} columns and pad >= size")
    P = np.abs(np.fft.fft2(atoms.reshape(-1, size, size), s=(pad, pad))) ** 2
    ky, kx = np.meshgrid(np.fft.fftfreq(pad), np.fft.fftfreq(pad), indexing="ij")
    P[:, (kx == 0) & (ky == 0)] = 0.0
    return np.abs((P * np.exp(2j * np.arctan2(ky, kx))).sum(axis=(1, 2))) / P.sum(axis=(1, 2))


@validate(atoms=Array(ndim=2))
def participation(atoms) -> np.ndarray:
    """(sum a^2)^2 / (d sum a^4) of each row a of ``atoms`` (n, d) -> (n,): 1/d for one
    pixel, 1 for a flat atom."""
    a2 = atoms**2
    return a2.sum(axis=1) ** 2 / (atoms.shape[1] * (a2**2).sum(axis=1))


def _debias(X, A, Z):
    out = np.zeros_like(Z)
    for n in range(len(X)):
        S = np.flatnonzero(Z[n])
        if S.size:
            out[n, S] = np.linalg.lstsq(A[:, S], X[n], rcond=None)[0]
    return out


@validate(X=Array(ndim=2), A=Array(ndim=2), Z=Array(ndim=2))
def debias(X, A, Z) -> np.ndarray:
    """Least squares of each sample (rows of X, (N, d)) on its code's support (the atoms
    of A (d, p) that Z (N, p) uses): the debiased codes (N, p), same support or smaller."""
    if X.shape[1] != A.shape[0] or Z.shape != (len(X), A.shape[1]):
        raise ValueError(f"Z: expected shape {(len(X), A.shape[1])}, got {Z.shape}")
    return _debias(X, A, Z)


@validate(X=Array(ndim=2), A=Array(ndim=2), etas=Array(ndim=1, low=0))
def sparsity_curve(X, A, etas) -> np.ndarray:
    """For each eta: the library's l1 codes (``encode``, SC6) of X (N, d), debiased on
    their support; returns (len(etas), 2): mean non-zeros per sample and the relative squared
    error sum ||x - A z||^2 / sum ||x||^2."""
    if X.shape[1] != A.shape[0]:
        raise ValueError(f"A: expected {X.shape[1]} rows (X's width), got {A.shape[0]}")
    energy, rows = np.sum(X**2), []
    for eta in etas:
        Z = _debias(X, A, encode(X, A, float(eta)))
        rows.append((np.mean(np.count_nonzero(Z, axis=1)), np.sum((X - Z @ A.T) ** 2) / energy))
    return np.array(rows)


@validate(X=Array(ndim=2), mean=Array(ndim=1), basis=Array(ndim=2))
def best_m_term_curve(X, mean, basis) -> tuple[np.ndarray, np.ndarray]:
    """An orthonormal basis' best m-term approximation of X (N, d): keep the m largest
    |coefficients| of (x - mean) in the rows of ``basis`` (d, d) over the whole set, m = 1 ...
    N d. Returns (mean non-zeros per sample (m / N), relative error 1 - kept energy /
    sum ||x||^2), both (N d,)."""
    if basis.shape != (X.shape[1], X.shape[1]) or mean.shape != (X.shape[1],):
        raise ValueError(f"basis: expected shape {(X.shape[1], X.shape[1])}")
    coef2 = np.sort(((X - mean) @ basis.T).ravel() ** 2)[::-1]
    return np.arange(1, coef2.size + 1) / len(X), 1 - np.cumsum(coef2) / np.sum(X**2)


@validate(nnz=Array(ndim=1), err=Array(ndim=1), target=Real())
def nonzeros_for_error(nnz, err, target: float) -> float:
    """The first ``nnz`` along a curve whose ``err`` is <= ``target`` (the non-zeros the
    curve needs for that error); the last ``nnz`` if none is."""
    if nnz.shape != err.shape:
        raise ValueError(f"err: expected shape {nnz.shape}, got {err.shape}")
    hit = err <= target
    return float(nnz[int(np.argmax(hit))] if hit.any() else nnz[-1])


@validate(fn=Function("fn()"), repeat=Integer(minimum=1))
def timed(fn: Callable, repeat: int = 2) -> tuple[float, object]:
    """The best wall time in seconds of ``repeat`` calls of ``fn()``, and its last result."""
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return float(best), out


@validate(
    u=Array(ndim=1), hs=Array(ndim=2), v=Array(ndim=1), maps=Array(ndim=3), ts=Array(ndim=2, low=0)
)
def plot_penalties(u, hs, v, maps, ts) -> plt.Figure:
    """Top row: the three h(u) of SC3-SC5 (``hs`` (3, len(u))); bottom row: their proximal
    maps (``maps`` (3, 2, len(v)): l1, log, exp, each at the two t of the row of ``ts`` (3, 2)
    that made them, which label the curves)."""
    if maps.shape[:2] != (3, 2) or ts.shape != (3, 2) or hs.shape[0] != 3:
        raise ValueError(f"maps, ts: expected (3, 2, n) and (3, 2), got {maps.shape}, {ts.shape}")
    titles = ("l1: |u|", "log: log(1 + u^2)", "exp: -exp(-u^2)")
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.2))
    for col in range(3):
        axes[0, col].plot(u, hs[col], color="C0")
        axes[0, col].set_title(titles[col])
        axes[0, col].set_xlabel("u")
        axes[1, col].plot(v, v, ":", color="0.6", label="identity")
        for m, t, lw in zip(maps[col], ts[col], (1.2, 2.4)):
            axes[1, col].plot(v, m, lw=lw, label=f"prox, t = {t:g}")
        axes[1, col].set_xlabel("v")
        axes[1, col].legend(loc="upper left")
    axes[0, 0].set_ylabel("h(u)")
    axes[1, 0].set_ylabel(r"$\mathrm{prox}_{th}(v)$")
    fig.tight_layout()
    return fig


@validate(
    gap_ista=Array(ndim=1, finite=False),
    gap_fista=Array(ndim=1, finite=False),
    bound_ista=Array(ndim=1),
    bound_fista=Array(ndim=1),
)
def plot_convergence(gap_ista, gap_fista, bound_ista, bound_fista) -> plt.Figure:
    """Relative gaps (F(z_k) - F*) / F* of ISTA and FISTA (k = 0 ...) and the two
    Beck-Teboulle bounds divided by F* (k = 1 ...), on a log scale."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.semilogy(np.maximum(gap_ista, 1e-16), label="ISTA (step 1/L)")
    ax.semilogy(np.maximum(gap_fista, 1e-16), label="FISTA")
    k_i, k_f = np.arange(1, bound_ista.size + 1), np.arange(1, bound_fista.size + 1)
    ax.semilogy(k_i, bound_ista, "--", color="C0", lw=1, label="bound L R^2 / (2k)")
    ax.semilogy(k_f, bound_fista, "--", color="C1", lw=1, label="bound 2 L R^2 / (k+1)^2")
    ax.axhline(1e-6, color="0.5", ls=":", label="1e-6")
    ax.set_xlabel("iteration k")
    ax.set_ylabel("(F(z_k) - F*) / F*")
    ax.set_title("l1 encoding: ISTA and FISTA against the Beck-Teboulle bounds")
    ax.legend(loc="lower left", fontsize="small")
    return fig


@validate(atoms=Array(ndim=2), loss_per_patch=Array(ndim=1))
def plot_learned(atoms, loss_per_patch) -> plt.Figure:
    """Left: the atoms (rows of ``atoms`` (n, 64), in the given order) as 8x8 images, 16 a
    row; right: the objective per patch over the rounds."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [1.5, 1]})
    image_grid(atoms, ncols=16, per_image=True, ax=axes[0])
    axes[0].set_title(f"{len(atoms)} learned atoms (8x8, whitened), most used first")
    axes[1].plot(loss_per_patch, marker="o", ms=3)
    axes[1].set_xlabel("round")
    axes[1].set_ylabel("L(A, Z) / N")
    axes[1].set_title("objective per patch")
    fig.tight_layout()
    return fig


@validate(
    pca_nnz=Array(ndim=1), pca_err=Array(ndim=1), learned=Array(ndim=2), complete=Array(ndim=2)
)
def plot_sparsity_curves(pca_nnz, pca_err, learned, complete) -> plt.Figure:
    """Relative error against mean non-zeros: PCA's best m-term curve and the two learned
    dictionaries' debiased curves (rows (non-zeros, error), as ``sparsity_curve`` returns)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.plot(pca_nnz, pca_err, label="PCA basis (best m-term)")
    ax.plot(learned[:, 0], learned[:, 1], "o-", label="learned, p = 128 (l1 support, debiased)")
    ax.plot(complete[:, 0], complete[:, 1], "s--", label="learned, p = d = 64 (control)")
    ax.set_xlim(0, 25)
    ax.set_ylim(0, 0.8)
    ax.set_xlabel("mean non-zero coefficients per patch")
    ax.set_ylabel("relative squared error (held-out)")
    ax.set_title("sparser codes for the same error")
    ax.legend()
    return fig


@validate(
    betas=Array(ndim=1, low=0),
    radii=Array(ndim=1, low=0),
    laplace_beta=_POS,
    log_betas=Array(ndim=1, low=0.5),
)
def prior_masses(betas, radii, laplace_beta: float = 0.5, log_betas=(1.0, 2.0)) -> dict:
    """Numerical integrals (``scipy.integrate.quad``) behind SC2's prior argument: the Laplace
    mass 2 int_0^inf e^{-beta z} dz at ``laplace_beta``, the log prior's
    2 int_0^inf (1 + z^2)^{-b} dz for each b of ``log_betas`` (all > 1/2), its b = 1/2 mass
    on [-R, R] for each radius (len(radii),), and for the exp penalty with each of ``betas``
    the mass on [-R, R] minus 2R (len(betas), len(radii)) and the bump
    2 int_0^inf (e^{beta e^{-z^2}} - 1) dz (len(betas),)."""
    if np.any(np.asarray(log_betas) <= 0.5):
        raise ValueError(f"log_betas: expected entries > 1/2 (integrable), got {log_betas}")
    quad = lambda f, a, b: scipy.integrate.quad(f, a, b, limit=400)[0]
    out = dict(laplace=2 * quad(lambda z: np.exp(-laplace_beta * z), 0, np.inf))
    out["log"] = np.array(
        [2 * quad(lambda z, b=b: (1 + z * z) ** -b, 0, np.inf) for b in log_betas]
    )
    out["mass_log"] = np.array([2 * quad(lambda z: (1 + z * z) ** -0.5, 0, r) for r in radii])
    out["bump"] = np.array(
        [2 * quad(lambda z, b=b: np.expm1(b * np.exp(-z * z)), 0, np.inf) for b in betas]
    )
    out["excess_exp"] = np.array(
        [
            [2 * quad(lambda z, b=b: np.exp(b * np.exp(-z * z)), 0, r) - 2 * r for r in radii]
            for b in betas
        ]
    )
    return out


@validate(A=Array(ndim=2, shape=(1, None)), x=Array(ndim=1, shape=(1,)), eta=_POS, z0=Array(ndim=1))
def toy_local_minimum(A, x, eta: float, z0) -> dict:
    """The two-coefficient log-penalty example (SC4, SC6): from ``z0`` (p,), the library's
    ISTA (``encode(..., penalty="log", max_iter=5000, tol=0, init=z0)``) and, independently,
    SciPy's BFGS (gtol 1e-12) on F(z) = ||x - A z||^2 + eta sum log(1 + z_i^2) with its
    gradient written out. Returns ``z_ista``, ``z_bfgs`` (p,), ``grad`` / ``grad_bfgs`` the
    largest |gradient| at z_ista / z_bfgs, ``hess_eig`` the eigenvalues of
    2 A^T A + eta diag(h''(z_ista)) and ``F``."""
    if A.shape[1] != z0.shape[0]:
        raise ValueError(f"z0: expected {A.shape[1]} entries (A's atoms), got {z0.shape[0]}")
    F = lambda z: float(np.sum((x - A @ z) ** 2) + eta * np.sum(np.log1p(z * z)))
    grad = lambda z: -2 * A.T @ (x - A @ z) + eta * 2 * z / (1 + z * z)
    z_ista = encode(x, A, eta, penalty="log", max_iter=5000, tol=0, init=z0)
    z_bfgs = scipy.optimize.minimize(F, z0, jac=grad, method="BFGS", options={"gtol": 1e-12}).x
    hess = 2 * A.T @ A + eta * np.diag(_H2["log"](z_ista))
    return dict(
        z_ista=z_ista,
        z_bfgs=z_bfgs,
        grad=float(np.abs(grad(z_ista)).max()),
        grad_bfgs=float(np.abs(grad(z_bfgs)).max()),
        hess_eig=np.linalg.eigvalsh(hess),
        F=F(z_ista),
    )


@validate(nnz=Array(ndim=1), err=Array(ndim=1), curve=Array(ndim=2))
def nonzeros_factor(nnz, err, curve) -> np.ndarray:
    """For each row (non-zeros m, error e) of ``curve`` (as ``sparsity_curve`` returns): the
    non-zeros another curve (``nnz``, ``err``) needs for error e (``nonzeros_for_error``),
    divided by m. Returns (len(curve),)."""
    if nnz.shape != err.shape or curve.shape[1] != 2:
        raise ValueError(f"curve: expected rows (non-zeros, error), got shape {curve.shape}")
    hit = err[None, :] <= curve[:, 1:2]
    need = np.where(hit.any(axis=1), nnz[np.argmax(hit, axis=1)], nnz[-1])
    return need / curve[:, 0]


@validate(reference=Array(ndim=2), other=Array(ndim=2))
def same_error_gain(reference, other) -> np.ndarray:
    """Extra non-zeros of ``other`` over ``reference`` at the same error: for each row (m, e) of
    ``other``, m / m_ref(e) - 1 with m_ref(e) the linear interpolation of ``reference``'s
    non-zeros at error e (rows (non-zeros, error) with increasing error); NaN where e is outside
    ``reference``'s measured errors. Returns (len(other),)."""
    if reference.shape[1] != 2 or other.shape[1] != 2:
        raise ValueError("reference, other: expected rows (non-zeros, error), 2 columns")
    err_ref, nnz_ref = reference[:, 1], reference[:, 0]
    if np.any(np.diff(err_ref) <= 0):
        raise ValueError("reference: expected strictly increasing errors")
    inside = (other[:, 1] >= err_ref[0]) & (other[:, 1] <= err_ref[-1])
    gain = other[:, 0] / np.interp(other[:, 1], err_ref, nnz_ref) - 1
    return np.where(inside, gain, np.nan)


@validate(
    X=Array(ndim=2),
    A=Array(ndim=2),
    eta=_POS,
    k_ista=Integer(minimum=1),
    k_fista=Integer(minimum=1),
)
def solver_histories(X, A, eta: float, k_ista: int, k_fista: int) -> dict:
    """The library's l1 encoders on X (N, d) with the dictionary A (SC6): ``Z_star`` the
    default (active-set) codes (N, p) and ``F_star`` their objective, and the objective after
    every iteration of ``encode(..., method="ista" / "fista", tol=0)`` run for ``k_ista`` /
    ``k_fista`` iterations from zero: ``hist_ista`` (k_ista + 1,), ``hist_fista`` (k_fista + 1,),
    shorter if the solver stops once F no longer changes in float64."""
    if X.shape[1] != A.shape[0]:
        raise ValueError(f"A: expected {X.shape[1]} rows (X's width), got {A.shape[0]}")
    Z_star = encode(X, A, eta)
    hist = {
        m: np.asarray(encode(X, A, eta, method=m, max_iter=k, tol=0, return_history=True)[1])
        for m, k in (("ista", k_ista), ("fista", k_fista))
    }
    return dict(
        Z_star=Z_star,
        F_star=objective(X, A, Z_star, eta),
        hist_ista=hist["ista"],
        hist_fista=hist["fista"],
    )


@validate(
    n_train=Integer(minimum=2),
    n_test=Integer(minimum=1),
    eps=Real(low=0, open=True),
    downscale=Integer(minimum=1),
)
def whitened_patches(n_train: int, n_test: int, eps: float = 0.1, downscale: int = 3) -> dict:
    """The chapter's data: 8x8 mean-removed patches of scikit-learn's two photos
    (``datasets.image_patches``, seeds 0 for training and 1 for the held-out set, ``downscale``),
    ZCA-whitened with the training set's transform (``zca_whitening``, ``eps``) and scaled so
    the training patches' mean squared norm is 1. Returns ``X`` (n_train, 64), ``X_test``
    (n_test, 64), and ``raw_train``, ``X_white`` (before the scaling) for the whitening check."""
    raw_train = image_patches(n_train, seed=0, downscale=downscale)
    raw_test = image_patches(n_test, seed=1, downscale=downscale)
    X_white, W = zca_whitening(raw_train, eps=eps)
    scale = np.sqrt(np.mean(np.sum(X_white**2, axis=1)))
    X_test = (raw_test - raw_train.mean(axis=0)) @ W / scale
    return dict(X=X_white / scale, X_test=X_test, raw_train=raw_train, X_white=X_white)


@validate(X=Array(ndim=2), A=Array(ndim=2), eta=_POS)
def encoder_comparison(X, A, eta: float) -> dict:
    """The l1 encoders on X (N, d) with the dictionary A (SC6), timed (``timed``): the
    library's default, the LARS homotopy (best of 2; ``t_ex``, codes ``Z_ex``, objective
    ``F_ex``), its FISTA for 3000 iterations with tol=0 (one run; ``t_fista``, ``h_fista``
    the objective per iteration) and scikit-learn's ``sparse_encode`` with ``lasso_cd`` and
    ``alpha = sklearn_alpha(eta)`` (best of 2; ``t_cd``, ``F_cd``)."""
    if X.shape[1] != A.shape[0]:
        raise ValueError(f"A: expected {X.shape[1]} rows (X's width), got {A.shape[0]}")
    encode(X[:1], A, eta)  # numba compiles the homotopy at its first call: not timed
    t_ex, Z_ex = timed(lambda: encode(X, A, eta))
    fista = lambda: encode(X, A, eta, method="fista", max_iter=3000, tol=0, return_history=True)
    t_fista, (_, h_fista) = timed(fista, repeat=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lasso_cd's convergence notices
        t_cd, Z_cd = timed(
            lambda: sparse_encode(X, A.T, algorithm="lasso_cd", alpha=sklearn_alpha(eta))
        )
    return dict(
        t_ex=t_ex,
        Z_ex=Z_ex,
        F_ex=objective(X, A, Z_ex, eta),
        t_fista=t_fista,
        h_fista=np.asarray(h_fista),
        t_cd=t_cd,
        F_cd=objective(X, A, Z_cd, eta),
    )
