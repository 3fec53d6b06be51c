"""Tests of unsupervised.gan and the GAN chapter's exercise checkers.

References: torch.nn.functional's binary cross-entropy, closed forms on densities
(D* = p_r / (p_r + p_theta), V(D*, G) = 2 JS - 2 log 2), brute-force maximisation, PyTorch's
own layers for DCGAN shapes, and hand-made samples for the mode-coverage metric."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from torch import nn

from helpers import run, stub
from unsupervised import gan
from unsupervised.datasets import ring_modes, ring_of_gaussians
from unsupervised.divergences import js_divergence, kl_divergence
from unsupervised.exercises import _common
from unsupervised.exercises import gan as ex
from unsupervised.gan import (
    DCGANDiscriminator,
    DCGANGenerator,
    Discriminator,
    Generator,
    discriminator_loss,
    generator_loss,
    mode_coverage,
    optimal_discriminator,
    train_gan,
    value_function,
)

LOG2 = math.log(2.0)
X = np.linspace(-8.0, 8.0, 3201)
DX = float(X[1] - X[0])


# --------------------------------------------------------------------------- losses
def test_discriminator_loss_is_the_binary_cross_entropy_with_logits():
    g = torch.Generator().manual_seed(0)
    d_real = 3 * torch.randn(64, generator=g, dtype=torch.float64)
    d_fake = 3 * torch.randn(32, generator=g, dtype=torch.float64)
    expected = F.binary_cross_entropy_with_logits(
        d_real, torch.ones_like(d_real)
    ) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
    torch.testing.assert_close(discriminator_loss(d_real, d_fake), expected, rtol=1e-12, atol=0)
    # and the probability form, BCE on sigmoid outputs
    expected_p = F.binary_cross_entropy(
        torch.sigmoid(d_real), torch.ones_like(d_real)
    ) + F.binary_cross_entropy(torch.sigmoid(d_fake), torch.zeros_like(d_fake))
    torch.testing.assert_close(discriminator_loss(d_real, d_fake), expected_p, rtol=1e-10, atol=0)


def test_generator_losses_match_bce_and_the_defining_expectations():
    g = torch.Generator().manual_seed(1)
    d_fake = 2 * torch.randn(100, generator=g, dtype=torch.float64)
    D = torch.sigmoid(d_fake)
    ns = F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))  # -E[log D]
    torch.testing.assert_close(generator_loss(d_fake, "non_saturating"), ns, rtol=1e-12, atol=0)
    mm = -F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))  # E[log(1-D)]
    torch.testing.assert_close(generator_loss(d_fake, "minimax"), mm, rtol=1e-12, atol=0)
    torch.testing.assert_close(
        generator_loss(d_fake, "minimax"), torch.log1p(-D).mean(), rtol=1e-10, atol=0
    )
    assert generator_loss(d_fake) == generator_loss(d_fake, "minimax")  # the default


def test_losses_are_finite_and_right_for_extreme_logits():
    a = torch.tensor([-1000.0, -60.0, 60.0, 1000.0], dtype=torch.float64)
    assert torch.isfinite(discriminator_loss(a, a))
    # -log sigmoid(-1000) = 1000 exactly (softplus), where log(sigmoid) would give inf.
    assert generator_loss(a[:1], "non_saturating").item() == pytest.approx(1000.0)
    assert generator_loss(a[3:], "minimax").item() == pytest.approx(-1000.0)


@pytest.mark.parametrize("a", [-800.0, -40.0, -5.0, -0.3, 0.0, 2.0, 40.0, 800.0])
def test_losses_match_the_definition_in_decimal_arithmetic(a):
    """GA1: log D = log(1 / (1 + e^-a)), log(1 - D) = log(e^-a / (1 + e^-a)), evaluated in
    50-digit decimal arithmetic (independent of softplus) and rounded to float64."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 50
        t = Decimal(-a).exp()
        log_d, log_1md = float((1 / (1 + t)).ln()), float((t / (1 + t)).ln())
    x = torch.tensor([a], dtype=torch.float64)
    # a few ulp of float64 (2.2e-16 each); a wrong branch is off by 100 % or more
    assert -generator_loss(x, "non_saturating").item() == pytest.approx(log_d, rel=1e-14, abs=0)
    assert generator_loss(x, "minimax").item() == pytest.approx(log_1md, rel=1e-14, abs=0)
    assert discriminator_loss(x, x).item() == pytest.approx(-(log_d + log_1md), rel=1e-14, abs=0)


