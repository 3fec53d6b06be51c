"""Answer checkers for the chapters' exercises.

Every checker follows one contract, so a learner can call it as often as they like:

- It takes the learner's answer (a function they wrote, or a number) and returns
  ``True`` when it is right and ``False`` otherwise.
- It prints one short message in Chinese: "正确！" or a hint where to look. It never
  prints the expected value (nor any value computed from the hidden cases).
- It never raises, whatever it is given. An exception inside the learner's function is
  reported (type and message) and counts as wrong; a stub that still raises
  ``NotImplementedError`` is reported as "尚未实现"; a value that is not what was asked for
  (NaN, a string, the wrong shape, a non-function where a function is expected) is
  reported as wrong. Numbers may come as Python or NumPy numbers, arrays, or torch tensors
  (also ones that require grad: they are read through ``.detach()``). ``_common`` holds
  the shared part (``_run``, ``_call``, ``_as_float``, ``_as_array``).
- Functions are tested on hidden cases that are fixed (drawn with a fixed seed), so a
  check is reproducible. The reference values come from independent code (SciPy or a
  direct formula), not from the ``density`` module the book is checking.

One module per chapter (``exercises.density``, ...), each listing its checkers; the
shared contract lives in ``exercises._common``. Every checker is re-exported here, so a
notebook writes ``from unsupervised.exercises import check_binomial_pmf``.
"""

from .autoencoders import *  # noqa: F403
from .density import *  # noqa: F403  (each chapter module defines __all__)
from .gan import *  # noqa: F403
from .sparse_coding import *  # noqa: F403
from .vae import *  # noqa: F403
