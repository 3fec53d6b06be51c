"""Offline data for the chapters: nothing here downloads anything.

- ``GaussianMixture``: a known density in any dimension, to sample from and to compare
  estimates against (density estimation chapter).
- ``ring_of_gaussians`` / ``ring_modes``: the ring of 8 Gaussians (GAN chapter).
- ``load_digits_array``: scikit-learn's 1,797 8x8 digit images (autoencoders, VAE, GAN).
- ``image_patches``: patches of the two photographs shipped with scikit-learn (sparse coding).

Data matrices have shape (N, d), one sample per row. Randomness only through ``seed``.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, ndtr

from ._validation import Array, Choice, Flag, Integer, Probabilities, Real, RngSeed, validate
from .density import _cholesky, _gaussian_log_likelihood

__all__ = [
    "GaussianMixture",
    "ring_modes",
    "ring_of_gaussians",
    "load_digits_array",
    "image_patches",
]


class GaussianMixture:
    """A mixture of K Gaussians: p(x) = sum_k w_k N(x | mu_k, Sigma_k), a known density.

    Parameters
    ----------
    weights : array of shape (K,), non-negative, summing to 1 (within 1e-8)
    means : array of shape (K, d); a 1-D array of shape (K,) means K components in d = 1
    covs : array of shape (K, d, d), each symmetric positive definite; for d = 1 also
        accepted: shape (K,) or (K, 1) of variances

    Attributes
    ----------
    weights, means, covs : the parameters with shapes (K,), (K, d), (K, d, d)
    n_components, n_features : K and d
    """

    @validate(weights=Probabilities(), means=Array(ndim=(1, 2)), covs=Array(ndim=(1, 2, 3)))
    def __init__(self, weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> None:
        K = weights.size
        if means.ndim == 1:
            means = means.reshape(-1, 1)
        if means.shape[0] != K:
            raise ValueError(
                f"means must have shape (K={K}, d), one row per weight; got shape {means.shape}"
            )
        d = means.shape[1]
        if d == 1 and covs.shape in ((K,), (K, 1)):
            covs = covs.reshape(K, 1, 1)
        if covs.shape != (K, d, d):
            raise ValueError(f"covs must have shape (K={K}, d={d}, d={d}); got shape {covs.shape}")
        self._cholesky = np.stack([_cholesky(c, d, name="covs") for c in covs])

        self.weights, self.means, self.covs = weights, means, covs
        self.n_components, self.n_features = K, d

    @validate(n=Integer(minimum=1), seed=RngSeed(), return_labels=Flag())
    def sample(
        self, n: int, seed: int | tuple[int, ...] = 0, return_labels: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Draw n samples: array of shape (n, d) (and the component index of each, shape (n,)).

        Each sample picks component k with probability w_k, then x = mu_k + L_k z with
        Sigma_k = L_k L_k^T and z standard normal. ``seed``: an int or a sequence of ints,
        as ``np.random.default_rng`` takes it.
        """
        rng = np.random.default_rng(seed)
        labels = rng.choice(self.n_components, size=n, p=self.weights)
        z = rng.standard_normal((n, self.n_features))
        X = self.means[labels] + np.einsum("nij,nj->ni", self._cholesky[labels], z)
        return (X, labels) if return_labels else X

    def _points(self, X):
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"X must have {self.n_features} columns (the mixture's dimension); "
                f"got shape {X.shape}"
            )
        return X

    def _log_pdf(self, X):
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)
        terms = np.stack(
            [_gaussian_log_likelihood(X, m, L) for m, L in zip(self.means, self._cholesky)], axis=1
        )
        return logsumexp(terms + log_w, axis=1)

    @validate(X=Array(ndim=2))
    def log_pdf(self, X: np.ndarray) -> np.ndarray:
        """log p(x) = logsumexp_k(log w_k + log N(x | mu_k, Sigma_k)); X (N, d) -> (N,)."""
        return self._log_pdf(self._points(X))

    @validate(X=Array(ndim=2))
    def pdf(self, X: np.ndarray) -> np.ndarray:
        """p(x) for X of shape (N, d): array of shape (N,)."""
        return np.exp(self._log_pdf(self._points(X)))

    @validate(x=Array(ndim=(1, 2)))
    def cdf(self, x: np.ndarray) -> np.ndarray:
        """P(X <= x) = sum_k w_k Phi((x - mu_k) / sigma_k), for a mixture in d = 1.

        x : array of shape (N,) or (N, 1); returns shape (N,).
        """
        if self.n_features != 1:
            raise ValueError(
                f"cdf is defined here for d = 1; this mixture has d = {self.n_features}"
            )
        x = x.reshape(-1, 1)
        sd = self._cholesky[:, 0, 0]
        return (self.weights * ndtr((x - self.means[:, 0]) / sd)).sum(axis=1)

    @validate(X=Array(ndim=2))
    def responsibilities(self, X: np.ndarray) -> np.ndarray:
        """Posterior component probabilities p(k | x) = w_k N(x | mu_k, Sigma_k) / p(x) (Bayes'
        rule); X (N, d) -> (N, K), rows summing to 1. Computed in log space."""
        X = self._points(X)
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)
        terms = log_w + np.stack(
            [_gaussian_log_likelihood(X, m, L) for m, L in zip(self.means, self._cholesky)], axis=1
        )
        return np.exp(terms - logsumexp(terms, axis=1, keepdims=True))

    @classmethod
    @validate(X=Array(ndim=2), labels=Array(ndim=1))
    def fit_by_class(cls, X: np.ndarray, labels: np.ndarray) -> GaussianMixture:
        """The maximum-likelihood mixture when every sample's component is known: w_k = N_k / N,
        mu_k the class mean, Sigma_k = (1/N_k) sum_{n in k} (x_n - mu_k)(x_n - mu_k)^T (the
        class-wise Gaussian MLE, DE2). X (N, d), labels (N,) of integers 0..K-1, each class with
        at least d + 1 samples (else its covariance is singular)."""
        if labels.shape[0] != X.shape[0]:
            raise ValueError(
                f"labels must have one entry per row of X ({X.shape[0]}); got {labels.shape[0]}"
            )
        if not np.all(labels == np.round(labels)) or labels.min() < 0:
            raise ValueError("labels must be integers 0, 1, ..., K-1")
        labels = labels.astype(int)
        K, d = labels.max() + 1, X.shape[1]
        counts = np.bincount(labels, minlength=K)
        if counts.min() < d + 1:
            raise ValueError(
                f"labels: every class 0..{K - 1} needs at least d + 1 = {d + 1} samples; "
                f"got counts {counts.tolist()}"
            )
        means = np.stack([X[labels == k].mean(axis=0) for k in range(K)])
        covs = np.stack(
            [
                (X[labels == k] - means[k]).T @ (X[labels == k] - means[k]) / counts[k]
                for k in range(K)
            ]
        )
        return cls(counts / counts.sum(), means, covs)


