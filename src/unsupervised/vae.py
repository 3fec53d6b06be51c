"""The variational autoencoder (VAE) and the linear-Gaussian model in which every VAE
quantity has a closed form (probabilistic PCA).

Formula IDs (see the book's formula index):

- VA1  p(x, z | theta) = p(x | z, theta) p(z | theta)
- VA2  log p(x | theta) = ELBO(q, x | theta, phi) + KL(q(z | phi) || p(z | x, theta))
- VA3  ELBO = E_{z ~ q}[ log p(x, z | theta) / q(z | phi) ]
- VA4  p(z | x, theta) = p(x | z, theta) p(z | theta) / int p(x | z, theta) p(z | theta) dz
- VA5  q(z | x, phi) = N(z | mu_I, sigma_I^2 I)
- VA6  [mu_I; sigma_I] = f_I(x, phi)
- VA7  h = sigmoid(W1 x + b1), mu_I = W2 h + b2, sigma_I = softplus(W3 h + b3)
- VA12 ELBO = E_q[log p(x | z)] - KL(q(z | x, phi) || p(z | theta))
- VA13 E_q[log p(x | z)] ~= (1/M) sum_m log p(x | z^(m))
- VA14 J = sum_n ( (1/M) sum_m log p(x^(n) | z^(n,m)) - KL(q(z | x^(n)) || N(0, I)) )
- VA17 KL(N(mu, sigma^2 I) || N(0, I)) = 1/2 ( tr(sigma^2 I) + mu^T mu - k - log|sigma^2 I| )
- VA18 z = mu_I + sigma_I * eps, eps ~ N(0, I)
- VA19 with p(x | z) = N(x | mu_G, I): J = -1/2 ||x - mu_G||^2 - (d/2) log 2 pi - KL(...)
       (the source prints -||x - mu_G||^2 + KL(...): wrong sign and scale)

Sign convention: the ELBO and every log-likelihood here is a quantity to MAXIMISE; the
training loss ``elbo_loss`` hands to ``training.fit`` is ``-elbo.mean()`` (the mean over a
mini-batch, the source's J(phi, theta | D) divided by the batch size)::

    history = fit(vae, X, elbo_loss(), epochs=200, batch_size=100, lr=3e-3,
                  callback=heldout_elbo(X_val))

Shapes: data ``x`` (N, d), one sample per row; latent codes ``z`` (N, k), or (M, N, k) for
M Monte Carlo samples per data point. Per-sample quantities (log-densities, ELBO, KL) have
shape (N,): they are summed over the data and latent dimensions, never averaged.
The networks follow the library's torch convention (``unsupervised._torch``): initial
weights drawn from ``seed`` (default 0), float32 by default, on the CPU unless a ``device``
is given; data (arrays, lists, tensors of any floating dtype) is cast to the model's dtype
and device. Arguments are validated at every public entry (``unsupervised._validation``);
the training loss calls the undecorated helpers.
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Independent, MultivariateNormal, Normal

from ._torch import TorchModule, seeded_init, standard_normal
from ._validation import (
    Choice,
    Device,
    Dtype,
    Flag,
    Generator,
    Integer,
    Optional,
    Real,
    Seed,
    Tensor,
    validate,
)

__all__ = [
    "reparameterize",
    "kl_standard_normal",
    "InferenceNetwork",
    "GenerativeNetwork",
    "VAE",
    "elbo_loss",
    "heldout_elbo",
    "LinearGaussian",
]

TensorLike = torch.Tensor | np.ndarray  # what a data argument may be (lists too)

_LOG_2PI = math.log(2.0 * math.pi)
_ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
ACTIVATIONS = tuple(_ACTIVATIONS)
LIKELIHOODS = ("bernoulli", "gaussian")
_F64, _CPU = torch.float64, torch.device("cpu")


# --------------------------------------------------------------------------- helpers
# Checks that depend on two arguments (a shape against a model's width, a generator against
# the device of the draws), on arguments @validate has already made tensors.
def _cast(t, name, dtype, device):
    """A validated (finite, floating) tensor in ``dtype`` on ``device``; ValueError if a value
    overflows the narrower dtype (1e300 into a float32 model)."""
    out = t.to(device=device, dtype=dtype)
    if torch.finfo(dtype).max < torch.finfo(t.dtype).max and not bool(torch.isfinite(out).all()):
        raise ValueError(
            f"{name} must be finite in the model's {dtype} (|values| <= "
            f"{torch.finfo(dtype).max:.3g}); got values that overflow it"
        )
    return out


def _rows(x, name, width, dtype, device, bernoulli=False):
    """A validated 2-D tensor ``x`` in ``dtype`` on ``device``, of shape (N, width); for a
    Bernoulli likelihood, with entries in [0, 1]."""
    x = _cast(x, name, dtype, device)
    if x.shape[1] != width:
        raise ValueError(f"{name} must have shape (N, {width}); got shape {tuple(x.shape)}")
    if bernoulli and not bool(((x >= 0) & (x <= 1)).all()):
        raise ValueError(
            f"{name} must lie in [0, 1] for the Bernoulli likelihood (binary pixels, or grey"
            " levels)"
        )
    return x


def _codes(z, name, k, dtype, device, n=None):
    """A validated tensor ``z`` in ``dtype`` on ``device``, of shape (..., k); with ``n``, a
    leading shape that broadcasts against N = n rows of data: (k,), (n, k) or (M, n, k)."""
    z = _cast(z, name, dtype, device)
    if z.ndim < 1 or z.shape[-1] != k:
        raise ValueError(f"{name} must have shape (..., {k}); got shape {tuple(z.shape)}")
    if n is not None and z.ndim >= 2 and z.shape[-2] not in (1, n):
        raise ValueError(
            f"{name} must have shape (N, {k}) or (M, N, {k}) with N = {n} (the rows of x);"
            f" got shape {tuple(z.shape)}"
        )
    return z


def _same_device(generator, device):
    """ValueError unless ``generator`` (a torch.Generator or None) draws on ``device``."""
    if generator is not None and generator.device.type != torch.device(device).type:
        raise ValueError(
            f"generator must be a torch.Generator on {device} (where the draws are made); got"
            f" one on {generator.device}"
        )


def _finite(out, names):
    """``out`` (a tensor), or ValueError naming the inputs ``names`` if an entry overflowed
    (finite inputs so large that the result is not representable, e.g. x = 1e200)."""
    if not bool(torch.isfinite(out).all()):
        raise ValueError(
            f"{names} too large: the result overflows {out.dtype} (non-finite values); scale"
            " the input down"
        )
    return out


def _init(seed):
    """``seeded_init(seed)``, or nothing for seed None (inside an enclosing seeded_init)."""
    return contextlib.nullcontext() if seed is None else seeded_init(seed)


def _log_normal_diag(z, mu, sigma):
    """log N(z | mu, diag(sigma^2)), summed over the last dimension."""
    return -0.5 * (((z - mu) / sigma) ** 2 + 2.0 * torch.log(sigma) + _LOG_2PI).sum(-1)


def _log_standard_normal(z):
    """log N(z | 0, I), summed over the last dimension."""
    return -0.5 * (z * z + _LOG_2PI).sum(-1)


def _mu_sigma(mu, sigma):
    """A diagonal Gaussian's validated mean and standard deviation: same shape (..., k),
    sigma > 0, both in one dtype on mu's device."""
    if mu.ndim < 1:
        raise ValueError(f"mu must have shape (..., k); got shape {tuple(mu.shape)}")
    if sigma.shape != mu.shape:
        raise ValueError(
            f"sigma must have the shape of mu {tuple(mu.shape)}; got shape {tuple(sigma.shape)}"
        )
    dtype = torch.promote_types(mu.dtype, sigma.dtype)
    mu, sigma = mu.to(dtype), sigma.to(device=mu.device, dtype=dtype)
    if not bool((sigma > 0).all()):
        raise ValueError("sigma must be > 0 everywhere (it is a standard deviation)")
    return mu, sigma


