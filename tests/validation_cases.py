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
from unsupervised import sparse_coding as sc  # noqa: E402

rng_sc = np.random.default_rng(1)  # its own stream: the shared rng's draws stay as they were
Z_sc = rng_sc.normal(size=(6, 5))  # six codes on p = 5 atoms (for the samples X4)
A_sc = rng_sc.normal(size=(4, 5))  # a dictionary of 5 atoms in R^4
case(sc.l1_penalty, Z_sc)
case(sc.log_penalty, Z_sc)
case(sc.log_penalty_grad, Z_sc)
case(sc.exp_penalty, Z_sc)
case(sc.exp_penalty_grad, Z_sc)
case(sc.soft_threshold, Z_sc, 0.5)
case(sc.log_prox, Z_sc, 0.5)
case(sc.exp_prox, Z_sc, 0.5)
case(sc.penalty_value, Z_sc, penalty="log")
case(sc.objective, X4, A_sc, Z_sc, 0.1, penalty="exp")
case(sc.dictionary_objective, X4, A_sc, Z_sc, 0.1, 0.5, penalty="l1")
case(sc.lipschitz_constant, A_sc)
case(sc.sklearn_alpha, 0.3)
case(
    sc.encode,
    X4,
    A_sc,
    0.1,
    penalty="l1",
    method="fista",
    max_iter=20,
    tol=1e-8,
    init=np.zeros((6, 5)),
    return_history=True,
)
case(sc.update_dictionary, X4, Z_sc, 0.5)
case(
    sc.learn_dictionary,
    X4,
    3,
    0.1,
    0.5,
    2,
    penalty="l1",
    seed=0,
    progress=False,
    init=A_sc[:, :3],
    normalize_atoms=True,
    resample_unused=True,
    encode_kwargs={"method": "fista", "max_iter": 50},
)
case(
    sc.learn_dictionary_online,
    X4,
    3,
    0.1,
    4,
    batch_size=2,
    seed=0,
    progress=False,
    init=A_sc[:, :3],
)
case(sc.zca_whitening, X4, eps=0.1)

# ----------------------------------------------------------------------------- autoencoders
# (filled by the autoencoders module's maintainer)
from unsupervised import autoencoders as ae  # noqa: E402

AE = ae.Autoencoder([4, 3])  # float32; the cases feed it float64 arrays and tensors
case(
    ae.Autoencoder,
    [4, 3, 2],
    [2, 4],
    activation="tanh",
    output_activation="identity",
    seed=1,
    device="cpu",
    dtype=torch.float64,
)
case(AE.encode, X4)
case(AE.decode, X4[:, :3])
case(AE.forward, torch.tensor(X4, requires_grad=True))
case(AE.weights)
case(AE.weight_penalty)
case(ae.reconstruction_loss, X4, X4[::-1])
case(ae.plain_loss)
case(ae.average_activation, X4)
case(ae.bernoulli_kl, 0.05, 0.05 + 0.9 * X4)
case(ae.kl_sparsity, X4, 0.05, floor=1e-6)
case(ae.sparse_loss, 3.0, 0.05, lam=1e-3)
case(ae.mask_noise, X4, 0.3, torch.Generator().manual_seed(0), exact=True, return_mask=True)
case(ae.denoising_loss, np.float32(0.5), exact=False)
case(
    ae.pretrain_stacked,
    [4, 3, 2],
    X4,
    ae.plain_loss(),
    epochs=1,
    batch_size=3,
    lr=1e-2,
    seed=0,
    activation="sigmoid",
    output_activation="identity",
    progress=False,
    device="cpu",
    dtype=torch.float64,
)
case(ae.principal_angles, X4, torch.tensor(X4[:, :2], requires_grad=True))

# ----------------------------------------------------------------------------- density
# (filled by the density module's maintainer)
from unsupervised import density  # noqa: E402

case(density.gaussian_mle, X4)
case(density.gaussian_log_likelihood, X4, np.zeros(4), np.eye(4))
case(density.binomial_pmf, [0, 1, 2], 3, 0.4)
case(density.binomial_pmf_as_printed, [0, 1, 2], 3, 0.4)
case(density.hypercube_kernel, X4 - 0.5)
case(density.HistogramDensity, 0.5, origin=np.zeros(4))
_hist = density.HistogramDensity(0.5).fit(X4)
case(_hist.fit, X4)
case(_hist.bin_counts, X4)
case(_hist.log_density, X4)  # the estimators' shared log_density and density
case(_hist.density, X4)
case(density.ParzenWindow, 0.5, kernel="gaussian", chunk_size=4)
_parzen = density.ParzenWindow(1.0).fit(X4)
case(_parzen.fit, X4)
case(_parzen.window_counts, X4)
case(_parzen.box_probability, np.zeros(4), np.ones(4))
case(density.KNNDensity, 2)
_knn = density.KNNDensity(2).fit(X4)
case(_knn.fit, X4)
case(_knn.kth_neighbour_distance, X4)

