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
- Randomness only through ``seed`` arguments (module constructors draw their initial
  weights under ``seed`` without touching the global random state; ``seed=None`` uses
  PyTorch's global generator, like any ``nn.Module``).
"""

from __future__ import annotations

import contextlib
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._validation import check_density
from ._validation import check_int as _check_int
from ._validation import check_positive as _check_positive

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


# --------------------------------------------------------------------------- validation
def _check_hidden(hidden):
    try:
        sizes = tuple(hidden)
    except TypeError as err:
        raise ValueError(f"hidden must be a sequence of layer widths; got {hidden!r}") from err
    return tuple(_check_int(h, "hidden", 1) for h in sizes)


def _check_logits(value, name):
    """``value`` as a floating tensor of logits (any shape, at least one element)."""
    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be an array of logits; got {value!r:.80}") from err
    if not value.is_floating_point():
        value = value.to(torch.get_default_dtype())
    if value.numel() == 0:
        raise ValueError(f"{name} must contain at least one logit")
    if torch.isnan(value).any():
        raise ValueError(f"{name} must not contain NaN")
    return value


@contextlib.contextmanager
def _weights_seed(seed):
    """Draw initial weights under ``seed`` without changing the global random state."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


# --------------------------------------------------------------------------- MLPs (GA1)
def _mlp(sizes, activation):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """The generator G(z, theta): an MLP from the latent space Z = R^k to the data space R^d.

    Hidden layers use ReLU; the output layer is linear (data in R^d are unbounded).

    Parameters
    ----------
    latent_dim : k, dimension of z ~ N(0, I)
    data_dim : d, dimension of a sample x = G(z)
    hidden : widths of the hidden layers
    seed : seed of the initial weights (None: PyTorch's global generator)

    ``forward(z)`` maps z of shape (N, k) to x of shape (N, d); ``sample(n, generator)``
    draws z ~ N(0, I) and returns G(z).
    """

    def __init__(self, latent_dim=2, data_dim=2, hidden=(128, 128), seed=None):
        super().__init__()
        self.latent_dim = _check_int(latent_dim, "latent_dim", 1)
        self.data_dim = _check_int(data_dim, "data_dim", 1)
        hidden = _check_hidden(hidden)
        with _weights_seed(seed):
            self.net = _mlp((self.latent_dim, *hidden, self.data_dim), nn.ReLU)

    def forward(self, z):
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (N, {self.latent_dim}); got {tuple(z.shape)}")
        return self.net(z)

    def sample(self, n, generator=None):
        """G(z) for n draws z ~ N(0, I) (from ``generator`` if given): shape (n, d)."""
        n = _check_int(n, "n", 0)
        p = next(self.parameters())
        z = torch.randn(n, self.latent_dim, generator=generator, dtype=p.dtype)
        return self(z.to(p.device))


class Discriminator(nn.Module):
    """The discriminator D(x, phi) as an MLP that returns the logit a(x): D = sigmoid(a) (GA1).

    With ``packing = m > 1`` it is PacGAN's packed discriminator (Lin et al. 2018): it judges m
    samples of the same source at once. ``forward`` then takes N samples (N divisible by m),
    concatenates consecutive groups of m into vectors of length m * d and returns N / m logits.

    Parameters
    ----------
    data_dim : d
    hidden : widths of the hidden layers (LeakyReLU with slope ``negative_slope``)
    packing : m >= 1, samples per decision
    seed : seed of the initial weights (None: PyTorch's global generator)
    """

    def __init__(self, data_dim=2, hidden=(128, 128), packing=1, negative_slope=0.2, seed=None):
        super().__init__()
        self.data_dim = _check_int(data_dim, "data_dim", 1)
        self.packing = _check_int(packing, "packing", 1)
        hidden = _check_hidden(hidden)
        slope = float(negative_slope)
        with _weights_seed(seed):
            self.net = _mlp((self.data_dim * self.packing, *hidden, 1), lambda: nn.LeakyReLU(slope))

    def forward(self, x):
        """Logits of shape (N / m,) for x of shape (N, d)."""
        if x.ndim != 2 or x.shape[1] != self.data_dim:
            raise ValueError(f"x must have shape (N, {self.data_dim}); got {tuple(x.shape)}")
        if x.shape[0] % self.packing:
            raise ValueError(
                f"the number of samples in x ({x.shape[0]}) must be divisible by "
                f"packing = {self.packing}"
            )
        return self.net(x.reshape(-1, self.data_dim * self.packing)).squeeze(-1)


# --------------------------------------------------------------------------- DCGAN (GA11)
def _check_image_size(image_size):
    image_size = _check_int(image_size, "image_size", 8)
    if image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of 2 (8, 16, 32, 64, ...); got {image_size}")
    return image_size


def _dcgan_init_(module):
    """DCGAN's initialisation: conv weights ~ N(0, 0.02); batch-norm scales ~ N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
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
    seed : seed of the initial weights (None: PyTorch's global generator)

    ``forward(z)`` takes z of shape (N, k) (or (N, k, 1, 1)) and returns (N, C, S, S).
    """

    def __init__(self, latent_dim=100, image_size=64, channels=3, width=128, seed=None):
        super().__init__()
        self.latent_dim = _check_int(latent_dim, "latent_dim", 1)
        self.image_size = _check_image_size(image_size)
        self.channels = _check_int(channels, "channels", 1)
        width = _check_int(width, "width", 1)
        n_up = int(math.log2(self.image_size)) - 2  # stride-2 layers after the 4x4 map
        ch = width * 2 ** (n_up - 1)
        layers = [
            nn.ConvTranspose2d(self.latent_dim, ch, 4, 1, 0, bias=False),
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
        layers += [nn.ConvTranspose2d(ch, self.channels, 4, 2, 1, bias=False), nn.Tanh()]
        with _weights_seed(seed):
            self.net = nn.Sequential(*layers)
            _dcgan_init_(self.net)

    def forward(self, z):
        if z.ndim == 2:
            z = z[:, :, None, None]
        if z.ndim != 4 or z.shape[1:] != (self.latent_dim, 1, 1):
            raise ValueError(f"z must have shape (N, {self.latent_dim}); got {tuple(z.shape)}")
        return self.net(z)

    def sample(self, n, generator=None):
        """G(z) for n draws z ~ N(0, I): shape (n, C, S, S)."""
        n = _check_int(n, "n", 0)
        p = next(self.parameters())
        z = torch.randn(n, self.latent_dim, generator=generator, dtype=p.dtype)
        return self(z.to(p.device))


class DCGANDiscriminator(nn.Module):
    """The DCGAN discriminator (Radford et al. 2016) (GA11): image (C, S, S) -> logit.

    Convolutions with kernel 4, stride 2, padding 1 halve the side and double the channels
    (``width`` channels after the first) down to a 4x4 map; a last 4x4 convolution without
    padding gives one logit. LeakyReLU (slope 0.2) everywhere, batch norm everywhere except
    after the input layer; no pooling, no fully connected layers. The sigmoid of the paper's
    output is left to the loss, which takes logits.

    Parameters
    ----------
    image_size : S, a power of 2 >= 8
    channels : C
    width : channels after the first convolution
    seed : seed of the initial weights (None: PyTorch's global generator)

    ``forward(x)`` takes x of shape (N, C, S, S) and returns logits of shape (N,).
    """

    def __init__(self, image_size=64, channels=3, width=128, negative_slope=0.2, seed=None):
        super().__init__()
        self.image_size = _check_image_size(image_size)
        self.channels = _check_int(channels, "channels", 1)
        width = _check_int(width, "width", 1)
        slope = float(negative_slope)
        n_down = int(math.log2(self.image_size)) - 2
        layers = [nn.Conv2d(self.channels, width, 4, 2, 1), nn.LeakyReLU(slope)]
        ch = width
        for _ in range(n_down - 1):
            layers += [
                nn.Conv2d(ch, 2 * ch, 4, 2, 1, bias=False),
                nn.BatchNorm2d(2 * ch),
                nn.LeakyReLU(slope),
            ]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, 4, 1, 0)]
        with _weights_seed(seed):
            self.net = nn.Sequential(*layers)
            _dcgan_init_(self.net)

    def forward(self, x):
        shape = (self.channels, self.image_size, self.image_size)
        if x.ndim != 4 or tuple(x.shape[1:]) != shape:
            raise ValueError(
                f"x must have shape (N, {', '.join(map(str, shape))}); got {tuple(x.shape)}"
            )
        return self.net(x).reshape(-1)


