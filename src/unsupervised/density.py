"""Density estimation: parametric (Gaussian maximum likelihood) and non-parametric
(histogram, Parzen window, k nearest neighbours).

Formula IDs (see the book's formula index):

- DE1  log p(D | theta) = sum_n log p(x^(n) | theta)
- DE2  theta_ML = argmax_theta sum_n log p(x^(n) | theta)
- DE3  P = integral over R of p(x) dx (``ParzenWindow.box_probability``: R a box, p the estimate)
- DE4  P_K = C(N, K) P^K (1 - P)^(N - K)   (the source prints the exponent 1 - K)
- DE6  p(x) ~= K / (N V) for a small region of volume V
- DE7  hypercube kernel phi(u) = 1 if |u_i| < 1/2 for all i, else 0
- DE8  K = sum_n phi((x^(n) - x) / h)
- DE9  p_hat(x) = K / (N h^d), an estimate of p(x) (the source writes p(x) =)
- DE10 kNN: choose V so that the region holds k samples, p(x) = k / (N V)

Conventions: a data matrix ``X`` has shape (N, d), one sample per row; query points
``Q`` have shape (M, d). Every estimator has ``fit(X)`` (returns ``self``),
``log_density(Q)`` and ``density(Q)``, both of shape (M,), with
``density(Q) == exp(log_density(Q))`` and ``log_density = -inf`` where the density is 0.
1-D data must be passed as a column, ``x.reshape(-1, 1)``.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from scipy.linalg import solve_triangular
from scipy.spatial import cKDTree
from scipy.special import gammaln, ndtr, xlog1py, xlogy
from sklearn.exceptions import NotFittedError

from ._validation import Array, Choice, Integer, Optional, Real, validate

__all__ = [
    "gaussian_mle",
    "gaussian_log_likelihood",
    "binomial_pmf",
    "binomial_pmf_as_printed",
    "hypercube_kernel",
    "HistogramDensity",
    "ParzenWindow",
    "KNNDensity",
]

# Queries per chunk of the Gaussian Parzen window. The chunk's (rows x N) block of exponents
# is written by the matrix product and read by exp and by the sum; it pays to keep it in cache.
# Measured on the 2-core AMD EPYC of this project (L2 1 MiB per core, L3 32 MiB; torch 2.13,
# one thread), ms for log_density, the two numbers the range of two runs (noise ~15%):
#   rows                    4        8       16       32       64      128      256     1024
#   N=10^4,M=10^4,d=2   242-290  219-227  199-202  186-196  162-181  214-225  240-272  291-296
#   N=10^4,M=10^4,d=10  347-365  296-300  220-234  189-230  200-224  208-223  226-286  289-296
#   N=10^5,M=2000,d=2   413-500  495-526  486-591  594-609  572-688  571-619  586-658 892-1054
#   N=10^5,M=2000,d=10 1039-1157 845-874  701-825  645-692  696-748  685-700  761-766 1062-1231
# (the former code, torch.logsumexp over 2e7-entry blocks on two threads: 870 and 1554 ms in
# the first two rows; sklearn's KernelDensity: about 2.7 and 5.0 s). Rule: a block
# of about 2^19 entries (4 MiB: a few L2, well inside L3; best for d = 2 at every N), but at
# least 2 (d + 2) rows, since each chunk re-reads the N x (d + 2) training matrix (d = 10,
# N = 10^5 wants 32 rows, not 5); at most 2e7 entries (160 MB) for large d.
_BLOCK_ENTRIES, _MAX_BLOCK_ENTRIES = 2**19, 20_000_000


def _chunk_rows(N, d):
    return max(1, min(max(_BLOCK_ENTRIES // N, 2 * (d + 2)), _MAX_BLOCK_ENTRIES // N))


@contextmanager
def _torch_threads(n):
    """Run the body with torch's intra-op thread count set to n, then restore it. The Parzen
    window's products run on one thread: on the 2-core machine above, two threads were erratic,
    at best 1.6x faster (d = 10, N = 10^5), often 2-5x slower (first row of the table, 64 rows:
    181-189 ms on one thread, 189-763 ms on two; OpenMP's workers spin after each small product
    and compete with NumPy's exp)."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


# The declared kinds of argument (src/unsupervised/_validation.py).
_DATA = Array(ndim=2)  # X (N, d) or Q (M, d): finite, N >= 1, d >= 1
_POSITIVE = Real(low=0, low_open=True)


def _log_ball_volume(d, log_r):
    """Log volume of the Euclidean d-ball of radius r: log(pi^(d/2) / Gamma(d/2 + 1) r^d).

    ``log_r`` is an array of log radii; returns an array of the same shape.
    """
    return 0.5 * d * np.log(np.pi) - gammaln(0.5 * d + 1.0) + d * log_r


# --------------------------------------------------------------------------- parametric
@validate(X=Array(ndim=(2, 3)))
def gaussian_mle(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood mean and covariance of a Gaussian (DE2 for the Gaussian family).

    theta_ML = argmax_theta sum_n log N(x^(n) | mu, Sigma) has the closed form
    mu = (1/N) sum_n x^(n) and Sigma = (1/N) sum_n (x^(n) - mu)(x^(n) - mu)^T
    (divide by N, not N - 1).

    Parameters
    ----------
    X : array of shape (N, d), or (B, N, d) for B data sets at once; 1-D data as a column,
        ``x.reshape(-1, 1)``

    Returns
    -------
    mean : array of shape (d,) (or (B, d))
    cov : array of shape (d, d) (or (B, d, d))
    """
    mean = X.mean(axis=-2)
    centred = X - mean[..., None, :]
    cov = np.swapaxes(centred, -1, -2) @ centred / X.shape[-2]
    return mean, cov


@validate(X=_DATA, mean=Array(ndim=1), cov=Array(ndim=2))
def gaussian_log_likelihood(X: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Per-sample Gaussian log density log N(x^(n) | mean, cov): the summands of DE1.

    log N(x | mu, Sigma) = -(1/2) (d log(2 pi) + log det Sigma + (x - mu)^T Sigma^-1 (x - mu)),
    evaluated with the Cholesky factor Sigma = L L^T (log det Sigma = 2 sum_i log L_ii,
    and the quadratic form is ||L^-1 (x - mu)||^2). Summing the result gives the total
    log-likelihood of DE1, which stays finite where the product of densities underflows.

    Parameters
    ----------
    X : array of shape (N, d)
    mean : array of shape (d,)
    cov : array of shape (d, d), symmetric positive definite

    Returns
    -------
    log_p : array of shape (N,)
    """
    d = X.shape[1]
    if mean.shape != (d,):
        raise ValueError(f"mean must have shape ({d},) like the columns of X; got {mean.shape}")
    return _gaussian_log_likelihood(X, mean, _cholesky(cov, d))


def _gaussian_log_likelihood(X, mean, L):
    """log N(x^(n) | mean, L L^T) for checked X (N, d), mean (d,) and a Cholesky factor L."""
    d = X.shape[1]
    z = solve_triangular(L, (X - mean).T, lower=True)  # (d, N)
    log_det = 2.0 * np.sum(np.log(np.diag(L)))
    return -0.5 * (d * np.log(2.0 * np.pi) + log_det + np.sum(z * z, axis=0))


def _cholesky(C, d, name="cov"):
    """Lower Cholesky factor of a finite float64 (d, d) matrix that must be symmetric
    positive definite, or ValueError naming ``name``."""
    if C.shape != (d, d):
        raise ValueError(f"{name} must have shape ({d}, {d}); got shape {C.shape}")
    if not np.allclose(C, C.T, rtol=1e-10, atol=1e-12 * np.max(np.abs(C), initial=0.0)):
        raise ValueError(f"{name} must be symmetric")
    try:
        L = np.linalg.cholesky(C)
    except np.linalg.LinAlgError as err:
        raise ValueError(f"{name} must be positive definite") from err
    if not (np.all(np.isfinite(L)) and np.all(np.diag(L) > 0)):  # overflow or a zero pivot
        raise ValueError(f"{name} must be positive definite with a representable factor")
    return L


# --------------------------------------------------------------------------- binomial
def _binomial_k(k, n):
    """The counts k (any shape) as float64 integers in 0..n, or ValueError naming k."""
    if not np.all(k == np.round(k)):
        raise ValueError("k must contain integers")
    if np.any(k < 0) or np.any(k > n):
        raise ValueError(f"k must satisfy 0 <= k <= n = {n}")
    return k


def _log_binomial_coefficient(n, k):
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


_BINOMIAL = {"k": Array(), "n": Integer(minimum=0), "p": Real(0.0, 1.0)}


@validate(**_BINOMIAL)
def binomial_pmf(k: int | np.ndarray, n: int, p: float) -> float | np.ndarray:
    """Binomial probability P_K = C(n, k) p^k (1 - p)^(n - k): DE4, corrected.

    The source prints the exponent of (1 - P) as 1 - K; the correct exponent is N - K.
    Computed in log space, log C(n, k) = gammaln(n + 1) - gammaln(k + 1) - gammaln(n - k + 1)
    plus k log p + (n - k) log(1 - p) (with 0 log 0 = 0), so n = 10^4 and beyond works.

    Parameters
    ----------
    k : int or integer array of any shape, 0 <= k <= n
    n : int >= 0, number of trials (N in the text)
    p : float in [0, 1], success probability (P in the text)

    Returns
    -------
    pmf : float array of the shape of ``k`` (a 0-d array becomes a float)
    """
    k = _binomial_k(k, n)
    log_pmf = _log_binomial_coefficient(n, k) + xlogy(k, p) + xlog1py(n - k, -p)
    return np.exp(log_pmf)[()]


@validate(**_BINOMIAL)
def binomial_pmf_as_printed(k: int | np.ndarray, n: int, p: float) -> float | np.ndarray:
    """DE4 exactly as the source prints it: C(n, k) p^k (1 - p)^(1 - k). WRONG on purpose.

    Kept so the book can show numerically that the printed formula is not a pmf
    (it does not sum to 1 over k = 0..n). Same arguments and shapes as ``binomial_pmf``.
    """
    k = _binomial_k(k, n)
    with np.errstate(over="ignore", divide="ignore"):
        log_pmf = _log_binomial_coefficient(n, k) + xlogy(k, p) + xlog1py(1.0 - k, -p)
        pmf = np.exp(log_pmf)
    if not np.all(np.isfinite(pmf)):  # (1 - p)^(1 - k): p = 1 divides by 0, large k overflows
        raise ValueError(
            f"p and n: the printed formula's value is not finite in float64 for n={n}, "
            f"p={p} (at p = 1 it divides by zero; for large n it overflows)"
        )
    return pmf[()]


# --------------------------------------------------------------------------- kernels
@validate(u=Array())
def hypercube_kernel(u: np.ndarray) -> np.ndarray:
    """Hypercube (box) kernel of DE7: phi(u) = 1 if |u_i| < 1/2 for every i, else 0.

    The inequality is strict, as in the source text: a point exactly on the face of the
    cube is outside. With u = (z - x) / h this says that z lies in the open cube of side h
    centred at x.

    Parameters
    ----------
    u : array of shape (..., d), at least one axis

    Returns
    -------
    phi : float array of shape (...,), values 0.0 or 1.0
    """
    if u.ndim < 1:
        raise ValueError(f"u must have shape (..., d) with at least one axis; got shape {u.shape}")
    return np.all(np.abs(u) < 0.5, axis=-1).astype(np.float64)


# --------------------------------------------------------------------------- estimators
class _DensityEstimator:
    """Shared part of the estimators: the public ``log_density`` and ``density`` (query
    checks here), each subclass's ``_log_density`` on checked queries."""

    def _store_training_data(self, X):
        self.X_ = X
        self.n_samples_, self.n_features_in_ = X.shape
        return X

    def _check_fitted(self, method):
        """NotFittedError (a ValueError) naming ``method`` unless fit(X) has been called."""
        if not hasattr(self, "X_"):
            raise NotFittedError(
                f"This {type(self).__name__} is not fitted yet; call fit(X) before {method}."
            )
        return self.n_features_in_

    def _query(self, Q, method):
        """Checked queries Q (M, d) of a fitted estimator, or ValueError naming Q."""
        d = self._check_fitted(method)
        if Q.shape[1] != d:
            raise ValueError(
                f"Q must have {d} columns (the dimension of the training data); got shape {Q.shape}"
            )
        return Q

    @validate(Q=_DATA)
    def log_density(self, Q: np.ndarray) -> np.ndarray:
        """log p_hat(x) at each query point, shape (M,) for Q of shape (M, d); -inf where the
        estimate is 0 (and +inf where a kNN radius is 0). See the class for the formula."""
        return self._log_density(self._query(Q, "log_density(Q)"))

    @validate(Q=_DATA)
    def density(self, Q: np.ndarray) -> np.ndarray:
        """Estimated density p_hat(x) = exp(log_density(Q)): array of shape (M,) for Q of
        shape (M, d)."""
        log_p = self._log_density(self._query(Q, "density(Q)"))
        with np.errstate(over="ignore"):  # a kNN radius near 0 gives +inf, which is correct
            return np.exp(log_p)


class HistogramDensity(_DensityEstimator):
    """Histogram density estimate: DE6 with a fixed grid of cubic bins, V = bin_width^d.

    The bins are the half-open cubes
    [origin_i + j_i w, origin_i + (j_i + 1) w) for integer j, with w = bin_width, and
    p(x) = K(x) / (N w^d), K(x) = number of training points in the bin that contains x
    (``log_density``: log p = log K - log N - d log w, -inf in empty bins).
    Only occupied bins are stored (a dictionary from integer bin index to count), so any
    dimension d works.

    Parameters
    ----------
    bin_width : float > 0
        Side w of every bin.
    origin : array of shape (d,) or None
        A corner of the grid. Default: the componentwise minimum of the training data.

    Attributes (after fit)
    ----------------------
    origin_ : array of shape (d,)
    counts_ : dict mapping a tuple of d bin indices to the number of training points
    n_samples_, n_features_in_ : int, N and d
    """

    @validate(bin_width=_POSITIVE, origin=Optional(Array(ndim=1)))
    def __init__(self, bin_width: float, origin: np.ndarray | None = None) -> None:
        self.bin_width = bin_width
        self.origin = origin

    @validate(X=_DATA)
    def fit(self, X: np.ndarray) -> HistogramDensity:
        """Count the training points X (N, d) per bin. Returns self."""
        d = X.shape[1]
        if self.origin is None:
            origin = X.min(axis=0)
        else:
            origin = self.origin
            if origin.shape != (d,):
                raise ValueError(
                    f"origin must have shape ({d},) like the columns of X; got {origin.shape}"
                )
        index = np.floor((X - origin) / self.bin_width)
        if not np.all(np.abs(index) <= 2.0**62):
            raise ValueError("bin_width is too small for the range of X: bin indices overflow")
        self._store_training_data(X)
        self.origin_ = origin
        keys, counts = np.unique(index.astype(np.int64), axis=0, return_counts=True)
        self.counts_ = {tuple(key): int(c) for key, c in zip(keys.tolist(), counts)}
        return self

    def _bin_index(self, A):
        """Float bin indices floor((A - origin) / w), shape (M, d)."""
        return np.floor((A - self.origin_) / self.bin_width)

    @validate(Q=_DATA)
    def bin_counts(self, Q: np.ndarray) -> np.ndarray:
        """Number of training points K in the bin of each query point: int array of shape (M,)."""
        return self._bin_counts(self._query(Q, "bin_counts(Q)"))

    def _bin_counts(self, Q):
        index = self._bin_index(Q)
        inside = np.all(np.abs(index) <= 2.0**62, axis=1)  # farther bins are empty anyway
        counts = np.zeros(Q.shape[0], dtype=np.int64)
        keys = index[inside].astype(np.int64).tolist()
        counts[inside] = [self.counts_.get(tuple(key), 0) for key in keys]
        return counts

    def _log_density(self, Q):
        """log p(x) = log K - log N - d log w (DE6), -inf in empty bins; shape (M,)."""
        counts = self._bin_counts(Q)
        with np.errstate(divide="ignore"):
            log_k = np.log(counts.astype(np.float64))
        return log_k - np.log(self.n_samples_) - self.n_features_in_ * np.log(self.bin_width)


class ParzenWindow(_DensityEstimator):
    """Parzen window (kernel density) estimate with a hypercube or a Gaussian kernel.

    ``kernel="hypercube"`` (DE7, DE8, DE9): p_hat(x) = K / (N h^d), where
    K = sum_n phi((x^(n) - x) / h) is the number of training points with
    |x^(n)_i - x_i| < h/2 for every i (strict inequality), and h is the side of the cube.
    The count uses a k-d tree (scipy.spatial.cKDTree) in the max-norm.

    ``kernel="gaussian"``: DE9 with phi replaced by a Gaussian,
    p(x) = (1/N) sum_n N(x | x^(n), h^2 I), so h is the kernel's standard deviation, exactly
    as ``sklearn.neighbors.KernelDensity(bandwidth=h)``. The estimate is exact (no tree
    approximation): log p(x) = logsumexp_n(-||x - x^(n)||^2 / (2 h^2)) - log N
    - (d/2) log(2 pi h^2), evaluated in float64, queries in chunks whose (queries x N) block
    of exponents stays in cache (about 4 MiB, at most 160 MB; ``chunk_size`` overrides the
    number of queries). The squared distance is expanded as ||x||^2 + ||y||^2 - 2 x.y after
    centring both sets on the training mean (one matrix product, torch on one thread); the
    rounding error of log p is then about 1e-16 (||x - c||^2 + ||x^(n) - c||^2) / h^2 in
    absolute terms, far below 1e-10 for data of moderate spread relative to h. The exponents
    are <= 0, so the sum of their exps cannot overflow; where it is below 1e-200 (a query far
    from the data, whose terms underflow) the row's logsumexp is shifted by its largest
    exponent, so log p stays finite there, and it is -inf only where ||x - c||^2 / h^2
    itself overflows.

    Parameters
    ----------
    h : float > 0
        Cube side (hypercube) or kernel standard deviation (gaussian; h^2 must be a normal
        float64, about 1e-154 < h < 1e154).
    kernel : "hypercube" or "gaussian"
    chunk_size : int >= 1 or None
        Number of query points per chunk (gaussian kernel only).
    """

    _KERNELS = ("hypercube", "gaussian")

    @validate(h=_POSITIVE, kernel=Choice(_KERNELS), chunk_size=Optional(Integer(minimum=1)))
    def __init__(self, h: float, kernel: str = "hypercube", chunk_size: int | None = None) -> None:
        if kernel == "gaussian" and not (np.finfo(np.float64).tiny <= h * h < np.inf):
            raise ValueError(f"h must have a square h^2 that float64 represents; got {h!r}")
        self.h = h
        self.kernel = kernel
        self.chunk_size = chunk_size

    @validate(X=_DATA)
    def fit(self, X: np.ndarray) -> ParzenWindow:
        """Store the training points X (N, d); build a k-d tree for the hypercube. Returns self."""
        if self.kernel == "gaussian":
            centred = X - X.mean(axis=0)
            with np.errstate(over="ignore"):
                spread = np.sum(centred * centred, axis=1) / (self.h * self.h)
            if not np.all(np.isfinite(spread)):
                raise ValueError(
                    "X is too spread out for the bandwidth h: ||x - mean||^2 / h^2 overflows"
                )
        self._store_training_data(X)
        if self.kernel == "hypercube":
            self.tree_ = cKDTree(X)
        return self

    @validate(Q=_DATA)
    def window_counts(self, Q: np.ndarray) -> np.ndarray:
        """K of DE8 for the hypercube kernel: training points in the open cube of side h
        centred at each query point. Q (M, d) -> int array of shape (M,)."""
        if self.kernel != "hypercube":
            raise ValueError(f"window_counts needs kernel='hypercube'; this one is {self.kernel!r}")
        return self._window_counts(self._query(Q, "window_counts(Q)"))

    def _window_counts(self, Q):
        # query_ball_point keeps distances <= r; the largest float below h/2 makes it "< h/2".
        radius = np.nextafter(self.h / 2.0, 0.0)
        counts = self.tree_.query_ball_point(Q, r=radius, p=np.inf, return_length=True)
        return np.asarray(counts, dtype=np.int64)

    @validate(lower=Array(ndim=(1, 2), finite=False), upper=Array(ndim=(1, 2), finite=False))
    def box_probability(self, lower: np.ndarray, upper: np.ndarray) -> float | np.ndarray:
        """DE3 for the estimate: P = integral over the box R = [lower, upper] of p(x) dx.

        Both kernels give a closed form, because the estimate is the average of N kernels
        centred at the training points x^(n) and each kernel is a product over coordinates:

        - hypercube: P = (1/N) sum_n prod_i max(0, min(u_i, x^(n)_i + h/2)
          - max(l_i, x^(n)_i - h/2)) / h  (the overlap of R with each cube, over h^d);
        - gaussian: P = (1/N) sum_n prod_i (Phi((u_i - x^(n)_i) / h) - Phi((l_i - x^(n)_i) / h)),
          Phi the standard normal CDF (evaluated in the tail where it is more accurate).

        Whether a face of R belongs to R does not matter (it has volume 0).

        Parameters
        ----------
        lower, upper : array of shape (d,) or (M, d)
            Corners of one box or of M boxes, lower <= upper componentwise; -inf and +inf
            are allowed (half-infinite or infinite sides), NaN is not.

        Returns
        -------
        P : float for boxes of shape (d,), array of shape (M,) for (M, d)
        """
        d = self._check_fitted("box_probability(lower, upper)")
        for name, corner in (("lower", lower), ("upper", upper)):
            if np.any(np.isnan(corner)):
                raise ValueError(f"{name} must not contain NaN")
            if corner.shape[-1] != d:
                raise ValueError(f"{name} must have shape ({d},) or (M, {d}); got {corner.shape}")
        lo, hi = lower, upper
        if lo.shape != hi.shape:
            raise ValueError(
                f"lower and upper must have the same shape; got {lo.shape} and {hi.shape}"
            )
        if np.any(lo > hi):
            raise ValueError("lower must be <= upper in every coordinate")
        single = lo.ndim == 1
        lo, hi = np.atleast_2d(lo), np.atleast_2d(hi)
        X, h = self.X_, self.h
        out = np.empty(lo.shape[0])
        with np.errstate(invalid="ignore"):  # inf - inf cannot occur: x^(n) is finite
            for m in range(lo.shape[0]):
                if self.kernel == "hypercube":
                    left = np.maximum(lo[m], X - h / 2.0)
                    right = np.minimum(hi[m], X + h / 2.0)
                    factors = np.clip(right - left, 0.0, None) / h  # (N, d)
                else:
                    a, b = (lo[m] - X) / h, (hi[m] - X) / h  # (N, d), a <= b
                    upper_tail = a > 0  # both in the upper tail: 1 - Phi is the accurate side
                    factors = np.where(upper_tail, ndtr(-a) - ndtr(-b), ndtr(b) - ndtr(a))
                out[m] = np.prod(factors, axis=1).mean()
        return float(out[0]) if single else out

    def _log_density(self, Q):
        if self.kernel == "hypercube":
            counts = self._window_counts(Q)
            with np.errstate(divide="ignore"):
                log_k = np.log(counts.astype(np.float64))
            return log_k - np.log(self.n_samples_) - self.n_features_in_ * np.log(self.h)
        return self._gaussian_log_density(Q)

    def _gaussian_log_density(self, Q):
        N, d = self.X_.shape
        M, h2 = Q.shape[0], self.h * self.h
        centre = self.X_.mean(axis=0)
        X, Qc = self.X_ - centre, Q - centre
        # -||x - y||^2 / (2 h^2) = (x / h^2).y + 1 (-||y||^2 / (2 h^2)) + (-||x||^2 / (2 h^2)) 1:
        # one product of rows extended by two columns gives a block of exponents, exp and sum
        # pass over it in place. Measured on the block sizes of _chunk_rows: NumPy's exp is 2.4x
        # faster than torch's in float64, and shifting by the row maximum (two more passes)
        # costs 15-30%, so only the rows that need it are shifted.
        chunk = self.chunk_size or _chunk_rows(N, d)
        block = torch.empty(min(chunk, M), N, dtype=torch.float64)
        out = np.empty(M)
        with _torch_threads(1), np.errstate(all="ignore"):
            A = np.column_stack([Qc / h2, np.ones(M), (-0.5 / h2) * (Qc * Qc).sum(axis=1)])
            B = np.column_stack([X, (-0.5 / h2) * (X * X).sum(axis=1), np.ones(N)])
            A, BT = torch.from_numpy(A), torch.from_numpy(B).T
            for start in range(0, M, chunk):
                a = A[start : start + chunk]
                e = torch.mm(a, BT, out=block[: len(a)]).numpy()
                s = np.exp(e, out=e).sum(axis=1)  # every exponent <= 0: no overflow
                # Above 1e-200 the terms that underflow (each off by < 5e-324) do not matter.
                # Below, far from the data (or NaN once ||x||^2 / h^2 overflows), the row's
                # logsumexp shifted by its largest exponent.
                far = ~((s >= 1e-200) & (s < np.inf))
                s = np.log(s)
                if far.any():
                    s[far] = torch.logsumexp(torch.mm(a[far], BT), dim=1).numpy()
                out[start : start + chunk] = s
        log_norm = np.log(N) + 0.5 * d * np.log(2.0 * np.pi * h2)
        # NaN only from inf - inf, where the density underflows to 0.
        return np.where(np.isnan(out), -np.inf, out) - log_norm


class KNNDensity(_DensityEstimator):
    """k-nearest-neighbour density estimate (DE10): p(x) = k / (N V(x)).

    V(x) is the volume of the Euclidean d-ball centred at x whose radius r(x) is the distance
    from x to its k-th nearest training point, V = pi^(d/2) / Gamma(d/2 + 1) r^d (computed in
    log space with gammaln). Neighbours come from scipy.spatial.cKDTree.
    ``log_density``: log p = log k - log N - log V(x).

    A query point that is itself a training point is NOT excluded: it counts as its own
    nearest neighbour (distance 0). Where r(x) = 0 (k = 1 at a training point, or k
    coincident points) the estimate is +inf.

    This estimate is not a probability density: it does not integrate to 1. In 1-D,
    p(x) ~ k / (2 N |x|) in the tails, so its integral over the real line diverges
    (logarithmically); for k = 1 it also diverges near every training point.

    Parameters
    ----------
    k : int, 1 <= k <= N (checked at fit)
    """

    @validate(k=Integer(minimum=1))
    def __init__(self, k: int) -> None:
        self.k = k

    @validate(X=_DATA)
    def fit(self, X: np.ndarray) -> KNNDensity:
        """Store the training points X (N, d) in a k-d tree; requires k <= N. Returns self."""
        if self.k > X.shape[0]:
            raise ValueError(
                f"k must be <= N, the number of training points; got k={self.k}, N={X.shape[0]}"
            )
        self._store_training_data(X)
        # The tree works in units of a power of two near the data's scale, so squared
        # distances neither underflow (data ~1e-200) nor overflow (~1e200); exact rescaling.
        largest = float(np.max(np.abs(X)))
        self._unit = 2.0 ** np.round(np.log2(largest)) if largest > 0 else 1.0
        self.tree_ = cKDTree(X / self._unit)
        return self

    @validate(Q=_DATA)
    def kth_neighbour_distance(self, Q: np.ndarray) -> np.ndarray:
        """Distance r(x) from each query point to its k-th nearest training point, shape (M,)."""
        return self._kth_neighbour_distance(self._query(Q, "kth_neighbour_distance(Q)"))

    def _kth_neighbour_distance(self, Q):
        return self._kth_distance_and_log(Q)[0]

    def _kth_distance_and_log(self, Q):
        """r(x) and log r(x), each of shape (M,) (log r = -inf where r = 0)."""
        with np.errstate(over="ignore"):
            Qu = Q / self._unit
        near = np.all(np.isfinite(Qu), axis=1)
        d = np.full(len(Q), np.inf)
        if near.any():
            d[near] = self.tree_.query(Qu[near], k=[self.k])[0][:, 0]
        with np.errstate(divide="ignore", over="ignore"):
            r, log_r = d * self._unit, np.log(d) + np.log(self._unit)
        # A query so far from the data that its distance overflows in the tree's units: the
        # k-th distance by brute force, each difference scaled by its largest entry.
        for i in np.nonzero(~np.isfinite(d))[0]:
            diff = self.X_ - Q[i]
            scale = np.abs(diff).max(axis=1)
            log_dist = np.log(scale) + 0.5 * np.log(((diff / scale[:, None]) ** 2).sum(axis=1))
            log_r[i] = np.partition(log_dist, self.k - 1)[self.k - 1]
            with np.errstate(over="ignore"):
                r[i] = np.exp(log_r[i])
        return r, log_r

    def _log_density(self, Q):
        """log p(x) = log k - log N - log V(x), shape (M,); +inf where r(x) = 0."""
        log_r = self._kth_distance_and_log(Q)[1]
        log_volume = _log_ball_volume(self.n_features_in_, log_r)
        return np.log(self.k) - np.log(self.n_samples_) - log_volume
