"""Checkers for the density-estimation chapter (notebooks/03_density_estimation.ipynb).

- ``check_binomial_pmf(fn)``      ``fn(k, n, p)`` -> P_K of DE4 (corrected exponent N - K)
- ``check_parzen_count(fn)``      ``fn(X, x, h)`` -> K of DE8 (hypercube window of side h)
- ``check_knn_volume(fn)``        ``fn(d, r)`` -> volume of the d-ball of radius r (DE10)
- ``check_mle_variance(value)``   the expected ML variance estimate for N = 5 samples of
  variance 2 (a number)
- ``check_optimal_bandwidth(fn)`` ``fn(sigma, n)`` -> the bandwidth minimising the
  asymptotic mean integrated squared error of a Gaussian-kernel estimate of N(0, sigma^2)

A returned value may be a Python or NumPy number, or an array or tensor holding one number
(also a tensor that requires grad); whatever is returned or raised, no checker raises.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats

from ._common import _SEED, _as_float, _call, _number_answer, _report, _run

__all__ = [
    "check_binomial_pmf",
    "check_parzen_count",
    "check_knn_volume",
    "check_mle_variance",
    "check_optimal_bandwidth",
]


# --------------------------------------------------------------------------- DE4
def _binomial_cases():
    """Hidden (n, p) pairs: a few fixed ones and a few drawn with the fixed seed."""
    rng = np.random.default_rng(_SEED)
    cases = [(1, 0.3), (5, 0.5), (12, 0.27), (40, 0.81), (150, 0.05)]
    for _ in range(3):
        cases.append((int(rng.integers(2, 80)), float(np.round(rng.uniform(0.05, 0.95), 3))))
    return cases


def check_binomial_pmf(fn: Callable[[int, int, float], float]) -> bool:
    """Check ``fn(k, n, p)``, the probability that K = k of n samples fall in a region of
    probability p (DE4), on hidden cases (every k = 0..n for several n, p).

    ``fn`` is called with Python ints ``k``, ``n`` and a float ``p`` and must return a
    number. Returns True when every value matches within a relative 1e-8 (absolute 1e-12).
    """

    def check():
        wrong = printed_like = 0
        sums_off = False
        for n, p in _binomial_cases():
            ks = np.arange(n + 1)
            got = np.array(
                [_as_float(_call(fn, int(k), int(n), float(p))) for k in ks], dtype=object
            )
            if any(g is None for g in got):
                return _report(False, "函数应当返回一个有限的数（float）。")
            got = got.astype(np.float64)
            expected = stats.binom.pmf(ks, n, p)
            if not np.allclose(got, expected, rtol=1e-8, atol=1e-12):
                wrong += 1
                with np.errstate(over="ignore"):
                    as_printed = np.exp(stats.binom.logpmf(ks, n, p) + (1.0 - n) * np.log1p(-p))
                if np.allclose(got, as_printed, rtol=1e-8, atol=1e-12):
                    printed_like += 1
                if abs(got.sum() - 1.0) > 1e-6:
                    sums_off = True
        if wrong == 0:
            return _report(True)
        if printed_like == wrong:
            return _report(
                False,
                "这正是原书印出的式子：想一想区域外的样本有几个，每个落在区域外的概率是多少。",
            )
        if sums_off:
            return _report(
                False,
                "对 K=0,…,N 求和不等于 1，所以它还不是一个概率分布；检查组合数和两个幂的指数。",
            )
        return _report(False, "求和为 1，但个别取值不对；检查组合数（N 个样本中选 K 个）。")

    return _run(check)


# --------------------------------------------------------------------------- DE8
def _parzen_cases():
    """Hidden (X, x, h) triples in d = 1, 2, 3, plus a lattice case with points exactly on
    the faces of the window (they must not be counted: the inequality is strict)."""
    rng = np.random.default_rng(_SEED + 1)
    cases = []
    for d in (1, 2, 3, 2, 1):
        X = rng.normal(size=(60, d))
        x = rng.normal(scale=0.5, size=d)
        h = float(rng.uniform(0.4, 1.6))
        cases.append((X, x, h))
    grid = np.arange(-3, 4) * 0.25  # exactly representable: faces are hit exactly
    X = np.array(np.meshgrid(grid, grid)).reshape(2, -1).T
    cases.append((X, np.array([0.0, 0.0]), 0.5))
    return cases


def _count(X, x, h, inside):
    return int(np.sum(inside(np.abs(X - x), h)))


def check_parzen_count(fn: Callable[[np.ndarray, np.ndarray, float], int]) -> bool:
    """Check ``fn(X, x, h)``: the number K of rows of ``X`` (shape (N, d)) inside the open
    hypercube of side ``h`` centred at ``x`` (shape (d,)), DE7-DE8, on hidden cases."""

    def strict(a, h):
        return np.all(a < h / 2, axis=1)

    variants = {
        "closed": (
            lambda a, h: np.all(a <= h / 2, axis=1),
            "落在窗口面上的样本（恰好 |z_i-x_i| = h/2）不算在内：不等式是严格的。",
        ),
        "side_h": (
            lambda a, h: np.all(a < h, axis=1),
            "h 是超立方体的边长，所以每一维的半宽是 h/2。",
        ),
        "ball": (
            lambda a, h: np.sqrt(np.sum(a * a, axis=1)) < h / 2,
            "窗口是超立方体：逐维比较 |z_i-x_i|，而不是欧氏距离。",
        ),
    }

    def check():
        consistent = set(variants)  # the common mistakes that explain every answer so far
        ok = True
        for X, x, h in _parzen_cases():
            got = _as_float(_call(fn, X.copy(), x.copy(), float(h)))
            if got is None:
                return _report(False, "函数应当返回一个整数（样本个数）。")
            if got != _count(X, x, h, strict):
                ok = False
            consistent = {name for name in consistent if got == _count(X, x, h, variants[name][0])}
        if ok:
            return _report(True)
        for name in ("closed", "side_h", "ball"):
            if name in consistent:
                return _report(False, variants[name][1])
        return _report(False, "把每个样本代入核函数 φ((x⁽ⁿ⁾-x)/h)，再对 n 求和。")

    return _run(check)


# --------------------------------------------------------------------------- DE10
def _ball_volume(d, r):
    return math.pi ** (d / 2) / math.gamma(d / 2 + 1) * r**d


def check_knn_volume(fn: Callable[[int, float], float]) -> bool:
    """Check ``fn(d, r)``: the volume of the Euclidean ball of radius ``r`` in ``d``
    dimensions (the V of DE10), for d = 1..10 and several radii, within relative 1e-9."""

    def check():
        radii = (0.5, 1.0, 2.3)
        good_unit = good_all = True
        cube = True
        for d in range(1, 11):
            for r in radii:
                got = _as_float(_call(fn, d, float(r)))
                if got is None:
                    return _report(False, "函数应当返回一个有限的数（float）。")
                right = math.isclose(got, _ball_volume(d, r), rel_tol=1e-9)
                good_all &= right
                if r == 1.0:
                    good_unit &= right
                cube &= math.isclose(got, (2 * r) ** d, rel_tol=1e-9)
        if good_all:
            return _report(True)
        if cube:
            return _report(
                False,
                "这是边长 2r 的超立方体的体积；球的体积更小，试试从高斯积分推出单位球的体积。",
            )
        if good_unit:
            return _report(False, "单位球（r=1）对了，检查体积如何随半径 r 缩放。")
        return _report(False, "检查单位球体积 V_d 中的 π 的幂和 Γ 函数的自变量。")

    return _run(check)


# --------------------------------------------------------------------------- DE2
def check_mle_variance(value: float | Callable[[], float] | None) -> bool:
    """Check a number: the expected value E[sigma^2_ML] of the maximum-likelihood variance
    estimate (1/N) sum_n (x^(n) - mean)^2 for N = 5 i.i.d. samples of variance sigma^2 = 2.

    ``value`` may also be a function of no arguments that returns the number (called once).
    ``None`` or ``...`` (the notebook's placeholder) counts as not yet answered.
    """

    def check():
        got = _number_answer(value)
        if got is None:
            return False
        expected = (5 - 1) / 5 * 2.0
        if math.isclose(got, expected, rel_tol=1e-6):
            return _report(True)
        if math.isclose(got, 2.0, rel_tol=1e-6):
            return _report(
                False,
                "这是真实方差：最大似然估计用样本均值代替真实均值，它是有偏的。写出 E[(x⁽ⁿ⁾-x̄)²]。",
            )
        return _report(False, "把 x⁽ⁿ⁾-x̄ 写成 (x⁽ⁿ⁾-μ)-(x̄-μ)，展开平方后逐项求期望。")

    return _run(check)


# --------------------------------------------------------------------------- Parzen h
def check_optimal_bandwidth(fn: Callable[[float, int], float]) -> bool:
    """Check ``fn(sigma, n)``: the bandwidth h that minimises the asymptotic mean
    integrated squared error of a Gaussian-kernel Parzen estimate when the data are n
    samples of N(0, sigma^2). Accepted within relative 1e-3 (so a constant rounded to three
    significant digits passes)."""

    def check():
        rng = np.random.default_rng(_SEED + 2)
        cases = [(1.0, 100), (2.5, 1000)] + [
            (float(rng.uniform(0.2, 5.0)), int(rng.integers(10, 100_000))) for _ in range(4)
        ]
        ok = scale_ok = rate_ok = True
        for sigma, n in cases:
            got = _as_float(_call(fn, float(sigma), int(n)))
            if got is None:
                return _report(False, "函数应当返回一个有限的数（float）。")
            expected = (4.0 / (3.0 * n)) ** 0.2 * sigma
            ok &= math.isclose(got, expected, rel_tol=1e-3)
            # Does it scale like sigma and like n^(-1/5)?
            got2 = _as_float(_call(fn, 2.0 * sigma, int(n)))
            got3 = _as_float(_call(fn, float(sigma), 32 * int(n)))
            if got2 is None or got3 is None or got == 0:
                return _report(False, "函数应当返回一个有限的正数。")
            scale_ok &= math.isclose(got2 / got, 2.0, rel_tol=1e-6)
            rate_ok &= math.isclose(got3 / got, 0.5, rel_tol=1e-6)
        if ok:
            return _report(True)
        if not scale_ok:
            return _report(False, "最优带宽应与 σ 成正比：把数据放大一倍，带宽也应放大一倍。")
        if not rate_ok:
            return _report(False, "检查 h 随 N 变化的幂次：令偏差的平方与方差同阶。")
        return _report(False, "幂次对了，检查常数：需要 ∫φ(u)²du、∫u²φ(u)du 和 ∫p''(x)²dx。")

    return _run(check)
