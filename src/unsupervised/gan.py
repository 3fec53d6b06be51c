"""Generative adversarial networks: the objectives on densities and on networks, the
optimal discriminator, training, mode-collapse metrics and DCGAN.

Formula IDs (see the book's formula index):

- GA1  p(y = 1 | x) = D(x, phi)                  ``Discriminator`` returns the LOGIT of D
- GA2  max_phi E_pr[log D(x)] + E_z[log(1 - D(G(z)))]       ``discriminator_loss``
- GA3  the generator's two objectives (minimax vs non-saturating)  ``generator_loss``
- GA4  V(D, G) = E_pr[log D] + E_ptheta[log(1 - D)]           ``value_function``
- GA5  D*(x) = p_r(x) / (p_r(x) + p_theta(x))                 ``optimal_discriminator``
- GA11 DCGAN: strided convolutions in D, fractionally strided ones in G, batch norm, no
       fully connected layers, ReLU/tanh in G, LeakyReLU in D    ``DCGANGenerator``,
       ``DCGANDiscriminator``

Conventions
-----------
- Discriminators return logits a (any real number); D = sigmoid(a). Every loss takes logits
  and is computed with ``softplus`` (log sigmoid(a) = -softplus(-a),
  log(1 - sigmoid(a)) = -softplus(a)), so nothing overflows when D is 0 or 1 in float.
- Losses are batch means and are to be MINIMISED: the discriminator minimises the
  cross-entropy -(E[log D(x)] + E[log(1 - D(G(z)))]); the minimax generator minimises
  E[log(1 - D(G(z)))] (a negative number); the non-saturating one minimises -E[log D(G(z))].
- Densities on a grid are NumPy arrays of equal shape with cell volume ``dx``; expectations
  are Riemann sums sum(p * f) * dx with the convention 0 * log 0 = 0.
- Samples have one row each: (N, d) for points, (N, C, H, W) for images.
- The networks follow the library's torch convention (``unsupervised._torch``): initial
  weights drawn in ``seeded_init(seed)`` (default seed 0), ``device``/``dtype`` properties,
  and for the generators ``sample(n, generator=None)``. A GAN's generator network is ``G``
  and its discriminator ``D``; ``generator`` always means a ``torch.Generator``.
- Arguments are checked where they enter (``unsupervised._validation``); ``forward`` accepts
  arrays and tensors of any real dtype (cast to the network's), and the training loop calls
  the unchecked ``_forward`` of each network.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import nn

from ._torch import TorchModule, seeded_init, standard_normal
from ._validation import (
    Array,
    Betas,
    Choice,
    Density,
    Device,
    Dtype,
    Flag,
    Instance,
    Integer,
    Optional,
    Real,
    Seed,
    Sizes,
    Tensor,
    validate,
)
from ._validation import Generator as TorchGenerator
from .training import Update, fit

__all__ = [
    "Generator",
    "Discriminator",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "discriminator_loss",
    "generator_loss",
    "optimal_discriminator",
    "value_function",
    "train_gan",
    "mode_coverage",
]

_GENERATOR_LOSSES = ("minimax", "non_saturating")


def _cast(x: torch.Tensor, module: TorchModule) -> torch.Tensor:
    """``x`` on ``module``'s device, in its dtype (a float64 tensor into a float32 network)."""
    return x.to(device=module.device, dtype=module.dtype)


def _finite(out: torch.Tensor, name: str) -> torch.Tensor:
    """``out`` of a public forward or loss, or ValueError naming the input when finite input
    gave a non-finite result (e.g. 1e300 cast to float32, or logits near the float limit)."""
    if not bool(torch.isfinite(out).all()):
        raise ValueError(
            f"{name} gave a non-finite result: entries too large for the dtype "
            f"{out.dtype} (or weights that are not finite)"
        )
    return out


def _shape_error(name: str, expected: str, x: torch.Tensor) -> ValueError:
    return ValueError(f"{name} must have shape {expected}; got {tuple(x.shape)}")


