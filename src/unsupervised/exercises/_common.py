"""The checkers' shared contract (see the package docstring): call the learner's code,
report in one line, never reveal the expected value, never raise on a wrong answer."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

_SEED = 20240611  # hidden cases are fixed: the same checks on every call

CORRECT = "正确！"
NOT_IMPLEMENTED = "尚未实现：把函数里的 raise NotImplementedError 换成你的实现，再运行这个单元格。"
NOT_ANSWERED = "尚未实现：把占位符 ... 换成你算出的数，再运行这个单元格。"


class _LearnerError(Exception):
    """Wraps an exception raised inside the learner's code (reported, never re-raised)."""


def _call(fn: Callable, *args):
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as err:
        raise _LearnerError(f"{type(err).__name__}: {err}") from None


def _as_float(value) -> float | None:
    """The learner's return value as a finite float, or None."""
    try:
        v = float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _report(ok: bool, hint: str = "") -> bool:
    print(CORRECT if ok else f"还不对。{hint}")
    return ok


def _run(check: Callable[[], bool]) -> bool:
    """Run a check; turn the learner's NotImplementedError and other errors into messages."""
    try:
        return check()
    except NotImplementedError:
        print(NOT_IMPLEMENTED)
        return False
    except _LearnerError as err:
        print(f"还不对：你的函数在某个隐藏用例上出错了（{err}）。")
        return False
