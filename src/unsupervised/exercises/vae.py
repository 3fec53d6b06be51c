"""Checkers for the variational-autoencoder chapter (notebooks/04_vae.ipynb).

- ``check_gaussian_kl(fn)``  ``fn(mu1, var1, mu2, var2)`` -> KL(N(mu1, var1) || N(mu2, var2))
  of two univariate normals (VA16 with k = 1), in nats
- ``check_linear_gaussian_log_marginal(fn)``  ``fn(x, W, b, sigma2)`` -> log p(x) in the
  linear-Gaussian model p(z) = N(0, I), p(x | z) = N(W z + b, sigma2 I) (VA2's left-hand side)
- ``check_printed_objective_variance(value)``  the decoder variance s^2 for which the source's
  printed reconstruction term -||x - mu_G||^2 is log N(x | mu_G, s^2 I) up to a constant (VA19)

References are computed with SciPy or a direct formula, never with ``unsupervised.vae`` or
``unsupervised.divergences``. An answer may be a Python or NumPy number, or a 0-d array or
tensor (also one that requires grad); no checker raises, whatever it is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import integrate, stats

from ._common import _SEED, _as_float, _call, _number_answer, _report, _run

__all__ = [
    "check_gaussian_kl",
    "check_linear_gaussian_log_marginal",
    "check_printed_objective_variance",
]


# --------------------------------------------------------------------------- VA16, k = 1
def _kl_cases():
    """Hidden (mu1, var1, mu2, var2): a few fixed ones and some drawn with the fixed seed."""
    rng = np.random.default_rng(_SEED + 10)
    cases = [
        (0.0, 1.0, 0.0, 1.0),
        (0.0, 1.0, 1.0, 4.0),
        (2.0, 0.25, -1.0, 3.0),
        (-0.5, 9.0, 0.5, 0.5),
    ]
    for _ in range(6):
        mu1, mu2 = rng.normal(scale=2.0, size=2)
        var1, var2 = np.exp(rng.normal(scale=1.0, size=2))
        cases.append((float(mu1), float(var1), float(mu2), float(var2)))
    return cases


def _kl_normal(mu1, var1, mu2, var2):
    return 0.5 * (var1 / var2 + (mu2 - mu1) ** 2 / var2 - 1.0 + math.log(var2 / var1))


def _kl_by_quadrature(mu1, var1, mu2, var2):
    """The same KL as the integral of p1 log(p1 / p2), independent of the closed form."""
    p1, p2 = stats.norm(mu1, math.sqrt(var1)), stats.norm(mu2, math.sqrt(var2))
    s = math.sqrt(var1)
    value, _ = integrate.quad(
        lambda t: p1.pdf(t) * (p1.logpdf(t) - p2.logpdf(t)),
        mu1 - 12 * s,
        mu1 + 12 * s,
        epsabs=1e-12,
        epsrel=1e-10,
    )
    return value


def check_gaussian_kl(fn: Callable[[float, float, float, float], float]) -> bool:
    """Check ``fn(mu1, var1, mu2, var2)`` = KL(N(mu1, var1) || N(mu2, var2)) (arguments are
    means and VARIANCES) on hidden cases, within relative 1e-7 (absolute 1e-10)."""

    def check():
        swapped = std_args = no_half = True
        ok = True
        for mu1, var1, mu2, var2 in _kl_cases():
            got = _as_float(_call(fn, mu1, var1, mu2, var2))
            if got is None:
                return _report(False, "函数应当返回一个有限的数（float）。")
            expected = _kl_by_quadrature(mu1, var1, mu2, var2)

            def close(v, got=got):
                return math.isclose(got, v, rel_tol=1e-7, abs_tol=1e-10)

            ok &= close(expected)
            swapped &= close(_kl_normal(mu2, var2, mu1, var1))
            std_args &= close(_kl_normal(mu1, math.sqrt(var1), mu2, math.sqrt(var2)))
            no_half &= close(2.0 * _kl_normal(mu1, var1, mu2, var2))
        if ok:
            return _report(True)
        if swapped:
            return _report(False, "你算的是 KL(p₂‖p₁)：KL 散度不对称，期望要在第一个分布下取。")
        if std_args:
            return _report(False, "第二、四个参数是方差，不是标准差。")
        if no_half:
            return _report(False, "差一个常数因子：检查高斯对数密度中的 1/2。")
        return _report(
            False,
            "写出 E_{p₁}[log p₁(x) − log p₂(x)]，用 E_{p₁}[(x−μ₂)²] = σ₁² + (μ₁−μ₂)² 逐项求期望。",
        )

    return _run(check)


# --------------------------------------------------------------------------- VA2, log p(x)
def _linear_gaussian_cases():
    rng = np.random.default_rng(_SEED + 11)
    cases = []
    for d, k in ((1, 1), (3, 1), (4, 2), (6, 3), (5, 5)):
        W = rng.normal(size=(d, k))
        b = rng.normal(size=d)
        sigma2 = float(np.exp(rng.normal(scale=0.7)))
        x = b + rng.normal(scale=1.5, size=d)
        cases.append((x, W, b, sigma2))
    return cases


def check_linear_gaussian_log_marginal(
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray, float], float],
) -> bool:
    """Check ``fn(x, W, b, sigma2)`` = log p(x) for p(z) = N(0, I_k), p(x | z) = N(W z + b,
    sigma2 I_d); x has shape (d,), W (d, k), b (d,). Hidden cases with d = 1..6, within
    relative 1e-8."""

    def check():
        ok = True
        wrong_cov = {"noise_only": True, "unit_noise": True}
        for x, W, b, sigma2 in _linear_gaussian_cases():
            got = _as_float(_call(fn, x.copy(), W.copy(), b.copy(), float(sigma2)))
            if got is None:
                return _report(False, "函数应当返回一个有限的数（float）。")
            d = len(x)
            cov = W @ W.T + sigma2 * np.eye(d)
            ok &= math.isclose(got, stats.multivariate_normal(b, cov).logpdf(x), rel_tol=1e-8)
            alternatives = {"noise_only": sigma2 * np.eye(d), "unit_noise": W @ W.T + np.eye(d)}
            for name, c in alternatives.items():
                ref = stats.multivariate_normal(b, c).logpdf(x)
                wrong_cov[name] &= math.isclose(got, ref, rel_tol=1e-8)
        if ok:
            return _report(True)
        if wrong_cov["noise_only"]:
            return _report(
                False, "你只用了噪声的协方差 σ²I；x = Wz + b + 噪声，z 的随机性也贡献协方差。"
            )
        if wrong_cov["unit_noise"]:
            return _report(False, "噪声方差是 σ²，不一定是 1。")
        return _report(
            False,
            "x = Wz + b + ε 是高斯随机向量的线性组合：先求它的均值和协方差，"
            "再写出多元高斯的对数密度（注意 log|C| 与 (2π)^d）。",
        )

    return _run(check)


# --------------------------------------------------------------------------- VA19
def check_printed_objective_variance(value) -> bool:
    """Check a number: the variance s^2 such that -||x - mu_G||^2 (the source's printed
    reconstruction term of VA19) equals log N(x | mu_G, s^2 I) plus a constant that does not
    depend on x or mu_G. ``value`` may be a function of no arguments; ``...`` is unanswered."""

    def check():
        got = _number_answer(value)
        if got is None:
            return False
        if math.isclose(got, 0.5, rel_tol=1e-9):
            return _report(True)
        if math.isclose(got, 1.0, rel_tol=1e-9):
            return _report(
                False,
                "方差为 1 时，log N(x|μ_G, I) 中二次项的系数是多少？和 −‖x−μ_G‖² 的系数比一比。",
            )
        if math.isclose(got, 2.0, rel_tol=1e-9):
            return _report(False, "方向反了：二次项系数是 −1/(2s²)，令它等于 −1 再解 s²。")
        return _report(
            False, "写出 log N(x|μ_G, s²I) = −‖x−μ_G‖²/(2s²) + 常数，令二次项的系数等于 −1。"
        )

    return _run(check)
