"""The library's one validation policy: arguments are checked where they enter the library.

A public function declares what each argument must be with the ``@validate`` decorator::

    @validate(X=Array(ndim=2), eta=Real(low=0), penalty=Choice(PENALTIES), seed=Seed())
    def encode(X, A, eta, penalty="l1", seed=0): ...

The decorator binds the call to the signature and replaces every declared argument by its
canonical form (a float, an int, a float64 array, a tensor of the model's dtype, ...) before
the body runs, or raises a ``ValueError`` whose message starts with the argument's name and
says what was expected. Defaults are not re-checked (they are the library's own values).
The body therefore trusts its arguments, and internal calls go to undecorated helpers
(``_name``): the library never validates the same value twice and has no checked/unchecked
twins. ``tests/test_validation_policy.py`` reads the declarations (``fn.__validation__``)
and tries every bad input each constraint lists (``Constraint.bad_values``).

The rules (CONTRIBUTING.md, "Validation"):

- numbers are real numbers: Python or NumPy ints and floats, or 0-d arrays/tensors of them;
  not strings, not bools, not complex; finite unless the constraint says otherwise;
- integers are integral (3 and 3.0, never 2.5 or True);
- flags are bools (``True``/``False``/``np.bool_``), never the string "False" or 1;
- arrays are real and numeric (lists, NumPy arrays of any stride and dtype, tensors of any
  dtype that may require grad), finite, of the declared shape; they come back as
  C-contiguous float64 NumPy arrays (``Array``) or as tensors of the requested dtype and
  device (``Tensor``);
- a ``torch.Generator`` argument is a ``torch.Generator`` (or None where allowed); a
  ``device`` is one torch can use on this machine.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "Constraint",
    "Real",
    "Integer",
    "Seed",
    "Flag",
    "Choice",
    "Array",
    "Tensor",
    "Density",
    "Function",
    "Instance",
    "Generator",
    "Device",
    "Dtype",
    "Optional",
    "Sizes",
    "RngSeed",
    "Probabilities",
    "Text",
    "Betas",
    "validate",
    "check_positive",
    "check_int",
    "check_density",
]


class Constraint:
    """What one argument must be. ``check(value, name)`` returns the canonical value or raises
    ValueError naming ``name``; ``bad_values()`` lists inputs that must be refused (the
    policy tests try every one of them); ``expected`` says in words what is accepted."""

    expected = "a value"

    def check(self, value: Any, name: str) -> Any:
        raise NotImplementedError

    def bad_values(self) -> list:
        return []

    def fail(self, value: Any, name: str, why: str = "") -> None:
        shown = f"{value!r}"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise ValueError(f"{name} must be {self.expected}; got {shown}{why}")


def _real_scalar(value: Any) -> float | None:
    """``value`` as a float if it is a real number (0-d arrays and tensors included), else
    None. Bools, strings and complex numbers are not real numbers here."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        return None
    if isinstance(value, torch.Tensor):
        if value.ndim != 0 or value.is_complex() or value.dtype == torch.bool:
            return None
        return float(value.detach())
    if isinstance(value, np.ndarray):
        if value.ndim != 0 or value.dtype.kind not in "iuf":
            return None
        return float(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return None


class Real(Constraint):
    """A real number in [low, high] (``open=True``: the open interval on the finite ends;
    ``low_open``/``high_open`` for one end). ``finite=False`` also allows +-inf."""

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        *,
        open: bool = False,
        low_open: bool | None = None,
        high_open: bool | None = None,
        finite: bool = True,
    ):
        self.low, self.high, self.finite = low, high, finite
        self.low_open = open if low_open is None else low_open
        self.high_open = open if high_open is None else high_open
        lo = "" if low is None else ("> " if self.low_open else ">= ") + f"{low:g}"
        hi = "" if high is None else ("< " if self.high_open else "<= ") + f"{high:g}"
        bounds = " and ".join(b for b in (lo, hi) if b)
        self.expected = ("a finite real number" if finite else "a real number") + (
            f" {bounds}" if bounds else ""
        )

    def check(self, value, name):
        v = _real_scalar(value)
        if v is None or math.isnan(v) or (self.finite and math.isinf(v)):
            self.fail(value, name)
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            self.fail(value, name)
        if self.high is not None and (v > self.high or (self.high_open and v == self.high)):
            self.fail(value, name)
        return v

    def bad_values(self):
        bad = ["0.5", True, 1 + 1j, float("nan"), None, [1.0]]
        if self.finite:
            bad.append(float("inf"))
        if self.low is not None:
            bad.append(self.low - 1.0)
            if self.low_open:
                bad.append(self.low)
        if self.high is not None:
            bad.append(self.high + 1.0)
            if self.high_open:
                bad.append(self.high)
        return bad


