"""Tests of unsupervised.datasets: shapes, ranges, reproducibility, and the mixture density."""

import numpy as np
import pytest
from scipy import integrate, stats

from unsupervised.datasets import (
    GaussianMixture,
    image_patches,
    load_digits_array,
    ring_modes,
    ring_of_gaussians,
)

MIX_1D = GaussianMixture([0.3, 0.7], means=[[-2.0], [1.0]], covs=[[[0.25]], [[1.0]]])
MIX_2D = GaussianMixture(
    [0.5, 0.2, 0.3],
    means=[[0.0, 0.0], [3.0, 1.0], [-1.0, 2.5]],
    covs=[np.eye(2), [[0.5, 0.2], [0.2, 0.3]], [[1.0, -0.4], [-0.4, 0.6]]],
)


# --------------------------------------------------------------------------- GaussianMixture
def test_mixture_shapes_and_reproducible_sampling():
    X = MIX_2D.sample(500, seed=1)
    assert X.shape == (500, 2) and MIX_2D.n_components == 3 and MIX_2D.n_features == 2
    np.testing.assert_array_equal(X, MIX_2D.sample(500, seed=1))
    assert not np.array_equal(X, MIX_2D.sample(500, seed=2))
    X, labels = MIX_1D.sample(100, seed=0, return_labels=True)
    assert X.shape == (100, 1) and labels.shape == (100,) and set(labels) <= {0, 1}
    assert MIX_2D.log_pdf(X[:3].repeat(2, axis=1)).shape == (3,)


def test_mixture_samples_have_the_mixture_moments():
    X, labels = MIX_2D.sample(40_000, seed=3, return_labels=True)
    np.testing.assert_allclose(np.bincount(labels) / len(labels), MIX_2D.weights, atol=0.01)
    mean = MIX_2D.weights @ MIX_2D.means
    assert np.all(np.abs(X.mean(axis=0) - mean) < 5 * X.std(axis=0) / np.sqrt(len(X)))
    for k in range(3):
        np.testing.assert_allclose(np.cov(X[labels == k], rowvar=False), MIX_2D.covs[k], atol=0.05)


def test_mixture_pdf_integrates_to_one_1d():
    grid = np.linspace(-12, 12, 24001)
    assert np.trapezoid(MIX_1D.pdf(grid[:, None]), grid) == pytest.approx(1.0, abs=1e-10)


def test_mixture_pdf_integrates_to_one_2d():
    g = np.linspace(-9, 11, 801)
    G = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
    p = MIX_2D.pdf(G).reshape(len(g), len(g))
    assert np.trapezoid(np.trapezoid(p, g, axis=1), g) == pytest.approx(1.0, abs=1e-8)


def test_single_component_matches_scipy():
    mean = np.array([1.0, -1.0, 0.5])
    cov = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]])
    mix = GaussianMixture([1.0], [mean], [cov])
    X = np.random.default_rng(0).standard_normal((50, 3)) * 2
    expected = stats.multivariate_normal(mean, cov).logpdf(X)
    np.testing.assert_allclose(mix.log_pdf(X), expected, rtol=1e-12)


def test_mixture_1d_accepts_flat_means_and_variances():
    mix = GaussianMixture([0.3, 0.7], means=[-2.0, 1.0], covs=[0.25, 1.0])
    x = np.linspace(-4, 4, 9)[:, None]
    np.testing.assert_allclose(mix.pdf(x), MIX_1D.pdf(x), rtol=1e-14)
    expected = 0.3 * stats.norm.pdf(x[:, 0], -2, 0.5) + 0.7 * stats.norm.pdf(x[:, 0], 1, 1)
    np.testing.assert_allclose(mix.pdf(x), expected, rtol=1e-12)


def test_mixture_far_tail_log_pdf_is_finite():
    assert np.isfinite(MIX_1D.log_pdf(np.array([[200.0]]))[0])


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(weights=[0.5, 0.6], means=[[0.0], [1.0]], covs=[1.0, 1.0]), "weights"),
        (dict(weights=[1.5, -0.5], means=[[0.0], [1.0]], covs=[1.0, 1.0]), "weights"),
        (dict(weights=[0.5, 0.5], means=[[0.0, 0.0]], covs=[np.eye(2)] * 2), "means"),
        (dict(weights=[1.0], means=[[0.0, 0.0]], covs=[np.eye(3)]), "covs"),
        (dict(weights=[1.0], means=[[0.0, 0.0]], covs=[[[1.0, 2.0], [2.0, 1.0]]]), "covs"),
        (dict(weights=[1.0], means=[[np.nan]], covs=[1.0]), "means"),
    ],
)
def test_mixture_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        GaussianMixture(**kwargs)


