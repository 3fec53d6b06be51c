"""Valid calls of experiments.sparse_coding's public callables (see validation_cases.py)."""

from __future__ import annotations

import numpy as np

from unsupervised import sparse_coding as sc
from unsupervised.experiments import sparse_coding as experiment
from validation_cases import case

_rng = np.random.default_rng(11)
_X = _rng.normal(size=(6, 4))  # six samples in R^4
_A = _rng.normal(size=(4, 5))  # five atoms
_Z = _rng.normal(size=(6, 5))
_atoms = _rng.normal(size=(3, 64))

case(experiment.optimality_gaps, _X, _A, _Z, 0.5)
case(experiment.prior_masses, [0.1, 1.0], [10.0, 20.0])
case(
    experiment.smooth_penalty_evidence,
    sc.log_penalty,
    sc.log_penalty_grad,
    lambda z: (1 + z**2).log(),
    sc.log_prox,
    lambda u: np.log1p(u * u),
    1.0,
    6.0,
    step=0.05,
)
case(experiment.ista_run, _X, _A, 0.5, 0.01, 3)
case(experiment.code_hessians, _A, 0.5, _Z, "log")
case(experiment.newton_polish, _X, _A, 0.5, _Z, "exp", steps=2)
case(experiment.nonconvex_starts, _X, _A, 0.5, "log", iters=5)
case(experiment.ridge_codes_lbfgs, _X, _A, 0.5)
case(experiment.kurtosis, _Z)
case(experiment.orientation_concentration, _atoms, size=8, pad=16)
case(experiment.participation, _atoms)
case(experiment.debias, _X, _A, _Z)
case(experiment.sparsity_curve, _X, _A, [0.1, 1.0])
case(experiment.best_m_term_curve, _X, np.zeros(4), np.eye(4))
case(experiment.nonzeros_for_error, [1.0, 2.0, 3.0], [0.5, 0.2, 0.1], 0.3)
case(experiment.timed, lambda: 1.0, repeat=1)
case(
    experiment.plot_penalties,
    np.linspace(-1, 1, 5),
    np.ones((3, 5)),
    np.linspace(-2, 2, 7),
    np.ones((3, 2, 7)),
    [[1.0, 3.0], [1.0, 6.0], [0.5, 2.0]],
)
case(experiment.plot_convergence, np.ones(4), np.ones(4), np.ones(3), np.ones(3))
case(experiment.plot_learned, _atoms, np.ones(3))
case(experiment.plot_sparsity_curves, np.ones(3), np.ones(3), np.ones((2, 2)), np.ones((2, 2)))
case(experiment.toy_local_minimum, [[1.0, 0.8]], [3.0], 1.0, [0.0, 0.0])
case(experiment.nonzeros_factor, [1.0, 2.0, 3.0], [0.5, 0.2, 0.1], [[2.0, 0.3], [1.0, 0.6]])
case(experiment.same_error_gain, [[3.0, 0.1], [1.0, 0.5]], [[2.0, 0.3], [1.5, 0.4]])
case(experiment.solver_histories, _X, _A, 0.5, 3, 4)
case(experiment.whitened_patches, 20, 5, eps=0.1, downscale=3)
case(experiment.encoder_comparison, _X, _A, 0.5)
