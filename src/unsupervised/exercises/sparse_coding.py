"""Checkers for the sparse-coding chapter (notebooks/01_sparse_coding.ipynb).

- ``check_soft_threshold(fn)``      ``fn(v, t)`` -> the proximal map of t |.| (SC3), elementwise
- ``check_dictionary_update(fn)``   ``fn(X, Z, lam)`` -> the minimiser A of SC7
- ``check_optimal_scale(fn)``       ``fn(eta, lam, l1, frob2)`` -> the scale c that minimises
  eta * l1 / c + (lam / 2) * c^2 * frob2 (scaling A by c and Z by 1 / c)
- ``check_sklearn_alpha(fn)``       ``fn(eta)`` -> scikit-learn's alpha for the same problem

Reference values are computed here from the formulas directly (and with SciPy's optimiser
for the dictionary update), never from ``unsupervised.sparse_coding``. The learner's values
are read through ``_as_float`` / ``_as_array`` (``_common``): a tensor, also one that requires
grad, is read like an array, and nothing the learner returns makes a checker raise.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import optimize

from ._common import _SEED, _as_array, _as_float, _call, _report, _run

__all__ = [
    "check_soft_threshold",
    "check_dictionary_update",
    "check_optimal_scale",
    "check_sklearn_alpha",
]


# --------------------------------------------------------------------------- SC3
def check_soft_threshold(fn: Callable[[np.ndarray, float], np.ndarray]) -> bool:
    """Check ``fn(v, t)``: the minimiser of u -> (u - v)^2 / 2 + t |u| for every entry of the
    array ``v`` (any shape) and a threshold ``t`` >= 0, on hidden arrays including values
    exactly at +-t. Accepted within 1e-12 (absolute) per entry."""

    def check():
        rng = np.random.default_rng(_SEED + 10)
        cases = [
            (np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]), 1.0),
            (rng.normal(scale=2.0, size=(4, 6)), 0.7),
            (rng.normal(size=50), 0.0),
            (rng.normal(size=(3, 5)), 5.0),
        ]
        shrink_only = hard = True
        ok = True
        for v, t in cases:
            got = _as_array(_call(fn, v.copy(), float(t)), v.shape)
            if got is None:
                return _report(False, "函数应当返回与 v 形状相同的有限数组。")
            expected = np.sign(v) * np.maximum(np.abs(v) - t, 0.0)
            ok &= np.allclose(got, expected, rtol=0, atol=1e-12)
            hard &= np.allclose(got, np.where(np.abs(v) > t, v, 0.0), rtol=0, atol=1e-12)
            shrink_only &= np.allclose(got, v - t * np.sign(v), rtol=0, atol=1e-12)
        if ok:
            return _report(True)
        if hard:
            return _report(False, "这是硬阈值：|v| > t 的分量也要向 0 收缩 t。")
        if shrink_only:
            return _report(False, "|v| <= t 的分量应当变成 0，而不是越过 0 变号。")
        return _report(
            False, "写出 (u-v)²/2 + t|u| 在 u>0、u<0 两段的驻点，再看 u=0 处的次梯度条件。"
        )

    return _run(check)


# --------------------------------------------------------------------------- SC7
def _sc7_objective(A_flat, X, Z, lam):
    A = A_flat.reshape(X.shape[1], Z.shape[1])
    R = X - Z @ A.T
    return float(np.sum(R * R) + 0.5 * lam * np.sum(A * A))


def _sc7_gradient(A_flat, X, Z, lam):
    A = A_flat.reshape(X.shape[1], Z.shape[1])
    return (-2.0 * (X - Z @ A.T).T @ Z + lam * A).ravel()


def check_dictionary_update(fn: Callable[[np.ndarray, np.ndarray, float], np.ndarray]) -> bool:
    """Check ``fn(X, Z, lam)``: the dictionary A of shape (d, p) (atoms as columns) that
    minimises sum_n ||x^(n) - A z^(n)||^2 + (lam / 2) ||A||_F^2 for X (N, d), Z (N, p),
    lam > 0 (SC7). The reference is found by SciPy's L-BFGS on the objective itself; an
    answer is accepted when it is within 1e-6 (relative) of it."""

    def check():
        rng = np.random.default_rng(_SEED + 11)
        cases = []
        for N, d, p, lam in [(30, 4, 6, 0.5), (12, 5, 8, 2.0), (50, 3, 3, 0.1)]:
            X = rng.normal(size=(N, d))
            Z = rng.normal(size=(N, p)) * (rng.random((N, p)) < 0.5)
            cases.append((X, Z, lam))
        verdicts = []
        for X, Z, lam in cases:
            d, p = X.shape[1], Z.shape[1]
            got = _as_array(_call(fn, X.copy(), Z.copy(), float(lam)), (d, p))
            if got is None:
                transposed = _as_array(_call(fn, X.copy(), Z.copy(), float(lam)), (p, d))
                if transposed is not None and p != d:
                    return _report(False, "形状是 (p, d)：本书的字典以原子为列，形状 (d, p)。")
                return _report(False, "函数应当返回形状为 (d, p) 的有限数组。")
            res = optimize.minimize(
                _sc7_objective,
                np.zeros(d * p),
                args=(X, Z, lam),
                jac=_sc7_gradient,
                method="L-BFGS-B",
                options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 10000},
            )
            A_ref = res.x.reshape(d, p)
            scale = max(1.0, float(np.abs(A_ref).max()))
            if np.allclose(got, A_ref, rtol=1e-6, atol=1e-6 * scale):
                verdicts.append("ok")
                continue
            # the usual slip: lam instead of lam / 2 on the diagonal
            H = Z.T @ Z + lam * np.eye(p)
            slip = np.linalg.solve(H, Z.T @ X).T
            if np.allclose(got, slip, rtol=1e-6, atol=1e-6 * scale):
                verdicts.append("half")
            elif p == d and np.allclose(got.T, A_ref, rtol=1e-6, atol=1e-6 * scale):
                verdicts.append("transpose")
            else:
                verdicts.append("wrong")
        if all(v == "ok" for v in verdicts):
            return _report(True)
        if "half" in verdicts:
            return _report(False, "对 (λ/2)‖A‖² 求导得到的是 λA；把 2 约掉之后对角线上加的是 λ/2。")
        if "transpose" in verdicts:
            return _report(False, "结果差一个转置：检查 Z^T Z 与 X^T Z 的位置。")
        return _report(False, "把目标写成 ‖X − Z Aᵀ‖² + (λ/2)‖A‖²，对 A 求梯度并令其为 0。")

    return _run(check)


# --------------------------------------------------------------------------- scale
def check_optimal_scale(fn: Callable[[float, float, float, float], float]) -> bool:
    """Check ``fn(eta, lam, l1, frob2)``: the c > 0 that minimises
    g(c) = eta * l1 / c + (lam / 2) * c^2 * frob2, i.e. the best rescaling A -> c A,
    Z -> Z / c (l1 = sum |z|, frob2 = ||A||_F^2, all > 0). Relative tolerance 1e-8."""

    def check():
        rng = np.random.default_rng(_SEED + 12)
        cases = [(1.0, 1.0, 1.0, 1.0), (0.5, 2.0, 30.0, 4.0)] + [
            tuple(float(x) for x in rng.uniform(0.1, 10.0, size=4)) for _ in range(5)
        ]
        ok = True
        cube = square = True
        for eta, lam, l1, frob2 in cases:
            got = _as_float(_call(fn, eta, lam, l1, frob2))
            if got is None or got <= 0:
                return _report(False, "函数应当返回一个正数。")
            expected = (eta * l1 / (lam * frob2)) ** (1.0 / 3.0)
            ok &= math.isclose(got, expected, rel_tol=1e-8)
            cube &= math.isclose(got, (2 * eta * l1 / (lam * frob2)) ** (1.0 / 3.0), rel_tol=1e-8)
            square &= math.isclose(got, math.sqrt(eta * l1 / (lam * frob2)), rel_tol=1e-8)
        if ok:
            return _report(True)
        if cube:
            return _report(False, "三次方根对了，常数差 2 倍：(λ/2)c² 的导数是 λc。")
        if square:
            return _report(False, "对 c 求导：η·l1/c 的导数是 −η·l1/c²，所以是三次方程。")
        return _report(False, "对 c 求导并令 g'(c) = 0，解出 c³。")

    return _run(check)


# --------------------------------------------------------------------------- sklearn
def check_sklearn_alpha(fn: Callable[[float], float]) -> bool:
    """Check ``fn(eta)``: the ``alpha`` to pass to
    ``sklearn.decomposition.sparse_encode(..., algorithm="lasso_cd")`` so that it minimises
    SC6, ||x - A z||^2 + eta ||z||_1, for 8x8 patches (d = 64). Relative tolerance 1e-10."""

    def check():
        d = 64
        etas = [0.1, 1.0, 2.5, 7.0]
        ok = per_d = same = True
        for eta in etas:
            got = _as_float(_call(fn, float(eta)))
            if got is None:
                return _report(False, "函数应当返回一个有限的数。")
            ok &= math.isclose(got, eta / 2, rel_tol=1e-10)
            per_d &= math.isclose(got, eta / (2 * d), rel_tol=1e-10) or math.isclose(
                got, eta / d, rel_tol=1e-10
            )
            same &= math.isclose(got, eta, rel_tol=1e-10)
        if ok:
            return _report(True)
        if per_d:
            return _report(
                False, "sparse_encode 自己已经把 alpha 除以了像素数 d，再传给 Lasso；你不必再除。"
            )
        if same:
            return _report(
                False,
                "Lasso 的平方误差项前面有 1/(2·n_samples)，把两个目标函数乘到同一尺度再比较系数。",
            )
        return _report(False, "写出 Lasso 的目标函数（样本数是 d），乘以 2d 后与 SC6 对照。")

    return _run(check)
