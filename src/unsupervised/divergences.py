"""Divergences between probability distributions.

Formula IDs (see the book's formula index):

- VA16  KL(N(mu1, S1) || N(mu2, S2))
        = 1/2 ( tr(S2^-1 S1) + (mu2 - mu1)^T S2^-1 (mu2 - mu1) - k + log(|S2| / |S1|) )
- GA6-GA10  KL(p || q) = int p log(p / q) dx and JS(p || q) = 1/2 KL(p || m) + 1/2 KL(q || m),
        m = (p + q) / 2, for densities given by their values on a grid (``kl_divergence``,
        ``js_divergence``)

All divergences are in nats (natural logarithm). ``gaussian_kl`` is written in torch (it is
differentiable and runs on the device of its inputs); NumPy arrays in give a NumPy array out.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from scipy.special import rel_entr  # x log(x / y) with the 0 log 0 and x / 0 conventions

from ._validation import Density, Real, Tensor, validate

__all__ = ["gaussian_kl", "kl_divergence", "js_divergence"]


def _numpy_unless_a_tensor_came_in(fn):
    """The result as a NumPy array unless one of the arguments is a torch tensor."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        out = fn(*args, **kwargs)
        if any(isinstance(a, torch.Tensor) for a in (*args, *kwargs.values())):
            return out
        return out.detach().cpu().numpy()

    return wrapper


def _cholesky(cov, name):
    """Lower Cholesky factor of a batch of symmetric positive definite matrices, or ValueError."""
    scale = cov.detach().abs().amax(dim=(-2, -1), keepdim=True).clamp_min(1e-300)
    if not bool(((cov - cov.transpose(-2, -1)).detach().abs() <= 1e-8 * scale).all()):
        raise ValueError(f"{name} must be symmetric")
    L, info = torch.linalg.cholesky_ex(cov)
    if bool((info != 0).any()) or not bool(torch.isfinite(L.detach()).all()):
        raise ValueError(f"{name} must be positive definite")
    return L


@_numpy_unless_a_tensor_came_in
@validate(mu1=Tensor(), cov1=Tensor(), mu2=Tensor(), cov2=Tensor())
def gaussian_kl(
    mu1: np.ndarray | torch.Tensor,
    cov1: np.ndarray | torch.Tensor,
    mu2: np.ndarray | torch.Tensor,
    cov2: np.ndarray | torch.Tensor,
) -> np.ndarray | torch.Tensor:
    """KL divergence between two multivariate normal distributions (VA16), in nats.

    KL(N(mu1, S1) || N(mu2, S2)) = 1/2 ( tr(S2^-1 S1) + (mu2 - mu1)^T S2^-1 (mu2 - mu1)
                                         - k + log|S2| - log|S1| ),

    evaluated with Cholesky factors S = L L^T: tr(S2^-1 S1) = ||L2^-1 L1||_F^2, the quadratic
    form is ||L2^-1 (mu2 - mu1)||^2 and log|S| = 2 sum_i log L_ii (no explicit inverse).

    Parameters
    ----------
    mu1, mu2 : arrays of shape (..., k), the means
    cov1, cov2 : arrays of shape (..., k, k), symmetric positive definite covariances

    The leading (batch) dimensions of the four arguments broadcast against each other, so a
    batch of N distributions (mu1 of shape (N, k), cov1 of shape (N, k, k)) can be compared
    with one (mu2 of shape (k,), cov2 of shape (k, k)).

    Returns
    -------
    kl : array of shape (...) (the broadcast batch shape; a 0-d array for single
        distributions). A torch tensor when any argument is a tensor (differentiable,
        on the arguments' device), otherwise a NumPy float64 array.
    """
    dtype = torch.promote_types(
        torch.promote_types(mu1.dtype, cov1.dtype), torch.promote_types(mu2.dtype, cov2.dtype)
    )
    mu1, cov1, mu2, cov2 = (t.to(dtype) for t in (mu1, cov1, mu2, cov2))
    if mu1.ndim < 1:
        raise ValueError(f"mu1 must have shape (..., k); got shape {tuple(mu1.shape)}")
    k = mu1.shape[-1]
    if mu2.ndim < 1 or mu2.shape[-1] != k:
        raise ValueError(f"mu2 must have shape (..., k={k}) like mu1; got shape {tuple(mu2.shape)}")
    for name, cov in (("cov1", cov1), ("cov2", cov2)):
        if cov.ndim < 2 or cov.shape[-2:] != (k, k):
            raise ValueError(
                f"{name} must have shape (..., {k}, {k}); got shape {tuple(cov.shape)}"
            )
    try:
        batch = torch.broadcast_shapes(
            mu1.shape[:-1], cov1.shape[:-2], mu2.shape[:-1], cov2.shape[:-2]
        )
    except RuntimeError as err:
        raise ValueError(
            "the batch shapes of mu1 (..., k), cov1 (..., k, k), mu2 and cov2 must broadcast; "
            f"got {tuple(mu1.shape)}, {tuple(cov1.shape)}, {tuple(mu2.shape)}, {tuple(cov2.shape)}"
        ) from err
    L1 = _cholesky(cov1, "cov1").expand(*batch, k, k)
    L2 = _cholesky(cov2, "cov2").expand(*batch, k, k)
    diff = (mu2 - mu1).expand(*batch, k).unsqueeze(-1)  # (..., k, 1)
    trace = torch.linalg.solve_triangular(L2, L1, upper=False).pow(2).sum(dim=(-2, -1))
    quad = torch.linalg.solve_triangular(L2, diff, upper=False).pow(2).sum(dim=(-2, -1))
    log_det1 = 2.0 * torch.log(torch.diagonal(L1, dim1=-2, dim2=-1)).sum(-1)
    log_det2 = 2.0 * torch.log(torch.diagonal(L2, dim1=-2, dim2=-1)).sum(-1)
    kl = 0.5 * (trace + quad - k + log_det2 - log_det1)
    return kl


