"""Checkers for the autoencoders chapter (notebooks/02_autoencoders.ipynb).

- ``check_kl_gradient(fn)``         ``fn(rho_star, rho_hat)`` -> the derivative
  d KL(rho* || rho_hat) / d rho_hat (AE5)
- ``check_masked_zero_fraction(value)``  the expected fraction of zero pixels after masking
  noise with mu = 0.25 of an image whose pixels are 0 with fraction 0.4 (AE7; a number)
- ``check_linear_ae_optimum(fn)``   ``fn(X, p)`` -> the smallest batch-mean reconstruction loss
  a linear autoencoder with biases and p code units can reach on X (AE2, Baldi & Hornik)

The reference values are computed here from the closed forms and NumPy's SVD, not with
``unsupervised.autoencoders``. Like every checker (``_common``), these never raise: the
learner's values are read through ``_as_float`` (a torch tensor, also one that requires
grad, is detached), and a value that is no finite number is reported, not raised.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ._common import _SEED, _as_float, _call, _number_answer, _report, _run

__all__ = [
    "check_kl_gradient",
    "check_masked_zero_fraction",
    "check_linear_ae_optimum",
]


# --------------------------------------------------------------------------- AE5
def _kl_cases():
    rng = np.random.default_rng(_SEED + 20)
    cases = [(0.05, 0.05), (0.05, 0.3), (0.1, 0.01), (0.5, 0.9), (0.2, 0.5)]
    cases += [
        (float(np.round(rng.uniform(0.02, 0.6), 4)), float(np.round(rng.uniform(0.01, 0.99), 4)))
        for _ in range(6)
    ]
    return cases


def check_kl_gradient(fn: Callable[[float, float], float]) -> bool:
    """Check ``fn(rho_star, rho_hat)``: the derivative of
    KL(rho* || rho_hat) = rho* log(rho*/rho_hat) + (1 - rho*) log((1 - rho*)/(1 - rho_hat))
    with respect to rho_hat (AE5), on hidden pairs (relative tolerance 1e-8)."""

    def check():
        ok = flipped = reversed_kl = first_only = True
        for r, q in _kl_cases():
            got = _as_float(_call(fn, float(r), float(q)))
            if got is None:
                return _report(False, "函数应当返回一个有限的数（float）。")
            expected = (q - r) / (q * (1 - q))

            def close(a, b):
                return math.isclose(a, b, rel_tol=1e-8, abs_tol=1e-12)

            ok &= close(got, expected)
            flipped &= close(got, -expected)
            reversed_kl &= close(got, math.log(q / r) - math.log((1 - q) / (1 - r)))
            first_only &= close(got, -r / q)
        if ok:
            return _report(True)
        if flipped:
            return _report(False, "符号反了：ρ̂ 大于 ρ* 时，增大 ρ̂ 应当让 KL 变大。")
        if reversed_kl:
            return _report(False, "你求的是 KL(ρ̂‖ρ*) 对 ρ̂ 的导数；AE5 中 ρ* 是第一个参数。")
        if first_only:
            return _report(False, "只求了第一项的导数；第二项 (1-ρ*)log((1-ρ*)/(1-ρ̂)) 也依赖 ρ̂。")
        return _report(
            False,
            "把两项分别对 ρ̂ 求导：log(ρ*/ρ̂) 的导数是 -1/ρ̂，log((1-ρ*)/(1-ρ̂)) 的导数是 1/(1-ρ̂)。",
        )

    return _run(check)


# --------------------------------------------------------------------------- AE7
def check_masked_zero_fraction(value) -> bool:
    """Check a number: an image has a fraction 0.4 of pixels that are exactly 0. Masking
    noise with mu = 0.25 (every pixel independently set to 0 with probability mu) is
    applied. What is the expected fraction of zero pixels in the corrupted image?

    ``value`` may also be a function of no arguments that returns the number (called once);
    ``None`` or ``...`` counts as not yet answered.
    """

    def check():
        got = _number_answer(value, "请给出一个数（0 到 1 之间的比例）。")
        if got is None:
            return False
        q, mu = 0.4, 0.25
        if math.isclose(got, q + (1 - q) * mu, rel_tol=1e-6):
            return _report(True)
        if math.isclose(got, mu, rel_tol=1e-6):
            return _report(
                False,
                "μ 是被掩码选中的像素比例；原本就是 0 的像素被选中后仍是 0，没被选中的也还是 0。",
            )
        if math.isclose(got, q + mu, rel_tol=1e-6):
            return _report(False, "原本为 0 又被掩码选中的像素被数了两次。")
        return _report(
            False, "一个像素在损坏后为 0，当且仅当它原本为 0，或者它原本不为 0 且被选中。"
        )

    return _run(check)


# --------------------------------------------------------------------------- AE2 / PCA
def _linear_ae_cases():
    rng = np.random.default_rng(_SEED + 21)
    cases = []
    for N, d, p in ((40, 6, 2), (100, 10, 3), (25, 5, 1), (60, 8, 8), (30, 7, 4)):
        mean = rng.uniform(-3, 5, size=d)  # far from 0: centring matters
        scales = np.sort(rng.uniform(0.2, 3.0, size=d))[::-1]
        basis, _ = np.linalg.qr(rng.normal(size=(d, d)))
        X = mean + (rng.normal(size=(N, d)) * scales) @ basis.T
        cases.append((X, p))
    return cases


def check_linear_ae_optimum(fn: Callable[[np.ndarray, int], float]) -> bool:
    """Check ``fn(X, p)``: for data X of shape (N, d), the minimum over W1 (p, d), b1,
    W2 (d, p), b2 of the batch-mean loss (1/N) sum_n ||x^(n) - (W2 (W1 x^(n) + b1) + b2)||^2
    (relative tolerance 1e-6)."""

    def check():
        ok = uncentred = singular_not_squared = summed = True
        for X, p in _linear_ae_cases():
            got = _as_float(_call(fn, X.copy(), int(p)))
            if got is None:
                return _report(False, "函数应当返回一个有限的数（float）。")
            N = X.shape[0]
            s = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
            s_raw = np.linalg.svd(X, compute_uv=False)
            expected = float(np.sum(s[p:] ** 2) / N)

            def close(a, b):
                return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)

            ok &= close(got, expected)
            uncentred &= close(got, float(np.sum(s_raw[p:] ** 2) / N))
            singular_not_squared &= close(got, float(np.sum(s[p:]) / N))
            summed &= close(got, float(np.sum(s[p:] ** 2)))
        if ok:
            return _report(True)
        if uncentred:
            return _report(False, "偏置 b1、b2 可以吸收数据的均值：先把数据中心化。")
        if summed:
            return _report(False, "要的是批均值（除以 N），不是对样本求和。")
        if singular_not_squared:
            return _report(False, "重构误差是奇异值的平方和，不是奇异值之和。")
        return _report(False, "用 Eckart–Young 定理：最优的秩 p 近似丢掉的是哪些奇异值？")

    return _run(check)
