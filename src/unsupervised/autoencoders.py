"""Autoencoders: plain, linear (= PCA), sparse, stacked and denoising (torch).

Formula IDs (see the book's formula index):

- AE1  encoder f: R^d -> R^p, decoder g: R^p -> R^d               (``Autoencoder``)
- AE2  L = sum_n ||x^(n) - g(f(x^(n)))||^2, the composition is g o f  (``reconstruction_loss``)
       (the source prints f o g)
- AE3  sparse AE: L = sum_n ||x^(n) - g(f(x^(n)))||^2 + eta rho(Z) + lambda ||W||^2
       (``sparse_loss``; the source prints it garbled)
- AE4  rho_hat_j = (1/N) sum_n z_j^(n)                               (``average_activation``)
- AE5  KL(rho* || rho_hat_j) = rho* log(rho*/rho_hat_j)
                               + (1 - rho*) log((1 - rho*)/(1 - rho_hat_j))  (``bernoulli_kl``)
- AE6  rho(Z) = sum_j KL(rho* || rho_hat_j), a function of the whole batch Z, not of one
       sample (``kl_sparsity``)
- AE7  denoising AE: x_tilde = m * x with m_i ~ Bernoulli(1 - mu), minimise
       ||x - g(f(x_tilde))||^2 (``mask_noise``, ``denoising_loss``); stacked AE trained
       layer by layer (``pretrain_stacked``)

Conventions (book/notation.md): a batch ``x`` has shape (N, d), one sample per row; codes
``z`` have shape (N, p). Training losses are batch means of per-sample quantities: the
source's sums over n differ by the constant factor N and have the same minimisers.
Randomness only through explicit seeds / ``torch.Generator`` objects; nothing here touches
torch's global random state. Everything runs on the CPU unless a ``device`` is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ._validation import check_int as _check_int
from ._validation import check_positive as _check_positive

__all__ = [
    "Autoencoder",
    "reconstruction_loss",
    "average_activation",
    "bernoulli_kl",
    "kl_sparsity",
    "sparse_loss",
    "mask_noise",
    "denoising_loss",
    "plain_loss",
    "train",
    "pretrain_stacked",
    "principal_angles",
]

# Inside kl_sparsity, KL(rho* || rho_hat) is evaluated exactly on [_FLOOR, 1 - _FLOOR] and
# continued outside by its tangent line there, so the penalty stays finite for a dead unit
# (always 0) or a saturated one (always 1) AND keeps a non-zero gradient. (A plain clamp of
# rho_hat would have gradient exactly 0 below the floor: no push at all on a dead unit.)
_FLOOR = 1e-6

_ACTIVATIONS = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "identity": nn.Identity,
}


# --------------------------------------------------------------------------- validation
def _check_nonnegative(value, name):
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a non-negative finite number; got {value!r}") from err
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be a non-negative finite number; got {value!r}")
    return v


def _check_rho_star(rho_star):
    try:
        r = float(rho_star)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"rho_star must be a number in the open interval (0, 1); got {rho_star!r}"
        ) from err
    if not (0.0 < r < 1.0):
        raise ValueError(f"rho_star must lie in the open interval (0, 1); got {rho_star!r}")
    return r


def _check_tensor(x, name, ndim=2):
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor; got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D tensor of shape (N, d); got shape {tuple(x.shape)}"
        )
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(
            f"{name} must have at least one row and one column; got shape {tuple(x.shape)}"
        )
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return x


def _as_tensor(X, name, dtype, device):
    """Return ``X`` (NumPy array or tensor) as a finite 2-D tensor of the given dtype/device."""
    if isinstance(X, torch.Tensor):
        T = X.detach().to(device=device, dtype=dtype)
    else:
        try:
            T = torch.as_tensor(np.asarray(X, dtype=np.float64), dtype=dtype, device=device)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be a numeric array of shape (N, d)") from err
    return _check_tensor(T, name)


def _activation(name, argument):
    if name not in _ACTIVATIONS:
        raise ValueError(f"{argument} must be one of {sorted(_ACTIVATIONS)}; got {name!r}")
    return _ACTIVATIONS[name]()


# --------------------------------------------------------------------------- AE1
class Autoencoder(nn.Module):
    """An autoencoder x -> z = f(x) -> x_hat = g(z) made of fully connected layers (AE1).

    Parameters
    ----------
    encoder_sizes : sequence of ints [d, h_1, ..., p], at least two entries: the encoder
        maps R^d to R^p through the hidden widths h_1, ...
    decoder_sizes : sequence of ints [p, ..., d] or None (default: ``encoder_sizes``
        reversed, a mirror-image decoder); must start at p and end at d
    activation : "sigmoid" (default), "tanh", "relu" or "identity"; applied after every
        encoder layer (so the code z lies in (0, 1) for "sigmoid", as the sparse
        autoencoder needs) and after every hidden decoder layer
    output_activation : the activation after the decoder's last layer: "sigmoid" (default,
        for data in [0, 1] such as the digits) or "identity" (unbounded data)
    seed : int, seed of the weight initialisation (a private ``torch.Generator``; torch's
        global random state is not used). Every weight matrix of shape (out, in) and its
        bias are drawn from U(-1/sqrt(in), 1/sqrt(in)), the range of torch's default.
    device, dtype : where the parameters live (default CPU, float32)

    With ``activation="identity"`` and ``output_activation="identity"`` and one layer each
    way this is the linear autoencoder of Baldi & Hornik (1989): z = W1 x + b1,
    x_hat = W2 z + b2, with ``W2 = model.decoder[0].weight`` of shape (d, p).

    Attributes
    ----------
    encoder, decoder : ``nn.Sequential`` of ``nn.Linear`` and activation modules
    input_dim, code_dim : d and p
    """

    def __init__(
        self,
        encoder_sizes: Sequence[int],
        decoder_sizes: Sequence[int] | None = None,
        activation: str = "sigmoid",
        output_activation: str = "sigmoid",
        seed: int = 0,
        device=None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        enc = self._check_sizes(encoder_sizes, "encoder_sizes")
        dec = (
            list(reversed(enc))
            if decoder_sizes is None
            else self._check_sizes(decoder_sizes, "decoder_sizes")
        )
        if dec[0] != enc[-1] or dec[-1] != enc[0]:
            raise ValueError(
                f"decoder_sizes must start at the code size p = {enc[-1]} and end at "
                f"the input size d = {enc[0]}; got {dec}"
            )
        _activation(activation, "activation")
        _activation(output_activation, "output_activation")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating torch.dtype; got {dtype!r}")
        generator = torch.Generator().manual_seed(_check_int(seed, "seed", 0))

        def layers(sizes, last_activation):
            modules = []
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                # skip_init: no draw from torch's global generator; ours fills the values.
                linear = nn.utils.skip_init(nn.Linear, n_in, n_out, dtype=torch.float64)
                bound = 1.0 / math.sqrt(n_in)
                with torch.no_grad():
                    linear.weight.copy_(
                        (2 * torch.rand(n_out, n_in, generator=generator, dtype=torch.float64) - 1)
                        * bound
                    )
                    linear.bias.copy_(
                        (2 * torch.rand(n_out, generator=generator, dtype=torch.float64) - 1)
                        * bound
                    )
                modules.append(linear)
                last = i == len(sizes) - 2
                modules.append(_activation(last_activation if last else activation, ""))
            return nn.Sequential(*modules)

        self.encoder = layers(enc, activation)
        self.decoder = layers(dec, output_activation)
        self.encoder_sizes, self.decoder_sizes = enc, dec
        self.activation, self.output_activation = activation, output_activation
        self.input_dim, self.code_dim = enc[0], enc[-1]
        self.to(device=device, dtype=dtype)

    @staticmethod
    def _check_sizes(sizes, name):
        try:
            sizes = list(sizes)
        except TypeError as err:
            raise ValueError(
                f"{name} must be a sequence of positive integers; got {sizes!r}"
            ) from err
        if len(sizes) < 2 or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in sizes
        ):
            raise ValueError(
                f"{name} must hold at least two positive integers [in, ..., out]; got {sizes!r}"
            )
        return [int(s) for s in sizes]

    @property
    def device(self):
        return next(self.parameters()).device

    @property
    def dtype(self):
        return next(self.parameters()).dtype

    @staticmethod
    def _check_input(x, name, width):
        # Shape only: this runs on every training step, and a finiteness test would force
        # a device synchronisation. ``train`` checks its data once, up front.
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != width:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name} must be a tensor of shape (N, {width}); got {shape}")
        return x

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z = f(x): (N, d) -> (N, p)."""
        return self.encoder(self._check_input(x, "x", self.input_dim))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """x_hat = g(z): (N, p) -> (N, d)."""
        return self.decoder(self._check_input(z, "z", self.code_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x_hat = (g o f)(x) = g(f(x)): first encode, then decode. (N, d) -> (N, d)."""
        return self.decode(self.encode(x))

    def weights(self) -> list[torch.Tensor]:
        """The weight matrices W of every linear layer (biases excluded), encoder first."""
        return [m.weight for m in [*self.encoder, *self.decoder] if isinstance(m, nn.Linear)]

    def weight_penalty(self) -> torch.Tensor:
        """||W||^2: the sum of the squared Frobenius norms of all weight matrices (AE3)."""
        return sum((w * w).sum() for w in self.weights())


# --------------------------------------------------------------------------- AE2
def reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of the squared reconstruction error (AE2).

    loss = (1/N) sum_n ||x^(n) - x_hat^(n)||^2: the squared error is summed over the d
    dimensions of each sample and averaged over the N samples, so the source's
    L = sum_n ||x^(n) - g(f(x^(n)))||^2 equals N * reconstruction_loss(x, model(x)).

    Parameters
    ----------
    x, x_hat : tensors of the same shape (N, d)

    Returns
    -------
    scalar tensor
    """
    _check_tensor(x, "x")
    if not isinstance(x_hat, torch.Tensor) or x_hat.shape != x.shape:
        shape = tuple(x_hat.shape) if isinstance(x_hat, torch.Tensor) else type(x_hat).__name__
        raise ValueError(f"x_hat must be a tensor of the shape of x {tuple(x.shape)}; got {shape}")
    return _reconstruction_loss(x, x_hat)


def _reconstruction_loss(x, x_hat):
    # The unchecked form used inside training loops.
    return ((x - x_hat) ** 2).sum(dim=1).mean()


def plain_loss(model: Autoencoder, x: torch.Tensor, generator=None) -> torch.Tensor:
    """The plain autoencoder's training loss: ``reconstruction_loss(x, model(x))`` (AE2).

    Follows the ``loss_fn(model, x, generator)`` contract of ``train``; ``generator`` is
    unused.
    """
    return _reconstruction_loss(x, model(x))


# --------------------------------------------------------------------------- AE4-AE6
def average_activation(z: torch.Tensor) -> torch.Tensor:
    """rho_hat_j = (1/N) sum_n z_j^(n), the mean activation of each hidden unit (AE4).

    z : tensor of shape (N, p) -> tensor of shape (p,)
    """
    return _check_tensor(z, "z").mean(dim=0)


def bernoulli_kl(rho_star, rho_hat: torch.Tensor) -> torch.Tensor:
    """KL(rho* || rho_hat) between Bernoulli(rho*) and Bernoulli(rho_hat), elementwise (AE5).

    rho* log(rho*/rho_hat) + (1 - rho*) log((1 - rho*)/(1 - rho_hat)); >= 0, zero iff
    rho_hat = rho*. Its derivative is d KL / d rho_hat = (rho_hat - rho*) / (rho_hat (1 - rho_hat)).

    Parameters
    ----------
    rho_star : float in (0, 1), the target activation
    rho_hat : tensor with values in the open interval (0, 1) (no floor here; see
        ``kl_sparsity``)

    Returns
    -------
    tensor of the shape of ``rho_hat``
    """
    r = _check_rho_star(rho_star)
    if not isinstance(rho_hat, torch.Tensor):
        raise ValueError(f"rho_hat must be a torch.Tensor; got {type(rho_hat).__name__}")
    if not torch.isfinite(rho_hat).all() or ((rho_hat <= 0) | (rho_hat >= 1)).any():
        raise ValueError("rho_hat must lie in the open interval (0, 1)")
    return _bernoulli_kl(r, rho_hat)


def _bernoulli_kl(r, q):
    # Differences of logs (log1p for the second term): exactly 0 at q == r. Rounding can
    # leave about -1e-17 where q is within ~1e-8 of r; the true value there is below 1e-16,
    # so it is clamped at 0 to keep KL >= 0 exact.
    kl = r * (math.log(r) - torch.log(q)) + (1 - r) * (math.log1p(-r) - torch.log1p(-q))
    return kl.clamp_min(0.0)


def kl_sparsity(z: torch.Tensor, rho_star, floor: float = _FLOOR) -> torch.Tensor:
    """The sparsity penalty rho(Z) = sum_j KL(rho* || rho_hat_j) of a batch of codes (AE6).

    rho_hat_j is the mean activation of unit j over the batch (AE4), so the penalty is a
    function of the whole batch Z, not of one sample: changing any z^(m) changes it for
    every n.

    Exact for rho_hat_j in [floor, 1 - floor]. Outside that range (a unit that is almost
    always off, or always on) KL(rho* || .) is continued by its tangent line at the nearest
    end c of the range, KL(rho* || c) + KL'(c) (rho_hat_j - c) with
    KL'(c) = (c - rho*) / (c (1 - c)): the value stays finite (log 0 is never taken) and the
    derivative with respect to rho_hat_j is KL'(c), not 0. The continued function is still
    convex and continuously differentiable. A plain clamp of rho_hat would have zero
    gradient below the floor, so the penalty could not push a dead unit back at all.

    Parameters
    ----------
    z : tensor of shape (N, p) with values in [0, 1] (sigmoid activations)
    rho_star : float in the open interval (0, 1)
    floor : float in (0, 1/2), with floor < min(rho_star, 1 - rho_star)

    Returns
    -------
    scalar tensor
    """
    r = _check_rho_star(rho_star)
    _check_tensor(z, "z")
    if ((z < 0) | (z > 1)).any():
        raise ValueError(
            "z must hold activations in [0, 1] (e.g. sigmoid outputs): rho_hat_j "
            "is read as the probability that unit j is active"
        )
    if (
        isinstance(floor, bool)
        or not isinstance(floor, (int, float))
        or not 0 < floor < min(r, 1 - r)
    ):
        raise ValueError(
            f"floor must be a number in (0, min(rho_star, 1 - rho_star)); got {floor!r}"
        )
    return _kl_sparsity(z, r, float(floor))


def _kl_sparsity(z, r, floor=_FLOOR):
    # The unchecked form used inside training loops (r already validated).
    mean = z.mean(dim=0)
    rho_hat = mean.clamp(floor, 1 - floor)  # the mean itself inside the exact range
    # The tangent continuation KL'(c) (mean - c) at the nearest end c of the range. Inside
    # the range mean - rho_hat == 0 exactly, so value and gradient are those of KL itself;
    # outside, the clamp's gradient is 0 and the gradient is the tangent's slope KL'(c).
    tangent = (rho_hat - r) / (rho_hat * (1 - rho_hat)) * (mean - rho_hat)
    return _bernoulli_kl(r, rho_hat).sum() + tangent.sum()


def sparse_loss(eta: float, rho_star: float, lam: float = 0.0) -> Callable:
    """The sparse autoencoder's loss (AE3) as a ``loss_fn(model, x, generator)`` for ``train``.

    loss = (1/N) sum_n ||x^(n) - g(f(x^(n)))||^2 + eta * rho(Z) + lam * ||W||^2,

    with rho(Z) = ``kl_sparsity(f(x), rho_star)`` computed once on the batch (AE6) and
    ||W||^2 = ``model.weight_penalty()`` (weights only, not biases). Compared with the
    source's sum over n, the reconstruction term is divided by N; rescale eta and lam by N
    to compare with a sum-form loss.
    """
    eta = _check_nonnegative(eta, "eta")
    lam = _check_nonnegative(lam, "lam")
    r = _check_rho_star(rho_star)

    def loss_fn(model, x, generator=None):
        z = model.encode(x)
        loss = _reconstruction_loss(x, model.decode(z))
        if eta > 0:
            loss = loss + eta * _kl_sparsity(z, r)
        if lam > 0:
            loss = loss + lam * model.weight_penalty()
        return loss

    return loss_fn


# --------------------------------------------------------------------------- AE7
def mask_noise(
    x: torch.Tensor,
    mu: float,
    generator: torch.Generator | None = None,
    exact: bool = False,
    return_mask: bool = False,
):
    """Masking noise of the denoising autoencoder (AE7): set a fraction mu of the entries to 0.

    x_tilde = m * x. With ``exact=False`` every entry is dropped independently with
    probability mu (m_i ~ Bernoulli(1 - mu)), so the dropped fraction is mu on average,
    with variance mu (1 - mu) / (N d). With ``exact=True`` exactly round(mu * d) entries of
    every row are dropped, chosen uniformly at random (Vincent et al., 2008).

    Parameters
    ----------
    x : tensor of shape (N, d)
    mu : float in [0, 1], the fraction of entries set to 0
    generator : torch.Generator on x's device, or None (a fresh, unseeded draw)
    exact : bool, see above
    return_mask : bool, also return the boolean mask of kept entries

    Returns
    -------
    x_tilde : tensor of the shape of x (and ``keep``, a bool tensor, if ``return_mask``)
    """
    _check_tensor(x, "x")
    try:
        mu_f = float(mu)
    except (TypeError, ValueError) as err:
        raise ValueError(f"mu must be a number in [0, 1]; got {mu!r}") from err
    if not (0.0 <= mu_f <= 1.0):
        raise ValueError(f"mu must lie in [0, 1]; got {mu!r}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None; got {generator!r}")
    x_tilde, keep = _mask(x, mu_f, generator, exact)
    return (x_tilde, keep) if return_mask else x_tilde


def _mask(x, mu, generator, exact):
    # The unchecked form used inside training loops.
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if exact:
        n_drop = int(round(mu * x.shape[1]))
        rank = u.argsort(dim=1).argsort(dim=1)  # a random permutation of 0..d-1 per row
        keep = rank >= n_drop
    else:
        keep = u >= mu
    return x * keep.to(x.dtype), keep


def denoising_loss(mu: float, exact: bool = False) -> Callable:
    """The denoising autoencoder's loss (AE7) as a ``loss_fn(model, x, generator)``.

    A fresh mask is drawn for every batch from ``generator`` (the one ``train`` seeds):
    loss = (1/N) sum_n ||x^(n) - g(f(x_tilde^(n)))||^2 with x_tilde = mask_noise(x, mu):
    the corrupted input goes in, the clean input is the target.
    """
    if isinstance(mu, bool) or not (isinstance(mu, (int, float)) and 0 <= mu <= 1):
        raise ValueError(f"mu must be a number in [0, 1]; got {mu!r}")
    mu = float(mu)

    def loss_fn(model, x, generator=None):
        return _reconstruction_loss(x, model(_mask(x, mu, generator, exact)[0]))

    return loss_fn


# --------------------------------------------------------------------------- training
def train(
    model: Autoencoder,
    X,
    loss_fn: Callable | None = None,
    epochs: int = 100,
    batch_size: int | None = None,
    lr: float = 1e-2,
    seed: int = 0,
    progress: bool = False,
    device=None,
    schedule: str = "constant",
    callback: Callable | None = None,
) -> np.ndarray:
    """Train ``model`` on the rows of ``X`` with Adam; return the history of the loss.

    Parameters
    ----------
    model : Autoencoder (or any module with ``encode``/``decode``/``forward``), trained in
        place
    X : array or tensor of shape (N, d)
    loss_fn : callable ``loss_fn(model, x_batch, generator) -> scalar tensor``; default
        ``plain_loss``. ``generator`` is the training run's ``torch.Generator`` (for the
        denoising mask), so all randomness of a run comes from ``seed``.
    epochs : int >= 1, passes over the data
    batch_size : int >= 1 or None (full batch). Rows are reshuffled every epoch.
    lr : float > 0, Adam's (initial) learning rate
    seed : int, seed of the shuffling and of the generator handed to ``loss_fn``; two
        runs from equal models with the same seed give the same history
    progress : bool, show a tqdm progress bar
    device : where to train; default: the model's device (the model is moved there)
    schedule : "constant" (default) or "anneal": ``lr`` for the first 70 % of the epochs,
        then a linear decay to 0 over the last 30 %. Adam with a constant rate keeps
        jittering around a minimum (the loss can jump up by orders of magnitude of the
        remaining gap); the final decay lets it settle, which matters where the result is
        compared with a closed form (the linear autoencoder and PCA).
    callback : None or a callable ``callback(epoch, model)``, called after every epoch
        (epoch = 0, 1, ...), e.g. to record a test error along the way

    Returns
    -------
    history : float64 array of shape (epochs,), the mean training loss of every epoch
        (batch losses weighted by batch size)
    """
    epochs = _check_int(epochs, "epochs", 1)
    lr = _check_positive(lr, "lr")
    seed = _check_int(seed, "seed", 0)
    loss_fn = plain_loss if loss_fn is None else loss_fn
    if not callable(loss_fn):
        raise ValueError(f"loss_fn must be callable loss_fn(model, x, generator); got {loss_fn!r}")
    if device is not None:
        model.to(device)
    param = next(model.parameters())
    X = _as_tensor(X, "X", param.dtype, param.device)
    if X.shape[1] != model.input_dim:
        raise ValueError(
            f"X must have shape (N, {model.input_dim}) to match the model; got {tuple(X.shape)}"
        )
    N = X.shape[0]
    batch_size = N if batch_size is None else min(_check_int(batch_size, "batch_size", 1), N)

    generator = torch.Generator(device=param.device).manual_seed(seed)
    shuffle = torch.Generator().manual_seed(seed + 1)  # CPU generator for randperm
    if callback is not None and not callable(callback):
        raise ValueError(
            f"callback must be callable callback(epoch, model) or None; got {callback!r}"
        )
    if schedule not in ("constant", "anneal"):
        raise ValueError(f"schedule must be 'constant' or 'anneal'; got {schedule!r}")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = np.empty(epochs)
    model.train()
    if progress:
        from tqdm.auto import tqdm  # imported only when asked for (it warns without ipywidgets)

        bar = tqdm(range(epochs), desc="training", leave=False)
    else:
        bar = range(epochs)
    for epoch in bar:
        if schedule == "anneal":
            for group in optimizer.param_groups:
                group["lr"] = lr * min(1.0, (epochs - epoch) / (0.3 * epochs))
        order = torch.randperm(N, generator=shuffle).to(param.device) if batch_size < N else None
        total = torch.zeros((), dtype=torch.float64, device=param.device)
        for start in range(0, N, batch_size):
            xb = X if order is None else X[order[start : start + batch_size]]
            loss = loss_fn(model, xb, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * xb.shape[0]
        history[epoch] = total.item() / N  # one synchronisation per epoch
        if not math.isfinite(history[epoch]):
            raise FloatingPointError(
                f"the training loss became {history[epoch]} in epoch {epoch}; lower lr (now {lr})"
            )
        if progress:
            bar.set_postfix(loss=f"{history[epoch]:.4g}")
        if callback is not None:
            callback(epoch, model)
    model.eval()
    return history


def pretrain_stacked(
    layer_sizes: Sequence[int],
    X,
    loss_fn: Callable | None = None,
    epochs: int = 100,
    batch_size: int | None = None,
    lr: float = 1e-2,
    seed: int = 0,
    activation: str = "sigmoid",
    output_activation: str = "sigmoid",
    progress: bool = False,
    device=None,
    dtype: torch.dtype = torch.float32,
):
    """Greedy layer-wise pre-training of a stacked autoencoder (Bengio et al., 2007).

    For k = 1, ..., K (K = len(layer_sizes) - 1) a shallow autoencoder
    layer_sizes[k-1] -> layer_sizes[k] -> layer_sizes[k-1] is trained on the codes of the
    layers below it (on X for k = 1) and frozen. The trained encoders, in order, and the
    decoders, in reverse order, are then copied into one deep ``Autoencoder`` with
    ``encoder_sizes = layer_sizes``, ready to be fine-tuned end to end with ``train``.

    Parameters
    ----------
    layer_sizes : [d, h_1, ..., h_K], at least two entries
    X : array or tensor of shape (N, d)
    loss_fn, epochs, batch_size, lr, progress : as in ``train``, used for every layer
    seed : int; layer k uses seed + k for its initialisation and its training run
    activation : hidden activation of every layer
    output_activation : activation of the deep model's output (the first shallow
        autoencoder's decoder); the deeper shallow decoders reconstruct hidden activations
        and use ``activation``
    device, dtype : as in ``Autoencoder``

    Returns
    -------
    model : Autoencoder with the pre-trained weights
    histories : list of K arrays, the training history of each shallow autoencoder
    """
    sizes = Autoencoder._check_sizes(layer_sizes, "layer_sizes")
    seed = _check_int(seed, "seed", 0)
    stacked = Autoencoder(
        sizes,
        activation=activation,
        output_activation=output_activation,
        seed=seed,
        device=device,
        dtype=dtype,
    )
    H = _as_tensor(X, "X", stacked.dtype, stacked.device)
    if H.shape[1] != sizes[0]:
        raise ValueError(
            f"X must have shape (N, {sizes[0]}) to match layer_sizes; got {tuple(H.shape)}"
        )
    enc_linear = [m for m in stacked.encoder if isinstance(m, nn.Linear)]
    dec_linear = [m for m in stacked.decoder if isinstance(m, nn.Linear)]
    K = len(sizes) - 1
    histories = []
    for k in range(K):
        shallow = Autoencoder(
            [sizes[k], sizes[k + 1]],
            activation=activation,
            output_activation=output_activation if k == 0 else activation,
            seed=seed + k + 1,
            device=stacked.device,
            dtype=stacked.dtype,
        )
        histories.append(
            train(
                shallow,
                H,
                loss_fn=loss_fn,
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                seed=seed + k + 1,
                progress=progress,
            )
        )
        with torch.no_grad():
            enc_linear[k].load_state_dict(shallow.encoder[0].state_dict())
            dec_linear[K - 1 - k].load_state_dict(shallow.decoder[0].state_dict())
            H = shallow.encode(H)
    return stacked, histories


# --------------------------------------------------------------------------- PCA link
def principal_angles(U, V) -> np.ndarray:
    """Principal angles (radians) between the column spaces of U (d, p) and V (d, q).

    Computed with ``scipy.linalg.subspace_angles`` (which orthonormalises both bases first,
    so U and V need not be orthonormal, e.g. a decoder's weight matrix). Returned in
    increasing order theta_1 <= ... <= theta_min(p,q); 0 means a shared direction, pi/2 an
    orthogonal one. Two p-dimensional subspaces coincide iff the largest angle is 0.

    Parameters
    ----------
    U, V : NumPy arrays or torch tensors with the same number of rows d

    Returns
    -------
    float64 array of shape (min(rank U, rank V),)
    """
    from scipy.linalg import subspace_angles

    def as_array(A, name):
        if isinstance(A, torch.Tensor):
            A = A.detach().cpu().numpy()
        try:
            A = np.asarray(A, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name} must be a numeric matrix of shape (d, k)") from err
        if A.ndim != 2 or A.shape[0] < 1 or A.shape[1] < 1:
            raise ValueError(f"{name} must be a 2-D matrix of shape (d, k); got shape {A.shape}")
        if not np.all(np.isfinite(A)):
            raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
        return A

    U, V = as_array(U, "U"), as_array(V, "V")
    if U.shape[0] != V.shape[0]:
        raise ValueError(
            f"U and V must have the same number of rows d; got {U.shape} and {V.shape}"
        )
    return np.sort(subspace_angles(U, V))
