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
  penalty the default ``method="auto"`` is an exact active-set solver; ``"ista"`` and
  ``"fista"`` are the textbook proximal-gradient methods.
- ``update_dictionary(X, Z, lam)``: the closed-form minimiser of SC7.
- ``learn_dictionary(...)``: alternating optimisation of SC6 and SC7.
- ``sklearn_alpha(eta)``: the ``alpha`` of ``sklearn.decomposition.sparse_encode`` that solves
  the same problem as this module's ``eta``.
- ``zca_whitening(X, eps)``: decorrelate the pixels of image patches (preprocessing).

Randomness only through ``seed``; bad input raises ``ValueError`` naming the argument.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ._validation import check_int

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
    "sklearn_alpha",
    "zca_whitening",
    "PENALTIES",
    "METHODS",
]

PENALTIES = ("l1", "log", "exp")
METHODS = ("auto", "active_set", "fista", "ista")


# --------------------------------------------------------------------------- input checks
def _check_matrix(M, name, ncols=None, nrows=None, allow_1d=False):
    """A finite float64 2-D array; a 1-D array is one row when ``allow_1d``."""
    try:
        M = np.asarray(M, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array; got {type(M).__name__}") from None
    if allow_1d and M.ndim == 1:
        M = M.reshape(1, -1)
    if M.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array; got shape {M.shape}")
    if nrows is not None and M.shape[0] != nrows:
        raise ValueError(f"{name} must have {nrows} rows; got shape {M.shape}")
    if ncols is not None and M.shape[1] != ncols:
        raise ValueError(f"{name} must have {ncols} columns; got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError(f"{name} must not contain NaN or infinity")
    return M


def _check_array(V, name):
    try:
        V = np.asarray(V, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array; got {type(V).__name__}") from None
    if not np.all(np.isfinite(V)):
        raise ValueError(f"{name} must not contain NaN or infinity")
    return V


def _check_scalar(value, name, minimum=0.0, strict=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    if not math.isfinite(v) or v < minimum or (strict and v == minimum):
        bound = f"> {minimum}" if strict else f">= {minimum}"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")
    return v


def _check_penalty(penalty):
    if penalty not in PENALTIES:
        raise ValueError(f"penalty must be one of {PENALTIES}; got {penalty!r}")
    return penalty


def _check_problem(X, A, eta):
    A = _check_matrix(A, "A")
    X = _check_matrix(X, "X", ncols=A.shape[0], allow_1d=True)
    eta = _check_scalar(eta, "eta", minimum=0.0)
    return X, A, eta


# --------------------------------------------------------------------------- SC3-SC5
def l1_penalty(Z):
    """SC3: rho(z) = sum_i |z_i| for every code. Z (N, p) (or (p,)) -> (N,) (or a scalar)."""
    Z = _check_array(Z, "Z")
    return np.abs(Z).sum(axis=-1)


def log_penalty(Z):
    """SC4: rho(z) = sum_i log(1 + z_i^2) for every code (computed with log1p)."""
    Z = _check_array(Z, "Z")
    return np.log1p(Z * Z).sum(axis=-1)


def log_penalty_grad(Z):
    """Gradient of SC4 with respect to each z_i: 2 z_i / (1 + z_i^2); same shape as Z."""
    Z = _check_array(Z, "Z")
    return 2.0 * Z / (1.0 + Z * Z)


def exp_penalty(Z):
    """SC5: rho(z) = sum_i -exp(-z_i^2) for every code (minimal, -p, at z = 0)."""
    Z = _check_array(Z, "Z")
    return -np.exp(-Z * Z).sum(axis=-1)


def exp_penalty_grad(Z):
    """Gradient of SC5 with respect to each z_i: 2 z_i exp(-z_i^2); same shape as Z."""
    Z = _check_array(Z, "Z")
    return 2.0 * Z * np.exp(-Z * Z)


def soft_threshold(v, t):
    """The proximal map of t * |.|: sign(v) * max(|v| - t, 0), elementwise (SC3).

    It is the unique minimiser of u -> (u - v)^2 / 2 + t |u|. ``t`` >= 0 is a scalar or an
    array that broadcasts against ``v``.
    """
    v = _check_array(v, "v")
    t = _check_array(t, "t")
    if np.any(t < 0):
        raise ValueError("t must be >= 0")
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
    v = _check_array(v, "v")
    t = float(_check_scalar(t, "t", minimum=0.0))
    h, dh, d2h, curv = _SMOOTH[kind]
    a = np.abs(v).ravel()
    if t == 0.0 or a.size == 0:
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


def log_prox(v, t):
    """The proximal map of t * log(1 + u^2) (SC4), elementwise: argmin_u (u-v)^2/2 + t log(1+u^2).

    Convex (a unique, continuous map) when t <= 4; for larger t the 1-D problem has two local
    minima and the global one jumps from near 0 to near v: a thresholding map.
    """
    return _prox_smooth(v, t, "log")


def exp_prox(v, t):
    """The proximal map of t * (-exp(-u^2)) (SC5), elementwise: argmin_u (u-v)^2/2 - t exp(-u^2).

    Convex when t <= exp(3/2)/4 ~= 1.12; for larger t it jumps (a thresholding map close to
    hard thresholding).
    """
    return _prox_smooth(v, t, "exp")


_PENALTY_FUNCS = {"l1": l1_penalty, "log": log_penalty, "exp": exp_penalty}


def penalty_value(Z, penalty="l1"):
    """rho(z^(n)) for every code with the chosen sparsity function: (N, p) -> (N,)."""
    return _PENALTY_FUNCS[_check_penalty(penalty)](Z)


# --------------------------------------------------------------------------- SC2
def objective(X, A, Z, eta, penalty="l1"):
    """SC2, the source's L(A, Z) = sum_n ( ||x^(n) - A z^(n)||^2 + eta * rho(z^(n)) ).

    X (N, d), A (d, p), Z (N, p); returns a float. The ridge term of SC7 is *not* part of L;
    ``learn_dictionary`` adds it to the quantity it minimises.
    """
    X, A, eta = _check_problem(X, A, eta)
    Z = _check_matrix(Z, "Z", ncols=A.shape[1], nrows=X.shape[0], allow_1d=True)
    R = X - Z @ A.T
    return float(np.sum(R * R) + eta * np.sum(penalty_value(Z, penalty)))


def _per_sample_objective(X, A, Z, eta, penalty):
    R = X - Z @ A.T
    return np.einsum("nd,nd->n", R, R) + eta * penalty_value(Z, penalty)


def lipschitz_constant(A):
    """L = 2 ||A||_2^2 = 2 lambda_max(A^T A): the Lipschitz constant of the gradient
    2 A^T (A z - x) of ||x - A z||^2 (the smallest one: it is attained along the top
    eigenvector of A^T A). The proximal-gradient step size for SC6 is 1 / L."""
    A = _check_matrix(A, "A")
    return 2.0 * float(np.linalg.norm(A, 2)) ** 2


def sklearn_alpha(eta):
    """The ``alpha`` of ``sklearn.decomposition.sparse_encode(algorithm="lasso_cd")`` (and of
    ``MiniBatchDictionaryLearning``'s codes) that solves SC6 with this ``eta``: alpha = eta / 2.

    sparse_encode fits ``Lasso(alpha=alpha / d)`` with the d pixels as Lasso's samples, which
    minimises (1 / (2 d)) ||x - A z||^2 + (alpha / d) ||z||_1; multiplied by 2 d this is
    ||x - A z||^2 + 2 alpha ||z||_1, i.e. SC6 with eta = 2 alpha.
    """
    return _check_scalar(eta, "eta", minimum=0.0) / 2.0


# --------------------------------------------------------------------------- SC6: encoders
def encode(
    X, A, eta, penalty="l1", method="auto", max_iter=None, tol=None, init=None, return_history=False
):
    """SC6: for a fixed dictionary, the code of every sample,
    z^(n) = argmin_z ||x^(n) - A z||^2 + eta * rho(z).

    Parameters
    ----------
    X : array (N, d), or (d,) for one sample (then Z has shape (p,))
    A : array (d, p), atoms as columns
    eta : float >= 0, strength of the sparsity term
    penalty : "l1" (SC3), "log" (SC4) or "exp" (SC5)
    method :
        - "auto" (default): "active_set" for the l1 penalty, "ista" for the others;
        - "active_set" (l1 only), exact and fast: for each sample it keeps a small set S of
          atoms with signs, solves the problem restricted to S in closed form (a |S| x |S|
          linear system of the Gram matrix A^T A), and where that solution changes a sign it
          moves along the segment to the best sign change instead (feature-sign search, Lee
          et al. 2007), dropping atoms that reach zero; when the code is exact on S it checks
          the full problem's optimality conditions |a_i^T (x - A z)| <= eta / 2 for the atoms
          outside S and adds the worst violators (at most 8 per round). All samples advance
          together with batched linear algebra; a sample whose set would need a singular
          system (about d atoms) is finished by FISTA;
        - "fista": accelerated proximal gradient (Beck & Teboulle 2009), step 1 / L;
        - "ista": proximal gradient, step 1 / L. For "log" / "exp" it uses their proximal maps;
          those objectives are non-convex, so the stationary point it finds may depend on the
          start (it can when the objective has several local minima).
    max_iter : int, rounds for "active_set" (default 50 d), iterations otherwise (default 1000)
    tol : float, stopping tolerance (default 1e-10). "active_set": a sample is done when no
        atom outside S violates the optimality condition by more than tol * eta / 2;
        "ista" / "fista": stop when the objective changes by less than tol (relative) in one
        iteration.
    init : array (N, p) or None, a starting code (warm start)
    return_history : bool. Also return a 1-D array: "ista" / "fista": the objective L after
        every iteration (index 0: at the start); "active_set": the number of samples still
        being refined in every round.

    Returns
    -------
    Z : array (N, p) (and the history if return_history)
    """
    one = np.ndim(X) == 1
    X, A, eta = _check_problem(X, A, eta)
    penalty = _check_penalty(penalty)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    if method == "auto":
        method = "active_set" if penalty == "l1" else "ista"
    if method in ("active_set", "fista") and penalty != "l1":
        raise ValueError(
            f"method={method!r} needs penalty='l1' (the convex one); "
            f"use method='ista' for penalty={penalty!r}"
        )
    N, p = X.shape[0], A.shape[1]
    if init is not None:
        init = _check_matrix(init, "init", ncols=p, nrows=N, allow_1d=True)
    if max_iter is None:
        max_iter = 50 * A.shape[0] if method == "active_set" else 1000
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    if tol is None:
        tol = 1e-10
    tol = _check_scalar(tol, "tol", minimum=0.0)
    if method == "active_set":
        Z, history = _active_set(X, A, eta, max_iter, tol, init)
    else:
        Z, history = _proximal_gradient(X, A, eta, penalty, method == "fista", max_iter, tol, init)
    if one:
        Z = Z[0]
    return (Z, np.asarray(history)) if return_history else Z


def _proximal_gradient(X, A, eta, penalty, accelerate, max_iter, tol, init):
    """ISTA / FISTA on all samples at once with the Gram matrix G = A^T A and B = X A:
    the gradient of ||x - A z||^2 is 2 (G z - b). Step 1 / L with L = 2 lambda_max(G)."""
    G = A.T @ A
    B = X @ A
    L = lipschitz_constant(A) if G.size else 0.0
    Z = np.zeros((X.shape[0], A.shape[1])) if init is None else init.copy()
    if L == 0.0 or X.shape[0] == 0:
        return Z, [objective(X, A, Z, eta, penalty)]
    prox = {"l1": soft_threshold, "log": log_prox, "exp": exp_prox}[penalty]
    Y, t_k = Z.copy(), 1.0
    history = [objective(X, A, Z, eta, penalty)]
    for _ in range(max_iter):
        grad = 2.0 * (Y @ G - B)
        Z_new = prox(Y - grad / L, eta / L)
        if accelerate:
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t_k * t_k))
            Y = Z_new + ((t_k - 1.0) / t_next) * (Z_new - Z)
            t_k = t_next
        else:
            Y = Z_new
        Z = Z_new
        history.append(objective(X, A, Z, eta, penalty))
        if abs(history[-2] - history[-1]) <= tol * max(abs(history[-2]), 1e-300):
            break
    return Z, history


def _fista_to_optimality(X, A, eta, Z, kkt_tol, max_iter=200_000, check_every=25):
    """The encoder's fallback for the few samples it cannot finish exactly (codes on about d
    atoms, where the restricted systems are singular): FISTA with a per-sample adaptive
    restart (momentum reset when it points uphill, O'Donoghue & Candes 2015), run until the
    optimality conditions hold within ``kkt_tol`` (absolute, on |a_i^T (x - A z)|)."""
    G = A.T @ A
    B = X @ A
    L = 2.0 * float(np.linalg.eigvalsh(G)[-1])
    t = 0.5 * eta
    if L == 0.0 or X.shape[0] == 0:
        return Z
    Z = Z.copy()
    Y = Z.copy()
    tk = np.ones(X.shape[0])
    todo = np.arange(X.shape[0])
    for it in range(max_iter):
        Yr, Zr = Y[todo], Z[todo]
        Z_new = soft_threshold(Yr - 2.0 * (Yr @ G - B[todo]) / L, eta / L)
        t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * tk[todo] ** 2))
        step = Z_new - Zr
        restart = np.sum((Yr - Z_new) * step, axis=1) > 0
        beta = np.where(restart, 0.0, (tk[todo] - 1.0) / t_next)
        Y[todo] = Z_new + beta[:, None] * step
        tk[todo] = np.where(restart, 1.0, t_next)
        Z[todo] = Z_new
        if it % check_every == check_every - 1:
            C = B[todo] - Z[todo] @ G
            on = Z[todo] != 0
            viol = np.maximum(
                np.where(on, np.abs(C - t * np.sign(Z[todo])), 0.0),
                np.where(on, 0.0, np.abs(C) - t),
            ).max(axis=1)
            todo = todo[viol > kkt_tol]
            if todo.size == 0:
                break
    return Z