class Integer(Constraint):
    """An integer >= ``minimum`` (and <= ``maximum``); 3.0 is accepted as 3, 2.5 and True not.
    Integers beyond the 64-bit range (1e300) are refused: NumPy and torch cannot use them."""

    _bound = 2**63  # |value| must be below it (int64)

    def __init__(self, minimum: int | None = None, maximum: int | None = None):
        self.minimum, self.maximum = minimum, maximum
        bounds = " and ".join(
            b
            for b in (
                None if minimum is None else f">= {minimum}",
                None if maximum is None else f"<= {maximum}",
            )
            if b
        )
        self.expected = "an integer" + (f" {bounds}" if bounds else "")

    def check(self, value, name):
        v = _real_scalar(value)
        if v is None or not math.isfinite(v) or not v.is_integer():
            self.fail(value, name)
        if (self.minimum is not None and v < self.minimum) or (
            self.maximum is not None and v > self.maximum
        ):
            self.fail(value, name)
        if abs(v) >= self._bound:
            self.fail(value, name, " (beyond the 64-bit integer range)")
        # an exact integer keeps its value (float(2**60 + 1) would round it)
        return int(value) if isinstance(value, (int, np.integer)) else int(v)

    def bad_values(self):
        bad = [2.5, "3", True, None, float("nan"), 1e300]
        if self.minimum is not None:
            bad.append(self.minimum - 1)
        if self.maximum is not None:
            bad.append(self.maximum + 1)
        return bad


class Seed(Integer):
    """A seed: an integer >= 0 (``none=True``: or None, meaning fresh entropy)."""

    _bound = 2**64  # torch.manual_seed takes up to 2**64 - 1

    def __init__(self, none: bool = False):
        super().__init__(minimum=0)
        self.none = none
        if none:
            self.expected = "an integer >= 0 or None"

    def check(self, value, name):
        if value is None and self.none:
            return None
        return super().check(value, name)

    def bad_values(self):
        return [2.5, "0", True, -1, 1e300] + ([] if self.none else [None])


class Flag(Constraint):
    """A bool. ``"False"``, 0 and 1 are refused (``bool("False")`` is True)."""

    expected = "a bool (True or False)"

    def check(self, value, name):
        if not isinstance(value, (bool, np.bool_)):
            self.fail(value, name)
        return bool(value)

    def bad_values(self):
        return ["False", 1, None]


class Choice(Constraint):
    """One of the given strings (or other hashable values)."""

    def __init__(self, choices: Sequence):
        self.choices = tuple(choices)
        self.expected = "one of " + ", ".join(repr(c) for c in self.choices)

    def check(self, value, name):
        try:
            ok = value in self.choices and not isinstance(value, (bool, np.bool_))
        except (TypeError, ValueError, RuntimeError):  # an array: "truth value ambiguous"
            ok = False
        if not ok:
            self.fail(value, name)
        return value

    def bad_values(self):
        return ["no such choice", 3, None, np.array(["a", "b"])]


def _numeric_array(value: Any) -> np.ndarray | None:
    """``value`` as a real NumPy array (tensors detached and moved to the CPU), or None."""
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            return None
        value = value.detach().cpu()
        value = value.double() if value.is_floating_point() else value
        value = value.numpy()
    if isinstance(value, (str, bytes)) or value is None:
        return None
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        return None
    if arr.dtype.kind not in "iuf":  # bool ("b"), complex ("c"), object, strings: not data
        return None
    return arr


