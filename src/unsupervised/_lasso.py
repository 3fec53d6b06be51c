"""The exact l1 encoder behind ``sparse_coding.encode(..., method="active_set")`` (SC6).

For every sample x it solves min_z ||x - A z||^2 + eta ||z||_1, i.e. (halved, with G = A^T A,
b = A^T x and t = eta / 2) f(z) = z^T G z / 2 - b^T z + t ||z||_1. A code z is optimal iff
c = b - G z satisfies c_i = t sign(z_i) where z_i != 0 and |c_i| <= t where z_i = 0.

The method (feature-sign search, Lee et al. 2007, batched): each sample keeps a small set S of
atoms with signs theta. On S the problem is smooth, q(z) = z^T G_SS z / 2 - b_S^T z
+ t theta^T z, and its minimiser G_SS^{-1} (b_S - t theta) is found by one |S| x |S| solve.
Where that solution changes a sign, the sample moves along the segment to the best sign
change instead and drops the atom that reaches zero. When the code is exact on S, the full
problem's optimality conditions are checked for the atoms outside S and the worst violators
enter S (at most ``_MAX_ADD`` per round). All samples advance together with batched linear
algebra, in buckets of similar set sizes. A sample whose set would need a singular system
(about d atoms) is finished by FISTA with adaptive restart (``_fista_to_optimality``).

Private: ``sparse_coding.encode`` validates the arguments and calls ``_active_set``.
"""

from __future__ import annotations

import numpy as np

# Upper set sizes of the buckets in which samples are solved together: a K x K solve costs
# ~K^3, so a sample should not be padded to a much larger K than its own.
_BUCKETS = (2, 4, 6, 8, *range(12, 65, 4), 80, 96, 128, 192, 256, 384, 512, 1 << 62)

# At most this many atoms enter a set in one round: larger batches cost more (bigger systems,
# more atoms that come out with the wrong sign) than the rounds they save (measured).
_MAX_ADD = 8
_FIRST_ADD = 4

# The rounding error of c = b - G z is a few units of eps times the size of its terms. No
# optimality test asks for less than this floor: one that did could never be met (for a tiny
# eta, relative to A^T x, tol * eta / 2 is below it; eta = 0 is least squares, done by encode).
_ROUNDING = 8 * np.finfo(float).eps


def _rounding_floor(B, Z, g_max):
    """Per sample, a bound on the rounding in c = b - G z: 8 eps (max |b| + max |G| ||z||_1)."""
    return _ROUNDING * (np.abs(B).max(axis=1) + g_max * np.abs(Z).sum(axis=1))


def _active_set(X, A, eta, max_rounds, tol, init):
    """The exact l1 codes of the rows of X (N, d) for the dictionary A (d, p): see the module
    docstring (f, t = eta / 2, c = b - G z). ``max_rounds``: rounds of (check, add, solve);
    ``tol``: a sample is done when no atom outside its set has |c_i| > t (1 + tol); ``init``:
    a starting code (N, p) or None. Returns Z (N, p) and the history (samples still being
    refined, per round)."""
    N, d = X.shape
    p = A.shape[1]
    t = 0.5 * eta
    G = A.T @ A
    B = X @ A  # b^(n) = A^T x^(n), one row per sample
    Z = np.zeros((N, p)) if init is None else init.copy()
    # a start on more than d atoms has singular systems on its set: such samples start at 0
    Z[np.count_nonzero(Z, axis=1) > d] = 0.0
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
    g_max = float(np.diag(G).max())  # = max |G_ij|
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
            floor = _rounding_floor(B[check], Z[check], g_max)
            ar, ac = np.nonzero(active[check])
            if ar.size:
                dev = np.abs(C[ar, ac] - t * theta[check[ar], ac])
                drift = np.zeros(check.size)
                np.maximum.at(drift, ar, dev)
                absC[ar, ac] = 0.0  # atoms in the set are not candidates
                stale = drift > np.maximum(1e-8 * t, floor)
            else:
                stale = np.zeros(check.size, dtype=bool)
            if not usable.all():
                absC[:, ~usable] = 0.0
            if stale.any():
                refresh[check[stale]] += 1
                fallback[check[stale & (refresh[check] > 3)]] = True
                needs_kkt[check[stale]] = False
                keep = ~stale
                check, C, absC, floor = check[keep], C[keep], absC[keep], floor[keep]
            V = absC
            V -= t
            worst = V.max(axis=1) if check.size else np.zeros(0)
            need = np.maximum(kkt_tol, floor)
            grow = worst > need
            rows, Vg, Cg, need = check[grow], V[grow], C[grow], need[grow]
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
                take = (vals > need[:, None]) & (np.arange(k_max)[None, :] < room[:, None])
                tr = np.nonzero(take)[0]
                cc = top[take]
                active[rows[tr], cc] = True
                theta[rows[tr], cc] = np.sign(Cg[tr, cc])
                just_added[rows] = True
                # a set of d atoms that still violates the conditions: swap the worst violator
                # in (a pivot along the null space of A); FISTA takes what cannot be swapped
                full = np.nonzero(room <= 0)[0]
                if full.size:
                    j = top[full, 0]
                    sign_j = np.sign(Cg[full, j])
                    swapped = _swap_in(G, Z, active, theta, rows[full], j, sign_j, t, d)
                    fallback[rows[full[~swapped]]] = True
            done = np.zeros(N, dtype=bool)
            done[check[~grow]] = True
            todo = todo[~done[todo] & ~fallback[todo]]
            if todo.size == 0:
                break
        # 2. exact (feature-sign) steps, in buckets of similar set size (at most d atoms)
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


