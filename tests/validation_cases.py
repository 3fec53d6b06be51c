"""One valid call of every public callable of the library: the table the validation-policy
tests (tests/test_validation_policy.py) are generated from.

``case(fn, *args, **kwargs)`` records a call that must succeed (and return only finite
numbers). The policy tests then replace one argument at a time by each bad value of the
constraint ``fn`` declares for it (``@validate`` in src/unsupervised/_validation.py) and
expect a ValueError whose message names the argument. A class is recorded by its
constructor call, a method as a bound method of a small instance built here. Keep every
call small: the table is imported by every test worker.
"""

from __future__ import annotations

import numpy as np
import torch

CASES: dict[str, tuple] = {}


def case(fn, *args, **kwargs):
    """Record ``fn(*args, **kwargs)`` as the valid call of ``fn`` (one per callable)."""
    target = getattr(fn, "__func__", fn)
    name = f"{target.__module__}.{target.__qualname__}"
    assert name not in CASES, f"two cases for {name}"
    CASES[name] = (fn, args, kwargs)


rng = np.random.default_rng(0)
X4 = rng.uniform(size=(6, 4))  # six samples in R^4, in [0, 1]
X2 = rng.normal(size=(8, 2))  # eight samples in R^2

# ----------------------------------------------------------------------------- training
from unsupervised import training  # noqa: E402

case(
    training.fit,
    torch.nn.Linear(2, 2),
    X2,
    lambda model, batch, generator: ((model(batch) - batch) ** 2).mean(),
    epochs=2,
    batch_size=4,
)
case(training.Update, "loss", lambda model, batch, generator: batch.sum(), torch.nn.Linear(2, 2))

# ----------------------------------------------------------------------------- sparse_coding
# (filled by the sparse_coding module's maintainer)

# ----------------------------------------------------------------------------- autoencoders
# (filled by the autoencoders module's maintainer)

# ----------------------------------------------------------------------------- density
# (filled by the density module's maintainer)

# ----------------------------------------------------------------------------- divergences
# (filled by the divergences module's maintainer)

# ----------------------------------------------------------------------------- datasets
# (filled by the datasets module's maintainer)

# ----------------------------------------------------------------------------- plotting
# (filled by the plotting module's maintainer)

# ----------------------------------------------------------------------------- vae
# (filled by the vae module's maintainer)

# ----------------------------------------------------------------------------- gan
# (filled by the gan module's maintainer)

# ----------------------------------------------------------------------------- exercises
# (filled by each module's maintainer: the checkers of unsupervised.exercises never raise,
# so they are not in this table; tests/test_exercises.py tries bad answers on them)
