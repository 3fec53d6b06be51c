"""unsupervised.book: glue leaves myst-nb's records when the book is made, nothing else."""

import numpy as np
import pytest

from unsupervised import book


@pytest.fixture
def shown(monkeypatch):
    """What IPython.display.display was called with, call by call (also from myst-nb's glue,
    which imports it by name, when myst-nb is installed)."""
    import IPython.display

    calls = []

    def record(*objs, **kwargs):
        calls.append((objs, kwargs))

    monkeypatch.setattr(IPython.display, "display", record)
    try:
        import myst_nb.ext.glue as myst_glue_module
    except ImportError:
        pass
    else:
        monkeypatch.setattr(myst_glue_module, "ipy_display", record)
    # The patch is what a display reaches (glue imports display from IPython.display).
    from IPython.display import display

    display("probe")
    assert calls == [(("probe",), {})]
    calls.clear()
    return calls


@pytest.mark.parametrize("display", [False, True])
@pytest.mark.parametrize("value", [1.5, np.float64(0.125), np.int64(3), "text"])
def test_glue_writes_what_myst_nb_glue_writes(shown, monkeypatch, value, display):
    # The reference is myst-nb's own glue (installed with the book's tooling); the book
    # build reads these records back, whichever of the two wrote them.
    myst_glue = pytest.importorskip("myst_nb").glue

    monkeypatch.setenv("UNSUPERVISED_BOOK_GLUE", "1")
    book.glue("x", value, display=display)
    myst_glue("x", value.item() if isinstance(value, np.generic) else value, display=display)
    ours, theirs = shown
    assert ours == theirs
    # ... and it is a record of "x": the scrapbook entry the book build looks up.
    (bundle,), kwargs = ours
    assert kwargs["raw"] is True and kwargs["metadata"]["scrapbook"]["name"] == "x"
    prefix = "" if display else book.RECORD_PREFIX
    assert bundle[prefix + "text/plain"] == repr(value.item() if hasattr(value, "item") else value)


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


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"name": ""}, "name"),
        ({"name": 3}, "name"),
        ({"display": "False"}, "display"),
        ({"display": 1}, "display"),
    ],
)
def test_glue_refuses_a_bad_name_or_flag(shown, kwargs, name):
    args = {"name": "x", "value": 1.0, **kwargs}
    with pytest.raises(ValueError, match=rf"^{name} "):
        book.glue(**args)
    assert shown == []