class Array(Constraint):
    """A real numeric array of ``ndim`` dimensions (a tuple: any of them), with at least one
    element along every axis (``min_size`` rows), optionally with fixed sizes ``shape``
    (None entries are free), finite unless ``finite=False`` (which allows +-inf, never NaN);
    returned as a C-contiguous float64 array. ``low``: every entry >= low (e.g. 0 for counts)."""

    def __init__(
        self,
        ndim: int | tuple[int, ...] | None = None,
        *,
        shape: tuple | None = None,
        finite: bool = True,
        low: float | None = None,
        min_rows: int = 1,
    ):
        self.ndim = (ndim,) if isinstance(ndim, int) else ndim
        self.shape, self.finite, self.low, self.min_rows = shape, finite, low, min_rows
        dims = "" if self.ndim is None else " or ".join(f"{n}-D" for n in self.ndim) + " "
        what = "finite " if finite else ""
        self.expected = (
            f"a {what}real {dims}array"
            + (f" of shape {shape}" if shape is not None else "")
            + ("" if low is None else f" with entries >= {low:g}")
        )

    def _check_shape(self, shape: tuple, value, name):
        if self.ndim is not None and len(shape) not in self.ndim:
            self.fail(value, name, f" of shape {shape}")
        if shape and (shape[0] < self.min_rows or 0 in shape):
            self.fail(value, name, f" of shape {shape} (empty)")
        if self.shape is not None and (
            len(self.shape) != len(shape)
            or any(s is not None and s != t for s, t in zip(self.shape, shape))
        ):
            self.fail(value, name, f" of shape {shape}")

    def _check_values(self, all_finite: bool, any_nan: bool, any_below: bool, name):
        if self.finite and not all_finite:
            raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
        if any_nan:  # finite=False allows +-inf, never NaN
            raise ValueError(f"{name} must not contain NaN")
        if self.low is not None and any_below:
            raise ValueError(f"{name} must have entries >= {self.low:g}")

    def _canonical(self, value, name):
        arr = _numeric_array(value)
        if arr is None:
            self.fail(value, name)
        self._check_shape(arr.shape, value, name)
        arr = np.asarray(arr, dtype=np.float64, order="C")  # 0-d stays 0-d
        below = self.low is not None and bool(np.any(arr < self.low))
        self._check_values(bool(np.all(np.isfinite(arr))), bool(np.isnan(arr).any()), below, name)
        return arr

    def check(self, value, name):
        return self._canonical(value, name)

    def bad_values(self):
        n = 1 if self.ndim is None else self.ndim[0]
        nan = np.full((2,) * n, np.nan) if n else np.array(np.nan)
        bad = ["abc", None, nan, np.full((2,) * max(n, 1), 1 + 1j)]
        if self.finite:
            bad.append(np.full((2,) * max(n, 1), np.inf))
        if self.ndim is not None:
            bad.append(np.ones((2,) * (max(self.ndim) + 1)))
        if self.low is not None:
            bad.append(np.full((2,) * max(n, 1), self.low - 1.0))
        return bad


class Tensor(Array):
    """Like ``Array``, but returned as a torch tensor. Tensors keep their autograd graph
    (a loss must be differentiable in them); arrays and lists are converted. ``dtype``:
    the tensor's dtype (default: unchanged for floating tensors, float64 for the rest; a
    module casts to its own dtype). Validating finiteness costs one device synchronisation:
    training loops call the undecorated helpers instead."""

    def __init__(self, ndim=None, *, dtype: torch.dtype | None = None, **kwargs):
        # dtype None: floating tensors keep theirs, anything else becomes float64 (exact)
        super().__init__(ndim, **kwargs)
        self.dtype = dtype
        self.expected = self.expected.replace("array", "array or tensor")

    def check(self, value, name):
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            self._check_shape(tuple(value.shape), value, name)
            v = value.detach()
            below = self.low is not None and bool((v < self.low).any())
            self._check_values(
                bool(torch.isfinite(v).all()), bool(torch.isnan(v).any()), below, name
            )
            return value if self.dtype is None else value.to(self.dtype)
        arr = self._canonical(value, name)
        return torch.as_tensor(arr, dtype=self.dtype or torch.float64)


class Density(Array):
    """A density on a grid: a finite, non-negative real array (``check_density``)."""

    def __init__(self, **kwargs):
        super().__init__(low=0.0, **kwargs)
        self.expected = "a finite, non-negative real array (a density on a grid)"