# =========================================================================== grid divergences
# Added for the GAN chapter (GA6-GA10): KL and JS divergences between densities given by
# their values on a grid. Independent of gaussian_kl above.
_GRID = {"p": Density(), "q": Density(), "dx": Real(low=0, low_open=True)}


def _same_shape(p, q):
    if q.shape != p.shape:
        raise ValueError(f"q must have the shape of p {p.shape}; got {q.shape}")


def _kl(p, q, dx):
    return float(rel_entr(p, q).sum() * dx)


@validate(**_GRID)
def kl_divergence(p: np.ndarray, q: np.ndarray, dx: float) -> float:
    """KL(p || q) = int p log(p / q) dx for densities on a grid (GA6, GA8), in nats.

    Evaluated as the Riemann sum sum_i p_i log(p_i / q_i) dx with the conventions
    0 log(0 / q) = 0 (also for q = 0) and p log(p / 0) = +inf for p > 0, so the result is
    ``inf`` exactly when p puts mass where q has none.

    Parameters
    ----------
    p, q : non-negative arrays of the same shape, the densities' values on a grid of equal
        cells (any number of dimensions); they should integrate to 1 (sum * dx = 1), which
        is not enforced: the sum is returned as it is
    dx : the volume of one cell (the grid step in 1-D), > 0

    Returns a float (``inf`` possible).
    """
    _same_shape(p, q)
    return _kl(p, q, dx)


@validate(**_GRID)
def js_divergence(p: np.ndarray, q: np.ndarray, dx: float) -> float:
    """JS(p || q) = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q) / 2, on a grid (GA6, GA7).

    Always finite: m > 0 wherever p > 0 or q > 0. For densities that integrate to 1 it lies
    in [0, log 2]; it is 0 iff p = q and log 2 iff p and q have disjoint supports.

    Parameters
    ----------
    p, q : non-negative arrays of the same shape (densities on a grid of equal cells)
    dx : the volume of one cell, > 0

    Returns a float, in nats.
    """
    _same_shape(p, q)
    m = 0.5 * p + 0.5 * q  # (p + q) / 2 without overflow near the largest float
    return 0.5 * _kl(p, m, dx) + 0.5 * _kl(q, m, dx)
