"""Helpers for the chapter notebooks that must also work outside the book build.

In the book, numbers quoted in the prose come from code through myst-nb's
``glue``. In Colab or plain Jupyter myst-nb is usually not installed; there
``glue`` quietly does nothing (or displays the value when asked to), so the
notebook still runs top to bottom.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` under ``name`` for ``{glue:text}`` in the book (myst-nb's glue).

    NumPy scalars are stored as plain Python numbers: myst-nb formats ``{glue:text}`x:.3f```
    by parsing the value's repr, which NumPy 2 writes as ``np.float64(...)``.
    """
    if isinstance(value, np.generic):
        value = value.item()
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as ipy_display

            ipy_display(value)
        return
    myst_glue(name, value, display=display)