# --------------------------------------------------------------------------- GA2, GA3
def discriminator_loss(d_real, d_fake):
    """The discriminator's loss (GA2): -( E[log D(x)] + E[log(1 - D(G(z)))] ), to minimise.

    Parameters
    ----------
    d_real : logits of the discriminator on real samples, any shape (N,)
    d_fake : logits on generated samples, any shape (M,)

    Returns the sum of two batch means, mean(softplus(-d_real)) + mean(softplus(d_fake)):
    the binary cross-entropy with label 1 for real and 0 for generated samples, each source
    averaged over its own batch. A 0-d tensor (differentiable).
    """
    d_real = _check_logits(d_real, "d_real")
    d_fake = _check_logits(d_fake, "d_fake")
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def generator_loss(d_fake, kind="minimax"):
    """The generator's loss (GA3) from the discriminator's logits on generated samples.

    - ``kind="minimax"``: E[log(1 - D(G(z)))] = -mean(softplus(d_fake)), to minimise (it is
      <= 0); its gradient with respect to a logit is -D / N, which vanishes when D -> 0.
    - ``kind="non_saturating"``: -E[log D(G(z))] = mean(softplus(-d_fake)), to minimise; its
      gradient with respect to a logit is -(1 - D) / N, which tends to -1/N when D -> 0.

    Both are batch means. Returns a 0-d tensor (differentiable).
    """
    d_fake = _check_logits(d_fake, "d_fake")
    if kind == "minimax":
        return -F.softplus(d_fake).mean()
    if kind == "non_saturating":
        return F.softplus(-d_fake).mean()
    raise ValueError(f"kind must be one of {_GENERATOR_LOSSES}; got {kind!r}")