def _inverse(M):
    """Batched inverse of symmetric positive definite matrices; ok[i] False where singular."""
    ok = np.ones(M.shape[0], dtype=bool)
    try:
        H = np.linalg.inv(M)
    except np.linalg.LinAlgError:
        H = np.zeros_like(M)
        for i in range(M.shape[0]):
            try:
                H[i] = np.linalg.inv(M[i])
            except np.linalg.LinAlgError:
                ok[i] = False
    ok &= np.all(np.isfinite(H), axis=(1, 2))
    H[~ok] = np.eye(M.shape[1])
    return H, ok


def _drop_slots(H, mask, rows, slots):
    """Remove slot j of row i from the set for every pair (i, j): the inverse of G_SS
    without atom j is H - H[:, j] H[j, :] / H[j, j]; the slot then acts as padding.
    Returns the rows whose pivot H[j, j] was not positive (rounding has spoilt H there)."""
    bad = []
    while rows.size:
        _, first = np.unique(rows, return_index=True)  # one slot per row at a time
        r, j = rows[first], slots[first]
        col = H[r, :, j]
        row = H[r, j, :]
        piv = H[r, j, j]
        good = np.isfinite(piv) & (piv > 0)
        piv = np.where(good, piv, 1.0)
        with np.errstate(over="ignore", invalid="ignore"):  # a tiny pivot: caught below
            H[r] -= col[:, :, None] * (row / piv[:, None])[:, None, :]
        H[r, j, :] = 0.0
        H[r, :, j] = 0.0
        H[r, j, j] = 1.0
        good &= np.all(np.isfinite(H[r]), axis=(1, 2))
        bad.append(r[~good])
        mask[r, j] = False
        rest = np.ones(rows.size, dtype=bool)
        rest[first] = False
        rows, slots = rows[rest], slots[rest]
    return np.concatenate(bad) if bad else np.zeros(0, dtype=np.intp)


