"""Experiments and figures of the chapter on vae (see experiments/__init__.py)."""

from __future__ import annotations

__all__: list[str] = []
