"""Valid calls of experiments.gan's public callables (see validation_cases.py)."""

from __future__ import annotations

import numpy as np
import torch

from unsupervised.datasets import ring_modes, ring_of_gaussians
from unsupervised.experiments import gan as experiment
from unsupervised.gan import DCGANDiscriminator, DCGANGenerator
from validation_cases import case

_x = np.linspace(-3, 3, 20)
_ring = ring_of_gaussians(256, n_modes=4, radius=2.0, std=0.02, seed=0)[0]
_centers = ring_modes(4, 2.0)
_img = np.linspace(-1, 0.5, 32).reshape(2, 4, 4)
_runs = {
    ("NS-GAN", 0): {
        "hist": {
            "snapshot_steps": np.array([0, 1]),
            "snapshots": np.zeros((2, 8, 2)),
            "d_of_fake": np.array([0.5]),
        },
        "modes": np.array([0.0, 1.0]),
        "hq": np.array([0.0, 0.5]),
        "tops": np.array([1.0, 0.5]),
        "top": 0.5,
    }
}

case(
    experiment.layer_table,
    DCGANGenerator(latent_dim=4, image_size=8, channels=1, width=4, seed=0),
    torch.randn(2, 4),
)
case(experiment.pixel_gaps, -np.ones((2, 4, 4)), 0.9 * _img, _img)
case(experiment.top_share, _ring[:10], _centers)
case(experiment.arc_holding, _ring[:10], frac=0.9)
case(
    experiment.ring_experiment,
    _ring,
    _centers,
    0.02,
    seeds=[0],
    n_steps=1,
    snapshot_every=1,
    n_snapshot=8,
)
case(experiment.ring_summary, _runs, after=1, collapsed_above=0.5)
case(experiment.exact_log_sigmoid, np.array([-1.0, 2.0]), digits=30)
case(experiment.shifted_expectations, np.tanh, np.array([0.0, 1.0]), z_step=0.1, z_max=5.0)
case(experiment.quad_expectations, np.tanh, np.array([0.0]), points=[0.0])
case(
    experiment.directional_derivatives,
    np.exp(-(_x**2)),
    np.exp(-((_x - 1) ** 2)),
    {"a": 0 * _x},
    _x,
    0.3,
    n_directions=2,
    seed=0,
    h=1e-3,
)
case(experiment.sigmoid_family, np.array([1.0, 2.0]), _x, np.ones(20) / 20, theta=3.0, edge=1.5)
case(experiment.point_mass_family, np.array([1e-3]), np.array([1e-2]), _x, theta=3.0)
case(experiment.plot_generator_losses, _x, _x, _x, _x, _x)
case(experiment.plot_digits, np.zeros((2, 4, 4)), np.zeros((2, 4, 4)), n=2)
case(experiment.plot_discriminator_fit, _x, _x, _x, _x, _x, _x, _x, -1.0, 1.0)
case(experiment.plot_js_saturation, _x, _x, _x, _x[:3], np.ones((3, 2)))
case(experiment.plot_kl_fits, _x, _x, np.ones((3, 2)), _x, _x, _x)
case(experiment.plot_ring_snapshots, _runs, _ring, seed=0, cols=[0, 1])
case(experiment.plot_ring_curves, _runs, 0.9)
case(
    experiment.ga10_readings,
    np.exp(-(_x**2)) / np.exp(-(_x**2)).sum() / 0.3,
    _x,
    0.3,
    np.array([0.0, 0.0]),
)
case(experiment.central_gradient, np.sum, np.array([1.0, 2.0]), h=1e-3)
case(
    experiment.gradient_while_d_trains,
    torch.linspace(-1, 1, 8),
    torch.linspace(-1, 1, 8),
    theta=3.0,
    steps=1,
    every=1,
    lr=1e-3,
    seed=0,
)
case(
    experiment.fit_discriminator,
    lambda n, g: torch.randn(n, 1, generator=g),
    lambda n, g: torch.randn(n, 1, generator=g) + 1,
    torch.zeros(3, 1),
    steps=2,
    batch=4,
    lr=1e-3,
    seed=0,
    data_seed=0,
)
case(
    experiment.gaussian_kl_fits,
    np.exp(-(_x**2)),
    _x,
    0.3,
    forward_start=[0.0, 0.0],
    reverse_starts=[[0.0, 0.0]],
)
case(experiment.table, ["a", "b"], [(1, 0.5)], "d .2f")
case(
    experiment.ring_animation,
    {
        "hist": {"snapshot_steps": np.array([0, 1]), "snapshots": np.zeros((2, 4, 2))},
        "modes": np.array([0.0, 1.0]),
    },
    _ring,
    dpi=20,
)
case(experiment.quadratic_logit_fit, np.exp(-(_x**2)), np.exp(-(_x**2) / 2), _x, 0.3, n_starts=1)
case(experiment.shifted_js, lambda u: np.exp(-(u**2)), np.array([0.0, 1.0]), _x, 0.3)
case(experiment.gradients_two_ways, lambda t: t[0] ** 2 + t[1], 0.5, 2.0)
case(
    experiment.monte_carlo_value,
    lambda x: -x,
    np.array([0.5, 0.5]),
    np.array([-1.0, 1.0]),
    np.array([0.5, 0.5]),
    0.0,
    1.0,
    n=100,
)
case(experiment.touching_boxes, np.linspace(-5, 7, 1201), 0.01)
case(experiment.fine_quad, lambda x: x**2, 0.0, 1.0, [0.5])
case(experiment.nelder_mead, lambda t: t[0] ** 2 + t[1] ** 2, [1.0, 1.0])
case(
    experiment.dcgan_rows,
    DCGANGenerator(latent_dim=4, image_size=16, channels=1, width=8, seed=0).eval(),
    DCGANDiscriminator(image_size=16, channels=1, width=8, seed=0).eval(),
    torch.randn(2, 4),
)