def _ring_modes(n_modes, radius):
    angles = 2.0 * np.pi * np.arange(n_modes) / n_modes
    return radius * np.column_stack([np.cos(angles), np.sin(angles)])


@validate(n_modes=Integer(minimum=1), radius=Real(low=0, low_open=True))
def ring_modes(n_modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """Centres of the ring of Gaussians: n_modes points evenly spaced on a circle.

    Mode j sits at radius * (cos(2 pi j / n_modes), sin(2 pi j / n_modes)).
    Returns an array of shape (n_modes, 2).
    """
    return _ring_modes(n_modes, radius)


@validate(
    n=Integer(minimum=1),
    n_modes=Integer(minimum=1),
    radius=Real(low=0, low_open=True),
    std=Real(low=0),  # 0: the modes themselves (a test uses it)
    seed=RngSeed(),
)
def ring_of_gaussians(
    n: int,
    n_modes: int = 8,
    radius: float = 2.0,
    std: float = 0.02,
    seed: int | tuple[int, ...] = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Samples from an equal-weight mixture of isotropic Gaussians centred on ``ring_modes``.

    Returns
    -------
    X : array of shape (n, 2)
    mode_index : int array of shape (n,), the mode each sample was drawn from
    """
    modes = _ring_modes(n_modes, radius)
    rng = np.random.default_rng(seed)
    mode_index = rng.integers(len(modes), size=n)
    X = modes[mode_index] + std * rng.standard_normal((n, 2))
    return X, mode_index


@validate(scale=Choice(("unit", "raw")))
def load_digits_array(scale: str = "unit") -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as a float matrix (ships with scikit-learn, no download).

    Parameters
    ----------
    scale : "unit" (pixel values / 16, in [0, 1]) or "raw" (the original 0..16)

    Returns
    -------
    X : float64 array of shape (1797, 64), each row an 8x8 image in row-major order
    y : int array of shape (1797,), the digit labels 0..9
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.data.astype(np.float64)
    if scale == "unit":
        X = X / 16.0
    return X, digits.target.astype(np.int64)


@validate(
    n_patches=Integer(minimum=1),
    patch_size=Integer(minimum=1),
    seed=RngSeed(),
    grey=Flag(),
    remove_mean=Flag(),
    downscale=Integer(minimum=1),
)
def image_patches(
    n_patches: int,
    patch_size: int = 8,
    seed: int | tuple[int, ...] = 0,
    grey: bool = True,
    remove_mean: bool = True,
    downscale: int = 1,
) -> np.ndarray:
    """Random square patches of the two photographs shipped with scikit-learn.

    The images (china.jpg, flower.jpg from ``sklearn.datasets.load_sample_images``) are
    scaled to [0, 1]; with ``grey=True`` each pixel is the mean of its R, G, B values. With
    ``downscale=k`` each image is first shrunk k times in both directions by averaging k x k
    blocks of pixels: a patch then covers a k times wider part of the scene, and the block
    average removes JPEG noise and the finest texture (a low-pass filter, as the images of
    Olshausen & Field were).
    About half of the patches come from each image (extract_patches_2d with a random_state
    derived from ``seed``), then the rows are shuffled.

    Parameters
    ----------
    n_patches : int >= 1
    patch_size : int >= 1, side of a patch in pixels
    seed : seed of the random generator
    grey : bool, grey levels (True) or RGB (False)
    remove_mean : bool, subtract each patch's mean (over all its values) from it
    downscale : int >= 1, block-average factor applied to the images before cutting patches

    Returns
    -------
    patches : float64 array of shape (n_patches, patch_size**2) if grey,
        else (n_patches, patch_size**2 * 3) (pixel-major, RGB innermost)
    """
    from sklearn.datasets import load_sample_images
    from sklearn.feature_extraction.image import extract_patches_2d

    images = [img.astype(np.float64) / 255.0 for img in load_sample_images().images]
    if downscale > min(min(img.shape[:2]) for img in images):
        raise ValueError(f"downscale must not exceed the image size; got {downscale}")
    if downscale > 1:
        k = downscale
        images = [
            img[: img.shape[0] // k * k, : img.shape[1] // k * k]
            .reshape(img.shape[0] // k, k, img.shape[1] // k, k, -1)
            .mean(axis=(1, 3))
            for img in images
        ]
    if grey:
        images = [img.mean(axis=2) for img in images]
    if patch_size > min(min(img.shape[:2]) for img in images):
        raise ValueError(f"patch_size must not exceed the image size; got {patch_size}")
    per_image = [n_patches // 2, n_patches - n_patches // 2]
    available = min(
        (img.shape[0] - patch_size + 1) * (img.shape[1] - patch_size + 1) for img in images
    )
    if per_image[1] > available:
        raise ValueError(
            f"n_patches must be <= {2 * available} (every {patch_size} x {patch_size} patch of "
            f"both images); got {n_patches}"
        )
    rng = np.random.default_rng(seed)
    parts = []
    for img, count in zip(images, per_image):
        if count == 0:
            continue
        patches = extract_patches_2d(
            img, (patch_size, patch_size), max_patches=count, random_state=int(rng.integers(2**31))
        )
        parts.append(patches.reshape(count, -1))
    X = np.concatenate(parts, axis=0)[rng.permutation(n_patches)]
    if remove_mean:
        X = X - X.mean(axis=1, keepdims=True)
    return X
