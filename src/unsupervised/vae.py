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
- VA12 ELBO = E_q[log p(x | z, theta)] - KL(q(z | x, phi) || p(z | theta))
- VA13 E_q[log p(x | z)] ~= (1/M) sum_m log p(x | z^(m))
- VA14 J = sum_n ( (1/M) sum_m log p(x^(n) | z^(n,m)) - KL(q(z | x^(n)) || N(0, I)) )
- VA17 KL(N(mu, sigma^2 I) || N(0, I)) = 1/2 ( tr(sigma^2 I) + mu^T mu - k - log|sigma^2 I| )
- VA18 z = mu_I + sigma_I * eps, eps ~ N(0, I)
- VA19 with p(x | z) = N(x | mu_G, I): J = -1/2 ||x - mu_G||^2 - (d/2) log 2 pi - KL(...)
       (the source prints -||x - mu_G||^2 + KL(...): wrong sign and scale)

Sign convention: the ELBO and every log-likelihood here is a quantity to MAXIMISE; the
loss that ``train`` minimises is ``-elbo.mean()`` (the mean over a mini-batch, the source's
J(phi, theta | D) divided by the batch size).

Shapes: data ``x`` (N, d), one sample per row; latent codes ``z`` (N, k), or (M, N, k) for
M Monte Carlo samples per data point. Per-sample quantities (log-densities, ELBO, KL) have
shape (N,): they are summed over the data and latent dimensions, never averaged.
The networks are float32 by default and run on the CPU unless a ``device`` is given.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Independent, MultivariateNormal, Normal

from ._validation import check_int as _check_int
from ._validation import check_positive as _check_positive

__all__ = [
    "reparameterize",
    "kl_standard_normal",
    "InferenceNetwork",
    "GenerativeNetwork",
    "VAE",
    "train",
    "LinearGaussian",
]

_LOG_2PI = math.log(2.0 * math.pi)
_ACTIVATIONS = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


# --------------------------------------------------------------------------- validation
def _as_tensor(value, name, dtype=None, device=None):
    """``value`` (tensor, array or nested list) as a finite floating tensor, or ValueError."""
    if isinstance(value, torch.Tensor):
        t = value
    else:
        try:
            t = torch.as_tensor(np.asarray(value, dtype=np.float64))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be a numeric array; got {value!r:.80}") from err
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if dtype is not None or device is not None:
        t = t.to(dtype=dtype or t.dtype, device=device or t.device)
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return t


def _check_batch(x, name, n_features, dtype=None, device=None):
    """Data ``x`` as a tensor of shape (N, n_features), N >= 1, or ValueError."""
    x = _as_tensor(x, name, dtype, device)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] != n_features:
        hint = " (for one sample pass x.reshape(1, -1))" if x.ndim == 1 else ""
        raise ValueError(
            f"{name} must have shape (N, {n_features}){hint}; got shape {tuple(x.shape)}"
        )
    return x


def _check_mu_sigma(mu, sigma):
    """Validate a diagonal Gaussian's mean and standard deviation (same shape, sigma > 0)."""
    mu = _as_tensor(mu, "mu")
    sigma = _as_tensor(sigma, "sigma")
    if sigma.shape != mu.shape:
        raise ValueError(
            f"sigma must have the shape of mu {tuple(mu.shape)}; got shape {tuple(sigma.shape)}"
        )
    if mu.ndim < 1:
        raise ValueError(f"mu must have shape (..., k); got shape {tuple(mu.shape)}")
    if not bool((sigma > 0).all()):
        raise ValueError("sigma must be > 0 everywhere (it is a standard deviation)")
    return mu, sigma


def _log_normal_diag(z, mu, sigma):
    """log N(z | mu, diag(sigma^2)), summed over the last dimension."""
    return -0.5 * (((z - mu) / sigma) ** 2 + 2.0 * torch.log(sigma) + _LOG_2PI).sum(-1)


