"""Tests of unsupervised.experiments.gan (its chapter's experiments and figures)."""

from __future__ import annotations

from unsupervised.experiments import gan as experiment


def test_module_lists_its_public_functions():
    assert all(callable(getattr(experiment, name)) for name in experiment.__all__)