# --------------------------------------------------------------------------- GA4, GA5
def optimal_discriminator(p_r, p_theta, logit=False):
    """D*(x) = p_r(x) / (p_r(x) + p_theta(x)) (GA5), elementwise on a grid.

    Where p_r = p_theta = 0 every D gives the same value function; 0.5 is returned there.

    Parameters
    ----------
    p_r, p_theta : non-negative arrays of the same shape (densities on a grid)
    logit : return the logit of D*, log p_r - log p_theta (+inf where only p_r > 0, -inf where
        only p_theta > 0, 0 where both vanish) instead of D* itself. Use it where the ratio
        of the densities is extreme: D* = 1 - 1e-75 rounds to 1.0 in float64 and
        log(1 - D*) to -inf, while the logit keeps the information.

    Returns an array of that shape: values in [0, 1] (or logits in [-inf, inf]).
    """
    p_r = check_density(p_r, "p_r")
    p_theta = check_density(p_theta, "p_theta", like=("p_r", p_r.shape))
    if logit:
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.log(p_r) - np.log(p_theta)
        return np.where((p_r == 0) & (p_theta == 0), 0.0, a)
    total = p_r + p_theta
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, p_r / np.where(total > 0, total, 1.0), 0.5)


def value_function(p_r, p_theta, d, dx, logits=False):
    """V(D, G) = E_{p_r}[log D] + E_{p_theta}[log(1 - D)] on a grid (GA4).

    Riemann sums sum(p_r log d) dx + sum(p_theta log(1 - d)) dx with 0 * log 0 = 0: a cell
    where p_r = 0 contributes nothing to the first sum even if d = 0. The result is -inf when
    d = 0 where p_r > 0 (or d = 1 where p_theta > 0).

    Parameters
    ----------
    p_r, p_theta : non-negative arrays of the same shape
    d : discriminator values D(x) in [0, 1] on the same grid, or with ``logits=True`` the
        logits a(x) in [-inf, inf] (then log D = -softplus(-a), log(1 - D) = -softplus(a))
    dx : cell volume (> 0)

    Returns a float (nats).
    """
    p_r = check_density(p_r, "p_r")
    p_theta = check_density(p_theta, "p_theta", like=("p_r", p_r.shape))
    try:
        d = np.asarray(d, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"d must be a numeric array; got {d!r:.80}") from err
    if d.shape != p_r.shape:
        raise ValueError(f"d must have the shape of p_r {p_r.shape}; got {d.shape}")
    dx = _check_positive(dx, "dx")
    if logits:
        if np.any(np.isnan(d)):
            raise ValueError("d (logits) must not contain NaN")
        log_d, log_1md = -np.logaddexp(0.0, -d), -np.logaddexp(0.0, d)
    else:
        if not (np.all(np.isfinite(d)) and np.all((d >= 0) & (d <= 1))):
            raise ValueError("d must contain probabilities in [0, 1]")
        with np.errstate(divide="ignore"):
            log_d, log_1md = np.log(d), np.log1p(-d)
    with np.errstate(invalid="ignore"):
        real = np.where(p_r > 0, p_r * log_d, 0.0).sum()
        fake = np.where(p_theta > 0, p_theta * log_1md, 0.0).sum()
    return float((real + fake) * dx)