# ----------------------------------------------------------------------------- divergences
# (filled by the divergences module's maintainer)
from unsupervised import divergences  # noqa: E402

case(divergences.gaussian_kl, np.zeros(2), np.eye(2), np.ones(2), 2.0 * np.eye(2))
case(divergences.kl_divergence, [0.5, 0.5], [0.25, 0.75], 1.0)
case(divergences.js_divergence, [0.5, 0.5], [0.25, 0.75], 1.0)

# ----------------------------------------------------------------------------- datasets
# (filled by the datasets module's maintainer)
from unsupervised import datasets  # noqa: E402

case(datasets.GaussianMixture, [0.5, 0.5], [[0.0], [1.0]], [1.0, 2.0])
_mix = datasets.GaussianMixture([0.5, 0.5], [[0.0, 0.0], [1.0, 1.0]], [np.eye(2), np.eye(2)])
case(_mix.sample, 5, seed=[1, 2], return_labels=True)
case(_mix.log_pdf, X2)
case(_mix.pdf, X2)
case(_mix.responsibilities, X2)
case(datasets.GaussianMixture([0.5, 0.5], [0.0, 1.0], [1.0, 2.0]).cdf, [-1.0, 0.0, 2.0])
case(datasets.GaussianMixture.fit_by_class, X2, [0, 0, 0, 0, 1, 1, 1, 1])
case(datasets.ring_modes, 4, radius=1.0)
case(datasets.ring_of_gaussians, 10, n_modes=4, radius=1.0, std=0.1, seed=3)
case(datasets.load_digits_array, scale="raw")
case(datasets.image_patches, 4, patch_size=3, seed=1, grey=False, remove_mean=False, downscale=2)

# ----------------------------------------------------------------------------- plotting
# (filled by the plotting module's maintainer)
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402

from unsupervised import plotting  # noqa: E402

_fig, _ax = plt.subplots(figsize=(1, 1), dpi=20)
case(plotting.use_book_style)
_grid = np.linspace(0.0, 1.0, 5)
case(plotting.plot_density_1d, _ax, _grid, {"p": np.ones(5)}, samples=[0.5], true_density=_grid)
case(
    plotting.image_grid,
    np.zeros((3, 4)),
    shape=(2, 2),
    ncols=2,
    ax=_ax,
    cmap="viridis",
    per_image=True,
    pad=0,
)
_anim = FuncAnimation(_fig, lambda i: (), frames=2)
case(plotting.animation_html, _anim, default_mode="once")

# ----------------------------------------------------------------------------- vae
from unsupervised import vae  # noqa: E402

_rng = np.random.default_rng(4)  # this section's own stream