def _feature_sign_rows(M, b_S, theta, z_old, mask, t, max_inner=64):
    """Feature-sign steps for a bucket of samples whose sets have at most k atoms (padded).

    M (n, k, k): G_SS with the identity on the padding; b_S (n, k): A^T x on the slots;
    theta, z_old, mask (n, k): signs, current values and which slots are real. Repeats:

    1. z_new = G_SS^{-1} (b_S - t theta): the minimiser of the smooth function
       q(z) = z^T G_SS z / 2 - b_S^T z + t theta^T z, which equals the objective
       F(z) = z^T G_SS z / 2 - b_S^T z + t ||z||_1 wherever sign(z) agrees with theta.
    2. If z_new keeps the signs: done, the code is exact on its set (a full step).
    3. Atoms just added (still at 0) that come out with the wrong sign leave the set.
    4. Otherwise search the segment z -> z_new (feature-sign search, Lee et al. 2007): on it
       F = q(s) + 2 t sum over the coordinates past their zero crossing of |z_j(s)|, with
       q(s) = q(1) + (1 - s)^2 / 2 * dz^T G_SS dz. Move to the best zero crossing (or s = 1),
       drop the atom that is zero there and give the crossed ones their new signs. F never
       increases.

    The inverse of G_SS is computed once; dropping an atom is a rank-one downdate of it and
    a sign change only changes the right-hand side, so the repeats cost O(k^2), not O(k^3).

    Returns z (n, k), full (n,), ok (n,) (the system was solvable) and progress (n,) (the
    code changed: some atom added in this round kept a non-zero value, or a step was taken).
    """
    n, k = b_S.shape
    # most samples take a full step at once: one solve is all they need
    rhs0 = np.where(mask, b_S - t * theta, 0.0)
    try:
        sol0 = np.linalg.solve(M, rhs0[..., None])[..., 0]
        first_ok = np.all(np.isfinite(sol0), axis=1) & ~np.any(mask & (sol0 * theta <= 0), axis=1)
    except np.linalg.LinAlgError:
        sol0 = None
        first_ok = np.zeros(n, dtype=bool)
    if first_ok.all():
        return (
            np.where(mask, sol0, 0.0),
            np.ones(n, dtype=bool),
            np.ones(n, dtype=bool),
            np.any(mask & (z_old == 0), axis=1) | np.any(mask & (sol0 != z_old), axis=1),
        )
    rest = np.nonzero(~first_ok)[0]
    z_out = np.zeros((n, k))
    full_out = np.zeros(n, dtype=bool)
    ok_out = np.ones(n, dtype=bool)
    prog_out = np.zeros(n, dtype=bool)
    if sol0 is not None:
        done = np.nonzero(first_ok)[0]
        z_out[done] = np.where(mask[done], sol0[done], 0.0)
        full_out[done] = True
        prog_out[done] = True
    z_r, f_r, o_r, p_r = _feature_sign_inner(
        M[rest], b_S[rest], theta[rest], z_old[rest], mask[rest], t, max_inner
    )
    z_out[rest], full_out[rest], ok_out[rest], prog_out[rest] = z_r, f_r, o_r, p_r
    return z_out, full_out, ok_out, prog_out