class _LatentSampler:
    """``sample`` of the two generator networks (they share this one implementation)."""

    @validate(n=Integer(minimum=1), generator=TorchGenerator())
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """G(z) for n draws z ~ N(0, I_k) taken from ``generator`` (a torch.Generator on the
        network's device; None: torch's global generator). Shape (n, d) or (n, C, S, S), on
        the network's device; differentiable in the weights."""
        if generator is not None and generator.device.type != self.device.type:
            raise ValueError(
                f"generator must be on the network's device {self.device}; "
                f"got one on {generator.device}"
            )
        return self._forward(standard_normal(n, self.latent_dim, self, generator))


# --------------------------------------------------------------------------- MLPs (GA1)
def _mlp(sizes: Sequence[int], activation: Callable[[], nn.Module]) -> nn.Sequential:
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Generator(_LatentSampler, TorchModule, nn.Module):
    """The generator G(z, theta): an MLP from the latent space Z = R^k to the data space R^d.

    Hidden layers use ReLU; the output layer is linear (data in R^d are unbounded). Weights
    are PyTorch's default initialisation of ``nn.Linear``, drawn from ``seed``.

    Parameters
    ----------
    latent_dim : k, dimension of z ~ N(0, I)
    data_dim : d, dimension of a sample x = G(z)
    hidden : widths of the hidden layers (may be empty: a linear generator)
    seed : seed of the initial weights
    dtype : floating dtype of the parameters

    ``forward(z)`` maps z of shape (N, k) to x of shape (N, d); ``sample(n, generator)``
    draws z ~ N(0, I) and returns G(z).
    """

    @validate(
        latent_dim=Integer(minimum=1),
        data_dim=Integer(minimum=1),
        hidden=Sizes(min_len=0),
        seed=Seed(),
        dtype=Dtype(),
    )
    def __init__(
        self,
        latent_dim: int = 2,
        data_dim: int = 2,
        hidden: Sequence[int] = (128, 128),
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.latent_dim, self.data_dim = latent_dim, data_dim
        with seeded_init(seed):
            self.net = _mlp((latent_dim, *hidden, data_dim), nn.ReLU)
        self.to(dtype)

    @validate(z=Tensor(ndim=2))
    def forward(self, z: torch.Tensor | npt.ArrayLike) -> torch.Tensor:
        """x = G(z): z of shape (N, k) -> x of shape (N, d)."""
        if z.shape[1] != self.latent_dim:
            raise _shape_error("z", f"(N, {self.latent_dim})", z)
        return _finite(self._forward(_cast(z, self)), "z")

    def _forward(self, z):
        return self.net(z)


class Discriminator(TorchModule, nn.Module):
    """The discriminator D(x, phi) as an MLP that returns the logit a(x): D = sigmoid(a) (GA1).

    With ``packing = m > 1`` it is PacGAN's packed discriminator (Lin et al. 2018): it judges m
    samples of the same source at once. ``forward`` then takes N samples (N divisible by m),
    concatenates consecutive groups of m into vectors of length m * d and returns N / m logits.

    Parameters
    ----------
    data_dim : d
    hidden : widths of the hidden layers (LeakyReLU with slope ``negative_slope`` >= 0)
    packing : m >= 1, samples per decision
    seed : seed of the initial weights (PyTorch's default ``nn.Linear`` initialisation)
    dtype : floating dtype of the parameters
    """

    @validate(
        data_dim=Integer(minimum=1),
        hidden=Sizes(min_len=0),
        packing=Integer(minimum=1),
        negative_slope=Real(low=0),
        seed=Seed(),
        dtype=Dtype(),
    )
    def __init__(
        self,
        data_dim: int = 2,
        hidden: Sequence[int] = (128, 128),
        packing: int = 1,
        negative_slope: float = 0.2,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.data_dim, self.packing = data_dim, packing
        with seeded_init(seed):
            self.net = _mlp((data_dim * packing, *hidden, 1), lambda: nn.LeakyReLU(negative_slope))
        self.to(dtype)

    @validate(x=Tensor(ndim=2))
    def forward(self, x: torch.Tensor | npt.ArrayLike) -> torch.Tensor:
        """Logits of shape (N / m,) for x of shape (N, d)."""
        if x.shape[1] != self.data_dim:
            raise _shape_error("x", f"(N, {self.data_dim})", x)
        if x.shape[0] % self.packing:
            raise ValueError(
                f"x must hold a number of samples divisible by packing = {self.packing}; "
                f"got {x.shape[0]}"
            )
        return _finite(self._forward(_cast(x, self)), "x")

    def _forward(self, x):
        return self.net(x.reshape(-1, self.data_dim * self.packing)).squeeze(-1)


# --------------------------------------------------------------------------- DCGAN (GA11)
def _check_power_of_2(image_size: int) -> None:
    if image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of 2 (8, 16, 32, 64, ...); got {image_size}")


def _dcgan_init_(module: nn.Module) -> None:
    """DCGAN's initialisation: conv weights ~ N(0, 0.02); batch-norm scales ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(_LatentSampler, TorchModule, nn.Module):
    """The DCGAN generator (Radford et al. 2016) (GA11): z -> image of shape (C, S, S).

    A transposed convolution with kernel 4 and stride 1 turns z (a 1x1 "image" with k
    channels) into a 4x4 map with ``width * S / 8`` channels (the projection of the paper);
    each following transposed convolution (kernel 4, stride 2, padding 1; "fractionally
    strided") doubles the side and halves the channels, until the last one produces C channels
    at S x S. Batch norm and ReLU after every layer except the output, which uses tanh (pixels
    in [-1, 1]). No pooling, no fully connected layers.

    With the defaults (k = 100, S = 64, C = 3, width = 128) the maps are
    4x4x1024 -> 8x8x512 -> 16x16x256 -> 32x32x128 -> 64x64x3, as in the paper's Figure 1.

    Parameters
    ----------
    latent_dim : k
    image_size : S, a power of 2 >= 8
    channels : C
    width : channels of the last hidden map (the widest map has width * S / 8 channels)
    seed : seed of the initial weights (DCGAN's N(0, 0.02), drawn in ``seeded_init``)
    dtype : floating dtype of the parameters

    ``forward(z)`` takes z of shape (N, k) (or (N, k, 1, 1)) and returns (N, C, S, S).
    """

    @validate(
        latent_dim=Integer(minimum=1),
        image_size=Integer(minimum=8),
        channels=Integer(minimum=1),
        width=Integer(minimum=1),
        seed=Seed(),
        dtype=Dtype(),
    )
    def __init__(
        self,
        latent_dim: int = 100,
        image_size: int = 64,
        channels: int = 3,
        width: int = 128,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        _check_power_of_2(image_size)
        self.latent_dim, self.image_size, self.channels = latent_dim, image_size, channels
        n_up = int(math.log2(image_size)) - 2  # stride-2 layers after the 4x4 map
        ch = width * 2 ** (n_up - 1)
        with seeded_init(seed):
            layers = [
                nn.ConvTranspose2d(latent_dim, ch, 4, 1, 0, bias=False),
                nn.BatchNorm2d(ch),
                nn.ReLU(),
            ]
            for _ in range(n_up - 1):
                layers += [
                    nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                    nn.BatchNorm2d(ch // 2),
                    nn.ReLU(),
                ]
                ch //= 2
            layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1, bias=False), nn.Tanh()]
            self.net = nn.Sequential(*layers)
            _dcgan_init_(self.net)
        self.to(dtype)

    @validate(z=Tensor(ndim=(2, 4)))
    def forward(self, z: torch.Tensor | npt.ArrayLike) -> torch.Tensor:
        """Images G(z) of shape (N, C, S, S) for z of shape (N, k) or (N, k, 1, 1)."""
        if tuple(z.shape[1:]) not in ((self.latent_dim,), (self.latent_dim, 1, 1)):
            raise _shape_error("z", f"(N, {self.latent_dim})", z)
        return _finite(self._forward(_cast(z, self)), "z")

    def _forward(self, z):
        return self.net(z.reshape(-1, self.latent_dim, 1, 1))


class DCGANDiscriminator(TorchModule, nn.Module):
    """The DCGAN discriminator (Radford et al. 2016) (GA11): image (C, S, S) -> logit.

    Convolutions with kernel 4, stride 2, padding 1 halve the side and double the channels
    (``width`` channels after the first) down to a 4x4 map; a last 4x4 convolution without
    padding gives one logit. LeakyReLU (slope ``negative_slope``, 0.2) everywhere, batch norm
    everywhere except after the input layer; no pooling, no fully connected layers. The
    sigmoid of the paper's output is left to the loss, which takes logits.

    Parameters
    ----------
    image_size : S, a power of 2 >= 8
    channels : C
    width : channels after the first convolution
    seed : seed of the initial weights (DCGAN's N(0, 0.02), drawn in ``seeded_init``)
    dtype : floating dtype of the parameters

    ``forward(x)`` takes x of shape (N, C, S, S) and returns logits of shape (N,).
    """

    @validate(
        image_size=Integer(minimum=8),
        channels=Integer(minimum=1),
        width=Integer(minimum=1),
        negative_slope=Real(low=0),
        seed=Seed(),
        dtype=Dtype(),
    )
    def __init__(
        self,
        image_size: int = 64,
        channels: int = 3,
        width: int = 128,
        negative_slope: float = 0.2,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        _check_power_of_2(image_size)
        self.image_size, self.channels = image_size, channels
        n_down = int(math.log2(image_size)) - 2
        with seeded_init(seed):
            layers = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(negative_slope)]
            ch = width
            for _ in range(n_down - 1):
                layers += [
                    nn.Conv2d(ch, 2 * ch, 4, 2, 1, bias=False),
                    nn.BatchNorm2d(2 * ch),
                    nn.LeakyReLU(negative_slope),
                ]
                ch *= 2
            layers += [nn.Conv2d(ch, 1, 4, 1, 0)]
            self.net = nn.Sequential(*layers)
            _dcgan_init_(self.net)
        self.to(dtype)

    @validate(x=Tensor(ndim=4))
    def forward(self, x: torch.Tensor | npt.ArrayLike) -> torch.Tensor:
        """Logits of shape (N,) for images x of shape (N, C, S, S)."""
        shape = (self.channels, self.image_size, self.image_size)
        if tuple(x.shape[1:]) != shape:
            raise _shape_error("x", f"(N, {', '.join(map(str, shape))})", x)
        return _finite(self._forward(_cast(x, self)), "x")

    def _forward(self, x):
        return self.net(x).reshape(-1)


# --------------------------------------------------------------------------- GA2, GA3
@validate(d_real=Tensor(), d_fake=Tensor())
def discriminator_loss(
    d_real: torch.Tensor | npt.ArrayLike, d_fake: torch.Tensor | npt.ArrayLike
) -> torch.Tensor:
    """The discriminator's loss (GA2): -( E[log D(x)] + E[log(1 - D(G(z)))] ), to minimise.

    Parameters
    ----------
    d_real : finite logits of the discriminator on real samples, any shape, e.g. (N,)
    d_fake : finite logits on generated samples, any shape, e.g. (M,)

    Returns the sum of two batch means, mean(softplus(-d_real)) + mean(softplus(d_fake)):
    the binary cross-entropy with label 1 for real and 0 for generated samples, each source
    averaged over its own batch. A 0-d tensor (differentiable in tensor inputs).
    """
    return _finite(_discriminator_loss(d_real, d_fake), "d_real and d_fake")


def _discriminator_loss(d_real, d_fake):
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


@validate(d_fake=Tensor(), kind=Choice(_GENERATOR_LOSSES))
def generator_loss(d_fake: torch.Tensor | npt.ArrayLike, kind: str = "minimax") -> torch.Tensor:
    """The generator's loss (GA3) from the discriminator's logits on generated samples.

    - ``kind="minimax"``: E[log(1 - D(G(z)))] = -mean(softplus(d_fake)), to minimise (it is
      <= 0); its gradient with respect to a logit is -D / N, which vanishes when D -> 0.
    - ``kind="non_saturating"``: -E[log D(G(z))] = mean(softplus(-d_fake)), to minimise; its
      gradient with respect to a logit is -(1 - D) / N, which tends to -1/N when D -> 0.

    ``d_fake``: finite logits, any shape, e.g. (N,). Both are batch means. Returns a 0-d
    tensor (differentiable in tensor inputs).
    """
    return _finite(_generator_loss(d_fake, kind), "d_fake")


def _generator_loss(d_fake, kind):
    if kind == "non_saturating":
        return F.softplus(-d_fake).mean()
    return -F.softplus(d_fake).mean()  # minimax


# --------------------------------------------------------------------------- GA4, GA5
def _same_shape(p_theta: np.ndarray, p_r: np.ndarray, name: str = "p_theta") -> None:
    if p_theta.shape != p_r.shape:
        raise ValueError(f"{name} must have the shape of p_r {p_r.shape}; got {p_theta.shape}")


@validate(p_r=Density(), p_theta=Density(), logit=Flag())
def optimal_discriminator(
    p_r: npt.ArrayLike, p_theta: npt.ArrayLike, logit: bool = False
) -> np.ndarray:
    """D*(x) = p_r(x) / (p_r(x) + p_theta(x)) (GA5), elementwise on a grid.

    Where p_r = p_theta = 0 every D gives the same value function; 0.5 is returned there.

    Parameters
    ----------
    p_r, p_theta : finite, non-negative arrays of the same shape (densities on a grid)
    logit : return the logit of D*, log p_r - log p_theta (+inf where only p_r > 0, -inf where
        only p_theta > 0, 0 where both vanish) instead of D* itself. Use it where the ratio
        of the densities is extreme: D* = 1 - 1e-75 rounds to 1.0 in float64 and
        log(1 - D*) to -inf, while the logit keeps the information.

    Returns an array of that shape: values in [0, 1] (or logits in [-inf, inf]).
    """
    _same_shape(p_theta, p_r)
    if logit:
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.log(p_r) - np.log(p_theta)
        return np.where((p_r == 0) & (p_theta == 0), 0.0, a)
    total = p_r + p_theta
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, p_r / np.where(total > 0, total, 1.0), 0.5)


@validate(
    p_r=Density(),
    p_theta=Density(),
    d=Array(finite=False),
    dx=Real(low=0, low_open=True),
    logits=Flag(),
)
def value_function(
    p_r: npt.ArrayLike,
    p_theta: npt.ArrayLike,
    d: npt.ArrayLike,
    dx: float,
    logits: bool = False,
) -> float:
    """V(D, G) = E_{p_r}[log D] + E_{p_theta}[log(1 - D)] on a grid (GA4).

    Riemann sums sum(p_r log d) dx + sum(p_theta log(1 - d)) dx with 0 * log 0 = 0: a cell
    where p_r = 0 contributes nothing to the first sum even if d = 0. The result is -inf when
    d = 0 where p_r > 0 (or d = 1 where p_theta > 0).

    Parameters
    ----------
    p_r, p_theta : finite, non-negative arrays of the same shape
    d : discriminator values D(x) in [0, 1] on the same grid, or with ``logits=True`` the
        logits a(x) in [-inf, inf] (then log D = -softplus(-a), log(1 - D) = -softplus(a));
        never NaN
    dx : cell volume (> 0)

    Returns a float (nats).
    """
    _same_shape(p_theta, p_r)
    _same_shape(d, p_r, "d")
    if logits:
        log_d, log_1md = -np.logaddexp(0.0, -d), -np.logaddexp(0.0, d)
    else:
        if not np.all((d >= 0) & (d <= 1)):
            raise ValueError("d must contain probabilities in [0, 1] (or pass logits=True)")
        with np.errstate(divide="ignore"):
            log_d, log_1md = np.log(d), np.log1p(-d)
    with np.errstate(invalid="ignore"):
        real = np.where(p_r > 0, p_r * log_d, 0.0).sum()
        fake = np.where(p_theta > 0, p_theta * log_1md, 0.0).sum()
    return float((real + fake) * dx)


# --------------------------------------------------------------------------- training
def _sample_shape(network: nn.Module) -> tuple[int, ...] | None:
    """The shape of one sample that the library's ``network`` makes or judges (None: unknown,
    for a network from elsewhere)."""
    if hasattr(network, "data_dim"):
        return (network.data_dim,)
    if hasattr(network, "image_size"):
        return (network.channels, network.image_size, network.image_size)
    return None


def _unchecked(network: nn.Module) -> Callable:
    """The network's forward without the boundary checks, for the per-step path: the
    library's networks have ``_forward``; any other module is called as it is."""
    return getattr(network, "_forward", network)


@validate(
    G=Instance(nn.Module),
    D=Instance(nn.Module),
    data=Tensor(ndim=(2, 3, 4)),
    n_steps=Integer(minimum=1),
    batch_size=Integer(minimum=1),
    lr=Real(low=0, low_open=True),
    lr_d=Optional(Real(low=0, low_open=True)),
    betas=Betas(),
    loss=Choice(_GENERATOR_LOSSES),
    d_steps=Integer(minimum=1),
    seed=Seed(),
    snapshot_every=Integer(minimum=0),
    n_snapshot=Integer(minimum=1),
    progress=Flag(),
    device=Device(),
)
def train_gan(
    G: nn.Module,
    D: nn.Module,
    data: torch.Tensor | npt.ArrayLike,
    *,
    n_steps: int = 1000,
    batch_size: int = 128,
    lr: float = 2e-4,
    lr_d: float | None = None,
    betas: tuple[float, float] = (0.5, 0.999),
    loss: str = "non_saturating",
    d_steps: int = 1,
    seed: int = 0,
    snapshot_every: int = 0,
    n_snapshot: int = 512,
    progress: bool = False,
    device: str | torch.device | None = None,
) -> dict[str, np.ndarray]:
    """Train a GAN by alternating Adam steps on the two losses (``training.fit``).

    Each step draws one batch of ``batch_size`` real rows with replacement and makes
    ``d_steps`` updates of D on
    ``discriminator_loss`` (that batch against a batch of G(z)), then one update of G on
    ``generator_loss(..., kind=loss)``; every update draws its own z.
    With ``d_steps > 1`` the discriminator's updates of a step share its real batch (before
    the one training loop each update drew its own). With a packed discriminator
    (``D.packing = m``) each batch is judged in ``batch_size / m`` groups of m.

    Parameters
    ----------
    G : the generator network, with ``latent_dim`` = k; maps z (B, k) to rows like data's
    D : the discriminator network: a batch of samples -> logits
    data : real samples, array or tensor of shape (N, d) or (N, C, H, W)
    n_steps, batch_size : number of steps (generator updates); rows per batch
    lr, lr_d : Adam learning rates of G and D (lr_d=None: lr)
    betas : Adam's betas (DCGAN uses (0.5, 0.999))
    loss : "non_saturating" or "minimax" (the generator's objective, GA3)
    d_steps : discriminator updates per generator update
    seed : the real batches are drawn from ``seed`` and the z of the losses from ``seed + 1``
        (``fit``'s two generators), the snapshots' fixed z from ``seed + 2`` (a CPU
        generator); the networks' initial weights are fixed when they are built
    snapshot_every : every this many steps (and at step 0 and at the end) store G(z) for a
        fixed set of ``n_snapshot`` latent vectors; 0 stores only the final samples
    progress : show a tqdm progress bar with the current losses
    device : move both networks there first; default: where G is

    Returns
    -------
    history : fit's history: "step" (n_steps,), "d_loss" and "g_loss" (n_steps,) (the losses
        of each step's last update of D and of G), "d_of_fake" (n_steps,) (the batch mean
        of D(G(z)) = sigmoid(logit) in each generator update, before it: how confident D is
        that generated samples are fake; the minimax loss saturates when it is near 0),
        "seconds" (n_steps,) (cumulative wall-clock time); and "snapshot_steps" (K,) (ints),
        "snapshots" (K, n_snapshot, ...) (float64).
    """
    k = getattr(G, "latent_dim", None)
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"G must have an integer attribute latent_dim >= 1; got {k!r}")
    packing = getattr(D, "packing", 1)
    if batch_size % packing:
        raise ValueError(
            f"batch_size must be divisible by the discriminator's packing ({packing}); "
            f"got {batch_size}"
        )
    for name, network in (("G", G), ("D", D)):
        shape = _sample_shape(network)
        if shape is not None and shape != tuple(data.shape[1:]):
            raise ValueError(
                f"data must have rows of the shape {name} works with, {shape}; "
                f"got rows of shape {tuple(data.shape[1:])}"
            )
    if device is not None:
        G.to(device)
        D.to(device)
    param, param_d = next(G.parameters()), next(D.parameters())
    dev, dtype = param.device, param.dtype
    if (param_d.device, param_d.dtype) != (dev, dtype):
        raise ValueError(
            f"D must be on G's device and of G's dtype ({dev}, {dtype}); "
            f"got {param_d.device}, {param_d.dtype} (use D.to(...) or device=)"
        )
    run_G, run_D = _unchecked(G), _unchecked(D)
    was_training = D.training
    D.eval()  # one look at D's output shape, without touching batch-norm statistics
    with torch.no_grad():
        rows = data[torch.arange(2 * packing) % data.shape[0]].to(device=dev, dtype=dtype)
        logits = run_D(rows)
    D.train(was_training)
    if tuple(logits.shape) != (2,):
        raise ValueError(
            f"D must return one logit per group of {packing} sample(s), shape (B / {packing},); "
            f"got shape {tuple(logits.shape)} for B = {2 * packing}"
        )

    def z_batch(n, generator):
        return torch.randn(n, k, generator=generator, device=dev, dtype=dtype)

    def d_loss(model, real, generator):
        with torch.no_grad():
            fake = run_G(z_batch(real.shape[0], generator))
        return _discriminator_loss(run_D(real), run_D(fake))

    def g_loss(model, real, generator):
        a_fake = run_D(run_G(z_batch(real.shape[0], generator)))
        d_of_fake = torch.sigmoid(a_fake.detach()).mean()
        return {"loss": _generator_loss(a_fake, loss), "d_of_fake": d_of_fake}

    z_fixed = torch.randn(
        n_snapshot, k, generator=torch.Generator().manual_seed(seed + 2), dtype=dtype
    ).to(dev)

    def snapshot(t, model):
        with torch.no_grad():
            return {"snapshots": run_G(z_fixed).cpu().numpy()}

    first = snapshot(0, None)["snapshots"] if snapshot_every else None  # step 0
    updates = [Update("d_loss", d_loss, D, lr_d)] * d_steps + [Update("g_loss", g_loss, G)]
    history = fit(
        nn.ModuleDict({"G": G, "D": D}),
        data,
        updates,
        steps=n_steps,
        batch_size=batch_size,
        lr=lr,
        betas=betas,
        seed=seed,
        progress=progress,
        callback=snapshot,
        callback_every=snapshot_every or n_steps,
        desc="GAN",
    )
    steps = history.pop("snapshots_at").astype(int)
    if snapshot_every:
        steps = np.concatenate([[0], steps])
        history["snapshots"] = np.concatenate([first[None], history["snapshots"]])
    history["snapshot_steps"] = steps
    return history


# --------------------------------------------------------------------------- metrics
@validate(
    samples=Array(ndim=2),
    centers=Array(ndim=2),
    std=Real(low=0, low_open=True),
    threshold=Real(low=0, low_open=True),
    min_count=Integer(minimum=1),
)
def mode_coverage(
    samples: npt.ArrayLike | torch.Tensor,
    centers: npt.ArrayLike,
    std: float,
    threshold: float = 3.0,
    min_count: int = 1,
) -> tuple[int, float]:
    """Modes covered and fraction of high-quality samples for a mixture of isotropic Gaussians.

    The metrics of the mode-collapse literature (Srivastava et al. 2017; Lin et al. 2018): a
    sample is of high quality when its Euclidean distance to the nearest centre is below
    ``threshold * std`` (3 standard deviations by default); a mode is covered when at least
    ``min_count`` high-quality samples are nearest to it (PacGAN's code uses 1).

    Parameters
    ----------
    samples : (N, d) generated samples (an array, or a tensor, also one that requires grad)
    centers : (K, d) the modes' centres
    std : the modes' common standard deviation (> 0)
    threshold : radius in standard deviations (> 0)
    min_count : high-quality samples a mode needs to count as covered (>= 1)

    Returns
    -------
    (modes_covered, high_quality_fraction) : (int in 0..K, float in [0, 1])
    """
    if centers.shape[1] != samples.shape[1]:
        raise ValueError(
            f"centers must have shape (K, d={samples.shape[1]}) like samples; got {centers.shape}"
        )
    d2 = ((samples[:, None, :] - centers[None, :, :]) ** 2).sum(-1)  # (N, K)
    nearest = d2.argmin(axis=1)
    good = np.sqrt(d2[np.arange(len(samples)), nearest]) < threshold * std
    counts = np.bincount(nearest[good], minlength=len(centers))
    return int((counts >= min_count).sum()), float(good.mean())