def test_generator_gradients_with_respect_to_the_logit():
    a = torch.tensor([-8.0, -2.0, 0.0, 3.0], dtype=torch.float64, requires_grad=True)
    D = torch.sigmoid(a).detach()
    (g_mm,) = torch.autograd.grad(generator_loss(a, "minimax"), a)
    (g_ns,) = torch.autograd.grad(generator_loss(a, "non_saturating"), a)
    torch.testing.assert_close(g_mm, -D / 4, rtol=1e-12, atol=0)
    torch.testing.assert_close(g_ns, -(1 - D) / 4, rtol=1e-12, atol=0)


def test_loss_bad_input_raises():
    with pytest.raises(ValueError, match="kind"):
        generator_loss(torch.zeros(3), kind="wasserstein")
    with pytest.raises(ValueError, match="d_fake"):
        generator_loss(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="d_real"):
        discriminator_loss(torch.zeros(0), torch.zeros(2))
    with pytest.raises(ValueError, match="d_fake"):
        discriminator_loss(torch.zeros(2), [0.0, math.inf])
    with pytest.raises(ValueError, match="d_fake"):  # float32 logits whose mean overflows
        generator_loss(torch.full((3,), 3e38), "minimax")


# --------------------------------------------------------------------------- D*, V, GA6
def normal(mu, sigma):
    return stats.norm.pdf(X, mu, sigma)


def test_optimal_discriminator_maximises_the_value_pointwise():
    p_r = 0.4 * normal(-2, 0.6) + 0.6 * normal(1.5, 1.0)
    p_t = normal(0.5, 1.5)
    d_star = optimal_discriminator(p_r, p_t)
    # brute force: for every x maximise p_r log D + p_t log(1 - D) over a fine grid of D
    D = np.linspace(1e-6, 1 - 1e-6, 10001)[:, None]  # step 1e-4
    sub = slice(None, None, 8)
    f = p_r[sub] * np.log(D) + p_t[sub] * np.log1p(-D)
    best = D[f.argmax(axis=0), 0]
    mask = (p_r[sub] + p_t[sub]) > 1e-8
    np.testing.assert_allclose(d_star[sub][mask], best[mask], atol=1e-4)
    # and D* is a stationary point of V (V is concave in the logit, so it is the maximum):
    # central differences of V along smooth perturbations of the logit of D* vanish, while
    # they do not for a wrong discriminator. (Pointwise random noise on D would not do: its
    # second-order drop lowers V for any D.)
    rng = np.random.default_rng(0)
    h = 1e-4

    def derivatives(a):
        out = []
        for _ in range(10):
            c, w, s = rng.uniform(-4, 4, 3), rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
            delta = (w * np.exp(-0.5 * ((X[:, None] - c) / s) ** 2)).sum(axis=1)
            out.append(
                (
                    value_function(p_r, p_t, a + h * delta, DX, logits=True)
                    - value_function(p_r, p_t, a - h * delta, DX, logits=True)
                )
                / (2 * h)
            )
        return np.abs(out)

    with np.errstate(divide="ignore"):
        a_star = np.log(d_star) - np.log1p(-d_star)
    # ~h^2 |V'''| / 6 ~ 1e-9 of difference error; a wrong D gives derivatives ~0.1
    assert derivatives(a_star).max() < 1e-7
    assert derivatives(np.log(p_r) - np.log(2 * p_t)).max() > 1e-2  # p_r / (p_r + 2 p_t)


def test_optimal_discriminator_edge_cases():
    d = optimal_discriminator([1.0, 0.0, 0.0, 2.0], [0.0, 1.0, 0.0, 2.0])
    np.testing.assert_array_equal(d, [1.0, 0.0, 0.5, 0.5])
    a = optimal_discriminator([1.0, 0.0, 0.0, 2.0], [0.0, 1.0, 0.0, 1.0], logit=True)
    np.testing.assert_array_equal(a, [np.inf, -np.inf, 0.0, np.log(2.0)])


def test_value_function_probabilities_and_logits_agree():
    p_r = 0.4 * normal(-2, 0.6) + 0.6 * normal(1.5, 1.0)
    p_t = normal(0.5, 1.5)
    # normalise on the grid: 2 JS - 2 log 2 assumes that both integrate to 1
    p_r, p_t = p_r / (p_r.sum() * DX), p_t / (p_t.sum() * DX)
    v_p = value_function(p_r, p_t, optimal_discriminator(p_r, p_t), DX)
    v_a = value_function(p_r, p_t, optimal_discriminator(p_r, p_t, logit=True), DX, logits=True)
    assert v_p == pytest.approx(v_a, abs=1e-12)
    assert v_p == pytest.approx(2 * js_divergence(p_r, p_t, DX) - 2 * LOG2, abs=1e-12)


random_density = arrays(np.float64, 40, elements=st.floats(0.0, 5.0, allow_subnormal=False))


