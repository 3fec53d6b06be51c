"""Argument checks shared by the library's modules.

Each returns the value in canonical form or raises a ValueError whose message starts with
the argument's name, so a caller sees which argument was wrong and what was expected.
"""

from __future__ import annotations

import math

import numpy as np


def check_positive(value, name):
    """Return ``value`` as a float, or raise ValueError unless it is finite and > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a positive finite number; got {value!r}") from err
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    return v


def check_int(value, name, minimum):
    """Return ``value`` as an int, or raise ValueError unless it is an integer >= minimum.

    Integer-valued floats (3.0) are accepted; bools and strings are not.
    """
    try:
        ok = (not isinstance(value, (bool, str)) and float(value).is_integer()
              and value >= minimum)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def check_density(p, name, like=None):
    """``p`` as a float64 array of finite, non-negative values (a density on a grid), or
    ValueError. ``like``: the array (named) whose shape ``p`` must have, as (name, shape)."""
    try:
        arr = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric array; got {p!r:.80}") from err
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative (a density on a grid)")
    if like is not None and arr.shape != like[1]:
        raise ValueError(f"{name} must have the shape of {like[0]} {like[1]}; got {arr.shape}")
    return arr
