"""unsupervised.book: glue leaves myst-nb's records when the book is made, nothing else."""

import numpy as np
import pytest

from unsupervised import book


@pytest.fixture
def shown(monkeypatch):
    """What IPython.display.display was called with, call by call."""
    import IPython.display

    calls = []

    def record(*objs, **kwargs):
        calls.append((objs, kwargs))

    monkeypatch.setattr(IPython.display, "display", record)
    myst_glue_module = pytest.importorskip("myst_nb.ext.glue")
    monkeypatch.setattr(myst_glue_module, "ipy_display", record)  # imported by name there
    return calls


@pytest.mark.parametrize("display", [False, True])
@pytest.mark.parametrize("value", [1.5, np.float64(0.125), np.int64(3), "text"])
def test_glue_writes_what_myst_nb_glue_writes(shown, monkeypatch, value, display):
    # The reference is myst-nb's own glue (installed with the book's tooling); the book
    # build reads these records back, whichever of the two wrote them.
    from myst_nb import glue as myst_glue

    monkeypatch.setenv("UNSUPERVISED_BOOK_GLUE", "1")
    book.glue("x", value, display=display)
    myst_glue("x", value.item() if isinstance(value, np.generic) else value, display=display)
    ours, theirs = shown
    assert ours == theirs


def test_glue_stores_numpy_scalars_as_python_numbers(shown, monkeypatch):
    # myst-nb formats {glue:text}`x:.3f` by parsing the repr: np.float64(1.5) would not parse.
    monkeypatch.setenv("UNSUPERVISED_BOOK_GLUE", "1")
    book.glue("x", np.float64(1.5))
    book.glue("n", np.int64(3))
    records = [objs[0] for objs, _ in shown]
    assert records == [
        {book.RECORD_PREFIX + "text/plain": "1.5"},
        {book.RECORD_PREFIX + "text/plain": "3"},
    ]


def test_glue_in_colab_leaves_no_record(shown, monkeypatch):
    # Neither myst-nb nor the variable: a reader's notebook gets no hidden outputs, and a
    # glue with display=True shows the value as a plain display would.
    monkeypatch.delenv("UNSUPERVISED_BOOK_GLUE", raising=False)
    monkeypatch.setattr(book.importlib.util, "find_spec", lambda name: None)
    book.glue("x", 1.0)
    assert shown == []
    book.glue("y", 2.0, display=True)
    assert shown == [((2.0,), {})]