@settings(max_examples=50, deadline=None)
@given(random_density, random_density)
def test_ga6_identity_on_random_densities(p, q):
    """V(D*, G) = KL(p_r || p_a) + KL(p_theta || p_a) - 2 log 2 = 2 JS - 2 log 2."""
    if p.sum() == 0 or q.sum() == 0:
        return
    dx = 0.2
    p, q = p / (p.sum() * dx), q / (q.sum() * dx)
    if abs(p.sum() * dx - 1) > 1e-12 or abs(q.sum() * dx - 1) > 1e-12:
        return  # the identity assumes densities that integrate to 1
    p_a = 0.5 * (p + q)
    # logits: where q / p ~ 1e-75, D* = 1 - 1e-75 rounds to 1 and log(1 - D*) to -inf
    v = value_function(p, q, optimal_discriminator(p, q, logit=True), dx, logits=True)
    kl_form = kl_divergence(p, p_a, dx) + kl_divergence(q, p_a, dx) - 2 * LOG2
    js_form = 2 * js_divergence(p, q, dx) - 2 * LOG2
    assert v == pytest.approx(kl_form, abs=1e-10)
    assert v == pytest.approx(js_form, abs=1e-10)
    assert -2 * LOG2 - 1e-10 <= v <= 1e-10


def test_value_function_conventions_and_minimum():
    p = normal(0, 1)
    # p_theta = p_r: V(D*) = -2 log 2, the global minimum over generators.
    assert value_function(p, p, optimal_discriminator(p, p), DX) == pytest.approx(
        -2 * LOG2, abs=1e-9
    )
    # D = 0 where p_r > 0 gives -inf; D = 0 where p_r = 0 costs nothing (0 log 0 = 0).
    box = np.where(np.abs(X) < 1, 0.5, 0.0)
    assert value_function(
        box, np.zeros_like(box), np.where(box > 0, 0.7, 0.0), DX
    ) == pytest.approx(math.log(0.7), abs=1e-3)
    assert value_function(p, p, np.zeros_like(p), DX) == -math.inf


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: optimal_discriminator([0.5, -1.0], [0.5, 0.5]), "p_r"),
        (lambda: optimal_discriminator([0.5, 0.5], [0.5]), "p_theta"),
        (lambda: value_function([0.5, 0.5], [0.5, 0.5], [0.5, 1.5], 1.0), "d"),
        (lambda: value_function([0.5, 0.5], [0.5, 0.5], [0.5, 0.5], 0.0), "dx"),
        (lambda: value_function([0.5, 0.5], [0.5, 0.5], [0.5], 1.0), "d"),
        (lambda: value_function([0.5, np.nan], [0.5, 0.5], [0.5, 0.5], 1.0), "p_r"),
    ],
)
def test_density_functions_bad_input(call, name):
    with pytest.raises(ValueError, match=name):
        call()


# --------------------------------------------------------------------------- networks
def test_mlp_shapes_and_packing():
    G = Generator(latent_dim=3, data_dim=2, hidden=(16,), seed=0)
    D = Discriminator(data_dim=2, hidden=(16, 16), packing=4, seed=0)
    x = G(torch.randn(12, 3))
    assert x.shape == (12, 2)
    assert D(x).shape == (3,)
    assert D.net[0].in_features == 8  # m * d inputs
    assert G.sample(5, generator=torch.Generator().manual_seed(0)).shape == (5, 2)
    with pytest.raises(ValueError, match="packing"):
        D(torch.randn(10, 2))
    with pytest.raises(ValueError, match="z"):
        G(torch.randn(4, 2))
    with pytest.raises(ValueError, match="packing"):
        Discriminator(packing=0)
    with pytest.raises(ValueError, match="hidden"):
        Generator(hidden=(8, 0))


def test_packed_discriminator_judges_consecutive_groups():
    D = Discriminator(data_dim=2, hidden=(8,), packing=2, seed=3)
    x = torch.randn(6, 2)
    logits = D(x)
    torch.testing.assert_close(logits[1], D(x[2:4])[0])


SMALL_NETWORKS = {
    "Generator": lambda **kw: Generator(3, 2, (8,), **kw),
    "Discriminator": lambda **kw: Discriminator(2, (8,), packing=2, **kw),
    "DCGANGenerator": lambda **kw: DCGANGenerator(4, 8, 1, 4, **kw),
    "DCGANDiscriminator": lambda **kw: DCGANDiscriminator(8, 1, 4, **kw),
}


