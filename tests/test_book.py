"""unsupervised.book: glue works inside and outside the book build."""

import numpy as np
import pytest

from unsupervised import book


def test_glue_stores_numpy_scalars_as_python_numbers(monkeypatch):
    stored = {}
    myst_nb = pytest.importorskip("myst_nb")
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display: stored.update({name: value}))
    book.glue("x", np.float64(1.5))
    book.glue("n", np.int64(3))
    assert stored == {"x": 1.5, "n": 3}
    assert type(stored["x"]) is float and type(stored["n"]) is int


def test_glue_without_myst_nb_does_nothing(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "myst_nb", None)   # import now raises ImportError
    book.glue("x", 1.0)
