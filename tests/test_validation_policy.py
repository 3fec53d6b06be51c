"""The validation policy (src/unsupervised/_validation.py, CONTRIBUTING.md), generated from
one table: every public callable x each of its declared arguments x every bad value the
argument's constraint lists. The valid calls are in tests/validation_cases.py."""

from __future__ import annotations

import importlib
import inspect
import math

import numpy as np
import pytest
import torch

from validation_cases import CASES

MODULES = [
    "training",
    "sparse_coding",
    "autoencoders",
    "density",
    "divergences",
    "datasets",
    "plotting",
    "vae",
    "gan",
    "experiments.sparse_coding",
    "experiments.autoencoders",
    "experiments.density",
    "experiments.vae",
    "experiments.gan",
]

# Arguments a constraint cannot describe, with the reason (module.qualname -> {arg: why}).
UNDECLARED = {
    "unsupervised.training.Update": {
        "name": "a dataclass: __post_init__ checks it",
        "loss_fn": "a dataclass: __post_init__ checks it",
        "module": "a dataclass: __post_init__ checks it",
        "lr": "a dataclass: __post_init__ checks it",
    },
    "unsupervised.training.fit": {
        "loss_fn": "a callable or a sequence of Update, checked in the body",
    },
}


def _public_callables():
    """(qualified name, function) of every public function, constructor and public method."""
    for mod_name in MODULES:
        module = importlib.import_module(f"unsupervised.{mod_name}")
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                if "__init__" in vars(obj):
                    yield f"{obj.__module__}.{obj.__qualname__}", obj.__init__
                for attr, member in vars(obj).items():
                    if isinstance(member, (classmethod, staticmethod)):
                        member = member.__func__
                    if not attr.startswith("_") and inspect.isfunction(member):
                        yield f"{obj.__module__}.{member.__qualname__}", member
            elif inspect.isfunction(obj):
                yield f"{obj.__module__}.{obj.__qualname__}", obj


def _constructor_name(name):
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


PUBLIC = dict(_public_callables())


def _bad_calls():
    for name, (fn, _, _) in sorted(CASES.items()):
        target = fn.__init__ if inspect.isclass(fn) else getattr(fn, "__func__", fn)
        for arg, constraint in getattr(target, "__validation__", {}).items():
            for i, bad in enumerate(constraint.bad_values()):
                yield pytest.param(name, arg, bad, id=f"{name.split('.', 1)[1]}-{arg}-{i}")


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_every_public_callable_declares_its_arguments(name):
    """Every parameter of every public callable is declared with @validate (or listed in
    UNDECLARED with a reason), and the table holds a valid call of it."""
    fn = PUBLIC[name]
    declared = getattr(fn, "__validation__", None)
    params = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    exempt = UNDECLARED.get(_constructor_name(name), {})
    if any(p.name not in exempt for p in params):
        assert declared is not None, f"{name} is not decorated with @validate"
    missing = [p.name for p in params if p.name not in (declared or {}) and p.name not in exempt]
    assert not missing, f"{name}: undeclared arguments {missing}"
    assert _constructor_name(name) in CASES, f"{name}: no valid call in validation_cases.py"


@pytest.mark.parametrize("name", sorted(CASES))
def test_valid_call_works_and_is_finite(name):
    """The table's valid call returns, and every number it returns is finite."""
    fn, args, kwargs = CASES[name]
    _assert_finite(fn(*args, **kwargs), name)


def _assert_finite(value, where):
    if isinstance(value, torch.Tensor):
        if value.is_floating_point():
            assert bool(torch.isfinite(value).all()), f"{where}: non-finite output"
    elif isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            assert np.all(np.isfinite(value)), f"{where}: non-finite output"
    elif isinstance(value, float):
        assert math.isfinite(value), f"{where}: non-finite output"
    elif isinstance(value, (tuple, list)):
        for v in value:
            _assert_finite(v, where)
    elif isinstance(value, dict):
        for v in value.values():
            _assert_finite(v, where)


@pytest.mark.parametrize(("name", "arg", "bad"), list(_bad_calls()))
def test_bad_value_is_refused_naming_the_argument(name, arg, bad):
    """Each bad value of each declared argument gives a ValueError that names the argument."""
    fn, args, kwargs = CASES[name]
    target = fn.__init__ if inspect.isclass(fn) else fn
    signature = inspect.signature(target)
    if inspect.isclass(fn):
        bound = signature.bind(None, *args, **kwargs)
        bound.arguments.pop(next(iter(signature.parameters)))
    else:
        bound = signature.bind(*args, **kwargs)
    bound.arguments[arg] = bad
    with pytest.raises(ValueError, match=rf"\b{arg}\b"):
        fn(*bound.args, **bound.kwargs)
