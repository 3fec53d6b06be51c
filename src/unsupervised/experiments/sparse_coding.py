"""Experiments and figures of the chapter on sparse_coding (see experiments/__init__.py)."""

from __future__ import annotations

__all__: list[str] = []