def _log_standard_normal(z):
    """log N(z | 0, I), summed over the last dimension."""
    return -0.5 * (z * z + _LOG_2PI).sum(-1)


def _seeded(seed):
    """A fresh CPU generator seeded with ``seed`` (no global random state is touched)."""
    return torch.Generator().manual_seed(int(seed))


# --------------------------------------------------------------------------- VA17, VA18
def reparameterize(mu, sigma, generator=None, n_samples=None):
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
    mu, sigma = _check_mu_sigma(mu, sigma)
    shape = mu.shape
    if n_samples is not None:
        shape = (_check_int(n_samples, "n_samples", 1), *shape)
    eps = torch.randn(shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + sigma * eps


def kl_standard_normal(mu, sigma):
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
    mu, sigma = _check_mu_sigma(mu, sigma)
    return 0.5 * (sigma * sigma + mu * mu - 1.0 - 2.0 * torch.log(sigma)).sum(-1)


# --------------------------------------------------------------------------- networks
def _activation(name):
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}; got {name!r}")
    return _ACTIVATIONS[name]


class InferenceNetwork(nn.Module):
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

    Attributes ``hidden`` (W1, b1), ``mean`` (W2, b2), ``std`` (W3, b3) are ``nn.Linear``
    layers; ``W.weight`` has shape (out, in), so ``W1 x`` is ``x @ hidden.weight.T``.
    """

    def __init__(self, n_features, n_latent, n_hidden, activation="sigmoid"):
        super().__init__()
        self.n_features = _check_int(n_features, "n_features", 1)
        self.n_latent = _check_int(n_latent, "n_latent", 1)
        n_hidden = _check_int(n_hidden, "n_hidden", 1)
        self.activation = activation
        self._act = _activation(activation)
        self.hidden = nn.Linear(self.n_features, n_hidden)  # W1, b1
        self.mean = nn.Linear(n_hidden, self.n_latent)  # W2, b2
        self.std = nn.Linear(n_hidden, self.n_latent)  # W3, b3

    def forward(self, x):
        """x (N, d) -> (mu_I, sigma_I), each of shape (N, k)."""
        h = self._act(self.hidden(x))
        return self.mean(h), F.softplus(self.std(h))

    def distribution(self, x):
        """q(z | x, phi) as a torch distribution with batch shape (N,) and event shape (k,)."""
        mu, sigma = self(x)
        return Independent(Normal(mu, sigma), 1)


class GenerativeNetwork(nn.Module):
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
    sigma2 : the fixed variance of the Gaussian likelihood (ignored for Bernoulli)
    activation : "sigmoid", "tanh" or "relu"
    """

    def __init__(
        self,
        n_latent,
        n_features,
        n_hidden,
        likelihood="bernoulli",
        sigma2=1.0,
        activation="sigmoid",
    ):
        super().__init__()
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian'; got {likelihood!r}")
        self.n_latent = _check_int(n_latent, "n_latent", 1)
        self.n_features = _check_int(n_features, "n_features", 1)
        n_hidden = _check_int(n_hidden, "n_hidden", 1)
        self.likelihood = likelihood
        self.sigma2 = _check_positive(sigma2, "sigma2")
        self.activation = activation
        self._act = _activation(activation)
        self.hidden = nn.Linear(self.n_latent, n_hidden)  # W4, b4
        self.out = nn.Linear(n_hidden, self.n_features)  # W5, b5

    def _output(self, z):
        return self.out(self._act(self.hidden(z)))

    def forward(self, z):
        """z (..., k) -> mu_G (..., d): Bernoulli probabilities or the Gaussian mean."""
        a = self._output(z)
        return torch.sigmoid(a) if self.likelihood == "bernoulli" else a

    def log_prob(self, x, z):
        """log p(x | z, theta), summed over the d data dimensions.

        x has shape (N, d); z has shape (N, k) or (M, N, k) (M latent samples per row of x).
        Returns shape (N,) or (M, N). Bernoulli: sum_i x_i a_i - softplus(a_i) (stable form of
        x log mu + (1 - x) log(1 - mu)); Gaussian: -||x - mu_G||^2 / (2 sigma2) - (d/2) log(2 pi sigma2).
        """
        a = self._output(z)
        if self.likelihood == "bernoulli":
            return (x * a - F.softplus(a)).sum(-1)
        return -0.5 * (
            ((x - a) ** 2).sum(-1) / self.sigma2
            + self.n_features * math.log(2.0 * math.pi * self.sigma2)
        )

    def sample(self, z, generator=None):
        """Draw x ~ p(x | z, theta) for each row of z: shape (..., d)."""
        mu = self(z)
        if self.likelihood == "bernoulli":
            return torch.bernoulli(mu, generator=generator)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + math.sqrt(self.sigma2) * eps


