"""Valid calls of experiments.vae's public callables (see validation_cases.py)."""

from __future__ import annotations

from unsupervised.experiments import vae as experiment  # noqa: F401
from validation_cases import case  # noqa: F401