@pytest.mark.parametrize("name", sorted(SMALL_NETWORKS))
def test_seeded_construction_is_reproducible_and_leaves_the_global_state_alone(name):
    """The torch convention: weights drawn from ``seed`` (default 0) in seeded_init, torch's
    global random state untouched, float32 by default; a float64 network with the same seed
    starts from the same weights up to float32 rounding."""
    make = SMALL_NETWORKS[name]
    state = torch.random.get_rng_state()
    a, b, c, d64 = make(), make(seed=0), make(seed=1), make(dtype=torch.float64)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert a.device == torch.device("cpu") and a.dtype == torch.float32
    assert d64.dtype == torch.float64
    for pa, pb, p64 in zip(a.parameters(), b.parameters(), d64.parameters()):
        assert torch.equal(pa, pb)
        assert torch.equal(pa, p64.float())
    assert not torch.equal(next(a.parameters()), next(c.parameters()))


def test_dcgan_initialisation_is_normal_with_standard_deviation_0_02():
    """GA11's initialisation (Radford et al.): every conv weight ~ N(0, 0.02), batch-norm
    scales ~ N(1, 0.02), biases 0. Kolmogorov-Smirnov tests of the pooled weights (tens of
    thousands of draws: a wrong scale, e.g. PyTorch's default, gives p ~ 0)."""
    G = DCGANGenerator(latent_dim=16, image_size=16, channels=1, width=16, seed=0)
    D = DCGANDiscriminator(image_size=16, channels=1, width=16, seed=0)
    modules = list(G.modules()) + list(D.modules())
    conv = torch.cat(
        [m.weight.flatten() for m in modules if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    )
    bn = [m for m in modules if isinstance(m, nn.BatchNorm2d)]
    scales = torch.cat([m.weight for m in bn])
    biases = [m.bias for m in modules if getattr(m, "bias", None) is not None]
    assert conv.numel() > 10_000 and len(bn) == 3
    assert stats.kstest(conv.detach().double().numpy(), "norm", args=(0.0, 0.02)).pvalue > 1e-3
    assert stats.kstest(scales.detach().double().numpy(), "norm", args=(1.0, 0.02)).pvalue > 1e-3
    assert all(torch.all(b == 0) for b in biases)


@pytest.mark.parametrize("name", ["Generator", "DCGANGenerator"])
def test_sample_is_G_of_z_drawn_from_the_generator(name):
    """sample(n, generator): n draws G(z) with z ~ N(0, I_k) from ``generator``; the first
    dimension is n, the result is on the network's device and differentiable."""
    G = SMALL_NETWORKS[name]()
    x = G.sample(5, generator=torch.Generator().manual_seed(11))
    z = torch.randn(5, G.latent_dim, generator=torch.Generator().manual_seed(11))
    torch.testing.assert_close(x, G(z), rtol=0, atol=0)
    assert x.shape[0] == 5 and x.device == G.device and x.requires_grad
    torch.manual_seed(0)
    y = G.sample(2)  # None: torch's global generator
    torch.manual_seed(0)
    torch.testing.assert_close(y, G(torch.randn(2, G.latent_dim)), rtol=0, atol=0)
    with pytest.raises(ValueError, match="n"):
        G.sample(0)
    with pytest.raises(ValueError, match="generator"):
        G.sample(3, generator=np.random.default_rng(0))


@pytest.mark.parametrize("name", sorted(SMALL_NETWORKS))
def test_forward_accepts_arrays_float64_and_tensors_that_require_grad(name):
    """What a learner passes: a float64 tensor, a NumPy array, a list, a tensor that requires
    grad (the gradient reaches it). NaN is refused, naming the argument."""
    net = SMALL_NETWORKS[name]()
    arg = "z" if "Generator" in name else "x"
    shape = {
        "Generator": (4, 3),
        "Discriminator": (4, 2),
        "DCGANGenerator": (4, 4),
        "DCGANDiscriminator": (4, 1, 8, 8),
    }[name]
    t = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    ref = net(t)
    assert ref.dtype == torch.float32
    for same in (t.double(), t.numpy(), t.tolist()):
        torch.testing.assert_close(net(same), ref, rtol=1e-6, atol=1e-6)
    leaf = t.double().requires_grad_()
    net(leaf).sum().backward()
    assert leaf.grad is not None and leaf.grad.shape == shape
    bad = t.clone()
    bad.view(-1)[0] = float("nan")
    with pytest.raises(ValueError, match=arg):
        net(bad)
    with pytest.raises(ValueError, match=arg):  # finite in float64, inf in float32
        net(t.double() * 1e300)


def test_mode_coverage_reads_a_generators_output_that_requires_grad():
    G = Generator(2, 2, (8,), seed=0)
    S = G.sample(50, generator=torch.Generator().manual_seed(0))
    assert S.requires_grad
    assert mode_coverage(S, ring_modes(), 1.0) == mode_coverage(
        S.detach().numpy(), ring_modes(), 1.0
    )


def test_train_gan_refuses_networks_of_different_dtypes():
    G, D = Generator(2, 2, (4,)), Discriminator(2, (4,), dtype=torch.float64)
    with pytest.raises(ValueError, match="D must be on G's device and of G's dtype"):
        train_gan(G, D, np.zeros((8, 2)), n_steps=1, batch_size=4)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is available")
def test_train_gan_on_cuda_without_a_gpu_is_a_value_error():
    with pytest.raises(ValueError, match="device"):
        train_gan(Generator(2, 2, (4,)), Discriminator(2, (4,)), np.zeros((8, 2)), device="cuda")


@pytest.mark.parametrize("size, channels", [(64, 3), (16, 1), (8, 1), (32, 3)])
def test_dcgan_shapes(size, channels):
    G = DCGANGenerator(latent_dim=10, image_size=size, channels=channels, width=8, seed=0)
    D = DCGANDiscriminator(image_size=size, channels=channels, width=8, seed=0)
    x = G(torch.randn(4, 10))
    assert x.shape == (4, channels, size, size)
    assert x.abs().max() <= 1.0  # tanh output
    assert D(x).shape == (4,)


def test_dcgan_default_is_the_papers_64x64x3_architecture():
    G = DCGANGenerator(seed=0)
    shapes = []
    h = torch.randn(2, 100, 1, 1)
    for layer in G.net:
        h = layer(h)
        if isinstance(layer, nn.ConvTranspose2d):
            shapes.append(tuple(h.shape[1:]))
    assert shapes == [(1024, 4, 4), (512, 8, 8), (256, 16, 16), (128, 32, 32), (3, 64, 64)]
    D = DCGANDiscriminator(seed=0)
    kinds = {type(m) for m in list(G.modules()) + list(D.modules())}
    assert nn.Linear not in kinds and nn.MaxPool2d not in kinds and nn.AvgPool2d not in kinds
    assert not any(isinstance(m, nn.ReLU) for m in D.modules())
    assert not any(isinstance(m, nn.LeakyReLU) for m in G.modules())
    assert isinstance(G.net[-1], nn.Tanh)
    assert not isinstance(D.net[1], nn.BatchNorm2d)  # no batch norm on D's input layer


def test_dcgan_bad_input():
    with pytest.raises(ValueError, match="image_size"):
        DCGANGenerator(image_size=48)
    with pytest.raises(ValueError, match="image_size"):
        DCGANDiscriminator(image_size=4)
    with pytest.raises(ValueError, match="x"):
        DCGANDiscriminator(image_size=16, channels=1, width=4)(torch.randn(2, 1, 8, 8))


# --------------------------------------------------------------------------- metrics
def test_mode_coverage_on_hand_made_samples():
    centers = ring_modes()  # radius 2
    std = 0.02
    good = centers[[0, 0, 3, 5]] + np.array([[0.01, 0], [0, -0.05], [0.0, 0.0], [0.03, 0.03]])
    bad = np.array([[0.0, 0.0], [1.0, 1.0], [2.07, 0.0]])  # 0.07 > 3 std from mode 0
    covered, hq = mode_coverage(np.vstack([good, bad]), centers, std)
    assert covered == 3 and hq == pytest.approx(4 / 7)
    assert mode_coverage(good, centers, std, min_count=2) == (1, 1.0)
    assert mode_coverage(bad, centers, std) == (0, 0.0)
    assert mode_coverage(bad, centers, 1e300)[1] == 1.0  # (3 std)^2 would overflow a float


def test_mode_coverage_of_the_true_distribution():
    X, _ = ring_of_gaussians(20000, std=0.02, seed=0)
    covered, hq = mode_coverage(X, ring_modes(), 0.02)
    # In 2-D, P(|x - mu| < 3 sigma) = 1 - exp(-9/2) = 0.98889.
    assert covered == 8 and hq == pytest.approx(1 - math.exp(-4.5), abs=0.003)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(samples=np.zeros(3), centers=np.zeros((2, 2)), std=1.0), "samples"),
        (dict(samples=np.zeros((3, 2)), centers=np.zeros((2, 3)), std=1.0), "centers"),
        (dict(samples=np.zeros((3, 2)), centers=np.zeros((2, 2)), std=0.0), "std"),
        (
            dict(samples=np.zeros((3, 2)), centers=np.zeros((2, 2)), std=1.0, min_count=0),
            "min_count",
        ),
        (dict(samples=np.full((3, 2), np.nan), centers=np.zeros((2, 2)), std=1.0), "samples"),
    ],
)
def test_mode_coverage_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        mode_coverage(**kwargs)


