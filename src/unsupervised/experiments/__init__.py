"""The chapters' experiments: the harnesses a chapter runs, kept out of its notebook.

A chapter notebook shows the formula as short code, checks it, and draws the picture; what
only repeats or bookkeeps (a sweep over a grid of settings, a table of measurements, the
plotting code of a figure) lives here, one module per chapter, named like the chapter's
library module:

- ``experiments.sparse_coding`` (chapter 01), ``experiments.autoencoders`` (02),
  ``experiments.density`` (03), ``experiments.vae`` (04), ``experiments.gan`` (05).

A notebook imports its module as ``from unsupervised.experiments import density as experiment``.
The rules are the library's (CONTRIBUTING.md): every public function declares its arguments
(``@validate``), has a docstring saying what it computes, its shapes and the formula IDs it
uses, and is tested in ``tests/test_experiments_<module>.py``. Figure functions are named
``plot_*``, take the numbers to draw (they compute nothing a check relies on), return the
matplotlib Figure, and write no CJK characters (Colab has no CJK font). An experiment may
call the library; a check in a notebook must still compare the library with an independent
reference, never a helper here with the library function it wraps.
"""
