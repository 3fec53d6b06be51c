"""Valid calls of experiments.autoencoders's public callables (see validation_cases.py)."""

from __future__ import annotations

import numpy as np
import torch

from unsupervised.autoencoders import Autoencoder
from unsupervised.experiments import autoencoders as experiment
from validation_cases import case

_rng = np.random.default_rng(0)
_X = _rng.uniform(size=(6, 4))  # six samples in [0, 1]^4
_X32 = torch.tensor(_X, dtype=torch.float32)
_AE = Autoencoder([4, 3], seed=0, dtype=torch.float64)
_AE32 = Autoencoder([4, 3], seed=0)
_W = [w.detach().numpy() for w in (_AE.encoder[0].weight, _AE.encoder[0].bias)]
_W += [w.detach().numpy() for w in (_AE.decoder[0].weight, _AE.decoder[0].bias)]
_V = np.linalg.svd(_X - _X.mean(axis=0), full_matrices=False)[2][:2].T  # (4, 2)
_HIST = {"epoch": np.arange(1, 3), "loss": np.array([2.0, 1.0])}
_DIGITS = Autoencoder([64, 4], seed=0)
_IMAGES = torch.rand(10, 64, generator=torch.Generator().manual_seed(0))

case(experiment.test_errors, _AE32, _X32, inputs=_X32 * 0.5)
case(experiment.layer_weights, _AE)
case(experiment.paired, [1.0, 2.0, 4.0], [0.5, 1.0, 1.0])
case(experiment.linear_ae_runs, _X, 2, [0], epochs=2, lr=1e-2)
case(experiment.linear_ae_at, _V, _X.mean(axis=0))
case(experiment.loss_and_gradient, _AE, _X)
case(experiment.sparse_loss_numpy, *_W, _X, 1.0, 0.1, 0.01)
_AE_G = Autoencoder([4, 3], seed=1, dtype=torch.float64)
case(experiment.parameter_gradients, _AE_G, (_AE_G(torch.tensor(_X)) ** 2).sum())
case(experiment.penalty_inside_sum, _AE, _X, 1.0, 0.1, 0.01)
case(experiment.bias_push, _X, _rng.normal(size=(3, 4)), [-1.0, -2.0, -3.0], 0.1, floor=1e-6)
case(experiment.per_sample_penalty, _X * 0.5 + 0.1, 0.1)
case(experiment.gradient_of_first, lambda b: (b**2).sum(), _X)
case(experiment.dense_and_sparse_codes, 40, 2, 0.1, torch.Generator().manual_seed(0))
case(experiment.train_sparse, _X32, [1.0], 0.1, 0.01, p=3, epochs=1, lr=1e-2)
case(experiment.top_share, _X, frac=0.1)
case(experiment.near_identity, 0.1, 4, 0.1)
case(experiment.near_identity_terms, _X, [0.1, 0.01], 0.1)
case(experiment.minibatch_penalties, _X * 0.5 + 0.1, 0.1, [2, 3], draws=2, seed=0)
case(experiment.pretrain_by_hand, [4, 3, 2], _X32, 1, lr=1e-2)
_STACK, _ = experiment.pretrain_by_hand([4, 3], _X32, 1)
case(experiment.stacked_pairs, Autoencoder([4, 3]), _STACK, _X32)
case(experiment.first_layer_grad, _AE, _X)
case(experiment.masking_rates, _X, [0.1, 0.5], torch.Generator().manual_seed(0))
case(experiment.error_curves, {"ae": _AE32}, _X32, [0.0, 0.5], seed=1)
case(experiment.crossing, [0.0, 1.0, 2.0], [-1.0, 1.0, 2.0])
case(experiment.plot_training, _HIST, 1.0, _DIGITS, _IMAGES)
case(experiment.plot_pca_directions, np.eye(64)[:, :3], np.ones((64, 3)))
case(experiment.plot_kl_penalty, 0.05, [1e-8, 0.01], [0.04, 0.03], [0.0, 0.03], floor=1e-6)
case(experiment.plot_sparsity, {0.0: np.array([0.1, 0.2])}, _X, 0.05, eta=0.0)
case(experiment.plot_encoder_rows, {0.0: _DIGITS})
case(experiment.plot_stacked, _HIST, _HIST, 1.5, pretrain_epochs=2)
case(
    experiment.plot_denoising,
    _IMAGES,
    _IMAGES * 0,
    {"ae": _DIGITS},
    [0.0, 0.5],
    {"ae": np.array([1.0, 2.0])},
    0.3,
)
