"""unsupervised: the library behind the book, one module per section of the chapter.

Modules: ``sparse_coding`` (l1 sparse codes, ISTA/FISTA, dictionary learning),
``autoencoders`` (plain, sparse, stacked, denoising), ``density`` (density estimation),
``vae`` (variational autoencoder), ``gan`` (generative adversarial networks),
``divergences`` (KL between Gaussians and between densities on a grid), ``datasets`` (offline data),
``plotting`` (figures shared by chapters), ``experiments`` (each chapter's experiment
harnesses and figures, one module per chapter), ``exercises`` (answer checkers),
``book`` (helpers for notebooks: glue that also works outside the book build).
"""

__version__ = "0.1.0"
