"""Checkers for the GAN chapter (notebooks/05_gan.ipynb).

- ``check_saturation_ratio(value)``      the ratio |d(-log D)/da| / |d log(1 - D)/da| of the
  two generator objectives' gradients with respect to the logit a when D(G(z)) = 0.01 (GA3)
- ``check_non_saturating_loss(fn)``      ``fn(logits)`` -> -mean(log sigmoid(logits)),
  finite for every logit (GA3, computed stably)
- ``check_js_divergence(fn)``            ``fn(p, q, dx)`` -> JS(p || q) in nats for densities
  on a grid (GA6, GA7)
- ``check_conv_transpose_size(fn)``      ``fn(size, kernel, stride, padding)`` -> the output
  side of a transposed convolution (GA11)

The reference values come from direct formulas (NumPy, SciPy) or from PyTorch's own layer,
never from ``unsupervised.gan`` or ``unsupervised.divergences``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import xlogy

from ._common import _SEED, NOT_ANSWERED, _as_float, _call, _report, _run

__all__ = [
    "check_saturation_ratio",
    "check_non_saturating_loss",
    "check_js_divergence",
    "check_conv_transpose_size",
]


# --------------------------------------------------------------------------- GA3 (number)
def check_saturation_ratio(value) -> bool:
    """Check the ratio of the non-saturating to the minimax generator gradient (with respect
    to the discriminator's logit) at D(G(z)) = 0.01. Within a relative 1e-4. ``value`` is a
    number (a 0-d array or tensor, also one that requires grad, will do); ``...`` counts as
    not yet answered."""
    if value is Ellipsis:
        print(NOT_ANSWERED)
        return False

    def check():
        v = _as_float(value)
        if v is None:
            return _report(False, "答案应当是一个有限的数。")
        d = 0.01
        expected = (1 - d) / d
        if math.isclose(v, expected, rel_tol=1e-4):
            return _report(True)
        if math.isclose(v, 1 / expected, rel_tol=1e-4):
            return _report(
                False, "比值倒过来了：题目问的是非饱和形式的梯度是极小极大形式的多少倍。"
            )
        if math.isclose(abs(v), 1.0, rel_tol=1e-4):
            return _report(
                False,
                "两个梯度并不相等：分别对 logit 求导，"
                "d log σ(a)/da 与 d log(1-σ(a))/da 各等于什么？",
            )
        return _report(False, "写出 σ'(a)=σ(a)(1-σ(a))，分别对两个目标求导，再代入 D=σ(a)=0.01。")

    return _run(check)


# --------------------------------------------------------------------------- GA3 (function)
def _logit_cases():
    rng = np.random.default_rng(_SEED)
    cases = [
        np.array([0.0]),
        np.array([-2.0, 1.0, 3.5]),
        rng.normal(0.0, 3.0, size=50),
        rng.normal(-6.0, 2.0, size=20),
    ]
    extreme = [np.array([-800.0, -50.0, 0.0, 50.0, 800.0]), np.array([-1000.0]), np.array([1000.0])]
    return cases, extreme


def _ns_reference(a):
    return float(np.logaddexp(0.0, -a).mean())  # -log sigmoid(a) = log(1 + e^{-a})


def check_non_saturating_loss(fn: Callable[[np.ndarray], float]) -> bool:
    """Check ``fn(logits)``, the non-saturating generator loss -mean(log D) with
    D = sigmoid(logits), on hidden arrays of logits, extreme ones included (|a| up to 1000).

    ``fn`` receives a float64 NumPy array of shape (N,) and must return a number. Right when
    every value matches within a relative 1e-9 (absolute 1e-12) and is finite.
    """

    def check():
        cases, extreme = _logit_cases()
        for a in cases:
            got = _as_float(_call(fn, a.copy()))
            if got is None:
                return _report(False, "函数应当返回一个有限的数（float）。")
            if not math.isclose(got, _ns_reference(a), rel_tol=1e-9, abs_tol=1e-12):
                minimax = float(-np.logaddexp(0.0, a).mean())  # E[log(1 - D)]
                if math.isclose(got, minimax, rel_tol=1e-9, abs_tol=1e-12):
                    return _report(False, "这是极小极大形式 E[log(1-D)]；非饱和形式是 -E[log D]。")
                if math.isclose(got, -_ns_reference(a), rel_tol=1e-9, abs_tol=1e-12):
                    return _report(False, "符号反了：损失是要最小化的，应为 -E[log D]。")
                if math.isclose(got, _ns_reference(a) * a.size, rel_tol=1e-9, abs_tol=1e-12):
                    return _report(False, "应当对批取均值，而不是求和。")
                return _report(False, "普通 logit 上的值就不对；检查 D=sigmoid(a) 和取对数的位置。")
        for a in extreme:
            with np.errstate(all="ignore"):
                got = _as_float(_call(fn, a.copy()))
            if got is None or not math.isclose(got, _ns_reference(a), rel_tol=1e-9, abs_tol=1e-12):
                return _report(
                    False,
                    "普通 logit 上正确，但在很大或很小的 logit 上溢出或失去精度："
                    "把 -log sigmoid(a) 改写成 softplus(-a)=log(1+e^{-a})，"
                    "用 np.logaddexp 计算。",
                )
        return _report(True)

    return _run(check)


# --------------------------------------------------------------------------- GA6, GA7
def _js_reference(p, q, dx):
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_pm = np.sum(xlogy(p, p) - xlogy(p, m)) * dx
        kl_qm = np.sum(xlogy(q, q) - xlogy(q, m)) * dx
    return float(0.5 * kl_pm + 0.5 * kl_qm)


def _js_cases():
    rng = np.random.default_rng(_SEED + 1)
    x = np.linspace(-8.0, 8.0, 1601)
    dx = float(x[1] - x[0])

    def normal(mu, s):
        return np.exp(-0.5 * ((x - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi))

    def box(a, b):
        return np.where((x >= a) & (x < b), 1.0, 0.0) / (b - a)

    cases = [
        (normal(0, 1), normal(0, 1)),
        (normal(-1, 1), normal(1.5, 0.7)),
        (box(-3, -1), box(1, 4)),  # disjoint supports: log 2
        (box(-2, 1), box(0, 3)),  # partly overlapping, zeros in both
        (normal(0, 0.3), box(-4, 4)),
    ]
    mu, s = rng.uniform(-2, 2), rng.uniform(0.4, 2.0)
    cases.append((normal(mu, s), 0.5 * normal(-2, 0.5) + 0.5 * normal(2, 0.5)))
    return [(p, q, dx) for p, q in cases]


def check_js_divergence(fn: Callable[[np.ndarray, np.ndarray, float], float]) -> bool:
    """Check ``fn(p, q, dx)``, the Jensen-Shannon divergence in nats of two densities given by
    their values on a 1-D grid with step dx, on hidden pairs (some with disjoint supports and
    zeros). Right when every value matches within an absolute 1e-9."""

    def check():
        for p, q, dx in _js_cases():
            with np.errstate(all="ignore"):
                got = _as_float(_call(fn, p.copy(), q.copy(), dx))
            expected = _js_reference(p, q, dx)
            if got is None:
                return _report(
                    False,
                    "有的用例返回了 nan 或 inf：在 p=0 的格点上按 0·log 0 = 0 处理"
                    "（JS 散度总是有限的）。",
                )
            if abs(got - expected) <= 1e-9:
                continue
            if abs(got - expected / math.log(2)) <= 1e-9:
                return _report(False, "这是以 2 为底（比特）的结果；本书用自然对数（奈特）。")
            if abs(got - 2 * expected) <= 1e-9:
                return _report(False, "差了一个因子 2：JS 是两个 KL 的平均，每个 KL 都乘 1/2。")
            return _report(False, "检查混合分布 m=(p+q)/2 和两个 KL(·||m) 的写法，别忘了乘 dx。")
        return _report(True)

    return _run(check)


# --------------------------------------------------------------------------- GA11
def _conv_transpose_reference(size, kernel, stride, padding):
    import torch

    x = torch.zeros(1, 1, size, size)
    w = torch.zeros(1, 1, kernel, kernel)
    return int(torch.nn.functional.conv_transpose2d(x, w, stride=stride, padding=padding).shape[-1])


def check_conv_transpose_size(fn: Callable[[int, int, int, int], int]) -> bool:
    """Check ``fn(size, kernel, stride, padding)``, the side of the output of a transposed
    convolution (no output padding, no dilation) applied to a size x size input, against
    PyTorch's ``conv_transpose2d`` on hidden settings (DCGAN's among them)."""

    def check():
        rng = np.random.default_rng(_SEED + 2)
        cases = [
            (1, 4, 1, 0),
            (4, 4, 2, 1),
            (8, 4, 2, 1),
            (32, 4, 2, 1),
            (7, 3, 1, 1),
            (5, 5, 3, 2),
        ]
        for _ in range(4):
            k = int(rng.integers(1, 6))
            cases.append(
                (int(rng.integers(1, 20)), k, int(rng.integers(1, 4)), int(rng.integers(0, k)))
            )
        for size, k, s, p in cases:
            got = _as_float(_call(fn, size, k, s, p))
            expected = _conv_transpose_reference(size, k, s, p)
            if got is None:
                return _report(False, "函数应当返回一个整数。")
            if got == expected:
                continue
            if got == (size + 2 * p - k) // s + 1:
                return _report(
                    False, "这是普通卷积（下采样）的输出尺寸；转置卷积把这个关系反过来。"
                )
            return _report(
                False, "想一想：转置卷积的输出经过同样参数的普通卷积后，应当回到输入尺寸。"
            )
        return _report(True)

    return _run(check)
