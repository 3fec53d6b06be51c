"""The dictionary step of ``sparse_coding.learn_dictionary_online``, compiled with numba.

One pass of block-coordinate descent (Mairal et al. 2009, Algorithm 2) on the surrogate
tr(A^T A H) / 2 - tr(A^T C) over dictionaries whose atoms lie in the unit ball: atom by atom,
with the others fixed, the surrogate is H_jj ||a_j||^2 / 2 - a_j^T (c_j - A h_j + H_jj a_j)
+ const, whose minimiser in the ball is u / max(||u||, 1) with u = a_j + (c_j - A h_j) / H_jj.
A loop of p steps of O(d p) each: in Python its overhead was the larger part of a batch.

Private: ``learn_dictionary_online`` validates the arguments and calls ``_update_atoms``.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _update_atoms(At, H, Ct):
    """The pass above, in place, on the atoms as rows: At = A^T (p, d), H (p, p) symmetric,
    Ct = C^T (p, d). Atoms with H_jj <= 0 (no code has used them yet) are left as they are."""
    p, d = At.shape
    u = np.empty(d)
    for j in range(p):
        hjj = H[j, j]
        if not hjj > 0.0:
            continue
        for i in range(d):
            u[i] = Ct[j, i]
        for m in range(p):  # u = c_j - A h_j, atom by atom
            hm = H[j, m]
            if hm != 0.0:
                for i in range(d):
                    u[i] -= hm * At[m, i]
        norm2 = 0.0
        for i in range(d):
            u[i] = At[j, i] + u[i] / hjj
            norm2 += u[i] * u[i]
        scale = 1.0 / max(np.sqrt(norm2), 1.0)
        for i in range(d):
            At[j, i] = u[i] * scale


@numba.njit(cache=True, nogil=True)
def _accumulate(H, Ct, H_new, Ct_new, Z, X, beta, At, eta):
    """For the batch's sparse codes Z (m, p) of the samples X (m, d) under the atoms At
    (p, d): H <- beta H + Z^T Z and Ct <- beta Ct + Z^T X, in place, and the same for
    (H_new, Ct_new); one rank-one update per code over its non-zeros only. Returns the
    batch's L of SC2, sum_n ||x - A z||^2 + eta ||z||_1, from the same non-zeros."""
    p, d = Ct.shape
    for i in range(p):
        for j in range(p):
            H[i, j] *= beta
            H_new[i, j] *= beta
        for j in range(d):
            Ct[i, j] *= beta
            Ct_new[i, j] *= beta
    nz = np.empty(p, dtype=np.int64)
    r = np.empty(d)
    loss = 0.0
    for n in range(Z.shape[0]):
        k = 0
        for i in range(p):
            if Z[n, i] != 0.0:
                nz[k] = i
                k += 1
        for j in range(d):
            r[j] = X[n, j]
        for a in range(k):
            i = nz[a]
            zi = Z[n, i]
            loss += eta * abs(zi)
            for b in range(k):
                h = zi * Z[n, nz[b]]
                H[i, nz[b]] += h
                H_new[i, nz[b]] += h
            for j in range(d):
                c = zi * X[n, j]
                Ct[i, j] += c
                Ct_new[i, j] += c
                r[j] -= zi * At[i, j]
        for j in range(d):
            loss += r[j] * r[j]
    return loss