def _feature_sign_inner(M, b_S, theta, z_old, mask, t, max_inner):
    """The repeated steps of ``_feature_sign_rows`` with the inverse of G_SS (see there)."""
    n, k = b_S.shape
    H, ok = _inverse(M)
    mask = mask & ok[:, None]
    theta = theta.copy()
    z = np.where(mask, z_old, 0.0)
    new = mask & (z_old == 0)
    full = ~ok.copy()
    stepped = np.zeros(n, dtype=bool)
    spoilt = np.zeros(n, dtype=bool)
    live = np.nonzero(ok)[0]
    for _ in range(max_inner):
        if live.size == 0:
            break
        m = mask[live]
        th = theta[live]
        rhs = np.where(m, b_S[live] - t * th, 0.0)
        sol = np.einsum("nij,nj->ni", H[live], rhs)
        wrong = m & (sol * th <= 0)
        # (3) just-added atoms with the wrong sign: drop them and solve again
        bad_new = wrong & (z[live] == 0)
        if bad_new.any():
            rr, jj = np.nonzero(bad_new)
            spoilt[_drop_slots(H, mask, live[rr], jj)] = True
            new[live[rr], jj] = False
            continue_rows = np.unique(rr)
            # rows without such atoms go on below
            others = np.setdiff1d(np.arange(live.size), continue_rows)
        else:
            others = np.arange(live.size)
        done_here = np.zeros(live.size, dtype=bool)
        sub = others[~wrong[others].any(axis=1)]
        # (2) full steps
        if sub.size:
            rows = live[sub]
            z[rows] = np.where(mask[rows], sol[sub], 0.0)
            full[rows] = True
            done_here[sub] = True
        # (4) line search on the rest
        P = others[wrong[others].any(axis=1)]
        if P.size:
            rows = live[P]
            zo, zn, w, th_p = z[rows], sol[P], wrong[P], theta[rows]
            dz = np.where(mask[rows], zn - zo, 0.0)
            quad = np.einsum("nk,nkl,nl->n", dz, M[rows], dz)
            with np.errstate(divide="ignore", invalid="ignore"):
                s = zo / (zo - zn)
            s = np.where(w, np.clip(np.nan_to_num(s, nan=0.0), 0.0, 1.0), np.inf)
            # past its crossing s_j, coordinate j has the sign -theta_j, so
            # |z_j(s)| = -theta_j zo_j - s theta_j dz_j is linear in s: sort and accumulate
            order = np.argsort(s, axis=1)
            s_sorted = np.take_along_axis(s, order, axis=1)
            alpha = np.take_along_axis(np.where(w, -th_p * zo, 0.0), order, axis=1)
            beta = np.take_along_axis(np.where(w, -th_p * dz, 0.0), order, axis=1)
            cum_a = np.cumsum(alpha, axis=1) - alpha  # crossings strictly before
            cum_b = np.cumsum(beta, axis=1) - beta
            s_c = np.where(np.isfinite(s_sorted), s_sorted, 1.0)
            F = 0.5 * (1.0 - s_c) ** 2 * quad[:, None] + 2.0 * t * (cum_a + s_c * cum_b)
            F = np.where(np.isfinite(s_sorted), F, np.inf)
            F1 = 2.0 * t * (alpha.sum(axis=1) + beta.sum(axis=1))  # at s = 1
            best = np.argmin(F, axis=1)
            ar = np.arange(P.size)
            F_best = F[ar, best]
            s_best = np.where(F1 < F_best, 1.0, s_c[ar, best])
            F_best = np.minimum(F1, F_best)
            # never move uphill (rounding): stay where the best point is not better
            s_best = np.where(F_best >= 0.5 * quad, 0.0, s_best)
            zs = zo + s_best[:, None] * dz
            at_zero = w & (s <= s_best[:, None])
            zs[at_zero] = 0.0
            zs[~mask[rows]] = 0.0
            z[rows] = zs
            stepped[rows] |= s_best > 0
            theta[rows] = np.where(zs != 0, np.sign(zs), theta[rows])
            rr, jj = np.nonzero(at_zero & mask[rows])
            spoilt[_drop_slots(H, mask, rows[rr], jj)] = True
            new[rows[rr], jj] = False
            stuck = s_best <= 0
            done_here[P[stuck]] = True  # no progress possible here: stop
        live = live[~done_here & ~spoilt[live]]
    full &= ~spoilt
    progress = stepped | np.any(new & mask & (z != 0), axis=1)
    return z, full, ok, progress