def _swap_in(G, Z, active, theta, rows, cols, sign_j, t, d):
    """A pivot for the samples whose set S holds d atoms (A_S square) while atom j outside it
    violates |c_j| <= t: with u_j = sign(c_j) and u_S = -u_j A_S^{-1} a_j, A u = 0, so moving
    z -> z + s u (s >= 0) leaves the reconstruction unchanged and changes f only through
    t ||z||_1, piecewise linearly: its slope starts at t (1 + sign(z_S)^T u_S) (= t - |c_j|
    < 0 at an exact code on S) and rises by 2 t |u_i| where z_i crosses zero. The exact line
    search stops at the crossing where the slope turns >= 0: that atom leaves S, j enters it
    (a simplex pivot of basis pursuit, the eta -> 0 limit, where FISTA would crawl). Updates
    Z, active and theta in place; returns which rows were swapped (not: A_S singular, or no
    descent by rounding)."""
    swapped = np.zeros(rows.size, dtype=bool)
    square = active[rows].sum(axis=1) == d
    r, j, sj = rows[square], cols[square], sign_j[square]
    if r.size == 0:
        return swapped
    n = r.size
    idx = np.nonzero(active[r])[1].reshape(n, d)  # the set's atoms, row by row
    H, ok = _inverse(G[idx[:, :, None], idx[:, None, :]])
    u = -sj[:, None] * np.einsum("nij,nj->ni", H, G[idx, j[:, None]])  # A_S^{-1} a_j = G_SS^-1 G_Sj
    z = Z[r[:, None], idx]
    slope = t * (1.0 + np.sum(np.sign(z) * u, axis=1))
    toward = np.sign(z) * u < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = np.where(toward, -z / u, np.inf)
    order = np.argsort(cross, axis=1)
    cross = np.take_along_axis(cross, order, axis=1)
    rise = np.take_along_axis(np.where(toward, 2.0 * t * np.abs(u), 0.0), order, axis=1)
    after = slope[:, None] + np.cumsum(rise, axis=1)  # the slope just past each crossing
    k = np.argmax(after >= 0, axis=1)
    ar = np.arange(n)
    s_star = cross[ar, k]
    good = ok & (slope < 0) & (after[ar, k] >= 0) & np.isfinite(s_star) & (s_star > 0)
    if not good.any():
        return swapped
    leave = idx[ar, order[ar, k]]
    z_new = z + s_star[:, None] * u
    z_new[ar, order[ar, k]] = 0.0
    g, rg = np.nonzero(good)[0], r[good]
    Z[rg[:, None], idx[g]] = z_new[g]
    theta[rg[:, None], idx[g]] = np.sign(z_new[g])
    active[rg, leave[g]] = False
    Z[rg, j[g]] = sj[g] * s_star[g]
    theta[rg, j[g]] = sj[g]
    active[rg, j[g]] = True
    swapped[np.nonzero(square)[0][g]] = True
    return swapped


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


def _fista_to_optimality(X, A, eta, Z, kkt_tol, max_iter=200_000, check_every=25, patience=400):
    """The encoder's fallback for the few samples it cannot finish exactly (codes on about d
    atoms, where the restricted systems are singular): FISTA with a per-sample adaptive
    restart (momentum reset when it points uphill, O'Donoghue & Candes 2015), run until the
    optimality conditions hold within ``kkt_tol`` (absolute, on |a_i^T (x - A z)|) or within
    the rounding of c (``_rounding_floor``), whichever is larger. Where eta / 2 is tiny
    (below 1e-6 max |A^T x|) and the set singular (repeated atoms, a rank-deficient A), the
    l1 term moves the code along the null space by ~eta / L per step and FISTA crawls: such
    a sample also stops when its violation has not halved in ``patience`` checks (10,000
    iterations); its code is then as good as it gets at that cost."""
    G = A.T @ A
    B = X @ A
    g_max = float(np.diag(G).max())
    L = 2.0 * float(np.linalg.eigvalsh(G)[-1])
    t = 0.5 * eta
    if L == 0.0 or X.shape[0] == 0:
        return Z
    Z = Z.copy()
    Y = Z.copy()
    tk = np.ones(X.shape[0])
    todo = np.arange(X.shape[0])
    best = np.full(X.shape[0], np.inf)  # the smallest violation so far (halvings counted)
    stalled = np.zeros(X.shape[0], dtype=np.int64)  # checks since it last halved
    tiny = t < 1e-6 * np.abs(B).max(axis=1)  # the samples that may stop on a stall
    for it in range(max_iter):
        Yr, Zr = Y[todo], Z[todo]
        Z_new = _soft_threshold(Yr - 2.0 * (Yr @ G - B[todo]) / L, eta / L)
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
            halved = viol < 0.5 * best[todo]
            best[todo[halved]] = viol[halved]
            stalled[todo] = np.where(halved, 0, stalled[todo] + 1)
            need = np.maximum(kkt_tol, _rounding_floor(B[todo], Z[todo], g_max))
            todo = todo[(viol > need) & ~(tiny[todo] & (stalled[todo] >= patience))]
            if todo.size == 0:
                break
    return Z


def _soft_threshold(v, t):
    """sign(v) max(|v| - t, 0), elementwise (``sparse_coding.soft_threshold``, unchecked)."""
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)
