"""Helpers for the chapter notebooks that must also work outside the book build.

In the book, numbers quoted in the prose come from code through myst-nb's ``glue``:
the value is written into the cell's outputs as a "scrapbook" record, which the book
build reads back for ``{glue:text}``. A reader in Colab or Jupyter needs no such record
(and some front ends show an unknown output type as an error), so ``glue`` writes it only
when the notebook is executed for the book:

- myst-nb is installed (``make book`` executes the notebooks with it), or
- ``UNSUPERVISED_BOOK_GLUE=1`` is set: ``tools/colab_path.py`` executes the notebooks in
  the colab-like kernel, which has no myst-nb, and hands the outputs to the book build.

Otherwise ``glue`` shows the value when asked to (``display=True``) and does nothing else.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np

from ._validation import Flag, Text, validate

# myst-nb's record format (myst_nb.ext.glue): the value's display data under mime types
# with this prefix (none when the value is also shown), named in the output's metadata.
RECORD_PREFIX = "application/papermill.record/"


def executed_for_the_book() -> bool:
    """Whether the notebook runs to make the book: glue must leave its records then."""
    return (
        os.environ.get("UNSUPERVISED_BOOK_GLUE") == "1"
        or importlib.util.find_spec("myst_nb") is not None
    )


@validate(name=Text(), display=Flag())
def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` under ``name`` for ``{glue:text}`` in the book (myst-nb's glue).

    NumPy scalars are stored as plain Python numbers: myst-nb formats ``{glue:text}`x:.3f```
    by parsing the value's repr, which NumPy 2 writes as ``np.float64(...)``. ``name`` is a
    non-empty string, ``display`` a bool; ``value`` is anything IPython can display.
    """
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    if isinstance(value, np.generic):
        value = value.item()
    if not executed_for_the_book():
        if display:
            ipy_display(value)
        return
    bundle, metadata = format_display_data(value)
    prefix = "" if display else RECORD_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    ipy_display({prefix + mime: data for mime, data in bundle.items()}, raw=True, metadata=metadata)
