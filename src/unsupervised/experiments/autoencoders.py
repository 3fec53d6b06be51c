"""Experiments and figures of the chapter on autoencoders (see experiments/__init__.py).

The harnesses of ``notebooks/02_autoencoders.ipynb``: test errors and paired differences,
the linear autoencoder's runs and its saddle (AE2), a NumPy reference of the sparse loss and
the one-layer weights (AE3), the push of the KL penalty on a sigmoid unit's bias (AE5), the
batch-versus-per-sample penalties (AE6), the near-identity construction (AE3), the mini-batch
penalties (AE6), the greedy stacking done by hand (AE7's stacked section), the denoising
curves (AE7), and the chapter's figures. Every check the chapter makes still compares the
library with an independent reference in the notebook; what is computed here is evidence.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from .._validation import (
    Array,
    Function,
    Instance,
    Integer,
    Optional,
    Real,
    RngSeed,
    Seed,
    Sizes,
    Tensor,
    validate,
)
from ..autoencoders import (
    Autoencoder,
    bernoulli_kl,
    kl_sparsity,
    mask_noise,
    plain_loss,
    reconstruction_loss,
    sparse_loss,
)
from ..plotting import image_grid
from ..training import fit

__all__ = [
    "test_errors",
    "layer_weights",
    "paired",
    "linear_ae_runs",
    "linear_ae_at",
    "loss_and_gradient",
    "sparse_loss_numpy",
    "parameter_gradients",
    "penalty_inside_sum",
    "bias_push",
    "per_sample_penalty",
    "gradient_of_first",
    "dense_and_sparse_codes",
    "train_sparse",
    "top_share",
    "near_identity",
    "near_identity_terms",
    "minibatch_penalties",
    "pretrain_by_hand",
    "stacked_pairs",
    "first_layer_grad",
    "masking_rates",
    "error_curves",
    "crossing",
    "plot_training",
    "plot_pca_directions",
    "plot_kl_penalty",
    "plot_sparsity",
    "plot_encoder_rows",
    "plot_stacked",
    "plot_denoising",
]

_MODEL = Instance(Autoencoder)
_RHO = Real(low=0, high=1, open=True)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


# --------------------------------------------------------------------------- test errors
@validate(model=_MODEL, X_clean=Tensor(ndim=2), inputs=Optional(Tensor(ndim=2)))
def test_errors(model, X_clean, inputs=None) -> np.ndarray:
    """Per-sample squared error ||x - g(f(x_in))||^2 (AE2) against the CLEAN rows of
    ``X_clean`` (N, d), with x_in = ``inputs`` (N, d; default ``X_clean``): shape (N,), float64."""
    inputs = X_clean if inputs is None else inputs
    if inputs.shape != X_clean.shape:
        raise ValueError(
            f"inputs must have the shape of X_clean {list(X_clean.shape)}; got {list(inputs.shape)}"
        )
    with torch.no_grad():
        return ((X_clean - model(inputs)) ** 2).sum(dim=1).double().numpy()


@validate(model=_MODEL)
def layer_weights(model) -> list[np.ndarray]:
    """The one-layer autoencoder's W1 (p, d), b1 (p,), W2 (d, p), b2 (d,) as float64 NumPy
    copies (AE1), in that order."""
    if len(model.encoder) != 2 or len(model.decoder) != 2:
        raise ValueError(f"model must have one layer each way; got sizes {model.encoder_sizes}")
    layers = (
        model.encoder[0].weight,
        model.encoder[0].bias,
        model.decoder[0].weight,
        model.decoder[0].bias,
    )
    return [t.detach().double().numpy().copy() for t in layers]


@validate(a=Array(ndim=1, min_rows=2), b=Array(ndim=1, min_rows=2))
def paired(a, b) -> tuple[float, float]:
    """Mean and standard error (ddof 1) of the per-sample difference a - b, both of shape (N,)
    (the same test digits), as two floats."""
    if a.shape != b.shape:
        raise ValueError(f"b must have the shape of a {a.shape}; got {b.shape}")
    diff = a - b
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(len(diff)))


# --------------------------------------------------------------------------- AE2: linear AE
@validate(
    X=Array(ndim=2, min_rows=2),
    p=Integer(minimum=1),
    seeds=Sizes(minimum=0),
    epochs=Integer(minimum=1),
    lr=Real(low=0, low_open=True),
)
def linear_ae_runs(X, p, seeds, epochs: int = 1000, lr: float = 5e-2) -> dict:
    """Train one linear float64 autoencoder d -> p -> d (identity activations) per seed with
    ``fit`` (full batch, ``schedule="anneal"``, model and batches seeded by the seed) on X
    (N, d). Returns ``"loss"`` (S,), the batch-mean reconstruction loss (AE2) on X after
    training, ``"decoder"`` (S, d, p), the decoder weights W2, and ``"models"``."""
    losses, decoders, models = [], [], []
    X64 = torch.tensor(X)
    for seed in seeds:
        ae = Autoencoder(
            [X.shape[1], p],
            activation="identity",
            output_activation="identity",
            dtype=torch.float64,
            seed=seed,
        )
        fit(ae, X, plain_loss(), epochs=epochs, lr=lr, seed=seed, schedule="anneal")
        with torch.no_grad():
            losses.append(reconstruction_loss(X64, ae(X64)).item())
        decoders.append(ae.decoder[0].weight.detach().numpy().copy())
        models.append(ae)
    return {"loss": np.array(losses), "decoder": np.array(decoders), "models": models}


@validate(V_I=Array(ndim=2), x_bar=Array(ndim=1))
def linear_ae_at(V_I, x_bar) -> Autoencoder:
    """The linear float64 autoencoder with W2 = V_I (d, p), W1 = V_I^T and the optimal
    biases of the linear-AE proof's step 1 (b1 = -V_I^T x_bar, b2 = x_bar): it maps x to
    V_I V_I^T (x - x_bar) + x_bar."""
    d, p = V_I.shape
    if x_bar.shape != (d,):
        raise ValueError(f"x_bar must have shape ({d},), the rows of V_I; got {x_bar.shape}")
    ae = Autoencoder(
        [d, p], activation="identity", output_activation="identity", dtype=torch.float64
    )
    with torch.no_grad():
        ae.encoder[0].weight.copy_(torch.tensor(V_I.T))
        ae.encoder[0].bias.copy_(torch.tensor(-V_I.T @ x_bar))
        ae.decoder[0].weight.copy_(torch.tensor(V_I))
        ae.decoder[0].bias.copy_(torch.tensor(x_bar))
    return ae


@validate(model=_MODEL, X=Tensor(ndim=2))
def loss_and_gradient(model, X) -> tuple[float, float]:
    """``reconstruction_loss`` (AE2) of ``model`` on X (N, d) and the largest absolute entry
    of its gradient over all parameters, as two floats."""
    model.zero_grad()
    value = reconstruction_loss(X.to(model.dtype), model(X))
    value.backward()
    return value.item(), max(p.grad.abs().max().item() for p in model.parameters())


# --------------------------------------------------------------------------- AE3: references
def _layers(W1, b1, W2, b2, x):
    z = _sigmoid(x @ W1.T + b1)
    return z, _sigmoid(z @ W2.T + b2)


def _check_weights(W1, b1, W2, b2, x):
    p, d = W1.shape
    for name, value, shape in (("b1", b1, (p,)), ("W2", W2, (d, p)), ("b2", b2, (d,))):
        if value.shape != shape:
            raise ValueError(
                f"{name} must have shape {shape} (W1 is {W1.shape}); got {value.shape}"
            )
    if x.shape[1] != d:
        raise ValueError(f"x must have {d} columns, the width of W1; got {x.shape[1]}")


_WEIGHTS = dict(W1=Array(ndim=2), b1=Array(ndim=1), W2=Array(ndim=2), b2=Array(ndim=1))


@validate(**_WEIGHTS, x=Array(ndim=2), eta=Real(low=0), rho_star=_RHO, lam=Real(low=0))
def sparse_loss_numpy(W1, b1, W2, b2, x, eta, rho_star, lam) -> dict:
    """The sparse loss (AE3, batch-mean form) of the sigmoid autoencoder with weights W1 (p, d),
    b1 (p,), W2 (d, p), b2 (d,) on x (N, d), in NumPy without the library: returns the floats
    ``"rec"`` (1/N) sum_n ||x - x_hat||^2, ``"kl"`` sum_j KL(rho* || rho_hat_j) (AE4-AE6),
    ``"decay"`` ||W1||^2 + ||W2||^2 and ``"loss"`` = rec + eta kl + lam decay."""
    _check_weights(W1, b1, W2, b2, x)
    z, x_hat = _layers(W1, b1, W2, b2, x)
    rec = np.mean(np.sum((x - x_hat) ** 2, axis=1))
    r = z.mean(axis=0)
    kl = np.sum(rho_star * np.log(rho_star / r) + (1 - rho_star) * np.log((1 - rho_star) / (1 - r)))
    decay = np.sum(W1**2) + np.sum(W2**2)
    return {"rec": rec, "kl": kl, "decay": decay, "loss": rec + eta * kl + lam * decay}


@validate(model=_MODEL, loss=Instance(torch.Tensor))
def parameter_gradients(model, loss) -> list[torch.Tensor]:
    """Back-propagate the scalar ``loss`` and return copies of the gradients of the
    one-layer model's W1, b1, W2, b2, in that order (zeros for a parameter the loss does
    not depend on)."""
    model.zero_grad()
    loss.backward()
    layers = (
        model.encoder[0].weight,
        model.encoder[0].bias,
        model.decoder[0].weight,
        model.decoder[0].bias,
    )
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in layers]


@validate(model=_MODEL, x=Tensor(ndim=2), eta=Real(low=0), rho_star=_RHO, lam=Real(low=0))
def penalty_inside_sum(model, x, eta, rho_star, lam) -> torch.Tensor:
    """The source's printed form, the penalty inside the sum over n (erratum AE3/AE6):
    sum_n (||x^(n) - g(f(x^(n)))||^2 + eta rho(Z)) + lam ||W||^2, written term by term with
    the KL of the batch's mean activations by hand (not the library's ``kl_sparsity``); a
    scalar tensor with its autograd graph."""
    x = x.to(model.dtype)
    q = model.encode(x).mean(dim=0)
    rho = (
        rho_star * torch.log(rho_star / q) + (1 - rho_star) * torch.log((1 - rho_star) / (1 - q))
    ).sum()
    terms = [((x[n] - model(x[n : n + 1])[0]) ** 2).sum() + eta * rho for n in range(len(x))]
    return sum(terms) + lam * model.weight_penalty()


# --------------------------------------------------------------------------- AE5: bias push
@validate(
    X=Tensor(ndim=2),
    W=Tensor(ndim=2),
    biases=Tensor(ndim=1),
    rho_star=_RHO,
    floor=Real(low=0, high=0.5, open=True),
)
def bias_push(X, W, biases, rho_star, floor: float = 1e-6) -> dict:
    """The push -d rho(Z) / d b_j of the KL penalty (AE5 step 5) on the biases of a layer of
    sigmoid units z = sigmoid(X W^T + b), X (N, d), W (p, d), b (p,), all float64. Returns
    NumPy arrays (p,): ``"push"`` (autograd of the library's ``kl_sparsity``), ``"rho_hat"``
    and ``"m"`` = mean_n z (1 - z), and ``"push_clamp"``, the push of a plain clamp of
    rho_hat at [floor, 1 - floor] written by hand; the library's exact range is the same
    [floor, 1 - floor] (``kl_sparsity(Z, rho_star, floor)``)."""
    if W.shape[1] != X.shape[1]:
        raise ValueError(f"W must have {X.shape[1]} columns, the width of X; got {W.shape[1]}")
    if biases.shape != (W.shape[0],):
        raise ValueError(
            f"biases must have shape ({W.shape[0]},), the rows of W; got {tuple(biases.shape)}"
        )
    X, W = X.double(), W.double()
    pushes = []
    for clamp in (False, True):
        b = biases.detach().double().clone().requires_grad_(True)
        Z = torch.sigmoid(X @ W.T + b)
        if clamp:
            q = Z.mean(dim=0).clamp(floor, 1 - floor)
            kl = rho_star * torch.log(rho_star / q) + (1 - rho_star) * torch.log(
                (1 - rho_star) / (1 - q)
            )
            kl.sum().backward()
        else:
            kl_sparsity(Z, rho_star, floor).backward()
            z = Z.detach().numpy()
        pushes.append(-b.grad.numpy())
    return {
        "push": pushes[0],
        "push_clamp": pushes[1],
        "rho_hat": z.mean(axis=0),
        "m": (z * (1 - z)).mean(axis=0),
    }


# --------------------------------------------------------------------------- AE6
@validate(codes=Tensor(ndim=2, low=0), rho_star=_RHO)
def per_sample_penalty(codes, rho_star) -> torch.Tensor:
    """The per-sample reading of AE6: mean over n of sum_j KL(rho* || z_j^(n)), codes (N, p)
    in (0, 1); a scalar tensor (differentiable in ``codes``)."""
    return bernoulli_kl(rho_star, codes).sum(dim=1).mean()


@validate(penalty=Function("penalty(codes)"), batch=Tensor(ndim=2))
def gradient_of_first(penalty, batch) -> torch.Tensor:
    """d penalty(batch) / d z^(1): the gradient with respect to the first row of ``batch``
    (N, p), shape (p,)."""
    batch = batch.detach().clone().requires_grad_(True)
    penalty(batch).backward()
    return batch.grad[0]


@validate(
    n=Integer(minimum=2),
    units=Integer(minimum=1),
    rho_star=_RHO,
    generator=Instance(torch.Generator),
)
def dense_and_sparse_codes(n, units, rho_star, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two float64 code matrices (n, units) with every column's mean rho*: ``dense`` (every
    entry rho*) and ``sparse`` (round(n (rho* - 0.001) / 0.998) entries per column at 0.999,
    chosen by ``generator``'s randperm, the others 0.001, then shifted so the mean is rho*)."""
    on = int(round(n * (rho_star - 0.001) / (0.999 - 0.001)))
    if not 0 < on < n:
        raise ValueError(
            f"rho_star must leave between 1 and n - 1 entries per column at 0.999 (n = {n}); "
            f"got {rho_star}, which leaves {on}"
        )
    dense = torch.full((n, units), rho_star, dtype=torch.float64)
    sparse = torch.full((n, units), 0.001, dtype=torch.float64)
    for j in range(units):
        sparse[torch.randperm(n, generator=generator)[:on], j] = 0.999
    sparse[:, :] += rho_star - sparse.mean(dim=0)  # fix rounding of the mean
    return dense, sparse


@validate(
    X=Tensor(ndim=2),
    etas=Array(ndim=1, low=0),
    rho_star=_RHO,
    lam=Real(low=0),
    p=Integer(minimum=1),
    epochs=Integer(minimum=1),
    lr=Real(low=0, low_open=True),
)
def train_sparse(X, etas, rho_star, lam, p=100, epochs=400, lr=3e-2) -> dict:
    """One sigmoid autoencoder d -> p -> d (seed 0) per eta, trained full batch with
    ``fit(model, X, sparse_loss(eta, rho_star, lam), epochs, lr, seed=0)`` (AE3). Returns
    dicts keyed by eta: ``"models"``, ``"history"`` and ``"rho_hat"`` (p,), the average
    activations (AE4) of the trained encoder on X."""
    out = {"models": {}, "history": {}, "rho_hat": {}}
    for eta in (float(e) for e in etas):
        model = Autoencoder([X.shape[1], p], seed=0)
        out["history"][eta] = fit(
            model, X, sparse_loss(eta, rho_star, lam), epochs=epochs, lr=lr, seed=0
        )
        out["models"][eta] = model
        with torch.no_grad():
            out["rho_hat"][eta] = model.encode(X.float()).mean(dim=0).double().numpy()
    return out


@validate(codes=Array(low=0), frac=Real(low=0, high=1, low_open=True))
def top_share(codes, frac=0.05) -> float:
    """Share of the total activation carried by the largest ``frac`` of the entries of
    ``codes`` (any shape, entries >= 0, not all 0)."""
    flat = np.sort(codes.ravel())[::-1]
    if flat.sum() == 0:
        raise ValueError("codes must not be all zero")
    top = int(round(frac * flat.size))
    if top < 1:
        raise ValueError(f"frac must select at least one of the {flat.size} entries; got {frac}")
    return float(flat[:top].sum() / flat.sum())


# --------------------------------------------------------------------------- AE3: identity
@validate(eps=Real(low=0, low_open=True), d=Integer(minimum=1), rho_star=_RHO)
def near_identity(eps, d, rho_star) -> Autoencoder:
    """The chapter's near-identity construction (p = d, sigmoid code, identity output,
    float64): W1 = eps I, b1 = logit(rho*) 1, W2 = I / (eps rho* (1 - rho*)),
    b2 = -1 / (eps (1 - rho*)) 1."""
    ae = Autoencoder([d, d], output_activation="identity", dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    with torch.no_grad():
        ae.encoder[0].weight.copy_(eps * eye)
        ae.encoder[0].bias.fill_(np.log(rho_star / (1 - rho_star)))
        ae.decoder[0].weight.copy_(eye / (eps * rho_star * (1 - rho_star)))
        ae.decoder[0].bias.fill_(-1 / (eps * (1 - rho_star)))
    return ae


@validate(X=Tensor(ndim=2), eps=Array(ndim=1, low=0), rho_star=_RHO)
def near_identity_terms(X, eps, rho_star) -> dict[str, np.ndarray]:
    """The library's three terms of the sparse loss (AE3) for ``near_identity(e, d, rho_star)``
    on X (N, d), float64, for each e of ``eps`` (> 0): ``"rec"`` (``reconstruction_loss``),
    ``"kl"`` (``kl_sparsity`` of the codes) and ``"decay"`` (``weight_penalty``), each of
    shape (len(eps),)."""
    if np.any(eps <= 0):
        raise ValueError("eps must hold numbers > 0")
    X = X.double()
    out = {"rec": [], "kl": [], "decay": []}
    for e in eps:
        ae = near_identity(float(e), X.shape[1], rho_star)
        with torch.no_grad():
            z = ae.encode(X)
            out["rec"].append(reconstruction_loss(X, ae.decode(z)).item())
            out["kl"].append(kl_sparsity(z, rho_star).item())
            out["decay"].append(ae.weight_penalty().item())
    return {k: np.array(v) for k, v in out.items()}


# --------------------------------------------------------------------------- AE6: mini-batches
@validate(
    Z=Tensor(ndim=2, low=0),
    rho_star=_RHO,
    sizes=Sizes(minimum=2),
    draws=Integer(minimum=2),
    seed=RngSeed(),
)
def minibatch_penalties(Z, rho_star, sizes, draws=200, seed=6) -> np.ndarray:
    """Mean penalty rho(Z_B) = ``kl_sparsity`` over mini-batches of the codes Z (N, p): the
    first row is B = 1, averaged exactly over all N one-row batches (standard error 0); then
    for each B in ``sizes`` the mean and Monte Carlo standard error over ``draws`` batches
    drawn without replacement by ``np.random.default_rng(seed)``. Shape (1 + len(sizes), 3):
    columns B, mean, standard error."""
    N = len(Z)
    if max(sizes) > N:
        raise ValueError(f"sizes must be at most N = {N}; got {max(sizes)}")
    rng = np.random.default_rng(seed)
    rows = [
        (1, torch.stack([kl_sparsity(Z[n : n + 1], rho_star) for n in range(N)]).mean().item(), 0.0)
    ]
    for B in sizes:
        values = [
            kl_sparsity(Z[rng.choice(N, B, replace=False)], rho_star).item() for _ in range(draws)
        ]
        rows.append((B, np.mean(values), np.std(values, ddof=1) / np.sqrt(len(values))))
    return np.array(rows, dtype=np.float64)


# --------------------------------------------------------------------------- stacked AE
@validate(
    sizes=Sizes(min_len=2),
    X=Tensor(ndim=2),
    epochs=Integer(minimum=1),
    lr=Real(low=0, low_open=True),
)
def pretrain_by_hand(sizes, X, epochs, lr=3e-2) -> tuple[list, list]:
    """The greedy layer-wise procedure as ``pretrain_stacked`` documents it, done again by
    hand: shallow sigmoid AE k = 1, ..., K (sizes[k-1] -> sizes[k] -> sizes[k-1], seed k) is
    trained full batch with ``fit(plain_loss(), epochs, lr, seed=k)`` on the codes of the
    shallow encoders below it. Returns the K shallow AEs and their histories."""
    if X.shape[1] != sizes[0]:
        raise ValueError(f"X must have sizes[0] = {sizes[0]} columns; got {X.shape[1]}")
    H, aes, hists = X, [], []
    for k in range(len(sizes) - 1):
        ae = Autoencoder(sizes[k : k + 2], seed=k + 1)
        hists.append(fit(ae, H, plain_loss(), epochs=epochs, seed=k + 1, batch_size=None, lr=lr))
        aes.append(ae)
        with torch.no_grad():
            H = ae.encode(H)
    return aes, hists


@validate(stacked=_MODEL, shallow=Instance(list), X=Tensor(ndim=2))
def stacked_pairs(stacked, shallow, X) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(name, deep, shallow) pairs to compare: every Linear layer's weight and bias of the
    deep ``stacked`` model against the corresponding shallow encoder f_k or decoder g_k, and
    every layer's activation on X (N, d) against f_1, f_2, ... then g_K, ..., g_1 applied in
    turn, and the deep output against g_1(...g_K(f_K(...f_1(x)))) (all detached copies: a
    snapshot that later training does not change)."""
    if not shallow or not all(isinstance(ae, Autoencoder) for ae in shallow):
        raise ValueError("shallow must be a non-empty list of Autoencoder")
    K = len(shallow)
    enc = [m for m in stacked.encoder if isinstance(m, torch.nn.Linear)]
    dec = [m for m in stacked.decoder if isinstance(m, torch.nn.Linear)]
    if len(enc) != K or len(dec) != K:
        raise ValueError(
            f"shallow must hold one autoencoder per layer of stacked ({len(enc)}); got {K}"
        )
    pairs = []
    for k, ae in enumerate(shallow):
        for part, deep, small in (
            ("f", enc[k], ae.encoder[0]),
            ("g", dec[K - 1 - k], ae.decoder[0]),
        ):
            pairs += [
                (f"{part}{k + 1}.weight", deep.weight, small.weight),
                (f"{part}{k + 1}.bias", deep.bias, small.bias),
            ]
    with torch.no_grad():
        h = X
        for k, ae in enumerate(shallow):  # h^(k+1) = f_{k+1}(h^(k))
            h = ae.encode(h)
            pairs.append((f"h{k + 1}", stacked.encoder[: 2 * (k + 1)](X), h))
        y = h
        for i, ae in enumerate(reversed(shallow)):  # g_1(g_2(g_3(z)))
            y = ae.decode(y)
            pairs.append((f"decoder layer {i + 1}", stacked.decoder[: 2 * (i + 1)](h), y))
        pairs.append(("output", stacked(X), y))
    return [(name, a.detach().clone(), b.detach().clone()) for name, a, b in pairs]


@validate(model=_MODEL, X=Tensor(ndim=2))
def first_layer_grad(model, X) -> float:
    """Frobenius norm of d reconstruction_loss(X, model(X)) / d W of the first encoder layer."""
    model.zero_grad()
    reconstruction_loss(X.to(model.dtype), model(X)).backward()
    return model.encoder[0].weight.grad.norm().item()


# --------------------------------------------------------------------------- AE7: denoising
@validate(X=Tensor(ndim=2), mus=Array(ndim=1, low=0), generator=Instance(torch.Generator))
def masking_rates(X, mus, generator) -> tuple[np.ndarray, np.ndarray]:
    """For each mu of ``mus`` in turn, one draw of ``mask_noise(X, mu, generator,
    return_mask=True)`` (AE7) on X (N, d): the fraction of masked entries (1 - mean of the
    mask) and the fraction of zero entries of the corrupted X, two arrays (len(mus),)."""
    if np.any(mus > 1):
        raise ValueError("mus must hold rates in [0, 1]")
    rates, zeros = [], []
    for mu in mus:
        x_tilde, keep = mask_noise(X, float(mu), generator=generator, return_mask=True)
        rates.append(1 - keep.double().mean().item())
        zeros.append((x_tilde == 0).double().mean().item())
    return np.array(rates), np.array(zeros)


@validate(models=Instance(dict), X=Tensor(ndim=2), mus=Array(ndim=1), seed=Seed())
def error_curves(models, X, mus, seed=1) -> dict[str, np.ndarray]:
    """Mean test error against the clean X (N, d) of every model in ``models`` (name ->
    Autoencoder) on ``mask_noise(X, mu, generator seeded `seed`)`` for each mu of ``mus``
    (one fresh generator per mu, the same masks for every model): name -> array (len(mus),)."""
    if not models or not all(isinstance(m, Autoencoder) for m in models.values()):
        raise ValueError("models must be a non-empty dict of Autoencoder")
    curves = {name: [] for name in models}
    for mu in mus:
        corrupted = mask_noise(X, float(mu), generator=torch.Generator().manual_seed(seed))
        for name, model in models.items():
            curves[name].append(test_errors(model, X, corrupted).mean())
    return {name: np.array(c) for name, c in curves.items()}


@validate(x=Array(ndim=1, min_rows=2), gap=Array(ndim=1, min_rows=2))
def crossing(x, gap) -> tuple[float, int]:
    """Where ``gap`` (on the grid x, same shape) first becomes positive, linearly interpolated
    between the grid points (x[0] if gap[0] > 0), and the index of that first positive entry."""
    if x.shape != gap.shape:
        raise ValueError(f"gap must have the shape of x {x.shape}; got {gap.shape}")
    positive = np.flatnonzero(gap > 0)
    if not positive.size:
        raise ValueError("gap must become positive somewhere on the grid")
    k = int(positive[0])
    if k == 0:
        return float(x[0]), 0
    return float(x[k - 1] + (x[k] - x[k - 1]) * -gap[k - 1] / (gap[k] - gap[k - 1])), k


# --------------------------------------------------------------------------- figures
@validate(history=Instance(dict), baseline=Real(), model=_MODEL, digits=Tensor(ndim=2))
def plot_training(history, baseline, model, digits):
    """Training loss per epoch (log scale) against the mean-image baseline, and a grid of the
    ``digits`` (rows of 64 pixels) above their reconstructions ``model(digits)``; the Figure."""
    with torch.no_grad():
        images = np.vstack([digits.double().numpy(), model(digits).double().numpy()])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [1, 1.6]})
    axes[0].semilogy(history["epoch"], history["loss"], label="training loss")
    axes[0].axhline(baseline, color="0.5", ls=":", label="mean image (test)")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel(r"mean $\|x - g(f(x))\|^2$")
    axes[0].legend()
    image_grid(images, ncols=10, ax=axes[1])
    axes[1].set_title("test digits (top) and their reconstructions g(f(x)) (bottom)")
    return fig


@validate(V_p=Array(ndim=2), W2=Array(ndim=2))
def plot_pca_directions(V_p, W2):
    """The columns of V_p (d, p), the principal directions, above the columns of the linear
    AE's decoder W2 (d, p), each as an image (d a square number); the Figure."""
    if W2.shape != V_p.shape:
        raise ValueError(f"W2 must have the shape of V_p {V_p.shape}; got {W2.shape}")
    p = V_p.shape[1]
    fig, ax = plt.subplots(figsize=(7.5, 1.9))
    image_grid(np.vstack([V_p.T, W2.T]), ncols=p, per_image=True, cmap="RdBu_r", ax=ax)
    ax.set_title(f"top: principal directions v_1..v_{p};  bottom: decoder columns of the linear AE")
    return fig


@validate(
    rho_star=_RHO, rho_hat=Array(ndim=1), push=Array(ndim=1), push_clamp=Array(ndim=1), floor=_RHO
)
def plot_kl_penalty(rho_star, rho_hat, push, push_clamp, floor=1e-6):
    """Three panels (AE5): KL(rho* || q) and the reversed KL on a grid of q, the derivative
    (q - rho*) / (q (1 - q)), and the push on a sigmoid unit's bias against its rho_hat
    (library and plain clamp, as ``bias_push`` returns them); the Figure."""
    q = torch.linspace(0.001, 0.999, 999, dtype=torch.float64)
    Bern = torch.distributions.Bernoulli
    fig, axes = plt.subplots(1, 3, figsize=(16, 3.6))
    axes[0].plot(q, bernoulli_kl(rho_star, q), label=r"KL($\rho^*$ || $\hat\rho$)")
    reversed_kl = torch.distributions.kl_divergence(
        Bern(probs=q), Bern(probs=torch.full_like(q, rho_star))
    )
    axes[0].plot(q, reversed_kl, "--", label=r"KL($\hat\rho$ || $\rho^*$) (reversed)")
    axes[0].axvline(rho_star, color="0.5", ls=":", label=rf"$\rho^* = {rho_star:g}$")
    axes[0].set(
        ylim=(0, 3),
        xlabel=r"$\hat\rho$",
        ylabel="KL (nats)",
        title="the penalty and its reversed twin",
    )
    axes[0].legend()
    axes[1].plot(q, (q - rho_star) / (q * (1 - q)))
    axes[1].axhline(0, color="0.5", lw=1)
    axes[1].axvline(rho_star, color="0.5", ls=":")
    axes[1].set(ylim=(-20, 20), xlabel=r"$\hat\rho$", ylabel=r"$\partial$ KL / $\partial\hat\rho$")
    axes[1].set_title(r"the gradient pushes $\hat\rho$ toward $\rho^*$")
    axes[2].semilogx(rho_hat, push, "o", ms=3, label="library (tangent below the floor)")
    axes[2].semilogx(rho_hat, push_clamp, "x", ms=3, label="plain clamp of rho_hat")
    axes[2].axhline(rho_star, color="0.5", ls=":", label=r"$\rho^*$")
    axes[2].axvline(floor, color="C3", lw=1, ls="--", label=f"floor {floor:g}")
    axes[2].set(
        xlabel=r"$\hat\rho_j$ of a sigmoid unit", ylabel=r"push $-\partial\rho(Z)/\partial b_j$"
    )
    axes[2].set_title("the push on a dead unit's bias is bounded")
    axes[2].legend(fontsize=8)
    return fig


@validate(rho_hats=Instance(dict), codes=Array(), rho_star=_RHO, eta=Real(low=0))
def plot_sparsity(rho_hats, codes, rho_star, eta=3.0):
    """Histograms of the average activations rho_hat_j for each eta of ``rho_hats`` (eta ->
    (p,)) and of the individual activations ``codes`` of the model trained with ``eta``
    (log counts); the Figure."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    bins = np.linspace(0, 0.7, 71)
    for i, (e, r) in enumerate(rho_hats.items()):
        axes[0].hist(r, bins=bins, color=f"C{i}", alpha=0.75, label=f"eta = {e:g}")
    axes[0].axvline(rho_star, color="k", ls="--", lw=1.2, label=rf"$\rho^* = {rho_star:g}$")
    axes[0].set(
        xlabel=r"average activation $\hat\rho_j$ of hidden unit j", ylabel="number of units"
    )
    axes[0].set_title(r"sparsity penalty drives $\hat\rho_j$ to $\rho^*$")
    axes[0].legend()
    axes[1].hist(codes.ravel(), bins=np.linspace(0, 1, 51), color="C3", log=True)
    axes[1].axvline(rho_star, color="k", ls="--", lw=1.2, label=rf"$\rho^* = {rho_star:g}$")
    axes[1].legend()
    axes[1].set(xlabel=rf"activation $z_j^{{(n)}}$ (eta = {eta:g})", ylabel="count (log scale)")
    axes[1].set_title(f"individual activations z_j^(n), eta = {eta:g}")
    return fig


@validate(models=Instance(dict))
def plot_encoder_rows(models):
    """The encoder rows W1[j, :] of each model of ``models`` (eta -> one-layer Autoencoder on
    8 x 8 images) as image grids, one panel per model; the Figure."""
    fig, axes = plt.subplots(1, len(models), figsize=(5.5 * len(models), 5.6), squeeze=False)
    for ax, (eta, model) in zip(axes[0], models.items()):
        image_grid(model.encoder[0].weight.detach().numpy(), ncols=10, per_image=True, ax=ax)
        ax.set_title(f"encoder rows W1[j, :], eta = {eta:g}")
    return fig


@validate(
    finetune=Instance(dict),
    e2e=Instance(dict),
    mean_image_loss=Real(),
    pretrain_epochs=Integer(minimum=0),
)
def plot_stacked(finetune, e2e, mean_image_loss, pretrain_epochs=600):
    """Training-loss curves of fine-tuning after pre-training and of end-to-end training, once
    aligned on the end-to-end epochs and once with the ``pretrain_epochs`` counted; the Figure."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), sharey=True)
    axes[0].plot(
        finetune["epoch"], finetune["loss"], color="C3", label="pre-trained, then fine-tuned"
    )
    axes[0].plot(e2e["epoch"], e2e["loss"], color="C0", label="end to end from random init")
    axes[0].set(
        xlabel="epochs of end-to-end training (fine-tuning)",
        title="same number of end-to-end epochs",
    )
    axes[1].plot(
        pretrain_epochs + finetune["epoch"], finetune["loss"], color="C3", label="fine-tuning"
    )
    axes[1].plot(e2e["epoch"], e2e["loss"], color="C0", label="end to end from random init")
    axes[1].axvspan(
        0,
        pretrain_epochs,
        color="C3",
        alpha=0.08,
        label=f"pre-training ({pretrain_epochs} layer-epochs)",
    )
    axes[1].set(xlabel="epochs, pre-training included", title="same total number of epochs")
    for ax in axes:
        ax.axhline(mean_image_loss, color="0.5", ls=":", label="mean image")
        ax.set_ylim(0.8, 6)
        ax.legend(fontsize=9)
    axes[0].set_ylabel("training loss")
    return fig


@validate(
    clean=Tensor(ndim=2),
    corrupted=Tensor(ndim=2),
    models=Instance(dict),
    mus=Array(ndim=1),
    curves=Instance(dict),
    mu_train=Real(low=0, high=1),
)
def plot_denoising(clean, corrupted, models, mus, curves, mu_train):
    """A grid of digits (rows: ``clean``, ``corrupted``, then each model's output on the
    corrupted digits, for the models of ``models``, name -> Autoencoder) and the error curves
    (name -> (len(mus),)) against the test-time masking rate; the Figure."""
    with torch.no_grad():
        outputs = [m(corrupted).double().numpy() for m in models.values()]
    images = np.vstack([clean.double().numpy(), corrupted.double().numpy(), *outputs])
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.9), gridspec_kw={"width_ratios": [1.5, 1]})
    image_grid(images, ncols=10, ax=axes[0])
    axes[0].set_title(
        f"rows: clean, masked (mu = {mu_train:g}), then the outputs of: " + ", ".join(models),
        fontsize=10,
    )
    for i, (name, curve) in enumerate(curves.items()):
        axes[1].plot(mus, curve, "os^vD"[i % 5] + "-", label=name)
    axes[1].axvline(mu_train, color="0.5", ls=":")
    axes[1].set(xlabel="masking rate mu at test time", ylabel=r"mean $\|x - g(f(\tilde x))\|^2$")
    axes[1].set_title("error against the clean digits")
    axes[1].legend()
    return fig
