"""Tests of unsupervised.experiments.vae (its chapter's experiments and figures)."""

from __future__ import annotations

from unsupervised.experiments import vae as experiment


def test_module_lists_its_public_functions():
    assert all(callable(getattr(experiment, name)) for name in experiment.__all__)