# --------------------------------------------------------------------------- training
def _small_run(seed, packing=1):
    X, _ = ring_of_gaussians(512, seed=0)
    G = Generator(2, 2, (16,), seed=seed)
    D = Discriminator(2, (16,), packing=packing, seed=seed + 1)
    return train_gan(
        G, D, X, n_steps=30, batch_size=32, lr=1e-3, seed=seed, snapshot_every=10, n_snapshot=64
    )


def test_train_gan_history_and_reproducibility():
    h1, h2 = _small_run(0), _small_run(0)
    assert h1["d_loss"].shape == (30,) and h1["g_loss"].shape == (30,)
    np.testing.assert_array_equal(h1["snapshot_steps"], [0, 10, 20, 30])
    assert h1["snapshots"].shape == (4, 64, 2)
    np.testing.assert_array_equal(h1["d_loss"], h2["d_loss"])
    np.testing.assert_array_equal(h1["snapshots"], h2["snapshots"])
    h3 = _small_run(1)
    assert not np.array_equal(h1["d_loss"], h3["d_loss"])
    assert np.all(np.isfinite(_small_run(0, packing=2)["g_loss"]))


def test_train_gan_records_d_of_generated_samples():
    """history["d_of_fake"][0] is mean sigmoid(D(G(z))) on the first generator batch. With a
    vanishing discriminator learning rate the discriminator is still its initial self then,
    so the value is recomputed from fresh copies of the two networks and the losses' random
    stream (a generator seeded seed + 1: the discriminator's z, then the generator's z)."""
    X = np.random.default_rng(0).normal(size=(50, 2))
    h = train_gan(
        Generator(2, 2, (8,), seed=3),
        Discriminator(2, (8,), seed=4),
        X,
        n_steps=1,
        batch_size=16,
        lr=1e-3,
        lr_d=1e-300,
        seed=7,
        n_snapshot=5,
    )
    G0, D0 = Generator(2, 2, (8,), seed=3), Discriminator(2, (8,), seed=4)
    g = torch.Generator().manual_seed(8)
    torch.randn(16, 2, generator=g)  # z of the discriminator step
    z_g = torch.randn(16, 2, generator=g)  # z of the generator step
    with torch.no_grad():
        expected = torch.sigmoid(D0(G0(z_g))).mean().item()
    assert h["d_of_fake"].shape == (1,)
    # float32 networks: ~1e-7; a discriminator step of 1e-300 changes nothing
    assert h["d_of_fake"][0] == pytest.approx(expected, rel=1e-6)


