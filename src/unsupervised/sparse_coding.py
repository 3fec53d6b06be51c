"""Sparse coding: the objective, the three sparsity functions, encoding and dictionary learning.

Formulas SC1-SC7 of the chapter (notebooks/01_sparse_coding.ipynb). Shapes follow the book:
data ``X`` (N, d), one sample per row; dictionary ``A`` (d, p) with the atoms as columns (the
source's orientation); codes ``Z`` (N, p), one code per row; the reconstruction is ``Z @ A.T``.

- Sparsity functions (value per sample, SC3-SC5): ``l1_penalty``, ``log_penalty``,
  ``exp_penalty``; their gradients ``log_penalty_grad``, ``exp_penalty_grad`` (the l1 norm has
  none at 0) and proximal maps ``soft_threshold`` (= prox of the l1 norm), ``log_prox``,
  ``exp_prox``.
- ``objective(X, A, Z, eta, penalty)``: the source's L(A, Z) (SC2), a sum over samples.
- ``encode(X, A, eta, penalty, method)``: the codes for a fixed dictionary (SC6). For the l1
  penalty the default ``method="auto"`` is the exact LARS-Lasso homotopy, compiled with numba
  (in ``_lars.py``), with a batched feature-sign solver (``_lasso.py``, also
  ``method="active_set"``) for the samples it cannot finish; ``"ista"`` and ``"fista"`` are
  the textbook proximal-gradient methods, written out here.
- ``update_dictionary(X, Z, lam)``: the closed-form minimiser of SC7.
- ``learn_dictionary(...)``: alternating optimisation of SC6 and SC7 (the chapter's
  teaching version); ``learn_dictionary_online(...)``: the same objective with atoms of
  norm <= 1, one mini-batch at a time (Mairal et al. 2009), much faster on many samples.
- ``sklearn_alpha(eta)``: the ``alpha`` of ``sklearn.decomposition.sparse_encode`` that solves
  the same problem as this module's ``eta``.
- ``zca_whitening(X, eps)``: decorrelate the pixels of image patches (preprocessing).

Randomness only through ``seed``. Arguments are checked where they enter (``@validate``, the
library's one policy: bad input raises ``ValueError`` naming the argument); the functions
call each other through their unchecked bodies.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numpy.typing import ArrayLike
from threadpoolctl import threadpool_limits

from ._dictionary import _accumulate, _update_atoms
from ._lars import _lars
from ._lasso import _active_set
from ._validation import (
    Array,
    Choice,
    Flag,
    Instance,
    Integer,
    Optional,
    Real,
    Seed,
    validate,
)

__all__ = [
    "l1_penalty",
    "log_penalty",
    "log_penalty_grad",
    "exp_penalty",
    "exp_penalty_grad",
    "soft_threshold",
    "log_prox",
    "exp_prox",
    "penalty_value",
    "objective",
    "dictionary_objective",
    "lipschitz_constant",
    "encode",
    "update_dictionary",
    "learn_dictionary",
    "learn_dictionary_online",
    "sklearn_alpha",
    "zca_whitening",
    "PENALTIES",
    "METHODS",
]

PENALTIES = ("l1", "log", "exp")
METHODS = ("auto", "lars", "active_set", "fista", "ista")

# What the arguments must be (the shapes that depend on another argument are checked in the
# bodies, naming the argument): samples X (N, d) or one sample (d,), a dictionary A (d, p),
# codes Z (N, p) or (p,).
_SAMPLES = Array(ndim=(1, 2))
_DICTIONARY = Array(ndim=2)
_CODES = Array(ndim=(1, 2))
_ETA = Real(low=0)
_PENALTY = Choice(PENALTIES)


def _as_rows(M: np.ndarray) -> np.ndarray:
    """A 1-D array (one sample, or one code) as a matrix with one row."""
    return M.reshape(1, -1) if M.ndim == 1 else M


def _check_shape(M, name, rows=None, cols=None, why=""):
    """ValueError naming ``name`` unless the 2-D array M has the given numbers of rows/cols."""
    if (rows is not None and M.shape[0] != rows) or (cols is not None and M.shape[1] != cols):
        need = [f"{n} {what}" for n, what in ((rows, "rows"), (cols, "columns")) if n is not None]
        raise ValueError(f"{name} must have {' and '.join(need)} ({why}); got shape {M.shape}")


# --------------------------------------------------------------------------- SC3-SC5
@validate(Z=_CODES)
def l1_penalty(Z: ArrayLike) -> np.ndarray | float:
    """SC3: rho(z) = sum_i |z_i| for every code. Z (N, p) (or (p,)) -> (N,) (or a scalar)."""
    return np.abs(Z).sum(axis=-1)


@validate(Z=_CODES)
def log_penalty(Z: ArrayLike) -> np.ndarray | float:
    """SC4: rho(z) = sum_i log(1 + z_i^2) for every code (computed with log1p)."""
    return np.log1p(Z * Z).sum(axis=-1)


@validate(Z=Array())
def log_penalty_grad(Z: ArrayLike) -> np.ndarray:
    """Gradient of SC4 with respect to each z_i: 2 z_i / (1 + z_i^2); same shape as Z."""
    return 2.0 * Z / (1.0 + Z * Z)


@validate(Z=_CODES)
def exp_penalty(Z: ArrayLike) -> np.ndarray | float:
    """SC5: rho(z) = sum_i -exp(-z_i^2) for every code (minimal, -p, at z = 0)."""
    return -np.exp(-Z * Z).sum(axis=-1)


@validate(Z=Array())
def exp_penalty_grad(Z: ArrayLike) -> np.ndarray:
    """Gradient of SC5 with respect to each z_i: 2 z_i exp(-z_i^2); same shape as Z."""
    return 2.0 * Z * np.exp(-Z * Z)


# The sparsity functions without the argument checks (functools.wraps keeps the undecorated
# bodies as __wrapped__): for the library's own calls, whose arguments are already checked.
_RHO = {
    "l1": l1_penalty.__wrapped__,
    "log": log_penalty.__wrapped__,
    "exp": exp_penalty.__wrapped__,
}


@validate(v=Array(), t=Array(low=0))
def soft_threshold(v: ArrayLike, t: ArrayLike) -> np.ndarray:
    """The proximal map of t * |.|: sign(v) * max(|v| - t, 0), elementwise (SC3).

    It is the unique minimiser of u -> (u - v)^2 / 2 + t |u|. ``v``: an array of any shape;
    ``t`` >= 0: a scalar or an array that broadcasts against ``v``.
    """
    try:
        np.broadcast_shapes(v.shape, t.shape)
    except ValueError:
        raise ValueError(
            f"t must be a scalar or an array that broadcasts against v {v.shape}; "
            f"got shape {t.shape}"
        ) from None
    return _soft_threshold(v, t)


def _soft_threshold(v, t):
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


_SMOOTH = {
    # name: (h(u), h'(u), h''(u), -min_u h''(u)) of the per-coordinate penalty
    "log": (
        lambda u: np.log1p(u * u),
        lambda u: 2.0 * u / (1.0 + u * u),
        lambda u: 2.0 * (1.0 - u * u) / (1.0 + u * u) ** 2,
        0.25,
    ),  # h'' is smallest at u^2 = 3
    "exp": (
        lambda u: -np.exp(-u * u),
        lambda u: 2.0 * u * np.exp(-u * u),
        lambda u: (2.0 - 4.0 * u * u) * np.exp(-u * u),
        4.0 * math.exp(-1.5),
    ),  # h'' is smallest at u^2 = 3/2
}


def _prox_smooth(v, t, kind, n_grid=65, n_newton=50):
    """Global minimiser of u -> (u - v)^2 / 2 + t h(u) for the even, smooth penalties.

    h is even and increasing in |u|, so the minimiser has the sign of v and |u| <= |v|; it
    solves phi(u) = u - |v| + t h'(u) = 0, with phi(0) <= 0 <= phi(|v|).
    - Convex case (1 + t min h'' > 0, i.e. t < 4 for log, t < e^1.5 / 4 for exp): phi is
      increasing, the root is unique: safeguarded Newton (bisection fallback) on [0, |v|].
    - Otherwise the 1-D objective may have two local minima: evaluate it on a grid of
      ``n_grid`` points in [0, |v|], refine around the best grid point the same way, and keep
      the best of the refined point, the grid point and the bracket ends.
    """
    h, dh, d2h, curv = _SMOOTH[kind]
    a = np.abs(v).ravel()
    if t == 0.0:
        return v.copy()
    convex = t * curv < 1.0
    rows = np.arange(a.size)
    if convex:
        lo, hi = np.zeros_like(a), a.copy()
        u = a / (1.0 + 2.0 * t)  # the root when h is replaced by u^2
        has_root = np.ones(a.size, dtype=bool)
    else:
        grid = a[:, None] * np.linspace(0.0, 1.0, n_grid)[None, :]
        q = 0.5 * (grid - a[:, None]) ** 2 + t * h(grid)
        k = np.argmin(q, axis=1)
        step = a / (n_grid - 1)
        u_grid = grid[rows, k]
        lo = np.maximum(u_grid - step, 0.0)
        hi = np.minimum(u_grid + step, a)
        u = u_grid.copy()

    def phi(x):
        return x - a + t * dh(x)

    if not convex:
        has_root = (phi(lo) <= 0) & (phi(hi) >= 0)  # else the minimiser is a bracket end
    for _ in range(n_newton):
        f = phi(u)
        lo = np.where(has_root & (f < 0), u, lo)
        hi = np.where(has_root & (f > 0), u, hi)
        slope = 1.0 + t * d2h(u)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = u - f / slope
        inside = (slope > 0) & (newton >= lo) & (newton <= hi)
        u_next = np.where(has_root, np.where(inside, newton, 0.5 * (lo + hi)), u)
        # converged: Newton's last steps only move the last few bits (it may cycle there)
        settled = np.all(np.abs(u_next - u) <= 4.0 * np.finfo(float).eps * a)
        u = u_next
        if settled:
            break
    if convex:
        best = u
    else:
        cands = np.stack([u, u_grid, lo, hi], axis=1)
        qc = 0.5 * (cands - a[:, None]) ** 2 + t * h(cands)
        best = cands[rows, np.argmin(qc, axis=1)]
    return (np.sign(v).ravel() * best).reshape(v.shape)


@validate(v=Array(), t=Real(low=0))
def log_prox(v: ArrayLike, t: float) -> np.ndarray:
    """The proximal map of t * log(1 + u^2) (SC4), elementwise: argmin_u (u-v)^2/2 + t log(1+u^2).

    ``v``: an array of any shape, ``t`` >= 0 a number. Convex (a unique, continuous map) when
    t <= 4; for larger t the 1-D problem has two local minima and the global one jumps from
    near 0 to near v: a thresholding map.
    """
    return _prox_smooth(v, t, "log")


@validate(v=Array(), t=Real(low=0))
def exp_prox(v: ArrayLike, t: float) -> np.ndarray:
    """The proximal map of t * (-exp(-u^2)) (SC5), elementwise: argmin_u (u-v)^2/2 - t exp(-u^2).

    ``v``: an array of any shape, ``t`` >= 0 a number. Convex when t <= exp(3/2)/4 ~= 1.12;
    for larger t it jumps (a thresholding map close to hard thresholding).
    """
    return _prox_smooth(v, t, "exp")


def _prox(v, t, penalty):
    """The proximal map of t * rho for the named penalty (arguments already checked)."""
    return _soft_threshold(v, t) if penalty == "l1" else _prox_smooth(v, t, penalty)


@validate(Z=_CODES, penalty=_PENALTY)
def penalty_value(Z: ArrayLike, penalty: str = "l1") -> np.ndarray | float:
    """rho(z^(n)) for every code with the chosen sparsity function (SC3-SC5):
    Z (N, p) -> (N,), or (p,) -> a scalar."""
    return _RHO[penalty](Z)


# --------------------------------------------------------------------------- SC2
@validate(X=_SAMPLES, A=_DICTIONARY, Z=_CODES, eta=_ETA, penalty=_PENALTY)
def objective(X: ArrayLike, A: ArrayLike, Z: ArrayLike, eta: float, penalty: str = "l1") -> float:
    """SC2, the source's L(A, Z) = sum_n ( ||x^(n) - A z^(n)||^2 + eta * rho(z^(n)) ).

    X (N, d) (or one sample (d,)), A (d, p), Z (N, p) (or (p,)), eta >= 0; returns a float.
    The ridge term of SC7 is *not* part of L; ``learn_dictionary`` adds it to the quantity it
    minimises (``dictionary_objective``).
    """
    X, Z = _check_problem(X, A, Z)
    return _objective(X, A, Z, eta, penalty)


def _check_problem(X, A, Z):
    """X and Z as matrices of one row per sample, or ValueError if a shape does not match A."""
    X, Z = _as_rows(X), _as_rows(Z)
    _check_shape(X, "X", cols=A.shape[0], why="d: A is d x p")
    _check_shape(Z, "Z", rows=X.shape[0], cols=A.shape[1], why="N x p: one code per sample of X")
    return X, Z


def _objective(X, A, Z, eta, penalty):
    R = X - Z @ A.T
    return float(np.sum(R * R) + eta * np.sum(_RHO[penalty](Z)))


def _per_sample_objective(X, A, Z, eta, penalty):
    R = X - Z @ A.T
    return np.einsum("nd,nd->n", R, R) + eta * _RHO[penalty](Z)


@validate(A=_DICTIONARY)
def lipschitz_constant(A: ArrayLike) -> float:
    """L = 2 ||A||_2^2 = 2 lambda_max(A^T A) for A (d, p): the Lipschitz constant of the
    gradient 2 A^T (A z - x) of ||x - A z||^2 (the smallest one: it is attained along the top
    eigenvector of A^T A). The proximal-gradient step size for SC6 is 1 / L."""
    return 2.0 * float(np.linalg.norm(A, 2)) ** 2


_lipschitz_constant = lipschitz_constant.__wrapped__  # unchecked, for the solvers


@validate(eta=_ETA)
def sklearn_alpha(eta: float) -> float:
    """The ``alpha`` of ``sklearn.decomposition.sparse_encode(algorithm="lasso_cd")`` (and of
    ``MiniBatchDictionaryLearning``'s codes) that solves SC6 with this ``eta``: alpha = eta / 2.

    sparse_encode fits ``Lasso(alpha=alpha / d)`` with the d pixels as Lasso's samples, which
    minimises (1 / (2 d)) ||x - A z||^2 + (alpha / d) ||z||_1; multiplied by 2 d this is
    ||x - A z||^2 + 2 alpha ||z||_1, i.e. SC6 with eta = 2 alpha.
    """
    return eta / 2.0


# --------------------------------------------------------------------------- SC6: encoders
@validate(
    X=_SAMPLES,
    A=_DICTIONARY,
    eta=_ETA,
    penalty=_PENALTY,
    method=Choice(METHODS),
    max_iter=Optional(Integer(minimum=1)),
    tol=Optional(Real(low=0)),
    init=Optional(_CODES),
    return_history=Flag(),
)
def encode(
    X: ArrayLike,
    A: ArrayLike,
    eta: float,
    penalty: str = "l1",
    method: str = "auto",
    max_iter: int | None = None,
    tol: float | None = None,
    init: ArrayLike | None = None,
    return_history: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """SC6: for a fixed dictionary, the code of every sample,
    z^(n) = argmin_z ||x^(n) - A z||^2 + eta * rho(z).

    Parameters
    ----------
    X : array (N, d), or (d,) for one sample (then Z has shape (p,))
    A : array (d, p), atoms as columns
    eta : float >= 0, strength of the sparsity term. With eta = 0 SC6 is least squares
        (whatever the penalty): "auto", "lars" and "active_set" then return its minimum-norm
        solution (``numpy.linalg.lstsq``; the one ISTA and FISTA converge to from z = 0),
        ignoring ``init``.
    penalty : "l1" (SC3), "log" (SC4) or "exp" (SC5)
    method :
        - "auto" (default): "lars" for the l1 penalty (and for eta = 0), "ista" for the
          others;
        - "lars" (l1 only), exact and the fastest: the LARS-Lasso homotopy (Efron et al.
          2004), sample by sample in compiled code (numba, in parallel over samples). It
          follows the solution from z = 0 at eta = 2 max_i |a_i^T x| down to the requested
          eta, adding an atom where its correlation |a_i^T (x - A z)| reaches half the
          current eta and removing one whose coefficient reaches zero; a Cholesky factor of
          the Gram matrix of the support is updated at each step. Every code is then checked
          against the full optimality conditions; the samples that fail (an atom in the span
          of the support, the step limit) are finished by
          "active_set", warm-started at that code. ``init`` is not used;
        - "active_set" (l1 only), exact and fast: for each sample it keeps a small set S of
          atoms with signs, solves the problem restricted to S in closed form (a |S| x |S|
          linear system of the Gram matrix A^T A), and where that solution changes a sign it
          moves along the segment to the best sign change instead (feature-sign search, Lee
          et al. 2007), dropping atoms that reach zero; when the code is exact on S it checks
          the full problem's optimality conditions |a_i^T (x - A z)| <= eta / 2 for the atoms
          outside S and adds the worst violators (at most 8 per round). All samples advance
          together with batched linear algebra; a sample whose set would need a singular
          system (about d atoms) is finished by FISTA (the solver: ``_lasso.py``);
        - "fista": accelerated proximal gradient (Beck & Teboulle 2009), step 1 / L;
        - "ista": proximal gradient, step 1 / L. For "log" / "exp" it uses their proximal maps;
          those objectives are non-convex, so the stationary point it finds may depend on the
          start (it can when the objective has several local minima).
    max_iter : int >= 1, steps per sample for "lars" and rounds for "active_set" (default 50 d
        for both), iterations otherwise (default 1000)
    tol : float >= 0, stopping tolerance (default 1e-10). "lars", "active_set": a sample is
        done when no atom outside its support violates the optimality condition by more than
        tol * eta / 2;
        "ista" / "fista": stop when the objective changes by less than tol (relative) in one
        iteration.
    init : array (N, p) (or (p,)) or None, a starting code (warm start)
    return_history : bool. Also return a 1-D array: "ista" / "fista": the objective L after
        every iteration (index 0: at the start); "active_set": the number of samples still
        being refined in every round (empty for eta = 0); "lars": the same for the samples
        "active_set" finished (empty when the homotopy finished every sample).

    Returns
    -------
    Z : array (N, p) (or (p,)), and the history if return_history
    """
    one = X.ndim == 1
    X = _as_rows(X)
    _check_shape(X, "X", cols=A.shape[0], why="d: A is d x p")
    method = _resolve_method(penalty, method, eta)
    if init is not None:
        init = _as_rows(init)
        _check_shape(init, "init", X.shape[0], A.shape[1], why="N x p: one code per sample")
    with np.errstate(over="ignore"):  # |A^T A| <= ||A||_F^2, |X A| <= ||X||_F ||A||_F
        fits = math.isfinite(float(np.sum(X * X)) * float(np.sum(A * A)) + float(np.sum(A * A)))
    if fits:
        Z, history = _encode(X, A, eta, penalty, method, max_iter, tol, init)
    if not fits or not np.all(np.isfinite(Z)):
        raise ValueError(
            "X and A must be of moderate size: A^T A, X A or the codes overflow float64 "
            f"(max |X| = {np.abs(X).max():.3g}, max |A| = {np.abs(A).max():.3g}); rescale them"
        )
    if one:
        Z = Z[0]
    return (Z, np.asarray(history)) if return_history else Z


def _resolve_method(penalty, method, eta, name="method"):
    """The solver "auto" means, or ValueError (naming ``name``) for a convex-only solver with
    a non-convex penalty."""
    if method in ("lars", "active_set", "fista") and penalty != "l1":
        raise ValueError(
            f"{name}={method!r} needs penalty='l1' (the convex one); "
            f"use method='ista' for penalty={penalty!r}"
        )
    if method == "auto":
        return "lars" if penalty == "l1" or eta == 0.0 else "ista"
    return method


def _encode(X, A, eta, penalty, method, max_iter=None, tol=None, init=None):
    """``encode`` on checked arguments, X (N, d): returns Z (N, p) and the history list."""
    tol = 1e-10 if tol is None else tol
    if method in ("lars", "active_set"):
        if eta == 0.0:  # least squares: its minimum-norm solution
            return np.linalg.lstsq(A, X.T, rcond=None)[0].T.copy(), []
        rounds = 50 * A.shape[0] if max_iter is None else max_iter
        if method == "active_set":
            return _active_set(X, A, eta, rounds, tol, init)
        Z, ok = _lars(X, A, eta, rounds, tol)
        history = []
        if not ok.all():  # rare: finish these samples with the feature-sign solver
            Z[~ok], history = _active_set(X[~ok], A, eta, rounds, tol, Z[~ok])
        return Z, history
    iters = 1000 if max_iter is None else max_iter
    return _proximal_gradient(X, A, eta, penalty, method == "fista", iters, tol, init)


def _proximal_gradient(X, A, eta, penalty, accelerate, max_iter, tol, init):
    """ISTA / FISTA on all samples at once with the Gram matrix G = A^T A and B = X A:
    the gradient of ||x - A z||^2 is 2 (G z - b). Step 1 / L with L = 2 lambda_max(G)."""
    G = A.T @ A
    B = X @ A
    L = _lipschitz_constant(A)
    Z = np.zeros((X.shape[0], A.shape[1])) if init is None else init.copy()
    if L == 0.0:
        return Z, [_objective(X, A, Z, eta, penalty)]
    Y, t_k = Z.copy(), 1.0
    history = [_objective(X, A, Z, eta, penalty)]
    for _ in range(max_iter):
        grad = 2.0 * (Y @ G - B)
        Z_new = _prox(Y - grad / L, eta / L, penalty)
        if accelerate:
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t_k * t_k))
            Y = Z_new + ((t_k - 1.0) / t_next) * (Z_new - Z)
            t_k = t_next
        else:
            Y = Z_new
        Z = Z_new
        history.append(_objective(X, A, Z, eta, penalty))
        if abs(history[-2] - history[-1]) <= tol * max(abs(history[-2]), 1e-300):
            break
    return Z, history


# --------------------------------------------------------------------------- SC7
@validate(X=_SAMPLES, Z=_CODES, lam=Real(low=0))
def update_dictionary(X: ArrayLike, Z: ArrayLike, lam: float) -> np.ndarray:
    """SC7: A = argmin_A sum_n ||x^(n) - A z^(n)||^2 + (lam / 2) ||A||_F^2, in closed form.

    Setting the gradient -2 (X - Z A^T)^T Z + lam A to zero gives
    A (Z^T Z + (lam / 2) I) = X^T Z, so A = X^T Z (Z^T Z + (lam / 2) I)^{-1}.
    X (N, d), Z (N, p), lam >= 0 -> A (d, p). With lam = 0 the least-squares solution of
    minimum norm is returned (Z^T Z may be singular).
    """
    X, Z = _as_rows(X), _as_rows(Z)
    _check_shape(X, "X", rows=Z.shape[0], why="one sample per code of Z")
    return _update_dictionary(X, Z, lam)


def _update_dictionary(X, Z, lam):
    if lam == 0.0:
        return np.linalg.lstsq(Z, X, rcond=None)[0].T
    H = Z.T @ Z
    H[np.diag_indices_from(H)] += 0.5 * lam
    # H is symmetric positive definite: solve H A^T = Z^T X
    return np.linalg.solve(H, Z.T @ X).T


@validate(X=_SAMPLES, A=_DICTIONARY, Z=_CODES, eta=_ETA, lam=Real(low=0), penalty=_PENALTY)
def dictionary_objective(
    X: ArrayLike, A: ArrayLike, Z: ArrayLike, eta: float, lam: float, penalty: str = "l1"
) -> float:
    """The quantity alternating optimisation minimises: J(A, Z) = L(A, Z) + (lam / 2) ||A||_F^2
    (SC2 plus the ridge term of SC7). Shapes as in ``objective``; lam >= 0."""
    X, Z = _check_problem(X, A, Z)
    return _dictionary_objective(X, A, Z, eta, lam, penalty)


def _dictionary_objective(X, A, Z, eta, lam, penalty):
    return _objective(X, A, Z, eta, penalty) + 0.5 * lam * float(np.sum(A * A))


@validate(
    X=Array(ndim=2),
    n_atoms=Integer(minimum=1),
    eta=Real(low=0, low_open=True),
    lam=Real(low=0, low_open=True),
    n_iter=Integer(minimum=1),
    penalty=_PENALTY,
    seed=Seed(none=True),
    progress=Flag(),
    init=Optional(_DICTIONARY),
    normalize_atoms=Flag(),
    resample_unused=Flag(),
    encode_kwargs=Instance(dict, none=True),
)
def learn_dictionary(
    X: ArrayLike,
    n_atoms: int,
    eta: float,
    lam: float,
    n_iter: int,
    penalty: str = "l1",
    seed: int | None = 0,
    progress: bool = False,
    init: ArrayLike | None = None,
    normalize_atoms: bool = False,
    resample_unused: bool = False,
    encode_kwargs: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Alternating optimisation of J(A, Z) = L(A, Z) + (lam / 2) ||A||_F^2: encode with the
    dictionary fixed (SC6), then update the dictionary in closed form with the codes fixed
    (SC7), ``n_iter`` times.

    Parameters
    ----------
    X : array (N, d)
    n_atoms : int p >= 1
    eta : float > 0 (sparsity), lam : float > 0 (ridge on the dictionary)
    n_iter : int >= 1, number of (encode, update) rounds
    penalty : "l1", "log" or "exp"
    seed : int >= 0 (or None: fresh entropy), seed of the random initial dictionary (p
        non-zero rows of X drawn without replacement, scaled to unit norm; equal rows give
        equal atoms) and of the resampling
    progress : bool, show a tqdm progress bar
    init : array (d, p) or None, a starting dictionary instead of the random one
    normalize_atoms : bool. If True, after each update every non-zero atom is scaled to unit
        norm and its codes by the inverse, which leaves the reconstruction Z A^T unchanged
        (the method of optimal directions with normalised atoms, as in Olshausen & Field
        and scikit-learn). Without it the atoms' scale floats: the ridge and the l1 term
        then trade scale against each other, and rarely used atoms shrink to zero. J may
        rise at a normalisation, so the history is monotone only when this is False.
    resample_unused : bool. With the ridge term an atom that no code uses is set to 0 by SC7
        and can never come back (a zero atom is never worth a non-zero coefficient). If True,
        after each update such atoms are replaced by the worst-reconstructed samples, scaled
        to the median norm of the used atoms. This is the one step that may raise J (by
        lam / 2 times the squared norms of the new atoms); it is off by default.
    encode_kwargs : dict or None, options of ``encode`` for the encodings: "method",
        "max_iter", "tol" (checked as ``encode`` checks them)

    Each encoding is given the previous codes as a start (``encode``'s ``init``: a warm
    start for "active_set", "ista" and "fista"; the default l1 method, "lars", solves from
    z = 0 and does not use it); a sample keeps its previous code if the new one is not
    better, and the dictionary is updated only if
    the update does not raise J. Without resampling J therefore never increases.

    Returns
    -------
    A : array (d, p)
    Z : array (N, p), the codes of X under the final A
    history : dict of 1-D arrays with one entry per round: "objective" (J after the
        dictionary update), "objective_codes" (J after the encoding, before the update),
        "loss" (L(A, Z) after the update), "nonzeros" (mean non-zeros per code), "unused"
        (atoms no code used), "resampled" (atoms replaced after the update) and "seconds"
        (cumulative wall time)
    """
    N, d = X.shape
    with np.errstate(over="ignore"):
        if not math.isfinite(float(np.sum(X * X))):
            raise ValueError("X must be of moderate size: sum_n ||x^(n)||^2 overflows; rescale X")
    options = _encode_options(encode_kwargs or {}, penalty, eta)
    rng = np.random.default_rng(seed)
    if init is None:
        A = _initial_dictionary(X, n_atoms, rng)
    else:
        _check_shape(init, "init", d, n_atoms, why="d x n_atoms, atoms as columns")
        A = init.copy()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_iter, desc="learn_dictionary")
    keys = ("objective", "objective_codes", "loss", "nonzeros", "unused", "resampled", "seconds")
    hist = {k: [] for k in keys}
    start = time.perf_counter()
    Z = None
    for _ in range(n_iter):
        Z = _encode_monotone(X, A, eta, penalty, Z, options)
        J_codes = _dictionary_objective(X, A, Z, eta, lam, penalty)
        A_new = _update_dictionary(X, Z, lam)
        J_new = _dictionary_objective(X, A_new, Z, eta, lam, penalty)
        if J_new <= J_codes or normalize_atoms:  # the exact minimiser; rounding aside
            A = A_new
        if normalize_atoms:
            norms = np.linalg.norm(A, axis=0)
            live = norms > 0
            A[:, live] /= norms[live]
            Z[:, live] *= norms[live]
            J_new = _dictionary_objective(X, A, Z, eta, lam, penalty)
        used = np.any(Z != 0, axis=0)
        hist["objective_codes"].append(J_codes)
        hist["objective"].append(J_new if normalize_atoms else min(J_new, J_codes))
        hist["loss"].append(_objective(X, A, Z, eta, penalty))
        hist["nonzeros"].append(float(np.mean(np.count_nonzero(Z, axis=1))))
        hist["unused"].append(int(np.sum(~used)))
        n_new = 0
        if resample_unused and not used.all() and used.any():
            dead = np.nonzero(~used)[0]
            err = np.sum((X - Z @ A.T) ** 2, axis=1)
            worst = np.argsort(-err)[: 4 * dead.size]
            worst = worst[err[worst] > 0]
            pick = rng.choice(worst, size=min(dead.size, worst.size), replace=False)
            scale = 1.0 if normalize_atoms else float(np.median(np.linalg.norm(A[:, used], axis=0)))
            R = X[pick] - Z[pick] @ A.T
            A[:, dead[: pick.size]] = (R / np.linalg.norm(R, axis=1, keepdims=True)).T * scale
            n_new = int(pick.size)
        hist["resampled"].append(n_new)
        hist["seconds"].append(time.perf_counter() - start)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(J=f"{hist['objective'][-1]:.6g}", nnz=f"{hist['nonzeros'][-1]:.1f}")
    if bar is not None:
        bar.close()
    Z = _encode_monotone(X, A, eta, penalty, Z, options)  # the codes of the final dictionary
    return A, Z, {k: np.asarray(v) for k, v in hist.items()}