class Function(Constraint):
    """A callable (``none=True``: or None)."""

    def __init__(self, signature: str = "", none: bool = False):
        self.none = none
        self.expected = (
            "callable" + (f" {signature}" if signature else "") + (" or None" if none else "")
        )

    def check(self, value, name):
        if value is None and self.none:
            return None
        if not callable(value):
            self.fail(value, name)
        return value

    def bad_values(self):
        return [3, "loss"] + ([] if self.none else [None])


class Instance(Constraint):
    """An instance of ``cls`` (a class or a tuple of classes)."""

    def __init__(self, cls, none: bool = False):
        self.cls, self.none = cls, none
        names = cls.__name__ if isinstance(cls, type) else " or ".join(c.__name__ for c in cls)
        self.expected = f"a {names}" + (" or None" if none else "")

    def check(self, value, name):
        if value is None and self.none:
            return None
        if not isinstance(value, self.cls):
            self.fail(value, name, f" (a {type(value).__name__})")
        return value

    def bad_values(self):
        return [3, "model"] + ([] if self.none else [None])


class Generator(Constraint):
    """A ``torch.Generator`` (``none=True``: or None, torch's global generator)."""

    def __init__(self, none: bool = True):
        self.none = none
        self.expected = "a torch.Generator" + (" or None" if none else "")

    def check(self, value, name):
        if value is None and self.none:
            return None
        if not isinstance(value, torch.Generator):
            self.fail(value, name, " (make one with torch.Generator().manual_seed(seed))")
        return value

    def bad_values(self):
        return [0, "seed", np.random.default_rng(0)]


class Device(Constraint):
    """A device torch can use here (None: leave the model where it is)."""

    expected = "None or a torch device available on this machine ('cpu', 'cuda', ...)"

    def check(self, value, name):
        if value is None:
            return None
        try:
            device = torch.device(value)
        except (TypeError, RuntimeError, ValueError):
            self.fail(value, name)
        if device.type == "cuda" and not torch.cuda.is_available():
            self.fail(value, name, " (no CUDA device is available)")
        if device.type not in ("cpu", "cuda", "mps", "xpu"):
            self.fail(value, name)
        if device.type == "mps" and not torch.backends.mps.is_available():
            self.fail(value, name, " (MPS is not available)")
        return device

    def bad_values(self):
        return ["gpu", 3.5, "meta"] + ([] if torch.cuda.is_available() else ["cuda"])


class Dtype(Constraint):
    """A floating torch.dtype (torch.float32, torch.float64, ...)."""

    expected = "a floating torch.dtype (torch.float32 or torch.float64)"

    def check(self, value, name):
        if not isinstance(value, torch.dtype) or not value.is_floating_point:
            self.fail(value, name)
        return value

    def bad_values(self):
        return ["float32", torch.int64, np.float64]


class Optional(Constraint):
    """None, or what ``inner`` accepts."""

    def __init__(self, inner: Constraint):
        self.inner = inner
        self.expected = f"None or {inner.expected}"

    def check(self, value, name):
        return None if value is None else self.inner.check(value, name)

    def bad_values(self):
        return [v for v in self.inner.bad_values() if v is not None]


class Sizes(Constraint):
    """A sequence (list, tuple, range, 1-D array or tensor) of at least ``min_len`` integers
    >= ``minimum``, e.g. layer widths [d, h_1, ..., p]; returned as a list of ints. A string
    is not a sequence of sizes here, and every entry is an ``Integer`` (3.0 yes, 2.5 and True
    no)."""

    def __init__(self, min_len: int = 1, minimum: int = 1):
        self.min_len, self.minimum = min_len, minimum
        self.expected = f"a sequence of at least {min_len} integers >= {minimum}"

    def check(self, value, name):
        if isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 1:
            value = value.tolist()
        if not isinstance(value, (list, tuple, range)) or len(value) < self.min_len:
            self.fail(value, name)
        entry = Integer(minimum=self.minimum)
        try:
            return [entry.check(v, name) for v in value]
        except ValueError:
            pass
        self.fail(value, name)

    def bad_values(self):
        n = max(self.min_len, 2)
        ok = [self.minimum + 1] * (n - 1)
        bad = ["84", 8, None, ok + [self.minimum - 1], ok + [2.5], ok + [True], ok + ["4"]]
        if self.min_len > 0:
            bad.append([self.minimum + 1] * (self.min_len - 1))
        return bad