def test_train_gan_is_the_alternating_adam_loop_written_out():
    """Two steps with d_steps = 2 against the loop written out by hand with torch's own
    optimiser and binary cross-entropy: one real batch per step (a CPU generator seeded
    ``seed``) shared by both discriminator updates, every update's z from one generator
    seeded ``seed + 1``, D's Adam at lr_d and G's at lr, and the snapshots G(z_fixed) with
    z_fixed from a CPU generator seeded ``seed + 2``, at steps 0, 1, 2. float64 networks, so
    the two computations agree to rounding."""
    X = torch.from_numpy(np.random.default_rng(1).normal(size=(40, 3)))
    seed, B, lr, lr_d, betas = 5, 8, 1e-2, 3e-2, (0.5, 0.9)

    def networks():
        return (
            Generator(2, 3, (6,), seed=0, dtype=torch.float64),
            Discriminator(3, (6,), packing=2, seed=1, dtype=torch.float64),
        )

    G, D = networks()
    h = train_gan(
        G, D, X, n_steps=2, batch_size=B, lr=lr, lr_d=lr_d, betas=betas, d_steps=2,
        seed=seed, snapshot_every=1, n_snapshot=4, loss="minimax",
    )  # fmt: skip
    G0, D0 = networks()
    opt_g = torch.optim.Adam(G0.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D0.parameters(), lr=lr_d, betas=betas)
    batches = torch.Generator().manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    z_fixed = torch.randn(4, 2, generator=torch.Generator().manual_seed(seed + 2), dtype=G0.dtype)
    bce = F.binary_cross_entropy_with_logits
    snaps, d_hist, g_hist, dg_hist = [G0(z_fixed).detach()], [], [], []
    for _ in range(2):
        real = X[torch.randint(40, (B,), generator=batches)]
        for _ in range(2):
            with torch.no_grad():
                fake = G0(torch.randn(B, 2, generator=g, dtype=torch.float64))
            a_r, a_f = D0(real), D0(fake)
            d_loss = bce(a_r, torch.ones_like(a_r)) + bce(a_f, torch.zeros_like(a_f))
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
        a_f = D0(G0(torch.randn(B, 2, generator=g, dtype=torch.float64)))
        g_loss = -bce(a_f, torch.zeros_like(a_f))  # E[log(1 - D)]
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        d_hist.append(d_loss.item())
        g_hist.append(g_loss.item())
        dg_hist.append(torch.sigmoid(a_f).mean().item())
        snaps.append(G0(z_fixed).detach())
    np.testing.assert_allclose(h["d_loss"], d_hist, rtol=1e-12)
    np.testing.assert_allclose(h["g_loss"], g_hist, rtol=1e-12)
    np.testing.assert_allclose(h["d_of_fake"], dg_hist, rtol=1e-12)
    np.testing.assert_array_equal(h["snapshot_steps"], [0, 1, 2])
    np.testing.assert_allclose(h["snapshots"], torch.stack(snaps).numpy(), rtol=1e-12)
    for p, q in zip(
        list(G.parameters()) + list(D.parameters()), list(G0.parameters()) + list(D0.parameters())
    ):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-15)
    assert h["seconds"].shape == (2,) and np.all(np.diff(h["seconds"]) >= 0)