def test_mixture_rejects_bad_points():
    with pytest.raises(ValueError, match=r"^X "):
        MIX_2D.pdf(np.zeros((3, 3)))


# --------------------------------------------------------------------------- ring
def test_ring_modes():
    modes = ring_modes(8, radius=2.0)
    assert modes.shape == (8, 2)
    np.testing.assert_allclose(np.linalg.norm(modes, axis=1), 2.0)
    np.testing.assert_allclose(modes[0], [2.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(modes[2], [0.0, 2.0], atol=1e-15)


def test_ring_of_gaussians():
    X, idx = ring_of_gaussians(2000, seed=4)
    assert X.shape == (2000, 2) and idx.shape == (2000,)
    assert set(np.unique(idx)) == set(range(8))
    dist = np.linalg.norm(X - ring_modes()[idx], axis=1)
    assert dist.max() < 6 * 0.02 * 2  # the distance to its mode is ~ 0.02 * chi(2)
    X2, idx2 = ring_of_gaussians(2000, seed=4)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(idx, idx2)
    assert not np.array_equal(X, ring_of_gaussians(2000, seed=5)[0])
    X, idx = ring_of_gaussians(10, n_modes=3, radius=1.0, std=0.0)
    np.testing.assert_allclose(X, ring_modes(3, 1.0)[idx])


# --------------------------------------------------------------------------- images
def test_load_digits_array():
    X, y = load_digits_array()
    assert X.shape == (1797, 64) and y.shape == (1797,) and X.dtype == np.float64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    X_raw, _ = load_digits_array(scale="raw")
    np.testing.assert_allclose(X_raw, 16 * X)
    with pytest.raises(ValueError, match=r"^scale "):
        load_digits_array(scale="bytes")


def test_image_patches():
    P = image_patches(101, patch_size=8, seed=0)
    assert P.shape == (101, 64)
    np.testing.assert_allclose(P.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_array_equal(P, image_patches(101, patch_size=8, seed=0))
    assert not np.array_equal(P, image_patches(101, patch_size=8, seed=1))
    raw = image_patches(50, patch_size=6, seed=2, remove_mean=False)
    assert raw.shape == (50, 36) and raw.min() >= 0.0 and raw.max() <= 1.0 and raw.std() > 0.01
    colour = image_patches(20, patch_size=4, grey=False, remove_mean=False)
    assert colour.shape == (20, 48) and colour.min() >= 0.0 and colour.max() <= 1.0
    assert image_patches(1, patch_size=3).shape == (1, 9)
    with pytest.raises(ValueError, match=r"^n_patches "):
        image_patches(0)
    with pytest.raises(ValueError, match=r"^patch_size "):
        image_patches(5, patch_size=1000)


def test_image_patches_downscale_averages_blocks():
    """With downscale=k every patch is a window of the image whose pixels are means of k x k
    blocks: rebuilt here with explicit loops over the blocks of the grey photographs."""
    from sklearn.datasets import load_sample_images

    k, size = 3, 4
    P = image_patches(40, patch_size=size, seed=3, remove_mean=False, downscale=k)
    assert P.shape == (40, size * size)
    windows = []
    for img in load_sample_images().images:
        grey = img.astype(np.float64).mean(axis=2) / 255.0
        h, w = grey.shape[0] // k, grey.shape[1] // k
        small = np.empty((h, w))
        for i in range(h):
            for j in range(w):
                small[i, j] = grey[i * k : (i + 1) * k, j * k : (j + 1) * k].mean()
        windows.append(
            np.lib.stride_tricks.sliding_window_view(small, (size, size)).reshape(-1, size * size)
        )
    windows = np.concatenate(windows)
    for patch in P:
        # rounding: the library averages over (k, k, 3) at once, the loop over channels first
        assert np.min(np.abs(windows - patch).max(axis=1)) < 1e-12
    assert not np.allclose(P, image_patches(40, patch_size=size, seed=3, remove_mean=False))
    with pytest.raises(ValueError, match=r"^downscale "):
        image_patches(5, downscale=0)


# --------------------------------------------------------------------------- the validation policy
def test_sample_takes_a_sequence_seed_as_numpy_does():
    # [34, s] is how chapter 03 draws independent sets: the same stream as default_rng([34, s]).
    X, labels = MIX_1D.sample(50, seed=[34, 2], return_labels=True)
    rng = np.random.default_rng([34, 2])
    expected_labels = rng.choice(2, size=50, p=MIX_1D.weights)
    z = rng.standard_normal((50, 1))
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(
        X[:, 0], MIX_1D.means[labels, 0] + np.sqrt(MIX_1D.covs[labels, 0, 0]) * z[:, 0]
    )


@pytest.mark.parametrize("seed", [2.5, "0", True, -1, None, [], [1, -1]])
def test_bad_seeds_are_refused_naming_seed(seed):
    for call in (
        lambda: MIX_1D.sample(3, seed=seed),
        lambda: ring_of_gaussians(3, seed=seed),
        lambda: image_patches(2, seed=seed),
    ):
        with pytest.raises(ValueError, match=r"^seed "):
            call()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"return_labels": "False"}, "return_labels"), ({"n": 2.5}, "n"), ({"n": -1}, "n")],
)
def test_sample_flags_and_counts(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        MIX_1D.sample(**{"n": 3, **kwargs})


def test_mixture_points_of_the_wrong_width_and_tensors_that_require_grad():
    import torch

    with pytest.raises(ValueError, match=r"^X must have 2 columns"):
        MIX_2D.log_pdf(np.zeros((3, 1)))
    X = torch.zeros(3, 2, requires_grad=True)
    np.testing.assert_allclose(MIX_2D.pdf(X), MIX_2D.pdf(np.zeros((3, 2))), rtol=0)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: ring_modes(8, radius=0.0), "radius"),
        (lambda: ring_modes(8, radius="2"), "radius"),
        (lambda: ring_modes(0), "n_modes"),
        (lambda: ring_of_gaussians(5, std=-0.1), "std"),
        (lambda: ring_of_gaussians(5, std=np.nan), "std"),
        (lambda: image_patches(5, grey="False"), "grey"),
        (lambda: image_patches(5, remove_mean=1), "remove_mean"),
        (lambda: image_patches(5, downscale=10_000), "downscale"),
        (lambda: image_patches(10**6, patch_size=400), "n_patches"),
        (lambda: load_digits_array(scale=None), "scale"),
    ],
)
def test_bad_dataset_arguments_name_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        call()