class RngSeed(Seed):
    """A seed of ``np.random.default_rng``: an integer >= 0, or a non-empty sequence of them
    (``[34, s]`` gives an independent stream for each s); returned as an int or a tuple."""

    expected = "an integer >= 0 or a non-empty sequence of integers >= 0"

    def __init__(self):
        super().__init__()
        self.expected = RngSeed.expected

    def check(self, value, name):
        if not isinstance(value, (list, tuple)) and np.ndim(value) == 0:
            return super().check(value, name)
        try:
            return tuple(Sizes(min_len=1, minimum=0).check(value, name))
        except ValueError:
            pass
        self.fail(value, name)

    def bad_values(self):
        return super().bad_values() + [[], [1, -1], [2.5], [True]]


class Probabilities(Array):
    """A probability vector: a finite 1-D array of entries >= 0 that sum to 1 within ``atol``."""

    def __init__(self, atol: float = 1e-8):
        super().__init__(ndim=1, low=0.0)
        self.atol = atol
        self.expected = "a 1-D array of probabilities (entries >= 0 that sum to 1)"

    def check(self, value, name):
        p = super().check(value, name)
        total = float(p.sum())
        if abs(total - 1.0) > self.atol:
            raise ValueError(f"{name} must sum to 1 (within {self.atol:g}); got sum {total!r}")
        return p

    def bad_values(self):
        return super().bad_values() + [[0.5, 0.6], [1.5, -0.5]]


class Text(Constraint):
    """A non-empty string (a name or a label); bytes and other objects are refused."""

    expected = "a non-empty string"

    def check(self, value, name):
        if not isinstance(value, str) or not value:
            self.fail(value, name)
        return value

    def bad_values(self):
        return ["", 3, None, b"name"]


class Betas(Constraint):
    """Adam's betas: a pair (list, tuple, 1-D array) of real numbers in [0, 1); returned as a
    tuple of two floats."""

    expected = "a pair of real numbers in [0, 1), e.g. (0.9, 0.999)"

    def check(self, value, name):
        if isinstance(value, np.ndarray) and value.ndim == 1:
            value = value.tolist()
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            self.fail(value, name)
        entry = Real(low=0, high=1, high_open=True)
        try:
            return tuple(entry.check(v, name) for v in value)
        except ValueError:
            pass
        self.fail(value, name)

    def bad_values(self):
        return ["ab", 0.9, None, (0.9,), (0.9, 0.99, 0.999), (0.5, 1.0), (-0.1, 0.9), (0.5, "0.9")]


def validate(**constraints: Constraint) -> Callable:
    """Decorator: check and canonicalise the named arguments of every call (see the module
    docstring). The constraints are kept as ``fn.__validation__`` for the policy tests."""

    def decorate(fn):
        signature = inspect.signature(fn)
        unknown = set(constraints) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{fn.__qualname__} has no parameters {sorted(unknown)}")

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            for name, constraint in constraints.items():
                if name in bound.arguments:
                    bound.arguments[name] = constraint.check(bound.arguments[name], name)
            return fn(*bound.args, **bound.kwargs)

        checked.__validation__ = constraints
        return checked

    return decorate


# Function forms, for values checked inside a body (e.g. one that depends on another argument).
def check_positive(value, name):
    """``value`` as a float, or ValueError unless it is a finite real number > 0."""
    return Real(low=0, low_open=True).check(value, name)


def check_int(value, name, minimum):
    """``value`` as an int, or ValueError unless it is an integer >= minimum."""
    return Integer(minimum=minimum).check(value, name)


def check_density(p, name, like=None):
    """``p`` as a float64 array of finite, non-negative values (a density on a grid), or
    ValueError. ``like``: (name, shape) of the array whose shape ``p`` must have."""
    arr = Density().check(p, name)
    if like is not None and arr.shape != like[1]:
        raise ValueError(f"{name} must have the shape of {like[0]} {like[1]}; got {arr.shape}")
    return arr
