"""Valid calls of experiments.density's public callables (see validation_cases.py)."""

from __future__ import annotations

import numpy as np

from test_experiments_density import MIX, _exact, _mise  # the chapter's closed forms, once
from unsupervised.density import HistogramDensity, KNNDensity, ParzenWindow
from unsupervised.experiments import density as experiment
from validation_cases import case

_rng = np.random.default_rng(3)
X2 = _rng.normal(size=(40, 2))
X1 = _rng.normal(size=(30, 1))
G = np.linspace(-3.0, 3.0, 7)
case(experiment.loglik_gradient, X2, np.zeros(2), np.eye(2))
case(experiment.location_log_likelihoods, X1[:, 0], G)
case(experiment.mle_by_bfgs, X2, gtol=1e-6)
case(experiment.convexity_gaps, 5, dim=2, seed=1)
case(experiment.kl_to_moment_matched_gaussian, MIX)
case(experiment.em_fits, X2, X2, n_components=2, n_starts=1)
case(experiment.gaussian_fit_errors, 2, 10, 3, np.random.default_rng(0))
case(experiment.table_errors, 2, 10, 3, np.random.default_rng(0), m_bins=3)
case(experiment.samples_needed, experiment.table_errors, 1, 2, 20, 1, tau=0.5, exact=None)
case(experiment.histogram_bin_gaps, 2, n=20, width=0.5, origin=-3.0)
case(experiment.cube_estimate, X2, X2[:5], 1.0)
case(experiment.cube_box_integral, X2[:10], 1.0, np.array([-1.0, -1.0]), np.array([1.0, 1.0]))
case(experiment.gaussian_kernel_box_integral, X1[:10], 0.5, np.array([-1.0]), np.array([1.0]), 1e-8)
case(experiment.histogram_estimates_at, MIX, 1.5, 20, 0.5, 3, seed=0)
case(experiment.ise_experiment, 1, 0.4, 20, 3, 4.0, 81, seed=0)
case(experiment.roughness_laplacian, 2)
case(experiment.min_log_mise, _mise, 100.0, 1)
case(experiment.n_needed_mise, _mise, 1, 0.1, relative=True)
case(experiment.kde_accuracy, 2, 0.5, 1.0, n=50, m=20, seed=0)
case(experiment.knn_integrals, KNNDensity(3).fit(X1), decades=1, per_decade=10, inner=10.0)
case(experiment.curse_levels, _exact, n=20, m_bins=3)
case(experiment.curse_samples_needed, _exact, tau=0.5, m_bins=3, d_gauss=1, d_hist=1)
case(experiment.cube_estimate_integral, ParzenWindow(0.5).fit(X2[:10]))
case(experiment.plane_integral, ParzenWindow(0.5, kernel="gaussian").fit(X2[:10]), 4.0, 0.25)
case(experiment.heldout_curves, X1, X1[:5], np.array([0.5, 1.0]))
case(experiment.n_needed_grid, _mise, np.array([1, 2]), np.array([0.1]), relative=True)
case(experiment.ball_volume_mc, 2, 100, np.random.default_rng(0))
case(experiment.histogram_integrals, HistogramDensity(0.5).fit(X1))
case(experiment.window_counts_loop, X2, X2[:3], 1.0)
case(experiment.windows_per_sample, X1, 0.5, 0.0625)
case(experiment.fraction_moments, np.linspace(0, 1, 40), 4, [5, 10], 0.2, 0.6, 0.4)
case(experiment.plot_underflow, np.array([-1.0, -2.0]), np.array([0.5, 0.0]), 2)
case(experiment.plot_model_choice, X1, G, np.ones(7), np.ones(7), np.ones(7))
case(experiment.plot_latent, X2, np.arange(40) % 2)
case(
    experiment.plot_samples_needed,
    np.arange(1.0, 4.0),
    np.array([10.0, 20.0, 30.0]),
    np.array([11.0, 21.0, 31.0]),
    np.arange(1.0, 3.0),
    np.array([20.0, 80.0]),
    tau=0.1,
    m_bins=3,
)
case(experiment.plot_binomial, np.full(6, 1 / 6), np.full(6, 1 / 6), np.full(6, 0.5), 0.3, 10)
case(
    experiment.plot_convergence,
    np.array([1e2, 1e3]),
    np.array([1.0]),
    np.array([[0.5, 0.2]]),
    np.array([0.4, 0.1]),
    1.5,
)
case(experiment.plot_histograms, X1, G, np.array([0.5, 1.0]), np.ones(7))
case(experiment.plot_bandwidths, X1, G, np.array([0.2, 0.5, 1.0]), np.ones(7))
case(
    experiment.plot_bandwidth_selection,
    np.array([0.1, 1.0]),
    np.array([-2.0, -1.5]),
    np.array([-np.inf, -1.6]),
    -1.4,
    1.0,
    0.5,
)
case(
    experiment.plot_comparison,
    X1,
    G,
    np.ones(7),
    0.5,
    0.3,
    3,
    np.array([10.0, 100.0]),
    np.array([1.0, 1.1]),
)
case(experiment.format_table, "a b", [(1, 2.5)], "{:d} {:.1f}")
case(experiment.box_counts, G, 2, 3, -1.0, 1.0)
case(experiment.hypercube_grid_integral, 2, 4)
