"""The default exact l1 encoder of ``sparse_coding.encode`` (method="lars"): the LARS-Lasso
homotopy (Efron et al. 2004; Osborne et al. 2000), one sample at a time, compiled with numba.

For a sample x it solves SC6, min_z ||x - A z||^2 + eta ||z||_1, in the halved form
f(z) = z^T G z / 2 - b^T z + t ||z||_1 with G = A^T A, b = A^T x and t = eta / 2. z is
optimal iff c = b - G z has c_i = t sign(z_i) on the support and |c_i| <= t off it.

The homotopy follows the minimiser z(lam) of the same problem with t replaced by lam, from
lam_0 = max_i |b_i| (where z = 0) down to lam = t. Between two events the support S and the
signs s are fixed and z_S(lam) = G_SS^{-1} (b_S - lam s_S) is linear in lam: lowering lam by
g moves z_S by g w (w = G_SS^{-1} s_S) and c by -g a (a = G_{:,S} w; a_S = s_S, so the
support keeps |c_i| = lam - g). (While S holds d atoms that span R^d, c outside S is
proportional to lam, so the next event is a departure or the end; after a departure atoms
may enter again.) The next event is the smallest g > 0 at which
1. an atom j outside S reaches |c_j - g a_j| = lam - g (it enters S with the sign of c_j), or
2. a coordinate of z_S reaches 0 (it leaves S: the lasso modification of LARS), or
3. lam - g = t (the end).
G_SS is kept as its Cholesky factor, extended by one row per entering atom and downdated
by Givens rotations when an atom leaves (O(|S|^2) each), so a step costs O(p |S|) and a
sample about p |S|^2 / 2 multiply-adds.

At the end z_S is solved afresh from the factor, and the optimality conditions are checked
in full (off the support to tol * t, on it to 1e-8 t, neither below the rounding of c): a
sample that fails them (an atom whose column is in the span of the support, the step
limit, rounding) is reported so that ``encode`` finishes it with the feature-sign solver
(``_lasso._active_set``), warm-started at this code.

Private: ``sparse_coding.encode`` validates the arguments and calls ``_lars``.
"""

from __future__ import annotations

import numba
import numpy as np

from ._lasso import _ROUNDING

# An entering atom whose Cholesky pivot is below this fraction of its squared norm lies
# (numerically) in the span of the support: the sample is left to the fallback.
_PIVOT = 1e-10

# Samples per parallel task: each task allocates its work arrays once; small enough that
# a batch of a few hundred samples splits evenly over the threads.
_BLOCK = 16


# Reassociation (and fused multiply-adds) let LLVM vectorise the short dot products of the
# triangular solves; results change in the last bits only. No other fast-math assumption
# (no NaN/inf assumptions) is made.
_FAST = {"reassoc", "contract"}


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _forward(L, k, rhs, out):
    """out[:k] = L[:k, :k]^{-1} rhs[:k] (L lower triangular, row access)."""
    for i in range(k):
        s = rhs[i]
        for m in range(i):
            s -= L[i, m] * out[m]
        out[i] = s / L[i, i]


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _backward(L, k, y, r, out):
    """out[:k] = L[:k, :k]^{-T} y[:k], column by column (row i of L is an axpy; r: work)."""
    for i in range(k):
        r[i] = y[i]
    for i in range(k - 1, -1, -1):
        out[i] = r[i] / L[i, i]
        for m in range(i):
            r[m] -= L[i, m] * out[i]


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _append_row(G, L, S, k, j):
    """Extend the Cholesky factor L of G_SS (S[:k]) by atom j; False if its pivot is tiny."""
    for i in range(k):
        s = G[S[i], j]
        for m in range(i):
            s -= L[i, m] * L[k, m]
        L[k, i] = s / L[i, i]
    r2 = G[j, j]
    for m in range(k):
        r2 -= L[k, m] * L[k, m]
    if not r2 > _PIVOT * G[j, j]:
        return False
    L[k, k] = np.sqrt(r2)
    return True