# --------------------------------------------------------------------------- VA17, VA18
@validate(mu=Tensor(), sigma=Tensor(), generator=Generator(), n_samples=Optional(Integer(1)))
def reparameterize(
    mu: TensorLike,
    sigma: TensorLike,
    generator: torch.Generator | None = None,
    n_samples: int | None = None,
) -> torch.Tensor:
    """Draw z ~ N(mu, diag(sigma^2)) as z = mu + sigma * eps, eps ~ N(0, I) (VA18).

    z is a deterministic, differentiable function of (mu, sigma) given eps, so gradients
    of any f(z) flow back into whatever computed mu and sigma (the reparameterisation trick).

    Parameters
    ----------
    mu : tensor of shape (..., k), e.g. (N, k)
    sigma : tensor of the same shape, > 0: standard deviations (not variances)
    generator : torch.Generator on the device of ``mu``, or None (torch's global RNG)
    n_samples : None (one draw, the shape of ``mu``) or an int M >= 1 (shape (M, ...))

    Returns
    -------
    z : tensor of shape (..., k) or (M, ..., k)
    """
    mu, sigma = _mu_sigma(mu, sigma)
    _same_device(generator, mu.device)
    return _finite(_reparameterize(mu, sigma, generator, n_samples), "mu and sigma are")