# Upper set sizes of the buckets in which samples are solved together: a K x K solve costs
# ~K^3, so a sample should not be padded to a much larger K than its own.
_BUCKETS = (
    2,
    4,
    6,
    8,
    12,
    16,
    20,
    24,
    28,
    32,
    36,
    40,
    44,
    48,
    52,
    56,
    60,
    64,
    80,
    96,
    128,
    192,
    256,
    384,
    512,
    1 << 62,
)


# At most this many atoms enter a set in one round: larger batches cost more (bigger systems,
# more atoms that come out with the wrong sign) than the rounds they save (measured).
_MAX_ADD = 8
_FIRST_ADD = 4


def _active_set(X, A, eta, max_rounds, tol, init):
    """Exact l1 encoder: batched active-set (feature-sign) method. See ``encode``.

    Works on f(z) = z^T G z / 2 - b^T z + t ||z||_1 with G = A^T A, b = A^T x and t = eta / 2
    (half of SC6 minus a constant). A code z is optimal iff c = b - G z satisfies
    c_i = t sign(z_i) where z_i != 0 and |c_i| <= t where z_i = 0.
    """
    N, d = X.shape
    p = A.shape[1]
    t = 0.5 * eta
    G = A.T @ A
    B = X @ A  # b^(n) = A^T x^(n), one row per sample
    Z = np.zeros((N, p)) if init is None else init.copy()
    active = Z != 0
    theta = np.sign(Z)
    needs_kkt = ~active.any(axis=1)  # the code is exact on its (empty) set
    n_add = np.full(N, _FIRST_ADD, dtype=np.int64)  # atoms a sample may add in one round
    just_added = np.zeros(N, dtype=bool)
    fallback = np.zeros(N, dtype=bool)
    refresh = np.zeros(N, dtype=np.int64)  # solves redone because of drift
    todo = np.arange(N)
    kkt_tol = tol * t
    usable = np.diag(G) > 0  # a zero atom can never enter a code
    history = []

    for _ in range(max_rounds):
        if todo.size == 0:
            break
        # 1. optimality conditions, for the samples whose code is exact on its set
        check = todo[needs_kkt[todo]]
        if check.size:
            # c = A^T (x - A z) = b - G z; a code without atoms needs no product
            has = active[check].any(axis=1)
            C = B[check]
            if has.any():
                C[has] -= Z[check[has]] @ G
            # the code must be stationary on its set: c_i = t sign(z_i) there (the inverse
            # updates of the inner steps may have drifted); otherwise solve afresh
            absC = np.abs(C)
            ar, ac = np.nonzero(active[check])
            if ar.size:
                dev = np.abs(C[ar, ac] - t * theta[check[ar], ac])
                drift = np.zeros(check.size)
                np.maximum.at(drift, ar, dev)
                absC[ar, ac] = 0.0  # atoms in the set are not candidates
                stale = drift > 1e-8 * t
            else:
                stale = np.zeros(check.size, dtype=bool)
            if not usable.all():
                absC[:, ~usable] = 0.0
            if stale.any():
                refresh[check[stale]] += 1
                fallback[check[stale & (refresh[check] > 3)]] = True
                needs_kkt[check[stale]] = False
                keep = ~stale
                check, C, absC = check[keep], C[keep], absC[keep]
            V = absC
            V -= t
            worst = V.max(axis=1) if check.size else np.zeros(0)
            grow = worst > kkt_tol
            rows, Vg, Cg = check[grow], V[grow], C[grow]
            if rows.size:
                room = np.minimum(n_add[rows], d - active[rows].sum(axis=1))
                k_max = int(max(min(room.max(), p), 1))
                if k_max < p:
                    top = np.argpartition(-Vg, k_max - 1, axis=1)[:, :k_max]
                else:
                    top = np.tile(np.arange(p), (rows.size, 1))
                vals = np.take_along_axis(Vg, top, axis=1)
                order = np.argsort(-vals, axis=1)
                top = np.take_along_axis(top, order, axis=1)
                vals = np.take_along_axis(vals, order, axis=1)
                take = (vals > kkt_tol) & (np.arange(k_max)[None, :] < room[:, None])
                tr = np.nonzero(take)[0]
                cc = top[take]
                active[rows[tr], cc] = True
                theta[rows[tr], cc] = np.sign(Cg[tr, cc])
                just_added[rows] = True
                # a set of d atoms that still violates the conditions: leave it to FISTA
                fallback[rows[room <= 0]] = True
            done = np.zeros(N, dtype=bool)
            done[check[~grow]] = True
            todo = todo[~done[todo] & ~fallback[todo]]
            if todo.size == 0:
                break
        # 2. exact (feature-sign) steps, in buckets of similar set size. A set of more than d
        # atoms (possible only from an initial code) has a singular system: FISTA takes it
        big = active[todo].sum(axis=1) > d
        if big.any():
            fallback[todo[big]] = True
            todo = todo[~big]
            if todo.size == 0:
                break
        act = active[todo]
        counts = act.sum(axis=1)
        r, c = np.nonzero(act)
        slot = np.arange(r.size) - np.repeat(np.cumsum(counts) - counts, counts)
        K = max(int(counts.max()), 1)
        idx_all = np.zeros((todo.size, K), dtype=np.intp)
        idx_all[r, slot] = c
        full = counts == 0  # an empty set: z = 0 is exact on it
        ok = np.ones(todo.size, dtype=bool)
        moved = np.ones(todo.size, dtype=bool)
        Z_new = np.zeros((todo.size, K))
        lo = 0
        for hi in _BUCKETS:
            rows = np.nonzero((counts > lo) & (counts <= hi))[0]
            lo = hi
            if rows.size == 0:
                continue
            k = int(counts[rows].max())
            idx = idx_all[rows, :k]
            mask = np.arange(k)[None, :] < counts[rows][:, None]
            M = G[idx[:, :, None], idx[:, None, :]]
            M[~(mask[:, :, None] & mask[:, None, :])] = 0.0
            diag = np.arange(k)
            M[:, diag, diag] += ~mask  # identity on the padding
            sample = todo[rows][:, None]
            th = np.where(mask, theta[sample, idx], 0.0)
            z_old = np.where(mask, Z[sample, idx], 0.0)
            b_S = np.where(mask, B[sample, idx], 0.0)
            zb, fb, okb, mb = _feature_sign_rows(M, b_S, th, z_old, mask, t)
            Z_new[rows, :k] = zb
            full[rows], ok[rows], moved[rows] = fb, okb, mb
        # 3. write back: values, signs, and the set (atoms at zero leave it)
        rows_all = todo[r]
        vals = Z_new[r, slot]
        Z[rows_all, c] = vals
        theta[rows_all, c] = np.sign(vals)
        active[rows_all, c] = vals != 0
        fallback[todo[~ok]] = True
        # adapt how many atoms a sample adds: double after a clean full step that followed
        # an addition, halve when the step after an addition could not move
        stalled = ~moved & just_added[todo]
        # no progress without a new atom to blame: rounding dominates, finish with FISTA
        fallback[todo[~moved & ~full & ~just_added[todo]]] = True
        # a single added atom cannot come out with the wrong sign from an exact optimum
        # (its Schur complement is positive); if it does, rounding dominates: use FISTA
        fallback[todo[stalled & (n_add[todo] == 1)]] = True
        n_add[todo[stalled]] = np.maximum(n_add[todo[stalled]] // 2, 1)
        clean = full & just_added[todo]
        n_add[todo[clean]] = np.minimum(2 * n_add[todo[clean]], _MAX_ADD)
        just_added[todo] = False
        needs_kkt[todo] = full
        history.append(int(todo.size))

    rest = np.union1d(todo, np.nonzero(fallback)[0]).astype(np.intp)
    if rest.size:
        # rare: sets of ~d atoms (near-singular systems) or the round limit: FISTA from here
        Z[rest] = _fista_to_optimality(X[rest], A, eta, Z[rest], max(kkt_tol, 1e-9 * t))
    return Z, history


# --------------------------------------------------------------------------- SC7
def update_dictionary(X, Z, lam):
    """SC7: A = argmin_A sum_n ||x^(n) - A z^(n)||^2 + (lam / 2) ||A||_F^2, in closed form.

    Setting the gradient -2 (X - Z A^T)^T Z + lam A to zero gives
    A (Z^T Z + (lam / 2) I) = X^T Z, so A = X^T Z (Z^T Z + (lam / 2) I)^{-1}.
    X (N, d), Z (N, p), lam >= 0 -> A (d, p). With lam = 0 the least-squares solution of
    minimum norm is returned (Z^T Z may be singular).
    """
    Z = _check_matrix(Z, "Z", allow_1d=True)
    X = _check_matrix(X, "X", nrows=Z.shape[0], allow_1d=True)
    lam = _check_scalar(lam, "lam", minimum=0.0)
    if lam == 0.0:
        return np.linalg.lstsq(Z, X, rcond=None)[0].T
    H = Z.T @ Z
    H[np.diag_indices_from(H)] += 0.5 * lam
    # H is symmetric positive definite: solve H A^T = Z^T X
    return np.linalg.solve(H, Z.T @ X).T


def dictionary_objective(X, A, Z, eta, lam, penalty="l1"):
    """The quantity alternating optimisation minimises: L(A, Z) + (lam / 2) ||A||_F^2."""
    return objective(X, A, Z, eta, penalty) + 0.5 * lam * float(np.sum(A * A))


def learn_dictionary(
    X,
    n_atoms,
    eta,
    lam,
    n_iter,
    penalty="l1",
    seed=0,
    progress=False,
    init=None,
    normalize_atoms=False,
    resample_unused=False,
    encode_kwargs=None,
):
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
    seed : seed of the random initial dictionary (p distinct non-zero samples of X, scaled to
        unit norm) and of the resampling
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
    encode_kwargs : dict, extra arguments of ``encode`` (e.g. ``method``)

    Each encoding starts from the previous codes (warm start); a sample keeps its previous
    code if, by rounding, the new one is not better, and the dictionary is updated only if
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
    X = _check_matrix(X, "X")
    N, d = X.shape
    n_atoms = check_int(n_atoms, "n_atoms", minimum=1)
    eta = _check_scalar(eta, "eta", minimum=0.0, strict=True)
    lam = _check_scalar(lam, "lam", minimum=0.0, strict=True)
    n_iter = check_int(n_iter, "n_iter", minimum=1)
    penalty = _check_penalty(penalty)
    kwargs = dict(encode_kwargs or {})
    rng = np.random.default_rng(seed)
    if init is None:
        norms = np.linalg.norm(X, axis=1)
        candidates = np.nonzero(norms > 0)[0]
        if candidates.size < n_atoms:
            raise ValueError(
                f"n_atoms must not exceed the number of non-zero rows of X "
                f"({candidates.size}) when init is None; got {n_atoms}"
            )
        pick = rng.choice(candidates, size=n_atoms, replace=False)
        A = (X[pick] / norms[pick, None]).T.copy()
    else:
        A = _check_matrix(init, "init", nrows=d, ncols=n_atoms).copy()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_iter, desc="learn_dictionary")
    keys = ("objective", "objective_codes", "loss", "nonzeros", "unused", "resampled", "seconds")
    hist = {k: [] for k in keys}
    start = time.perf_counter()
    Z = None
    for _ in range(n_iter):
        Z = _encode_monotone(X, A, eta, penalty, Z, kwargs)
        J_codes = dictionary_objective(X, A, Z, eta, lam, penalty)
        A_new = update_dictionary(X, Z, lam)
        J_new = dictionary_objective(X, A_new, Z, eta, lam, penalty)
        if J_new <= J_codes or normalize_atoms:  # the exact minimiser; rounding aside
            A = A_new
        if normalize_atoms:
            norms = np.linalg.norm(A, axis=0)
            live = norms > 0
            A[:, live] /= norms[live]
            Z[:, live] *= norms[live]
            J_new = dictionary_objective(X, A, Z, eta, lam, penalty)
        used = np.any(Z != 0, axis=0)
        hist["objective_codes"].append(J_codes)
        hist["objective"].append(J_new if normalize_atoms else min(J_new, J_codes))
        hist["loss"].append(objective(X, A, Z, eta, penalty))
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
    Z = _encode_monotone(X, A, eta, penalty, Z, kwargs)  # the codes of the final dictionary
    return A, Z, {k: np.asarray(v) for k, v in hist.items()}


