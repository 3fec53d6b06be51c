"""Valid calls of experiments.vae's public callables (see validation_cases.py)."""

from __future__ import annotations

import numpy as np
import torch

from unsupervised.datasets import GaussianMixture
from unsupervised.experiments import vae as experiment
from unsupervised.vae import VAE, InferenceNetwork, LinearGaussian
from validation_cases import case

F64 = torch.float64
_rng = np.random.default_rng(0)
_LG = LinearGaussian(W=_rng.standard_normal((3, 2)), b=_rng.standard_normal(3), sigma2=0.5)
_LG1 = LinearGaussian(W=[[1.5], [-0.7]], b=[0.2, 0.1], sigma2=0.4)
_X = _LG.sample(10, generator=torch.Generator().manual_seed(0))  # (10, 3)
_x1 = _X[:1]
_post = _LG.posterior(_X[:2])
_VAE = VAE(4, n_latent=2, n_hidden=3, seed=0, dtype=F64)
_B = torch.tensor((_rng.uniform(size=(100, 4)) > 0.5).astype(np.float32))  # binary rows
_VAE64 = VAE(64, n_latent=2, n_hidden=3, seed=0)
_D64 = torch.rand(20, 64, generator=torch.Generator().manual_seed(0))
_Y20 = np.array([0, 6, 1, 7, 3, 8, 2, 4, 5, 9] * 2)
_MIX1 = GaussianMixture([0.3, 0.7], [-1.0, 1.0], [0.5, 1.0])
_MIX1B = GaussianMixture([0.5, 0.5], [-1.0, 1.0], [0.5, 1.0])
_X2, _Y2 = GaussianMixture(
    [0.3, 0.3, 0.4], [[-1.0, 0.0], [1.0, 1.0], [0.5, -1.0]], [np.eye(2)] * 3
).sample(60, seed=0, return_labels=True)
_HIST = {"epoch": [1, 2], "elbo": [-3.0, -2.0], "val_elbo": [-3.0, -2.5], "kl": [0.1, 0.2]}
_GRADS = experiment.gradient_estimators(_LG, _x1, [0.1, 0.2], [0.5, 0.7], repeats=4, seed=0)

case(experiment.random_spd, np.random.default_rng(1), 3)
case(experiment.curve_square_counts, 100, 0, [0.5, 0.2])
case(experiment.kl_by_quadrature, _MIX1, _MIX1B)
case(experiment.joint_moments_two_ways, _LG, 10, seed=0)
case(experiment.sample_moments, [[0.0, 1.0]], [[1.0, 0.5]], 5, 0)
case(experiment.sigma_lower_bound, InferenceNetwork(3, 2, 4, seed=0, dtype=F64), _X[:2])
case(experiment.kl_relative_error, np.random.default_rng(2), [1, 2], n_pairs=2)
case(experiment.kl_monte_carlo, [0.0, 0.0], np.eye(2), [1.0, 0.0], 2 * np.eye(2), 10, 0)
case(experiment.single_draw_reference, _VAE, _B[:1], 5, 0)
case(experiment.iw_by_hand, _VAE, _B[:2], 3, 0)
case(experiment.train_digit_vaes, _B, _B[:10], epochs=1, latent=[2])
case(experiment.em_trace, _LG, _X, 2)
case(experiment.ppca_ml, _X.numpy(), 2)
case(experiment.variational_em, _LG, _X, steps=2, exact_steps=1)
case(experiment.quad_posterior_1d, _LG1, [[1.0, -0.3]])
case(experiment.grid_posterior, _LG, _x1, 11)
case(experiment.q_params, [0.0, 0.0, 0.0, 0.0, 0.5], False)
case(
    experiment.fit_gaussian_q,
    lambda m, S: ((m - 1) ** 2).sum() + ((S - torch.eye(2)) ** 2).sum(),
    True,
)
case(experiment.m_step_evidence, _LG, _X, n_perturb=2)
case(experiment.elbo_sigma_points, _LG, _X[:2], _post.mean, _post.covariance_matrix)
case(experiment.vae_two_forms, _VAE, _B[:2], 3, 0)
case(experiment.variance_of_two_forms, _LG, _X[0], [0.0, 0.0], np.eye(2), 10, 0)
case(experiment.mc_error_curve, _LG, _x1, [[0.0, 0.0]], [[1.0, 1.0]], [1, 2], 4, 0.0, 0)
case(experiment.gradient_estimators, _LG, _x1, [0.1, 0.2], [0.5, 0.7], 4, 0)
case(experiment.sign_experiment, _D64[:, :4], steps=10, n_eval=5)
case(experiment.iw_linear_gaussian, _LG, _x1, K_max=4, blocks=2, n_post=10)
case(experiment.iw_blocks, torch.zeros(4, 2), [1, 2])
case(experiment.latent_layout, _rng.standard_normal((20, 2)), _Y20)
case(experiment.plot_two_step, _MIX1.sample(50, seed=0)[:, 0], _MIX1)
case(experiment.plot_generative_classifier, GaussianMixture.fit_by_class(_X2, _Y2), _X2, _Y2)
case(
    experiment.plot_elbo_kl_shift,
    _LG,
    _x1,
    _post.mean[:1],
    _post.covariance_matrix[:1],
    [-1.0, 0.0, 1.0],
    [1.0, 0.0],
)
case(
    experiment.plot_em,
    np.array([[-3.0, -3.0, -2.5], [-2.4, -2.5, -2.2], [-2.1, -2.1, -2.0]]),
    -0.1,
    10,
    n_show=1,
)
case(experiment.plot_posteriors, _LG, _x1, 11)
case(experiment.plot_mc_error, [1, 2, 4], [1.0, 0.5, 0.25], 1.0, 4, -0.5)
case(experiment.plot_gradient_estimators, _GRADS)
case(experiment.plot_sign_experiment, {"printed": np.array([[10, 1.0, -3.0], [20, 2.0, -4.0]])})
case(experiment.plot_training_curves, _HIST, _HIST)
case(experiment.plot_reconstructions, _VAE64, _D64)
case(experiment.plot_latent, _VAE64, _D64, _Y20, _D64[:10], _Y20[:10])
case(experiment.plot_interpolation, _VAE64, _D64, _Y20)
case(experiment.plot_iw_gap, [1, 4, 16], [0.1, 0.03, 0.01], [0.01, 0.01, 0.01], 0.2)
case(experiment.plot_iw_bound, [1, 10], [-20.0, -19.5], -21.0)
case(experiment.q_family, _post, np.random.default_rng(3))