def _reparameterize(mu, sigma, generator, n_samples=None):
    shape = mu.shape if n_samples is None else (n_samples, *mu.shape)
    eps = torch.randn(shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + sigma * eps


@validate(mu=Tensor(), sigma=Tensor())
def kl_standard_normal(mu: TensorLike, sigma: TensorLike) -> torch.Tensor:
    """KL(N(mu, diag(sigma^2)) || N(0, I)) in nats (VA17), one value per row.

    = 1/2 sum_j ( sigma_j^2 + mu_j^2 - 1 - log sigma_j^2 ), the source's
    1/2 ( tr(sigma^2 I) + mu^T mu - k - log|sigma^2 I| ) written coordinate by coordinate.

    Parameters
    ----------
    mu, sigma : tensors of shape (..., k); sigma > 0 (standard deviations)

    Returns
    -------
    kl : tensor of shape (...)
    """
    return _finite(_kl_standard_normal(*_mu_sigma(mu, sigma)), "mu and sigma are")


def _kl_standard_normal(mu, sigma):
    return 0.5 * (sigma * sigma + mu * mu - 1.0 - 2.0 * torch.log(sigma)).sum(-1)


# --------------------------------------------------------------------------- networks
_NET = dict(seed=Seed(none=True), device=Device(), dtype=Dtype())


class InferenceNetwork(TorchModule, nn.Module):
    """The inference network f_I(x, phi) of VA6-VA7, exactly as the source writes it:

        h       = sigmoid(W1 x + b1)
        mu_I    = W2 h + b2
        sigma_I = softplus(W3 h + b3)

    It outputs the parameters of q(z | x, phi) = N(z | mu_I, sigma_I^2 I) (VA5). sigma_I is a
    standard deviation; softplus makes it positive (in float32 it underflows to 0 only for
    pre-activations below about -104).

    Parameters
    ----------
    n_features : d, the data dimension
    n_latent : k, the latent dimension
    n_hidden : width of h
    activation : "sigmoid" (the source's sigma), "tanh" or "relu"
    seed : seed of the initial weights (``nn.Linear``'s default initialiser, drawn in
        ``seeded_init``); None: from torch's global random state, as inside a ``VAE``,
        which builds both networks from one seeded stream
    device, dtype : where the parameters live and their dtype (default CPU, float32)

    Attributes ``hidden`` (W1, b1), ``mean`` (W2, b2), ``std`` (W3, b3) are ``nn.Linear``
    layers; ``W.weight`` has shape (out, in), so ``W1 x`` is ``x @ hidden.weight.T``.
    """

    @validate(
        n_features=Integer(1),
        n_latent=Integer(1),
        n_hidden=Integer(1),
        activation=Choice(ACTIVATIONS),
        **_NET,
    )
    def __init__(
        self,
        n_features: int,
        n_latent: int,
        n_hidden: int,
        activation: str = "sigmoid",
        seed: int | None = 0,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.n_features, self.n_latent, self.activation = n_features, n_latent, activation
        self._act = _ACTIVATIONS[activation]
        with _init(seed):
            self.hidden = nn.Linear(n_features, n_hidden)  # W1, b1
            self.mean = nn.Linear(n_hidden, n_latent)  # W2, b2
            self.std = nn.Linear(n_hidden, n_latent)  # W3, b3
        self.to(device=device, dtype=dtype)

    @validate(x=Tensor(ndim=2))
    def forward(self, x: TensorLike) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, d) -> (mu_I, sigma_I), each of shape (N, k) (VA6, VA7)."""
        return self._forward(_rows(x, "x", self.n_features, self.dtype, self.device))

    def _forward(self, x):
        h = self._act(self.hidden(x))
        return self.mean(h), F.softplus(self.std(h))

    @validate(x=Tensor(ndim=2))
    def distribution(self, x: TensorLike) -> Independent:
        """q(z | x, phi) (VA5) as a torch distribution with batch shape (N,), event shape (k,)."""
        mu, sigma = self._forward(_rows(x, "x", self.n_features, self.dtype, self.device))
        return Independent(Normal(mu, sigma), 1)


class GenerativeNetwork(TorchModule, nn.Module):
    """The generative network f_G(z, theta): the parameters of p(x | z, theta).

        h    = activation(W4 z + b4)
        a    = W5 h + b5
        mu_G = sigmoid(a)  (Bernoulli: pixel probabilities; ``a`` are the logits)
        mu_G = a           (Gaussian: the mean; p(x | z) = N(x | mu_G, sigma2 I))

    With ``likelihood="gaussian"`` and ``sigma2=1`` this is the source's N(x | mu_G, I) (VA19).
    The Bernoulli likelihood is a probability mass function for binary x in {0, 1}; for grey
    levels in [0, 1] its value is a cross-entropy, not a normalised log-likelihood.

    Parameters
    ----------
    n_latent : k
    n_features : d
    n_hidden : width of h
    likelihood : "bernoulli" or "gaussian"
    sigma2 : the fixed variance of the Gaussian likelihood, > 0 (ignored for Bernoulli)
    activation : "sigmoid", "tanh" or "relu"
    seed, device, dtype : as for ``InferenceNetwork``
    """

    @validate(
        n_latent=Integer(1),
        n_features=Integer(1),
        n_hidden=Integer(1),
        likelihood=Choice(LIKELIHOODS),
        sigma2=Real(low=0, open=True),
        activation=Choice(ACTIVATIONS),
        **_NET,
    )
    def __init__(
        self,
        n_latent: int,
        n_features: int,
        n_hidden: int,
        likelihood: str = "bernoulli",
        sigma2: float = 1.0,
        activation: str = "sigmoid",
        seed: int | None = 0,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        self.n_latent, self.n_features = n_latent, n_features
        self.likelihood, self.sigma2, self.activation = likelihood, sigma2, activation
        self._act = _ACTIVATIONS[activation]
        with _init(seed):
            self.hidden = nn.Linear(n_latent, n_hidden)  # W4, b4
            self.out = nn.Linear(n_hidden, n_features)  # W5, b5
        self.to(device=device, dtype=dtype)

    def _output(self, z):
        return self.out(self._act(self.hidden(z)))

    def _z(self, z, n=None):
        return _codes(z, "z", self.n_latent, self.dtype, self.device, n)

    @validate(z=Tensor())
    def forward(self, z: TensorLike) -> torch.Tensor:
        """z (..., k) -> mu_G (..., d): Bernoulli probabilities or the Gaussian mean."""
        return self._forward(self._z(z))

    def _forward(self, z):
        a = self._output(z)
        return torch.sigmoid(a) if self.likelihood == "bernoulli" else a

    @validate(x=Tensor(ndim=2), z=Tensor(ndim=(2, 3)))
    def log_prob(self, x: TensorLike, z: TensorLike) -> torch.Tensor:
        """log p(x | z, theta), summed over the d data dimensions (VA19 for the Gaussian).

        x has shape (N, d) (in [0, 1] for the Bernoulli likelihood); z has shape (N, k) or
        (M, N, k) (M latent samples per row of x). Returns shape (N,) or (M, N). Bernoulli:
        sum_i x_i a_i - softplus(a_i) (stable form of x log mu + (1 - x) log(1 - mu));
        Gaussian: -||x - mu_G||^2 / (2 sigma2) - (d/2) log(2 pi sigma2).
        """
        bernoulli = self.likelihood == "bernoulli"
        x = _rows(x, "x", self.n_features, self.dtype, self.device, bernoulli)
        return _finite(self._log_prob(x, self._z(z, x.shape[0])), "x and z are")

    def _log_prob(self, x, z):
        a = self._output(z)
        if self.likelihood == "bernoulli":
            return (x * a - F.softplus(a)).sum(-1)
        return -0.5 * (
            ((x - a) ** 2).sum(-1) / self.sigma2
            + self.n_features * math.log(2.0 * math.pi * self.sigma2)
        )

    @validate(z=Tensor(), generator=Generator())
    def sample_given(self, z: TensorLike, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw x ~ p(x | z, theta) for each row of z (..., k): shape (..., d), all randomness
        from ``generator`` (on the network's device). (``VAE.sample`` draws z from the prior
        first: the library's ``sample(n, generator)`` contract.)"""
        _same_device(generator, self.device)
        return self._sample_given(self._z(z), generator)

    def _sample_given(self, z, generator):
        mu = self._forward(z)
        if self.likelihood == "bernoulli":
            return torch.bernoulli(mu, generator=generator)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + math.sqrt(self.sigma2) * eps


class VAE(TorchModule, nn.Module):
    """Variational autoencoder: an ``InferenceNetwork`` q(z | x, phi) = N(mu_I, sigma_I^2 I),
    a ``GenerativeNetwork`` p(x | z, theta) and the prior p(z) = N(0, I) (Kingma & Welling 2014).

    Parameters
    ----------
    n_features : d (64 for scikit-learn's 8x8 digits, 784 for MNIST)
    n_latent : k
    n_hidden : width of the hidden layer of both networks
    likelihood : "bernoulli" (x in [0, 1]) or "gaussian" (N(x | mu_G, sigma2 I))
    sigma2 : variance of the Gaussian likelihood, > 0 (the source uses 1)
    activation : hidden-layer activation of both networks ("sigmoid" as in the source)
    seed : seed of the initial weights, encoder's then decoder's, drawn in
        ``seeded_init(seed)`` (``nn.Linear``'s default initialiser; torch's global random
        state is left as it was)
    device : where the parameters live (default CPU); "cuda" in Colab
    dtype : parameter dtype (default float32; float64 for exact checks)

    Every method accepts NumPy arrays, lists or tensors (of any floating dtype, also ones
    that require grad) for x and z and casts them to the model's device and dtype.
    Per-sample results have shape (N,). Train it with ``training.fit(vae, X, elbo_loss(),
    ...)`` (module docstring).
    """

    @validate(
        n_features=Integer(1),
        n_latent=Integer(1),
        n_hidden=Integer(1),
        likelihood=Choice(LIKELIHOODS),
        sigma2=Real(low=0, open=True),
        activation=Choice(ACTIVATIONS),
        seed=Seed(),
        device=Device(),
        dtype=Dtype(),
    )
    def __init__(
        self,
        n_features: int,
        n_latent: int = 2,
        n_hidden: int = 128,
        likelihood: str = "bernoulli",
        sigma2: float = 1.0,
        activation: str = "sigmoid",
        seed: int = 0,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        where = dict(seed=None, device=device, dtype=dtype)  # seed None: this block's stream
        with seeded_init(seed):
            self.encoder = InferenceNetwork(n_features, n_latent, n_hidden, activation, **where)
            self.decoder = GenerativeNetwork(
                n_latent, n_features, n_hidden, likelihood, sigma2, activation, **where
            )

    # ----------------------------------------------------------------- properties
    @property
    def n_features(self) -> int:
        return self.encoder.n_features

    @property
    def n_latent(self) -> int:
        return self.encoder.n_latent

    def _data(self, x, name="x"):
        bernoulli = self.decoder.likelihood == "bernoulli"
        return _rows(x, name, self.n_features, self.dtype, self.device, bernoulli)

    # ----------------------------------------------------------------- pieces
    @validate(x=Tensor(ndim=2))
    def encode(self, x: TensorLike) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu_I, sigma_I) of q(z | x, phi), each (N, k) (VA6)."""
        return self.encoder._forward(self._data(x))

    @validate(z=Tensor())
    def decode(self, z: TensorLike) -> torch.Tensor:
        """mu_G = f_G(z, theta) for z of shape (..., k): shape (..., d)."""
        return self.decoder._forward(self.decoder._z(z))

    @validate(x=Tensor(ndim=2))
    def reconstruct(self, x: TensorLike) -> torch.Tensor:
        """mu_G at the posterior mean: f_G(mu_I(x)), shape (N, d)."""
        mu, _ = self.encoder._forward(self._data(x))
        return self.decoder._forward(mu)

    # ----------------------------------------------------------------- objectives
    @validate(
        x=Tensor(ndim=2),
        n_samples=Integer(1),
        generator=Generator(),
        analytic_kl=Flag(),
        return_terms=Flag(),
    )
    def elbo(
        self,
        x: TensorLike,
        n_samples: int = 1,
        generator: torch.Generator | None = None,
        analytic_kl: bool = True,
        return_terms: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-sample ELBO(q, x | theta, phi), a quantity to MAXIMISE (shape (N,)).

        With M = ``n_samples`` reparameterised draws z^(m) = mu_I + sigma_I * eps^(m) (VA18):

        - ``analytic_kl=True`` (the source's VA14/VA15, the default):
          (1/M) sum_m log p(x | z^(m), theta) - KL(q(z | x, phi) || N(0, I)), KL by VA17;
        - ``analytic_kl=False`` (VA3): (1/M) sum_m log [p(x, z^(m)) / q(z^(m) | x)].

        Both are unbiased estimates of the ELBO (VA12). The first often has the lower
        variance, but not always: writing A = log p(x | z) and B = log q(z | x) - log p(z), it
        is lower exactly when var(B) > 2 cov(A, B); at q = the posterior the second form's
        integrand A - B is the constant log p(x) and has no variance at all.
        The training loss (``elbo_loss``) is ``-elbo(x).mean()``.

        Parameters
        ----------
        x : (N, d) data
        n_samples : M >= 1
        generator : torch.Generator on the model's device, for reproducible draws; the eps of
            all draws is one tensor of shape (M, N, k) drawn with it
        analytic_kl : the KL term in closed form (VA17) or by Monte Carlo (VA3)
        return_terms : also return the reconstruction term (1/M) sum_m log p(x | z^(m)) and the
            KL term, each (N,) (with ``analytic_kl=False`` the KL term is its Monte Carlo
            estimate)

        Returns
        -------
        elbo : tensor (N,), or (elbo, reconstruction, kl) with ``return_terms=True``
        """
        x = self._data(x)
        _same_device(generator, self.device)
        value, reconstruction, kl = self._elbo(x, n_samples, generator, analytic_kl)
        _finite(value, "the values of x are")
        return (value, reconstruction, kl) if return_terms else value

    def _elbo(self, x, n_samples, generator, analytic_kl=True):
        mu, sigma = self.encoder._forward(x)
        z = _reparameterize(mu, sigma, generator, n_samples)  # (M, N, k)
        reconstruction = self.decoder._log_prob(x, z).mean(0)
        if analytic_kl:
            kl = _kl_standard_normal(mu, sigma)
        else:
            kl = (_log_normal_diag(z, mu, sigma) - _log_standard_normal(z)).mean(0)
        value = reconstruction - kl
        return value, reconstruction, kl

    @torch.no_grad()
    @validate(x=Tensor(ndim=2), k=Integer(1), generator=Generator())
    def log_importance_weights(
        self, x: TensorLike, k: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """log w_j = log p(x, z_j) - log q(z_j | x) for z_j ~ q(z | x), j = 1..k: shape (k, N)
        (the integrand of VA3 at k draws). No gradients are recorded."""
        x = self._data(x)
        _same_device(generator, self.device)
        return _finite(self._log_weights(x, k, generator), "the values of x are")

    def _log_weights(self, x, k, generator):
        mu, sigma = self.encoder._forward(x)
        z = _reparameterize(mu, sigma, generator, k)
        return (
            self.decoder._log_prob(x, z) + _log_standard_normal(z) - _log_normal_diag(z, mu, sigma)
        )

    @torch.no_grad()
    @validate(
        x=Tensor(ndim=2), k=Integer(1), generator=Generator(), chunk_size=Optional(Integer(1))
    )
    def log_likelihood_iw(
        self,
        x: TensorLike,
        k: int,
        generator: torch.Generator | None = None,
        chunk_size: int | None = None,
    ) -> torch.Tensor:
        """Importance-weighted estimate of log p(x) with k samples (Burda et al. 2016), (N,).

        L_k(x) = log (1/k) sum_{j=1}^k p(x, z_j) / q(z_j | x),  z_j ~ q(z | x, phi).

        E[L_k] is a lower bound of log p(x) that does not decrease with k and equals the ELBO
        for k = 1; if the weights p(x, z) / q(z | x) are bounded it tends to log p(x) as
        k -> infinity (Burda et al. 2016, Theorem 1). The k samples are drawn in chunks of
        ``chunk_size`` (default: as many as keep one chunk's activations, chunk x N x width,
        below 2^24 numbers) and combined with log-sum-exp; for a given generator state the
        draws, and so the result, depend on the chunking. No gradients are recorded.
        """
        x = self._data(x)
        _same_device(generator, self.device)
        if chunk_size is None:
            width = max(self.n_features, self.encoder.hidden.out_features)
            chunk_size = max(1, min(k, 2**24 // (x.shape[0] * width)))
        parts, left = [], k
        while left > 0:
            m = min(chunk_size, left)
            parts.append(torch.logsumexp(self._log_weights(x, m, generator), dim=0))
            left -= m
        value = torch.logsumexp(torch.stack(parts), dim=0) - math.log(k)
        return _finite(value, "the values of x are")

    @torch.no_grad()
    @validate(n=Integer(1), generator=Generator(), mean=Flag(), return_latent=Flag())
    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        mean: bool = False,
        return_latent: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Generate n samples in two steps (VA1): z ~ p(z) = N(0, I), then x ~ p(x | z, theta).

        All randomness comes from ``generator`` (a torch.Generator on the model's device, or
        None: torch's global generator). ``mean=True`` returns mu_G = f_G(z) instead of a draw
        from p(x | z) (smoother images). Returns x of shape (n, d) on the model's device, and
        z of shape (n, k) as well if ``return_latent``.
        """
        _same_device(generator, self.device)
        z = standard_normal(n, self.n_latent, self, generator)
        x = self.decoder._forward(z) if mean else self.decoder._sample_given(z, generator)
        return (x, z) if return_latent else x


# --------------------------------------------------------------------------- training
@validate(n_samples=Integer(1), analytic_kl=Flag())
def elbo_loss(n_samples: int = 1, analytic_kl: bool = True) -> Callable:
    """The VAE's training loss for ``training.fit``: stochastic gradient ascent on the ELBO.

    Returns ``loss_fn(model, batch, generator)`` -> dict with ``"loss"`` = -mean ELBO of the
    batch (VA14 divided by the batch size; M = ``n_samples`` reparameterised draws per
    sample, M = 1 is VA15) and the batch means ``"elbo"``, ``"reconstruction"`` and ``"kl"``
    (``VAE.elbo`` with ``return_terms=True``), which ``fit`` records per epoch. The eps are
    drawn from ``fit``'s generator. Nothing is validated per step: the first batch of each
    model is checked once (a VAE, rows of width d, in [0, 1] for the Bernoulli likelihood;
    one device synchronisation per run), so data of the wrong width or scale is refused
    at the first step, naming ``data`` (``fit``'s argument).
    """
    checked = weakref.WeakSet()  # the models whose first batch has been checked

    def loss_fn(model: VAE, batch: torch.Tensor, generator: torch.Generator) -> dict:
        if model not in checked:
            if not isinstance(model, VAE):
                raise ValueError(f"model must be a VAE for elbo_loss; got {type(model).__name__}")
            if batch.ndim != 2:
                raise ValueError(
                    f"data must have shape (N, {model.n_features}); got rows of shape"
                    f" {tuple(batch.shape[1:])}"
                )
            model._data(batch, "data")
            checked.add(model)
        elbo, reconstruction, kl = model._elbo(batch, n_samples, generator, analytic_kl)
        return {
            "loss": -elbo.mean(),
            "elbo": elbo.mean(),
            "reconstruction": reconstruction.mean(),
            "kl": kl.mean(),
        }

    return loss_fn


@validate(X_val=Tensor(ndim=2), seed=Seed(), n_samples=Integer(1))
def heldout_elbo(X_val: TensorLike, seed: int = 0, n_samples: int = 1) -> Callable:
    """A ``fit`` callback: the mean per-sample ELBO of held-out data ``X_val`` (N_val, d).

    Returns ``callback(t, model)`` -> ``{"val_elbo": float}``, the mean of
    ``model.elbo(X_val, n_samples)`` with the eps drawn from a generator on the model's device
    seeded with ``seed`` afresh at every call (every epoch sees the same draws of eps, so
    the curve moves only with the model). No gradients are recorded. ``X_val`` is checked
    against the model (width, [0, 1] for a Bernoulli likelihood) at every call.
    """
    X_val = X_val.detach()

    def callback(t: int, model: VAE) -> dict:
        x = model._data(X_val, "X_val")
        generator = torch.Generator(device=model.device).manual_seed(seed)
        with torch.no_grad():
            value, _, _ = model._elbo(x, n_samples, generator)
        return {"val_elbo": value.mean().item()}

    return callback


# --------------------------------------------------------------------------- linear Gaussian
_X = Tensor(ndim=2, dtype=_F64)
_Z = Tensor(ndim=(2, 3), dtype=_F64)  # (N, k) or (M, N, k)
_Q_MEAN, _Q_COV = Tensor(ndim=(1, 2), dtype=_F64), Tensor(ndim=(2, 3), dtype=_F64)


class LinearGaussian:
    """The linear-Gaussian latent-variable model (probabilistic PCA, Tipping & Bishop 1999):

        p(z) = N(z | 0, I_k),   p(x | z) = N(x | W z + b, sigma2 I_d).

    Everything the VAE approximates has a closed form here:

    - marginal    p(x)     = N(x | b, W W^T + sigma2 I)
    - posterior   p(z | x) = N(z | M^-1 W^T (x - b), sigma2 M^-1),  M = W^T W + sigma2 I_k
    - the ELBO of any Gaussian q(z) = N(m, S):
      E_q[log p(x | z)] = -(d/2) log(2 pi sigma2) - (||x - W m - b||^2 + tr(W^T W S)) / (2 sigma2)
      E_q[log p(z)]     = -(k/2) log(2 pi) - (||m||^2 + tr S) / 2
      H[q]              = (k/2) log(2 pi e) + (1/2) log|S|

    Parameters
    ----------
    W : (d, k) loading matrix
    b : (d,) offset
    sigma2 : noise variance, one number > 0

    Stored as float64 CPU tensors (a tensor argument that requires grad keeps its graph, so
    the ELBO can be differentiated with respect to the parameters). Data and codes given to
    the methods are cast to float64 on the CPU.
    """

    @validate(
        W=Tensor(ndim=2, dtype=_F64),
        b=Tensor(ndim=1, dtype=_F64),
        sigma2=Tensor(ndim=0, dtype=_F64),
    )
    def __init__(self, W: TensorLike, b: TensorLike, sigma2: float | torch.Tensor):
        # (_validation's Array returns a 0-d input with shape (1,): one number either way)
        W, b, sigma2 = W.to(_CPU), b.to(_CPU), sigma2.to(_CPU).reshape(())
        d, k = W.shape
        if b.shape != (d,):
            raise ValueError(
                f"b must have shape ({d},) (the rows of W); got shape {tuple(b.shape)}"
            )
        if not bool(sigma2 > 0):
            raise ValueError(f"sigma2 must be a number > 0 (a variance); got {float(sigma2)}")
        with torch.no_grad():  # the marginal and posterior covariances must be usable
            for C in (
                W @ W.T + sigma2 * torch.eye(d, dtype=_F64),
                W.T @ W + sigma2 * torch.eye(k, dtype=_F64),
            ):
                if bool(torch.linalg.cholesky_ex(C).info != 0) or not bool(torch.isfinite(C).all()):
                    raise ValueError(
                        f"W and sigma2 must make W W^T + sigma2 I positive definite in float64;"
                        f" got sigma2 = {float(sigma2):.3g} with max |W_ij| ="
                        f" {float(W.abs().max()):.3g} (sigma2 too small, or W too large)"
                    )
        self.W, self.b, self.sigma2 = W, b, sigma2
        self.n_features, self.n_latent = d, k

    # ----------------------------------------------------------------- helpers
    def _x(self, x, name="x"):
        return _rows(x, name, self.n_features, _F64, _CPU)

    def _z(self, z, n=None):
        return _codes(z, "z", self.n_latent, _F64, _CPU, n)

    def _q(self, x, q_mean, q_cov):
        """Validated q_mean ((k,) or (N, k)) and q_cov ((k, k) or (N, k, k), symmetric
        positive definite) expanded to (N, k), (N, k, k), and the Cholesky factors."""
        N, k = x.shape[0], self.n_latent
        m, S = q_mean.to(_CPU), q_cov.to(_CPU)
        if m.shape not in ((k,), (N, k)):
            raise ValueError(f"q_mean must have shape ({k},) or (N={N}, {k}); got {tuple(m.shape)}")
        if S.shape not in ((k, k), (N, k, k)):
            raise ValueError(
                f"q_cov must have shape ({k}, {k}) or (N={N}, {k}, {k}); got {tuple(S.shape)}"
            )
        L, info = torch.linalg.cholesky_ex(S)
        if bool((info != 0).any()) or not bool(
            ((S - S.transpose(-2, -1)).abs() <= 1e-8 * S.abs().amax()).all()
        ):
            raise ValueError("q_cov must be symmetric positive definite")
        return m.expand(N, k), S.expand(N, k, k), L.expand(N, k, k)

    # ----------------------------------------------------------------- densities
    def marginal_cov(self) -> torch.Tensor:
        """W W^T + sigma2 I, shape (d, d)."""
        return self.W @ self.W.T + self.sigma2 * torch.eye(self.n_features, dtype=_F64)

    def marginal(self) -> MultivariateNormal:
        """p(x) = N(b, W W^T + sigma2 I) as a MultivariateNormal."""
        return MultivariateNormal(self.b, covariance_matrix=self.marginal_cov())

    @validate(x=_X)
    def log_marginal(self, x: TensorLike) -> torch.Tensor:
        """Exact log p(x | theta) = log N(x | b, W W^T + sigma2 I): x (N, d) -> (N,)."""
        return _finite(self.marginal().log_prob(self._x(x)), "the values of x are")

    @validate(x=_X, z=_Z)
    def log_likelihood(self, x: TensorLike, z: TensorLike) -> torch.Tensor:
        """log p(x | z) = log N(x | W z + b, sigma2 I); x (N, d), z (N, k) or (M, N, k) ->
        (N,) or (M, N)."""
        x = self._x(x)
        return _finite(self._log_likelihood(x, self._z(z, x.shape[0])), "x and z are")

    def _log_likelihood(self, x, z):
        r = x - (z @ self.W.T + self.b)
        return -0.5 * (
            (r * r).sum(-1) / self.sigma2 + self.n_features * torch.log(2.0 * math.pi * self.sigma2)
        )

    @validate(x=_X, z=_Z)
    def log_joint(self, x: TensorLike, z: TensorLike) -> torch.Tensor:
        """log p(x, z) = log p(x | z) + log p(z) (VA1); shapes as ``log_likelihood``."""
        x = self._x(x)
        z = self._z(z, x.shape[0])
        return _finite(self._log_likelihood(x, z) + _log_standard_normal(z), "x and z are")

    @validate(x=_X)
    def posterior(self, x: TensorLike) -> MultivariateNormal:
        """The exact posterior p(z | x, theta) (VA4) as a MultivariateNormal, batch shape (N,).

        mean = M^-1 W^T (x - b), covariance = sigma2 M^-1 (the same for every x),
        M = W^T W + sigma2 I_k.
        """
        return self._posterior(self._x(x))

    def _posterior(self, x):
        M = self.W.T @ self.W + self.sigma2 * torch.eye(self.n_latent, dtype=_F64)
        L = torch.linalg.cholesky(M)
        mean = torch.cholesky_solve(((x - self.b) @ self.W).T, L).T  # (N, k)
        cov = self.sigma2 * torch.cholesky_inverse(L)
        cov = 0.5 * (cov + cov.T)
        return MultivariateNormal(mean, covariance_matrix=cov.expand(x.shape[0], -1, -1))

    # ----------------------------------------------------------------- ELBO
    @validate(x=_X, q_mean=_Q_MEAN, q_cov=_Q_COV)
    def reconstruction(self, x: TensorLike, q_mean: TensorLike, q_cov: TensorLike) -> torch.Tensor:
        """Exact E_{z ~ N(q_mean, q_cov)}[log p(x | z)], shape (N,) (the first term of VA12);
        x (N, d), q_mean (k,) or (N, k), q_cov (k, k) or (N, k, k)."""
        x = self._x(x)
        m, S, _ = self._q(x, q_mean, q_cov)
        return _finite(self._reconstruction(x, m, S), "x, q_mean and q_cov are")

    def _reconstruction(self, x, m, S):
        r = x - (m @ self.W.T + self.b)
        trace = torch.einsum("ij,nji->n", self.W.T @ self.W, S)
        return -0.5 * (
            self.n_features * torch.log(2.0 * math.pi * self.sigma2)
            + ((r * r).sum(-1) + trace) / self.sigma2
        )

    @validate(x=_X, q_mean=_Q_MEAN, q_cov=_Q_COV)
    def elbo(self, x: TensorLike, q_mean: TensorLike, q_cov: TensorLike) -> torch.Tensor:
        """Exact ELBO(q, x | theta) for a Gaussian q(z) = N(q_mean, q_cov), shape (N,) (VA3).

        q_mean : (k,) or (N, k); q_cov : (k, k) or (N, k, k), symmetric positive definite.
        ELBO = E_q[log p(x | z)] + E_q[log p(z)] + H[q], each term in closed form.
        """
        x = self._x(x)
        m, S, L = self._q(x, q_mean, q_cov)
        k = self.n_latent
        prior = -0.5 * (
            k * _LOG_2PI + (m * m).sum(-1) + torch.diagonal(S, dim1=-2, dim2=-1).sum(-1)
        )
        log_det = torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)  # (1/2) log|S|
        entropy = 0.5 * k * (_LOG_2PI + 1.0) + log_det
        value = self._reconstruction(x, m, S) + prior + entropy
        return _finite(value, "x, q_mean and q_cov are")

    # ----------------------------------------------------------------- sampling and EM
    @torch.no_grad()
    @validate(n=Integer(1), generator=Generator(), return_latent=Flag())
    def sample(
        self, n: int, generator: torch.Generator | None = None, return_latent: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Ancestral sampling (VA1): z ~ N(0, I), then x ~ N(W z + b, sigma2 I).

        All randomness from ``generator`` (a CPU torch.Generator, or None: torch's global
        generator). Returns x of shape (n, d), and z of shape (n, k) as well if
        ``return_latent``.
        """
        _same_device(generator, _CPU)
        z = torch.randn((n, self.n_latent), generator=generator, dtype=_F64)
        e = torch.randn((n, self.n_features), generator=generator, dtype=_F64)
        x = z @ self.W.T + self.b + torch.sqrt(self.sigma2) * e
        return (x, z) if return_latent else x

    @validate(X=_X, q_mean=Optional(_Q_MEAN), q_cov=Optional(_Q_COV))
    def em_step(
        self, X: TensorLike, q_mean: TensorLike | None = None, q_cov: TensorLike | None = None
    ) -> LinearGaussian:
        """One EM iteration on data X (N, d); returns a new ``LinearGaussian`` (VA2).

        E-step: q_n = p(z | x^(n), theta_old) (the KL term of VA2 becomes 0). Passing
        ``q_mean`` ((k,) or (N, k)) and ``q_cov`` ((k, k) or (N, k, k)) replaces this exact
        E-step by the given Gaussians q_n = N(q_mean_n, q_cov_n) (variational EM: only the
        ELBO is then guaranteed not to decrease, not log p(x | theta)); give both or neither.
        M-step: theta_new = argmax_theta sum_n ELBO(q_n, x^(n) | theta) with the q_n fixed,
        in closed form: with z~ = [z; 1] and W~ = [W b],
        W~ = (sum_n x_n E[z~_n]^T)(sum_n E[z~_n z~_n^T])^-1
        and sigma2 = (1 / (N d)) sum_n E||x_n - W~ z~_n||^2.
        """
        if (q_mean is None) != (q_cov is None):
            raise ValueError(
                "give both q_mean and q_cov (a variational E-step) or neither "
                f"(the exact E-step); got q_mean={'None' if q_mean is None else 'given'},"
                f" q_cov={'None' if q_cov is None else 'given'}"
            )
        with torch.no_grad():
            X = self._x(X, "X")
            N, d = X.shape
            k = self.n_latent
            if q_mean is None:
                post = self._posterior(X)
                m, S_sum = post.mean, N * post.covariance_matrix[0]
            else:
                m, S_n, _ = self._q(X, q_mean, q_cov)
                m, S_sum = m.detach(), S_n.detach().sum(0)
            Ez = torch.cat([m, torch.ones(N, 1, dtype=_F64)], dim=1)  # (N, k+1)
            Ezz = Ez.T @ Ez
            Ezz[:k, :k] += S_sum
            Wt = torch.linalg.solve(Ezz, Ez.T @ X).T  # (d, k+1)
            resid = (X * X).sum() - 2.0 * (X * (Ez @ Wt.T)).sum() + torch.trace(Wt.T @ Wt @ Ezz)
            sigma2 = resid / (N * d)
        return LinearGaussian(Wt[:, :k].clone(), Wt[:, k].clone(), sigma2)
