"""Autoencoders: plain, linear (= PCA), sparse, stacked and denoising (torch).

Formula IDs (see the book's formula index):

- AE1  encoder f: R^d -> R^p, decoder g: R^p -> R^d               (``Autoencoder``)
- AE2  L = sum_n ||x^(n) - g(f(x^(n)))||^2, the composition is g o f  (``reconstruction_loss``,
       ``plain_loss``; the source prints f o g)
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

Training goes through the library's one loop, ``unsupervised.training.fit``; this module
provides the losses as ``loss_fn(model, batch, generator)``: ``plain_loss()``,
``sparse_loss(eta, rho_star, lam)`` and ``denoising_loss(mu)``, e.g.
``fit(model, X, sparse_loss(3.0, 0.05), epochs=400, lr=3e-2)``. Arguments are checked at
the public boundary (``_validation.py``); the losses that ``fit`` calls on every batch use
the unchecked private helpers (a finiteness test would cost a device synchronisation per
step; ``fit`` checks its data once). Randomness only through explicit seeds /
``torch.Generator`` objects; nothing here touches torch's global random state. Everything
runs on the CPU unless a ``device`` is given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ._torch import TorchModule, seeded_init
from ._validation import (
    Array,
    Choice,
    Device,
    Dtype,
    Flag,
    Function,
    Generator,
    Integer,
    Optional,
    Real,
    Seed,
    Sizes,
    Tensor,
    validate,
)
from .training import fit

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
_ACTIVATION = Choice(tuple(_ACTIVATIONS))
_RHO_STAR = Real(low=0, high=1, open=True)


# --------------------------------------------------------------------------- AE1
class Autoencoder(TorchModule, nn.Module):
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
    seed : int >= 0, seed of the weight initialisation (drawn inside ``seeded_init``:
        torch's global random state is left as it was). Every layer has ``nn.Linear``'s
        default initialisation: its weight matrix of shape (out, in) and its bias are drawn
        from U(-1/sqrt(in), 1/sqrt(in)).
    device, dtype : where the parameters live (default CPU, float32); ``model.device`` and
        ``model.dtype`` say where they are

    With ``activation="identity"`` and ``output_activation="identity"`` and one layer each
    way this is the linear autoencoder of Baldi & Hornik (1989): z = W1 x + b1,
    x_hat = W2 z + b2, with ``W2 = model.decoder[0].weight`` of shape (d, p).

    ``encode``, ``decode`` and ``forward`` take arrays or tensors (float64 ones included,
    also ones that require grad) and cast them to the model's dtype and device; an input
    whose output is not finite (entries too large for the dtype) is refused. The training
    losses call ``encoder`` and ``decoder`` directly, without these checks.

    Attributes
    ----------
    encoder, decoder : ``nn.Sequential`` of ``nn.Linear`` and activation modules
    input_dim, code_dim : d and p
    """

    @validate(
        encoder_sizes=Sizes(min_len=2),
        decoder_sizes=Optional(Sizes(min_len=2)),
        activation=_ACTIVATION,
        output_activation=_ACTIVATION,
        seed=Seed(),
        device=Device(),
        dtype=Dtype(),
    )
    def __init__(
        self,
        encoder_sizes: Sequence[int],
        decoder_sizes: Sequence[int] | None = None,
        activation: str = "sigmoid",
        output_activation: str = "sigmoid",
        seed: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        enc = list(encoder_sizes)
        dec = list(reversed(enc)) if decoder_sizes is None else decoder_sizes
        if dec[0] != enc[-1] or dec[-1] != enc[0]:
            raise ValueError(
                f"decoder_sizes must start at the code size p = {enc[-1]} and end at "
                f"the input size d = {enc[0]}; got {dec}"
            )

        def layers(sizes, last_activation):
            modules = []
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                modules.append(nn.Linear(n_in, n_out))
                last = i == len(sizes) - 2
                modules.append(_ACTIVATIONS[last_activation if last else activation]())
            return nn.Sequential(*modules)

        with seeded_init(seed):
            self.encoder = layers(enc, activation)
            self.decoder = layers(dec, output_activation)
        self.encoder_sizes, self.decoder_sizes = enc, dec
        self.activation, self.output_activation = activation, output_activation
        self.input_dim, self.code_dim = enc[0], enc[-1]
        self.to(device=device, dtype=dtype)

    def _input(self, x: torch.Tensor, name: str, width: int) -> torch.Tensor:
        # x is a validated 2-D tensor: check its width against the model, move it over.
        if x.shape[1] != width:
            raise ValueError(
                f"{name} must have shape (N, {width}) to match the model; got {tuple(x.shape)}"
            )
        return x.to(device=self.device, dtype=self.dtype)

    def _output(self, out: torch.Tensor, name: str) -> torch.Tensor:
        # Finite input can still overflow: 1e300 becomes inf in float32, and inf - inf NaN.
        if not bool(torch.isfinite(out).all()):
            raise ValueError(
                f"{name} gives a model output that is not finite: its entries are too large "
                f"for the model's {self.dtype}, or the model's parameters are not finite"
            )
        return out

    @validate(x=Tensor(ndim=2))
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """z = f(x): (N, d) -> (N, p)."""
        return self._output(self.encoder(self._input(x, "x", self.input_dim)), "x")

    @validate(z=Tensor(ndim=2))
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """x_hat = g(z): (N, p) -> (N, d)."""
        return self._output(self.decoder(self._input(z, "z", self.code_dim)), "z")

    @validate(x=Tensor(ndim=2))
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x_hat = (g o f)(x) = g(f(x)): first encode, then decode. (N, d) -> (N, d)."""
        x = self._input(x, "x", self.input_dim)
        return self._output(self.decoder(self.encoder(x)), "x")

    def weights(self) -> list[torch.Tensor]:
        """The weight matrices W of every linear layer (biases excluded), encoder first."""
        return [m.weight for m in [*self.encoder, *self.decoder] if isinstance(m, nn.Linear)]

    def weight_penalty(self) -> torch.Tensor:
        """||W||^2: the sum of the squared Frobenius norms of all weight matrices (AE3)."""
        return sum((w * w).sum() for w in self.weights())


def _batch(model, x):
    """A batch for a training loss, unchecked apart from what costs no device
    synchronisation: the model's type and the batch's shape; cast to the model's dtype."""
    if not isinstance(model, Autoencoder):
        raise ValueError(f"model must be an Autoencoder; got a {type(model).__name__}")
    if x.ndim != 2 or x.shape[1] != model.input_dim:
        raise ValueError(
            f"data (here a batch) must have shape (N, {model.input_dim}) to match the "
            f"model; got {tuple(x.shape)}"
        )
    return x.to(device=model.device, dtype=model.dtype)


# --------------------------------------------------------------------------- AE2
@validate(x=Tensor(ndim=2), x_hat=Tensor(ndim=2))
def reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of the squared reconstruction error (AE2).

    loss = (1/N) sum_n ||x^(n) - x_hat^(n)||^2: the squared error is summed over the d
    dimensions of each sample and averaged over the N samples, so the source's
    L = sum_n ||x^(n) - g(f(x^(n)))||^2 equals N * reconstruction_loss(x, model(x)).

    Parameters
    ----------
    x, x_hat : arrays or tensors of the same shape (N, d) (x is moved to x_hat's device)

    Returns
    -------
    scalar tensor
    """
    if x_hat.shape != x.shape:
        raise ValueError(
            f"x_hat must have the shape of x {tuple(x.shape)}; got {tuple(x_hat.shape)}"
        )
    loss = _reconstruction_loss(x.to(x_hat.device), x_hat)
    if not bool(torch.isfinite(loss)):
        raise ValueError(f"x_hat is so far from x that the squared error overflows {loss.dtype}")
    return loss


def _reconstruction_loss(x, x_hat):
    return ((x - x_hat) ** 2).sum(dim=1).mean()


def _plain_loss(model, batch, generator=None):
    x = _batch(model, batch)
    return _reconstruction_loss(x, model.decoder(model.encoder(x)))


def plain_loss() -> Callable:
    """The plain autoencoder's training loss (AE2) as a ``loss_fn(model, batch, generator)``
    for ``training.fit``: ``reconstruction_loss(batch, model(batch))``, the batch mean of
    ||x - g(f(x))||^2. ``model`` is an ``Autoencoder``; ``generator`` is unused.

    A factory like ``sparse_loss`` and ``denoising_loss``: pass ``plain_loss()`` to ``fit``
    (``fit(model, X, plain_loss)`` is refused by fit's own check of the loss's arguments).
    """
    return _plain_loss


# --------------------------------------------------------------------------- AE4-AE6
@validate(z=Tensor(ndim=2))
def average_activation(z: torch.Tensor) -> torch.Tensor:
    """rho_hat_j = (1/N) sum_n z_j^(n), the mean activation of each hidden unit (AE4).

    z : array or tensor of shape (N, p) -> tensor of shape (p,)
    """
    return z.mean(dim=0)


@validate(rho_star=_RHO_STAR, rho_hat=Tensor())
def bernoulli_kl(rho_star: float, rho_hat: torch.Tensor) -> torch.Tensor:
    """KL(rho* || rho_hat) between Bernoulli(rho*) and Bernoulli(rho_hat), elementwise (AE5).

    rho* log(rho*/rho_hat) + (1 - rho*) log((1 - rho*)/(1 - rho_hat)); >= 0, zero iff
    rho_hat = rho*. Its derivative is d KL / d rho_hat = (rho_hat - rho*) / (rho_hat (1 - rho_hat)).

    Parameters
    ----------
    rho_star : float in (0, 1), the target activation
    rho_hat : array or tensor of any shape with values in the open interval (0, 1) (no
        floor here; see ``kl_sparsity``)

    Returns
    -------
    tensor of the shape of ``rho_hat``
    """
    if bool(((rho_hat <= 0) | (rho_hat >= 1)).any()):
        raise ValueError("rho_hat must lie in the open interval (0, 1)")
    return _bernoulli_kl(rho_star, rho_hat)


def _bernoulli_kl(r, q):
    # Differences of logs (log1p for the second term): exactly 0 at q == r. Rounding can
    # leave about -1e-17 where q is within ~1e-8 of r; the true value there is below 1e-16,
    # so it is clamped at 0 to keep KL >= 0 exact.
    kl = r * (math.log(r) - torch.log(q)) + (1 - r) * (math.log1p(-r) - torch.log1p(-q))
    return kl.clamp_min(0.0)


@validate(z=Tensor(ndim=2), rho_star=_RHO_STAR, floor=Real(low=0, high=0.5, open=True))
def kl_sparsity(z: torch.Tensor, rho_star: float, floor: float = _FLOOR) -> torch.Tensor:
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
    z : array or tensor of shape (N, p) with values in [0, 1] (sigmoid activations)
    rho_star : float in the open interval (0, 1)
    floor : float in (0, 1/2), with floor < min(rho_star, 1 - rho_star)

    Returns
    -------
    scalar tensor
    """
    if bool(((z < 0) | (z > 1)).any()):
        raise ValueError(
            "z must hold activations in [0, 1] (e.g. sigmoid outputs): rho_hat_j "
            "is read as the probability that unit j is active"
        )
    if not floor < min(rho_star, 1 - rho_star):
        raise ValueError(
            f"floor must be below min(rho_star, 1 - rho_star) = "
            f"{min(rho_star, 1 - rho_star):g}; got {floor!r}"
        )
    return _kl_sparsity(z, rho_star, floor)


def _kl_sparsity(z, r, floor=_FLOOR):
    mean = z.mean(dim=0)
    rho_hat = mean.clamp(floor, 1 - floor)  # the mean itself inside the exact range
    # The tangent continuation KL'(c) (mean - c) at the nearest end c of the range. Inside
    # the range mean - rho_hat == 0 exactly, so value and gradient are those of KL itself;
    # outside, the clamp's gradient is 0 and the gradient is the tangent's slope KL'(c).
    tangent = (rho_hat - r) / (rho_hat * (1 - rho_hat)) * (mean - rho_hat)
    return _bernoulli_kl(r, rho_hat).sum() + tangent.sum()


@validate(eta=Real(low=0), rho_star=_RHO_STAR, lam=Real(low=0))
def sparse_loss(eta: float, rho_star: float, lam: float = 0.0) -> Callable:
    """The sparse autoencoder's loss (AE3) as a ``loss_fn(model, batch, generator)`` for
    ``training.fit``:

    loss = (1/N) sum_n ||x^(n) - g(f(x^(n)))||^2 + eta * rho(Z) + lam * ||W||^2,

    with rho(Z) = ``kl_sparsity(f(x), rho_star)`` computed once on the batch (AE6) and
    ||W||^2 = ``model.weight_penalty()`` (weights only, not biases). Compared with the
    source's sum over n, the reconstruction term is divided by N; rescale eta and lam by N
    to compare with a sum-form loss.

    Parameters
    ----------
    eta, lam : finite numbers >= 0, the weights of the sparsity penalty and of weight decay
    rho_star : float in the open interval (0, 1), the target mean activation

    ``model`` must be an ``Autoencoder``, with ``activation="sigmoid"`` when eta > 0 (the
    penalty reads codes in (0, 1)); ``generator`` is unused.
    """

    def loss_fn(model, batch, generator=None):
        x = _batch(model, batch)
        if eta > 0 and model.activation != "sigmoid":
            raise ValueError(
                "model must have activation='sigmoid' for the KL sparsity penalty (codes "
                f"in (0, 1)); got activation={model.activation!r}"
            )
        z = model.encoder(x)
        loss = _reconstruction_loss(x, model.decoder(z))
        if eta > 0:
            loss = loss + eta * _kl_sparsity(z, rho_star)
        if lam > 0:
            loss = loss + lam * model.weight_penalty()
        return loss

    return loss_fn


# --------------------------------------------------------------------------- AE7
@validate(
    x=Tensor(ndim=2),
    mu=Real(low=0, high=1),
    generator=Generator(),
    exact=Flag(),
    return_mask=Flag(),
)
def mask_noise(
    x: torch.Tensor,
    mu: float,
    generator: torch.Generator | None = None,
    exact: bool = False,
    return_mask: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Masking noise of the denoising autoencoder (AE7): set a fraction mu of the entries to 0.

    x_tilde = m * x. With ``exact=False`` every entry is dropped independently with
    probability mu (m_i ~ Bernoulli(1 - mu)), so the dropped fraction is mu on average,
    with variance mu (1 - mu) / (N d). With ``exact=True`` exactly round(mu * d) entries of
    every row are dropped, chosen uniformly at random (Vincent et al., 2008).

    Parameters
    ----------
    x : array or tensor of shape (N, d)
    mu : float in [0, 1], the fraction of entries set to 0
    generator : torch.Generator on x's device, or None (torch's global generator)
    exact : bool, see above
    return_mask : bool, also return the boolean mask of kept entries

    Returns
    -------
    x_tilde : tensor of the shape of x (and ``keep``, a bool tensor, if ``return_mask``)
    """
    if generator is not None and generator.device.type != x.device.type:
        raise ValueError(
            f"generator must be on x's device ({x.device}); got one on {generator.device}"
        )
    x_tilde, keep = _mask(x, mu, generator, exact)
    return (x_tilde, keep) if return_mask else x_tilde


def _mask(x, mu, generator, exact):
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    if exact:
        n_drop = int(round(mu * x.shape[1]))
        rank = u.argsort(dim=1).argsort(dim=1)  # a random permutation of 0..d-1 per row
        keep = rank >= n_drop
    else:
        keep = u >= mu
    return x * keep.to(x.dtype), keep


@validate(mu=Real(low=0, high=1), exact=Flag())
def denoising_loss(mu: float, exact: bool = False) -> Callable:
    """The denoising autoencoder's loss (AE7) as a ``loss_fn(model, batch, generator)`` for
    ``training.fit``.

    A fresh mask is drawn for every batch from ``generator`` (the one ``fit`` seeds with
    ``seed + 1``): loss = (1/N) sum_n ||x^(n) - g(f(x_tilde^(n)))||^2 with
    x_tilde = mask_noise(x, mu, generator, exact): the corrupted input goes in, the clean
    input is the target. ``model`` is an ``Autoencoder``.
    """

    def loss_fn(model, batch, generator=None):
        x = _batch(model, batch)
        x_tilde = _mask(x, mu, generator, exact)[0]
        return _reconstruction_loss(x, model.decoder(model.encoder(x_tilde)))

    return loss_fn


# --------------------------------------------------------------------------- stacked AE
@validate(
    layer_sizes=Sizes(min_len=2),
    X=Tensor(ndim=2),
    loss_fn=Function("loss_fn(model, batch, generator)", none=True),
    epochs=Integer(minimum=1),
    batch_size=Optional(Integer(minimum=1)),
    lr=Real(low=0, open=True),
    seed=Seed(),
    activation=_ACTIVATION,
    output_activation=_ACTIVATION,
    progress=Flag(),
    device=Device(),
    dtype=Dtype(),
)
def pretrain_stacked(
    layer_sizes: Sequence[int],
    X: np.ndarray | torch.Tensor,
    loss_fn: Callable | None = None,
    epochs: int = 100,
    batch_size: int | None = None,
    lr: float = 1e-2,
    seed: int = 0,
    activation: str = "sigmoid",
    output_activation: str = "sigmoid",
    progress: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[Autoencoder, list[dict[str, np.ndarray]]]:
    """Greedy layer-wise pre-training of a stacked autoencoder (Bengio et al., 2007).

    For k = 1, ..., K (K = len(layer_sizes) - 1) a shallow autoencoder
    layer_sizes[k-1] -> layer_sizes[k] -> layer_sizes[k-1] is trained with
    ``training.fit`` on the codes of the layers below it (on X for k = 1) and frozen. The
    trained encoders, in order, and the decoders, in reverse order, are then copied into
    one deep ``Autoencoder`` with ``encoder_sizes = layer_sizes``, ready to be fine-tuned end
    to end with ``fit``.

    Parameters
    ----------
    layer_sizes : [d, h_1, ..., h_K], at least two entries
    X : array or tensor of shape (N, d)
    loss_fn : ``loss_fn(model, batch, generator)`` used for every layer (default
        ``plain_loss()``)
    epochs, batch_size, lr, progress : as in ``fit``, for every layer
    seed : int >= 0; layer k uses seed + k for its initialisation and as the seed of its
        ``fit`` run (the deep model's own initialisation, overwritten, uses seed)
    activation : hidden activation of every layer
    output_activation : activation of the deep model's output (the first shallow
        autoencoder's decoder); the deeper shallow decoders reconstruct hidden activations
        and use ``activation``
    device, dtype : as in ``Autoencoder``

    Returns
    -------
    model : Autoencoder with the pre-trained weights
    histories : list of K dicts, the ``fit`` history of each shallow autoencoder
    """
    if X.shape[1] != layer_sizes[0]:
        raise ValueError(
            f"X must have shape (N, {layer_sizes[0]}) to match layer_sizes; got {tuple(X.shape)}"
        )
    loss_fn = _plain_loss if loss_fn is None else loss_fn
    stacked = Autoencoder(
        layer_sizes,
        activation=activation,
        output_activation=output_activation,
        seed=seed,
        device=device,
        dtype=dtype,
    )
    H = X.detach().to(device=stacked.device, dtype=stacked.dtype)
    if not bool(torch.isfinite(H).all()):
        raise ValueError(f"X has entries too large for dtype {stacked.dtype}")
    enc_linear = [m for m in stacked.encoder if isinstance(m, nn.Linear)]
    dec_linear = [m for m in stacked.decoder if isinstance(m, nn.Linear)]
    K = len(layer_sizes) - 1
    histories = []
    for k in range(K):
        shallow = Autoencoder(
            layer_sizes[k : k + 2],
            activation=activation,
            output_activation=output_activation if k == 0 else activation,
            seed=seed + k + 1,
            device=stacked.device,
            dtype=stacked.dtype,
        )
        histories.append(
            fit(
                shallow,
                H,
                loss_fn,
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                seed=seed + k + 1,
                progress=progress,
                desc=f"layer {k + 1} of {K}",
            )
        )
        with torch.no_grad():
            enc_linear[k].load_state_dict(shallow.encoder[0].state_dict())
            dec_linear[K - 1 - k].load_state_dict(shallow.decoder[0].state_dict())
            H = shallow.encoder(H)
    return stacked, histories


# --------------------------------------------------------------------------- PCA link
@validate(U=Array(ndim=2), V=Array(ndim=2))
def principal_angles(U: np.ndarray | torch.Tensor, V: np.ndarray | torch.Tensor) -> np.ndarray:
    """Principal angles (radians) between the column spaces of U (d, p) and V (d, q).

    Computed with ``scipy.linalg.subspace_angles`` (which orthonormalises both bases first,
    so U and V need not be orthonormal, e.g. a decoder's weight matrix). Returned in
    increasing order theta_1 <= ... <= theta_min(p,q); 0 means a shared direction, pi/2 an
    orthogonal one. Two p-dimensional subspaces coincide iff the largest angle is 0.

    Parameters
    ----------
    U, V : arrays or tensors (also ones that require grad) with the same number of rows d

    Returns
    -------
    float64 array of shape (min(rank U, rank V),)
    """
    from scipy.linalg import subspace_angles

    if U.shape[0] != V.shape[0]:
        raise ValueError(
            f"U and V must have the same number of rows d; got {U.shape} and {V.shape}"
        )
    return np.sort(subspace_angles(U, V))
