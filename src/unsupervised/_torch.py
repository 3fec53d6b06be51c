"""The library's one convention for torch modules.

- Every network is an ``nn.Module`` that also inherits ``TorchModule``: ``model.device`` and
  ``model.dtype`` are where its parameters live and what they are.
- Initial weights are drawn inside ``seeded_init(seed)`` with PyTorch's own initialisers
  (``nn.Linear``'s default, or a model's documented one such as DCGAN's N(0, 0.02)). The
  layers are built in float64 and cast afterwards, so a float32 and a float64 model with the
  same seed start from the same values (up to float32 rounding); torch's global random state
  is left as it was. The default seed is 0 everywhere: two models built the same way are equal.
- Models that generate data have ``sample(n, generator=None)``: n draws, a tensor whose first
  dimension is n, on the model's device, with every random number taken from ``generator``
  (a ``torch.Generator`` on that device; None: torch's global generator).
- ``generator`` always means a ``torch.Generator``; a GAN's generator network is ``G``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from ._validation import Integer


class TorchModule:
    """Mixin for the library's ``nn.Module`` subclasses: ``device`` and ``dtype`` of the
    parameters (the first parameter's; a module keeps all of them on one device and dtype)."""

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype


@contextlib.contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Build modules inside this block to draw their initial weights from ``seed``; layers are
    created in float64 (cast them afterwards with ``.to(dtype)``). torch's global random
    state and default dtype are restored on exit."""
    seed = Integer(minimum=0).check(seed, "seed")
    previous = torch.get_default_dtype()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_default_dtype(torch.float64)
        try:
            yield
        finally:
            torch.set_default_dtype(previous)


def standard_normal(
    n: int, k: int, model: TorchModule, generator: torch.Generator | None = None
) -> torch.Tensor:
    """n draws of z ~ N(0, I_k), shape (n, k), on ``model``'s device and dtype, drawn from
    ``generator`` (on that device) or torch's global generator."""
    return torch.randn(n, k, generator=generator, device=model.device, dtype=model.dtype)