# --------------------------------------------------------------------------- training
def _as_data(data, device, dtype):
    if isinstance(data, torch.Tensor):
        t = data.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(data, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise ValueError(f"data must be a numeric array; got {data!r:.80}") from err
    if t.ndim < 2 or t.shape[0] < 1:
        raise ValueError(f"data must have shape (N, ...) with N >= 1; got {tuple(t.shape)}")
    if not t.is_floating_point() or not bool(torch.isfinite(t).all()):
        raise ValueError("data must contain only finite floating-point values")
    return t.to(device=device, dtype=dtype)


def train_gan(
    generator,
    discriminator,
    data,
    *,
    n_steps=1000,
    batch_size=128,
    lr=2e-4,
    lr_d=None,
    betas=(0.5, 0.999),
    loss="non_saturating",
    d_steps=1,
    seed=0,
    snapshot_every=0,
    n_snapshot=512,
    progress=False,
    device=None,
):
    """Train a GAN by alternating gradient steps (Adam) on the two losses.

    Each step: ``d_steps`` updates of the discriminator on ``discriminator_loss`` (a batch of
    real samples drawn with replacement from ``data`` against a batch of G(z)), then one
    update of the generator on ``generator_loss(..., kind=loss)`` with a fresh batch of z.
    With a packed discriminator (``discriminator.packing = m``) each batch of ``batch_size``
    samples is judged in ``batch_size / m`` groups of m.

    Parameters
    ----------
    generator : a module with ``latent_dim`` mapping z (B, k) to samples shaped like data rows
    discriminator : a module mapping a batch of samples to logits
    data : real samples, array or tensor of shape (N, ...) (N, d) or (N, C, H, W)
    n_steps, batch_size : number of generator updates; samples per batch
    lr, lr_d : Adam learning rates of the generator and the discriminator (lr_d=None: lr)
    betas : Adam's betas (DCGAN uses (0.5, 0.999))
    loss : "non_saturating" or "minimax" (the generator's objective, GA3)
    d_steps : discriminator updates per generator update
    seed : seed of every random draw (data batches, z); the modules' initial weights are
        fixed when they are built
    snapshot_every : every this many steps (and at step 0 and at the end) store G(z) for a
        fixed set of ``n_snapshot`` latent vectors; 0 stores only the final samples
    progress : show a tqdm progress bar with the current losses
    device : move both modules there first; default: where the generator is

    Returns
    -------
    history : dict with NumPy arrays "d_loss" (n_steps,), "g_loss" (n_steps,) (the losses of
        each step's last update), "d_of_fake" (n_steps,) (the batch mean of D(G(z)) =
        sigmoid(logit) in each generator update, before it: how confident the discriminator
        is that generated samples are fake; the minimax loss saturates when it is near 0),
        "snapshot_steps" (K,), "snapshots" (K, n_snapshot, ...) and the float "seconds"
        (wall-clock time of the loop).
    """
    n_steps = _check_int(n_steps, "n_steps", 1)
    batch_size = _check_int(batch_size, "batch_size", 1)
    d_steps = _check_int(d_steps, "d_steps", 1)
    snapshot_every = _check_int(snapshot_every, "snapshot_every", 0)
    n_snapshot = _check_int(n_snapshot, "n_snapshot", 1)
    lr = _check_positive(lr, "lr")
    lr_d = lr if lr_d is None else _check_positive(lr_d, "lr_d")
    if loss not in _GENERATOR_LOSSES:
        raise ValueError(f"loss must be one of {_GENERATOR_LOSSES}; got {loss!r}")
    packing = getattr(discriminator, "packing", 1)
    if batch_size % packing:
        raise ValueError(
            f"batch_size ({batch_size}) must be divisible by the discriminator's "
            f"packing ({packing})"
        )
    if device is not None:
        generator.to(device)
        discriminator.to(device)
    param = next(generator.parameters())
    dev, dtype = param.device, param.dtype
    X = _as_data(data, dev, dtype)
    k = generator.latent_dim

    gen = torch.Generator(device="cpu").manual_seed(int(seed))

    def draw_z(n):
        return torch.randn(n, k, generator=gen, dtype=dtype).to(dev)

    def draw_real(n):
        return X[torch.randint(X.shape[0], (n,), generator=gen).to(dev)]

    z_fixed = draw_z(n_snapshot)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=tuple(betas))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr_d, betas=tuple(betas))
    d_hist = np.empty(n_steps)
    g_hist = np.empty(n_steps)
    dg_hist = np.empty(n_steps)
    snap_steps, snaps = [], []

    def snapshot(step):
        with torch.no_grad():
            snaps.append(generator(z_fixed).detach().cpu().numpy())
        snap_steps.append(step)

    if snapshot_every:
        snapshot(0)
    bar = range(1, n_steps + 1)
    if progress:  # imported only when asked for: tqdm.auto warns in notebooks without widgets
        from tqdm.auto import tqdm

        bar = tqdm(bar, desc="GAN", unit="step")
    start = time.perf_counter()
    for step in bar:
        for _ in range(d_steps):
            real = draw_real(batch_size)
            with torch.no_grad():
                fake = generator(draw_z(batch_size))
            d_loss = discriminator_loss(discriminator(real), discriminator(fake))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        a_fake = discriminator(generator(draw_z(batch_size)))
        g_loss = generator_loss(a_fake, kind=loss)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        d_hist[step - 1] = d_loss.item()
        g_hist[step - 1] = g_loss.item()
        dg_hist[step - 1] = torch.sigmoid(a_fake.detach()).mean().item()
        if snapshot_every and step % snapshot_every == 0 and step != n_steps:
            snapshot(step)
        if progress and step % 50 == 0:
            bar.set_postfix(
                {"D loss": f"{d_hist[step - 1]:.3f}", "G loss": f"{g_hist[step - 1]:.3f}"}
            )
    snapshot(n_steps)
    return {
        "d_loss": d_hist,
        "g_loss": g_hist,
        "d_of_fake": dg_hist,
        "snapshot_steps": np.array(snap_steps),
        "snapshots": np.stack(snaps),
        "seconds": time.perf_counter() - start,
    }