def test_train_gan_moves_the_generator_towards_the_data():
    # A linear generator G(z) = w z + b against N(3, 0.5^2): its mean must approach 3.
    X = np.random.default_rng(0).normal(3.0, 0.5, size=(2048, 1))
    G = Generator(1, 1, (), seed=0)
    D = Discriminator(1, (16,), seed=1)
    h = train_gan(
        G, D, X, n_steps=300, batch_size=128, lr=1e-2, seed=0, snapshot_every=300, n_snapshot=1000
    )
    start, end = h["snapshots"][:, :, 0].mean(axis=1)
    assert abs(end - 3.0) < abs(start - 3.0) / 2


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_steps=0), "n_steps"),
        (dict(batch_size=3), "batch_size"),  # not divisible by packing 2
        (dict(loss="hinge"), "loss"),
        (dict(lr=-1.0), "lr"),
        (dict(data=np.zeros(5)), "data"),
        (dict(data=np.full((5, 2), np.nan)), "data"),
        (dict(data=np.zeros((8, 3))), "data"),  # rows of 3, networks of 2
    ],
)
def test_train_gan_bad_input(kwargs, name):
    args = dict(data=np.zeros((8, 2)), n_steps=2, batch_size=4)
    args.update(kwargs)
    data = args.pop("data")
    with pytest.raises(ValueError, match=name):
        train_gan(
            Generator(2, 2, (4,), seed=0), Discriminator(2, (4,), packing=2, seed=0), data, **args
        )


# --------------------------------------------------------------------------- checkers
def test_check_saturation_ratio(capsys):
    assert run(ex.check_saturation_ratio, 99.0, capsys)[0]
    ok, out = run(ex.check_saturation_ratio, 1 / 99, capsys)
    assert not ok and "倒过来" in out
    assert not run(ex.check_saturation_ratio, 1.0, capsys)[0]
    assert not run(ex.check_saturation_ratio, ..., capsys)[0]


def test_checkers_read_tensors_that_require_grad_and_never_raise(capsys):
    """A right answer given as a tensor that requires grad passes; answers that are no
    number, or functions that return none or raise, are reported, never raised."""
    assert run(ex.check_saturation_ratio, torch.tensor(99.0, requires_grad=True), capsys)[0]
    torch_ns = lambda a: F.softplus(-torch.from_numpy(a).requires_grad_()).mean()
    assert run(ex.check_non_saturating_loss, torch_ns, capsys)[0]
    for bad in ("abc", None, [1.0, 2.0], float("nan"), object()):
        assert not run(ex.check_saturation_ratio, bad, capsys)[0]
    for bad in (lambda *a: "text", lambda *a: 1 / 0, 3, lambda *a: torch.ones(2)):
        assert not run(ex.check_non_saturating_loss, bad, capsys)[0]
        assert not run(ex.check_js_divergence, bad, capsys)[0]
        assert not run(ex.check_conv_transpose_size, bad, capsys)[0]


def test_check_non_saturating_loss(capsys):
    assert run(ex.check_non_saturating_loss, lambda a: np.logaddexp(0, -a).mean(), capsys)[0]
    assert run(
        ex.check_non_saturating_loss,
        lambda a: F.softplus(-torch.from_numpy(a)).mean().item(),
        capsys,
    )[0]
    naive = lambda a: -np.log(1 / (1 + np.exp(-a))).mean()
    ok, out = run(ex.check_non_saturating_loss, naive, capsys)
    assert not ok and "logaddexp" in out
    ok, out = run(ex.check_non_saturating_loss, lambda a: -np.logaddexp(0, a).mean(), capsys)
    assert not ok and "极小极大" in out
    ok, out = run(ex.check_non_saturating_loss, stub, capsys)
    assert not ok and out.strip() == _common.NOT_IMPLEMENTED


