"""The exercise checkers: right answers pass, wrong ones fail with a hint, stubs are
reported as not implemented, nothing raises, and no message gives the answer away."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from helpers import assert_no_numbers, run, stub
from unsupervised.exercises import _common
from unsupervised.exercises import density as ex


def broken(*args):
    raise ZeroDivisionError("oops")


# --------------------------------------------------------------------------- binomial
def binomial_right(k, n, p):
    return math.comb(n, k) * p**k * (1 - p) ** (n - k)


def binomial_as_printed(k, n, p):
    return math.comb(n, k) * p**k * (1 - p) ** (1 - k)


def binomial_no_coefficient(k, n, p):
    return p**k * (1 - p) ** (n - k)


def test_binomial_accepts_a_right_answer(capsys):
    ok, out = run(ex.check_binomial_pmf, binomial_right, capsys)
    assert ok and _common.CORRECT in out


def test_binomial_accepts_a_vectorised_scipy_answer(capsys):
    ok, _ = run(ex.check_binomial_pmf, lambda k, n, p: stats.binom.pmf(k, n, p), capsys)
    assert ok


@pytest.mark.parametrize(
    "wrong",
    [binomial_as_printed, binomial_no_coefficient, lambda k, n, p: 0.5, lambda k, n, p: "text"],
)
def test_binomial_rejects_wrong_answers(wrong, capsys):
    ok, out = run(ex.check_binomial_pmf, wrong, capsys)
    assert not ok and _common.CORRECT not in out
    assert_no_numbers(out)


def test_binomial_recognises_the_printed_formula(capsys):
    _, out = run(ex.check_binomial_pmf, binomial_as_printed, capsys)
    assert "原书" in out


def test_binomial_output_does_not_contain_expected_values(capsys):
    _, out = run(ex.check_binomial_pmf, binomial_as_printed, capsys)
    for n, p in ex._binomial_cases():
        for value in stats.binom.pmf(np.arange(n + 1), n, p):
            if value > 1e-3:
                assert f"{value:.3g}" not in out and f"{value:.3f}" not in out


# --------------------------------------------------------------------------- Parzen count
def count_right(X, x, h):
    return int(np.sum(np.all(np.abs(X - x) < h / 2, axis=1)))


def count_closed(X, x, h):
    return int(np.sum(np.all(np.abs(X - x) <= h / 2, axis=1)))


def count_side_h(X, x, h):
    return int(np.sum(np.all(np.abs(X - x) < h, axis=1)))


def count_ball(X, x, h):
    return int(np.sum(np.linalg.norm(X - x, axis=1) < h / 2))


def test_parzen_count_accepts_a_right_answer(capsys):
    ok, out = run(ex.check_parzen_count, count_right, capsys)
    assert ok and _common.CORRECT in out


@pytest.mark.parametrize(
    "wrong, hint", [(count_closed, "严格"), (count_side_h, "h/2"), (count_ball, "欧氏")]
)
def test_parzen_count_rejects_wrong_answers_with_a_hint(wrong, hint, capsys):
    ok, out = run(ex.check_parzen_count, wrong, capsys)
    assert not ok and hint in out


def test_parzen_count_output_does_not_contain_expected_values(capsys):
    _, out = run(ex.check_parzen_count, count_side_h, capsys)
    assert_no_numbers(out.replace("h/2", ""))
    for X, x, h in ex._parzen_cases():
        assert f" {count_right(X, x, h)} " not in out


# --------------------------------------------------------------------------- ball volume
def volume_right(d, r):
    return math.pi ** (d / 2) / math.gamma(d / 2 + 1) * r**d


def test_knn_volume_accepts_a_right_answer(capsys):
    ok, out = run(ex.check_knn_volume, volume_right, capsys)
    assert ok and _common.CORRECT in out


@pytest.mark.parametrize(
    "wrong",
    [
        lambda d, r: (2 * r) ** d,
        lambda d, r: math.pi ** (d / 2) / math.gamma(d / 2 + 1),
        lambda d, r: math.pi ** (d / 2) / math.gamma(d / 2) * r**d,
    ],
)
def test_knn_volume_rejects_wrong_answers(wrong, capsys):
    ok, out = run(ex.check_knn_volume, wrong, capsys)
    assert not ok
    assert_no_numbers(out)
    for d in range(2, 11):  # (d = 1: the "volume" 2r is no secret)
        assert f"{volume_right(d, 1.0):.3g}" not in out


# --------------------------------------------------------------------------- ML variance
def test_mle_variance_accepts_the_right_number(capsys):
    ok, out = run(ex.check_mle_variance, 8 / 5, capsys)
    assert ok and _common.CORRECT in out
    ok, _ = run(ex.check_mle_variance, lambda: 1.6, capsys)
    assert ok


@pytest.mark.parametrize("wrong", [2.0, 2.5, 1.0, "abc", float("nan")])
def test_mle_variance_rejects_wrong_numbers(wrong, capsys):
    ok, out = run(ex.check_mle_variance, wrong, capsys)
    assert not ok
    assert "1.6" not in out and "8/5" not in out and "4/5" not in out
    assert_no_numbers(out)


@pytest.mark.parametrize("placeholder", [None, ...])
def test_mle_variance_placeholder_is_not_yet_answered(placeholder, capsys):
    ok, out = run(ex.check_mle_variance, placeholder, capsys)
    assert not ok and "尚未实现" in out


# --------------------------------------------------------------------------- bandwidth
def bandwidth_right(sigma, n):
    return (4 / (3 * n)) ** 0.2 * sigma


def test_optimal_bandwidth_accepts_exact_and_rounded_constants(capsys):
    ok, out = run(ex.check_optimal_bandwidth, bandwidth_right, capsys)
    assert ok and _common.CORRECT in out
    ok, _ = run(ex.check_optimal_bandwidth, lambda s, n: 1.06 * s * n**-0.2, capsys)
    assert ok


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda s, n: 0.9 * s * n**-0.2, "常数"),
        (lambda s, n: s * n**-0.25, "幂次"),
        (lambda s, n: n**-0.2, "σ"),
    ],
)
def test_optimal_bandwidth_rejects_wrong_answers(wrong, hint, capsys):
    ok, out = run(ex.check_optimal_bandwidth, wrong, capsys)
    assert not ok and hint in out
    assert "1.06" not in out and "4/3" not in out and "1/5" not in out


# --------------------------------------------------------------------------- all checkers
FUNCTION_CHECKERS = [
    ex.check_binomial_pmf,
    ex.check_parzen_count,
    ex.check_knn_volume,
    ex.check_optimal_bandwidth,
]


@pytest.mark.parametrize("checker", FUNCTION_CHECKERS + [ex.check_mle_variance])
def test_a_stub_is_reported_as_not_implemented(checker, capsys):
    ok, out = run(checker, stub, capsys)
    assert not ok and "尚未实现" in out


@pytest.mark.parametrize("checker", FUNCTION_CHECKERS)
def test_an_error_in_the_learners_code_is_reported_not_raised(checker, capsys):
    ok, out = run(checker, broken, capsys)
    assert not ok and "ZeroDivisionError" in out


@pytest.mark.parametrize("checker", FUNCTION_CHECKERS)
def test_checks_are_reproducible(checker, capsys):
    first = run(checker, stub, capsys)
    assert run(checker, stub, capsys) == first


def test_every_chapter_checker_is_exported_by_the_package():
    import unsupervised.exercises as package

    for name in ex.__all__:
        assert getattr(package, name) is getattr(ex, name)


# --------------------------------------------------------------------------- the shared contract
class Unreadable:
    """An object whose conversions to a number or an array raise."""

    def __float__(self):
        raise RuntimeError("no float")

    def __array__(self, *args, **kwargs):
        raise RuntimeError("no array")


def returns_itself():
    return returns_itself


@pytest.mark.parametrize(
    "value, expected",
    [
        (1.5, 1.5),
        (np.float32(0.25), 0.25),
        (np.array([[2.0]]), 2.0),
        (torch.tensor(0.5, requires_grad=True), 0.5),  # np.asarray refuses this one
        (torch.tensor([3.0], dtype=torch.float64, requires_grad=True) * 2, 6.0),
        (7, 7.0),
    ],
)
def test_as_float_reads_numbers_arrays_and_tensors(value, expected):
    assert _common._as_float(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "1.6",
        b"1",
        True,
        np.bool_(False),
        1 + 1j,
        np.complex128(1.0),
        float("nan"),
        -np.inf,
        torch.tensor(float("nan"), requires_grad=True),
        10**400,  # beyond float64
        np.array([1.0, 2.0]),  # not one number
        [[1.0], [2.0, 3.0]],  # ragged
        Unreadable(),
        returns_itself,
        {"value": 1.0},
    ],
)
def test_as_float_refuses_what_is_not_one_finite_number_without_raising(value):
    assert _common._as_float(value) is None


def test_as_array_checks_the_shape_and_detaches_tensors():
    t = torch.ones(2, 3, requires_grad=True)
    a = _common._as_array(t * 2, (2, 3))
    assert a.dtype == np.float64 and np.all(a == 2.0)
    assert _common._as_array(t, (3, 2)) is None
    assert _common._as_array([[1, 2], [3, 4]]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert _common._as_array(np.array([1.0, np.nan])) is None
    assert _common._as_array(np.array([True, False])) is None


def test_run_never_raises_and_reports_every_kind_of_failure(capsys):
    def checker_bug():
        raise IndexError("a bug in the check itself")

    assert _common._run(checker_bug) is False
    assert "IndexError" in capsys.readouterr().out
    assert _common._run(lambda: _common._call(3.0)) is False
    assert capsys.readouterr().out.strip() == _common.NOT_A_FUNCTION

    def exits(*args):
        raise SystemExit

    assert _common._run(lambda: _common._call(exits)) is False
    assert "SystemExit" in capsys.readouterr().out

    class BadMessage(Exception):
        def __str__(self):
            raise RuntimeError("no message either")

    def raises_bad_message(*args):
        raise BadMessage

    assert _common._run(lambda: _common._call(raises_bad_message)) is False
    assert capsys.readouterr().out.strip()


def as_tensor(fn):
    """The learner's right answer, returned as a float64 tensor that requires grad."""

    def wrapped(*args):
        return torch.tensor(float(fn(*args)), dtype=torch.float64, requires_grad=True)

    return wrapped


