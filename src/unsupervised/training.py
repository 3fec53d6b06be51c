"""The one training loop of the library: every trained model of the book goes through ``fit``.

    for each epoch (or step):
        draw a batch of rows of the data
        for each update (one, or the discriminator's and then the generator's):
            loss = update.loss_fn(model, batch, generator)
            zero the gradients, loss.backward(), one Adam step on update.module
        record the losses; call ``callback``

A loss function has the signature ``loss_fn(model, batch, generator)``: ``batch`` is a tensor
of rows of the data, ``generator`` the run's ``torch.Generator`` for any random draw the loss
makes (a denoising mask, the VAE's eps, the GAN's z), so a run is a function of ``seed``. It
returns a scalar tensor to minimise, or a dict with the scalar ``"loss"`` and other scalars to
record (e.g. the ELBO's two terms).

Randomness: the batches come from a CPU generator seeded with ``seed``; the generator handed
to the losses lives on the model's device and is seeded with ``seed + 1``. Nothing touches
torch's global random state.

The history is a dict of float64 NumPy arrays, one entry per epoch (``epochs=``) or per step
(``steps=``): ``"epoch"`` or ``"step"`` (1, 2, ...), one array per update (its name, "loss" by
default) and per recorded term, and ``"seconds"`` (cumulative wall-clock time). An epoch's
entry is the batch-size-weighted mean over its batches; a step's entry is the value of its
last update. What ``callback`` returns (a dict, or None) is recorded under its keys.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ._validation import (
    Betas,
    Choice,
    Device,
    Flag,
    Function,
    Instance,
    Integer,
    Optional,
    Real,
    Seed,
    Tensor,
    Text,
    validate,
)

__all__ = ["Update", "fit"]


@dataclasses.dataclass(frozen=True)
class Update:
    """One optimiser step inside a training step: minimise ``loss_fn`` over the parameters of
    ``module`` with Adam at learning rate ``lr`` (None: ``fit``'s lr). Its loss is recorded
    under ``name``. Updates of the same module share one optimiser."""

    name: str
    loss_fn: Callable
    module: nn.Module
    lr: float | None = None

    def __post_init__(self):
        Text().check(self.name, "name")
        Function("loss_fn(model, batch, generator)").check(self.loss_fn, "loss_fn")
        Instance(nn.Module).check(self.module, "module")
        object.__setattr__(self, "lr", Optional(Real(low=0, open=True)).check(self.lr, "lr"))


def _takes(fn: Callable, n: int, name: str, signature: str) -> None:
    """ValueError naming ``name`` unless ``fn`` can be called with n positional arguments."""
    try:
        inspect.signature(fn).bind(*[None] * n)
    except TypeError:
        raise ValueError(f"{name} must be callable as {signature}; got {fn!r:.60}") from None
    except ValueError:  # a builtin without a signature: nothing to check
        pass


def _rows(data: torch.Tensor, batch_size: int, sampling: str, generator: torch.Generator):
    """The batches of one epoch (``sampling="epoch"``: a reshuffled partition of the rows; the
    rows in order when one batch holds them all) or one batch drawn with replacement."""
    n = data.shape[0]
    if sampling == "replacement":
        return [data[torch.randint(n, (batch_size,), generator=generator).to(data.device)]]
    if batch_size >= n:
        return [data]
    order = torch.randperm(n, generator=generator).to(data.device)
    return [data[order[i : i + batch_size]] for i in range(0, n, batch_size)]


@validate(
    model=Instance(nn.Module),
    data=Tensor(ndim=(2, 3, 4)),
    epochs=Optional(Integer(minimum=1)),
    steps=Optional(Integer(minimum=1)),
    batch_size=Optional(Integer(minimum=1)),
    lr=Real(low=0, open=True),
    betas=Betas(),
    schedule=Choice(("constant", "anneal")),
    seed=Seed(),
    device=Device(),
    progress=Flag(),
    callback=Function("callback(t, model) -> dict or None", none=True),
    callback_every=Integer(minimum=1),
    desc=Text(),
)
def fit(
    model: nn.Module,
    data: np.ndarray | torch.Tensor,
    loss_fn: Callable | Sequence[Update],
    *,
    epochs: int | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    schedule: str = "constant",
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = False,
    callback: Callable | None = None,
    callback_every: int = 1,
    desc: str = "training",
) -> dict[str, np.ndarray]:
    """Train ``model`` in place with Adam; return the history (module docstring).

    Parameters
    ----------
    model : nn.Module; moved to ``device`` first when one is given
    data : array or tensor of shape (N, ...), converted once to the model's dtype and device
    loss_fn : ``loss_fn(model, batch, generator)``, minimised over all of ``model``'s
        parameters, or a sequence of ``Update`` (a GAN: the discriminator's, then the
        generator's)
    epochs : number of passes over the data in reshuffled batches of ``batch_size``
        (None: full batch), or
    steps : number of steps, each with one batch of ``batch_size`` rows drawn with
        replacement (exactly one of ``epochs`` and ``steps``)
    lr, betas : Adam's learning rate and betas
    schedule : "constant", or "anneal": ``lr`` for the first 70 % of the epochs/steps, then a
        linear decay to 0 (lets Adam settle where a result is compared with a closed form)
    seed : seed of the batches (CPU generator) and of the losses' generator (``seed + 1``)
    progress : show a tqdm progress bar with the current losses
    callback : ``callback(t, model)`` after every ``callback_every``-th epoch/step t
        (1, 2, ...) and after the last; what it returns (a dict of numbers or arrays) is
        recorded in the history (under its keys, and the t's under ``"<key>_at"``)
    desc : the progress bar's label

    Returns
    -------
    dict of float64 arrays (module docstring); raises FloatingPointError when a loss stops
    being finite (with the epoch/step and a hint to lower lr)
    """
    if (epochs is None) == (steps is None):
        raise ValueError("give exactly one of epochs and steps")
    expected = "loss_fn must be callable loss_fn(model, batch, generator) or a sequence of Update"
    try:
        updates = [Update("loss", loss_fn, model)] if callable(loss_fn) else list(loss_fn)
    except TypeError:  # neither callable nor iterable
        raise ValueError(f"{expected}; got {loss_fn!r:.60}") from None
    if not updates or not all(isinstance(u, Update) for u in updates):
        raise ValueError(expected)
    for u in updates:
        _takes(u.loss_fn, 3, "loss_fn", "loss_fn(model, batch, generator)")
    if callback is not None:
        _takes(callback, 2, "callback", "callback(t, model)")
    if device is not None:
        model.to(device)
    param = next(model.parameters(), None)
    if param is None:
        raise ValueError(f"model must have parameters to train; {type(model).__name__} has none")
    data = data.detach().to(device=param.device, dtype=param.dtype)
    if not bool(torch.isfinite(data).all()):  # finite in float64, not in the model's dtype
        raise ValueError(f"data must be finite in the model's dtype {param.dtype}")
    n_units, unit = (epochs, "epoch") if epochs is not None else (steps, "step")
    sampling = "epoch" if epochs is not None else "replacement"
    if batch_size is None:
        batch_size = data.shape[0]
    elif sampling == "epoch":  # a batch of an epoch holds at most all rows
        batch_size = min(batch_size, data.shape[0])
    for rate, name in [(lr, "lr")] + [(u.lr, f"the lr of update {u.name!r}") for u in updates]:
        if rate is not None and rate >= torch.finfo(param.dtype).max:
            raise ValueError(f"{name} must be representable in the model's dtype {param.dtype}")
    batches = torch.Generator().manual_seed(seed)
    generator = torch.Generator(device=param.device).manual_seed(seed + 1)
    optimisers = {}
    for u in updates:
        if id(u.module) not in optimisers:
            optimisers[id(u.module)] = torch.optim.Adam(
                u.module.parameters(), lr=u.lr or lr, betas=betas
            )
    records: dict[str, list] = {}
    bar = range(1, n_units + 1)
    if progress:  # imported only when asked for: tqdm.auto warns in notebooks without widgets
        from tqdm.auto import tqdm

        bar = tqdm(bar, desc=desc, unit=unit)
    start = time.perf_counter()
    for t in bar:
        if schedule == "anneal":
            scale = min(1.0, (n_units - t + 1) / (0.3 * n_units))
            for u in updates:
                for group in optimisers[id(u.module)].param_groups:
                    group["lr"] = (u.lr or lr) * scale
        sums: dict[str, torch.Tensor] = {}
        for batch in _rows(data, batch_size, sampling, batches):
            weight = batch.shape[0] / data.shape[0] if sampling == "epoch" else 1.0
            for u in updates:
                out = u.loss_fn(model, batch, generator)
                terms = dict(out) if isinstance(out, dict) else {"loss": out}
                loss = terms.pop("loss", None)
                if not (isinstance(loss, torch.Tensor) and loss.ndim == 0):
                    raise ValueError(
                        f"loss_fn ({u.name}) must return a scalar tensor or a dict with one "
                        f"under 'loss'; got {type(loss).__name__} "
                        f"{tuple(loss.shape) if isinstance(loss, torch.Tensor) else ''}"
                    )
                optimisers[id(u.module)].zero_grad(set_to_none=True)
                loss.backward()
                optimisers[id(u.module)].step()
                for key, value in ((u.name, loss), *terms.items()):
                    value = value.detach().double() * weight
                    sums[key] = value if sampling == "replacement" else sums.get(key, 0) + value
        values = {key: float(v) for key, v in sums.items()}  # one synchronisation per unit
        for key, v in values.items():
            if not math.isfinite(v):
                raise FloatingPointError(f"{key} became {v} in {unit} {t}; lower lr (now {lr})")
            records.setdefault(key, []).append(v)
        records.setdefault(unit, []).append(t)
        records.setdefault("seconds", []).append(time.perf_counter() - start)
        if progress:
            bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()})
        if callback is not None and (t % callback_every == 0 or t == n_units):
            recorded = callback(t, model)
            if recorded is not None and not isinstance(recorded, dict):
                raise ValueError(
                    f"callback must return None or a dict of values to record; "
                    f"got {type(recorded).__name__}"
                )
            for key, value in (recorded or {}).items():
                records.setdefault(key, []).append(value)
                records.setdefault(f"{key}_at", []).append(t)
    return {key: np.asarray(v, dtype=np.float64) for key, v in records.items()}