_mu, _sigma = _rng.normal(size=(3, 2)), _rng.uniform(0.5, 1.5, size=(3, 2))
case(vae.reparameterize, _mu, _sigma, generator=torch.Generator().manual_seed(0), n_samples=2)
case(vae.kl_standard_normal, _mu, _sigma)
case(vae.InferenceNetwork, 4, 2, 3, activation="tanh", seed=1, device="cpu", dtype=torch.float64)
_enc = vae.InferenceNetwork(4, 2, 3)
case(_enc.forward, X4)
case(_enc.distribution, X4)
case(
    vae.GenerativeNetwork,
    2,
    4,
    3,
    likelihood="gaussian",
    sigma2=0.5,
    activation="relu",
    seed=1,
    device="cpu",
    dtype=torch.float64,
)
_dec = vae.GenerativeNetwork(2, 4, 3)
case(_dec.forward, X2)
case(_dec.log_prob, X4, _rng.normal(size=(6, 2)))
case(_dec.sample_given, X2, generator=torch.Generator().manual_seed(0))
case(vae.VAE, 4, 2, 3, "gaussian", 0.5, "sigmoid", seed=1, device="cpu", dtype=torch.float32)
_vae = vae.VAE(4, 2, 3)
case(_vae.encode, X4)
case(_vae.decode, X2)
case(_vae.reconstruct, X4)
case(
    _vae.elbo,
    X4,
    n_samples=2,
    generator=torch.Generator().manual_seed(0),
    analytic_kl=False,
    return_terms=True,
)
case(_vae.log_importance_weights, X4, 3, generator=torch.Generator().manual_seed(0))
case(_vae.log_likelihood_iw, X4, 3, generator=torch.Generator().manual_seed(0), chunk_size=2)
case(_vae.sample, 3, generator=torch.Generator().manual_seed(0), mean=True, return_latent=True)
case(vae.elbo_loss, n_samples=2, analytic_kl=False)
case(vae.heldout_elbo, X4, seed=1, n_samples=2)
_W, _b = _rng.normal(size=(4, 2)), _rng.normal(size=4)
case(vae.LinearGaussian, _W, _b, 0.5)
_lg = vae.LinearGaussian(_W, _b, 0.5)
case(_lg.marginal_cov)
case(_lg.marginal)
case(_lg.log_marginal, X4)
case(_lg.log_likelihood, X4, _rng.normal(size=(2, 6, 2)))
case(_lg.log_joint, X4, _rng.normal(size=(6, 2)))
case(_lg.posterior, X4)
case(_lg.reconstruction, X4, _rng.normal(size=2), np.eye(2))
case(_lg.elbo, X4, _rng.normal(size=(6, 2)), np.tile(np.eye(2), (6, 1, 1)))
case(_lg.sample, 3, generator=torch.Generator().manual_seed(0), return_latent=True)
case(_lg.em_step, X4, _rng.normal(size=(6, 2)), 0.5 * np.eye(2))

# ----------------------------------------------------------------------------- gan
from unsupervised import gan  # noqa: E402

_G = gan.Generator(3, 2, (8,))
_D = gan.Discriminator(2, (8,), packing=2)
_DCG = gan.DCGANGenerator(4, 8, 1, 4)
_DCD = gan.DCGANDiscriminator(8, 1, 4)
_P = np.array([0.1, 0.4, 0.3, 0.0])  # densities on a grid of four cells
_Q = np.array([0.2, 0.2, 0.2, 0.2])
case(gan.Generator, 3, 2, (8,), seed=0, dtype=torch.float64)
case(_G.forward, rng.normal(size=(4, 3)))  # a float64 array into a float32 network
case(_G.sample, 3, generator=torch.Generator().manual_seed(0))  # both generators' sample
case(gan.Discriminator, 2, (8,), packing=2, negative_slope=0.1, seed=1, dtype=torch.float32)
case(_D.forward, torch.tensor(X2, requires_grad=True))  # 8 samples, packing 2: 4 logits
case(gan.DCGANGenerator, 4, 8, 1, 4, seed=0, dtype=torch.float32)
case(_DCG.forward, rng.normal(size=(2, 4)))
case(gan.DCGANDiscriminator, 8, 1, 4, negative_slope=0.2, seed=0, dtype=torch.float32)
case(_DCD.forward, rng.uniform(-1, 1, size=(2, 1, 8, 8)))
case(gan.discriminator_loss, X2[:, 0], [0.5, -1.0])
case(gan.generator_loss, torch.tensor(X2[:, 1], requires_grad=True), kind="non_saturating")
case(gan.optimal_discriminator, _P, _Q, logit=False)
case(gan.value_function, _P, _Q, [0.5, 0.6, 0.7, 0.2], 0.5, logits=False)
case(
    gan.train_gan,
    gan.Generator(2, 2, (4,)),
    gan.Discriminator(2, (4,), packing=2),
    X2,
    n_steps=2,
    batch_size=4,
    lr=1e-3,
    lr_d=2e-3,
    betas=[0.5, 0.9],
    loss="minimax",
    d_steps=2,
    seed=0,
    snapshot_every=1,
    n_snapshot=3,
    progress=False,
    device="cpu",
)
case(gan.mode_coverage, X2, [[1.0, 0.0], [-1.0, 0.0]], 0.5, threshold=2.0, min_count=1)

# ----------------------------------------------------------------------------- exercises
# (filled by each module's maintainer: the checkers of unsupervised.exercises never raise,
# so they are not in this table; tests/test_exercises.py tries bad answers on them)

# ----------------------------------------------------------------------------- experiments
# One file per chapter, tests/validation_cases_experiments_<module>.py (each calls `case` of
# this module, so it is imported last, when `case` and CASES exist).
import importlib  # noqa: E402

for _module in ("sparse_coding", "autoencoders", "density", "vae", "gan"):
    importlib.import_module(f"validation_cases_experiments_{_module}")
