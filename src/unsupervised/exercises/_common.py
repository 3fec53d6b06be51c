"""The checkers' shared contract (see the package docstring): call the learner's code,
report in one line, never reveal the expected value, never raise on a wrong answer.

Every checker runs its checks inside ``_run`` and reads the learner's values only through
``_as_float`` / ``_as_array``, which never raise: a torch tensor (also one that requires
grad) is detached first, and whatever is not finite real data (NaN, a string, a bool, a
complex number, an int too large for a float, an object NumPy cannot read, the wrong shape)
comes back as None, which the checker reports as a wrong answer. The learner's code is
called through ``_call``: its exceptions are reported, never re-raised, and ``_run`` turns
any other exception into a message too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

_SEED = 20240611  # hidden cases are fixed: the same checks on every call

CORRECT = "正确！"
NOT_IMPLEMENTED = "尚未实现：把函数里的 raise NotImplementedError 换成你的实现，再运行这个单元格。"
NOT_ANSWERED = "尚未实现：把占位符 ... 换成你算出的数，再运行这个单元格。"
NOT_A_FUNCTION = "还不对：请传入你写的函数本身（函数名后不加括号），而不是它的返回值。"


class _LearnerError(Exception):
    """Wraps an exception raised inside the learner's code (reported, never re-raised)."""


class _NotAFunction(_LearnerError):
    """The learner passed something that cannot be called where a function is expected."""


def _call(fn: Callable, *args: Any) -> Any:
    """``fn(*args)``; the learner's exceptions become ``_LearnerError`` (a stub's
    NotImplementedError passes through, so ``_run`` can say "not yet implemented")."""
    if not callable(fn):
        raise _NotAFunction
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except (Exception, SystemExit) as err:  # SystemExit: exit() inside the learner's code
        raise _LearnerError(f"{type(err).__name__}: {err}") from None


def _detached(value: Any) -> Any:
    """A torch tensor as a detached CPU tensor (NumPy refuses one that requires grad); any
    other value unchanged. torch is not imported here: a tensor exists only if it is loaded."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu()
    return value


def _as_array(value: Any, shape: Sequence[int] | None = None) -> np.ndarray | None:
    """The learner's value as a finite real float64 array (of ``shape``, if given), or None.

    Never raises. None for strings, bools, complex numbers, objects NumPy cannot read as
    numbers (an int beyond float64, a list of mixed things), NaN or inf, and a wrong shape.
    """
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        return None
    try:
        a = np.asarray(_detached(value))
        if a.dtype.kind not in "iuf":  # bool, complex, object, strings: not real numbers
            return None
        a = a.astype(np.float64)
    except Exception:  # an object whose __array__ / __float__ raises, ragged lists, ...
        return None
    if shape is not None and a.shape != tuple(shape):
        return None
    return a if np.all(np.isfinite(a)) else None


def _as_float(value: Any) -> float | None:
    """The learner's value as a finite float (a number, or an array or tensor holding one
    number), or None. Never raises (see ``_as_array``)."""
    a = _as_array(value)
    return None if a is None or a.size != 1 else float(a.reshape(()))


def _number_answer(value: Any, hint: str = "请给出一个数。") -> float | None:
    """The learner's number: ``value``, or what ``value()`` returns when it is a function of no
    arguments. None after printing the message when it is unanswered (None or ``...``) or not
    a finite number (then ``hint`` says what to give). Call it inside ``_run``."""
    answer = _call(value) if callable(value) else value
    if answer is None or answer is Ellipsis:
        print(NOT_ANSWERED)
        return None
    got = _as_float(answer)
    if got is None:
        _report(False, hint)
    return got


def _report(ok: bool, hint: str = "") -> bool:
    print(CORRECT if ok else f"还不对。{hint}")
    return ok


def _run(check: Callable[[], bool]) -> bool:
    """Run a check and return its verdict; never raises. The learner's NotImplementedError,
    a non-function and other errors in the learner's code become messages, and so does any
    other exception (a value the check could not handle), reported by its type only."""
    try:
        return bool(check())
    except NotImplementedError:
        print(NOT_IMPLEMENTED)
    except _NotAFunction:
        print(NOT_A_FUNCTION)
    except _LearnerError as err:
        print(f"还不对：你的函数在某个隐藏用例上出错了（{err}）。")
    except Exception as err:
        print(f"还不对：检查时无法处理你的答案（{type(err).__name__}），请检查返回值的类型和形状。")
    return False