class VAE(nn.Module):
    """Variational autoencoder: an ``InferenceNetwork`` q(z | x, phi) = N(mu_I, sigma_I^2 I),
    a ``GenerativeNetwork`` p(x | z, theta) and the prior p(z) = N(0, I) (Kingma & Welling 2014).

    Parameters
    ----------
    n_features : d (64 for scikit-learn's 8x8 digits, 784 for MNIST)
    n_latent : k
    n_hidden : width of the hidden layer of both networks
    likelihood : "bernoulli" (binary x) or "gaussian" (N(x | mu_G, sigma2 I))
    sigma2 : variance of the Gaussian likelihood (the source uses 1)
    activation : hidden-layer activation of both networks ("sigmoid" as in the source)
    seed : seed of the initial weights (drawn with a private generator state; the global
        torch RNG is left as it was)
    device : where the parameters live (default CPU); "cuda" in Colab
    dtype : parameter dtype (default float32; float64 for exact checks)

    Every method accepts NumPy arrays or tensors for x and moves them to the model's
    device and dtype. Per-sample results have shape (N,).
    """

    def __init__(
        self,
        n_features,
        n_latent=2,
        n_hidden=128,
        likelihood="bernoulli",
        sigma2=1.0,
        activation="sigmoid",
        seed=0,
        device=None,
        dtype=torch.float32,
    ):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.encoder = InferenceNetwork(n_features, n_latent, n_hidden, activation)
            self.decoder = GenerativeNetwork(
                n_latent, n_features, n_hidden, likelihood, sigma2, activation
            )
        self.to(device=device or "cpu", dtype=dtype)

    # ----------------------------------------------------------------- properties
    @property
    def n_features(self):
        return self.encoder.n_features

    @property
    def n_latent(self):
        return self.encoder.n_latent

    @property
    def device(self):
        return next(self.parameters()).device

    @property
    def dtype(self):
        return next(self.parameters()).dtype

    def _data(self, x, name="x"):
        x = _check_batch(x, name, self.n_features, self.dtype, self.device)
        if self.decoder.likelihood == "bernoulli" and not bool(((x >= 0) & (x <= 1)).all()):
            raise ValueError(f"{name} must lie in [0, 1] for the Bernoulli likelihood")
        return x

    # ----------------------------------------------------------------- pieces
    def encode(self, x):
        """(mu_I, sigma_I) of q(z | x, phi), each (N, k) (VA6)."""
        return self.encoder(self._data(x))

    def decode(self, z):
        """mu_G = f_G(z, theta), shape (..., d)."""
        z = _as_tensor(z, "z", self.dtype, self.device)
        if z.shape[-1:] != (self.n_latent,):
            raise ValueError(f"z must have shape (..., {self.n_latent}); got {tuple(z.shape)}")
        return self.decoder(z)

    def reconstruct(self, x):
        """mu_G at the posterior mean: f_G(mu_I(x)), shape (N, d)."""
        mu, _ = self.encode(x)
        return self.decoder(mu)

    # ----------------------------------------------------------------- objectives
    def elbo(self, x, n_samples=1, generator=None, analytic_kl=True, return_terms=False):
        """Per-sample ELBO(q, x | theta, phi), a quantity to MAXIMISE (shape (N,)).

        With M = ``n_samples`` reparameterised draws z^(m) = mu_I + sigma_I * eps^(m) (VA18):

        - ``analytic_kl=True`` (the source's VA14/VA15, the default):
          (1/M) sum_m log p(x | z^(m), theta) - KL(q(z | x, phi) || N(0, I)), KL by VA17;
        - ``analytic_kl=False`` (VA3): (1/M) sum_m log [p(x, z^(m)) / q(z^(m) | x)].

        Both are unbiased estimates of the ELBO (VA12). The first often has the lower
        variance, but not always: writing A = log p(x | z) and B = log q(z | x) - log p(z), it
        is lower exactly when var(B) > 2 cov(A, B); at q = the posterior the second form's
        integrand A - B is the constant log p(x) and has no variance at all.
        The training loss is ``-elbo(x).mean()``.

        Parameters
        ----------
        x : (N, d) data
        n_samples : M >= 1
        generator : torch.Generator on the model's device, for reproducible draws; the eps of
            all draws is one tensor of shape (M, N, k) drawn with it
        return_terms : also return the reconstruction term (1/M) sum_m log p(x | z^(m)) and the
            KL term, each (N,) (with ``analytic_kl=False`` the KL term is its Monte Carlo estimate)

        Returns
        -------
        elbo : tensor (N,), or (elbo, reconstruction, kl) with ``return_terms=True``
        """
        x = self._data(x)
        n_samples = _check_int(n_samples, "n_samples", 1)
        mu, sigma = self.encoder(x)
        z = reparameterize(mu, sigma, generator=generator, n_samples=n_samples)  # (M, N, k)
        reconstruction = self.decoder.log_prob(x, z).mean(0)
        if analytic_kl:
            kl = kl_standard_normal(mu, sigma)
        else:
            kl = (_log_normal_diag(z, mu, sigma) - _log_standard_normal(z)).mean(0)
        value = reconstruction - kl
        return (value, reconstruction, kl) if return_terms else value

    @torch.no_grad()
    def log_importance_weights(self, x, k, generator=None):
        """log w_j = log p(x, z_j) - log q(z_j | x) for z_j ~ q(z | x), j = 1..k: shape (k, N)."""
        x = self._data(x)
        k = _check_int(k, "k", 1)
        mu, sigma = self.encoder(x)
        z = reparameterize(mu, sigma, generator=generator, n_samples=k)
        return (
            self.decoder.log_prob(x, z) + _log_standard_normal(z) - _log_normal_diag(z, mu, sigma)
        )

    @torch.no_grad()
    def log_likelihood_iw(self, x, k, generator=None, chunk_size=None):
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
        k = _check_int(k, "k", 1)
        if chunk_size is None:
            width = max(self.n_features, self.encoder.hidden.out_features)
            chunk_size = max(1, min(k, 2**24 // (x.shape[0] * width)))
        chunk_size = _check_int(chunk_size, "chunk_size", 1)
        parts, left = [], k
        while left > 0:
            m = min(chunk_size, left)
            parts.append(torch.logsumexp(self.log_importance_weights(x, m, generator), dim=0))
            left -= m
        return torch.logsumexp(torch.stack(parts), dim=0) - math.log(k)

    @torch.no_grad()
    def sample(self, n, generator=None, mean=False, return_latent=False):
        """Generate n samples in two steps (VA1): z ~ p(z) = N(0, I), then x ~ p(x | z, theta).

        ``mean=True`` returns mu_G = f_G(z) instead of a draw from p(x | z) (smoother images).
        Returns x of shape (n, d), and z of shape (n, k) if ``return_latent``.
        """
        n = _check_int(n, "n", 1)
        z = torch.randn(
            (n, self.n_latent), generator=generator, dtype=self.dtype, device=self.device
        )
        x = self.decoder(z) if mean else self.decoder.sample(z, generator=generator)
        return (x, z) if return_latent else x


# --------------------------------------------------------------------------- training
def train(
    model,
    X,
    X_val=None,
    *,
    epochs=100,
    batch_size=100,
    lr=1e-3,
    n_samples=1,
    seed=0,
    progress=False,
    device=None,
):
    """Train a ``VAE`` by stochastic gradient ascent on the ELBO (Adam on ``-elbo.mean()``).

    Each epoch shuffles X, and for each mini-batch takes one Adam step on the negative mean
    ELBO estimated with ``n_samples`` reparameterised draws per sample (VA14; M = 1 is VA15).
    All randomness (shuffling, eps) comes from generators seeded with ``seed``: the same
    call on the same model gives the same history.

    Parameters
    ----------
    model : VAE (trained in place)
    X : (N, d) training data (NumPy array or tensor); moved to the device once
    X_val : optional (N_val, d) held-out data, evaluated after every epoch
    epochs, batch_size, lr : optimisation settings
    n_samples : M, latent draws per sample in the training objective
    seed : seed of the shuffling and sampling generators
    progress : show a tqdm progress bar with the current ELBO
    device : move the model there first (e.g. "cuda"); default: where the model is

    Returns
    -------
    history : dict of lists, one entry per epoch: "epoch", "train_elbo" (mean per-sample ELBO
        over the epoch's mini-batches, measured during training), "train_reconstruction",
        "train_kl", "val_elbo" (mean per-sample ELBO on X_val, one latent draw per sample
        from a generator reset every epoch; only with X_val) and "seconds" (cumulative).
    """
    if not isinstance(model, VAE):
        raise ValueError(f"model must be a VAE; got {type(model).__name__}")
    if device is not None:
        model.to(device)
    epochs = _check_int(epochs, "epochs", 1)
    batch_size = _check_int(batch_size, "batch_size", 1)
    lr = _check_positive(lr, "lr")
    n_samples = _check_int(n_samples, "n_samples", 1)
    X = model._data(X, "X")
    if X_val is not None:
        X_val = model._data(X_val, "X_val")
    dev = model.device
    shuffle_gen = _seeded(seed)
    sample_gen = torch.Generator(device=dev).manual_seed(int(seed) + 1)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    history = {
        "epoch": [],
        "train_elbo": [],
        "train_reconstruction": [],
        "train_kl": [],
        "seconds": [],
    }
    if X_val is not None:
        history["val_elbo"] = []
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency; keep training possible without it

        def tqdm(iterable, **_):
            return iterable

    bar = tqdm(range(1, epochs + 1), disable=not progress, desc="VAE", unit="epoch")
    start = time.perf_counter()
    N = X.shape[0]
    for epoch in bar:
        order = torch.randperm(N, generator=shuffle_gen).to(dev)
        totals = torch.zeros(3, dtype=torch.float64, device=dev)
        for i in range(0, N, batch_size):
            xb = X[order[i : i + batch_size]]
            elbo, rec, kl = model.elbo(
                xb, n_samples=n_samples, generator=sample_gen, return_terms=True
            )
            loss = -elbo.mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            totals += torch.stack([elbo.sum(), rec.sum(), kl.sum()]).detach().double()
        totals = (totals / N).tolist()
        history["epoch"].append(epoch)
        history["train_elbo"].append(totals[0])
        history["train_reconstruction"].append(totals[1])
        history["train_kl"].append(totals[2])
        postfix = {"train ELBO": f"{totals[0]:.2f}"}
        if X_val is not None:
            with torch.no_grad():
                val_gen = torch.Generator(device=dev).manual_seed(int(seed) + 2)
                val = model.elbo(X_val, generator=val_gen).mean().item()
            history["val_elbo"].append(val)
            postfix["val ELBO"] = f"{val:.2f}"
        history["seconds"].append(time.perf_counter() - start)
        if progress:
            bar.set_postfix(postfix)
    return history


# --------------------------------------------------------------------------- linear Gaussian
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
    sigma2 : noise variance, > 0

    Stored as float64 tensors (a tensor argument that requires grad keeps its graph, so the
    ELBO can be differentiated with respect to the parameters).
    """

    def __init__(self, W, b, sigma2):
        W = _as_tensor(W, "W", torch.float64)
        if W.ndim != 2:
            raise ValueError(f"W must have shape (d, k); got shape {tuple(W.shape)}")
        d, k = W.shape
        b = _as_tensor(b, "b", torch.float64)
        if b.shape != (d,):
            raise ValueError(
                f"b must have shape ({d},) (the rows of W); got shape {tuple(b.shape)}"
            )
        sigma2 = _as_tensor(sigma2, "sigma2", torch.float64)
        if sigma2.numel() != 1 or not bool(sigma2 > 0):
            raise ValueError(f"sigma2 must be one positive number; got {sigma2.detach().tolist()}")
        self.W, self.b, self.sigma2 = W, b, sigma2.reshape(())
        self.n_features, self.n_latent = d, k

    # ----------------------------------------------------------------- helpers
    def _x(self, x):
        return _check_batch(x, "x", self.n_features, torch.float64)

    def _z(self, z):
        z = _as_tensor(z, "z", torch.float64)
        if z.shape[-1:] != (self.n_latent,):
            raise ValueError(f"z must have shape (..., {self.n_latent}); got {tuple(z.shape)}")
        return z

    def _q(self, x, q_mean, q_cov):
        N, k = x.shape[0], self.n_latent
        m = _as_tensor(q_mean, "q_mean", torch.float64)
        if m.shape not in ((k,), (N, k)):
            raise ValueError(f"q_mean must have shape ({k},) or (N={N}, {k}); got {tuple(m.shape)}")
        S = _as_tensor(q_cov, "q_cov", torch.float64)
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
    def marginal_cov(self):
        """W W^T + sigma2 I, shape (d, d)."""
        return self.W @ self.W.T + self.sigma2 * torch.eye(self.n_features, dtype=torch.float64)

    def marginal(self):
        """p(x) = N(b, W W^T + sigma2 I) as a MultivariateNormal."""
        return MultivariateNormal(self.b, covariance_matrix=self.marginal_cov())

    def log_marginal(self, x):
        """Exact log p(x | theta) = log N(x | b, W W^T + sigma2 I): x (N, d) -> (N,)."""
        return self.marginal().log_prob(self._x(x))

    def log_likelihood(self, x, z):
        """log p(x | z) = log N(x | W z + b, sigma2 I); x (N, d), z (N, k) or (M, N, k)."""
        x, z = self._x(x), self._z(z)
        r = x - (z @ self.W.T + self.b)
        return -0.5 * (
            (r * r).sum(-1) / self.sigma2 + self.n_features * torch.log(2.0 * math.pi * self.sigma2)
        )

    def log_joint(self, x, z):
        """log p(x, z) = log p(x | z) + log p(z) (VA1)."""
        return self.log_likelihood(x, z) + _log_standard_normal(self._z(z))

    def posterior(self, x):
        """The exact posterior p(z | x, theta) (VA4) as a MultivariateNormal, batch shape (N,).

        mean = M^-1 W^T (x - b), covariance = sigma2 M^-1 (the same for every x),
        M = W^T W + sigma2 I_k.
        """
        x = self._x(x)
        M = self.W.T @ self.W + self.sigma2 * torch.eye(self.n_latent, dtype=torch.float64)
        L = torch.linalg.cholesky(M)
        mean = torch.cholesky_solve(((x - self.b) @ self.W).T, L).T  # (N, k)
        cov = self.sigma2 * torch.cholesky_inverse(L)
        cov = 0.5 * (cov + cov.T)
        return MultivariateNormal(mean, covariance_matrix=cov.expand(x.shape[0], -1, -1))

    # ----------------------------------------------------------------- ELBO
    def reconstruction(self, x, q_mean, q_cov):
        """Exact E_{z ~ N(q_mean, q_cov)}[log p(x | z)], shape (N,) (the first term of VA12)."""
        x = self._x(x)
        m, S, _ = self._q(x, q_mean, q_cov)
        r = x - (m @ self.W.T + self.b)
        trace = torch.einsum("ij,nji->n", self.W.T @ self.W, S)
        return -0.5 * (
            self.n_features * torch.log(2.0 * math.pi * self.sigma2)
            + ((r * r).sum(-1) + trace) / self.sigma2
        )

    def elbo(self, x, q_mean, q_cov):
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
        entropy = 0.5 * k * (_LOG_2PI + 1.0) + torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(
            -1
        )
        return self.reconstruction(x, m, S) + prior + entropy

    # ----------------------------------------------------------------- sampling and EM
    def sample(self, n, generator=None):
        """Ancestral sampling (VA1): z ~ N(0, I), then x ~ N(W z + b, sigma2 I).

        Returns (x, z) with shapes (n, d) and (n, k).
        """
        n = _check_int(n, "n", 1)
        with torch.no_grad():
            z = torch.randn((n, self.n_latent), generator=generator, dtype=torch.float64)
            e = torch.randn((n, self.n_features), generator=generator, dtype=torch.float64)
            x = z @ self.W.T + self.b + torch.sqrt(self.sigma2) * e
        return x, z

    def em_step(self, X, q_mean=None, q_cov=None):
        """One EM iteration on data X (N, d); returns a new ``LinearGaussian``.

        E-step: q_n = p(z | x^(n), theta_old) (the KL term of VA2 becomes 0). Passing
        ``q_mean`` ((k,) or (N, k)) and ``q_cov`` ((k, k) or (N, k, k)) replaces this exact E-step
        by the given Gaussians q_n = N(q_mean_n, q_cov_n) (variational EM: only the ELBO is then
        guaranteed not to decrease, not log p(x | theta)); give both or neither.
        M-step: theta_new = argmax_theta sum_n ELBO(q_n, x^(n) | theta) with the q_n fixed, in
        closed form: with z~ = [z; 1] and W~ = [W b], W~ = (sum_n x_n E[z~_n]^T)(sum_n E[z~_n z~_n^T])^-1
        and sigma2 = (1 / (N d)) sum_n E||x_n - W~ z~_n||^2.
        """
        if (q_mean is None) != (q_cov is None):
            raise ValueError(
                "give both q_mean and q_cov (a variational E-step) or neither "
                f"(the exact E-step); got q_mean={'None' if q_mean is None else 'given'},"
                f" q_cov={'None' if q_cov is None else 'given'}"
            )
        with torch.no_grad():
            X = self._x(X)
            N, d = X.shape
            k = self.n_latent
            if q_mean is None:
                post = self.posterior(X)
                m, S_sum = post.mean, N * post.covariance_matrix[0]
            else:
                m, S_n, _ = self._q(X, q_mean, q_cov)
                m, S_sum = m.detach(), S_n.detach().sum(0)
            Ez = torch.cat([m, torch.ones(N, 1, dtype=torch.float64)], dim=1)  # (N, k+1)
            Ezz = Ez.T @ Ez
            Ezz[:k, :k] += S_sum
            Wt = torch.linalg.solve(Ezz, Ez.T @ X).T  # (d, k+1)
            resid = (X * X).sum() - 2.0 * (X * (Ez @ Wt.T)).sum() + torch.trace(Wt.T @ Wt @ Ezz)
            sigma2 = resid / (N * d)
        return LinearGaussian(Wt[:, :k].clone(), Wt[:, k].clone(), sigma2)