def _encode_monotone(X, A, eta, penalty, Z_prev, kwargs):
    """encode() warm-started at Z_prev; a sample keeps Z_prev where that is not worse."""
    Z = encode(X, A, eta, penalty=penalty, init=Z_prev, **kwargs)
    if Z_prev is not None:
        worse = _per_sample_objective(X, A, Z, eta, penalty) > _per_sample_objective(
            X, A, Z_prev, eta, penalty
        )
        Z[worse] = Z_prev[worse]
    return Z


# --------------------------------------------------------------------------- preprocessing
def zca_whitening(X, eps=1e-2):
    """ZCA whitening of the rows of X (N, d): returns (X_white, W) with X_white = X_c @ W,
    X_c = X - mean, W = U diag(1 / sqrt(s + eps)) U^T from the eigen-decomposition
    U diag(s) U^T of the pixel covariance. ``eps`` (relative to the largest eigenvalue)
    keeps the smallest-variance directions (pixel noise) from being blown up."""
    X = _check_matrix(X, "X")
    eps = _check_scalar(eps, "eps", minimum=0.0, strict=True)
    Xc = X - X.mean(axis=0)
    cov = Xc.T @ Xc / max(X.shape[0], 1)
    s, U = np.linalg.eigh(cov)
    s = np.maximum(s, 0.0)
    W = (U / np.sqrt(s + eps * s.max())) @ U.T
    return Xc @ W, W