# --------------------------------------------------------------------------- metrics
def mode_coverage(samples, centers, std, threshold=3.0, min_count=1):
    """Modes covered and fraction of high-quality samples for a mixture of isotropic Gaussians.

    The metrics of the mode-collapse literature (Srivastava et al. 2017; Lin et al. 2018): a
    sample is of high quality when its Euclidean distance to the nearest centre is below
    ``threshold * std`` (3 standard deviations by default); a mode is covered when at least
    ``min_count`` high-quality samples are nearest to it (PacGAN's code uses 1).

    Parameters
    ----------
    samples : (N, d) generated samples
    centers : (K, d) the modes' centres
    std : the modes' common standard deviation (> 0)
    threshold : radius in standard deviations (> 0)
    min_count : high-quality samples a mode needs to count as covered (>= 1)

    Returns
    -------
    (modes_covered, high_quality_fraction) : (int in 0..K, float in [0, 1])
    """
    try:
        X = np.asarray(samples, dtype=np.float64)
        C = np.asarray(centers, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError("samples and centers must be numeric arrays") from err
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"samples must have shape (N, d) with N >= 1; got {X.shape}")
    if C.ndim != 2 or C.shape[0] < 1 or C.shape[1] != X.shape[1]:
        raise ValueError(f"centers must have shape (K, d={X.shape[1]}); got {C.shape}")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(C))):
        raise ValueError("samples and centers must contain only finite values")
    std = _check_positive(std, "std")
    threshold = _check_positive(threshold, "threshold")
    min_count = _check_int(min_count, "min_count", 1)
    d2 = ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1)  # (N, K)
    nearest = d2.argmin(axis=1)
    good = d2[np.arange(len(X)), nearest] < (threshold * std) ** 2
    counts = np.bincount(nearest[good], minlength=len(C))
    return int((counts >= min_count).sum()), float(good.mean())