@validate(
    X=Array(ndim=2),
    n_atoms=Integer(minimum=1),
    eta=Real(low=0, low_open=True),
    n_iter=Integer(minimum=1),
    batch_size=Integer(minimum=1),
    seed=Seed(none=True),
    progress=Flag(),
    init=Optional(_DICTIONARY),
)
def learn_dictionary_online(
    X: ArrayLike,
    n_atoms: int,
    eta: float,
    n_iter: int,
    batch_size: int = 256,
    seed: int | None = 0,
    progress: bool = False,
    init: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Online dictionary learning (Mairal et al. 2009): SC2 with l1 codes and atoms of norm
    at most 1, minimised over the dictionary one mini-batch at a time.

    For t = 1 .. n_iter, with a mini-batch X_t of ``batch_size`` samples:

    1. codes Z_t of X_t under the current dictionary, exact (SC6, ``encode``);
    2. the sufficient statistics of all batches so far, H <- beta_t H + Z_t^T Z_t (p, p)
       and C <- beta_t C + X_t^T Z_t (d, p): sum_n ||x - A z||^2 over the samples seen, with
       their codes fixed, is tr(A^T A H) - 2 tr(A^T C) + const (the surrogate of SC7);
       the weight beta_t of the past (``_forgetting``: Mairal et al. 2010's, with the
       memory capped at two passes over X) lets the first, poorly coded batches fade, and
       when a new pass over X begins the statistics of the pass before the previous one
       are dropped (as SPAMS's trainDL does);
    3. one pass of block-coordinate descent on the surrogate, atom by atom (their
       Algorithm 2): a_j <- a_j + (c_j - A h_j) / H_jj, then a_j <- a_j / max(||a_j||, 1),
       the exact minimiser over a_j in the unit ball with the other atoms fixed. An atom
       that no code has used yet (H_jj = 0) is replaced by a sample of the batch, scaled to
       unit norm.

    Each batch costs an encoding of m samples and O(d p^2) for the update, independent of
    N: that is what makes it faster than the alternating optimisation of
    ``learn_dictionary``, which re-encodes all N samples per round (the chapter's teaching
    version, SC6 and SC7 in turn).

    Parameters
    ----------
    X : array (N, d)
    n_atoms : int p >= 1
    eta : float > 0 (sparsity, as in SC6)
    n_iter : int >= 1, number of mini-batches; the batches go through a fresh random
        permutation of X at each pass over it
    batch_size : int m >= 1 (at most N)
    seed : int >= 0 (or None: fresh entropy), seed of the initial dictionary (p non-zero rows
        of X drawn without replacement, scaled to unit norm, as in ``learn_dictionary``), the
        permutations and the resampled atoms
    progress : bool, show a tqdm progress bar
    init : array (d, p) or None, a starting dictionary instead of the random one (atoms
        longer than 1 are scaled to norm 1)

    Returns
    -------
    A : array (d, p), atoms of norm <= 1
    Z : array (N, p), the exact codes of X under A
    history : dict of 1-D arrays with one entry per batch: "batch_loss" (L / m of SC2 on the
        batch, with its codes, before the update: a running estimate of the expected loss),
        "nonzeros" (mean non-zeros per code of the batch), "resampled" (atoms replaced) and
        "seconds" (cumulative wall time)
    """
    N, d = X.shape
    if batch_size > N:
        raise ValueError(
            f"batch_size must not exceed the number of samples ({N}); got {batch_size}"
        )
    with np.errstate(over="ignore"):
        if not math.isfinite(float(np.sum(X * X))):
            raise ValueError("X must be of moderate size: sum_n ||x^(n)||^2 overflows; rescale X")
    rng = np.random.default_rng(seed)
    if init is None:
        A = _initial_dictionary(X, n_atoms, rng)
    else:  # into the unit ball: atoms no code uses are never updated
        _check_shape(init, "init", d, n_atoms, why="d x n_atoms, atoms as columns")
        A = init / np.maximum(np.linalg.norm(init, axis=0), 1.0)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_iter, desc="learn_dictionary_online")
    # BLAS on one thread: its spinning threads and numba's (the encoder) would take turns
    # on the cores at every batch (measured: 16 ms per batch instead of 7)
    with threadpool_limits(limits=1, user_api="blas"):
        A, hist = _online_batches(X, A, eta, n_iter, batch_size, rng, bar)
    if bar is not None:
        bar.close()
    Z, _ = _encode(X, A, eta, "l1", "lars")
    return A, Z, {k: np.asarray(v) for k, v in hist.items()}


def _online_batches(X, A, eta, n_iter, m, rng, bar):
    """The loop of ``learn_dictionary_online`` (steps 1-3 of its docstring). The atoms are
    kept as the rows of At = A^T and C as Ct = C^T, so the update reads them contiguously.
    (H, Ct) hold the statistics of this pass over X and of the previous one, (H_new, Ct_new)
    those of this pass alone: when a new pass begins, the previous one is dropped."""
    N, d = X.shape
    p = A.shape[1]
    At = np.ascontiguousarray(A.T)
    H, Ct, H_new, Ct_new = np.zeros((p, p)), np.zeros((p, d)), np.zeros((p, p)), np.zeros((p, d))
    order, pos = rng.permutation(N), 0
    hist = {k: [] for k in ("batch_loss", "nonzeros", "resampled", "seconds")}
    start = time.perf_counter()
    for t in range(1, n_iter + 1):
        if pos + m > N:  # a new pass
            order, pos = rng.permutation(N), 0
            H[:], Ct[:] = H_new, Ct_new
            H_new[:], Ct_new[:] = 0.0, 0.0
        Xb = X[order[pos : pos + m]]
        pos += m
        Zb, _ = _encode(Xb, At.T, eta, "l1", "lars")
        loss = _accumulate(H, Ct, H_new, Ct_new, Zb, Xb, _forgetting(t, m, N), At, eta)
        hist["batch_loss"].append(loss / m)  # with the dictionary before the update
        _update_atoms(At, H, Ct)
        n_new = _resample_unused(At, H, Xb, rng)
        hist["nonzeros"].append(float(np.mean(np.count_nonzero(Zb, axis=1))))
        hist["resampled"].append(n_new)
        hist["seconds"].append(time.perf_counter() - start)
        if bar is not None:
            bar.update(1)
    return At.T.copy(), hist


def _forgetting(t, m, N):
    """beta_t of ``learn_dictionary_online`` (step 2): the weight of the past statistics at
    batch t (1, 2, ...) of m samples out of N. The past counts as theta samples, theta =
    t m early on, then m^2 + t - m (Mairal et al. 2010), at most 2 N (two passes, as in
    SPAMS's trainDL): beta = (theta + 1 - m) / (theta + 1), so that in the long run the
    weights of all batches so far add up to 2 N + 1 samples' worth."""
    theta = min(t * m if t < m else m * m + t - m, 2 * N)
    return (theta + 1.0 - m) / (theta + 1.0)


def _initial_dictionary(X, n_atoms, rng):
    """p non-zero rows of X drawn without replacement, scaled to unit norm, as columns."""
    norms = np.linalg.norm(X, axis=1)
    candidates = np.nonzero(norms > 0)[0]
    if candidates.size < n_atoms:
        raise ValueError(
            f"n_atoms must not exceed the number of non-zero rows of X "
            f"({candidates.size}) when init is None; got {n_atoms}"
        )
    pick = rng.choice(candidates, size=n_atoms, replace=False)
    return (X[pick] / norms[pick, None]).T.copy()


def _resample_unused(At, H, Xb, rng):
    """Atoms (rows of At) that no code has used yet (H_jj = 0) become unit-norm samples of
    the batch Xb, in place. Returns how many were replaced."""
    unused = np.nonzero(np.diag(H) <= 0)[0]
    live = Xb[np.linalg.norm(Xb, axis=1) > 0]
    n_new = min(unused.size, live.shape[0])
    if n_new:
        pick = live[rng.choice(live.shape[0], size=n_new, replace=False)]
        At[unused[:n_new]] = pick / np.linalg.norm(pick, axis=1, keepdims=True)
    return n_new


def _encode_options(options, penalty, eta):
    """learn_dictionary's ``encode_kwargs``, checked once with ``encode``'s own declarations."""
    allowed = ("method", "max_iter", "tol")
    unknown = [repr(k) for k in options if k not in allowed]
    if unknown:
        raise ValueError(
            f"encode_kwargs may only set {', '.join(allowed)}; got {', '.join(unknown)}"
        )
    checks = encode.__validation__
    out = {k: checks[k].check(v, f"encode_kwargs[{k!r}]") for k, v in options.items()}
    out["method"] = _resolve_method(
        penalty, out.get("method", "auto"), eta, name="encode_kwargs['method']"
    )
    return out


def _encode_monotone(X, A, eta, penalty, Z_prev, options):
    """The codes of X for A (``_encode`` with ``options``, warm-started at Z_prev); a sample
    keeps Z_prev where that is not worse."""
    Z, _ = _encode(X, A, eta, penalty, init=Z_prev, **options)
    if Z_prev is not None:
        worse = _per_sample_objective(X, A, Z, eta, penalty) > _per_sample_objective(
            X, A, Z_prev, eta, penalty
        )
        Z[worse] = Z_prev[worse]
    return Z


# --------------------------------------------------------------------------- preprocessing
@validate(X=Array(ndim=2), eps=Real(low=0, low_open=True))
def zca_whitening(X: ArrayLike, eps: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """ZCA whitening of the rows of X (N, d): returns (X_white, W), both from
    X_white = X_c @ W (N, d) with X_c = X - mean and W = U diag(1 / sqrt(s + eps s_max)) U^T
    (d, d), from the eigen-decomposition U diag(s) U^T of the pixel covariance.

    ``eps`` > 0 is relative to the largest eigenvalue s_max: it keeps the smallest-variance
    directions (pixel noise, or the zero-variance constant patch of mean-removed patches)
    from being blown up. Data without any variance (all rows equal, e.g. N = 1) has s_max = 0
    and no direction to whiten: it is refused with a ValueError. The result does not depend
    on the scale of X (X_white of c X is X_white of X; W scales by 1 / c), and the
    computation is done on X_c scaled by a power of two, so huge or tiny data do not overflow.
    """
    Xc = X - X.mean(axis=0)
    top = float(np.abs(Xc).max())
    if top == 0.0:
        raise ValueError(
            "X must vary: all its rows are equal (zero variance), so there is no direction "
            "to whiten (W = U diag(1 / sqrt(s + eps s_max)) U^T needs s_max > 0)"
        )
    e = math.frexp(top)[1]  # Xc / 2^e is exact and has entries below 1 in size
    Xs = np.ldexp(Xc, -e)
    cov = Xs.T @ Xs / X.shape[0]
    s, U = np.linalg.eigh(cov)
    s = np.maximum(s, 0.0)
    W = (U / np.sqrt(s + eps * s.max())) @ U.T
    return Xs @ W, np.ldexp(W, -e)