@numba.njit(cache=True, nogil=True)
def _remove_row(L, k, i):
    """The Cholesky factor of G_SS without the atom in slot i (slots after it move up by
    one): delete row i of L, then Givens rotations of columns (c, c + 1), c = i .. k - 2,
    restore the triangle (L Q Q^T L^T = L L^T). O(k^2)."""
    for r in range(i, k - 1):
        for m in range(r + 2):
            L[r, m] = L[r + 1, m]
    for col in range(i, k - 1):
        x, y = L[col, col], L[col, col + 1]
        rho = np.hypot(x, y)
        cs, sn = x / rho, y / rho
        for r in range(col, k - 1):
            u, v = L[r, col], L[r, col + 1]
            L[r, col] = cs * u + sn * v
            L[r, col + 1] = cs * v - sn * u
        L[col, col + 1] = 0.0


@numba.njit(cache=True, nogil=True)
def _gram_times(G, S, k, w, a):
    """a = G[:, S[:k]] w[:k] (p,), from rows of G (symmetric), four at a time (fewer passes
    over a)."""
    p = a.shape[0]
    for j in range(p):
        a[j] = 0.0
    i = 0
    while i + 4 <= k:
        w0, w1, w2, w3 = w[i], w[i + 1], w[i + 2], w[i + 3]
        g0, g1, g2, g3 = G[S[i]], G[S[i + 1]], G[S[i + 2]], G[S[i + 3]]
        for j in range(p):
            a[j] += w0 * g0[j] + w1 * g1[j] + w2 * g2[j] + w3 * g3[j]
        i += 4
    while i < k:
        wi, gi = w[i], G[S[i]]
        for j in range(p):
            a[j] += wi * gi[j]
        i += 1


@numba.njit(cache=True, nogil=True)
def _lars_one(G, b, t, tol, max_steps, kmax, z, S, sgn, L, y, w, r, a, c, in_set, skip, hit):
    """The homotopy for one sample (see the module docstring): writes its code into z (p,),
    which must be zero on entry; the rest are work arrays (y = L^{-1} s, kept as atoms
    enter; w = L^{-T} y). Returns True if z passed the optimality check."""
    p = b.shape[0]
    for j in range(p):
        c[j] = b[j]
        in_set[j] = False
        skip[j] = not G[j, j] > 0.0  # a zero atom never enters
    lam = 0.0
    j_max = -1
    for j in range(p):
        if G[j, j] > 0.0 and abs(c[j]) > lam:
            lam, j_max = abs(c[j]), j
    if lam <= t:
        return True  # z = 0 is optimal
    L[0, 0] = np.sqrt(G[j_max, j_max])
    S[0], sgn[0], in_set[j_max], skip[j_max] = j_max, np.sign(c[j_max]), True, True
    y[0] = sgn[0] / L[0, 0]
    k = 1
    just_left, left_sign = -1, 0.0
    done = False
    for _ in range(max_steps):
        _backward(L, k, y, r, w)
        _gram_times(G, S, k, w, a)
        g = lam - t  # event 3
        event, who = 3, -1
        # event 1. g_j = num / den < g is tested as num < g den (den > 0), first for all
        # atoms against the end g = lam - t (a loop without branches, vectorised), then
        # with divisions for the few that pass; num < 0 (rounding) enters at once
        for j in range(p):
            n1, d1, n2, d2 = lam - c[j], 1.0 - a[j], lam + c[j], 1.0 + a[j]
            hit[j] = (((d1 > 0.0) & (n1 < g * d1)) | ((d2 > 0.0) & (n2 < g * d2))) & ~skip[j]
        # an atom that just left sits on the boundary c_j = left_sign lam, which it cannot
        # meet again (c_j(g) - left_sign (lam - g) is linear and 0 at g = 0): only the
        # other boundary is an event for it
        for j in range(p):
            if not hit[j]:
                continue
            num, den = lam - c[j], 1.0 - a[j]
            if den > 0.0 and num < g * den and not (j == just_left and left_sign > 0):
                g, event, who = max(num, 0.0) / den, 1, j
            num, den = lam + c[j], 1.0 + a[j]
            if den > 0.0 and num < g * den and not (j == just_left and left_sign < 0):
                g, event, who = max(num, 0.0) / den, 1, j
        for i in range(k):  # event 2
            zi = z[S[i]]
            if zi * w[i] < 0.0:
                gi = -zi / w[i]
                if gi < g:
                    g, event, who = gi, 2, i
        for i in range(k):
            z[S[i]] += g * w[i]
        for j in range(p):
            c[j] -= g * a[j]
        lam -= g
        just_left = -1
        if event == 3:
            done = True
            break
        if event == 2:  # atom S[who] leaves: downdate the factor, y afresh
            gone = S[who]
            left_sign = sgn[who]
            z[gone], in_set[gone], skip[gone], just_left = 0.0, False, False, gone
            _remove_row(L, k, who)
            for i in range(who, k - 1):
                S[i], sgn[i] = S[i + 1], sgn[i + 1]
            k -= 1
            if k == 0:  # the path restarts from z = 0 at the current lam
                done = lam <= t
                if done:
                    break
                return False
            _forward(L, k, sgn, y)
        else:  # atom `who` enters with the sign of its correlation
            if k == kmax or not _append_row(G, L, S, k, who):
                return False
            S[k], sgn[k], in_set[who], skip[who] = who, np.sign(c[who]), True, True
            s = sgn[k]
            for m in range(k):
                s -= L[k, m] * y[m]
            y[k] = s / L[k, k]
            k += 1
    if not done:
        return False
    # the code on the final support, solved afresh (no drift from the path's updates)
    for i in range(k):
        a[i] = b[S[i]] - t * sgn[i]
    _forward(L, k, a, y)
    _backward(L, k, y, r, w)
    for i in range(k):
        if w[i] * sgn[i] <= 0.0:
            return False
        z[S[i]] = w[i]
    # the full optimality check, c = b - G z, against the rounding of c
    zsum = 0.0
    bmax = 0.0
    gmax = 0.0
    for i in range(k):
        zsum += abs(w[i])
    for j in range(p):
        bmax = max(bmax, abs(b[j]))
        gmax = max(gmax, G[j, j])
    _gram_times(G, S, k, w, a)
    for j in range(p):
        c[j] = b[j] - a[j]
    need = max(tol * t, _ROUNDING * (bmax + gmax * zsum))
    for i in range(k):
        if abs(c[S[i]] - t * sgn[i]) > max(1e-8 * t, need):
            return False
    for j in range(p):
        if not in_set[j] and abs(c[j]) - t > need:
            return False
    return True