def test_check_js_divergence(capsys):
    ok, _ = run(ex.check_js_divergence, lambda p, q, dx: js_divergence(p, q, dx), capsys)
    assert ok

    def no_convention(p, q, dx):
        m = (p + q) / 2
        return 0.5 * np.sum(p * np.log(p / m)) * dx + 0.5 * np.sum(q * np.log(q / m)) * dx

    assert not run(ex.check_js_divergence, no_convention, capsys)[0]
    ok, out = run(
        ex.check_js_divergence, lambda p, q, dx: js_divergence(p, q, dx) / math.log(2), capsys
    )
    assert not ok and "比特" in out


def test_check_conv_transpose_size(capsys):
    assert run(ex.check_conv_transpose_size, lambda n, k, s, p: (n - 1) * s - 2 * p + k, capsys)[0]
    ok, out = run(ex.check_conv_transpose_size, lambda n, k, s, p: (n + 2 * p - k) // s + 1, capsys)
    assert not ok and "普通卷积" in out
    ok, out = run(ex.check_conv_transpose_size, stub, capsys)
    assert not ok and out.strip() == _common.NOT_IMPLEMENTED


def test_module_exports():
    for name in gan.__all__:
        assert hasattr(gan, name)


def test_discriminator_returns_the_logit_not_the_probability():
    """GA1: D = sigmoid(a); the network returns a itself. With the last layer's weights 0 and
    its bias 5, a = 5 for every x (a probability would be sigmoid(5) = 0.9933), and the
    losses' softplus forms then give -log D = softplus(-5) by hand."""
    D = Discriminator(data_dim=3, seed=0)
    last = [m for m in D.net if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(5.0)
    logits = D(torch.randn(8, 3, dtype=last.weight.dtype))
    torch.testing.assert_close(logits, torch.full((8,), 5.0, dtype=logits.dtype), rtol=0, atol=0)
    by_hand = math.log1p(math.exp(-5.0))  # -log sigmoid(5)
    torch.testing.assert_close(
        generator_loss(logits, kind="non_saturating").item(), by_hand, rtol=1e-6, atol=0
    )


def test_train_gan_refuses_a_D_that_does_not_return_one_logit_per_group():
    # a Generator used as D maps (B, 2) to (B, 2): it trained silently before
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="D must return one logit"):
        train_gan(Generator(2, 2, (8,)), Generator(2, 2, (8,)), X, n_steps=1, batch_size=4)
    # a packed D on fewer rows than a batch now works: batches are drawn with replacement
    history = train_gan(
        Generator(2, 2, (8,)), Discriminator(2, (8,), packing=2), X[:3], n_steps=2, batch_size=4
    )
    assert np.all(np.isfinite(history["d_loss"]))


def test_dcgan_follows_the_five_rules_of_radford_et_al():
    """GA11's structural rules, layer by layer (chapter 05 points here): strided convolutions
    (stride 2; G's first layer is the stride-1 projection, D's last the 4x4 scoring layer),
    batch norm after every layer but G's output and D's input (and score), ReLU + Tanh in G,
    LeakyReLU(0.2) in D, no fully connected or pooling layer."""
    G, D = DCGANGenerator(seed=0), DCGANDiscriminator(seed=0)
    conv = (nn.Conv2d, nn.ConvTranspose2d)

    def convs(model):
        return [m for m in model.net if isinstance(m, conv)]

    def followed_by(model, kind):
        seq = list(model.net)
        return [
            i + 1 < len(seq) and isinstance(seq[i + 1], kind)
            for i, m in enumerate(seq)
            if isinstance(m, conv)
        ]

    banned = (nn.Linear, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
    assert not any(isinstance(m, banned) for m in list(G.modules()) + list(D.modules()))
    assert all(isinstance(m, nn.ConvTranspose2d) for m in convs(G))
    assert [m.stride[0] for m in convs(G)] == [1, 2, 2, 2, 2]
    assert all(isinstance(m, nn.Conv2d) for m in convs(D))
    assert [m.stride[0] for m in convs(D)] == [2, 2, 2, 2, 1]
    assert followed_by(G, nn.BatchNorm2d) == [True, True, True, True, False]
    assert followed_by(D, nn.BatchNorm2d) == [False, True, True, True, False]
    others = {type(m) for m in G.net if not isinstance(m, (nn.ConvTranspose2d, nn.BatchNorm2d))}
    assert others == {nn.ReLU, nn.Tanh} and isinstance(G.net[-1], nn.Tanh)
    assert {
        (type(m), getattr(m, "negative_slope", None))
        for m in D.net
        if not isinstance(m, (nn.Conv2d, nn.BatchNorm2d))
    } == {(nn.LeakyReLU, 0.2)}