# --------------------------------------------------------------------------- mixture tools
def test_mixture_cdf_matches_scipy_and_the_integral_of_the_pdf():
    mix = GaussianMixture([0.2, 0.5, 0.3], [-2.0, 0.5, 3.0], [0.3, 1.0, 2.5])
    x = np.linspace(-6, 9, 31)
    reference = sum(
        w * stats.norm.cdf(x, m, np.sqrt(v))
        for w, m, v in zip([0.2, 0.5, 0.3], [-2.0, 0.5, 3.0], [0.3, 1.0, 2.5])
    )
    np.testing.assert_allclose(mix.cdf(x), reference, rtol=1e-12, atol=1e-15)
    # and independently of scipy's normal cdf: the integral of the mixture's own pdf
    integral = integrate.quad(lambda t: mix.pdf(np.array([[t]]))[0], -np.inf, 1.0)[0]
    assert mix.cdf([1.0])[0] == pytest.approx(integral, rel=1e-9)
    with pytest.raises(ValueError, match="d = 1"):
        GaussianMixture([1.0], [[0.0, 0.0]], [np.eye(2)]).cdf([0.0])


def test_responsibilities_are_bayes_rule_with_scipy_densities():
    weights, means = np.array([0.3, 0.7]), np.array([[0.0, 0.0], [1.5, -1.0]])
    covs = np.array([[[1.0, 0.3], [0.3, 0.5]], [[2.0, -0.4], [-0.4, 1.0]]])
    mix = GaussianMixture(weights, means, covs)
    X = np.random.default_rng(3).normal(size=(20, 2))
    joint = np.column_stack(
        [w * stats.multivariate_normal(m, c).pdf(X) for w, m, c in zip(weights, means, covs)]
    )
    R = mix.responsibilities(X)
    np.testing.assert_allclose(R, joint / joint.sum(axis=1, keepdims=True), rtol=1e-10)
    np.testing.assert_allclose(R.sum(axis=1), 1.0, rtol=1e-14)


def test_fit_by_class_is_the_class_wise_maximum_likelihood_mixture():
    truth = GaussianMixture([0.25, 0.75], [[0.0, 0.0], [3.0, 1.0]], [np.eye(2), 2 * np.eye(2)])
    X, y = truth.sample(400, seed=5, return_labels=True)
    fitted = GaussianMixture.fit_by_class(X, y)
    for k in range(2):
        Xk = X[y == k]
        assert fitted.weights[k] == pytest.approx(np.mean(y == k), rel=1e-14)
        np.testing.assert_allclose(fitted.means[k], Xk.mean(axis=0), rtol=1e-13)
        np.testing.assert_allclose(fitted.covs[k], np.cov(Xk.T, bias=True), rtol=1e-12)
    with pytest.raises(ValueError, match="labels"):
        GaussianMixture.fit_by_class(X[:3], [0, 0, 1])  # class 1 has 1 < d + 1 samples
    with pytest.raises(ValueError, match="labels"):
        GaussianMixture.fit_by_class(X[:4], [0, 0, 0])