@numba.njit(cache=True, parallel=True)
def _lars_rows(G, B, t, tol, max_steps, kmax, Z, ok):
    """``_lars_one`` for every row of B (N, p), in parallel blocks of ``_BLOCK`` rows."""
    N, p = B.shape
    n_blocks = (N + _BLOCK - 1) // _BLOCK
    for blk in numba.prange(n_blocks):
        S = np.empty(kmax, dtype=np.int64)
        sgn = np.empty(kmax)
        L = np.empty((kmax, kmax))
        y = np.empty(kmax)
        w = np.empty(kmax)
        r = np.empty(kmax)
        a = np.empty(p)
        c = np.empty(p)
        in_set = np.empty(p, dtype=np.bool_)
        skip = np.empty(p, dtype=np.bool_)
        hit = np.empty(p, dtype=np.bool_)
        for n in range(blk * _BLOCK, min(N, (blk + 1) * _BLOCK)):
            ok[n] = _lars_one(
                G, B[n], t, tol, max_steps, kmax, Z[n], S, sgn, L, y, w, r, a, c, in_set, skip, hit
            )


def _lars(X, A, eta, max_steps, tol):
    """The exact l1 codes Z (N, p) of the rows of X (N, d) for A (d, p) by the homotopy, and
    a boolean array (N,): which samples passed the optimality check (see the module
    docstring; ``tol`` as in ``_lasso._active_set``)."""
    G = np.ascontiguousarray(A.T @ A)
    B = np.ascontiguousarray(X @ A)
    N, p = B.shape
    Z = np.zeros((N, p))
    ok = np.zeros(N, dtype=np.bool_)
    kmax = max(min(A.shape[0], p), 1)
    _lars_rows(G, B, 0.5 * eta, tol, max_steps, kmax, Z, ok)
    return Z, ok