@pytest.mark.parametrize(
    "checker, right",
    [
        (ex.check_binomial_pmf, binomial_right),
        (ex.check_parzen_count, count_right),
        (ex.check_knn_volume, volume_right),
        (ex.check_optimal_bandwidth, bandwidth_right),
    ],
)
def test_a_right_answer_returned_as_a_tensor_that_requires_grad_passes(checker, right, capsys):
    ok, out = run(checker, as_tensor(right), capsys)
    assert ok and _common.CORRECT in out


def test_mle_variance_reads_a_tensor_that_requires_grad(capsys):
    ok, _ = run(ex.check_mle_variance, torch.tensor(1.6, requires_grad=True), capsys)
    assert ok


def recursion(*args):
    return recursion(*args)


@pytest.mark.parametrize("checker", FUNCTION_CHECKERS + [ex.check_mle_variance])
@pytest.mark.parametrize(
    "answer",
    [
        lambda *args: float("nan"),
        lambda *args: torch.tensor(float("nan"), requires_grad=True),
        lambda *args: np.ones((2, 2)),
        lambda *args: "text",
        lambda *args: None,
        lambda *args: 1 + 1j,
        lambda *args: 10**400,
        lambda *args: Unreadable(),
        lambda *args: returns_itself,
        recursion,
        returns_itself,
        3.0,
        "answer",
        Unreadable(),
        torch.ones(3, requires_grad=True),
    ],
)
def test_no_checker_raises_whatever_it_is_given(checker, answer, capsys):
    ok, out = run(checker, answer, capsys)
    assert not ok and _common.CORRECT not in out
